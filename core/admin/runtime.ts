/**
 * What the admin API needs from the running job(s): {@linkcode AdminRuntime},
 * a small interface the routes read and act through, and
 * {@linkcode jobClientRuntime}, its implementation over a {@linkcode JobClient}.
 * Tests give the routes a fake or a real runtime.
 *
 * @module
 */
import { resolve } from "node:path";
import { checkOptionNames } from "../_options.ts";
import type { CheckpointConfig } from "../checkpoint/coordinator.ts";
import { type HistoryEntry, HistoryReader } from "../checkpoint/history.ts";
import type { CheckpointStorage } from "../checkpoint/storage.ts";
import { DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";
import { ByteWriter } from "../state/bytes.ts";
import { keyGroupOf, subtaskForKeyGroup } from "../state/key_group.ts";
import type { Serializer } from "../state/serializer.ts";
import { uidOf } from "../runtime/graph.ts";
import type { Job } from "../runtime/job.ts";
import type { JobClient } from "../runtime/job_runner.ts";
import type { TaskState } from "../runtime/task.ts";
import type { SplitInfo } from "../connectors/source.ts";
import type { MetricSample } from "../runtime/metric_group.ts";
import { type AttemptEnd, type JobView, JobViewBuilder, viewVertices } from "./job_view.ts";
import { JobFailedError } from "../errors.ts";

/**
 * A job's status, as Flink names it: `RESTARTING` between a failed attempt
 * and the next one (the restart strategy's delay).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type JobStatus } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ executor: "inline" });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).map((n) => n + 1);
 * const client = env.executeAsync("unbounded");
 * const [job] = jobClientRuntime(client).jobs();
 * const seen: JobStatus[] = [job!.status()];
 * client.cancel();
 * await client.done;
 * seen.push(job!.status());
 * assert.deepEqual(seen, ["RUNNING", "CANCELED"]);
 * ```
 */
export type JobStatus = "RUNNING" | "RESTARTING" | "FINISHED" | "FAILED" | "CANCELED";

/**
 * A running job's subtask, by Flink's names for task states: `DEPLOYING`
 * until its worker has made it (the Web Worker still starts), then its
 * task's state (see {@linkcode TaskState}). Once the attempt has ended, as
 * Flink's: after a failure the subtasks of the task that failed read `FAILED`
 * and all others `CANCELED` (cancelled because of it), also while the job waits
 * to restart; every subtask of a cancelled job reads `CANCELED`, of a finished
 * job `FINISHED`. One whose input had ended before stays `FINISHED`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type SubtaskState } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ executor: "inline", parallelism: 2 });
 * env.fromElements(1, 2, 3, 4, 5, 6).uid("numbers")
 *   .keyBy((n) => n % 3, Serializers.i32).filter((n) => n % 2 === 0).uid("even")
 *   .addSink({ invoke() {} }, { uid: "sink" });
 * const client = env.executeAsync("evens");
 * const [job] = jobClientRuntime(client).jobs();
 * await client.done;
 * // A bounded job's subtasks all finished: counted per state for each operator.
 * const states = job!.vertices().map((v) => v.subtaskStates);
 * assert.deepEqual(states, [{ FINISHED: 1 }, { FINISHED: 2 }, { FINISHED: 2 }]);
 * const one: SubtaskState | undefined = job!.vertices()[1]!.subtasks![0]!.state;
 * assert.equal(one, "FINISHED");
 * ```
 */
export type SubtaskState = "DEPLOYING" | TaskState | "CANCELED" | "FAILED";

/**
 * One operator of a job (a Flink job vertex), summed over its subtasks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type VertexInfo } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ executor: "inline", parallelism: 2 });
 * env.fromElements(1, 2, 3, 4, 5, 6).uid("numbers")
 *   .keyBy((n) => n % 3, Serializers.i32).filter((n) => n % 2 === 0).uid("even")
 *   .addSink({ invoke() {} }, { uid: "sink" });
 * const client = env.executeAsync("evens");
 * const [job] = jobClientRuntime(client).jobs();
 * await client.done;
 * const even: VertexInfo = job!.vertices().find((v) => v.uid === "even")!;
 * assert.deepEqual(
 *   [even.name, even.parallelism, even.recordsIn, even.recordsOut],
 *   ["Filter", 2, 6, 3],
 * );
 * ```
 */
export interface VertexInfo {
  /** Operator uid. */
  readonly uid: string;
  /** Display name. */
  readonly name: string;
  /** Parallelism. */
  readonly parallelism: number;
  /** Records received (0 for sources). */
  readonly recordsIn: number;
  /** Records emitted. */
  readonly recordsOut: number;
  /** Fraction of recent time its busiest subtask waited on full output channels, 0..1. */
  readonly backpressureRatio: number;
  /** A source's reader counters (`SourceReader.counters`), summed over its subtasks. */
  readonly sourceCounters?: Readonly<Record<string, number>>;
  /** A split-reading source's splits and their positions, per subtask. */
  readonly splits?: readonly (SplitInfo & { subtask: number })[];
  /**
   * ms its subtasks' keyed state writes waited for the backend's background
   * work (LSM write stalls), summed; absent for operators without such state.
   */
  readonly stateWriteStallMs?: number;
  /** The operator's output watermark: the lowest over its subtasks (-Infinity before one). */
  readonly watermark?: number;
  /**
   * ms from the event timestamp of the newest record it emitted to now
   * (event-time latency at this operator; NaN before a timestamped record).
   */
  readonly eventTimeLagMs?: number;
  /**
   * ms record batches recently waited in the input channels of its task (the busiest
   * subtask's moving average; NaN for sources and before the first batch).
   */
  readonly inputLatencyMs?: number;
  /** User-defined metrics (`RuntimeContext.getMetricGroup`), per subtask that has any. */
  readonly userMetrics?: readonly {
    readonly subtaskIndex: number;
    readonly samples: readonly MetricSample[];
  }[];
  /** The edges into this operator: its producers and how records reach it. */
  readonly inputs?: readonly VertexInput[];
  /**
   * Per-subtask figures, in subtask order: every subtask, one that no thread has reported yet
   * (a running job's, its Web Worker still starting) `DEPLOYING`, with nothing counted.
   */
  readonly subtasks?: readonly SubtaskInfo[];
  /** A running job's: how many of its subtasks are in each state (absent offline). */
  readonly subtaskStates?: Readonly<Partial<Record<SubtaskState, number>>>;
}

/**
 * An edge into a vertex (Flink's plan node input).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type VertexInput } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ executor: "inline", parallelism: 2 });
 * env.fromElements(1, 2, 3, 4, 5, 6).uid("numbers")
 *   .keyBy((n) => n % 3, Serializers.i32).filter((n) => n % 2 === 0).uid("even")
 *   .addSink({ invoke() {} }, { uid: "sink" });
 * const client = env.executeAsync("evens");
 * const [job] = jobClientRuntime(client).jobs();
 * await client.done;
 * const inputs = (uid: string): readonly VertexInput[] | undefined =>
 *   job!.vertices().find((v) => v.uid === uid)!.inputs;
 * // keyBy hashes records to the filter; the sink, chained to it, is fed forward.
 * assert.deepEqual(inputs("even"), [{ uid: "numbers", partitioning: "HASH", input: 0 }]);
 * assert.deepEqual(inputs("sink"), [{ uid: "even", partitioning: "FORWARD", input: 0 }]);
 * ```
 */
export interface VertexInput {
  /** The producer's uid. */
  readonly uid: string;
  /**
   * How records are distributed, as Flink's ship strategies: `FORWARD`,
   * `HASH` (keyBy), `REBALANCE`, `BROADCAST`, `GLOBAL`.
   */
  readonly partitioning: string;
  /** Which input of a two-input operator (0 or 1). */
  readonly input: number;
  /** The producer's side output that flows along the edge, if only one does. */
  readonly sideOutput?: string;
}

/**
 * One subtask of a vertex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type SubtaskInfo } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ executor: "inline", parallelism: 2 });
 * env.fromElements(1, 2, 3, 4, 5, 6).uid("numbers")
 *   .keyBy((n) => n % 3, Serializers.i32).filter((n) => n % 2 === 0).uid("even")
 *   .addSink({ invoke() {} }, { uid: "sink" });
 * const client = env.executeAsync("evens");
 * const [job] = jobClientRuntime(client).jobs();
 * await client.done;
 * const subtasks: readonly SubtaskInfo[] = job!.vertices()[1]!.subtasks!;
 * // Key 0 (3, 6) is subtask 0's, keys 1 and 2 subtask 1's; each kept its even numbers.
 * assert.deepEqual(subtasks.map((s) => [s.index, s.task, s.recordsIn, s.recordsOut]), [
 *   [0, "Filter -> Sink (1/2)", 2, 1],
 *   [1, "Filter -> Sink (2/2)", 4, 2],
 * ]);
 * ```
 */
export interface SubtaskInfo {
  /** Subtask index. */
  readonly index: number;
  /** The task (operator chain subtask) it runs in, as checkpoint statistics name it. */
  readonly task?: string;
  /** Records received. */
  readonly recordsIn: number;
  /** Records emitted. */
  readonly recordsOut: number;
  /** Fraction of recent time its task waited on full output channels, 0..1. */
  readonly backpressureRatio: number;
  /** A running job's: its task's state, then how the attempt ended it (absent offline). */
  readonly state?: SubtaskState;
  /** When its task began to process (ms since epoch): Flink's RUNNING timestamp. */
  readonly runningTime?: number;
  /** A `FINISHED` subtask's: when its task finished (ms since epoch), Flink's task end time. */
  readonly endTime?: number;
  /**
   * A running job's: the thread that runs it, `main` or `weir-worker/<i>` (absent offline, and
   * before its thread reported it).
   */
  readonly thread?: string;
  /**
   * The watermark into its task (the least of its inputs'; ms of event time),
   * or undefined before the first one and for sources.
   */
  readonly inputWatermark?: number;
  /** Its output watermark (-Infinity before one); absent for sinks. */
  readonly watermark?: number;
}

/**
 * A checkpoint in flight.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { type InProgressCheckpoint, jobClientRuntime } from "@weir/weir/admin";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline", parallelism: 2 });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 })
 *   .keyBy((n) => n % 4, Serializers.i32).reduce((a, b) => a + b);
 * const client = env.executeAsync("sums");
 * const [job] = jobClientRuntime(client).jobs();
 * const done = job!.triggerCheckpoint();
 * // Triggered, no task has taken its barrier yet: 2 source and 2 reduce subtasks will ack.
 * const [c]: InProgressCheckpoint[] = job!.checkpoints().inProgress;
 * assert.deepEqual([c!.id, c!.isSavepoint, c!.tasks, c!.acknowledged], [1, false, 4, 0]);
 * await done;
 * assert.deepEqual(job!.checkpoints().inProgress, []);
 * client.cancel();
 * await client.done;
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface InProgressCheckpoint {
  /** Id. */
  readonly id: number;
  /** Savepoint or checkpoint. */
  readonly isSavepoint: boolean;
  /** Trigger time (ms since epoch). */
  readonly triggeredAt: number;
  /** Latest acknowledgement time, if any. */
  readonly latestAckAt: number | undefined;
  /** Tasks that acknowledge. */
  readonly tasks: number;
  /** Tasks that acknowledged. */
  readonly acknowledged: number;
}

