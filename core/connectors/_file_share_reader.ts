/**
 * One subtask's reader of a single file for {@linkcode FileSource}: subtask
 * `i` of `p` starts with the `i`-th of `p` byte ranges of the file as its one
 * split. Its state is its unfinished splits with their next line's offset, kept
 * with every subtask's (union state), so a restored job may run at another
 * parallelism: each subtask then takes every `p`-th of the splits left, by
 * their start, and reads them one after another.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { ConfigError } from "../errors.ts";
import { shrunk, unreadable } from "./_file_range_reader.ts";
import { DirectoryReader, type DirectoryReadOptions } from "./_directory_reader.ts";
import { checkFileSplit, type FileSplit } from "./_file_split_enumerator.ts";
import type { PollStatus, SourceContext, SourceOutput, SplitInfo, SplitReader } from "./source.ts";

/** Reads this subtask's share of one file's byte ranges (see the module doc). */
export class FileShareReader implements SplitReader<string | Uint8Array> {
  readonly #path: string;
  readonly #ctx: SourceContext;
  /** Reads the splits: a directory reader of the file's folder, with no enumerator. */
  readonly #splits: DirectoryReader;
  /** The byte range this subtask starts with on a fresh start. */
  readonly #share: FileSplit;
  /** The splits it reads are set (its share, or restored ones). */
  #given = false;

  /** Opens `path` for `ctx`'s subtask; throws `ConfigError` if it is not a readable file. */
  constructor(path: string, options: DirectoryReadOptions, ctx: SourceContext) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch (e) {
      throw unreadable(path, e);
    }
    if (!info.isFile) throw new ConfigError(`FileSource cannot read "${path}": not a regular file`);
    this.#path = path;
    this.#ctx = ctx;
    this.#splits = new DirectoryReader(dirname(path), options, ctx);
    const { subtaskIndex: i, parallelism: p } = ctx;
    const start = Math.floor(info.size * i / p);
    this.#share = {
      file: basename(path),
      start,
      end: Math.floor(info.size * (i + 1) / p),
      offset: start,
    };
  }

  /** Sets the splits to read, once: no enumerator sends more. */
  #give(splits: FileSplit[]): void {
    this.#given = true;
    this.#splits.restoreSplits(splits);
    this.#splits.notifyNoMoreSplits();
  }

  /**
   * A restored job's splits of every subtask: keeps every `p`-th by start,
   * from its subtask index on (each split goes to exactly one subtask).
   */
  restoreSplits(all: unknown[]): void {
    const splits = all.map((raw) => checkFileSplit(raw, this.#path));
    for (const s of splits) {
      if (s.file !== this.#share.file) {
        throw new ConfigError(
          `FileSource cannot resume "${this.#path}": the checkpoint has a split of "${s.file}" ` +
            `(a source that reads another file needs another uid)`,
        );
      }
    }
    splits.sort((a, b) => a.start - b.start);
    const { subtaskIndex, parallelism } = this.#ctx;
    this.#give(splits.filter((_, k) => k % parallelism === subtaskIndex));
  }

  /**
   * The next line's offset in this subtask's byte range, from a checkpoint
   * of a weir that kept one position per subtask of a single file (the job
   * then runs at the parallelism it had, as the restore checks).
   */
  restore(position: unknown): void {
    if (
      typeof position !== "number" || !Number.isSafeInteger(position) ||
      position < this.#share.start
    ) {
      throw new ConfigError(
        `FileSource cannot resume "${this.#path}" at position ${String(position)}`,
      );
    }
    const size = Deno.statSync(this.#path).size;
    if (position > size) throw shrunk(this.#path, size, position);
    const offset = Math.min(position, this.#share.end);
    this.#give(offset < this.#share.end ? [{ ...this.#share, offset }] : []);
  }

  /** The unfinished splits with their next line's offset. */
  snapshotSplits(): unknown[] {
    if (this.#given) return this.#splits.snapshotSplits();
    return this.#share.offset < this.#share.end ? [{ ...this.#share }] : [];
  }

  /** Split readers have no single position. */
  position(): unknown {
    return null;
  }

  poll(out: SourceOutput<string | Uint8Array>, max: number): PollStatus {
    if (!this.#given) this.#give([{ ...this.#share }]);
    return this.#splits.poll(out, max);
  }

  /** The splits for the admin API and `/metrics`. */
  splitInfo(): SplitInfo[] {
    return this.#given ? this.#splits.splitInfo() : [];
  }

  /** `replaced_utf8_sequences`: invalid UTF-8 sequences replaced with U+FFFD so far. */
  counters(): Readonly<Record<string, number>> {
    return this.#splits.counters();
  }

  /** Stops reading the splits in `pause` and reads those in `resume` again (watermark alignment). */
  pauseOrResumeSplits(pause: readonly string[], resume: readonly string[]): void {
    this.#splits.pauseOrResumeSplits(pause, resume);
  }

  /** Closes the open file. */
  close(): void {
    this.#splits.close();
  }
}
