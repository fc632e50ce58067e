/**
 * The enumerator half of a split source (Flink's FLIP-27 `SplitEnumerator`):
 * one per source, in the job's main thread beside the checkpoint
 * coordinator. It discovers splits, hands them to readers that ask for work,
 * takes splits back when readers fail, and keeps the unassigned ones in the
 * checkpoint. Readers and the enumerator talk in messages only, so the same
 * protocol runs on the inline and the worker executor.
 *
 * @module
 */
import type { SourceReader, SplitReader } from "./source.ts";

/**
 * What an enumerator can do to the job: assign splits, end readers, run work
 * periodically (directory monitoring).
 *
 * @example An enumerator context that records what it is told (as in unit tests)
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SplitEnumeratorContext } from "@weir/weir";
 * const assigned: [number, string[]][] = [];
 * const ctx: SplitEnumeratorContext<string> = {
 *   parallelism: 2,
 *   registeredReaders: () => [0, 1],
 *   assignSplits: (subtask, splits) => void assigned.push([subtask, splits]),
 *   signalNoMoreSplits: () => {},
 *   callPeriodically: () => {},
 *   callAsync: () => {},
 *   now: () => 0,
 * };
 * ctx.assignSplits(1, ["a.txt@0"]);
 * assert.deepEqual(assigned, [[1, ["a.txt@0"]]]);
 * ```
 */
export interface SplitEnumeratorContext<S> {
  /** How many readers (subtasks) the source has in this run. */
  readonly parallelism: number;
  /** The subtasks whose readers have registered (opened) so far. */
  registeredReaders(): readonly number[];
  /** Sends `splits` to the reader of `subtask` (a message; it arrives before the next barrier). */
  assignSplits(subtask: number, splits: S[]): void;
  /** Tells the reader of `subtask` that it gets no more splits: it ends once its splits are read. */
  signalNoMoreSplits(subtask: number): void;
  /** Calls `fn` every `intervalMs` of wall time until the enumerator closes. */
  callPeriodically(fn: () => void, intervalMs: number): void;
  /**
   * Runs `work` (I/O, such as a Kafka metadata request) and hands its result
   * to `handle` in a later turn of the main thread; with `intervalMs`, runs it
   * again that long after each `handle`, until the enumerator closes (runs
   * never overlap). A rejection fails the job, as a throwing `handle` does.
   */
  callAsync<T>(work: () => Promise<T>, handle: (result: T) => void, intervalMs?: number): void;
  /** Current processing time in ms (the job's clock). */
  now(): number;
}

/**
 * Discovers a source's splits and assigns them to its readers on request
 * (Flink's `SplitEnumerator`). `S` is a split (JSON-serializable, with its
 * position), `E` the enumerator's checkpointed state.
 *
 * The runtime calls it in the main thread only, one call at a time. Its
 * state at a checkpoint is taken just before the checkpoint's barriers are
 * sent; an assignment made after that reaches the reader after the barrier,
 * so each split is either in the enumerator's state or in one reader's, never
 * both, never neither. A restored job builds the enumerator from its state
 * and gives it every reader's unfinished splits back with `addSplitsBack`, so
 * the source may run at another parallelism.
 *
 * @example An enumerator of fixed splits, one per request
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SplitEnumerator, SplitEnumeratorContext } from "@weir/weir";
 * function fixed(ctx: SplitEnumeratorContext<string>, splits: string[]): SplitEnumerator<string, string[]> {
 *   const left = [...splits];
 *   return {
 *     start() {},
 *     addReader() {},
 *     handleSplitRequest(subtask) {
 *       const next = left.shift();
 *       if (next === undefined) ctx.signalNoMoreSplits(subtask);
 *       else ctx.assignSplits(subtask, [next]);
 *     },
 *     addSplitsBack(back) { left.push(...back); },
 *     snapshotState: () => [...left],
 *   };
 * }
 * const got: string[] = [];
 * const ctx: SplitEnumeratorContext<string> = {
 *   parallelism: 1,
 *   registeredReaders: () => [0],
 *   assignSplits: (_, s) => void got.push(...s),
 *   signalNoMoreSplits: () => void got.push("end"),
 *   callPeriodically: () => {},
 *   callAsync: () => {},
 *   now: () => 0,
 * };
 * const e = fixed(ctx, ["a", "b"]);
 * e.handleSplitRequest(0);
 * assert.deepEqual(e.snapshotState(1), ["b"]);
 * e.addSplitsBack(["a"], 0); // its reader failed before a checkpoint held "a"
 * e.handleSplitRequest(0);
 * e.handleSplitRequest(0);
 * e.handleSplitRequest(0);
 * assert.deepEqual(got, ["a", "b", "a", "end"]);
 * ```
 */