/**
 * A segment file of the checkpoint directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type SegmentInfo } from "@weir/weir/admin";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline", parallelism: 2 });
 * let made = 0;
 * env.generate({ generate: (n) => (made++, n), ratePerSecond: 10_000 })
 *   .keyBy((n) => n % 100, Serializers.i32).reduce((a, b) => a + b);
 * const client = env.executeAsync("sums");
 * const [job] = jobClientRuntime(client).jobs();
 * while (made < 200) await new Promise((r) => setTimeout(r, 5)); // state on both subtasks
 * const { id } = await job!.triggerCheckpoint();
 * // Each reduce subtask wrote its state to a segment, which checkpoint 1 and the backend use.
 * const segments: SegmentInfo[] = job!.segments();
 * assert.equal(segments.length, 2);
 * for (const s of segments) assert.ok(s.size > 0 && s.live && s.checkpoints.join() === `${id}`);
 * client.cancel();
 * await client.done;
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface SegmentInfo {
  /** File name. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Retained checkpoints whose manifests reference it. */
  readonly checkpoints: readonly number[];
  /** Whether a running state backend uses it. */
  readonly live: boolean;
}

/**
 * Where a savepoint or checkpoint operation ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type OperationResult } from "@weir/weir/admin";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline", parallelism: 2 });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 })
 *   .keyBy((n) => n % 4, Serializers.i32).reduce((a, b) => a + b);
 * const client = env.executeAsync("sums");
 * const [job] = jobClientRuntime(client).jobs();
 * const r: OperationResult = await job!.triggerCheckpoint();
 * assert.deepEqual(r, { id: 1, location: `${dir}/chk-1` });
 * assert.ok(Deno.statSync(`${r.location}/_metadata`).isFile);
 * client.cancel();
 * await client.done;
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface OperationResult {
  /** The checkpoint id. */
  readonly id: number;
  /**
   * The folder written, absolute: a client polling from elsewhere cannot know the job's working
   * directory (Flink's location is a URI).
   */
  readonly location: string;
}

