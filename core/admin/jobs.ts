/**
 * Job resources: `GET /jobs`, `GET /jobs/overview`, `GET /jobs/:jobid` (Flink's status
 * `timestamps`, and vertices: uid, name, parallelism, records in/out, backpressure ratio,
 * output watermark and event-time lag and input latency in ms, null when not finite),
 * `GET /jobs/:jobid/vertices/:vertexid` (every subtask's state, records and backpressure),
 * `GET /jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex` (one of them, Flink's current
 * attempt details; `.../attempts/:attempt` by attempt number, also an earlier attempt's),
 * `GET /jobs/:jobid/vertices/:vertexid/backpressure` (per subtask),
 * `GET /jobs/:jobid/vertices/:vertexid/watermarks` (Flink's per-subtask
 * `currentInputWatermark`, and weir's `currentOutputWatermark`), and
 * `GET /jobs/:jobid/exceptions` (the restart history; Flink's `maxExceptions` limits it),
 * `GET /jobs/:jobid/status`, `GET /jobs/:jobid/vertices/:vertexid/subtasktimes` and
 * `…/taskmanagers` (Flink's), `GET /jobs/:jobid/accumulators` and
 * `GET /jobs/:jobid/vertices/:vertexid/accumulators` (Flink's shape, empty: weir has none), and
 * `PATCH /jobs/:jobid?mode=cancel` (also of a job RESTARTING, as in Flink).
 *
 * @module
 */
import { type Context, Hono } from "./_hono.ts";
import { murmur3 } from "../state/key_group.ts";
import { checkHexId, fail, jobParam } from "./http.ts";
import { ATTEMPTS_KEPT } from "../runtime/job_runner.ts";
import type {
  AdminJob,
  AdminRuntime,
  JobException,
  PriorAttempt,
  SubtaskInfo,
  VertexInfo,
} from "./runtime.ts";

/**
 * A vertex's 32-hex id, derived from its uid (stable across runs, as
 * Flink's vertex ids are for a job with the same uids).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vertexId } from "./jobs.ts";
 * assert.match(vertexId("count"), /^[0-9a-f]{32}$/);
 * assert.equal(vertexId("count"), vertexId("count"));
 * ```
 */
export function vertexId(uid: string): string {
  const bytes = new TextEncoder().encode(uid);
  return [1, 2, 3, 4].map((seed) =>
    murmur3(bytes, bytes.length, seed).toString(16).padStart(8, "0")
  )
    .join("");
}

/** Flink's back-pressure level for a ratio. */
export function backpressureLevel(ratio: number): "ok" | "low" | "high" {
  return ratio <= 0.1 ? "ok" : ratio <= 0.5 ? "low" : "high";
}

/**
 * The state of every subtask of a job whose figures have no subtask states (`weir ui`'s, read
 * from a checkpoint directory): the job's, but `CANCELED` between attempts (`RESTARTING` is a job
 * status, no task's).
 */
function notRunningSubtaskState(status: string): string {
  return status === "RESTARTING" ? "CANCELED" : status;
}

/**
 * A vertex's status: its subtasks' states aggregated as Flink's
 * `ExecutionJobVertex.getAggregateJobVertexState` does (any `FAILED`, then any
 * `CANCELED`, `INITIALIZING`, `RUNNING`; `FINISHED` once all are; else `CREATED`, also
 * while its subtasks are `DEPLOYING`).
 */
function vertexStatus(job: AdminJob, v: VertexInfo): string {
  const status = job.status();
  const states = v.subtaskStates;
  if (!states) return status === "RUNNING" ? status : notRunningSubtaskState(status);
  for (const s of ["FAILED", "CANCELED", "INITIALIZING", "RUNNING"] as const) {
    if (states[s]) return s;
  }
  if (states.FINISHED) return states.FINISHED === v.parallelism ? "FINISHED" : "RUNNING";
  // As Flink's: a vertex none of whose subtasks has begun to initialize is CREATED.
  return "CREATED";
}

