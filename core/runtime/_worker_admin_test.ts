import assert from "node:assert/strict";
import { WorkerAdminLink } from "./_worker_admin.ts";
import type { AdminToWorker } from "./_worker_protocol.ts";

Deno.test("worker admin link: a state query goes to the worker given and gets its answer", async () => {
  const sent: [number, AdminToWorker][] = [];
  const link = new WorkerAdminLink(2, (w, msg) => sent.push([w, msg]));
  const answer = link.queryState(
    1,
    { uid: "count", subtaskIndex: 1, stateName: "n", key: "k" },
    50,
  );
  const [[worker, msg]] = sent as [[number, AdminToWorker]];
  assert.equal(worker, 1);
  assert.ok(msg.type === "queryState");
  assert.equal(msg.key, "k");
  link.receive(1, {
    type: "stateAnswer",
    request: msg.request,
    answer: { kind: "found", value: 3 },
  });
  assert.deepEqual(await answer, { kind: "found", value: 3 });
});

Deno.test("worker admin link: a worker that never answers is a timeout naming it; close ends what waits", async () => {
  const link = new WorkerAdminLink(2, () => {});
  const answer = await link.queryState(
    0,
    { uid: "c", subtaskIndex: 0, stateName: "n", key: 1 },
    10,
  );
  assert.equal(answer.kind, "timeout");
  assert.match((answer as { message: string }).message, /Worker 0 did not answer/);
  const pending = link.queryState(1, { uid: "c", subtaskIndex: 1, stateName: "n", key: 1 }, 60_000);
  link.close();
  assert.equal((await pending).kind, "ended");
});

Deno.test("worker admin link: reports (subtasks and thread) replace a worker's previous ones; a silent worker's stay", async () => {
  const link = new WorkerAdminLink(2, () => {});
  const r = (uid: string, subtaskIndex: number) => ({
    uid,
    subtaskIndex,
    at: 0,
    task: "t",
    state: "RUNNING" as const,
    thread: "weir-worker/0",
    recordsIn: 0,
    recordsOut: 0,
    backPressuredMs: 0,
    watermark: 0,
    lastTimestamp: NaN,
    inputWatermark: 0,
    inputLatencyMs: NaN,
    userMetrics: [],
    liveSegments: [],
  });
  const thread = (w: number, heapUsedBytes: number) => ({
    thread: `weir-worker/${w}`,
    at: 0,
    tasks: 1,
    heapUsedBytes,
    heapTotalBytes: 2 * heapUsedBytes,
  });
  assert.deepEqual(link.threads(), [], "no thread before its first report");
  link.receive(0, { type: "report", request: null, subtasks: [r("a", 0)], thread: thread(0, 10) });
  link.receive(1, { type: "report", request: null, subtasks: [r("a", 1)], thread: thread(1, 20) });
  link.receive(0, { type: "report", request: null, subtasks: [r("b", 0)], thread: thread(0, 30) });
  const started = Date.now();
  await link.refresh(); // no worker answers: the wait is short and the old reports stand
  assert.ok(Date.now() - started < 2000);
  assert.deepEqual(link.reports().map((x) => `${x.uid}/${x.subtaskIndex}`), ["b/0", "a/1"]);
  assert.deepEqual(link.threads().map((t) => [t.thread, t.heapUsedBytes]), [
    ["weir-worker/0", 30],
    ["weir-worker/1", 20],
  ]);
});
