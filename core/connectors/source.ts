/**
 * The source contract. A {@linkcode Source} creates one
 * {@linkcode SourceReader} per parallel subtask; the runtime polls readers for
 * batches of records and stores their positions in operator state, so a
 * restored job resumes exactly where its checkpoint says.
 *
 * @module
 */

/** What a subtask's reader is told about its place in the job. */
export interface SourceContext {
  /** This subtask's index, `0 ≤ subtaskIndex < parallelism`. */
  readonly subtaskIndex: number;
  /** How many subtasks read this source. */
  readonly parallelism: number;
  /** Current processing time in ms (the job's clock; tests control it). */
  now(): number;
}

/** Where a reader emits what it reads. */
export interface SourceOutput<T> {
  /** Emits a record, with an event timestamp when the source knows one. */
  collect(value: T, timestamp?: number): void;
}

/**
 * What a poll found: `"more"` (poll again), `"end"` (this reader is done), or
 * `"idle"` (nothing now; the runtime polls again after a short pause).
 */
export type PollStatus = "more" | "end" | "idle";

/**
 * Reads one subtask's share of a source. `poll` emits at most `max` records;
 * it may return a promise (I/O, rate limits), which the runtime awaits once
 * per batch, never per record.
 */
export interface SourceReader<T> {
  /** Emits up to `max` records into `out`. */
  poll(out: SourceOutput<T>, max: number): PollStatus | Promise<PollStatus>;
  /** The position to resume from: JSON-serializable, taken between polls. */
  position(): unknown;
  /** Moves to a position a previous `position()` returned. */
  restore(position: unknown): void | Promise<void>;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/**
 * A source of records.
 *
 * @example A source of three numbers, resumable by index
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Source } from "@weir/weir";
 * const three: Source<number> = {
 *   name: "three",
 *   maxParallelism: 1,
 *   createReader() {
 *     let next = 0;
 *     return {
 *       poll(out, max) {
 *         for (let i = 0; i < max && next < 3; i++) out.collect(next++);
 *         return next < 3 ? "more" : "end";
 *       },
 *       position: () => next,
 *       restore(p) { next = p as number; },
 *     };
 *   },
 * };
 * assert.ok(three.name === "three");
 * ```
 */
export interface Source<T> {
  /** A name for plans, logs and metrics. */
  readonly name: string;
  /** The highest parallelism the source supports (1 for a non-splittable source). */
  readonly maxParallelism?: number;
  /** Creates the reader of one subtask. */
  createReader(ctx: SourceContext): SourceReader<T>;
}
