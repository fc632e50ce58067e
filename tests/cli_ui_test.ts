/**
 * `weir ui --checkpoint-dir DIR` after the job stopped: the dashboard's API
 * answers from the checkpoint directory, read-only.
 */
import assert from "node:assert/strict";
import { HeapStateBackend, StreamEnvironment } from "../mod.ts";
import {
  type CheckpointHistoryEntry,
  type OperatorFigures,
  readHistory,
} from "../core/checkpoint/history.ts";
import { buildAdminJob } from "./_helpers/admin_job.ts";
import { readAdminUrl } from "./_helpers/admin_url.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("weir ui serves a stopped job's checkpoints, operators and state, read-only", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-ui-" });
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir, intervalMs: 50 },
    log: () => {},
  });
  buildAdminJob(env, 4000);
  const client = env.executeAsync("ui job");
  // A periodic checkpoint holds counted words before the stop's savepoint. A checkpoint's figures
  // are taken when it completes, after its barrier, so one showing words counted may hold none in
  // its state: wait for one triggered after words were seen counted.
  const deadline = Date.now() + 30_000;
  let countedAt = 0;
  for (;;) {
    const periodic = readHistory(dir).filter((h): h is CheckpointHistoryEntry =>
      h.kind === "checkpoint" && h.status === "COMPLETED" && !h.is_savepoint
    );
    if (
      countedAt === 0 &&
      periodic.some((h) => h.operators?.some((f) => f.uid === "count" && f.records_in > 0))
    ) countedAt = Date.now();
    if (countedAt > 0 && periodic.some((h) => h.trigger_timestamp > countedAt)) break;
    assert.ok(Date.now() < deadline, "no checkpoint completed with words counted");
    await new Promise((r) => setTimeout(r, 20));
  }
  await client.stopWithSavepoint();
  await client.done;

  const ui = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../cli/main.ts", import.meta.url).pathname,
      "ui",
      "--checkpoint-dir",
      dir,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const url = await readAdminUrl(ui.stderr);
    const get = async (path: string, status = 200): Promise<Json> => {
      const res = await fetch(`${url}${path}`);
      const body = await res.json();
      assert.equal(res.status, status, `${path}: ${JSON.stringify(body)}`);
      return body;
    };

    const { jobs } = await get("/jobs");
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].status, "FINISHED");
    const id = jobs[0].id as string;
    const detail = await get(`/jobs/${id}`);
    assert.match(detail.name, /^ui job \(checkpoints in /);
    assert.deepEqual(detail.vertices.map((v: Json) => [v.uid, v.parallelism]), [
      ["words", 2],
      ["count", 2],
      ["sink", 2],
    ]);
    assert.equal(detail.isStoppable, false);
    // Records, watermark and edges as the newest completed checkpoint's history entry kept them;
    // backpressure and per-subtask records are not kept, and the answer says so.
    const kept = readHistory(dir).findLast((h) =>
      h.kind === "checkpoint" && h.status === "COMPLETED"
    );
    const figures: readonly OperatorFigures[] | undefined = kept?.kind === "checkpoint"
      ? kept.operators
      : undefined;
    assert.ok(figures, "a completed checkpoint keeps its operators' figures");
    assert.deepEqual(detail["not-recorded"], ["backpressure", "subtask records"]);
    for (const v of detail.vertices) {
      const f: OperatorFigures = figures.find((x) => x.uid === v.uid)!;
      assert.equal(v.metrics["read-records"], f.records_in);
      assert.equal(v.metrics["write-records"], f.records_out);
    }
    assert.ok(figures.find((f) => f.uid === "count")!.records_in > 0);
    assert.deepEqual(
      detail.plan.nodes.map((n: Json) => n.inputs?.map((i: Json) => i.ship_strategy)),
      [undefined, ["HASH"], ["FORWARD"]],
    );

    // The checkpoint history is the directory's, with per-task detail.
    const completed = readHistory(dir).filter((h) => "trigger_timestamp" in h)
      .map((h) => (h as { id: number }).id);
    const checkpoints = await get(`/jobs/${id}/checkpoints`);
    assert.deepEqual(
      checkpoints.history.map((h: Json) => h.id).sort((a: number, b: number) => a - b),
      [...new Set(completed)].sort((a, b) => a - b),
    );
    assert.ok(checkpoints.counts.completed >= 2, JSON.stringify(checkpoints.counts));
    const newest = checkpoints.history[0];
    const one = await get(`/jobs/${id}/checkpoints/details/${newest.id}`);
    assert.ok(Object.keys(one.tasks).length > 0);
    // Each operator subtask's state size is its task's in that newest checkpoint.
    const counter = detail.vertices.find((v: Json) => v.uid === "count");
    const subtasks = (await get(`/jobs/${id}/vertices/${counter.id}`)).subtasks as Json[];
    assert.deepEqual(subtasks.map((s) => s.subtask), [0, 1]);
    for (const s of subtasks) {
      assert.match(s.task, /KeyedProcess.* \([12]\/2\)$/);
      assert.equal(s.stateSize, one.tasks[s.task].state_size);
    }

    // Queryable state from the newest checkpoint (chk-N, not the stop's savepoint): which of the
    // ten words it holds depends on how far each source subtask had read when it was taken, so
    // every word answers either its count or a 404 saying it has no value, and some word counts.
    let counted = 0;
    for (let w = 0; w < 10; w++) {
      const res = await fetch(`${url}/jobs/${id}/state/count/count?key=w${w}`);
      const body = await res.json();
      if (res.status === 200) {
        assert.ok(body.value > 0, JSON.stringify(body));
        counted++;
      } else {
        assert.equal(res.status, 404, JSON.stringify(body));
        assert.match(body.errors[0], new RegExp(`^Key "w${w}" has no value in state "count"`));
      }
    }
    assert.ok(counted > 0, "the newest checkpoint holds some word's count");
    await get(`/jobs/${id}/state/count/nope?key=w3`, 404);

    // Read-only: nothing can be triggered or cancelled.
    const cancel = await fetch(`${url}/jobs/${id}?mode=cancel`, { method: "PATCH" });
    assert.equal(cancel.status, 409);
    await cancel.body?.cancel();
    const savepoint = await fetch(`${url}/jobs/${id}/savepoints`, { method: "POST" });
    assert.equal(savepoint.status, 409);
    assert.match((await savepoint.json()).errors[0], /is FINISHED, not running/);
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /id="job-graph"/);
  } finally {
    ui.kill("SIGTERM");
    const status = await ui.status;
    assert.equal(status.code, 0);
    Deno.removeSync(dir, { recursive: true });
  }
});