/**
 * What a state query found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type StateQueryOutcome } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ executor: "inline" });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 })
 *   .keyBy((n) => n % 4, Serializers.i32).reduce((first) => first).uid("first");
 * const client = env.executeAsync("first of each key");
 * const [job] = jobClientRuntime(client).jobs();
 * const query = (state: string, key: string): Promise<StateQueryOutcome> =>
 *   job!.queryState("first", state, key);
 * let found = await query("reduce", "3");
 * while (found.kind !== "found") { // until the job has seen key 3
 *   await new Promise((r) => setTimeout(r, 5));
 *   found = await query("reduce", "3");
 * }
 * assert.deepEqual(found, { kind: "found", value: 3, subtask: 0 });
 * assert.equal((await query("reduce", "4")).kind, "unknown-key"); // n % 4 is never 4
 * assert.equal((await query("count", "3")).kind, "unknown-state");
 * client.cancel();
 * await client.done;
 * ```
 */
export type StateQueryOutcome =
  | { readonly kind: "found"; readonly value: unknown; readonly subtask: number }
  | {
    readonly kind:
      | "unknown-operator"
      | "unknown-state"
      | "unknown-key"
      | "bad-key"
      | "not-running"
      | "unavailable"
      | "timeout";
    readonly message: string;
  };

