/**
 * Admin API routes through `app.request()` against a real running job (heap
 * and LSM backends): jobs, vertices with record counts, checkpoints and their
 * statistics, savepoints (trigger and poll), queryable state, segments,
 * metrics, stop with savepoint, and history surviving a restart.
 */
import assert from "node:assert/strict";
import {
  defaultMaxParallelism,
  HeapStateBackend,
  keyGroupOf,
  LsmStateBackend,
  serialize,
  Serializers,
  type StateBackend,
  StreamEnvironment,
  subtaskForKeyGroup,
  WatermarkStrategy,
} from "../mod.ts";
import { createAdminApp, jobClientRuntime } from "../core/admin/mod.ts";
import { vertexId } from "../core/admin/jobs.ts";
import { buildAdminJob } from "./_helpers/admin_job.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { listTree } from "./_helpers/checkpoint_jobs.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

function startJob(dir: string, backend: StateBackend, restore?: string, savepointDir?: string) {
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: backend,
    checkpoint: { dir, retained: 2 },
    log: () => {},
    ...(restore ? { restore } : {}),
  });
  buildAdminJob(env, 5000);
  const client = env.executeAsync("admin api job");
  // Savepoint target directories must be inside savepoints/ or the allowed savepointDir.
  const app = createAdminApp(jobClientRuntime(client), savepointDir ? { savepointDir } : {});
  const get = async (path: string, status = 200): Promise<Json> => {
    const res = await app.request(path);
    const body = await res.json();
    assert.equal(res.status, status, `${path}: ${JSON.stringify(body)}`);
    return body;
  };
  const post = async (path: string, body: unknown, status = 202): Promise<Json> => {
    const res = await app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    assert.equal(res.status, status, `${path}: ${JSON.stringify(json)}`);
    return json;
  };
  return { client, app, get, post };
}

