/**
 * What a thread that runs subtasks tells the admin API about them, as plain
 * data: {@linkcode SubtaskReport}s (counters, backpressure time, watermarks,
 * user metrics, source splits) and answers to state queries. The main thread
 * reads its own subtasks this way (inline executor); each worker of the
 * worker executor sends the same reports up as messages.
 *
 * @module
 */
import { isSplitReader, type SplitInfo } from "../connectors/source.ts";
import type { OperatorFigures } from "../checkpoint/history.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import type { PhysicalPlan } from "./physical_plan.ts";
import { uidOf } from "./graph.ts";
import type { Job, PlacedOperator } from "./job.ts";
import type { MetricSample } from "./metric_group.ts";
import { SourceOperator, type Task, type TaskState } from "./task.ts";

/**
 * One operator subtask's figures at one instant (structured-cloneable).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import type { SubtaskReport } from "./subtask_report.ts";
 * const env = StreamEnvironment.create({ executor: "inline", parallelism: 2 });
 * env.fromElements(1, 2, 3, 4, 5, 6).uid("numbers")
 *   .keyBy((n) => n % 3, Serializers.i32).filter((n) => n % 2 === 0).uid("even");
 * const client = env.executeAsync("evens");
 * await client.done;
 * const reports: SubtaskReport[] = client.job.subtaskReports();
 * assert.deepEqual(reports.map((r) => [r.uid, r.subtaskIndex, r.state, r.recordsIn, r.recordsOut]), [
 *   ["numbers", 0, "FINISHED", 0, 6],
 *   ["even", 0, "FINISHED", 2, 1], // key 0 (3, 6)
 *   ["even", 1, "FINISHED", 4, 2], // keys 1 and 2
 * ]);
 * // Plain data: a worker posts its reports to the main thread as they are.
 * assert.deepEqual(structuredClone(reports), reports);
 * ```
 */
export interface SubtaskReport {
  /** Operator uid. */
  readonly uid: string;
  /** Subtask index. */
  readonly subtaskIndex: number;
  /** When it was taken (ms since epoch; the same clock in every worker). */
  readonly at: number;
  /** The task (operator chain subtask) it runs in, as checkpoint statistics name it. */
  readonly task: string;
  /** Its task's state. */
  readonly state: TaskState;
  /** When its task began to process (ms since epoch), once it has. */
  readonly runningAt?: number;
  /** When its task ended (ms since epoch), once it has. */
  readonly endedAt?: number;
  /** The thread that runs it: `main`, or the Web Worker's name (`weir-worker/<i>`). */
  readonly thread: string;
  /** Records received (a chain head: its task's records in). */
  readonly recordsIn: number;
  /** Records emitted. */
  readonly recordsOut: number;
  /** ms its task has waited on full output channels since it started (grows). */
  readonly backPressuredMs: number;
  /** The operator's output watermark (-Infinity before one). */
  readonly watermark: number;
  /** Event timestamp of the newest record it emitted (NaN before one). */
  readonly lastTimestamp: number;
  /** The watermark into its task (-Infinity before one and for sources). */
  readonly inputWatermark: number;
  /** Moving average of ms batches waited in its task's input channels (NaN before one). */
  readonly inputLatencyMs: number;
  /** User-defined metrics, as data (see {@linkcode reportedMetrics}). */
  readonly userMetrics: readonly ReportedMetric[];
  /** A source's reader counters. */
  readonly sourceCounters?: Readonly<Record<string, number>>;
  /** A split-reading source's splits. */
  readonly splits?: readonly SplitInfo[];
  /** ms its keyed state writes waited for the backend (LSM write stalls). */
  readonly writeStallMs?: number;
  /** Segments of `shared/` its keyed backend uses. */
  readonly liveSegments: readonly string[];
}

/** The quantiles a report keeps of each histogram. */
export const REPORTED_QUANTILES: readonly number[] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

/** A user metric as data: a histogram keeps {@linkcode REPORTED_QUANTILES}, in order. */
export type ReportedMetric =
  | Exclude<MetricSample, { kind: "histogram" }>
  | {
    readonly kind: "histogram";
    readonly name: string;
    readonly count: number;
    readonly sum: number;
    readonly quantiles: readonly number[];
  };

