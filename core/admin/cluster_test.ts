import assert from "node:assert/strict";
import { CollectSink } from "../connectors/collect_sink.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { QueueSource } from "../../tests/_helpers/queue_source.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { createAdminApp } from "./app.ts";
import type { AdminRuntime } from "./runtime.ts";
import { jobClientRuntime } from "./runtime.ts";

Deno.test("GET /overview counts jobs by state and the threads that run them, as Flink's cluster overview", async () => {
  // Inline: one thread (the test's) runs the job's three tasks (the queue's one reader, then two
  // subtasks of map -> sink).
  const env = StreamEnvironment.create({ parallelism: 2, executor: "inline" });
  const src = new QueueSource<number>();
  env.addSource(src).uid("numbers").rebalance().map((n: number) => n + 1).uid("plus")
    .addSink(new CollectSink());
  const running = env.executeAsync("running");
  const done = StreamEnvironment.create();
  done.fromElements(1, 2).addSink(new CollectSink());
  const finished = done.executeAsync("finished");
  await finished.done;
  const runtimes = [jobClientRuntime(running), jobClientRuntime(finished)];
  const app = createAdminApp({ jobs: () => runtimes.flatMap((r: AdminRuntime) => r.jobs()) });
  try {
    // The thread reports its tasks once it runs them.
    const deadline = performance.now() + 10_000;
    while ((await (await app.request("/overview")).json()).taskmanagers !== 1) {
      assert.ok(performance.now() < deadline, "the running job's thread reports");
      await new Promise((r) => setTimeout(r, 10));
    }
    const overview = await (await app.request("/overview")).json();
    assert.deepEqual(overview, {
      taskmanagers: 1,
      "slots-total": 3,
      "slots-available": 0,
      "jobs-running": 1,
      "jobs-finished": 1,
      "jobs-cancelled": 0,
      "jobs-failed": 0,
      "weir-version": denoJson.version,
    });
    const { taskmanagers } = await (await app.request("/taskmanagers")).json();
    const slots = taskmanagers.reduce(
      (n: number, t: { slotsNumber: number }) => n + t.slotsNumber,
      0,
    );
    assert.equal(overview["slots-total"], slots);
    assert.ok(slots >= 2, String(slots));
  } finally {
    running.cancel();
    await running.done.catch(() => {});
  }
  const after = await (await app.request("/overview")).json();
  assert.equal(after["jobs-running"], 0);
  assert.equal(after["jobs-cancelled"], 1);
  assert.equal(after.taskmanagers, 0, "an ended job runs no threads");
});

Deno.test("GET /config answers Flink's dashboard configuration fields", async () => {
  const res = await createAdminApp({ jobs: () => [] }).request("/config");
  assert.equal(res.status, 200);
  const config = await res.json();
  assert.equal(config["refresh-interval"], 3000);
  assert.equal(config["timezone-offset"], -new Date().getTimezoneOffset() * 60_000 || 0);
  // The process's zone, named as IANA names it: its offset now is the one reported.
  assert.equal(config["timezone-name"], Intl.DateTimeFormat().resolvedOptions().timeZone);
  const gmt = new Intl.DateTimeFormat("en-US", {
    timeZone: config["timezone-name"],
    timeZoneName: "longOffset",
  }).formatToParts(new Date()).find((p) => p.type === "timeZoneName")!.value; // "GMT+05:30"
  const [, sign, h, m] = /^GMT(?:([+-])(\d\d):(\d\d))?$/.exec(gmt)!;
  const offset = sign ? (sign === "-" ? -1 : 1) * (Number(h) * 60 + Number(m)) * 60_000 : 0;
  assert.equal(config["timezone-offset"], offset);
  assert.equal(config["weir-version"], denoJson.version);
  assert.deepEqual(config.features, {
    "web-submit": false,
    "web-cancel": true,
    "web-rescale": false,
    "web-history": false,
  });
  assert.equal(
    (await createAdminApp({ jobs: () => [] }).request("/overview", { method: "POST" })).status,
    404,
  );
});
