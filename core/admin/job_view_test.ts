import assert from "node:assert/strict";
import { MetricGroup } from "../runtime/metric_group.ts";
import { reportedMetrics, type SubtaskReport } from "../runtime/subtask_report.ts";
import { createAdminApp } from "./app.ts";
import { vertexId } from "./jobs.ts";
import { JobViewBuilder, type ViewVertex } from "./job_view.ts";
import type { AdminJob, JobStatus } from "./runtime.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const VERTICES: ViewVertex[] = [
  { uid: "src", name: "Source", sink: false, parallelism: 2, inputs: [] },
  {
    uid: "count",
    name: "Count",
    sink: false,
    parallelism: 2,
    inputs: [{ uid: "src", partitioning: "HASH", input: 0 }],
  },
  {
    uid: "sink",
    name: "Sink",
    sink: true,
    parallelism: 2,
    inputs: [{ uid: "count", partitioning: "FORWARD", input: 0 }],
  },
];

function report(
  uid: string,
  subtaskIndex: number,
  at: number,
  fields: Partial<SubtaskReport> = {},
): SubtaskReport {
  return {
    uid,
    subtaskIndex,
    at,
    task: `${uid} (${subtaskIndex + 1}/2)`,
    state: "RUNNING",
    thread: `weir-worker/${subtaskIndex}`,
    recordsIn: 0,
    recordsOut: 0,
    backPressuredMs: 0,
    watermark: -Infinity,
    lastTimestamp: NaN,
    inputWatermark: -Infinity,
    inputLatencyMs: NaN,
    userMetrics: [],
    liveSegments: [],
    ...fields,
  };
}

/** The counts of `counts` that are not 0. */
function nonZero(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n !== 0));
}

/** An AdminJob whose figures are a JobView's; the rest is what the routes need. */
function viewJob(builder: JobViewBuilder): AdminJob {
  return {
    id: "a".repeat(32),
    name: "view job",
    startTime: 1000,
    status: () => "RUNNING",
    endTime: () => undefined,
    restarts: () => 0,
    maxParallelism: () => 128,
    vertices: () => builder.view.vertices,
    checkpointConfig: () => undefined,
    checkpoints: () => ({ history: [], inProgress: [] }),
    segments: () => [],
    triggerCheckpoint: () => Promise.reject(new Error("unused")),
    triggerSavepoint: () => Promise.reject(new Error("unused")),
    stopWithSavepoint: () => Promise.reject(new Error("unused")),
    cancel: () => {},
    queryState: () => Promise.resolve({ kind: "unknown-key", message: "none" }),
  };
}

/** Two reports per subtask, 1 s apart, as workers would send them. */
function twoRounds(builder: JobViewBuilder): void {
  const metrics = new MetricGroup();
  metrics.counter("seen").inc(7);
  const sizes = metrics.histogram("size");
  for (let i = 1; i <= 10; i++) sizes.update(i);
  for (const at of [10_000, 11_000]) {
    const t = (at - 10_000) / 1000; // 0, then 1
    builder.update([
      report("src", 0, at, { recordsOut: 100 + 100 * t, watermark: 5000, backPressuredMs: 0 }),
      report("src", 1, at, {
        recordsOut: 50 + 50 * t,
        watermark: 4000,
        backPressuredMs: 600 * t,
        sourceCounters: { bytes: 10 },
      }),
      report("count", 0, at, {
        recordsIn: 90 + 100 * t,
        recordsOut: 90 + 100 * t,
        inputWatermark: 4000,
        watermark: 4000,
        userMetrics: reportedMetrics(metrics.samples()),
        liveSegments: ["a.seg"],
      }),
      report("count", 1, at, {
        recordsIn: 40,
        recordsOut: 40,
        inputWatermark: 4000,
        watermark: 4000,
        liveSegments: ["b.seg", "a.seg"],
      }),
      report("sink", 0, at, { recordsIn: 90 }),
      report("sink", 1, at, { recordsIn: 40 }),
    ], at + 5);
  }
}