/**
 * Flink's `ExecutionState`s, in its order: every count by state (a job's and a vertex's `tasks`,
 * `status-counts`) has each, 0 when none is in it, as Flink's REST API gives them.
 */
const EXECUTION_STATES = [
  "CREATED",
  "SCHEDULED",
  "DEPLOYING",
  "RUNNING",
  "FINISHED",
  "CANCELING",
  "CANCELED",
  "FAILED",
  "RECONCILING",
  "INITIALIZING",
] as const;

/** A count for every execution state, all 0. */
function zeroCounts(): Record<string, number> {
  return Object.fromEntries(EXECUTION_STATES.map((s) => [s, 0]));
}

/** A vertex's subtasks per state (Flink's vertex `tasks`). */
function vertexTaskCounts(job: AdminJob, v: VertexInfo): Record<string, number> {
  const counts = zeroCounts();
  if (v.subtaskStates) {
    for (const [s, n] of Object.entries(v.subtaskStates)) counts[s]! += n;
  } else {
    const status = job.status();
    counts[status === "RUNNING" ? status : notRunningSubtaskState(status)]! += v.parallelism;
  }
  return counts;
}

/** Subtasks per state, as Flink's job overview counts them (lower-case states). */
function taskCounts(job: AdminJob, vertices: readonly VertexInfo[]): Record<string, number> {
  const total = vertices.reduce((n, v) => n + v.parallelism, 0);
  const counts: Record<string, number> = { total };
  for (const s of EXECUTION_STATES) counts[s.toLowerCase()] = 0;
  for (const v of vertices) {
    for (const [s, n] of Object.entries(vertexTaskCounts(job, v))) counts[s.toLowerCase()]! += n;
  }
  return counts;
}

/** Vertices per status (Flink's `status-counts`). */
function statusCounts(job: AdminJob, vertices: readonly VertexInfo[]): Record<string, number> {
  const counts = zeroCounts();
  for (const v of vertices) counts[vertexStatus(job, v)]! += 1;
  return counts;
}

/** Flink's `JobStatus`es, in its order: a job's `timestamps` has each. */
const JOB_STATUSES = [
  "INITIALIZING",
  "CREATED",
  "RUNNING",
  "FAILING",
  "FAILED",
  "CANCELLING",
  "CANCELED",
  "FINISHED",
  "RESTARTING",
  "SUSPENDED",
  "RECONCILING",
] as const;

/**
 * Flink's job `timestamps`: when the job last entered each status (ms since epoch), 0 for one it
 * has not (Flink's REST client requires the field). weir knows its start, each attempt's start
 * (RUNNING), the failure that restarted it (RESTARTING), the one that failed it for good
 * (FAILING) and its end; CANCELLING is its end, as a cancel ends it at once.
 */
function statusTimestamps(job: AdminJob): Record<string, number> {
  const t: Record<string, number> = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0]));
  const status = job.status();
  const failures = job.exceptions?.() ?? [];
  t.INITIALIZING = t.CREATED = job.startTime;
  t.RUNNING = job.attemptTimes?.().startTime ?? job.startTime;
  // Every failure but one that failed the job for good made it restart (or wait to).
  const restartedBy = failures.at(status === "FAILED" ? -2 : -1);
  if (restartedBy) t.RESTARTING = restartedBy.timestamp;
  const end = job.endTime();
  if (end !== undefined && status !== "RUNNING" && status !== "RESTARTING") {
    t[status] = end;
    if (status === "FAILED") t.FAILING = failures.at(-1)?.timestamp ?? end;
    if (status === "CANCELED") t.CANCELLING = end;
  }
  return t;
}

