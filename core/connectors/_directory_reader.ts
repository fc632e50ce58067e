/**
 * One subtask's reader of a directory for {@linkcode FileSource}: every file
 * is a split (large files several, by byte ranges), the reader state is its
 * splits with their positions, so the source's parallelism may change on
 * restore.
 *
 * @module
 */
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import type { FileSourceEncoding } from "./file_source.ts";
import { FileRangeReader, unreadable } from "./_file_range_reader.ts";
import type { PollStatus, SourceContext, SourceOutput, SplitInfo, SplitReader } from "./source.ts";

/** A byte range of a file in the directory and the offset of its next line. */
export interface FileSplit {
  /** The file's name in the directory. */
  file: string;
  /** Lines starting at or after this byte belong to the split... */
  start: number;
  /** ...up to this one (exclusive). */
  end: number;
  /** The next line's offset; `end` once the split is read. */
  offset: number;
}

/** How a directory is read. */
export interface DirectoryReadOptions {
  /** Bytes read from disk at a time. */
  chunkBytes: number;
  /** How lines become records. */
  encoding: FileSourceEncoding;
  /** Files larger than this are read as several splits of this many bytes. */
  splitBytes: number;
  /** ms between looks for new files; 0: list once, read them, end. */
  monitorIntervalMs: number;
}

const splitId = (s: Pick<FileSplit, "file" | "start">) => `${s.file}@${s.start}`;

/**
 * The subtask that owns a split: a hash of the split's id, so every subtask
 * decides alone, at any parallelism, and a split discovered twice (by two
 * subtasks listing the directory) still has one owner.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileSplitOwner } from "./_directory_reader.ts";
 * const owner = fileSplitOwner({ file: "a.txt", start: 0 }, 3);
 * assert.ok(owner >= 0 && owner < 3);
 * assert.equal(fileSplitOwner({ file: "a.txt", start: 0 }, 3), owner);
 * ```
 */
export function fileSplitOwner(
  split: Pick<FileSplit, "file" | "start">,
  parallelism: number,
): number {
  // FNV-1a, then murmur3's finalizer so that similar names spread over subtasks.
  const id = splitId(split);
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % parallelism;
}

/** Names that are not input: hidden and in-progress files (`.x`, `_x`), as Flink and Hadoop skip. */
const isHidden = (name: string) => name.startsWith(".") || name.startsWith("_");

function checkSplit(raw: unknown, dir: string): FileSplit {
  const s = raw as Partial<FileSplit> | null;
  const ok = typeof s === "object" && s !== null && typeof s.file === "string" &&
    [s.start, s.end, s.offset].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  if (!ok) {
    throw new ConfigError(
      `FileSource cannot resume directory "${dir}": a checkpointed split is not a file split: ` +
        JSON.stringify(raw),
    );
  }
  return { file: s.file!, start: s.start!, end: s.end!, offset: s.offset! };
}

/** Reads the splits of a directory that this subtask owns. */
export class DirectoryReader implements SplitReader<string | Uint8Array> {
  readonly #dir: string;
  readonly #opts: DirectoryReadOptions;
  readonly #ctx: SourceContext;
  /** Owned splits, finished ones included (they must not be read again after a restore). */
  readonly #splits: FileSplit[] = [];
  /** Ids of every split known, owned or not: restored ones and those of the files listed. */
  readonly #known = new Set<string>();
  /** Files this reader listed and cut into splits (a restored file may be only partly known). */
  readonly #listed = new Set<string>();
  #current: { split: FileSplit; reader: FileRangeReader } | undefined;
  #started = false;
  #restored = false;
  #nextListing = 0;
  #replaced = 0;
  readonly #stats = new Map<string, { records: number; from: number }>();

  /** Creates the reader of `ctx`'s subtask (it lists the directory on its first poll). */
  constructor(dir: string, options: DirectoryReadOptions, ctx: SourceContext) {
    this.#dir = dir;
    this.#opts = options;
    this.#ctx = ctx;
  }

