/**
 * The admin API's picture of a running job: a {@linkcode JobView}, plain
 * data built from the physical plan and the {@linkcode SubtaskReport}s of the
 * threads that run the subtasks (this thread inline; each worker, at an
 * interval and on demand, with the worker executor). The routes read a view,
 * never operator instances, so they work the same on either executor.
 *
 * @module
 */
import type { PhysicalPlan } from "../runtime/physical_plan.ts";
import type { MetricSample } from "../runtime/metric_group.ts";
import { samplesOf, type SubtaskReport } from "../runtime/subtask_report.ts";
import type { SplitInfo } from "../connectors/source.ts";
import type { SubtaskInfo, SubtaskState, VertexInfo, VertexInput } from "./runtime.ts";

/**
 * How a job attempt ended, which its subtasks' states show as Flink's do: a failed attempt's
 * `failedTask` (the task its error came from, `A -> B (i/n)`) is `FAILED` and every other
 * subtask `CANCELED` (cancelled because of it); a cancelled job's subtasks are `CANCELED`, a
 * finished job's `FINISHED`. A subtask whose task had finished (its input ended) before the
 * attempt failed or was cancelled stays `FINISHED`, as a Flink task in a terminal state does.
 */
export interface AttemptEnd {
  /** The attempt's end. */
  readonly state: "FAILED" | "CANCELED" | "FINISHED";
  /** A failed attempt's failed task, when one failed (not for a failure of the job as a whole). */
  readonly failedTask?: string;
  /**
   * A cancel-with-savepoint ended it: its stop finished the tasks still running, which Flink's
   * cancel after the savepoint cancels, so none reads `FINISHED`.
   */
  readonly stopped?: boolean;
}

/**
 * A job's operators with their per-subtask figures at one instant.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import { type JobView, JobViewBuilder, viewVertices } from "./job_view.ts";
 * const env = StreamEnvironment.create({ executor: "inline", parallelism: 2 });
 * env.fromElements(1, 2, 3, 4, 5, 6).uid("numbers")
 *   .keyBy((n) => n % 3, Serializers.i32).filter((n) => n % 2 === 0).uid("even");
 * const client = env.executeAsync("evens");
 * await client.done;
 * // As the admin API sums a job's subtask reports per operator.
 * const view: JobView = new JobViewBuilder(viewVertices(client.job.plan))
 *   .update(client.job.subtaskReports());
 * assert.deepEqual(view.vertices.map((v) => [v.uid, v.recordsIn, v.recordsOut]), [
 *   ["numbers", 0, 6],
 *   ["even", 6, 3],
 * ]);
 * assert.deepEqual(view.liveSegments, []); // no checkpoint wrote a segment
 * ```
 */
export interface JobView {
  /** When the reports it sums were taken (ms since epoch). */
  readonly updatedAt: number;
  /** Operators in plan order (sources first), with per-subtask figures. */
  readonly vertices: readonly VertexInfo[];
  /** Segments of `shared/` the subtasks' keyed backends use. */
  readonly liveSegments: readonly string[];
}

/** What a view needs of an operator besides its subtasks' reports. */
export interface ViewVertex {
  /** Operator uid. */
  readonly uid: string;
  /** Display name. */
  readonly name: string;
  /** Whether it is a sink (a sink has no output watermark). */
  readonly sink: boolean;
  /** Parallelism. */
  readonly parallelism: number;
  /** Its input edges. */
  readonly inputs: readonly VertexInput[];
  /** The task each of its subtasks runs in (`A -> B (i/n)`), by subtask index. */
  readonly tasks?: readonly string[];
}

/**
 * The operators of `plan` as a view shows them: their edges' partitioning
 * named as Flink's ship strategies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * import { viewVertices } from "./job_view.ts";
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * env.fromElements("a", "b").uid("src").keyBy((s: string) => s).map((s: string) => s).uid("m");
 * const plan = env.getExecutionPlan();
 * assert.deepEqual(viewVertices(plan).map((v) => [v.uid, v.inputs.map((i) => i.partitioning)]), [
 *   ["src", []],
 *   ["m", ["HASH"]],
 * ]);
 * ```
 */
export function viewVertices(plan: PhysicalPlan): ViewVertex[] {
  const byId = new Map(plan.vertices.map((v) => [v.id, v]));
  return plan.vertices.map((v) => ({
    uid: v.uid,
    name: v.name,
    sink: v.kind === "sink",
    parallelism: v.parallelism,
    inputs: plan.edges.filter((e) => e.to === v.id).map((e) => ({
      uid: byId.get(e.from)!.uid,
      partitioning: e.partitioning.toUpperCase(),
      input: e.input,
      ...(e.sideOutput !== null ? { sideOutput: e.sideOutput } : {}),
    })),
    tasks: plan.tasks.filter((t) => t.chain === v.chain).sort((a, b) =>
      a.subtaskIndex - b.subtaskIndex
    ).map((t) => t.name),
  }));
}