/**
 * `samples` as data a message can carry (a histogram's `quantile` is a function).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MetricGroup } from "@weir/weir";
 * import { reportedMetrics, samplesOf } from "./subtask_report.ts";
 * const g = new MetricGroup();
 * const h = g.histogram("size");
 * for (let i = 1; i <= 100; i++) h.update(i);
 * const [back] = samplesOf(structuredClone(reportedMetrics(g.samples())));
 * assert.ok(back?.kind === "histogram");
 * assert.equal(back.value.count, 100);
 * assert.equal(back.value.quantile(0.9), 90);
 * ```
 */
export function reportedMetrics(samples: readonly MetricSample[]): ReportedMetric[] {
  return samples.map((s) =>
    s.kind === "histogram"
      ? {
        kind: "histogram",
        name: s.name,
        count: s.value.count,
        sum: s.value.sum,
        quantiles: REPORTED_QUANTILES.map((q) => s.value.quantile(q)),
      }
      : s
  );
}

/**
 * Reported metrics as samples again; a histogram answers a quantile with the
 * nearest reported one at or above it.
 */
export function samplesOf(reported: readonly ReportedMetric[]): MetricSample[] {
  return reported.map((r) => {
    if (r.kind !== "histogram") return r;
    const { count, sum, quantiles } = r;
    const quantile = (q: number) => {
      const i = REPORTED_QUANTILES.findIndex((x) => x >= q);
      return quantiles[i === -1 ? quantiles.length - 1 : i] ?? NaN;
    };
    return { kind: "histogram", name: r.name, value: { count, sum, quantile } };
  });
}

/**
 * What a subtask answered to a state query by key: the value, no value, or
 * why it could not answer.
 */
export type SubtaskStateAnswer =
  | { readonly kind: "found"; readonly value: unknown }
  | { readonly kind: "missing" }
  | { readonly kind: "unknown-state" | "ended" | "timeout" | "error"; readonly message: string };

/**
 * Every operator's figures summed from `reports`, with its input edges from
 * `plan` (what a completed checkpoint's history entry keeps).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * import { operatorFigures } from "./subtask_report.ts";
 * const env = StreamEnvironment.create({ parallelism: 1 });
 * env.fromElements(1).uid("src").map((n: number) => n).uid("m");
 * const [src, m] = operatorFigures(env.getExecutionPlan(), []);
 * assert.deepEqual(src, { uid: "src", records_in: 0, records_out: 0, watermark: null, inputs: [] });
 * assert.equal(m!.inputs[0]!.partitioning, "FORWARD");
 * ```
 */
export function operatorFigures(
  plan: PhysicalPlan,
  reports: readonly SubtaskReport[],
): OperatorFigures[] {
  const byId = new Map(plan.vertices.map((v) => [v.id, v]));
  return plan.vertices.map((v) => {
    const mine = reports.filter((r) => r.uid === v.uid);
    const low = Math.min(...mine.map((r) => r.watermark));
    return {
      uid: v.uid,
      records_in: mine.reduce((n, r) => n + r.recordsIn, 0),
      records_out: mine.reduce((n, r) => n + r.recordsOut, 0),
      watermark: v.kind !== "sink" && Number.isFinite(low) ? low : null,
      inputs: plan.edges.filter((e) => e.to === v.id).map((e) => ({
        uid: byId.get(e.from)!.uid,
        partitioning: e.partitioning.toUpperCase(),
        input: e.input,
      })),
    };
  });
}

/** The task each operator subtask of `job` runs in (this thread's only). */
function tasksOf(job: Job): Map<PlacedOperator["operator"], Task> {
  const m = new Map<PlacedOperator["operator"], Task>();
  for (const t of job.tasks) for (const op of t.operators) m.set(op, t);
  return m;
}

/** This thread, as reports name it: `main`, or the Web Worker's name. */
export const THREAD: string = "WorkerGlobalScope" in globalThis
  ? (globalThis as { name?: string }).name || "worker"
  : "main";

/**
 * One thread's figures at one instant: its V8 heap (each Web Worker has its
 * own isolate, so its own heap and heap limit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportThread } from "./subtask_report.ts";
 * const r = reportThread(undefined);
 * assert.equal(r.thread, "main");
 * assert.equal(r.tasks, 0);
 * assert.ok(r.heapUsedBytes > 0 && r.heapUsedBytes <= r.heapTotalBytes);
 * ```
 */
