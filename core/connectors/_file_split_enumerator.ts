/**
 * The split enumerator of a directory {@linkcode FileSource}: it lists the
 * directory (again at an interval when monitoring), cuts each new file into
 * splits, and hands one split at a time to a reader that asks. Its state is
 * the files it has listed and the splits not yet assigned.
 *
 * @module
 */
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { compressed, unreadable } from "./_file_range_reader.ts";
import { SplitQueue } from "./_split_queue.ts";
import type { SplitEnumerator, SplitEnumeratorContext } from "./split_enumerator.ts";

/** A byte range of a file in the directory and the offset of its next line. */
export interface FileSplit {
  /** The file's path relative to the directory (`/` between names). */
  file: string;
  /** Lines starting at or after this byte belong to the split... */
  start: number;
  /** ...up to this one (exclusive). */
  end: number;
  /** The next line's offset; `end` once the split is read. */
  offset: number;
}

/** The enumerator's checkpointed state. */
export interface FileEnumeratorState {
  /** Files listed and cut into splits: never listed again. */
  listed: string[];
  /** Splits no reader holds. */
  unassigned: FileSplit[];
}

/** How the directory is cut into splits and watched. */
export interface FileEnumeratorOptions {
  /** Files larger than this are several splits of this many bytes. */
  splitBytes: number;
  /** ms between listings; 0: list once (at the first start), then no more splits. */
  monitorIntervalMs: number;
}

/** The id of a split in logs, metrics and per-split watermarks. */
export const fileSplitId = (s: Pick<FileSplit, "file" | "start">): string => `${s.file}@${s.start}`;

/** Names that are not input: hidden and in-progress files (`.x`, `_x`), as Flink and Hadoop skip. */
const isHidden = (name: string) => name.startsWith(".") || name.startsWith("_");

/** Checks a split of `path` (a directory or a file) read from a checkpoint; throws `ConfigError` naming it. */
export function checkFileSplit(raw: unknown, path: string): FileSplit {
  const s = raw as Partial<FileSplit> | null;
  const ok = typeof s === "object" && s !== null && typeof s.file === "string" &&
    [s.start, s.end, s.offset].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  if (!ok) {
    throw new ConfigError(
      `FileSource cannot resume "${path}": a checkpointed split is not a file split: ` +
        JSON.stringify(raw),
    );
  }
  return { file: s.file!, start: s.start!, end: s.end!, offset: s.offset! };
}

function checkState(raw: unknown, dir: string): FileEnumeratorState {
  const s = raw as Partial<FileEnumeratorState> | null;
  if (
    typeof s !== "object" || s === null || !Array.isArray(s.listed) ||
    !s.listed.every((f) => typeof f === "string") || !Array.isArray(s.unassigned)
  ) {
    throw new ConfigError(
      `FileSource cannot resume directory "${dir}": the checkpointed enumerator state is not ` +
        `{ listed, unassigned }: ${JSON.stringify(raw)}`,
    );
  }
  return { listed: s.listed, unassigned: s.unassigned.map((u) => checkFileSplit(u, dir)) };
}