/** A job's overview row; `vertices` are its figures when the caller has them already. */
function overview(
  job: AdminJob,
  now: number,
  vertices: readonly VertexInfo[] = job.vertices(),
): Record<string, unknown> {
  const end = job.endTime();
  const state = job.status();
  return {
    jid: job.id,
    name: job.name,
    state,
    "start-time": job.startTime,
    "end-time": end ?? -1,
    duration: (end ?? now) - job.startTime,
    "last-modification": end ?? job.startTime,
    tasks: taskCounts(job, vertices),
  };
}

/**
 * Flink's `start-time`, `end-time` (-1 while it runs) and `duration` of a vertex or subtask: the
 * current attempt's, as Flink's are their execution attempt's.
 */
function attemptTimesJson(job: AdminJob, now: number): Record<string, number> {
  const { startTime, endTime: end } = job.attemptTimes?.() ??
    { startTime: job.startTime, endTime: job.endTime() };
  return { "start-time": startTime, "end-time": end ?? -1, duration: (end ?? now) - startTime };
}

/** Flink's `metrics` of a vertex or subtask: the records it read and wrote. */
function recordsJson(recordsIn: number, recordsOut: number): Record<string, unknown> {
  return {
    "read-records": recordsIn,
    "read-records-complete": true,
    "write-records": recordsOut,
    "write-records-complete": true,
  };
}

/**
 * Flink's times of a subtask (or of a vertex, its subtasks' latest end) that finished before its
 * attempt ended: it ended then, not with the attempt.
 */
function finishedTimes(
  times: Record<string, number>,
  ends: readonly (number | undefined)[],
): Record<string, number> {
  if (ends.length === 0 || ends.some((e) => e === undefined)) return times;
  const end = Math.max(...(ends as number[]));
  return { ...times, "end-time": end, duration: end - times["start-time"]! };
}

function vertexJson(job: AdminJob, v: VertexInfo, now: number): Record<string, unknown> {
  return {
    id: vertexId(v.uid),
    uid: v.uid,
    name: v.name,
    parallelism: v.parallelism,
    maxParallelism: job.maxParallelism(),
    status: vertexStatus(job, v),
    // Flink's: the vertex's subtasks per state.
    tasks: vertexTaskCounts(job, v),
    ...finishedTimes(attemptTimesJson(job, now), (v.subtasks ?? []).map((s) => s.endTime)),
    metrics: recordsJson(v.recordsIn, v.recordsOut),
    "backpressure-ratio": v.backpressureRatio,
    "backpressure-level": backpressureLevel(v.backpressureRatio),
    ...(v.splits ? { splits: v.splits } : {}),
    // JSON has no infinities: null before the first watermark (and after the final one).
    watermark: Number.isFinite(v.watermark) ? v.watermark : null,
    "event-time-lag": Number.isFinite(v.eventTimeLagMs) ? v.eventTimeLagMs : null,
    "input-latency": Number.isFinite(v.inputLatencyMs) ? v.inputLatencyMs : null,
  };
}

/** JSON has no infinities: `null` for a value not finite or absent. */
function finiteOrNull(n: number | undefined): number | null {
  return n !== undefined && Number.isFinite(n) ? n : null;
}

/**
 * A vertex's subtasks that have figures: as Flink's metric routes, not those no thread has
 * reported yet (a running job's subtask has a thread once it has; `weir ui`'s have none, and
 * their figures are what the checkpoint history kept).
 */
function measured(v: VertexInfo): readonly SubtaskInfo[] {
  return (v.subtasks ?? []).filter((s) => s.thread !== undefined || s.state === undefined);
}

/** The vertex named by the `:vertexid` parameter: 400 when malformed, 404 when unknown. */
function vertexParam(c: Context, job: AdminJob): VertexInfo {
  const id = checkHexId("vertex id", c.req.param("vertexid") ?? "");
  const v = job.vertices().find((x) => vertexId(x.uid) === id);
  if (!v) fail(404, `Job ${job.id} has no vertex ${id}`);
  return v;
}