export interface ThreadReport {
  /** `main`, or the Web Worker's name (`weir-worker/<i>`). */
  readonly thread: string;
  /** When it was taken (ms since epoch). */
  readonly at: number;
  /** The tasks (operator chain subtasks) it runs for the job. */
  readonly tasks: number;
  /** Bytes its V8 heap holds. */
  readonly heapUsedBytes: number;
  /** Bytes its V8 heap has reserved. */
  readonly heapTotalBytes: number;
}

/** This thread's figures now, running `job`'s tasks here (none before it is built). */
export function reportThread(job: Job | undefined): ThreadReport {
  const m = Deno.memoryUsage();
  return {
    thread: THREAD,
    at: Date.now(),
    tasks: job?.tasks.length ?? 0,
    heapUsedBytes: m.heapUsed,
    heapTotalBytes: m.heapTotal,
  };
}

/** Reports every operator subtask this thread runs for `job`. */
export function reportSubtasks(job: Job): SubtaskReport[] {
  const tasks = tasksOf(job);
  const at = Date.now();
  return job.placed.map((p) => {
    const t = tasks.get(p.operator)!;
    const reader = p.operator instanceof SourceOperator ? p.operator.reader : undefined;
    const counters = reader?.counters?.();
    const splits = reader && isSplitReader(reader) && reader.splitInfo
      ? reader.splitInfo()
      : undefined;
    const keyed = p.keyed as (KeyedStateBackend & { liveSegments?(): string[] }) | undefined;
    const stalled = keyed?.writeStallMs?.();
    return {
      uid: uidOf(p.node),
      subtaskIndex: p.subtaskIndex,
      at,
      task: t.name,
      state: t.state,
      ...(t.runningAt !== undefined ? { runningAt: t.runningAt } : {}),
      ...(t.endedAt !== undefined ? { endedAt: t.endedAt } : {}),
      thread: THREAD,
      recordsIn: t.operators[0] === p.operator ? t.metrics.recordsIn : p.counters.recordsIn,
      recordsOut: p.counters.recordsOut,
      backPressuredMs: t.backPressuredMs,
      watermark: p.counters.watermark,
      lastTimestamp: p.counters.lastTimestamp,
      inputWatermark: t.metrics.inputWatermark,
      inputLatencyMs: t.metrics.inputLatencyMs,
      userMetrics: reportedMetrics(p.metricGroup.samples()),
      ...(counters ? { sourceCounters: { ...counters } } : {}),
      ...(splits ? { splits: splits.map((s) => ({ ...s })) } : {}),
      ...(stalled !== undefined ? { writeStallMs: stalled } : {}),
      liveSegments: keyed?.liveSegments?.() ?? [],
    };
  });
}

/**
 * Reads `stateName` of subtask `subtaskIndex` of operator `uid` for `key`, as
 * a mail of its task (state is never read while the task processes), within
 * `timeoutMs`.
 */
export function querySubtaskState(
  job: Job,
  query: {
    readonly uid: string;
    readonly subtaskIndex: number;
    readonly stateName: string;
    readonly key: unknown;
  },
  timeoutMs: number,
): Promise<SubtaskStateAnswer> {
  const p = job.placed.find((x) =>
    uidOf(x.node) === query.uid && x.subtaskIndex === query.subtaskIndex
  );
  const where = `subtask ${query.subtaskIndex} of operator "${query.uid}"`;
  if (!p) {
    return Promise.resolve({ kind: "error", message: `This thread does not run ${where}` });
  }
  const keyed = p.keyed;
  if (!keyed?.queryState || !keyed.stateNames().includes(query.stateName)) {
    return Promise.resolve({
      kind: "unknown-state",
      message: `Operator "${query.uid}" has no state named "${query.stateName}"`,
    });
  }
  const task = tasksOf(job).get(p.operator)!;
  if (task.ended) {
    return Promise.resolve({
      kind: "ended",
      message: `Task ${task.name} has ended: state is gone`,
    });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(
      () =>
        resolve({ kind: "timeout", message: `Task ${task.name} did not answer the query in time` }),
      timeoutMs,
    );
    task.postMail(() => {
      clearTimeout(timer);
      try {
        const r = keyed.queryState!(query.stateName, query.key);
        resolve(r.found ? { kind: "found", value: r.value } : { kind: "missing" });
      } catch (e) {
        resolve({ kind: "error", message: `${where}: ${(e as Error).message}` });
      }
    });
  });
}