/**
 * One job as the admin API sees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * import { type AdminJob, jobClientRuntime } from "@weir/weir/admin";
 * const env = StreamEnvironment.create();
 * env.fromElements(1, 2, 3).map((n: number) => n * 2);
 * const client = env.executeAsync("doubler");
 * const [job]: readonly AdminJob[] = jobClientRuntime(client).jobs();
 * assert.equal(job!.name, "doubler");
 * await client.done;
 * assert.equal(job!.status(), "FINISHED");
 * ```
 */
export interface AdminJob {
  /** 32 hex digits, new per job run (Flink's job id). */
  readonly id: string;
  /** Job name. */
  readonly name: string;
  /** Start time (ms since epoch). */
  readonly startTime: number;
  /** Status now. */
  status(): JobStatus;
  /** End time, once ended. */
  endTime(): number | undefined;
  /** Restarts so far. */
  restarts(): number;
  /**
   * When the current attempt started (after a restart, the new one's start) and, once it has
   * ended (failed, waiting to restart, or the job ended), when; absent when only the job's
   * times are known (its subtasks then show those).
   */
  attemptTimes?(): { readonly startTime: number; readonly endTime: number | undefined };
  /** Maximum parallelism (key groups). */
  maxParallelism(): number;
  /** Operators, sources first (from the job's latest view, `core/admin/job_view.ts`). */
  vertices(): readonly VertexInfo[];
  /**
   * Brings the figures `vertices()` returns up to date (asks the workers of
   * the worker executor for reports); absent when they always are.
   */
  refresh?(): Promise<void>;
  /** Checkpointing config, or undefined when checkpointing is off. */
  checkpointConfig(): CheckpointConfig | undefined;
  /** The history file's entries (all runs) and this run's checkpoints in flight. */
  checkpoints(): { history: readonly HistoryEntry[]; inProgress: InProgressCheckpoint[] };
  /** Segment files of the checkpoint directory (empty without checkpointing). */
  segments(): SegmentInfo[];
  /** Takes a checkpoint. */
  triggerCheckpoint(): Promise<OperationResult>;
  /** Takes a savepoint, copied to `targetDirectory` when given; `cancelJob` cancels the job after it. */
  triggerSavepoint(options: { targetDirectory?: string; cancelJob?: boolean }): Promise<
    OperationResult
  >;
  /** Stops the job with a savepoint; `drain` fires every window and timer first. */
  stopWithSavepoint(options: { targetDirectory?: string; drain?: boolean }): Promise<
    OperationResult
  >;
  /** Cancels the job. */
  cancel(): void;
  /** Reads `stateName` of operator `uid` for the key given as text. */
  queryState(uid: string, stateName: string, rawKey: string): Promise<StateQueryOutcome>;
  /**
   * Figures this job's source does not record (`weir ui` reads a checkpoint
   * directory: `records`, `backpressure`, `watermarks`, `edges`); they are
   * reported as 0 or absent, and the dashboard says they are not recorded.
   */
  notRecorded?(): readonly string[];
  /** The failures that restarted (or ended) the job, oldest first; none when absent. */
  exceptions?(): readonly JobException[];
  /** A running job's threads (Flink's TaskManagers); none when absent (an ended job). */
  threads?(): readonly ThreadInfo[];
  /**
   * An earlier attempt (one that failed, before a restart) by number, as it ended; undefined
   * for the current one and for one not kept (absent: none is kept).
   */
  priorAttempt?(attempt: number): PriorAttempt | undefined;
}