/** The subtask named by `:subtaskindex`: 400 when not an index, 404 past the parallelism. */
function subtaskParam(c: Context, v: VertexInfo): SubtaskInfo {
  const raw = c.req.param("subtaskindex") ?? "";
  const index = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(index)) {
    fail(400, `Malformed subtask index "${raw}": expected a non-negative integer`);
  }
  const s = v.subtasks?.find((x) => x.index === index);
  if (!s) {
    fail(
      404,
      `Invalid subtask index ${index} for vertex ${vertexId(v.uid)} (parallelism ${v.parallelism})`,
    );
  }
  return s;
}

/** State size per task, as the newest completed checkpoint measured it. */
function stateSizes(job: AdminJob): { checkpointId?: number; byTask: Map<string, number> } {
  const newest = job.checkpoints().history.findLast((e) =>
    e.kind === "checkpoint" && e.status === "COMPLETED"
  );
  if (newest?.kind !== "checkpoint") return { byTask: new Map() };
  return {
    checkpointId: newest.id,
    byTask: new Map(newest.tasks.map((t) => [t.task, t.stateSize])),
  };
}

/**
 * A subtask as Flink's REST API shows one: its current execution attempt, or the earlier
 * attempt `prior` (numbered `attempt`) as it ended.
 */
function subtaskJson(
  job: AdminJob,
  s: SubtaskInfo,
  sizes: Map<string, number>,
  now: number,
  prior?: { readonly attempt: number; readonly attemptInfo: PriorAttempt },
): Record<string, unknown> {
  const attemptTimes = prior
    ? {
      "start-time": prior.attemptInfo.startTime,
      "end-time": prior.attemptInfo.endTime,
      duration: prior.attemptInfo.endTime - prior.attemptInfo.startTime,
    }
    : attemptTimesJson(job, now);
  const times = finishedTimes(attemptTimes, [s.endTime]);
  const status = subtaskStatus(job, s);
  return {
    subtask: s.index,
    status,
    attempt: prior?.attempt ?? job.restarts(),
    ...times,
    // Flink's duplicate of start-time, which its older clients read.
    start_time: times["start-time"],
    "status-duration": statusDurations(
      status,
      stateTimestamps(status, times, s.runningTime),
      prior ? prior.attemptInfo.endTime : now,
    ),
    metrics: recordsJson(s.recordsIn, s.recordsOut),
    "backpressure-ratio": s.backpressureRatio,
    "backpressure-level": backpressureLevel(s.backpressureRatio),
    ...(s.task !== undefined ? { task: s.task } : {}),
    // Flink's: where the subtask runs (here the thread: `main` or `weir-worker/<i>`), and
    // "(unassigned)" for one not yet (or never) deployed, as Flink's. weir's tasks run in this
    // process, at no network endpoint of their own: a deployed one's host and endpoint are null.
    ...(s.thread !== undefined
      ? { "taskmanager-id": s.thread, host: null, endpoint: null }
      : s.state !== undefined
      ? { "taskmanager-id": UNASSIGNED, host: UNASSIGNED, endpoint: UNASSIGNED }
      : {}),
    // Of the subtask's task (its operator chain); null before the first checkpoint.
    stateSize: s.task !== undefined ? sizes.get(s.task) ?? null : null,
    // Flink's subtask metric; +∞ (input ended) is not JSON: reported as null like -∞.
    currentInputWatermark: finiteOrNull(s.inputWatermark),
    // weir's: the subtask's output watermark (what a source has emitted); absent for sinks.
    ...(s.watermark !== undefined ? { currentOutputWatermark: finiteOrNull(s.watermark) } : {}),
  };
}

/** Flink's terminal execution states. */
const TERMINAL = new Set(["FINISHED", "CANCELED", "FAILED"]);