/** Backpressure ratios are measured over windows of at least this many ms. */
export const BACKPRESSURE_WINDOW_MS = 1000;

interface BackpressureSample {
  at: number;
  busy: number;
  ratio: number;
}

/**
 * Builds {@linkcode JobView}s from reports. It keeps one thing between
 * updates: each task's backpressure time at the start of its current window,
 * so a ratio is the share of the last window (≥ {@linkcode BACKPRESSURE_WINDOW_MS})
 * a task waited on full output channels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JobViewBuilder } from "./job_view.ts";
 * const builder = new JobViewBuilder([
 *   { uid: "src", name: "Source", sink: false, parallelism: 1, inputs: [] },
 * ]);
 * const report = (backPressuredMs: number) => ({
 *   uid: "src", subtaskIndex: 0, at: backPressuredMs * 2, task: "Source (1/1)", state: "RUNNING" as const, thread: "main",
 *   recordsIn: 0, recordsOut: 10, backPressuredMs, watermark: 5, lastTimestamp: NaN, inputWatermark: -Infinity,
 *   inputLatencyMs: NaN, userMetrics: [], liveSegments: [],
 * });
 * builder.update([report(0)]);
 * const view = builder.update([report(500)]);
 * assert.equal(view.vertices[0]!.backpressureRatio, 0.5);
 * assert.equal(view.vertices[0]!.watermark, 5);
 * assert.deepEqual(view.vertices[0]!.subtaskStates, { RUNNING: 1 });
 * ```
 */
export class JobViewBuilder {
  readonly #vertices: readonly ViewVertex[];
  readonly #samples = new Map<string, BackpressureSample>();
  #view: JobView = { updatedAt: 0, vertices: [], liveSegments: [] };

  /** A builder for the operators `vertices` (see {@linkcode viewVertices}). */
  constructor(vertices: readonly ViewVertex[]) {
    this.#vertices = vertices;
    this.#view = { updatedAt: 0, vertices: this.#sum([], Date.now()), liveSegments: [] };
  }

  /** The latest view. */
  get view(): JobView {
    return this.#view;
  }

  /**
   * A new view from `reports` (every subtask's latest), at `now` (ms since
   * epoch; event-time lags are measured to it). Once the attempt has ended
   * (`end`), its subtasks read as Flink's tasks do then (see {@linkcode AttemptEnd}),
   * whatever their last reports said.
   */
  update(reports: readonly SubtaskReport[], now: number = Date.now(), end?: AttemptEnd): JobView {
    const live = new Set<string>();
    for (const r of reports) for (const s of r.liveSegments) live.add(s);
    const vertices = this.#sum(reports, now, end);
    this.#view = { updatedAt: now, vertices, liveSegments: [...live] };
    return this.#view;
  }