/**
 * An earlier execution attempt of a job's subtasks, one that failed and was restarted (Flink's
 * prior execution attempts, `…/subtasks/:subtaskindex/attempts/:attempt`): its subtasks as it
 * ended, the failed task's `FAILED`, the others `CANCELED` (or `FINISHED` if they had).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type PriorAttempt } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({
 *   executor: "inline", restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 0 }, log: () => {},
 * });
 * let failed = false;
 * env.fromElements(1, 2, 3).map((n) => {
 *   if (n === 2 && !failed) {
 *     failed = true;
 *     throw new Error("boom");
 *   }
 *   return n;
 * }).uid("flaky");
 * const client = env.executeAsync("flaky");
 * const [job] = jobClientRuntime(client).jobs();
 * await client.done; // attempt 1 finished
 * const first: PriorAttempt = job!.priorAttempt!(0)!;
 * const flaky = first.vertices.find((v) => v.uid === "flaky")!;
 * assert.deepEqual(flaky.subtasks!.map((s) => s.state), ["FAILED"]);
 * assert.ok(first.startTime <= first.endTime);
 * assert.equal(job!.priorAttempt!(1), undefined); // the current attempt
 * ```
 */
export interface PriorAttempt {
  /** When it started (ms since epoch). */
  readonly startTime: number;
  /** When it failed. */
  readonly endTime: number;
  /** Its operators, with their subtasks as it ended. */
  readonly vertices: readonly VertexInfo[];
}

/**
 * A thread that runs a job's subtasks: the main thread, or a Web Worker of the
 * worker executor (Flink's TaskManager). Each has a V8 heap of its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, type ThreadInfo } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ executor: "inline", parallelism: 2 });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).rebalance().map((n) => n + 1);
 * const client = env.executeAsync("on one thread");
 * const [job] = jobClientRuntime(client).jobs();
 * // The inline executor runs all 4 tasks (2 source, 2 map) on the main thread.
 * const threads: readonly ThreadInfo[] = job!.threads!();
 * assert.deepEqual(threads.map((t) => [t.id, t.tasks]), [["main", 4]]);
 * const { heapUsedBytes, heapTotalBytes } = threads[0]!;
 * assert.ok(heapUsedBytes > 0 && heapUsedBytes <= heapTotalBytes);
 * client.cancel();
 * await client.done;
 * assert.deepEqual(job!.threads!(), []); // an ended job runs none
 * ```
 */
export interface ThreadInfo {
  /** `main`, or the Web Worker's name (`weir-worker/<i>`). */
  readonly id: string;
  /** The tasks (operator chain subtasks) it runs. */
  readonly tasks: number;
  /** When it last reported (ms since epoch). */
  readonly reportedAt: number;
  /** Bytes its V8 heap holds. */
  readonly heapUsedBytes: number;
  /** Bytes its V8 heap has reserved. */
  readonly heapTotalBytes: number;
}

/**
 * A failure of a job attempt (Flink's exception history entry).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * import { type JobException, jobClientRuntime } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({
 *   executor: "inline", restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 0 }, log: () => {},
 * });
 * let failed = false;
 * env.fromElements(1, 2, 3).map((n) => {
 *   if (n === 2 && !failed) {
 *     failed = true;
 *     throw new Error("boom");
 *   }
 *   return n;
 * });
 * const client = env.executeAsync("flaky");
 * const [job] = jobClientRuntime(client).jobs();
 * await client.done; // the second attempt finished
 * const [e]: readonly JobException[] = job!.exceptions!();
 * assert.equal(e!.message, 'Job "flaky" failed in task Collection Source -> Map (1/1): boom');
 * assert.deepEqual([e!.taskName, e!.taskManagerId], ["Collection Source -> Map (1/1)", "main"]);
 * assert.equal(e!.errorName, "Error"); // what the map threw
 * assert.match(e!.stack!, /^Error: boom\n +at /);
 * ```
 */
export interface JobException {
  /** When the attempt failed (ms since epoch). */
  readonly timestamp: number;
  /** What failed: the task and the error message. */
  readonly message: string;
  /** The task that failed, when one did (not for a failure of the job as a whole). */
  readonly taskName?: string;
  /** The thread it failed on, as `GET /taskmanagers` names it (`main` or `weir-worker/<i>`). */
  readonly taskManagerId?: string;
  /** The checkpoint or savepoint folder the failed attempt had restored, if any. */
  readonly restoredFrom?: string;
  /** The name of the error the failure came from (`Error`, `TypeError`…), when it was one. */
  readonly errorName?: string;
  /** That error's stack trace, when known. */
  readonly stack?: string;
}

/**
 * The jobs an admin API serves.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AdminRuntime, createAdminApp } from "@weir/weir/admin";
 * // A runtime serving no jobs; `jobClientRuntime` adapts a running job.
 * const runtime: AdminRuntime = { jobs: () => [] };
 * const res = await createAdminApp(runtime).request("/jobs/overview");
 * assert.deepEqual(await res.json(), { jobs: [] });
 * ```
 */
