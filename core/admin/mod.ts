/**
 * The admin HTTP API and dashboard (`@weir/weir/admin`; hono on
 * `Deno.serve`): Flink-compatible job and checkpoint resources, savepoints,
 * queryable state, segments, Prometheus metrics.
 *
 * A job serves it with `--admin-port` (or `StreamEnvironment.create({ admin })`)
 * without importing this module: the environment loads it only then, so jobs
 * without the admin API, and the workers of the worker executor, never load
 * hono. Import it to serve a job (or another {@linkcode AdminRuntime}) yourself.
 *
 * @example Serve a running job's admin API
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment } from "@weir/weir";
 * import { jobClientRuntime, serveAdmin } from "@weir/weir/admin";
 * const env = StreamEnvironment.create({ log: () => {} });
 * env.fromElements(1, 2, 3).addSink(new CollectSink<number>());
 * const client = env.executeAsync("served");
 * const server = serveAdmin(jobClientRuntime(client), { port: 0 });
 * await client.done;
 * const res = await fetch(`${server.url}/jobs`);
 * assert.equal(res.status, 200);
 * await res.body?.cancel();
 * await server.shutdown();
 * ```
 *
 * @module
 */
export { createAdminApp } from "./app.ts";
export type { AdminAppOptions } from "./app.ts";
export { checkAdminExposure, serveAdmin } from "./server.ts";
export type { AdminServer, AdminServerOptions } from "./server.ts";
export { jobClientRuntime } from "./runtime.ts";
export type {
  AdminJob,
  AdminRuntime,
  InProgressCheckpoint,
  JobException,
  JobStatus,
  OperationResult,
  PriorAttempt,
  SegmentInfo,
  StateQueryOutcome,
  SubtaskInfo,
  SubtaskState,
  ThreadInfo,
  VertexInfo,
  VertexInput,
} from "./runtime.ts";