/** The states a task passes before it ends, in order (those Flink's `status-duration` times). */
const LIFECYCLE = ["CREATED", "SCHEDULED", "DEPLOYING", "INITIALIZING", "RUNNING"] as const;

/**
 * Flink's `timestamps` of a subtask's attempt: when it entered each execution state (ms since
 * epoch), 0 for one it has not. weir creates, schedules and deploys an attempt's subtasks when
 * it starts, and they initialize from then on; it knows when each began to run and ended.
 */
function stateTimestamps(
  status: string,
  times: Record<string, number>,
  running: number | undefined,
): Record<string, number> {
  const t = zeroCounts();
  const start = times["start-time"]!;
  if (start < 0) return t;
  t.CREATED = t.SCHEDULED = t.DEPLOYING = start;
  if (status !== "DEPLOYING" && status !== "CREATED") t.INITIALIZING = start;
  if (running !== undefined) t.RUNNING = running;
  if (TERMINAL.has(status) && times["end-time"]! > 0) t[status] = times["end-time"]!;
  return t;
}

/**
 * Flink's `status-duration` of a subtask's attempt: how long it was in each state before it ended
 * (until now for its current state), -1 for one it has not entered.
 */
function statusDurations(
  status: string,
  timestamps: Record<string, number>,
  now: number,
): Record<string, number> {
  const d: Record<string, number> = {};
  LIFECYCLE.forEach((state, i) => {
    const start = timestamps[state]!;
    const left = [...LIFECYCLE.slice(i + 1), "FINISHED", "CANCELED", "FAILED"]
      .map((s) => timestamps[s]!).find((x) => x > 0) ?? 0;
    const end = state === status ? now : left;
    d[state] = start === 0 || end === 0 ? -1 : end - start;
  });
  return d;
}

/** A subtask's status as the REST API shows it. */
function subtaskStatus(job: AdminJob, s: SubtaskInfo): string {
  return s.state ??
    (job.status() === "RUNNING" ? "RUNNING" : notRunningSubtaskState(job.status()));
}

/**
 * Flink's aggregate of a set of subtasks' states (`getAggregateJobVertexState`): any `FAILED`,
 * then `CANCELED`, `INITIALIZING`, `RUNNING`; `FINISHED` once all are; else `CREATED`.
 */
function aggregateState(counts: Record<string, number>, total: number): string {
  for (const s of ["FAILED", "CANCELED", "INITIALIZING", "RUNNING"]) if (counts[s]) return s;
  if (counts.FINISHED) return counts.FINISHED === total ? "FINISHED" : "RUNNING";
  return "CREATED";
}

/** Flink's stack trace of a failure: the message naming the task (and worker), then the error's. */
function stacktraceOf(e: JobException): string {
  return e.stack !== undefined ? `${e.message}\nCaused by: ${e.stack}` : e.message;
}

