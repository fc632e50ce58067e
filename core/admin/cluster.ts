/**
 * `GET /overview` and `GET /config`: Flink's cluster overview and dashboard
 * configuration, which Flink's tools read first (a monitoring script's job
 * counts, a client's refresh interval). weir's process is the cluster: its
 * "TaskManagers" are the threads that run subtasks (`GET /taskmanagers`),
 * each with as many slots as it runs tasks, none free. Flink's version
 * fields are left out rather than filled with a Flink version weir is not:
 * `weir-version` says what answers.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { Hono } from "./_hono.ts";
import type { AdminRuntime, JobStatus } from "./runtime.ts";

/** What `GET /config` tells a client to poll at, in ms (as Flink's `web.refresh-interval`). */
const REFRESH_INTERVAL_MS = 3000;

/** The `GET /overview` and `GET /config` routes. */
export function clusterRoutes(runtime: AdminRuntime): Hono {
  const app = new Hono();
  app.get("/overview", (c) => {
    const jobs = runtime.jobs();
    const count = (...states: JobStatus[]) =>
      jobs.filter((j) => states.includes(j.status())).length;
    const threads = jobs.flatMap((j) => j.threads?.() ?? []);
    return c.json({
      taskmanagers: threads.length,
      "slots-total": threads.reduce((n, t) => n + t.tasks, 0),
      "slots-available": 0,
      // Flink counts a job waiting out its restart delay as running.
      "jobs-running": count("RUNNING", "RESTARTING"),
      "jobs-finished": count("FINISHED"),
      "jobs-cancelled": count("CANCELED"),
      "jobs-failed": count("FAILED"),
      "weir-version": denoJson.version,
    });
  });
  app.get("/config", (c) => {
    const offsetMinutes = new Date().getTimezoneOffset();
    return c.json({
      "refresh-interval": REFRESH_INTERVAL_MS,
      "timezone-name": Intl.DateTimeFormat().resolvedOptions().timeZone,
      // Flink's: ms to add to UTC for local time.
      "timezone-offset": offsetMinutes === 0 ? 0 : -offsetMinutes * 60_000,
      "weir-version": denoJson.version,
      // Flink's web features: weir's API cancels jobs; it takes no jar uploads and keeps no history
      // server.
      features: {
        "web-submit": false,
        "web-cancel": true,
        "web-rescale": false,
        "web-history": false,
      },
    });
  });
  return app;
}
