/**
 * The source contract. A {@linkcode Source} creates one
 * {@linkcode SourceReader} per parallel subtask; the runtime polls readers for
 * batches of records and stores their positions in operator state, so a
 * restored job resumes exactly where its checkpoint says.
 *
 * @module
 */
import type { SplitEnumerator, SplitEnumeratorContext } from "./split_enumerator.ts";

/**
 * What a subtask's reader is told about its place in the job.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type Source, type SourceContext, StreamEnvironment } from "@weir/weir";
 * // Each subtask reads the numbers congruent to its index.
 * const seen: SourceContext[] = [];
 * const source: Source<number> = {
 *   name: "strided",
 *   createReader(ctx: SourceContext) {
 *     seen.push(ctx);
 *     let next = ctx.subtaskIndex;
 *     return {
 *       poll(out) {
 *         if (next >= 6) return "end";
 *         out.collect(next);
 *         next += ctx.parallelism;
 *         return "more";
 *       },
 *       position: () => next,
 *       restore(p) { next = p as number; },
 *     };
 *   },
 * };
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * const sink = new CollectSink<number>();
 * env.addSource(source).addSink(sink);
 * await env.execute();
 * assert.equal(seen.length, 2);
 * assert.deepEqual(sink.values.toSorted((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
 * ```
 */
export interface SourceContext {
  /** This subtask's index, `0 ≤ subtaskIndex < parallelism`. */
  readonly subtaskIndex: number;
  /** How many subtasks read this source. */
  readonly parallelism: number;
  /** Current processing time in ms (the job's clock; tests control it). */
  now(): number;
  /** Writes a warning line to the job's log (stderr unless the environment sets `log`). */
  log?(line: string): void;
  /**
   * Asks the source's enumerator for a split (readers of a source with
   * `createEnumerator`; the answer arrives as `addSplits` or `notifyNoMoreSplits`).
   */
  sendSplitRequest?(): void;
  /**
   * Reports the reader's watermark to its watermark alignment group in the
   * job's main thread (used by `env.fromSource` with `withWatermarkAlignment`;
   * the answer comes back to the reader as the highest watermark it may have).
   */
  reportWatermark?(group: string, maxDriftMs: number, watermark: number): void;
}

/**
 * Where a reader emits what it reads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SourceOutput } from "@weir/weir";
 * // A reader hands records (with an optional event timestamp) to its output.
 * const got: [string, number | undefined][] = [];
 * const out: SourceOutput<string> = { collect: (v, ts) => got.push([v, ts]) };
 * out.collect("click", 1000);
 * assert.deepEqual(got, [["click", 1000]]);
 * ```
 */
export interface SourceOutput<T> {
  /** Emits a record, with an event timestamp when the source knows one. */
  collect(value: T, timestamp?: number): void;
  /**
   * The output of split `splitId` (Flink's `createOutputForSplit`): with
   * `env.fromSource`, each split's records get their own watermark generator.
   * Absent when the source's watermarks are not per split: use this output.
   */
  forSplit?(splitId: string): SourceOutput<T>;
  /** Split `splitId` is finished: it no longer holds the watermark back. */
  releaseSplit?(splitId: string): void;
}

/**
 * What a poll found: `"more"` (poll again), `"end"` (this reader is done), or
 * `"idle"` (nothing now; the runtime polls again after a short pause).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PollStatus, SourceOutput } from "@weir/weir";
 * // "more": call again; "idle": nothing now, back off; "end": input is done.
 * const queue = ["a"];
 * let closed = false;
 * function poll(out: SourceOutput<string>): PollStatus {
 *   const v = queue.shift();
 *   if (v !== undefined) { out.collect(v); return "more"; }
 *   return closed ? "end" : "idle";
 * }
 * assert.equal(poll({ collect() {} }), "more");
 * assert.equal(poll({ collect() {} }), "idle");
 * closed = true;
 * assert.equal(poll({ collect() {} }), "end");
 * ```
 */
export type PollStatus = "more" | "end" | "idle";

/**
 * Reads one subtask's share of a source. `poll` emits at most `max` records;
 * it may return a promise (I/O, rate limits), which the runtime awaits once
 * per batch, never per record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SourceReader } from "@weir/weir";
 * // Counts to 3; its position (the next number) goes into checkpoints.
 * function counter(): SourceReader<number> {
 *   let next = 0;
 *   return {
 *     poll(out, max) {
 *       for (let i = 0; i < max && next < 3; i++) out.collect(next++);
 *       return next < 3 ? "more" : "end";
 *     },
 *     position: () => next,
 *     restore(p) { next = p as number; },
 *   };
 * }
 * const r = counter();
 * r.restore(2);
 * const got: number[] = [];
 * assert.equal(r.poll({ collect: (v) => got.push(v) }, 10), "end");
 * assert.deepEqual(got, [2]);
 * assert.equal(r.position(), 3);
 * ```
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
  /**
   * Counters the reader keeps, by snake_case name (the file source's
   * `replaced_utf8_sequences`). The admin API's `GET /metrics` sums them over
   * a source's subtasks as `weir_source_<name>_total`, each character of the
   * name other than a letter, digit or `_` replaced by `_`.
   */
  counters?(): Readonly<Record<string, number>>;
  /**
   * Stops reading the splits in `pause` and reads the splits in `resume`
   * again (Flink's `SourceReader.pauseOrResumeSplits`); splits are named as
   * in `out.forSplit(id)`. Watermark alignment calls it, also from inside
   * `poll` (a split's record took it too far ahead): the reader emits no more
   * records of a paused split, keeps its position, and returns `"idle"` when
   * every split it has is paused. A reader without it is paused as a whole.
   */
  pauseOrResumeSplits?(pause: readonly string[], resume: readonly string[]): void;
}

