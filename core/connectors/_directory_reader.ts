/**
 * One subtask's reader of a directory for {@linkcode FileSource}: it reads
 * the file splits the source's enumerator (`_file_split_enumerator.ts`)
 * assigns to it; its state is its unfinished splits with their positions.
 *
 * @module
 */
import { join } from "node:path";
import type { FileSourceEncoding } from "./file_source.ts";
import { FileRangeReader } from "./_file_range_reader.ts";
import { checkFileSplit, type FileSplit, fileSplitId } from "./_file_split_enumerator.ts";
import type { PollStatus, SourceContext, SourceOutput, SplitInfo } from "./source.ts";
import type { EnumeratedSplitReader } from "./split_enumerator.ts";

/** How a directory's splits are read. */
export interface DirectoryReadOptions {
  /** Bytes read from disk at a time. */
  chunkBytes: number;
  /** How lines become records. */
  encoding: FileSourceEncoding;
}

const splitId = fileSplitId;

/**
 * Reads the file splits the source's enumerator assigns to this subtask, one
 * after another, and asks for another when it has none left.
 */
export class DirectoryReader implements EnumeratedSplitReader<string | Uint8Array> {
  readonly #dir: string;
  readonly #opts: DirectoryReadOptions;
  readonly #ctx: SourceContext;
  /** Assigned splits not yet finished, the one being read first. */
  readonly #splits: FileSplit[] = [];
  #current: { split: FileSplit; reader: FileRangeReader } | undefined;
  /** A split request is on its way and not answered yet. */
  #requested = false;
  #noMoreSplits = false;
  #replaced = 0;
  readonly #stats = new Map<string, { records: number; from: number }>();

  /** Creates the reader of `ctx`'s subtask (it asks for a split on its first poll). */
  constructor(dir: string, options: DirectoryReadOptions, ctx: SourceContext) {
    this.#dir = dir;
    this.#opts = options;
    this.#ctx = ctx;
  }

  /** Splits the enumerator assigned. */
  addSplits(splits: unknown[]): void {
    this.#requested = false;
    for (const raw of splits) this.#splits.push(checkFileSplit(raw, this.#dir));
  }

  /** The enumerator has nothing more for this reader: it ends when its splits are read. */
  notifyNoMoreSplits(): void {
    this.#requested = false;
    this.#noMoreSplits = true;
  }

  /** Not called: the enumerator gets a restored job's splits back and assigns them again. */
  restoreSplits(all: unknown[]): void {
    for (const raw of all) this.#splits.push(checkFileSplit(raw, this.#dir));
  }

  /** The unfinished assigned splits with their offsets. */
  snapshotSplits(): unknown[] {
    return this.#splits.map((s) => ({ ...s }));
  }

  /** Split readers have no single position. */
  position(): unknown {
    return null;
  }

  /** Not used: split readers restore through their splits. */
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

  /** Opens the next assigned split. */
  #openNext(): { split: FileSplit; reader: FileRangeReader } | undefined {
    const split = this.#splits[0];
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

  /** Emits up to `max` lines of the assigned splits, one split after another. */
  poll(out: SourceOutput<string | Uint8Array>, max: number): PollStatus {
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
        // A finished split leaves the reader state: it is never read again.
        this.#splits.shift();
        this.#replaced += current.reader.counters().replaced_utf8_sequences ?? 0;
        current.reader.close();
        this.#current = undefined;
        out.releaseSplit?.(id);
      }
    }
    if (this.#splits.length > 0) return "more";
    if (this.#noMoreSplits) return "end";
    if (!this.#requested) {
      this.#requested = true;
      this.#ctx.sendSplitRequest?.();
    }
    return emitted > 0 ? "more" : "idle";
  }

  /** Closes the open file. */
  close(): void {
    this.#current?.reader.close();
    this.#current = undefined;
  }
}
