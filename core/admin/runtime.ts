/**
 * What the admin API needs from the running job(s): {@linkcode AdminRuntime},
 * a small interface the routes read and act through, and
 * {@linkcode jobClientRuntime}, its implementation over a {@linkcode JobClient}.
 * Tests give the routes a fake or a real runtime.
 *
 * @module
 */
import { resolve } from "node:path";
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
import { type JobView, JobViewBuilder, viewVertices } from "./job_view.ts";

/**
 * A job's status, as Flink names it: `RESTARTING` between a failed attempt
 * and the next one (the restart strategy's delay).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { JobStatus } from "@weir/weir/admin";
 * const ended = (s: JobStatus) => s === "FINISHED" || s === "FAILED" || s === "CANCELED";
 * assert.equal(ended("FINISHED"), true);
 * assert.equal(ended("RESTARTING"), false);
 * ```
 */
export type JobStatus = "RUNNING" | "RESTARTING" | "FINISHED" | "FAILED" | "CANCELED";

/**
 * A running job's subtask, by Flink's names for task states: `DEPLOYING`
 * until its worker has made it (the Web Worker still starts), then its
 * task's state (see {@linkcode TaskState}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SubtaskState } from "@weir/weir/admin";
 * const processing = (s: SubtaskState) => s === "RUNNING";
 * assert.equal(processing("INITIALIZING"), false);
 * ```
 */
export type SubtaskState = "DEPLOYING" | TaskState;

/**
 * One operator of a job (a Flink job vertex), summed over its subtasks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { VertexInfo } from "@weir/weir/admin";
 * const v: VertexInfo = {
 *   uid: "counter", name: "Counter", parallelism: 2, recordsIn: 10, recordsOut: 10,
 *   backpressureRatio: 0,
 * };
 * assert.equal(v.recordsIn - v.recordsOut, 0);
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
  /** Per-subtask figures, in subtask order. */
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
 * import type { VertexInput } from "@weir/weir/admin";
 * const edge: VertexInput = { uid: "source", partitioning: "HASH", input: 0 };
 * assert.equal(edge.partitioning, "HASH");
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
 * import type { SubtaskInfo } from "@weir/weir/admin";
 * const s: SubtaskInfo = { index: 0, recordsIn: 5, recordsOut: 5, backpressureRatio: 0 };
 * assert.equal(s.index, 0);
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
  /** A running job's: its task's state (absent offline). */
  readonly state?: TaskState;
  /** A running job's: the thread that runs it, `main` or `weir-worker/<i>` (absent offline). */
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
 * import type { InProgressCheckpoint } from "@weir/weir/admin";
 * const c: InProgressCheckpoint = {
 *   id: 4, isSavepoint: false, triggeredAt: 1000, latestAckAt: undefined, tasks: 3, acknowledged: 1,
 * };
 * assert.equal(c.tasks - c.acknowledged, 2);
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
 * import type { SegmentInfo } from "@weir/weir/admin";
 * const s: SegmentInfo = { name: "0001.seg", size: 4096, checkpoints: [3, 4], live: true };
 * assert.ok(s.live && s.checkpoints.includes(4));
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
 * import type { OperationResult } from "@weir/weir/admin";
 * const r: OperationResult = { id: 7, location: "/tmp/ckpt/chk-7" };
 * assert.ok(r.location.endsWith(`chk-${r.id}`));
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
 * import type { StateQueryOutcome } from "@weir/weir/admin";
 * const describe = (o: StateQueryOutcome) =>
 *   o.kind === "found" ? `subtask ${o.subtask}: ${o.value}` : `${o.kind}: ${o.message}`;
 * assert.equal(describe({ kind: "found", value: 3, subtask: 0 }), "subtask 0: 3");
 * assert.equal(describe({ kind: "unknown-key", message: "no such key" }), "unknown-key: no such key");
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
}

/**
 * A thread that runs a job's subtasks: the main thread, or a Web Worker of the
 * worker executor (Flink's TaskManager). Each has a V8 heap of its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ThreadInfo } from "@weir/weir/admin";
 * const t: ThreadInfo = {
 *   id: "weir-worker/1", tasks: 3, reportedAt: 1000, heapUsedBytes: 5e6, heapTotalBytes: 8e6,
 * };
 * assert.ok(t.heapUsedBytes <= t.heapTotalBytes);
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
 * import type { JobException } from "@weir/weir/admin";
 * const e: JobException = { timestamp: 1000, message: "task map (1/2): boom" };
 * assert.ok(e.message.includes("boom"));
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
      () => this.#end("FAILED"),
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
  exceptions(): JobException[] {
    return this.#client.failures.map((f) => ({
      timestamp: f.at,
      message: f.signature,
      ...(f.taskName !== undefined ? { taskName: f.taskName } : {}),
      ...(f.taskManagerId !== undefined ? { taskManagerId: f.taskManagerId } : {}),
      ...(f.restoredFrom !== undefined ? { restoredFrom: f.restoredFrom } : {}),
    }));
  }
  maxParallelism(): number {
    return this.#client.job.config.maxParallelism;
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
    return builder.update(job.subtaskReports());
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
