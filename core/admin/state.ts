/**
 * Queryable state: `GET /jobs/:jobid/state/:operatorUid/:stateName?key=K`
 * returns the current value for a key, read on the subtask that owns its key
 * group, as JSON (bigints and NaN or ±Infinity as strings, bytes as base64:
 * `toJsonValue`); 404 for an unknown operator, state or key; 409 for a state
 * with a TTL, which is not queried (as in Flink).
 *
 * @module
 */
import { Hono } from "./_hono.ts";
import { fail, jobParam } from "./http.ts";
import type { AdminRuntime } from "./runtime.ts";
import { toJsonValue } from "../state/serializer_ids.ts";

/** The queryable-state route. */
export function stateRoutes(runtime: AdminRuntime): Hono {
  const app = new Hono();
  app.get("/jobs/:jobid/state/:operatorUid/:stateName", async (c) => {
    const job = jobParam(c, runtime);
    const keys = c.req.queries("key") ?? [];
    if (keys.length === 0) fail(400, 'Missing query parameter "key"');
    if (keys.length > 1) {
      fail(400, `Query parameter "key" given ${keys.length} times: give one key`);
    }
    const key = keys[0]!;
    const uid = c.req.param("operatorUid");
    const name = c.req.param("stateName");
    const r = await job.queryState(uid, name, key);
    if (r.kind === "found") {
      return c.json({
        operator: uid,
        state: name,
        key,
        subtask: r.subtask,
        value: toJsonValue(r.value),
      });
    }
    const status = r.kind === "bad-key"
      ? 400
      : r.kind === "not-running" || r.kind === "unavailable"
      ? 409
      : r.kind === "timeout"
      ? 503
      : 404;
    fail(status, r.message);
  });
  return app;
}