  get #monitoring(): boolean {
    return this.#opts.monitorIntervalMs > 0;
  }

  /** Keeps the restored splits this subtask owns; remembers all as known. */
  restoreSplits(all: unknown[]): void {
    const splits = all.map((raw) => checkSplit(raw, this.#dir));
    this.#restored = splits.length > 0;
    for (const s of splits) {
      this.#known.add(splitId(s));
      if (fileSplitOwner(s, this.#ctx.parallelism) === this.#ctx.subtaskIndex) this.#splits.push(s);
    }
  }

  /** The owned splits with their offsets, finished ones included. */
  snapshotSplits(): unknown[] {
    // A checkpoint before the first poll must still hold this subtask's splits.
    this.#start();
    return this.#splits.map((s) => ({ ...s }));
  }

  /** Split readers have no single position. */
  position(): unknown {
    return null;
  }

  /** Not used: split readers restore through `restoreSplits`. */
  restore(): void {}

  /** The owned splits for the admin API and `/metrics`. */
  splitInfo(): SplitInfo[] {
    return this.#splits.map((s) => {
      const st = this.#stats.get(splitId(s));
      return {
        id: splitId(s),
        position: s.offset,
        records: st?.records ?? 0,
        bytes: st ? Math.max(0, s.offset - st.from) : 0,
      };
    });
  }

  /** `replaced_utf8_sequences`: invalid UTF-8 sequences replaced with U+FFFD so far. */
  counters(): Readonly<Record<string, number>> {
    const current = this.#current?.reader.counters().replaced_utf8_sequences ?? 0;
    return { replaced_utf8_sequences: this.#replaced + current };
  }

  /** Lists the directory the first time (a bounded source restored: never; it has its splits). */
  #start(): void {
    if (this.#started) return;
    this.#started = true;
    if (!this.#restored || this.#monitoring) this.#discover();
    this.#nextListing = this.#ctx.now() + this.#opts.monitorIntervalMs;
  }

  /** Adds the owned splits of files not listed before, in name order. */
  #discover(): void {
    let names: string[];
    try {
      names = [...Deno.readDirSync(this.#dir)].map((e) => e.name).filter((n) => !isHidden(n));
    } catch (e) {
      throw unreadable(this.#dir, e);
    }
    for (const file of names.sort()) {
      if (this.#listed.has(file)) continue;
      let info: Deno.FileInfo;
      try {
        info = Deno.statSync(join(this.#dir, file));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // removed since the listing
        throw unreadable(join(this.#dir, file), e);
      }
      if (!info.isFile) continue;
      this.#listed.add(file);
      const size = info.size;
      const step = this.#opts.splitBytes;
      for (let start = 0; start === 0 || start < size; start += step) {
        const split = { file, start, end: Math.min(size, start + step), offset: start };
        const id = splitId(split);
        if (this.#known.has(id)) continue;
        this.#known.add(id);
        if (fileSplitOwner(split, this.#ctx.parallelism) === this.#ctx.subtaskIndex) {
          this.#splits.push(split);
        }
      }
    }
  }

  /** Opens the next unfinished owned split. */
  #openNext(): { split: FileSplit; reader: FileRangeReader } | undefined {
    const split = this.#splits.find((s) => s.offset < s.end);
    if (!split) return undefined;
    const path = join(this.#dir, split.file);
    const reader = new FileRangeReader(
      path,
      this.#opts.chunkBytes,
      this.#opts.encoding,
      this.#ctx.log,
      { start: split.start, end: split.end },
    );
    if (split.offset > split.start) reader.restore(split.offset);
    const id = splitId(split);
    if (!this.#stats.has(id)) this.#stats.set(id, { records: 0, from: split.offset });
    return this.#current = { split, reader };
  }

  /** Emits up to `max` lines of the owned splits, one split after another. */
  poll(out: SourceOutput<string | Uint8Array>, max: number): PollStatus {
    this.#start();
    if (this.#monitoring && this.#ctx.now() >= this.#nextListing) {
      this.#discover();
      this.#nextListing = this.#ctx.now() + this.#opts.monitorIntervalMs;
    }
    let emitted = 0;
    while (emitted < max) {
      const current = this.#current ?? this.#openNext();
      if (!current) break;
      const id = splitId(current.split);
      const splitOut = out.forSplit?.(id) ?? out;
      const before = emitted;
      const status = current.reader.poll({
        collect: (v: string | Uint8Array) => {
          emitted++;
          splitOut.collect(v);
        },
      }, max - emitted);
      this.#stats.get(id)!.records += emitted - before;
      current.split.offset = current.reader.position();
      if (status === "end") {
        current.split.offset = current.split.end;
        this.#replaced += current.reader.counters().replaced_utf8_sequences ?? 0;
        current.reader.close();
        this.#current = undefined;
        out.releaseSplit?.(id);
      }
    }
    if (this.#current || this.#splits.some((s) => s.offset < s.end)) return "more";
    if (this.#monitoring) return emitted > 0 ? "more" : "idle";
    return "end";
  }

  /** Closes the open file. */
  close(): void {
    this.#current?.reader.close();
    this.#current = undefined;
  }
}
