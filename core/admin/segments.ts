/**
 * `GET /jobs/:jobid/segments`: the segment files of the checkpoint directory
 * with size and reference count (retained checkpoints that reference each).
 *
 * @module
 */
import { Hono } from "./_hono.ts";
import { jobParam } from "./http.ts";
import type { AdminRuntime } from "./runtime.ts";

/** The segments route. */
export function segmentsRoutes(runtime: AdminRuntime): Hono {
  const app = new Hono();
  app.get("/jobs/:jobid/segments", (c) => {
    const job = jobParam(c, runtime);
    const segments = job.segments().map((s) => ({
      name: s.name,
      size: s.size,
      references: s.checkpoints.length,
      checkpoints: s.checkpoints,
      live: s.live,
    }));
    return c.json({
      segments,
      count: segments.length,
      total_size: segments.reduce((n, s) => n + s.size, 0),
    });
  });
  return app;
}