Deno.test("JobView: vertices sum their subtasks' reports; backpressure is the share of the last window", () => {
  const builder = new JobViewBuilder(VERTICES);
  // Before any report: every operator and each of its subtasks DEPLOYING, nothing counted.
  assert.deepEqual(
    builder.view.vertices.map((v) => [v.uid, v.recordsIn, v.subtasks!.map((s) => s.state)]),
    [
      ["src", 0, ["DEPLOYING", "DEPLOYING"]],
      ["count", 0, ["DEPLOYING", "DEPLOYING"]],
      ["sink", 0, ["DEPLOYING", "DEPLOYING"]],
    ],
  );
  twoRounds(builder);
  const [src, count, sink] = builder.view.vertices;
  assert.equal(src!.recordsOut, 300);
  assert.equal(src!.watermark, 4000, "the lowest subtask's");
  assert.deepEqual(src!.subtasks!.map((s) => s.watermark), [5000, 4000]);
  assert.deepEqual(src!.subtasks!.map((s) => s.backpressureRatio), [0, 0.6]);
  assert.equal(src!.backpressureRatio, 0.6, "the busiest subtask's");
  assert.deepEqual(src!.sourceCounters, { bytes: 10 });
  assert.equal(count!.recordsIn, 230);
  assert.equal(count!.userMetrics!.length, 1);
  const size = count!.userMetrics![0]!.samples.find((s) => s.name === "size");
  assert.ok(size?.kind === "histogram");
  assert.equal(size.value.count, 10);
  assert.equal(size.value.quantile(0.5), 5);
  assert.equal(sink!.watermark, undefined, "a sink has no output watermark");
  assert.equal(sink!.subtasks![0]!.watermark, undefined);
  assert.deepEqual([...builder.view.liveSegments].sort(), ["a.seg", "b.seg"]);
  assert.equal(builder.view.updatedAt, 11_005);

  // A restarted task counts from 0 again: a new window, not a negative ratio.
  builder.update([report("src", 1, 12_000, { backPressuredMs: 10 })], 12_000);
  assert.equal(builder.view.vertices[0]!.backpressureRatio, 0);
});

