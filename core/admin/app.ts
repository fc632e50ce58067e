/**
 * The admin HTTP API: {@linkcode createAdminApp} builds a hono app with one
 * sub-app per resource (jobs, checkpoints, savepoints, state, segments, task
 * managers, the cluster's overview and config, metrics, dashboard) over an
 * {@linkcode AdminRuntime}. Paths and JSON field names follow Flink's REST
 * API v1; every error is JSON `{ "errors": [...] }`.
 *
 * @module
 */
import { cors, Hono, HTTPException } from "./_hono.ts";
import { limitBody } from "./_body_limit.ts";
import { checkOptionNames } from "../_options.ts";
import { createHash, timingSafeEqual } from "node:crypto";
import { checkpointsRoutes } from "./checkpoints.ts";
import { clusterRoutes } from "./cluster.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { jobsRoutes } from "./jobs.ts";
import { metricsRoutes } from "./metrics.ts";
import { Operations } from "./operations.ts";
import type { AdminRuntime } from "./runtime.ts";
import { savepointsRoutes } from "./savepoints.ts";
import { taskManagersRoutes } from "./taskmanagers.ts";
import { segmentsRoutes } from "./segments.ts";
import { stateRoutes } from "./state.ts";

/**
 * Options of the admin app.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AdminAppOptions, createAdminApp } from "@weir/weir/admin";
 * const options: AdminAppOptions = { token: "s3cret", corsOrigins: ["http://localhost:3000"] };
 * const app = createAdminApp({ jobs: () => [] }, options);
 * assert.equal((await app.request("/jobs")).status, 401);
 * const ok = await app.request("/jobs", { headers: { authorization: "Bearer s3cret" } });
 * assert.deepEqual(await ok.json(), { jobs: [] });
 * ```
 */
export interface AdminAppOptions {
  /** Requests need `Authorization: Bearer <token>` (the dashboard page itself does not). */
  readonly token?: string;
  /** Origins allowed cross-origin requests (CORS is off unless given). */
  readonly corsOrigins?: readonly string[];
  /**
   * A directory savepoint `target-directory` requests may point into, besides
   * the checkpoint directory's `savepoints/` (`--savepoint-dir`).
   */
  readonly savepointDir?: string;
}

/** Every {@linkcode AdminAppOptions} name, for `checkOptionNames`. */
const ADMIN_APP_OPTIONS: Record<keyof AdminAppOptions, true> = {
  token: true,
  corsOrigins: true,
  savepointDir: true,
};

/** The largest request body the admin API reads; larger ones get 413. */
export const MAX_BODY_BYTES = 1 << 20;

/** Paths whose answers include per-subtask figures (vertices, metrics, live segments). */
const FRESH_FIGURES =
  /^\/(metrics|taskmanagers|jobs\/[0-9a-f]{32}(\/vertices\/[^/]+(\/backpressure|\/watermarks|\/subtasks\/[^/]+(\/attempts\/[^/]+)?)?|\/segments)?)$/;

function digest(s: string): Uint8Array {
  return createHash("sha256").update(s).digest();
}

/** Compares in constant time (digests first, so lengths do not leak). */
function sameToken(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Creates the admin app. Serve it with `Deno.serve(app.fetch)` (see
 * `serveAdmin`), or call `app.request()` in tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createAdminApp } from "@weir/weir/admin";
 * const app = createAdminApp({ jobs: () => [] });
 * const res = await app.request("/jobs");
 * assert.deepEqual(await res.json(), { jobs: [] });
 * const missing = await app.request("/nope");
 * assert.equal(missing.status, 404);
 * assert.deepEqual(await missing.json(), { errors: ["Not found: GET /nope"] });
 * ```
 */
export function createAdminApp(runtime: AdminRuntime, options: AdminAppOptions = {}): Hono {
  // A misspelt `token` would serve the API to anyone without a word.
  checkOptionNames("createAdminApp", options, ADMIN_APP_OPTIONS);
  const app = new Hono();
  const ops = new Operations();
  // Bodies are small JSON objects: a large one is refused before it is buffered.
  app.use(
    "*",
    limitBody(
      MAX_BODY_BYTES,
      (c) => c.json({ errors: [`Request body larger than ${MAX_BODY_BYTES} bytes`] }, 413),
    ),
  );
  if (options.corsOrigins && options.corsOrigins.length > 0) {
    app.use("*", cors({ origin: [...options.corsOrigins] }));
  }
  const token = options.token;
  if (token !== undefined && token !== "") {
    app.use("*", async (c, next) => {
      if (c.req.method === "GET" && c.req.path === "/") return await next();
      if (c.req.method === "OPTIONS" && options.corsOrigins?.length) return await next();
      const header = c.req.header("authorization") ?? "";
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (!m || !sameToken(m[1]!.trim(), token)) {
        c.header("WWW-Authenticate", 'Bearer realm="weir"');
        return c.json({ errors: ["Missing or wrong bearer token"] }, 401);
      }
      await next();
    });
  }
  // Routes that read a job's figures get fresh ones (the workers report on demand).
  app.use("*", async (c, next) => {
    if (c.req.method === "GET" && FRESH_FIGURES.test(c.req.path)) {
      await Promise.all(runtime.jobs().map((j) => j.refresh?.()));
    }
    await next();
  });
  app.route("/", dashboardRoutes());
  app.route("/", jobsRoutes(runtime));
  app.route("/", checkpointsRoutes(runtime, ops));
  app.route("/", savepointsRoutes(runtime, ops, options.savepointDir));
  app.route("/", stateRoutes(runtime));
  app.route("/", segmentsRoutes(runtime));
  app.route("/", taskManagersRoutes(runtime));
  app.route("/", clusterRoutes(runtime));
  app.route("/", metricsRoutes(runtime));
  app.notFound((c) => c.json({ errors: [`Not found: ${c.req.method} ${c.req.path}`] }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      return c.json({ errors: [err.message || "Request failed"] }, err.status);
    }
    return c.json({ errors: [`Internal server error: ${err.message}`] }, 500);
  });
  return app;
}