async function poll(get: (p: string) => Promise<Json>, path: string): Promise<Json> {
  for (let i = 0; i < 500; i++) {
    const r = await get(path);
    if (r.status.id === "COMPLETED") return r;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${path} did not complete`);
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

for (const backend of ["heap", "lsm"] as const) {
  Deno.test(`admin API over a running job (${backend} backend)`, async () => {
    const dir = Deno.makeTempDirSync();
    const target = Deno.makeTempDirSync();
    const make = () => backend === "heap" ? new HeapStateBackend() : new LsmStateBackend();
    const { client, app, get, post } = startJob(dir, make(), undefined, target);
    try {
      const { jobs } = await get("/jobs");
      assert.equal(jobs.length, 1);
      const id = jobs[0].id;
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.equal(jobs[0].status, "RUNNING");
      const overview = await get("/jobs/overview");
      assert.equal(overview.jobs[0].name, "admin api job");
      assert.equal(overview.jobs[0].jid, id);

      // Vertices: uid, name, parallelism, records in/out, backpressure.
      await until("records to reach the counter", async () => {
        const j = await get(`/jobs/${id}`);
        const count = j.vertices.find((v: Json) => v.uid === "count");
        return count.metrics["read-records"] > 100;
      });
      const detail = await get(`/jobs/${id}`);
      assert.deepEqual(detail.vertices.map((v: Json) => v.uid), ["words", "count", "sink"]);
      for (const v of detail.vertices) {
        assert.match(v.id, /^[0-9a-f]{32}$/);
        assert.equal(v.parallelism, 2);
        assert.ok(v["backpressure-ratio"] >= 0 && v["backpressure-ratio"] <= 1);
      }
      const [words, count, sink] = detail.vertices;
      assert.equal(words.metrics["read-records"], 0);
      assert.ok(words.metrics["write-records"] >= count.metrics["read-records"]);
      assert.ok(count.metrics["write-records"] <= count.metrics["read-records"]);
      assert.ok(sink.metrics["read-records"] <= count.metrics["write-records"]);
      const bp = await get(`/jobs/${id}/vertices/${count.id}/backpressure`);
      assert.ok(["ok", "low", "high"].includes(bp.backpressureLevel));

      // The plan: edges with their producers and partitioning (keyBy is HASH; the sink is
      // chained: FORWARD).
      assert.deepEqual(
        detail.plan.nodes.map((
          n: Json,
        ) => [n.id, n.inputs?.map((i: Json) => [i.id, i.ship_strategy])]),
        [[words.id, undefined], [count.id, [[words.id, "HASH"]]], [sink.id, [[
          count.id,
          "FORWARD",
        ]]]],
      );
      // Per-subtask figures of a vertex, adding up to the vertex's.
      const counted = await get(`/jobs/${id}/vertices/${count.id}`);
      assert.equal(counted.name, count.name);
      assert.deepEqual(counted.subtasks.map((s: Json) => s.subtask), [0, 1]);
      const inBoth = counted.subtasks.reduce(
        (n: number, s: Json) => n + s.metrics["read-records"],
        0,
      );
      assert.ok(
        inBoth >= count.metrics["read-records"],
        `${inBoth} >= ${count.metrics["read-records"]}`,
      );
      for (const st of counted.subtasks) {
        assert.ok(st["backpressure-ratio"] >= 0 && st["backpressure-ratio"] <= 1);
        assert.equal(st["taskmanager-id"], "main"); // inline: every subtask on this thread
      }
      await get(`/jobs/${id}/vertices/${"0".repeat(32)}`, 404);
      // The one thread that runs them, its tasks (source, count -> sink: 2 each) and its heap.
      const { taskmanagers } = await get("/taskmanagers");
      assert.equal(taskmanagers.length, 1);
      assert.equal(taskmanagers[0].id, "main");
      assert.equal(taskmanagers[0].jobId, id);
      assert.equal(taskmanagers[0].slotsNumber, 4);
      assert.ok(
        taskmanagers[0].heapUsed > 0 && taskmanagers[0].heapUsed <= taskmanagers[0].heapTotal,
      );
      const metrics = await (await app.request("/metrics")).text();
      assert.match(metrics, /^weir_thread_heap_used_bytes\{[^}]*thread="main"\} [1-9]\d*$/m);

      // A checkpoint, triggered and polled.
      const { "request-id": cpTrigger } = await post(`/jobs/${id}/checkpoints`, {});
      const cp = await poll(get, `/jobs/${id}/checkpoints/${cpTrigger}`);
      const cpId = cp.operation.checkpointId;
      assert.ok(cpId >= 1);
      // Each subtask's state size is its task's, as the newest completed checkpoint measured it.
      const withSizes = await get(`/jobs/${id}/vertices/${count.id}`);
      const newestDetail = await get(
        `/jobs/${id}/checkpoints/details/${withSizes.stateSizeCheckpointId}`,
      );
      assert.ok(withSizes.stateSizeCheckpointId >= cpId);
      for (const st of withSizes.subtasks) {
        assert.equal(st.stateSize, newestDetail.tasks[st.task].state_size, st.task);
        assert.ok(st.stateSize > 0, `${st.task}: ${st.stateSize}`);
      }
      const config = await get(`/jobs/${id}/checkpoints/config`);
      assert.equal(config.mode, "exactly_once");
      assert.equal(config.max_concurrent, 1);

      // A savepoint into a target directory, triggered and polled.
      const { "request-id": spTrigger } = await post(`/jobs/${id}/savepoints`, {
        "target-directory": target,
        "cancel-job": false,
      });
      assert.match(spTrigger, /^[0-9a-f]{32}$/);
      const sp = await poll(get, `/jobs/${id}/savepoints/${spTrigger}`);
      const location: string = sp.operation.location;
      assert.ok(location.startsWith(target), location);
      assert.ok(Deno.statSync(`${location}/_metadata`).isFile);
      // Written there only, as Flink writes it: no second copy in the checkpoint directory.
      const name = location.slice(location.lastIndexOf("/") + 1);
      assert.deepEqual([...Deno.readDirSync(target)].map((e) => e.name), [name]);
      assert.deepEqual(listTree(`${dir}/savepoints`), []);

      const cps = await get(`/jobs/${id}/checkpoints`);
      assert.equal(cps.counts.completed, 2);
      assert.equal(cps.counts.failed, 0);
      assert.equal(cps.counts.total, cps.counts.completed + cps.counts.in_progress);
      assert.equal(cps.latest.completed.id, cpId);
      assert.equal(cps.latest.savepoint.is_savepoint, true);
      assert.equal(cps.latest.failed, null);
      for (const k of ["state_size", "checkpointed_size", "end_to_end_duration"]) {
        const s = cps.summary[k];
        for (const f of ["min", "max", "avg", "p50", "p90", "p99"]) {
          assert.equal(typeof s[f], "number", `${k}.${f}`);
        }
        assert.ok(s.min <= s.p50 && s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max);
      }
      assert.ok(cps.summary.state_size.max > 0);
      const h = cps.history.find((x: Json) => x.id === cpId);
      assert.equal(h.status, "COMPLETED");
      assert.equal(h.num_subtasks, h.num_acknowledged_subtasks);
      assert.ok(h.latest_ack_timestamp >= h.trigger_timestamp);

      const details = await get(`/jobs/${id}/checkpoints/details/${cpId}`);
      assert.equal(details.id, cpId);
      const tasks = Object.values(details.tasks) as Json[];
      assert.equal(tasks.length, h.num_subtasks);
      for (const t of tasks) {
        assert.equal(typeof t.checkpoint_duration.sync, "number");
        assert.equal(typeof t.checkpoint_duration.async, "number");
        assert.equal(typeof t.alignment.duration, "number");
      }
      await get(`/jobs/${id}/checkpoints/details/99999`, 404);

      // Queryable state, routed to the owning subtask: the one whose key groups hold the key's.
      const maxP = defaultMaxParallelism(2);
      const owner = (k: string) =>
        subtaskForKeyGroup(keyGroupOf(serialize(Serializers.string, k), maxP), maxP, 2);
      assert.deepEqual([owner("w3"), owner("w8")], [0, 1]); // so both subtasks answer below
      const st = await get(`/jobs/${id}/state/count/count?key=w3`);
      assert.equal(typeof st.value, "number");
      assert.ok(st.value > 0);
      assert.equal(st.subtask, 0);
      const w8 = await get(`/jobs/${id}/state/count/count?key=w8`);
      assert.ok(w8.value > 0);
      assert.equal(w8.subtask, 1);
      const later = await get(`/jobs/${id}/state/count/count?key=w3`);
      assert.ok(later.value >= st.value);
      await get(`/jobs/${id}/state/count/count?key=nope`, 404);
      await get(`/jobs/${id}/state/count/other?key=w3`, 404);
      await get(`/jobs/${id}/state/ghost/count?key=w3`, 404);
      await get(`/jobs/${id}/state/words/count?key=w3`, 404);
      await get(`/jobs/${id}/state/count/count`, 400);

      // Segments with sizes and reference counts.
      const seg = await get(`/jobs/${id}/segments`);
      assert.ok(seg.segments.length > 0);
      for (const s of seg.segments) {
        assert.ok(s.size > 0);
        assert.equal(s.references, s.checkpoints.length);
      }
      assert.ok(seg.segments.some((s: Json) => s.checkpoints.includes(cpId)));

      // Stop with a savepoint; the job ends.
      const { "request-id": stopTrigger } = await post(`/jobs/${id}/stop`, { drain: false });
      const stop = await poll(get, `/jobs/${id}/savepoints/${stopTrigger}`);
      assert.ok(stop.operation.location.includes("savepoints"));
      const result = await client.done;
      assert.equal(result.cancelled, false);
      assert.equal((await get("/jobs")).jobs[0].status, "FINISHED");
      await post(`/jobs/${id}/savepoints`, {}, 409);
      await get(`/jobs/${id}/state/count/count?key=w3`, 409);
    } finally {
      client.cancel();
      await client.done.catch(() => {});
    }

    // History and statistics survive a restart: a new run reads them back.
    const second = startJob(dir, make(), "latest");
    try {
      const { jobs } = await second.get("/jobs");
      const cps = await second.get(`/jobs/${jobs[0].id}/checkpoints`);
      assert.equal(cps.counts.completed, 3, JSON.stringify(cps.counts));
      assert.equal(cps.counts.restored, 1);
      // The stop committed its savepoint's output: that savepoint is the newest recovery point.
      assert.equal(cps.latest.restored.is_savepoint, true, "latest = the stop's savepoint");
      assert.ok(cps.history.length >= 3);
    } finally {
      second.client.cancel();
      await second.client.done.catch(() => {});
      Deno.removeSync(dir, { recursive: true });
      Deno.removeSync(target, { recursive: true });
    }
  });
}

Deno.test("after a cancel the runtime view's subtasks read CANCELED, as the REST API's, not FINISHED", async () => {
  const env = StreamEnvironment.create({ parallelism: 2, stateBackend: new HeapStateBackend() });
  env.addSource(new QueueSource<number>("numbers")).uid("numbers")
    .keyBy((n) => n % 2).map((n) => n).uid("map")
    .addSink({ invoke() {} }, { uid: "sink" });
  const client = env.executeAsync("cancelled");
  const runtime = jobClientRuntime(client);
  const [job] = runtime.jobs();
  const app = createAdminApp(runtime);
  await until("subtasks to run", () => {
    const v = job!.vertices();
    return v.every((x) => x.subtaskStates?.RUNNING === x.parallelism);
  });
  await client.cancel();
  assert.equal((await client.done).cancelled, true);
  assert.equal(job!.status(), "CANCELED");
  assert.deepEqual(job!.vertices().map((v) => v.subtaskStates), [
    { CANCELED: 1 },
    { CANCELED: 2 },
    { CANCELED: 2 },
  ]);
  const map = job!.vertices().find((v) => v.uid === "map")!;
  assert.deepEqual(map.subtasks!.map((s) => s.state), ["CANCELED", "CANCELED"]);
  const id = job!.id;
  const rest = await (await app.request(`/jobs/${id}/vertices/${vertexId("map")}`)).json();
  assert.deepEqual(rest.subtasks.map((s: Json) => s.status), ["CANCELED", "CANCELED"]);
});

/**
 * A job whose bounded source finishes while its queue source runs on; both feed the map, which
 * fails on 99 the first time (a restart after `delayMs`).
 */
function partlyFinishedJob(delayMs: number) {
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: new HeapStateBackend(),
    restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs },
    log: () => {},
  });
  const source = new QueueSource<number>("numbers");
  const bounded = env.fromElements(1, 2, 3).uid("bounded");
  let failed = false;
  env.addSource(source).uid("numbers").union(bounded).rebalance().map((n) => {
    if (n === 99 && !failed) {
      failed = true;
      throw new Error("boom");
    }
    return n;
  }).uid("map").addSink({ invoke() {} }, { uid: "sink" });
  const client = env.executeAsync("partly finished");
  const runtime = jobClientRuntime(client);
  const job = runtime.jobs()[0]!;
  const states = (uid: string) => job.vertices().find((v) => v.uid === uid)!.subtaskStates;
  const rest = async (uid: string) =>
    (await (await createAdminApp(runtime).request(`/jobs/${job.id}/vertices/${vertexId(uid)}`))
      .json()).subtasks.map((s: Json) => s.status);
  return { source, client, runtime, job, states, rest };
}

Deno.test("a task that finished before a cancel or a failure stays FINISHED, as Flink's, and the others read CANCELED", async () => {
  for (const end of ["cancel", "failure"] as const) {
    const { source, client, job, states, rest } = partlyFinishedJob(60_000);
    await until(
      "the bounded source to finish and the map to run",
      () => states("bounded")?.FINISHED === 1 && states("map")?.RUNNING === 2,
    );
    if (end === "cancel") {
      client.cancel();
      assert.equal((await client.done).cancelled, true);
    } else {
      source.push(99);
      await until("the restart delay", () => job.status() === "RESTARTING");
    }
    assert.deepEqual(states("bounded"), { FINISHED: 1 }, end);
    assert.deepEqual(await rest("bounded"), ["FINISHED"], end);
    // The queue source ran until the end: cancelled, not finished.
    assert.deepEqual(states("numbers"), { CANCELED: 1 }, end);
    assert.deepEqual(await rest("numbers"), ["CANCELED"], end);
    assert.deepEqual(
      states("map"),
      end === "cancel" ? { CANCELED: 2 } : { CANCELED: 1, FAILED: 1 },
      end,
    );
    client.cancel();
    await client.done;
  }
});

Deno.test("a subtask that finished while the job runs has its own end-time, as Flink's task, and so has a vertex all of whose subtasks did", async () => {
  const { client, job, states } = partlyFinishedJob(60_000);
  await until(
    "the bounded source to finish and the map to run",
    () => states("bounded")?.FINISHED === 1 && states("map")?.RUNNING === 2,
  );
  const app = createAdminApp({ jobs: () => [job] });
  const path = `/jobs/${job.id}/vertices/${vertexId("bounded")}`;
  const [s] = (await (await app.request(path)).json()).subtasks;
  assert.equal(s.status, "FINISHED");
  assert.ok(s["end-time"] >= s["start-time"] && s["end-time"] <= Date.now(), `${s["end-time"]}`);
  assert.equal(s.duration, s["end-time"] - s["start-time"]);
  const later = await (await app.request(`${path}/subtasks/0`)).json();
  assert.deepEqual([later["end-time"], later.duration], [s["end-time"], s.duration]); // not growing
  const d = await (await app.request(`/jobs/${job.id}`)).json();
  const byUid = (uid: string) => d.vertices.find((v: Json) => v.uid === uid);
  assert.equal(byUid("bounded")["end-time"], s["end-time"]);
  assert.equal(byUid("map")["end-time"], -1); // still running
  client.cancel();
  await client.done;
});

Deno.test("Flink's job status, subtask times, vertex taskmanagers and (empty) accumulators routes answer in Flink's shape", async () => {
  const { client, runtime, job, states } = partlyFinishedJob(60_000);
  const app = createAdminApp(runtime);
  const get = async (path: string, status = 200): Promise<Json> => {
    const res = await app.request(path);
    const body = await res.json();
    assert.equal(res.status, status, `${path}: ${JSON.stringify(body)}`);
    return body;
  };
  const id = job.id;
  await until(
    "the bounded source to finish and the map to run",
    () => states("bounded")?.FINISHED === 1 && states("map")?.RUNNING === 2,
  );
  assert.deepEqual(await get(`/jobs/${id}/status`), { status: "RUNNING" });
  assert.deepEqual(await get(`/jobs/${id}/accumulators`), {
    "job-accumulators": [],
    "user-task-accumulators": [],
    "serialized-user-task-accumulators": {},
  });
  const map = vertexId("map");
  assert.deepEqual(await get(`/jobs/${id}/vertices/${map}/accumulators`), {
    id: map,
    "user-accumulators": [],
  });
  // Subtask times: when each subtask entered each of Flink's execution states, 0 for the others.
  const times = await get(`/jobs/${id}/vertices/${vertexId("bounded")}/subtasktimes`);
  assert.deepEqual(Object.keys(times).sort(), ["id", "name", "now", "subtasks"]);
  const [bounded] = times.subtasks;
  const t = bounded.timestamps;
  assert.deepEqual(Object.keys(t).sort(), [
    "CANCELED",
    "CANCELING",
    "CREATED",
    "DEPLOYING",
    "FAILED",
    "FINISHED",
    "INITIALIZING",
    "RECONCILING",
    "RUNNING",
    "SCHEDULED",
  ]);
  assert.ok(t.DEPLOYING > 0 && t.DEPLOYING <= t.RUNNING && t.RUNNING <= t.FINISHED, `${t}`);
  assert.equal(t.CANCELED, 0);
  assert.equal(bounded.duration, t.FINISHED - t.SCHEDULED);
  // The subtask's details: Flink's start_time and how long it was in each state.
  const detail = await get(`/jobs/${id}/vertices/${vertexId("bounded")}/subtasks/0`);
  assert.equal(detail.start_time, detail["start-time"]);
  assert.deepEqual(detail["status-duration"], {
    CREATED: 0,
    SCHEDULED: 0,
    DEPLOYING: 0,
    INITIALIZING: t.RUNNING - t.INITIALIZING,
    RUNNING: t.FINISHED - t.RUNNING,
  });
  const running = await get(`/jobs/${id}/vertices/${map}/subtasks/0`);
  assert.equal(running["status-duration"].RUNNING > -1, true);
  // Per thread that runs the vertex's subtasks (inline: all on main), Flink's aggregate.
  const tms = await get(`/jobs/${id}/vertices/${map}/taskmanagers`);
  assert.deepEqual([tms.id, Object.keys(tms).sort()], [map, ["id", "name", "now", "taskmanagers"]]);
  assert.equal(tms.taskmanagers.length, 1);
  const [tm] = tms.taskmanagers;
  assert.equal(tm["taskmanager-id"], "main");
  assert.equal(tm.status, "RUNNING");
  assert.equal(tm["status-counts"].RUNNING, 2);
  assert.equal(tm["end-time"], -1);
  assert.ok(tm["start-time"] > 0 && tm.duration >= 0);
  assert.equal(typeof tm.metrics["read-records"], "number");
  const finished = (await get(`/jobs/${id}/vertices/${vertexId("bounded")}/taskmanagers`))
    .taskmanagers[0];
  assert.deepEqual(
    [finished.status, finished["end-time"], finished.duration],
    ["FINISHED", t.FINISHED, t.FINISHED - finished["start-time"]],
  );
  await get(`/jobs/${id}/vertices/${"0".repeat(32)}/subtasktimes`, 404);
  await get(`/jobs/${"0".repeat(32)}/status`, 404);
  client.cancel();
  await client.done;
  assert.deepEqual(await get(`/jobs/${id}/status`), { status: "CANCELED" });
});

Deno.test("a vertex's subtasks report their input watermark", async () => {
  const env = StreamEnvironment.create({ parallelism: 2, stateBackend: new HeapStateBackend() });
  const src = new QueueSource<number>("times");
  env.addSource(src)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forMonotonousTimestamps<number>()
        .withTimestampAssigner((t) => t)
        .withPerRecordWatermarks(),
    ).setParallelism(1)
    .keyBy((t) => t % 2)
    .process({ processElement() {} }).uid("keyed")
    .addSink({ invoke() {} }, { uid: "sink" });
  const client = env.executeAsync("watermarks");
  const app = createAdminApp(jobClientRuntime(client));
  const get = async (path: string): Promise<Json> => await (await app.request(path)).json();
  try {
    const id = (await get("/jobs")).jobs[0].id;
    const keyed = (await get(`/jobs/${id}`)).vertices.find((v: Json) => v.uid === "keyed");
    const before = await get(`/jobs/${id}/vertices/${keyed.id}`);
    assert.deepEqual(before.subtasks.map((s: Json) => s.currentInputWatermark), [null, null]);
    src.push(1000, 2000);
    // Monotonous timestamps: the watermark is the highest timestamp − 1, sent to both subtasks.
    for (let i = 0;; i++) {
      const now = await get(`/jobs/${id}/vertices/${keyed.id}`);
      const marks = now.subtasks.map((s: Json) => s.currentInputWatermark);
      if (marks.every((m: number | null) => m === 1999)) break;
      assert.ok(i < 500, `watermarks ${JSON.stringify(marks)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    src.end();
    await client.done;
  }
});