export interface SplitEnumerator<S, E> {
  /** Starts discovery (the first listing; periodic discovery through the context). */
  start(): void;
  /** The reader of `subtask` registered (opened). */
  addReader(subtask: number): void;
  /** The reader of `subtask` has no split to read and asks for one. */
  handleSplitRequest(subtask: number): void;
  /**
   * Splits go back to the enumerator: those assigned to a failed reader since
   * the last completed checkpoint, or, on restore, the readers' unfinished
   * splits (`subtask` -1: they may go to any reader). They are assigned
   * again, from their positions.
   */
  addSplitsBack(splits: S[], subtask: number): void;
  /** The state to keep in checkpoint `checkpointId` (JSON-serializable). */
  snapshotState(checkpointId: number): E;
  /** Checkpoint `checkpointId` completed. */
  notifyCheckpointComplete?(checkpointId: number): void;
  /** Checkpoint `checkpointId` was aborted: the state it took is in no checkpoint. */
  notifyCheckpointAborted?(checkpointId: number): void;
  /** Releases resources (the job waits for a returned promise). */
  close?(): void | Promise<void>;
}

/**
 * A source reader fed by an enumerator: it reads the splits it is assigned,
 * asks for more through `SourceContext.sendSplitRequest` when it has none,
 * and ends after `notifyNoMoreSplits` once its splits are read. Its
 * `snapshotSplits` are its unfinished splits with their positions; on restore
 * the enumerator gets them back, so `restoreSplits` is not called.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EnumeratedSplitReader, isEnumeratedSplitReader } from "@weir/weir";
 * const splits: string[] = [];
 * let more = true;
 * const reader: EnumeratedSplitReader<string> = {
 *   poll: (out) => {
 *     const s = splits.shift();
 *     if (s !== undefined) out.collect(s);
 *     return s !== undefined ? "more" : more ? "idle" : "end";
 *   },
 *   position: () => null,
 *   restore() {},
 *   snapshotSplits: () => [...splits],
 *   restoreSplits() {},
 *   addSplits: (s) => void splits.push(...(s as string[])),
 *   notifyNoMoreSplits: () => void (more = false),
 * };
 * reader.addSplits(["x"]);
 * assert.ok(isEnumeratedSplitReader(reader));
 * assert.deepEqual(reader.snapshotSplits(1), ["x"]);
 * ```
 */
export interface EnumeratedSplitReader<T> extends SplitReader<T> {
  /** Splits assigned by the enumerator. */
  addSplits(splits: unknown[]): void;
  /** The enumerator has no more splits for this reader. */
  notifyNoMoreSplits(): void;
}

/**
 * Whether a reader is fed by an enumerator ({@linkcode EnumeratedSplitReader}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEnumeratedSplitReader } from "@weir/weir";
 * assert.equal(isEnumeratedSplitReader({ poll: () => "end", position: () => 0, restore() {} }), false);
 * ```
 */
export function isEnumeratedSplitReader<T>(
  reader: SourceReader<T>,
): reader is EnumeratedSplitReader<T> {
  const r = reader as Partial<EnumeratedSplitReader<T>>;
  return typeof r.addSplits === "function" && typeof r.notifyNoMoreSplits === "function";
}
