/**
 * Checkpoint resources (Flink's paths and fields): `GET /jobs/:jobid/checkpoints`
 * (weir's `?limit=N&offset=M` pages its history, newest first),
 * `GET /jobs/:jobid/checkpoints/config`,
 * `GET /jobs/:jobid/checkpoints/details/:checkpointid`,
 * `POST /jobs/:jobid/checkpoints` (then `GET /jobs/:jobid/checkpoints/:triggerid`).
 *
 * @module
 */
import { resolve } from "node:path";
import { Hono } from "./_hono.ts";
import { checkHexId, fail, jobParam, jsonBody } from "./http.ts";
import { clientTriggerId, type Operations } from "./operations.ts";
import type { AdminJob, AdminRuntime } from "./runtime.ts";
import {
  checkpointDetail,
  checkpointsOverview,
  HISTORY_LIMIT,
  type HistoryPage,
  latestPerId,
  MAX_HISTORY_LIMIT,
} from "./stats.ts";

/** `?limit=` and `?offset=` of a history request: 400 for anything but fitting integers. */
function historyPage(limit: string | undefined, offset: string | undefined): HistoryPage {
  const int = (name: string, raw: string | undefined, fallback: number, max: number) => {
    if (raw === undefined) return fallback;
    if (!/^\d{1,9}$/.test(raw) || Number(raw) > max) {
      fail(400, `Query parameter "${name}" must be an integer from 0 to ${max}, not "${raw}"`);
    }
    return Number(raw);
  };
  return {
    limit: int("limit", limit, HISTORY_LIMIT, MAX_HISTORY_LIMIT),
    offset: int("offset", offset, 0, 999_999_999),
  };
}

function needCheckpointing(job: AdminJob) {
  const config = job.checkpointConfig();
  if (!config) fail(404, `Checkpointing is not enabled for job ${job.id} (--checkpoint-dir)`);
  return config;
}

/** The checkpoint routes. */
export function checkpointsRoutes(runtime: AdminRuntime, ops: Operations): Hono {
  const app = new Hono();
  app.get("/jobs/:jobid/checkpoints", (c) => {
    const job = jobParam(c, runtime);
    const page = historyPage(c.req.query("limit"), c.req.query("offset"));
    const { history, inProgress } = job.checkpoints();
    return c.json(checkpointsOverview(history, inProgress, Date.now(), page));
  });
  app.get("/jobs/:jobid/checkpoints/config", (c) => {
    const config = needCheckpointing(jobParam(c, runtime));
    return c.json({
      mode: config.mode === "exactly-once" ? "exactly_once" : "at_least_once",
      interval: config.intervalMs ?? 0x7fffffffffffffff,
      timeout: config.timeoutMs,
      min_pause: config.minPauseMs,
      max_concurrent: config.maxConcurrent,
      tolerable_failed_checkpoints: config.tolerableFailures,
      externalization: {
        enabled: true,
        delete_on_cancellation: !config.retainOnCancellation,
      },
      state_backend: "weir",
      checkpoint_storage: config.database === undefined
        ? "FileSystemCheckpointStorage"
        : config.database.startsWith("redis")
        ? "RedisCheckpointStorage"
        : "PostgresCheckpointStorage",
      // weir's: where a database keeps the checkpoints (never with credentials).
      ...(config.database === undefined ? {} : { database: config.database }),
      unaligned_checkpoints: false,
      checkpoints_after_tasks_finish: true,
      // Absolute, as the paths in the checkpoint history (a client elsewhere uses it).
      directory: resolve(config.dir),
      retained: config.retained,
    });
  });
  app.get("/jobs/:jobid/checkpoints/details/:checkpointid", (c) => {
    const job = jobParam(c, runtime);
    const raw = c.req.param("checkpointid");
    if (!/^[1-9]\d{0,15}$/.test(raw)) {
      fail(400, `Malformed checkpoint id "${raw}": expected a positive integer`);
    }
    const id = Number(raw);
    const { history, inProgress } = job.checkpoints();
    const entry = latestPerId(history).find((e) => e.id === id);
    if (entry) return c.json(checkpointDetail(entry));
    const pending = inProgress.find((p) => p.id === id);
    if (pending) {
      return c.json({
        className: "in_progress",
        id,
        status: "IN_PROGRESS",
        is_savepoint: pending.isSavepoint,
        trigger_timestamp: pending.triggeredAt,
        num_subtasks: pending.tasks,
        num_acknowledged_subtasks: pending.acknowledged,
        tasks: {},
      });
    }
    fail(404, `Job ${job.id} has no checkpoint ${id} in its history`);
  });
  app.post("/jobs/:jobid/checkpoints", async (c) => {
    const job = jobParam(c, runtime);
    const body = await jsonBody(c, ["checkpointType", "triggerId"]);
    const { checkpointType } = body;
    // Flink's values; weir's checkpoints are incremental (what a job is configured with).
    if (
      checkpointType !== undefined && checkpointType !== "CONFIGURED" &&
      checkpointType !== "INCREMENTAL"
    ) {
      fail(
        400,
        `checkpointType must be CONFIGURED or INCREMENTAL (weir takes incremental checkpoints; ` +
          `a FULL one is a savepoint: POST /jobs/${job.id}/savepoints), got ${
            JSON.stringify(checkpointType)
          }`,
      );
    }
    const trigger = clientTriggerId(ops, job.id, "checkpoint", body);
    // A retried request (Flink's triggerId) gets its operation again, not a second checkpoint.
    if (trigger?.retried) return c.json({ "request-id": trigger.id }, 202);
    if (job.status() !== "RUNNING") fail(409, `Job ${job.id} is ${job.status()}, not running`);
    // The job exists but its configuration refuses the request: 409, as POST /savepoints
    // answers (a 404 would read as an unknown job or path).
    if (!job.checkpointConfig()) {
      fail(409, `Checkpoints need checkpointing (--checkpoint-dir); job ${job.id} has none`);
    }
    const id = ops.start(job.id, "checkpoint", job.triggerCheckpoint(), trigger?.id);
    return c.json({ "request-id": id }, 202);
  });
  app.get("/jobs/:jobid/checkpoints/:triggerid", (c) => {
    const job = jobParam(c, runtime);
    const id = checkHexId("trigger id", c.req.param("triggerid"));
    const op = ops.get(job.id, id);
    if (!op || op.kind !== "checkpoint") fail(404, `Job ${job.id} has no checkpoint trigger ${id}`);
    return c.json({
      status: { id: op.status },
      ...(op.status === "COMPLETED"
        ? {
          operation: op.result
            ? { checkpointId: op.result.id }
            : { "failure-cause": { class: "CheckpointError", "stack-trace": op.failure } },
        }
        : {}),
    });
  });
  return app;
}