/**
 * A job whose first `failures` attempts fail at their first record and whose next restart
 * (each after `delayMs`) succeeds, served by an admin app; `dir` is its checkpoint folder.
 */
function flakyJob(delayMs: number, failures = 1) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-admin-flaky-" });
  const env = StreamEnvironment.create({
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir },
    restartStrategy: { kind: "fixed-delay", attempts: failures, delayMs },
    repeatedFailureLimit: failures + 1,
    log: () => {},
  });
  let failed = 0;
  env.fromCollection([1, 2, 3]).map((n: number) => {
    if (failed < failures) {
      failed++;
      throw new RangeError(`boom at the first record (${failed})`);
    }
    return n;
  }).uid("flaky").addSink({ invoke() {} });
  const client = env.executeAsync("flaky job");
  return { dir, client, app: createAdminApp(jobClientRuntime(client)) };
}

Deno.test("GET /jobs/:id/exceptions lists the failures that restarted the job", async () => {
  const { dir, client, app } = flakyJob(10);
  try {
    await client.done;
    const id = (await (await app.request("/jobs")).json()).jobs[0].id;
    const detail = await (await app.request(`/jobs/${id}`)).json();
    assert.equal(detail.restarts, 1);
    const body = await (await app.request(`/jobs/${id}/exceptions`)).json();
    assert.equal(body.exceptionHistory.entries.length, 1);
    const [entry] = body.exceptionHistory.entries;
    assert.match(entry.stacktrace, /boom at the first record/);
    assert.equal(body["root-exception"], entry.stacktrace);
    // Fields Flink's REST client requires of every entry.
    assert.deepEqual(entry.failureLabels, {});
    assert.deepEqual(entry.concurrentExceptions, []);
    assert.ok(entry.timestamp <= Date.now() && entry.timestamp > Date.now() - 60_000);
    // Flink's fields of where it failed: the task the message names; no network endpoint, but
    // the thread it ran on, as `GET /taskmanagers` names it (inline: the main thread).
    // Flink's exceptionName is the class of what the task threw, its stacktrace that one's too.
    assert.equal(entry.exceptionName, "RangeError");
    assert.match(
      entry.stacktrace,
      /\nCaused by: RangeError: boom at the first record \(1\)\n +at /,
    );
    assert.match(entry.stacktrace, /failed in task (.+): /);
    assert.equal(entry.taskName, /failed in task (.+?): /.exec(entry.stacktrace)![1]);
    assert.match(entry.taskName, /Map.* \(1\/1\)$/);
    assert.deepEqual([entry.endpoint, entry.location, entry.taskManagerId], [null, null, "main"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("GET /jobs/:id has Flink's timestamps: when the job entered each status, 0 for one it did not", async () => {
  const { dir, client, app } = flakyJob(10);
  try {
    await client.done;
    const id = (await (await app.request("/jobs")).json()).jobs[0].id;
    const d = await (await app.request(`/jobs/${id}`)).json();
    const failedAt = (await (await app.request(`/jobs/${id}/exceptions`)).json()).timestamp;
    // Every Flink JobStatus, in its order (Flink's REST client requires the field).
    assert.deepEqual(Object.keys(d.timestamps), [
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
    ]);
    const t = d.timestamps;
    assert.deepEqual([t.INITIALIZING, t.CREATED], [d["start-time"], d["start-time"]]);
    assert.equal(t.RESTARTING, failedAt);
    assert.ok(t.RUNNING >= failedAt, `${t.RUNNING}`); // the second attempt's, after the failure
    assert.equal(t.FINISHED, d["end-time"]);
    for (const s of ["FAILING", "FAILED", "CANCELLING", "CANCELED", "SUSPENDED", "RECONCILING"]) {
      assert.equal(t[s], 0, s);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("GET /jobs/:id timestamps of a job that failed for good after a restart: RESTARTING, FAILING, FAILED", async () => {
  const unused = () => Promise.reject(new Error("unused"));
  const app = createAdminApp({
    jobs: () => [{
      id: "d".repeat(32),
      name: "fails twice",
      startTime: 100,
      status: () => "FAILED",
      endTime: () => 400,
      restarts: () => 1,
      attemptTimes: () => ({ startTime: 250, endTime: 400 }),
      maxParallelism: () => 128,
      vertices: () => [],
      checkpointConfig: () => undefined,
      checkpoints: () => ({ history: [], inProgress: [] }),
      segments: () => [],
      triggerCheckpoint: unused,
      triggerSavepoint: unused,
      stopWithSavepoint: unused,
      cancel: () => {},
      queryState: unused,
      exceptions: () => [
        { timestamp: 200, message: "boom", taskName: "a (1/1)" },
        { timestamp: 390, message: "boom again", taskName: "a (1/1)" },
      ],
    }],
  });
  const { timestamps: t } = await (await app.request(`/jobs/${"d".repeat(32)}`)).json();
  assert.deepEqual(
    [t.CREATED, t.RUNNING, t.RESTARTING, t.FAILING, t.FAILED, t.FINISHED, t.CANCELED],
    [100, 250, 200, 390, 400, 0, 0],
  );
});

Deno.test("GET /jobs/:id/exceptions gives taskName null for a failure of the job as a whole, as Flink does", async () => {
  const unused = () => Promise.reject(new Error("unused"));
  const app = createAdminApp({
    jobs: () => [{
      id: "c".repeat(32),
      name: "global failure",
      startTime: 0,
      status: () => "FAILED",
      endTime: () => 1,
      restarts: () => 0,
      maxParallelism: () => 128,
      vertices: () => [],
      checkpointConfig: () => undefined,
      checkpoints: () => ({ history: [], inProgress: [] }),
      segments: () => [],
      triggerCheckpoint: unused,
      triggerSavepoint: unused,
      stopWithSavepoint: unused,
      cancel: () => {},
      queryState: unused,
      exceptions: () => [
        { timestamp: 1, message: 'Job "j" failed in task a (1/1): boom', taskName: "a (1/1)" },
        { timestamp: 2, message: 'Job "j" failed: worker 1 died: out of memory' },
      ],
    }],
  });
  const body = await (await app.request(`/jobs/${"c".repeat(32)}/exceptions`)).json();
  assert.deepEqual(body.exceptionHistory.entries.map((e: Json) => e.taskName), [null, "a (1/1)"]);
});

Deno.test("GET /jobs/:id/exceptions lists the newest 16 failures, newest first, truncated past them (Flink's default)", async () => {
  const { dir, client, app } = flakyJob(0, 20);
  try {
    await client.done;
    const id = (await (await app.request("/jobs")).json()).jobs[0].id;
    const body = await (await app.request(`/jobs/${id}/exceptions`)).json();
    assert.equal(body.exceptionHistory.truncated, true);
    const numbers = (entries: Json[]) =>
      entries.map((e: Json) => Number(/\((\d+)\)/.exec(e.stacktrace)![1]));
    assert.deepEqual(
      numbers(body.exceptionHistory.entries),
      Array.from({ length: 16 }, (_, i) => 20 - i),
    );
    // Flink's maxExceptions: the newest that many; the root exception stays the newest failure.
    const three = await (await app.request(`/jobs/${id}/exceptions?maxExceptions=3`)).json();
    assert.deepEqual(numbers(three.exceptionHistory.entries), [20, 19, 18]);
    assert.equal(three.exceptionHistory.truncated, true);
    const none = await (await app.request(`/jobs/${id}/exceptions?maxExceptions=0`)).json();
    assert.deepEqual(none.exceptionHistory.entries, []);
    assert.equal(none["root-exception"], body.exceptionHistory.entries[0].stacktrace);
    const many = await (await app.request(`/jobs/${id}/exceptions?maxExceptions=100`)).json();
    assert.equal(many.exceptionHistory.entries.length, 16); // the history holds 16
    for (const bad of ["x", "-1", "1.5", ""]) {
      const res = await app.request(`/jobs/${id}/exceptions?maxExceptions=${bad}`);
      assert.equal(res.status, 400, bad);
      assert.match((await res.json()).errors[0], /maxExceptions/);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a subtask's earlier attempts are served as Flink's prior execution attempts, the newest 16", async () => {
  const { dir, client, app } = flakyJob(0, 20);
  try {
    await client.done;
    const id = (await (await app.request("/jobs")).json()).jobs[0].id;
    const path = `/jobs/${id}/vertices/${vertexId("flaky")}/subtasks/0/attempts`;
    const current = await (await app.request(`${path}/20`)).json();
    assert.deepEqual([current.attempt, current.status], [20, "FINISHED"]);
    const times = [];
    for (let attempt = 4; attempt < 20; attempt++) {
      const a = await (await app.request(`${path}/${attempt}`)).json();
      assert.deepEqual([a.attempt, a.status], [attempt, "FAILED"]);
      times.push(a["start-time"], a["end-time"]);
    }
    // Each attempt ended before the next began.
    assert.deepEqual(times, times.toSorted((a, b) => a - b));
    const gone = await app.request(`${path}/3`);
    assert.equal(gone.status, 404);
    assert.match((await gone.json()).errors[0], /keeps the 16 before it/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a job is RESTARTING between a failed attempt and the next (the restart delay)", async () => {
  const { dir, client, app } = flakyJob(300);
  try {
    const id = (await (await app.request("/jobs")).json()).jobs[0].id;
    const seen: string[] = [];
    let ended = false;
    client.done.finally(() => ended = true);
    while (!ended) {
      const d = await (await app.request(`/jobs/${id}`)).json();
      if (seen.at(-1) !== d.state) seen.push(d.state);
      if (d.state === "RESTARTING") {
        // The failed task's subtasks FAILED, all others cancelled because of it, as Flink's.
        assert.ok(d.tasks.failed > 0);
        assert.equal(d.tasks.canceled + d.tasks.failed, d.tasks.total);
        // No thread runs the job between attempts (checked while it stays RESTARTING).
        const { taskmanagers } = await (await app.request("/taskmanagers")).json();
        const still = (await (await app.request(`/jobs/${id}`)).json()).state === "RESTARTING";
        if (still) assert.deepEqual(taskmanagers, []);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await client.done;
    const last = (await (await app.request(`/jobs/${id}`)).json()).state;
    if (seen.at(-1) !== last) seen.push(last);
    // The second attempt, three records, may end between two polls.
    assert.deepEqual(seen.filter((s) => s !== "RUNNING"), ["RESTARTING", "FINISHED"]);
    assert.equal(seen[0], "RUNNING");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("PATCH /jobs/:id?mode=cancel cancels a RESTARTING job at once, as Flink does", async () => {
  // An hour's restart delay: only a cancel that wakes the job ends it within the test.
  const { dir, client, app } = flakyJob(3_600_000);
  try {
    const id = (await (await app.request("/jobs")).json()).jobs[0].id;
    await until("RESTARTING", () => client.restarting);
    const res = await app.request(`/jobs/${id}?mode=cancel`, { method: "PATCH" });
    assert.equal(res.status, 202, JSON.stringify(await res.json()));
    assert.equal((await client.done).cancelled, true);
    assert.equal((await (await app.request(`/jobs/${id}`)).json()).state, "CANCELED");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test('a savepoint with "cancel-job": true ends the job CANCELED, as Flink\'s cancel-with-savepoint, and keeps its savepoint', async () => {
  const dir = Deno.makeTempDirSync();
  const target = `${dir}/savepoints/out`;
  const { client, get, post } = startJob(dir, new HeapStateBackend());
  try {
    const id = (await get("/jobs")).jobs[0].id;
    await poll(
      get,
      `/jobs/${id}/checkpoints/${(await post(`/jobs/${id}/checkpoints`, {}))["request-id"]}`,
    );
    const { "request-id": trigger } = await post(`/jobs/${id}/savepoints`, {
      "target-directory": target,
      "cancel-job": true,
    });
    const sp = await poll(get, `/jobs/${id}/savepoints/${trigger}`);
    const location: string = sp.operation.location;
    assert.ok(location.startsWith(target), location);
    assert.ok(Deno.statSync(`${location}/_metadata`).isFile);
    assert.equal((await client.done).cancelled, true);
    const d = await get(`/jobs/${id}`);
    assert.equal(d.state, "CANCELED");
    // Its stop finished the tasks, which Flink's cancel after the savepoint cancels.
    assert.deepEqual(
      [d.tasks.canceled, d.tasks.finished, d.tasks.total],
      [d.tasks.total, 0, d.tasks.total],
    );
    // As on a cancel, the checkpoints go (DELETE_ON_CANCELLATION); the savepoint stays, and is
    // the recovery point `--restore latest` resumes from.
    assert.deepEqual(
      [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("chk-")).map((e) => e.name),
      [],
    );
    const next = startJob(dir, new HeapStateBackend(), "latest");
    try {
      const cps = await next.get(`/jobs/${(await next.get("/jobs")).jobs[0].id}/checkpoints`);
      assert.equal(cps.latest.restored.is_savepoint, true);
    } finally {
      next.client.cancel();
      await next.client.done.catch(() => {});
    }
  } finally {
    client.cancel();
    await client.done.catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test('a savepoint with "cancel-job": true during a stop in progress fails, and the stop still finishes the job', async () => {
  const dir = Deno.makeTempDirSync();
  const { client, get, post } = startJob(dir, new HeapStateBackend());
  try {
    const id = (await get("/jobs")).jobs[0].id;
    const stop = await post(`/jobs/${id}/stop`, {});
    const cancel = await post(`/jobs/${id}/savepoints`, { "cancel-job": true });
    const stopped = await poll(get, `/jobs/${id}/savepoints/${stop["request-id"]}`);
    assert.match(stopped.operation.location, /savepoints\/savepoint-/);
    const refused = await poll(get, `/jobs/${id}/savepoints/${cancel["request-id"]}`);
    assert.equal(refused.operation.location, undefined);
    assert.match(
      refused.operation["failure-cause"]["stack-trace"],
      /stop with savepoint without drain is already in progress .*cannot also cancel with savepoint/,
    );
    assert.equal((await client.done).cancelled, false);
    assert.equal((await get(`/jobs/${id}`)).state, "FINISHED");
  } finally {
    client.cancel();
    await client.done.catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a second stop asking for another drain than the stop in progress fails, naming it", async () => {
  const dir = Deno.makeTempDirSync();
  const { client, get, post } = startJob(dir, new HeapStateBackend());
  try {
    const id = (await get("/jobs")).jobs[0].id;
    const plain = await post(`/jobs/${id}/stop`, {});
    const drained = await post(`/jobs/${id}/stop`, { drain: true });
    const again = await post(`/jobs/${id}/stop`, { drain: false });
    const first = await poll(get, `/jobs/${id}/savepoints/${plain["request-id"]}`);
    assert.match(first.operation.location, /savepoints\/savepoint-/);
    // The stop in progress keeps its windows: a caller asking to fire them must not be told
    // it got that stop's savepoint.
    const second = await poll(get, `/jobs/${id}/savepoints/${drained["request-id"]}`);
    assert.equal(second.operation.location, undefined);
    assert.match(
      second.operation["failure-cause"]["stack-trace"],
      /stop with savepoint without drain is already in progress/,
    );
    // The same stop asked again shares its savepoint.
    const third = await poll(get, `/jobs/${id}/savepoints/${again["request-id"]}`);
    assert.equal(third.operation.location, first.operation.location);
    assert.equal((await client.done).cancelled, false);
  } finally {
    await client.done.catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a savepoint's location is absolute, also for a relative --checkpoint-dir", async () => {
  const root = Deno.makeTempDirSync();
  const cwd = Deno.cwd();
  // The job's working directory, which a client polling the API does not know.
  Deno.chdir(root);
  const { client, get, post } = startJob("ck", new HeapStateBackend());
  try {
    const id = (await get("/jobs")).jobs[0].id;
    const sp = await post(`/jobs/${id}/savepoints`, {});
    const saved = await poll(get, `/jobs/${id}/savepoints/${sp["request-id"]}`);
    const stop = await post(`/jobs/${id}/stop`, {});
    const stopped = await poll(get, `/jobs/${id}/savepoints/${stop["request-id"]}`);
    await client.done;
    Deno.chdir(cwd);
    for (const location of [saved.operation.location, stopped.operation.location]) {
      assert.ok(location.startsWith(`${Deno.realPathSync(root)}/ck/savepoints/`), location);
      assert.ok(Deno.statSync(`${location}/_metadata`).isFile, location);
    }
  } finally {
    Deno.chdir(cwd);
    await client.done.catch(() => {});
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("GET /checkpoints answers absolute external paths, also for a relative --checkpoint-dir", async () => {
  const root = Deno.makeTempDirSync();
  const cwd = Deno.cwd();
  // The job's working directory, which a client reading the API does not know.
  Deno.chdir(root);
  const first = startJob("ck", new HeapStateBackend());
  let second: ReturnType<typeof startJob> | undefined;
  try {
    const ck = `${Deno.realPathSync(".")}/ck`;
    const id = (await first.get("/jobs")).jobs[0].id;
    await poll(
      first.get,
      `/jobs/${id}/checkpoints/${(await first.post(`/jobs/${id}/checkpoints`, {}))["request-id"]}`,
    );
    const stop = await first.post(`/jobs/${id}/stop`, {});
    const stopped = await poll(first.get, `/jobs/${id}/savepoints/${stop["request-id"]}`);
    await first.client.done;
    // Restored from the savepoint given relative to the working directory.
    const relativeSavepoint = `ck/savepoints/${stopped.operation.location.split("/").at(-1)}`;
    second = startJob("ck", new HeapStateBackend(), relativeSavepoint);
    const id2 = (await second.get("/jobs")).jobs[0].id;
    const body = await second.get(`/jobs/${id2}/checkpoints`);
    const { completed, savepoint, restored } = body.latest;
    assert.equal(completed.external_path, `${ck}/chk-${completed.id}`);
    assert.equal(savepoint.external_path, stopped.operation.location);
    assert.equal(restored.external_path, stopped.operation.location);
    for (const e of body.history) assert.ok(e.external_path.startsWith(`${ck}/`), e.external_path);
    assert.equal((await second.get(`/jobs/${id2}/checkpoints/config`)).directory, ck);
    second.client.cancel();
    await second.client.done;
  } finally {
    Deno.chdir(cwd);
    await first.client.done.catch(() => {});
    second?.client.cancel();
    await second?.client.done.catch(() => {});
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a cancel while RESTARTING discards the job's checkpoints, as a cancel while RUNNING does", async () => {
  for (const retainOnCancellation of [false, true]) {
    const dir = Deno.makeTempDirSync({ prefix: "weir-admin-cancel-" });
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir, retainOnCancellation },
      // An hour's delay: the cancel comes while the job waits it out.
      restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 3_600_000 },
      log: () => {},
    });
    const src = new QueueSource<number>("numbers");
    env.addSource(src).uid("numbers").map((n: number) => {
      if (n < 0) throw new Error("boom");
      return n;
    }).uid("fail-on-negative").addSink({ invoke() {} }, { uid: "sink" });
    const client = env.executeAsync("cancelled while restarting");
    const app = createAdminApp(jobClientRuntime(client));
    try {
      src.push(1);
      await client.triggerCheckpoint();
      const id = (await (await app.request("/jobs")).json()).jobs[0].id;
      assert.ok(listTree(dir).some((p) => p.startsWith("chk-")), listTree(dir).join(" "));
      src.push(-1);
      await until("RESTARTING", () => client.restarting);
      const res = await app.request(`/jobs/${id}?mode=cancel`, { method: "PATCH" });
      assert.equal(res.status, 202);
      assert.equal((await client.done).cancelled, true);
      const checkpoints = listTree(dir).filter((p) => p.startsWith("chk-"));
      if (retainOnCancellation) assert.notDeepEqual(checkpoints, []);
      else assert.deepEqual(checkpoints, []);
    } finally {
      await client.done.catch(() => {});
      Deno.removeSync(dir, { recursive: true });
    }
  }
});

/** A job whose map fails on record 3 (of a key on one subtask) in its first attempt. */
function failingJob(delayMs: number) {
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: new HeapStateBackend(),
    restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs },
    log: () => {},
  });
  const source = new QueueSource<number>("numbers");
  let failed = false;
  env.addSource(source).uid("numbers")
    .keyBy((n) => n % 2).map((n) => {
      if (n === 3 && !failed) {
        failed = true;
        throw new Error("boom");
      }
      return n;
    }).uid("map")
    .addSink({ invoke() {} }, { uid: "sink" });
  const client = env.executeAsync("fails once");
  const runtime = jobClientRuntime(client);
  return { source, client, runtime, job: runtime.jobs()[0]!, app: createAdminApp(runtime) };
}

Deno.test("a failed attempt's failed subtask reads FAILED and the others CANCELED while the job restarts, in the REST API and the runtime view", async () => {
  const { source, client, job, app } = failingJob(60_000);
  const running = () => job.vertices().every((v) => v.subtaskStates?.RUNNING === v.parallelism);
  await until("subtasks to run", running);
  source.push(3);
  await until("the restart delay", () => job.status() === "RESTARTING");
  const failedTask = job.exceptions!()[0]!.taskName!;
  assert.match(failedTask, /^Map -> Sink \([12]\/2\)$/);
  const failedIndex = Number(failedTask.at(-4)) - 1;
  const expected = [0, 1].map((i) => i === failedIndex ? "FAILED" : "CANCELED");
  for (const uid of ["map", "sink"]) {
    const v = job.vertices().find((x) => x.uid === uid)!;
    assert.deepEqual(v.subtaskStates, { FAILED: 1, CANCELED: 1 });
    assert.deepEqual(v.subtasks!.map((s) => s.state), expected);
    const rest = await (await app.request(`/jobs/${job.id}/vertices/${vertexId(uid)}`)).json();
    assert.deepEqual(rest.subtasks.map((s: Json) => [s.status, s.attempt]), [
      [expected[0], 0],
      [expected[1], 0],
    ]);
  }
  // The failed attempt's subtasks ended when it failed, as Flink's execution attempts do.
  const failedAt = job.exceptions!()[0]!.timestamp;
  const map = await (await app.request(`/jobs/${job.id}/vertices/${vertexId("map")}`)).json();
  for (const s of map.subtasks) {
    assert.deepEqual([s["start-time"], s["end-time"]], [job.startTime, failedAt]);
    assert.equal(s.duration, failedAt - job.startTime);
  }
  const d = await (await app.request(`/jobs/${job.id}`)).json();
  assert.equal(d.state, "RESTARTING");
  assert.equal(d.vertices[1]["end-time"], failedAt);
  assert.deepEqual(d.vertices.map((v: Json) => v.status), ["CANCELED", "FAILED", "FAILED"]);
  assert.deepEqual(d["status-counts"].FAILED, 2);
  assert.deepEqual(d["status-counts"].CANCELED, 1);
  assert.deepEqual([d.tasks.failed, d.tasks.canceled], [2, 3]);
  client.cancel();
  assert.equal((await client.done).cancelled, true);
});

Deno.test("a job that failed for good shows the failed subtask FAILED and every other CANCELED, in the REST API and the runtime view", async () => {
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: new HeapStateBackend(),
    log: () => {},
  });
  // A source whose input does not end: no task finishes before the failure (one that had would
  // stay FINISHED).
  const source = new QueueSource<number>("numbers");
  env.addSource(source).uid("numbers")
    .keyBy((n) => n % 2, Serializers.i32).map((n) => {
      if (n === 5) throw new Error("boom");
      return n;
    }).uid("map")
    .addSink({ invoke() {} }, { uid: "sink" });
  const client = env.executeAsync("fails");
  const runtime = jobClientRuntime(client);
  const [job] = runtime.jobs();
  const app = createAdminApp(runtime);
  source.push(1, 2, 3, 4, 5, 6);
  await assert.rejects(client.done, /failed in task Map -> Sink \(1\/2\): boom/);
  await until("the job to fail", () => job!.status() === "FAILED");
  assert.deepEqual(job!.vertices().map((v) => v.subtaskStates), [
    { CANCELED: 1 },
    { CANCELED: 1, FAILED: 1 },
    { CANCELED: 1, FAILED: 1 },
  ]);
  const rest = await (await app.request(`/jobs/${job!.id}/vertices/${vertexId("map")}`)).json();
  assert.deepEqual(rest.subtasks.map((s: Json) => s.status), ["FAILED", "CANCELED"]);
  const d = await (await app.request(`/jobs/${job!.id}`)).json();
  assert.deepEqual(d.vertices.map((v: Json) => v.status), ["CANCELED", "FAILED", "FAILED"]);
  assert.deepEqual([d.tasks.failed, d.tasks.canceled, d.tasks.total], [2, 3, 5]);
});

Deno.test("after a restart a vertex's subtasks are the new attempt's: attempt 1, started after the failure, running; attempt 0 is served as it failed", async () => {
  const { source, client, job, app } = failingJob(0);
  const running = () => job.vertices().every((v) => v.subtaskStates?.RUNNING === v.parallelism);
  await until("subtasks to run", running);
  source.push(3);
  await until("the new attempt to run", () => job.restarts() === 1 && running());
  const failedAt = job.exceptions!()[0]!.timestamp;
  const map = await (await app.request(`/jobs/${job.id}/vertices/${vertexId("map")}`)).json();
  for (const s of map.subtasks) {
    assert.deepEqual([s.status, s.attempt, s["end-time"]], ["RUNNING", 1, -1]);
    assert.ok(s["start-time"] >= failedAt, `${s["start-time"]} < ${failedAt}`);
  }
  // Flink's subtask routes: the current attempt, by index and by attempt number.
  const path = `/jobs/${job.id}/vertices/${vertexId("map")}/subtasks`;
  const one = await (await app.request(`${path}/1`)).json();
  assert.deepEqual([one.subtask, one.status, one.attempt, one.task], [
    1,
    "RUNNING",
    1,
    "Map -> Sink (2/2)",
  ]);
  const byAttempt = await (await app.request(`${path}/1/attempts/1`)).json();
  assert.deepEqual([byAttempt.subtask, byAttempt.attempt], [1, 1]);
  // As Flink's prior execution attempts: attempt 0 as it failed (the failed task's subtask
  // FAILED, the other cancelled because of it), from the job's start to the failure.
  const failedTask = job.exceptions!()[0]!.taskName!;
  for (const i of [0, 1]) {
    const before = await (await app.request(`${path}/${i}/attempts/0`)).json();
    const failed = failedTask === `Map -> Sink (${i + 1}/2)`;
    assert.deepEqual(
      [before.subtask, before.attempt, before.status, before.task],
      [i, 0, failed ? "FAILED" : "CANCELED", `Map -> Sink (${i + 1}/2)`],
    );
    assert.deepEqual([before["start-time"], before["end-time"], before.duration], [
      job.startTime,
      failedAt,
      failedAt - job.startTime,
    ]);
    assert.equal(before["taskmanager-id"], "main");
  }
  const gone = await app.request(`${path}/1/attempts/2`);
  assert.equal(gone.status, 404);
  assert.match((await gone.json()).errors[0], /Attempt 2 not found for subtask 1/);
  assert.equal((await app.request(`${path}/2`)).status, 404); // parallelism 2
  assert.equal((await app.request(`${path}/x`)).status, 400);
  const d = await (await app.request(`/jobs/${job.id}`)).json();
  assert.equal(d["start-time"], job.startTime); // the job's own start stays
  assert.ok(d.vertices.every((v: Json) => v["start-time"] >= failedAt && v["end-time"] === -1));
  client.cancel();
  assert.equal((await client.done).cancelled, true);
});