  #backpressure(task: string, busy: number, now: number): number {
    const s = this.#samples.get(task);
    // No sample yet, or the task restarted (its time counts from 0 again).
    if (!s || busy < s.busy) {
      this.#samples.set(task, { at: now, busy, ratio: 0 });
      return 0;
    }
    if (now - s.at >= BACKPRESSURE_WINDOW_MS) {
      s.ratio = Math.min(1, Math.max(0, (busy - s.busy) / (now - s.at)));
      s.at = now;
      s.busy = busy;
    }
    return s.ratio;
  }

  #sum(reports: readonly SubtaskReport[], now: number, end?: AttemptEnd): VertexInfo[] {
    const byUid = new Map<string, SubtaskReport[]>();
    for (const r of reports) byUid.set(r.uid, [...(byUid.get(r.uid) ?? []), r]);
    // A task's ratio once per update, whichever of its operators asks.
    const ratios = new Map<string, number>();
    const ratioOf = (r: SubtaskReport) => {
      let ratio = ratios.get(r.task);
      if (ratio === undefined) {
        ratio = this.#backpressure(r.task, r.backPressuredMs, r.at);
        ratios.set(r.task, ratio);
      }
      return ratio;
    };
    // An ended attempt's subtask: its task's last report may be older (a worker's). One that
    // reported FINISHED had finished before the attempt ended (a task a cancel or failure stops
    // reports CANCELED or FAILED), and stays so, as Flink's.
    const endState = (
      task: string | undefined,
      reported?: SubtaskState,
    ): SubtaskState | undefined =>
      !end
        ? undefined
        : end.state === "FINISHED"
        ? "FINISHED"
        : end.state === "FAILED" && task !== undefined && task === end.failedTask
        ? "FAILED"
        : reported === "FINISHED" && !end.stopped
        ? "FINISHED"
        : "CANCELED";
    return this.#vertices.map((v) => {
      const subtasks = (byUid.get(v.uid) ?? []).sort((a, b) => a.subtaskIndex - b.subtaskIndex);
      let recordsIn = 0, recordsOut = 0, ratio = 0;
      let watermark = subtasks.length > 0 ? Infinity : -Infinity;
      let newest = NaN, inputLatency = NaN;
      let sourceCounters: Record<string, number> | undefined;
      let stallMs: number | undefined;
      const splits: (SplitInfo & { subtask: number })[] = [];
      const userMetrics: { subtaskIndex: number; samples: readonly MetricSample[] }[] = [];
      const perSubtask: SubtaskInfo[] = [];
      for (const r of subtasks) {
        const pressure = ratioOf(r);
        recordsIn += r.recordsIn;
        recordsOut += r.recordsOut;
        ratio = Math.max(ratio, pressure);
        watermark = Math.min(watermark, r.watermark);
        if (!Number.isNaN(r.lastTimestamp) && !(newest >= r.lastTimestamp)) {
          newest = r.lastTimestamp;
        }
        if (!Number.isNaN(r.inputLatencyMs) && !(inputLatency >= r.inputLatencyMs)) {
          inputLatency = r.inputLatencyMs;
        }
        for (const [name, n] of Object.entries(r.sourceCounters ?? {})) {
          sourceCounters ??= {};
          sourceCounters[name] = (sourceCounters[name] ?? 0) + n;
        }
        for (const s of r.splits ?? []) splits.push({ ...s, subtask: r.subtaskIndex });
        if (r.writeStallMs !== undefined) stallMs = (stallMs ?? 0) + r.writeStallMs;
        if (r.userMetrics.length > 0) {
          userMetrics.push({ subtaskIndex: r.subtaskIndex, samples: samplesOf(r.userMetrics) });
        }
        const state = endState(r.task, r.state) ?? r.state;
        perSubtask.push({
          index: r.subtaskIndex,
          task: r.task,
          recordsIn: r.recordsIn,
          recordsOut: r.recordsOut,
          backpressureRatio: pressure,
          state,
          // Its own end, where its input ended before the attempt did (Flink's task end time).
          ...(state === "FINISHED" && r.endedAt !== undefined ? { endTime: r.endedAt } : {}),
          ...(r.runningAt !== undefined ? { runningTime: r.runningAt } : {}),
          thread: r.thread,
          ...(r.inputWatermark > -Infinity ? { inputWatermark: r.inputWatermark } : {}),
          ...(v.sink ? {} : { watermark: r.watermark }),
        });
      }
      // Every subtask is listed, as Flink lists a vertex's: one no thread reports yet is still
      // being made (its Web Worker starts), with nothing counted.
      const reported = new Set(perSubtask.map((s) => s.index));
      for (let i = 0; i < v.parallelism; i++) {
        if (reported.has(i)) continue;
        const task = v.tasks?.[i];
        perSubtask.push({
          index: i,
          ...(task !== undefined ? { task } : {}),
          recordsIn: 0,
          recordsOut: 0,
          backpressureRatio: 0,
          state: endState(task) ?? "DEPLOYING",
          ...(v.sink ? {} : { watermark: -Infinity }),
        });
      }
      perSubtask.sort((a, b) => a.index - b.index);
      const subtaskStates: Partial<Record<SubtaskState, number>> = {};
      for (const { state: s } of perSubtask) subtaskStates[s!] = (subtaskStates[s!] ?? 0) + 1;
      return {
        uid: v.uid,
        name: v.name,
        parallelism: v.parallelism,
        subtaskStates,
        recordsIn,
        recordsOut,
        backpressureRatio: ratio,
        ...(sourceCounters ? { sourceCounters } : {}),
        ...(splits.length > 0 ? { splits } : {}),
        ...(stallMs === undefined ? {} : { stateWriteStallMs: stallMs }),
        // A sink emits no watermark: it has no output watermark to show.
        ...(v.sink ? {} : { watermark }),
        eventTimeLagMs: now - newest,
        inputLatencyMs: inputLatency,
        ...(userMetrics.length > 0 ? { userMetrics } : {}),
        inputs: v.inputs,
        subtasks: perSubtask,
      };
    });
  }
}