/** The job routes. */
export function jobsRoutes(runtime: AdminRuntime): Hono {
  const app = new Hono();
  app.get(
    "/jobs",
    (c) => c.json({ jobs: runtime.jobs().map((j) => ({ id: j.id, status: j.status() })) }),
  );
  app.get("/jobs/overview", (c) => {
    const now = Date.now();
    return c.json({ jobs: runtime.jobs().map((j) => overview(j, now)) });
  });
  app.get("/jobs/:jobid", (c) => {
    const job = jobParam(c, runtime);
    const now = Date.now();
    // One view of the figures for the whole answer: each call builds it again from the reports.
    const infos = job.vertices();
    return c.json({
      ...overview(job, now, infos),
      isStoppable: job.checkpointConfig() !== undefined,
      timestamps: statusTimestamps(job),
      // weir's: figures the job's source does not keep (an ended job's checkpoint history).
      ...(job.notRecorded ? { "not-recorded": job.notRecorded() } : {}),
      now,
      restarts: job.restarts(),
      vertices: infos.map((v) => vertexJson(job, v, now)),
      "status-counts": statusCounts(job, infos),
      plan: {
        jid: job.id,
        name: job.name,
        nodes: infos.map((v) => ({
          id: vertexId(v.uid),
          description: v.name,
          parallelism: v.parallelism,
          ...(v.inputs && v.inputs.length > 0
            ? {
              // Flink's plan node inputs: the producer's vertex id and ship strategy.
              inputs: v.inputs.map((e, num) => ({
                num,
                id: vertexId(e.uid),
                ship_strategy: e.partitioning,
                exchange: "pipelined_bounded",
                input: e.input,
                ...(e.sideOutput !== undefined ? { side_output: e.sideOutput } : {}),
              })),
            }
            : {}),
        })),
      },
    });
  });
  // Flink's job status alone, which its REST client polls.
  app.get("/jobs/:jobid/status", (c) => c.json({ status: jobParam(c, runtime).status() }));
  // Flink's accumulators: weir has none (no user accumulators), so the lists a Flink job without
  // them gives.
  app.get("/jobs/:jobid/accumulators", (c) => {
    jobParam(c, runtime);
    return c.json({
      "job-accumulators": [],
      "user-task-accumulators": [],
      "serialized-user-task-accumulators": {},
    });
  });
  app.get("/jobs/:jobid/vertices/:vertexid/accumulators", (c) => {
    const v = vertexParam(c, jobParam(c, runtime));
    return c.json({ id: vertexId(v.uid), "user-accumulators": [] });
  });
  // Flink's times of each subtask's current attempt: when it entered each execution state.
  app.get("/jobs/:jobid/vertices/:vertexid/subtasktimes", (c) => {
    const job = jobParam(c, runtime);
    const v = vertexParam(c, job);
    const now = Date.now();
    return c.json({
      id: vertexId(v.uid),
      name: v.name,
      now,
      subtasks: (v.subtasks ?? []).map((s) => {
        const status = subtaskStatus(job, s);
        const times = finishedTimes(attemptTimesJson(job, now), [s.endTime]);
        const timestamps = stateTimestamps(status, times, s.runningTime);
        const start = timestamps.SCHEDULED! > 0 ? timestamps.SCHEDULED! : -1;
        const end = TERMINAL.has(status) ? timestamps[status]! : now;
        // As a subtask's details: "(unassigned)" before it is deployed, else no network endpoint.
        const where = s.thread === undefined && s.state !== undefined ? UNASSIGNED : null;
        return {
          subtask: s.index,
          host: where,
          endpoint: where,
          duration: start >= 0 ? end - start : -1,
          timestamps,
        };
      }),
    });
  });
  // Flink's vertex figures per TaskManager: here per thread that runs its subtasks.
  app.get("/jobs/:jobid/vertices/:vertexid/taskmanagers", (c) => {
    const job = jobParam(c, runtime);
    const v = vertexParam(c, job);
    const now = Date.now();
    const byThread = new Map<string, SubtaskInfo[]>();
    for (const s of v.subtasks ?? []) {
      const id = s.thread ?? UNASSIGNED;
      byThread.set(id, [...(byThread.get(id) ?? []), s]);
    }
    return c.json({
      id: vertexId(v.uid),
      name: v.name,
      now,
      taskmanagers: [...byThread].map(([id, subtasks]) => {
        const counts = zeroCounts();
        let start = Infinity, end = 0, allEnded = true, recordsIn = 0, recordsOut = 0;
        for (const s of subtasks) {
          const status = subtaskStatus(job, s);
          counts[status]! += 1;
          const times = finishedTimes(attemptTimesJson(job, now), [s.endTime]);
          if (status !== "DEPLOYING" && status !== "CREATED") {
            start = Math.min(start, times["start-time"]!);
          }
          allEnded &&= TERMINAL.has(status);
          end = Math.max(end, times["end-time"]!);
          recordsIn += s.recordsIn;
          recordsOut += s.recordsOut;
        }
        const started = Number.isFinite(start);
        const endTime = started && allEnded ? end : -1;
        const where = id === UNASSIGNED ? UNASSIGNED : null;
        return {
          host: where,
          endpoint: where,
          "taskmanager-id": id,
          status: aggregateState(counts, subtasks.length),
          "start-time": started ? start : -1,
          "end-time": endTime,
          duration: !started ? -1 : (endTime > 0 ? endTime : now) - start,
          metrics: recordsJson(recordsIn, recordsOut),
          "status-counts": counts,
        };
      }),
    });
  });
  app.patch("/jobs/:jobid", (c) => {
    const job = jobParam(c, runtime);
    const mode = c.req.query("mode") ?? "cancel";
    if (mode !== "cancel") fail(400, `Unknown mode "${mode}": only "cancel" is supported`);
    // As Flink's: a job waiting out its restart delay can be cancelled too (it ends at once).
    const status = job.status();
    if (status !== "RUNNING" && status !== "RESTARTING") {
      fail(409, `Job ${job.id} is ${status}, not running`);
    }
    job.cancel();
    return c.json({}, 202);
  });
  app.get("/jobs/:jobid/exceptions", (c) => {
    const job = jobParam(c, runtime);
    const raw = c.req.query("maxExceptions");
    // Flink's UpperLimitExceptionParameter: a number of entries, not silently all of them.
    if (raw !== undefined && !/^\d+$/.test(raw)) {
      fail(400, `Malformed maxExceptions "${raw}": expected a non-negative integer`);
    }
    // Flink's shape: the newest first, and the root exception of the latest failure; at most
    // EXCEPTIONS_SHOWN (Flink's web.exception-history-size) and `maxExceptions`, `truncated`
    // when there were more.
    const all = job.exceptions?.() ?? [];
    const limit = raw === undefined ? EXCEPTIONS_SHOWN : Math.min(Number(raw), EXCEPTIONS_SHOWN);
    const entries = all.slice(-EXCEPTIONS_SHOWN).reverse().slice(0, limit).map((e) => ({
      // Flink's: the class of the exception that failed the task (here the error it threw); a
      // failure without one (of the job as a whole) is the JobFailedError that reports it.
      exceptionName: e.errorName ?? "JobFailedError",
      stacktrace: stacktraceOf(e),
      timestamp: e.timestamp,
      // Flink's: the failed task; null for a failure of the job as a whole. weir's tasks run in
      // this process, not at a TaskManager's network endpoint: no endpoint or location, but the
      // thread it failed on, as `GET /taskmanagers` and a subtask's `taskmanager-id` name it.
      taskName: e.taskName ?? null,
      endpoint: null,
      location: null,
      taskManagerId: e.taskManagerId ?? null,
      // Flink's fields that its REST client requires (it rejects an entry without them): weir
      // labels no failures, and an attempt fails with one exception, not concurrent ones.
      failureLabels: {},
      concurrentExceptions: [],
      ...(e.restoredFrom !== undefined ? { restoredFrom: e.restoredFrom } : {}),
    }));
    const latest = all.at(-1);
    const truncated = entries.length < all.length;
    return c.json({
      "root-exception": latest ? stacktraceOf(latest) : null,
      timestamp: latest?.timestamp ?? null,
      "all-exceptions": [],
      truncated,
      exceptionHistory: { entries, truncated },
    });
  });
  app.get("/jobs/:jobid/vertices/:vertexid", (c) => {
    const job = jobParam(c, runtime);
    const v = vertexParam(c, job);
    const now = Date.now();
    const sizes = stateSizes(job);
    return c.json({
      id: vertexId(v.uid),
      uid: v.uid,
      ...(sizes.checkpointId !== undefined ? { stateSizeCheckpointId: sizes.checkpointId } : {}),
      name: v.name,
      parallelism: v.parallelism,
      maxParallelism: job.maxParallelism(),
      now,
      subtasks: (v.subtasks ?? []).map((s) => subtaskJson(job, s, sizes.byTask, now)),
    });
  });
  // Flink's subtask details: its current attempt, and an attempt by number (the current one,
  // or one of the earlier ones the job keeps, as Flink's prior execution attempts).
  app.get("/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex", (c) => {
    const job = jobParam(c, runtime);
    const s = subtaskParam(c, vertexParam(c, job));
    return c.json(subtaskJson(job, s, stateSizes(job).byTask, Date.now()));
  });
  app.get("/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/attempts/:attempt", (c) => {
    const job = jobParam(c, runtime);
    const v = vertexParam(c, job);
    const s = subtaskParam(c, v);
    const raw = c.req.param("attempt");
    const attempt = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(attempt)) {
      fail(400, `Malformed attempt "${raw}": expected a non-negative integer`);
    }
    const current = job.restarts();
    if (attempt === current) return c.json(subtaskJson(job, s, stateSizes(job).byTask, Date.now()));
    // As Flink's prior execution attempts: an earlier attempt, as it ended (state sizes are
    // the newest checkpoint's, none of its own).
    const attemptInfo = attempt < current ? job.priorAttempt?.(attempt) : undefined;
    const earlier = attemptInfo?.vertices.find((x) => x.uid === v.uid)?.subtasks
      ?.find((x) => x.index === s.index);
    if (!attemptInfo || !earlier) {
      fail(
        404,
        `Attempt ${attempt} not found for subtask ${s.index}: the current attempt is ` +
          `${current}, and weir keeps the ${ATTEMPTS_KEPT} before it`,
      );
    }
    return c.json(subtaskJson(job, earlier, new Map(), Date.now(), { attempt, attemptInfo }));
  });
  app.get("/jobs/:jobid/vertices/:vertexid/backpressure", (c) => {
    const job = jobParam(c, runtime);
    const id = checkHexId("vertex id", c.req.param("vertexid"));
    const v = job.vertices().find((x) => vertexId(x.uid) === id);
    if (!v) fail(404, `Job ${job.id} has no vertex ${id}`);
    const level = backpressureLevel(v.backpressureRatio);
    return c.json({
      status: "ok",
      backpressureLevel: level,
      "backpressure-level": level,
      "end-timestamp": Date.now(),
      subtasks: measured(v).map((s) => {
        const subtaskLevel = backpressureLevel(s.backpressureRatio);
        return {
          subtask: s.index,
          backpressureLevel: subtaskLevel,
          "backpressure-level": subtaskLevel,
          ratio: s.backpressureRatio,
        };
      }),
    });
  });
  app.get("/jobs/:jobid/vertices/:vertexid/watermarks", (c) => {
    const job = jobParam(c, runtime);
    const id = checkHexId("vertex id", c.req.param("vertexid"));
    const v = job.vertices().find((x) => vertexId(x.uid) === id);
    if (!v) fail(404, `Job ${job.id} has no vertex ${id}`);
    // Flink's shape: metric ids `<subtask>.currentInputWatermark` with string values, and
    // Long.MIN_VALUE before a watermark.
    const show = (w: number | undefined) =>
      w !== undefined && Number.isFinite(w) ? String(w) : "-9223372036854775808";
    return c.json(
      measured(v).flatMap((s) => [
        { id: `${s.index}.currentInputWatermark`, value: show(s.inputWatermark) },
        ...(s.watermark !== undefined
          ? [{ id: `${s.index}.currentOutputWatermark`, value: show(s.watermark) }]
          : []),
      ]),
    );
  });
  return app;
}

/** Flink's location of an execution that has none (not deployed). */
const UNASSIGNED = "(unassigned)";

/** The newest failures `/jobs/:jobid/exceptions` lists: Flink's `web.exception-history-size`. */
const EXCEPTIONS_SHOWN = 16;
