/**
 * The parts of hono the admin API uses, named by full `npm:` specifiers in
 * this one place: weir loaded from a URL or from a checkout outside the
 * job's project gets no import map of its own (only JSR packages bring
 * theirs), so a bare `hono` would not resolve there. The version is the one
 * deno.json's `imports` names (tests/package_test.ts holds them equal).
 *
 * @module
 */
export { type Context, Hono, type MiddlewareHandler } from "npm:hono@4.13.19";
export { cors } from "npm:hono@4.13.19/cors";
export { HTTPException } from "npm:hono@4.13.19/http-exception";
export type { ContentfulStatusCode } from "npm:hono@4.13.19/utils/http-status";