export interface AdminRuntime {
  /** Every job, oldest first. */
  jobs(): readonly AdminJob[];
}

/** A new 32-hex id (Flink's job and trigger ids). */
export function newHexId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/**
 * Parses a queried key as the operator's key serializer reads keys: strings
 * as they are, numbers for `f64`/`i32`, and for the generic `key`/`json`
 * serializers JSON arrays and objects; the candidates are tried in order.
 * Throws a message for text the serializer cannot take.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers } from "@weir/weir";
 * import { parseQueryKey } from "./runtime.ts";
 * assert.deepEqual(parseQueryKey(Serializers.f64, "2.5"), [2.5]);
 * assert.deepEqual(parseQueryKey(Serializers.string, "42"), ["42"]);
 * ```
 */
export function parseQueryKey(serializer: Serializer<unknown>, raw: string): unknown[] {
  const id = serializer.id;
  const json = (): unknown => {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(`key "${raw}" is not JSON, which the "${id}" key serializer needs`);
    }
  };
  switch (id) {
    case "string":
      return [raw];
    case "f64":
    case "i32": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n) || (id === "i32" && !Number.isInteger(n))) {
        throw new Error(`key "${raw}" is not a number, which the "${id}" key serializer needs`);
      }
      return [n];
    }
    case "bigint":
      if (!/^-?\d+$/.test(raw)) throw new Error(`key "${raw}" is not an integer (bigint key)`);
      return [BigInt(raw)];
    case "boolean":
      if (raw !== "true" && raw !== "false") throw new Error(`key "${raw}" is not true or false`);
      return [raw === "true"];
    case "key":
    case "json": {
      // Text first (the common key); then the JSON reading if it differs (numbers, tuples).
      const out: unknown[] = [raw];
      try {
        const v = JSON.parse(raw);
        if (typeof v !== "string") out.push(v);
      } catch { /* plain text only */ }
      return out;
    }
    default:
      return [json()];
  }
}

/** A state query waits this long for its task to run it. */
const QUERY_TIMEOUT_MS = 5000;

/**
 * The {@linkcode AdminRuntime} of one job started with `executeAsync`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ log: () => {} });
 * env.fromElements(1, 2, 3).addSink({ invoke() {} });
 * const client = env.executeAsync("tiny");
 * const runtime = jobClientRuntime(client);
 * await client.done;
 * const [job] = runtime.jobs();
 * assert.equal(job!.name, "tiny");
 * assert.match(job!.id, /^[0-9a-f]{32}$/);
 * ```
 */
export function jobClientRuntime(client: JobClient, options: { id?: string } = {}): AdminRuntime {
  checkOptionNames("jobClientRuntime", options, { id: true });
  const job = new ClientJob(client, options.id ?? newHexId());
  return { jobs: () => [job] };
}

class ClientJob implements AdminJob {
  readonly id: string;
  readonly name: string;
  readonly startTime = Date.now();
  readonly #client: JobClient;
  #status: JobStatus = "RUNNING";
  #endTime: number | undefined;
  /** The task whose failure failed the job for good, if one did. */
  #failedTask: string | undefined;
  /** A view per job attempt: a restart starts its tasks' figures from 0. */
  readonly #views = new WeakMap<Job, JobViewBuilder>();
  #storage: CheckpointStorage | undefined;
  /** The checkpoint history, read again only where it grew (every request reads it). */
  #history: HistoryReader | undefined;

  constructor(client: JobClient, id: string) {
    this.#client = client;
    this.id = id;
    this.name = client.job.config.name;
    client.done.then(
      (r) => this.#end(r.cancelled ? "CANCELED" : "FINISHED"),
      (e) => {
        if (e instanceof JobFailedError) this.#failedTask = e.taskName;
        this.#end("FAILED");
      },
    );
  }

