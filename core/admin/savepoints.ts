/**
 * Savepoint resources (Flink's shapes): `POST /jobs/:jobid/savepoints` with
 * `{"target-directory"?, "cancel-job"?}` → 202 `{"request-id"}`,
 * `GET /jobs/:jobid/savepoints/:triggerid` → `{"status": {"id"}, "operation"}`,
 * and `POST /jobs/:jobid/stop` with `{"drain"?, "targetDirectory"?}`
 * (stop with savepoint, polled the same way; `drain` fires every window and
 * timer first, false by default as in Flink).
 *
 * @module
 */
import { Hono } from "hono";
import { checkHexId, fail, jobParam, jsonBody, optionalBoolean, optionalString } from "./http.ts";
import type { Operations } from "./operations.ts";
import type { AdminJob, AdminRuntime } from "./runtime.ts";

function needRunning(job: AdminJob): void {
  if (!job.checkpointConfig()) {
    fail(409, `Savepoints need checkpointing (--checkpoint-dir); job ${job.id} has none`);
  }
  if (job.status() !== "RUNNING") fail(409, `Job ${job.id} is ${job.status()}, not running`);
}

/** The savepoint routes. */
export function savepointsRoutes(runtime: AdminRuntime, ops: Operations): Hono {
  const app = new Hono();
  app.post("/jobs/:jobid/savepoints", async (c) => {
    const job = jobParam(c, runtime);
    const body = await jsonBody(c, ["target-directory", "cancel-job", "formatType"]);
    const targetDirectory = optionalString(body, "target-directory");
    const cancelJob = optionalBoolean(body, "cancel-job") ?? false;
    needRunning(job);
    const work = job.triggerSavepoint({
      ...(targetDirectory !== undefined ? { targetDirectory } : {}),
      cancelJob,
    });
    return c.json({ "request-id": ops.start(job.id, "savepoint", work) }, 202);
  });
  app.post("/jobs/:jobid/stop", async (c) => {
    const job = jobParam(c, runtime);
    const body = await jsonBody(c, ["drain", "targetDirectory", "formatType"]);
    const targetDirectory = optionalString(body, "targetDirectory");
    // Flink's default: no drain, so windows and timers resume after a restore.
    const drain = optionalBoolean(body, "drain") ?? false;
    needRunning(job);
    const work = job.stopWithSavepoint({
      ...(targetDirectory !== undefined ? { targetDirectory } : {}),
      drain,
    });
    return c.json({ "request-id": ops.start(job.id, "savepoint", work) }, 202);
  });
  app.get("/jobs/:jobid/savepoints/:triggerid", (c) => {
    const job = jobParam(c, runtime);
    const id = checkHexId("trigger id", c.req.param("triggerid"));
    const op = ops.get(job.id, id);
    if (!op || op.kind !== "savepoint") fail(404, `Job ${job.id} has no savepoint trigger ${id}`);
    return c.json({
      status: { id: op.status },
      ...(op.status === "COMPLETED"
        ? {
          operation: op.result ? { location: op.result.location } : {
            "failure-cause": { class: "CheckpointError", "stack-trace": op.failure },
          },
        }
        : {}),
    });
  });
  return app;
}