/**
 * Lists a directory and assigns its file splits on request.
 *
 * @example Two readers share three files; the one that asks most reads most
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileSplitEnumerator } from "./_file_split_enumerator.ts";
 * const dir = Deno.makeTempDirSync();
 * for (const f of ["a", "b", "c"]) Deno.writeTextFileSync(`${dir}/${f}.txt`, "x\n");
 * const got: string[] = [];
 * const e = new FileSplitEnumerator(dir, { splitBytes: 1024, monitorIntervalMs: 0 }, {
 *   parallelism: 2,
 *   registeredReaders: () => [0, 1],
 *   assignSplits: (subtask, splits) => splits.forEach((s) => got.push(`${subtask}:${s.file}`)),
 *   signalNoMoreSplits: (subtask) => void got.push(`${subtask}:end`),
 *   callPeriodically: () => {},
 *   callAsync: () => {},
 *   now: () => 0,
 * }, undefined);
 * e.start();
 * e.handleSplitRequest(0);
 * e.handleSplitRequest(1);
 * e.handleSplitRequest(0);
 * e.handleSplitRequest(0);
 * assert.deepEqual(got, ["0:a.txt", "1:b.txt", "0:c.txt", "0:end"]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class FileSplitEnumerator implements SplitEnumerator<FileSplit, FileEnumeratorState> {
  readonly #dir: string;
  readonly #opts: FileEnumeratorOptions;
  readonly #ctx: SplitEnumeratorContext<FileSplit>;
  readonly #listed: Set<string>;
  /** Splits no reader holds; with monitoring, readers wait there for the next listing. */
  readonly #unassigned: SplitQueue<FileSplit>;
  readonly #restored: boolean;

  /** Resumes from `restored` state (undefined: a first start). */
  constructor(
    dir: string,
    options: FileEnumeratorOptions,
    ctx: SplitEnumeratorContext<FileSplit>,
    restored: unknown,
  ) {
    this.#dir = dir;
    this.#opts = options;
    this.#ctx = ctx;
    const state = restored === undefined ? undefined : checkState(restored, dir);
    this.#restored = state !== undefined;
    this.#listed = new Set(state?.listed ?? []);
    this.#unassigned = new SplitQueue(ctx, state?.unassigned ?? [], {
      more: options.monitorIntervalMs > 0,
    });
  }

  get #monitoring(): boolean {
    return this.#opts.monitorIntervalMs > 0;
  }

  /**
   * Lists the directory (a bounded source restored: never; its files were
   * fixed at the first start) and, when monitoring, schedules the next listings.
   */
  start(): void {
    if (!this.#restored || this.#monitoring) this.#discover();
    if (this.#monitoring) {
      this.#ctx.callPeriodically(() => this.#discover(), this.#opts.monitorIntervalMs);
    }
  }

  /** Nothing to do: readers ask when they need a split. */
  addReader(_subtask: number): void {}

  /** Assigns the next unassigned split, or ends the reader when there will be none. */
  handleSplitRequest(subtask: number): void {
    this.#unassigned.request(subtask);
  }

  /**
   * Splits of a failed reader, or the readers' splits on restore: unfinished
   * ones are assigned again. Their files count as listed (a checkpoint of a
   * version without an enumerator has no enumerator state, and its readers'
   * splits include finished ones: those files must not be read again).
   */
  addSplitsBack(splits: FileSplit[], _subtask: number): void {
    const back = splits.map((s) => checkFileSplit(s, this.#dir));
    for (const split of back) this.#listed.add(split.file);
    // Readers waiting in monitoring mode need not wait for the next listing.
    this.#unassigned.add(back.filter((split) => split.offset < split.end));
  }

  /** The files listed and the splits no reader holds. */
  snapshotState(): FileEnumeratorState {
    return { listed: [...this.#listed], unassigned: this.#unassigned.left.map((s) => ({ ...s })) };
  }

  /**
   * Adds the splits of files not listed before, in path order, and serves waiting readers. The
   * directory is walked recursively, as Flink's FileSource enumerators do, skipping hidden names
   * (files and directories alike); a directory reached twice through symbolic links is walked once.
   */
  #discover(): void {
    const found: FileSplit[] = [];
    for (const { file, size } of this.#walk("", new Set())) {
      this.#listed.add(file);
      const step = this.#opts.splitBytes;
      for (let start = 0; start === 0 || start < size; start += step) {
        found.push({ file, start, end: Math.min(size, start + step), offset: start });
      }
    }
    this.#unassigned.add(found);
  }

  /** Files under `rel` (relative to the directory) not listed before, in path order. */
  *#walk(rel: string, seen: Set<string>): Generator<{ file: string; size: number }> {
    const dir = join(this.#dir, rel);
    let names: string[];
    try {
      const real = Deno.realPathSync(dir);
      if (seen.has(real)) return;
      seen.add(real);
      names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !isHidden(n));
    } catch (e) {
      // A subdirectory removed since its parent was listed is no input; the directory itself is.
      if (rel !== "" && e instanceof Deno.errors.NotFound) return;
      throw unreadable(dir, e);
    }
    for (const name of names.sort()) {
      const file = rel === "" ? name : `${rel}/${name}`;
      if (this.#listed.has(file)) continue;
      let info: Deno.FileInfo;
      try {
        info = Deno.statSync(join(this.#dir, file));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // removed since the listing
        throw unreadable(join(this.#dir, file), e);
      }
      if (info.isDirectory) yield* this.#walk(file, seen);
      else if (info.isFile) {
        const error = compressed(join(this.#dir, file));
        if (error) throw error;
        yield { file, size: info.size };
      }
    }
  }
}