  #end(status: JobStatus): void {
    this.#status = status;
    this.#endTime = Date.now();
  }

  status(): JobStatus {
    return this.#status === "RUNNING" && this.#client.restarting ? "RESTARTING" : this.#status;
  }
  endTime(): number | undefined {
    return this.#endTime;
  }
  restarts(): number {
    return this.#client.restarts;
  }
  attemptTimes(): { startTime: number; endTime: number | undefined } {
    const status = this.status();
    const endTime = status === "RESTARTING"
      ? this.#client.failures.at(-1)?.at
      : status === "RUNNING"
      ? undefined
      : this.#endTime;
    // The first attempt starts with the job (its tasks are made as it is).
    const startTime = this.#client.restarts === 0 ? this.startTime : this.#client.job.createdAt;
    return { startTime, endTime };
  }
  exceptions(): JobException[] {
    return this.#client.failures.map((f) => ({
      timestamp: f.at,
      message: f.signature,
      ...(f.taskName !== undefined ? { taskName: f.taskName } : {}),
      ...(f.taskManagerId !== undefined ? { taskManagerId: f.taskManagerId } : {}),
      ...(f.restoredFrom !== undefined ? { restoredFrom: f.restoredFrom } : {}),
      ...(f.errorName !== undefined ? { errorName: f.errorName } : {}),
      ...(f.stack !== undefined ? { stack: f.stack } : {}),
    }));
  }
  maxParallelism(): number {
    return this.#client.job.config.maxParallelism;
  }

  priorAttempt(attempt: number): PriorAttempt | undefined {
    if (attempt >= this.#client.restarts) return undefined; // the current one, or none yet
    const a = this.#client.endedAttempts.find((x) => x.attempt === attempt);
    if (!a) return undefined;
    // Every attempt runs the same plan; its figures are those it ended with.
    const builder = new JobViewBuilder(viewVertices(this.#client.job.plan));
    const end: AttemptEnd = {
      state: "FAILED",
      ...(a.failedTask !== undefined ? { failedTask: a.failedTask } : {}),
    };
    return {
      // The first attempt starts with the job, as attemptTimes() has it.
      startTime: attempt === 0 ? this.startTime : a.startTime,
      endTime: a.endTime,
      vertices: builder.update(a.reports, a.endTime, end).vertices,
    };
  }

  threads(): ThreadInfo[] {
    if (this.status() !== "RUNNING") return []; // ended, or between attempts: none runs
    return this.#client.job.threadReports().map((t) => ({
      id: t.thread,
      tasks: t.tasks,
      reportedAt: t.at,
      heapUsedBytes: t.heapUsedBytes,
      heapTotalBytes: t.heapTotalBytes,
    }));
  }

  /** The job's current {@linkcode JobView}: this thread's subtasks read now, workers' reported. */
  view(): JobView {
    const job = this.#client.job;
    let builder = this.#views.get(job);
    if (!builder) this.#views.set(job, builder = new JobViewBuilder(viewVertices(job.plan)));
    return builder.update(job.subtaskReports(), Date.now(), this.#attemptEnd());
  }

  /** How the current attempt ended, if it has: between attempts, it failed. */
  #attemptEnd(): AttemptEnd | undefined {
    const status = this.status();
    if (status === "RUNNING") return undefined;
    if (status === "RESTARTING") {
      const failedTask = this.#client.failures.at(-1)?.taskName;
      return { state: "FAILED", ...(failedTask !== undefined ? { failedTask } : {}) };
    }
    if (status === "CANCELED") {
      // A cancel-with-savepoint stops the job first (its tasks finish), then ends it cancelled.
      return { state: status, ...(this.#client.job.stopping ? { stopped: true } : {}) };
    }
    if (status !== "FAILED") return { state: status };
    return {
      state: "FAILED",
      ...(this.#failedTask !== undefined ? { failedTask: this.#failedTask } : {}),
    };
  }

  refresh(): Promise<void> {
    return this.#status === "RUNNING" ? this.#client.job.refreshReports() : Promise.resolve();
  }

  vertices(): readonly VertexInfo[] {
    return this.view().vertices;
  }

  checkpointConfig(): CheckpointConfig | undefined {
    return this.#client.job.config.checkpoint?.config;
  }

  #checkpointStorage(): CheckpointStorage | undefined {
    const c = this.#client.job.config.checkpoint;
    if (!c) return undefined;
    return this.#storage ??= c.storage;
  }

  checkpoints(): { history: readonly HistoryEntry[]; inProgress: InProgressCheckpoint[] } {
    const storage = this.#checkpointStorage();
    if (!storage) return { history: [], inProgress: [] };
    this.#history ??= new HistoryReader(storage.paths.root);
    const history = this.#history.read();
    const inProgress = (this.#client.job.coordinator?.history ?? [])
      .filter((r) => r.status === "in_progress")
      .map((r) => ({
        id: r.id,
        isSavepoint: r.savepoint,
        triggeredAt: r.triggeredAt,
        latestAckAt: r.latestAckAt,
        tasks: r.tasks,
        acknowledged: r.acknowledged,
      }));
    return { history, inProgress };
  }

  segments(): SegmentInfo[] {
    const storage = this.#checkpointStorage();
    if (!storage) return [];
    const refs = new Map<string, number[]>();
    for (const id of storage.completedIds()) {
      try {
        for (const s of Object.keys(storage.loadCheckpoint(id).manifest.segments)) {
          refs.set(s, [...(refs.get(s) ?? []), id]);
        }
      } catch {
        // A checkpoint deleted by retention meanwhile references nothing any more.
      }
    }
    const live = new Set(this.view().liveSegments);
    return storage.sharedSegments().flatMap((name) => {
      const size = storage.fs.size(`${storage.paths.shared}/${name}`);
      if (size === undefined) return [];
      return [{ name, size, checkpoints: refs.get(name) ?? [], live: live.has(name) }];
    });
  }

  async triggerCheckpoint(): Promise<OperationResult> {
    const c = await this.#client.triggerCheckpoint();
    return { id: c.manifest.checkpointId, location: resolve(c.path) };
  }

  async triggerSavepoint(
    options: { targetDirectory?: string; cancelJob?: boolean },
  ): Promise<OperationResult> {
    if (!options.cancelJob) {
      // Written into the target directory only, as Flink writes it.
      const c = await this.#client.triggerSavepoint(undefined, options.targetDirectory);
      return { id: c.manifest.checkpointId, location: resolve(c.path) };
    }
    // Flink's cancel-with-savepoint, which ends the job CANCELED. Its savepoint is a stop's,
    // the job's recovery point (`--restore latest` finds it in DIR/savepoints, where it is
    // marked committed): it stays there, and is copied.
    const c = await this.#client.cancelWithSavepoint();
    return { id: c.manifest.checkpointId, location: copyTo(c.path, options.targetDirectory) };
  }

  async stopWithSavepoint(
    options: { targetDirectory?: string; drain?: boolean },
  ): Promise<OperationResult> {
    const c = await this.#client.stopWithSavepoint(undefined, { drain: options.drain ?? false });
    return { id: c.manifest.checkpointId, location: copyTo(c.path, options.targetDirectory) };
  }

  cancel(): void {
    this.#client.cancel();
  }

  async queryState(uid: string, stateName: string, rawKey: string): Promise<StateQueryOutcome> {
    const job = this.#client.job;
    const node = job.nodes.find((n) => uidOf(n) === uid);
    if (!node) {
      return { kind: "unknown-operator", message: `Job has no operator with uid "${uid}"` };
    }
    const ser = node.keySerializer;
    if (!ser) {
      return {
        kind: "unknown-state",
        message: `Operator "${uid}" is not keyed: it has no state "${stateName}" to query by key`,
      };
    }
    if (this.#status !== "RUNNING") {
      return { kind: "not-running", message: `Job ${this.id} is ${this.#status}: state is gone` };
    }
    let candidates: unknown[];
    try {
      // -0 and 0 are one key (state.md), as the job's routing and backends make them.
      candidates = parseQueryKey(ser, rawKey).map((k) => Object.is(k, -0) ? 0 : k);
    } catch (e) {
      return { kind: "bad-key", message: `Bad key for operator "${uid}": ${(e as Error).message}` };
    }
    const maxP = job.config.maxParallelism;
    const parallelism = job.parallelism.get(node.id)!;
    const w = new ByteWriter(64);
    for (const key of candidates) {
      w.reset();
      try {
        ser.write(key, w);
      } catch {
        continue;
      }
      // The subtask owning the key's key group answers, in this thread or on its worker.
      const subtaskIndex = subtaskForKeyGroup(keyGroupOf(w.buf, maxP, w.length), maxP, parallelism);
      const answer = await job.queryState(
        { uid, subtaskIndex, stateName, key },
        QUERY_TIMEOUT_MS,
      );
      switch (answer.kind) {
        case "found":
          return { kind: "found", value: answer.value, subtask: subtaskIndex };
        case "missing":
          continue;
        case "unknown-state":
          return { kind: "unknown-state", message: answer.message };
        case "ended":
          return { kind: "not-running", message: answer.message };
        case "timeout":
          return { kind: "timeout", message: answer.message };
        case "error":
          return { kind: "unavailable", message: answer.message };
      }
    }
    return {
      kind: "unknown-key",
      message: `State "${stateName}" of operator "${uid}" has no value for key "${rawKey}"`,
    };
  }
}

/** Copies a self-contained savepoint folder into `target` (Flink's target-directory). */
function copyTo(path: string, target: string | undefined): string {
  if (target === undefined) return resolve(path);
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dest = `${target.replace(/\/+$/, "")}/${name}`;
  const fs = new DenoCheckpointFs();
  fs.mkdirp(dest);
  // Segments first, the manifest last: a folder with `_metadata` is complete.
  const files = fs.list(path).sort((a, b) => (a === "_metadata" ? 1 : b === "_metadata" ? -1 : 0));
  for (const f of files) fs.copy(`${path}/${f}`, `${dest}/${f}`);
  return resolve(dest);
}
