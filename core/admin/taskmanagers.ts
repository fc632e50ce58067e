/**
 * `GET /taskmanagers`: the threads that run the jobs' subtasks, as Flink lists
 * its TaskManagers: the main thread and the worker executor's Web Workers,
 * with the tasks each runs and its V8 heap (each Web Worker has its own).
 *
 * @module
 */
import { Hono } from "./_hono.ts";
import type { AdminRuntime } from "./runtime.ts";

/** The taskmanagers route. */
export function taskManagersRoutes(runtime: AdminRuntime): Hono {
  const app = new Hono();
  app.get("/taskmanagers", (c) => {
    const now = Date.now();
    const taskmanagers = runtime.jobs().flatMap((job) =>
      (job.threads?.() ?? []).map((t) => ({
        id: t.id,
        // weir's: the job it runs for (one process may serve several).
        jobId: job.id,
        timeSinceLastHeartbeat: Math.max(0, now - t.reportedAt),
        slotsNumber: t.tasks,
        freeSlots: 0,
        hardware: { cpuCores: navigator.hardwareConcurrency },
        heapUsed: t.heapUsedBytes,
        heapTotal: t.heapTotalBytes,
      }))
    );
    return c.json({ taskmanagers });
  });
  return app;
}
