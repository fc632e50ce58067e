import assert from "node:assert/strict";
import type { CheckpointConfig } from "../checkpoint/coordinator.ts";
import { createAdminApp } from "./app.ts";
import type { AdminJob } from "./runtime.ts";

const JOB = "c".repeat(32);

/** A running job that counts the operations it was asked for; each completes at once. */
function countingJob() {
  const calls = { checkpoint: 0, savepoint: 0, stop: 0 };
  let status: "RUNNING" | "FINISHED" = "RUNNING";
  const job: AdminJob = {
    id: JOB,
    name: "counting",
    startTime: 0,
    status: () => status,
    endTime: () => undefined,
    restarts: () => 0,
    maxParallelism: () => 128,
    vertices: () => [],
    checkpointConfig: () => ({ dir: "/ck" }) as CheckpointConfig,
    checkpoints: () => ({ history: [], inProgress: [] }),
    segments: () => [],
    triggerCheckpoint: () => Promise.resolve({ id: ++calls.checkpoint, location: "/ck/chk-1" }),
    triggerSavepoint: () =>
      Promise.resolve({ id: ++calls.savepoint, location: "/ck/savepoints/sp" }),
    stopWithSavepoint: () => {
      calls.stop++;
      status = "FINISHED";
      return Promise.resolve({ id: 9, location: "/ck/savepoints/stop" });
    },
    cancel: () => {},
    queryState: () => Promise.resolve({ kind: "unknown-key", message: "none" }),
  };
  return { job, calls };
}

Deno.test("POST savepoints, stop and checkpoints take Flink's triggerId: a retry starts nothing twice", async () => {
  const { job, calls } = countingJob();
  const app = createAdminApp({ jobs: () => [job] });
  const post = async (path: string, body: unknown, status = 202) => {
    const res = await app.request(`/jobs/${JOB}/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    assert.equal(res.status, status, `${path}: ${JSON.stringify(json)}`);
    return json;
  };
  // What Flink's REST client sends when it sets no id.
  const fresh = await post("savepoints", {
    "target-directory": null,
    "cancel-job": false,
    formatType: "CANONICAL",
    triggerId: null,
  });
  assert.match(fresh["request-id"], /^[0-9a-f]{32}$/);
  const a = "a".repeat(32);
  assert.deepEqual(await post("savepoints", { triggerId: a }), { "request-id": a });
  assert.deepEqual(await post("savepoints", { triggerId: a }), { "request-id": a });
  assert.equal(calls.savepoint, 2);
  const status = await (await app.request(`/jobs/${JOB}/savepoints/${a}`)).json();
  assert.deepEqual(status, {
    status: { id: "COMPLETED" },
    operation: { location: "/ck/savepoints/sp" },
  });

  const b = "b".repeat(32);
  assert.deepEqual(await post("checkpoints", { checkpointType: "CONFIGURED", triggerId: b }), {
    "request-id": b,
  });
  assert.deepEqual(await post("checkpoints", { triggerId: b }), { "request-id": b });
  assert.equal(calls.checkpoint, 1);
  // An id of another operation, and a malformed one, are refused.
  await post("savepoints", { triggerId: b }, 409);
  await post("checkpoints", { triggerId: "not-hex" }, 400);

  // A retried stop gets its savepoint again, also once the job has ended.
  const d = "d".repeat(32);
  assert.deepEqual(
    await post("stop", { drain: false, targetDirectory: null, formatType: null, triggerId: d }),
    { "request-id": d },
  );
  assert.deepEqual(await post("stop", { drain: false, triggerId: d }), { "request-id": d });
  assert.equal(calls.stop, 1);
  await post("stop", { triggerId: "e".repeat(32) }, 409);
});