Deno.test("JobView: the admin routes read it (jobs, vertices, subtasks, backpressure, watermarks, Prometheus)", async () => {
  const builder = new JobViewBuilder(VERTICES);
  twoRounds(builder);
  const app = createAdminApp({ jobs: () => [viewJob(builder)] });
  const get = async (path: string): Promise<Json> => {
    const res = await app.request(path);
    const body = res.headers.get("content-type")?.includes("json")
      ? await res.json()
      : await res.text();
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`);
    return body;
  };
  const id = "a".repeat(32);
  const job = await get(`/jobs/${id}`);
  assert.deepEqual(
    job.vertices.map((v: Json) => [v.uid, v.metrics["read-records"], v.metrics["write-records"]]),
    [["src", 0, 300], ["count", 230, 230], ["sink", 130, 0]],
  );
  assert.deepEqual(job.vertices.map((v: Json) => v.watermark), [4000, 4000, null]);
  assert.deepEqual(
    job.plan.nodes.map((n: Json) => n.inputs?.map((i: Json) => i.ship_strategy)),
    [undefined, ["HASH"], ["FORWARD"]],
  );

  const src = await get(`/jobs/${id}/vertices/${vertexId("src")}`);
  assert.deepEqual(
    src.subtasks.map((s: Json) => [
      s.subtask,
      s.task,
      s.metrics["write-records"],
      s["backpressure-level"],
      s.currentOutputWatermark,
    ]),
    [[0, "src (1/2)", 200, "ok", 5000], [1, "src (2/2)", 100, "high", 4000]],
  );
  const count = await get(`/jobs/${id}/vertices/${vertexId("count")}`);
  assert.deepEqual(count.subtasks.map((s: Json) => s.currentInputWatermark), [4000, 4000]);

  const bp = await get(`/jobs/${id}/vertices/${vertexId("src")}/backpressure`);
  assert.equal(bp.backpressureLevel, "high");
  assert.deepEqual(
    bp.subtasks.map((s: Json) => [s.subtask, s.backpressureLevel, s.ratio]),
    [[0, "ok", 0], [1, "high", 0.6]],
  );

  const marks = await get(`/jobs/${id}/vertices/${vertexId("src")}/watermarks`);
  assert.deepEqual(marks, [
    { id: "0.currentInputWatermark", value: "-9223372036854775808" },
    { id: "0.currentOutputWatermark", value: "5000" },
    { id: "1.currentInputWatermark", value: "-9223372036854775808" },
    { id: "1.currentOutputWatermark", value: "4000" },
  ]);

  const text: string = await get("/metrics");
  const line = (name: string, uid: string, subtask: number) =>
    new RegExp(
      `^${name}\\{[^}]*operator_uid="${uid}"[^}]*subtask_index="${subtask}"\\} (\\S+)$`,
      "m",
    )
      .exec(text)?.[1];
  assert.equal(line("weir_subtask_records_out_total", "src", 1), "100");
  assert.equal(line("weir_subtask_records_in_total", "count", 0), "190");
  assert.equal(line("weir_subtask_backpressure_ratio", "src", 1), "0.6");
  assert.equal(line("weir_subtask_watermark_seconds", "src", 0), "5");
  assert.equal(line("weir_user_seen", "count", 0), "7");
  assert.equal(line("weir_subtask_watermark_seconds", "sink", 0), undefined);
});

Deno.test("JobView: a job's refresh runs before the routes that read figures, not before others", async () => {
  const builder = new JobViewBuilder(VERTICES);
  let refreshed = 0;
  const job: AdminJob = {
    ...viewJob(builder),
    refresh: () => {
      refreshed++;
      // A worker's answer: fresh reports arrive before the route reads the view.
      builder.update([report("src", 0, 20_000, { recordsOut: 42 })], 20_000);
      return Promise.resolve();
    },
  };
  const app = createAdminApp({ jobs: () => [job] });
  const detail = await (await app.request(`/jobs/${job.id}`)).json();
  assert.equal(detail.vertices[0].metrics["write-records"], 42);
  assert.equal(refreshed, 1);
  await app.request(`/jobs/${job.id}/checkpoints`);
  await app.request("/jobs/overview");
  assert.equal(refreshed, 1);
  await app.request(`/jobs/${job.id}/vertices/${vertexId("src")}/watermarks`);
  await app.request("/metrics");
  assert.equal(refreshed, 3);
});

Deno.test("JobView: subtask states: DEPLOYING until a thread reports one, then its task's; vertices and tasks count them as Flink", async () => {
  const builder = new JobViewBuilder(VERTICES);
  let status: JobStatus = "RUNNING";
  const job: AdminJob = { ...viewJob(builder), status: () => status };
  const app = createAdminApp({ jobs: () => [job] });
  const detail = async () => await (await app.request(`/jobs/${job.id}`)).json();

  // No worker has made its subtasks yet: they are DEPLOYING, their vertices CREATED, as Flink's.
  const before = await detail();
  assert.deepEqual(before.vertices.map((v: Json) => v.status), Array(3).fill("CREATED"));
  assert.deepEqual(nonZero(before["status-counts"]), { CREATED: 3 });
  assert.deepEqual(nonZero(before.tasks), { total: 6, deploying: 6 });

  // Worker 0 (subtasks 0) opens its tasks; worker 1 still starts.
  builder.update([
    report("src", 0, 1000, { state: "INITIALIZING" }),
    report("count", 0, 1000, { state: "INITIALIZING" }),
    report("sink", 0, 1000, { state: "INITIALIZING" }),
  ], 1000);
  let d = await detail();
  assert.deepEqual(d.vertices.map((v: Json) => v.status), Array(3).fill("INITIALIZING"));
  // Flink's counts have every execution state, 0 for those no subtask (vertex) is in.
  const none = { CREATED: 0, SCHEDULED: 0, DEPLOYING: 0, RUNNING: 0, FINISHED: 0, CANCELING: 0 };
  const noneMore = { CANCELED: 0, FAILED: 0, RECONCILING: 0, INITIALIZING: 0 };
  assert.deepEqual(d.tasks, {
    total: 6,
    ...Object.fromEntries(
      Object.keys({ ...none, ...noneMore }).map((s) => [s.toLowerCase(), 0]),
    ),
    deploying: 3,
    initializing: 3,
  });
  assert.deepEqual(d["status-counts"], { ...none, ...noneMore, INITIALIZING: 3 });
  assert.deepEqual(d.vertices[1].tasks, { ...none, ...noneMore, DEPLOYING: 1, INITIALIZING: 1 });
  const counted = await (await app.request(`/jobs/${job.id}/vertices/${vertexId("count")}`)).json();
  // Flink lists every subtask of a vertex: worker 1's still being made.
  // Flink's "(unassigned)" where it runs, until it is deployed; weir's tasks have no endpoint.
  const where = (s: Json) => [s.subtask, s.status, s["taskmanager-id"], s.host, s.endpoint];
  assert.deepEqual(counted.subtasks.map(where), [
    [0, "INITIALIZING", "weir-worker/0", null, null],
    [1, "DEPLOYING", "(unassigned)", "(unassigned)", "(unassigned)"],
  ]);
  const one = await (await app.request(`/jobs/${job.id}/vertices/${vertexId("count")}/subtasks/1`))
    .json();
  assert.deepEqual(where(one), [1, "DEPLOYING", "(unassigned)", "(unassigned)", "(unassigned)"]);
  assert.deepEqual(counted.subtasks[1].metrics["read-records"], 0);
  // It has no metrics yet: Flink's metric routes (and /metrics) leave it out.
  const path = `/jobs/${job.id}/vertices/${vertexId("count")}`;
  const bp = await (await app.request(`${path}/backpressure`)).json();
  assert.deepEqual(bp.subtasks.map((s: Json) => s.subtask), [0]);
  const marks = await (await app.request(`${path}/watermarks`)).json();
  assert.deepEqual(marks.map((m: Json) => m.id), [
    "0.currentInputWatermark",
    "0.currentOutputWatermark",
  ]);
  const prometheus = await (await app.request("/metrics")).text();
  assert.match(prometheus, /weir_subtask_records_in_total\{[^}]*subtask_index="0"/);
  assert.doesNotMatch(prometheus, /weir_subtask_records_in_total\{[^}]*subtask_index="1"/);

  // Every subtask runs; then source subtask 1 ends its input.
  const all = (state: "RUNNING" | "FINISHED", src1: "RUNNING" | "FINISHED") =>
    builder.update(
      ["src", "count", "sink"].flatMap((uid) =>
        [0, 1].map((i) => report(uid, i, 2000, { state: uid === "src" && i === 1 ? src1 : state }))
      ),
      2000,
    );
  all("RUNNING", "FINISHED");
  d = await detail();
  assert.deepEqual(d.vertices.map((v: Json) => v.status), ["RUNNING", "RUNNING", "RUNNING"]);
  assert.equal(d.tasks.running, 5);
  assert.equal(d.tasks.finished, 1);
  all("FINISHED", "FINISHED");
  assert.deepEqual(nonZero((await detail())["status-counts"]), { FINISHED: 3 });

  // Between attempts: the job restarts, the failed attempt's subtasks are cancelled. RESTARTING
  // is the job's status only: its vertices and subtasks read CANCELED, as Flink's tasks.
  status = "RESTARTING";
  // The job failed as a whole (no task did): every subtask was cancelled, whatever it reported.
  builder.update(
    ["src", "count", "sink"].flatMap((uid) => [0, 1].map((i) => report(uid, i, 3000))),
    3000,
    { state: "FAILED" },
  );
  d = await detail();
  assert.equal(d.state, "RESTARTING");
  assert.deepEqual(d.vertices.map((v: Json) => v.status), Array(3).fill("CANCELED"));
  assert.deepEqual(nonZero(d["status-counts"]), { CANCELED: 3 });
  const between = await (await app.request(`/jobs/${job.id}/vertices/${vertexId("count")}`))
    .json();
  assert.deepEqual(between.subtasks.map((s: Json) => s.status), ["CANCELED", "CANCELED"]);
  assert.equal(d.tasks.canceled, 6);
  assert.equal(d.tasks.finished, 0);
});

Deno.test("JobView: after a task fails, its subtasks read FAILED, those finished before stay FINISHED and every other CANCELED, as Flink's; vertices and tasks count them", async () => {
  // Count and Sink are chained: task "Count -> Sink (i/2)" runs both.
  const chained = VERTICES.map((v) => ({
    ...v,
    tasks: [0, 1].map((i) => `${v.uid === "src" ? "Source" : "Count -> Sink"} (${i + 1}/2)`),
  }));
  const builder = new JobViewBuilder(chained);
  let status: JobStatus = "RUNNING";
  const job: AdminJob = { ...viewJob(builder), status: () => status };
  const app = createAdminApp({ jobs: () => [job] });
  // Worker 1 never reported; the task of subtask 1 failed (its last report said RUNNING). Source
  // subtask 0 had finished (its input ended) before: a terminal state, which the failure keeps.
  const reports = [0].flatMap((i) => [
    report("src", i, 1000, { task: `Source (${i + 1}/2)`, state: "FINISHED" }),
    report("count", i, 1000, { task: `Count -> Sink (${i + 1}/2)` }),
    report("sink", i, 1000, { task: `Count -> Sink (${i + 1}/2)` }),
  ]);
  for (const s of ["RESTARTING", "FAILED"] as const) {
    status = s;
    const view = builder.update(reports, 2000, {
      state: "FAILED",
      failedTask: "Count -> Sink (2/2)",
    });
    assert.deepEqual(view.vertices.map((v) => v.subtaskStates), [
      { FINISHED: 1, CANCELED: 1 },
      { CANCELED: 1, FAILED: 1 },
      { CANCELED: 1, FAILED: 1 },
    ]);
    assert.deepEqual(view.vertices[0]!.subtasks!.map((x) => x.state), ["FINISHED", "CANCELED"]);
    assert.deepEqual(view.vertices[1]!.subtasks!.map((x) => x.state), ["CANCELED", "FAILED"]);
    const d = await (await app.request(`/jobs/${job.id}`)).json();
    assert.equal(d.state, s);
    assert.deepEqual(d.vertices.map((v: Json) => v.status), ["CANCELED", "FAILED", "FAILED"]);
    assert.deepEqual(nonZero(d["status-counts"]), { CANCELED: 1, FAILED: 2 });
    assert.deepEqual([d.tasks.failed, d.tasks.canceled, d.tasks.finished], [2, 3, 1]);
    const src = await (await app.request(`/jobs/${job.id}/vertices/${vertexId("src")}`)).json();
    assert.deepEqual(src.subtasks.map((x: Json) => x.status), ["FINISHED", "CANCELED"]);
    const count = await (await app.request(`/jobs/${job.id}/vertices/${vertexId("count")}`)).json();
    assert.deepEqual(count.subtasks.map((x: Json) => [x.subtask, x.status]), [
      [0, "CANCELED"],
      [1, "FAILED"],
    ]);
  }
  // Its reported subtask failing: that one reads FAILED.
  builder.update(reports, 3000, { state: "FAILED", failedTask: "Count -> Sink (1/2)" });
  const count = await (await app.request(`/jobs/${job.id}/vertices/${vertexId("count")}`)).json();
  assert.deepEqual(count.subtasks.map((x: Json) => [x.subtask, x.status]), [
    [0, "FAILED"],
    [1, "CANCELED"],
  ]);
});

Deno.test("JobView: a cancel keeps the subtasks that had finished FINISHED and cancels the rest, as Flink's; a cancel-with-savepoint's stop cancels them all", () => {
  const builder = new JobViewBuilder(VERTICES);
  // Source subtask 1 finished (its input ended); the others run, or were stopped by the cancel.
  const reports = ["src", "count", "sink"].flatMap((uid) =>
    [0, 1].map((i) =>
      report(uid, i, 1000, { state: uid === "src" && i === 1 ? "FINISHED" : "CANCELED" })
    )
  );
  const view = builder.update(reports, 2000, { state: "CANCELED" });
  assert.deepEqual(view.vertices.map((v) => v.subtaskStates), [
    { CANCELED: 1, FINISHED: 1 },
    { CANCELED: 2 },
    { CANCELED: 2 },
  ]);
  assert.deepEqual(view.vertices[0]!.subtasks!.map((x) => x.state), ["CANCELED", "FINISHED"]);
  // Flink's cancel-with-savepoint cancels the tasks its savepoint leaves running; weir's stop
  // finished them, which must not read as their input having ended.
  const stopped = reports.map((r) => ({ ...r, state: "FINISHED" as const }));
  const cancelled = builder.update(stopped, 3000, { state: "CANCELED", stopped: true });
  assert.deepEqual(cancelled.vertices.map((v) => v.subtaskStates), [
    { CANCELED: 2 },
    { CANCELED: 2 },
    { CANCELED: 2 },
  ]);
});
