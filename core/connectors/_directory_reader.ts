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
 * Lines read from a split at a time once watermark alignment pauses splits: a
 * split paused by one of its own lines stops within this many.
 */
const PAUSABLE_STEP = 16;

/**
 * Reads the file splits the source's enumerator assigns to this subtask, one
 * after another, and asks for another when it has none left. A split paused
 * by watermark alignment (`pauseOrResumeSplits`) is skipped, left open at its
 * position, until it is resumed.
 */
export class DirectoryReader implements EnumeratedSplitReader<string | Uint8Array> {
  readonly #dir: string;
  readonly #opts: DirectoryReadOptions;
  readonly #ctx: SourceContext;
  /** Assigned splits not yet finished, in the order they are read. */
  readonly #splits: FileSplit[] = [];
  /** The open splits' readers (the one being read, and paused ones), by split id. */
  readonly #open = new Map<string, FileRangeReader>();
  readonly #paused = new Set<string>();
  /** Splits have been paused: read in small steps, so a pause takes effect soon. */
  #pausing = false;
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

  /**
   * Splits to read besides those assigned: a single file's reader gives its
   * own this way (`_file_share_reader.ts`). Not called for a directory: its
   * enumerator gets a restored job's splits back and assigns them again.
   */
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
    let open = 0;
    for (const r of this.#open.values()) open += r.counters().replaced_utf8_sequences ?? 0;
    return { replaced_utf8_sequences: this.#replaced + open };
  }

  /** Stops reading the splits in `pause` (their files stay open) and reads those in `resume` again. */
  pauseOrResumeSplits(pause: readonly string[], resume: readonly string[]): void {
    this.#pausing = true;
    for (const id of pause) this.#paused.add(id);
    for (const id of resume) this.#paused.delete(id);
  }

  /** Opens `split`. */
  #openSplit(split: FileSplit): FileRangeReader {
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
    this.#open.set(id, reader);
    return reader;
  }

  /**
   * Emits up to `max` lines of the assigned splits, one split after another
   * (skipping paused ones); `"idle"` when every split it has is paused.
   */
  poll(out: SourceOutput<string | Uint8Array>, max: number): PollStatus {
    let emitted = 0;
    while (emitted < max) {
      const index = this.#paused.size === 0
        ? 0
        : this.#splits.findIndex((s) => !this.#paused.has(splitId(s)));
      const split = this.#splits[index];
      if (!split) break;
      const id = splitId(split);
      const reader = this.#open.get(id) ?? this.#openSplit(split);
      const splitOut = out.forSplit?.(id) ?? out;
      const before = emitted;
      const status = reader.poll({
        collect: (v: string | Uint8Array) => {
          emitted++;
          splitOut.collect(v);
        },
      }, this.#pausing ? Math.min(PAUSABLE_STEP, max - emitted) : max - emitted);
      this.#stats.get(id)!.records += emitted - before;
      split.offset = reader.position();
      if (status === "end") {
        // A finished split leaves the reader state: it is never read again.
        this.#splits.splice(index, 1);
        this.#replaced += reader.counters().replaced_utf8_sequences ?? 0;
        reader.close();
        this.#open.delete(id);
        this.#paused.delete(id);
        out.releaseSplit?.(id);
      }
    }
    if (this.#splits.length > 0) return emitted > 0 ? "more" : "idle";
    if (this.#noMoreSplits) return "end";
    if (!this.#requested) {
      this.#requested = true;
      this.#ctx.sendSplitRequest?.();
    }
    return emitted > 0 ? "more" : "idle";
  }

  /** Closes the open files. */
  close(): void {
    for (const r of this.#open.values()) r.close();
    this.#open.clear();
  }
}