/**
 * A reader whose state is a list of splits (Flink's FLIP-27 reader state):
 * a Kafka partition and its offset, a file and its position. The splits of
 * all subtasks are kept together in the checkpoint (union list state) and
 * every reader of a restored job is given all of them and keeps the ones it
 * owns, so such a source's parallelism may change on restore. Readers also
 * hear when a checkpoint completes.
 *
 * @example A reader of numbered splits, each owned by `split % parallelism`
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSplitReader, type SplitReader } from "@weir/weir";
 * function reader(subtask: number, parallelism: number): SplitReader<number> {
 *   let splits: { id: number; next: number }[] = [];
 *   return {
 *     poll: () => "end",
 *     position: () => null,
 *     restore() {},
 *     snapshotSplits: () => splits.map((s) => ({ ...s })),
 *     restoreSplits(all) {
 *       splits = (all as { id: number; next: number }[]).filter((s) => s.id % parallelism === subtask);
 *     },
 *   };
 * }
 * // Three splits of two old subtasks, restored into one new subtask of two.
 * const r = reader(1, 2);
 * r.restoreSplits([{ id: 0, next: 5 }, { id: 1, next: 7 }, { id: 3, next: 2 }]);
 * assert.ok(isSplitReader(r));
 * assert.deepEqual(r.snapshotSplits(1), [{ id: 1, next: 7 }, { id: 3, next: 2 }]);
 * ```
 */
export interface SplitReader<T> extends SourceReader<T> {
  /** This reader's splits with their positions (each JSON-serializable), for checkpoint `checkpointId`. */
  snapshotSplits(checkpointId: number): unknown[];
  /** Before the first poll of a restored job: every subtask's splits; keep your own. */
  restoreSplits(all: unknown[]): void | Promise<void>;
  /** Checkpoint `checkpointId` is complete (e.g. commit offsets for monitoring). */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  /** Checkpoint `checkpointId` was aborted (its splits' positions are in no checkpoint). */
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
  /** The splits as the admin API and `/metrics` show them. */
  splitInfo?(): SplitInfo[];
}

/**
 * A split as the admin API's job detail and `/metrics` show it.
 *
 * @example A reader's split, 3 records into a partition that ends at 10, in the job detail
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type SplitInfo, type SplitReader, StreamEnvironment } from "@weir/weir";
 * import { createAdminApp, jobClientRuntime } from "@weir/weir/admin";
 * const atThree = Promise.withResolvers<void>(), release = Promise.withResolvers<void>();
 * let next = 0;
 * const reader = (): SplitReader<number> => ({
 *   poll(out) {
 *     if (next < 3) return (out.collect(next++), "more");
 *     atThree.resolve();
 *     return release.promise.then(() => "end" as const);
 *   },
 *   position: () => next,
 *   restore() {},
 *   snapshotSplits: () => [{ next }],
 *   restoreSplits() {},
 *   splitInfo: (): SplitInfo[] => [
 *     { id: "orders:3", position: next, records: next, bytes: 0, lag: 10 - next },
 *   ],
 * });
 * const env = StreamEnvironment.create({ executor: "inline" });
 * env.addSource({ name: "orders", createReader: reader }, { uid: "orders" })
 *   .addSink(new CollectSink());
 * const client = env.executeAsync("orders");
 * await atThree.promise;
 * const app = createAdminApp(jobClientRuntime(client));
 * const id = (await (await app.request("/jobs")).json()).jobs[0].id;
 * const { vertices } = await (await app.request(`/jobs/${id}`)).json();
 * assert.deepEqual(vertices[0].splits, [
 *   { id: "orders:3", position: 3, records: 3, bytes: 0, lag: 7, subtask: 0 },
 * ]);
 * release.resolve();
 * await client.done;
 * ```
 */
export interface SplitInfo {
  /** The split (a Kafka partition: `topic:partition`). */
  readonly id: string;
  /** Where the reader is (a Kafka partition: the next offset). */
  readonly position: unknown;
  /** Records read from it by this run. */
  readonly records: number;
  /** Bytes read from it by this run. */
  readonly bytes: number;
  /** Records behind the end of the split, as last seen (undefined: not known). */
  readonly lag?: number;
}

/**
 * Whether a reader keeps its state as splits ({@linkcode SplitReader}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSplitReader } from "@weir/weir";
 * assert.equal(isSplitReader({ poll: () => "end", position: () => 0, restore() {} }), false);
 * ```
 */
export function isSplitReader<T>(reader: SourceReader<T>): reader is SplitReader<T> {
  return typeof (reader as Partial<SplitReader<T>>).snapshotSplits === "function" &&
    typeof (reader as Partial<SplitReader<T>>).restoreSplits === "function";
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
  /**
   * Checks, before the job's first attempt, what no restart can fix (an input
   * file that does not exist); throws `ConfigError` naming it.
   */
  check?(): void;
  /**
   * The source's split enumerator, in the job's main thread (one per source),
   * when its readers are fed splits on request (`EnumeratedSplitReader`):
   * `restored` is its state from the checkpoint restored, undefined on a first
   * start. Without it (or when it returns undefined) each reader finds its own splits.
   */
  createEnumerator?(
    ctx: SplitEnumeratorContext<unknown>,
    restored: unknown,
  ): SplitEnumerator<unknown, unknown> | undefined;
}
