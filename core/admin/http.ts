/**
 * Shared pieces of the admin routes: JSON errors (`{ "errors": [...] }`),
 * id validation, job lookup and request-body parsing.
 *
 * @module
 */
import { type ContentfulStatusCode, type Context, HTTPException } from "./_hono.ts";
import type { AdminJob, AdminRuntime } from "./runtime.ts";
import { bodyText } from "./_body_limit.ts";

/** Throws the HTTP error `status` with `message`; the app answers `{ "errors": [message] }`. */
export function fail(status: ContentfulStatusCode, message: string): never {
  throw new HTTPException(status, { message });
}

const HEX32 = /^[0-9a-f]{32}$/i;

/**
 * Checks a 32-hex id (job, trigger, vertex): 400 when malformed. Returns it in lower case, as
 * weir writes ids: Flink reads an id's hex digits in either case.
 */
export function checkHexId(what: string, id: string): string {
  if (!HEX32.test(id)) fail(400, `Malformed ${what} "${id}": expected 32 hexadecimal digits`);
  return id.toLowerCase();
}

/** The job named by the `:jobid` parameter: 400 when malformed, 404 when unknown. */
export function jobParam(c: Context, runtime: AdminRuntime): AdminJob {
  const id = checkHexId("job id", c.req.param("jobid") ?? "");
  const job = runtime.jobs().find((j) => j.id === id);
  if (!job) fail(404, `Job ${id} not found`);
  return job;
}

/**
 * The request body as a JSON object whose fields are all in `allowed`: an
 * empty body is `{}`; anything else is a 400 naming the problem.
 */
export async function jsonBody(c: Context, allowed: readonly string[]): Promise<
  Record<string, unknown>
> {
  const text = await bodyText(c);
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    fail(400, "Request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    fail(400, "Request body must be a JSON object");
  }
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) {
      fail(400, `Unknown field "${k}" in request body (allowed: ${allowed.join(", ")})`);
    }
  }
  return body as Record<string, unknown>;
}

/** A body field that must be a string when present. */
export function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || v === "") fail(400, `Field "${name}" must be a non-empty string`);
  return v;
}

/** A body field that must be a boolean when present. */
export function optionalBoolean(body: Record<string, unknown>, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") fail(400, `Field "${name}" must be true or false`);
  return v;
}
