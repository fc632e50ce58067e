/**
 * Savepoint resources (Flink's shapes): `POST /jobs/:jobid/savepoints` with
 * `{"target-directory"?, "cancel-job"?, "formatType"?, "triggerId"?}` → 202 `{"request-id"}`,
 * `GET /jobs/:jobid/savepoints/:triggerid` → `{"status": {"id"}, "operation"}`,
 * and `POST /jobs/:jobid/stop` with `{"drain"?, "targetDirectory"?, "formatType"?, "triggerId"?}`
 * (stop with savepoint, polled the same way; `drain` fires every window and
 * timer first, false by default as in Flink).
 *
 * @module
 */
import { Hono } from "./_hono.ts";
import { checkHexId, fail, jobParam, jsonBody, optionalBoolean, optionalString } from "./http.ts";
import { clientTriggerId, type Operations } from "./operations.ts";
import type { AdminJob, AdminRuntime } from "./runtime.ts";
import { checkTargetDirectory } from "./target_directory.ts";

function needRunning(job: AdminJob): void {
  // A job that has ended (or `weir ui`'s view of one) takes no savepoint, checkpointing or not.
  if (job.status() !== "RUNNING") fail(409, `Job ${job.id} is ${job.status()}, not running`);
  if (!job.checkpointConfig()) {
    fail(409, `Savepoints need checkpointing (--checkpoint-dir); job ${job.id} has none`);
  }
}

/**
 * A requested target directory, checked: inside the checkpoint directory's
 * `savepoints/` or `savepointDir` (400 otherwise); undefined when it is
 * `savepoints/` itself, where the savepoint is written anyway.
 */
function targetOf(job: AdminJob, target: string | undefined, savepointDir: string | undefined) {
  if (target === undefined) return undefined;
  const own = `${job.checkpointConfig()!.dir}/savepoints`;
  let checked: string;
  try {
    checked = checkTargetDirectory(target, [own, ...(savepointDir ? [savepointDir] : [])]);
  } catch (e) {
    fail(400, (e as Error).message);
  }
  return checked === checkTargetDirectory(own, [own]) ? undefined : checked;
}

/**
 * Checks Flink's `formatType`: weir has one savepoint format, which serves as
 * either of Flink's (self-contained, restorable at another parallelism), so
 * both names are taken; anything else is a 400, as in Flink.
 */
function checkFormatType(body: Record<string, unknown>): void {
  const v = body.formatType;
  if (v !== undefined && v !== null && v !== "CANONICAL" && v !== "NATIVE") {
    fail(400, `Field "formatType" must be "CANONICAL" or "NATIVE", got ${JSON.stringify(v)}`);
  }
}

/** The savepoint routes; `savepointDir` is a further root for target directories. */
export function savepointsRoutes(
  runtime: AdminRuntime,
  ops: Operations,
  savepointDir?: string,
): Hono {
  const app = new Hono();
  app.post("/jobs/:jobid/savepoints", async (c) => {
    const job = jobParam(c, runtime);
    const body = await jsonBody(c, ["target-directory", "cancel-job", "formatType", "triggerId"]);
    checkFormatType(body);
    const target = optionalString(body, "target-directory");
    const cancelJob = optionalBoolean(body, "cancel-job") ?? false;
    const trigger = clientTriggerId(ops, job.id, "savepoint", body);
    // A retried request (Flink's triggerId) gets its operation again, not a second savepoint.
    if (trigger?.retried) return c.json({ "request-id": trigger.id }, 202);
    needRunning(job);
    const targetDirectory = targetOf(job, target, savepointDir);
    const work = job.triggerSavepoint({
      ...(targetDirectory !== undefined ? { targetDirectory } : {}),
      cancelJob,
    });
    return c.json({ "request-id": ops.start(job.id, "savepoint", work, trigger?.id) }, 202);
  });
  app.post("/jobs/:jobid/stop", async (c) => {
    const job = jobParam(c, runtime);
    const body = await jsonBody(c, ["drain", "targetDirectory", "formatType", "triggerId"]);
    checkFormatType(body);
    const target = optionalString(body, "targetDirectory");
    // Flink's default: no drain, so windows and timers resume after a restore.
    const drain = optionalBoolean(body, "drain") ?? false;
    const trigger = clientTriggerId(ops, job.id, "savepoint", body);
    // A retried stop (Flink's triggerId) gets its operation again, also once the job has ended.
    if (trigger?.retried) return c.json({ "request-id": trigger.id }, 202);
    needRunning(job);
    const targetDirectory = targetOf(job, target, savepointDir);
    const work = job.stopWithSavepoint({
      ...(targetDirectory !== undefined ? { targetDirectory } : {}),
      drain,
    });
    return c.json({ "request-id": ops.start(job.id, "savepoint", work, trigger?.id) }, 202);
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
