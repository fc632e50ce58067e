/**
 * The admin HTTP API and dashboard (hono on `Deno.serve`): Flink-compatible
 * job and checkpoint resources, savepoints, queryable state, segments,
 * Prometheus metrics.
 *
 * @module
 */
export * from "./app.ts";
export * from "./runtime.ts";
export * from "./stats.ts";
export * from "./operations.ts";
export * from "./jobs.ts";
export * from "./metrics.ts";
export * from "./server.ts";
export { dashboardHtml } from "./dashboard.ts";
