import assert from "node:assert/strict";
import type { CheckpointHistoryEntry } from "../checkpoint/history.ts";
import { createAdminApp } from "./app.ts";
import type { AdminJob } from "./runtime.ts";

function jobWithHistory(n: number): AdminJob {
  const history: CheckpointHistoryEntry[] = Array.from({ length: n }, (_, i) => ({
    kind: "checkpoint",
    id: i + 1,
    status: "COMPLETED",
    is_savepoint: false,
    trigger_timestamp: 1000 + i,
    latest_ack_timestamp: 1001 + i,
    end_to_end_duration: 1,
    state_size: 10,
    checkpointed_size: 1,
    num_subtasks: 1,
    num_acknowledged_subtasks: 1,
    external_path: `/ck/chk-${i + 1}`,
    tasks: [],
  }));
  const unused = () => Promise.reject(new Error("unused"));
  return {
    id: "b".repeat(32),
    name: "history",
    startTime: 0,
    status: () => "RUNNING",
    endTime: () => undefined,
    restarts: () => 0,
    maxParallelism: () => 128,
    vertices: () => [],
    checkpointConfig: () => undefined,
    checkpoints: () => ({
      history,
      inProgress: [{
        id: n + 1,
        isSavepoint: false,
        triggeredAt: 5000,
        latestAckAt: undefined,
        tasks: 2,
        acknowledged: 1,
      }],
    }),
    segments: () => [],
    triggerCheckpoint: unused,
    triggerSavepoint: unused,
    stopWithSavepoint: unused,
    cancel: () => {},
    queryState: () => Promise.resolve({ kind: "unknown-key", message: "none" }),
  };
}

Deno.test("GET /checkpoints pages its history with ?limit and ?offset, newest first", async () => {
  const app = createAdminApp({ jobs: () => [jobWithHistory(250)] });
  // deno-lint-ignore no-explicit-any
  const get = async (query: string, status = 200): Promise<any> => {
    const res = await app.request(`/jobs/${"b".repeat(32)}/checkpoints${query}`);
    const body = await res.json();
    assert.equal(res.status, status, JSON.stringify(body));
    return body;
  };
  const first = await get("");
  // The newest 100 by default (the one in flight first); counts cover the whole history.
  assert.equal(first.history.length, 100);
  assert.deepEqual([first.history[0].id, first.history[99].id], [251, 152]);
  assert.equal(first.counts.total, 251);
  assert.deepEqual([first.history_total, first.history_offset], [251, 0]);
  const older = await get("?limit=60&offset=200");
  assert.deepEqual(
    older.history.map((h: { id: number }) => h.id),
    [51, 50, 49].concat(
      Array.from({ length: 48 }, (_, i) => 48 - i),
    ),
  );
  assert.equal(older.history_offset, 200);
  assert.deepEqual((await get("?offset=300")).history, []);
  assert.equal((await get("?limit=10000")).history.length, 251);
  for (const bad of ["?limit=-1", "?limit=ten", "?limit=10001", "?offset=1.5"]) {
    const body = await get(bad, 400);
    assert.match(body.errors[0], /must be an integer from 0 to/);
  }
});

Deno.test("POST /checkpoints and /savepoints on a job without checkpointing both answer 409", async () => {
  const app = createAdminApp({ jobs: () => [jobWithHistory(0)] });
  const base = `/jobs/${"b".repeat(32)}`;
  for (const [path, what] of [["checkpoints", "Checkpoints"], ["savepoints", "Savepoints"]]) {
    const res = await app.request(`${base}/${path}`, { method: "POST", body: "{}" });
    const body = await res.json();
    assert.equal(res.status, 409, JSON.stringify(body));
    assert.deepEqual(body, {
      errors: [`${what} need checkpointing (--checkpoint-dir); job ${"b".repeat(32)} has none`],
    });
  }
  // Reading a configuration that is not there stays 404, as in Flink's CheckpointConfigHandler.
  const config = await app.request(`${base}/checkpoints/config`);
  assert.equal(config.status, 404);
  assert.match((await config.json()).errors[0], /Checkpointing is not enabled/);
});

Deno.test("GET /checkpoints lists each checkpoint with Flink's tasks ({}) and is_unaligned, which Flink's client requires", async () => {
  const app = createAdminApp({ jobs: () => [jobWithHistory(3)] });
  const body = await (await app.request(`/jobs/${"b".repeat(32)}/checkpoints`)).json();
  const entries = [...body.history, body.latest.completed];
  assert.equal(entries.length, 5); // one in progress, three completed, and the latest again
  for (const e of entries) {
    assert.deepEqual(e.tasks, {}, JSON.stringify(e));
    assert.equal(e.is_unaligned, false);
  }
});
