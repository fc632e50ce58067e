/**
 * Calls a running job's admin API for the CLI: one JSON request, errors as
 * one readable line (an unreachable API is a failure, exit 1, not bad usage).
 *
 * @module
 */
import { CheckpointError, WeirError } from "../core/errors.ts";

/**
 * Sends `init` to `url` (with `Authorization: Bearer <token>` when a token is
 * given) and returns the JSON answer; a non-2xx answer throws with the API's
 * `errors`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adminCall } from "./admin_client.ts";
 * await assert.rejects(adminCall("http://127.0.0.1:9/jobs"), /Cannot reach the admin API/);
 * ```
 */
export async function adminCall(
  url: string,
  init: RequestInit = {},
  token?: string,
): Promise<Record<string, unknown>> {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers });
  } catch (e) {
    // Not bad usage: the job may just have ended (exit 1, not 2).
    throw new WeirError(
      `Cannot reach the admin API at ${url}: ${e instanceof Error ? e.message : e}`,
    );
  }
  const body = await res.text();
  if (!res.ok) {
    let detail = body.trim().slice(0, 300);
    try {
      const j = JSON.parse(body);
      if (Array.isArray(j.errors)) detail = j.errors.join("; ");
    } catch { /* not JSON: show the text */ }
    throw new CheckpointError(
      `${init.method ?? "GET"} ${url} failed: ${res.status} ${res.statusText}${
        detail ? `: ${detail}` : ""
      }`,
    );
  }
  try {
    return JSON.parse(body);
  } catch {
    throw new CheckpointError(`${url} did not answer JSON: ${body.slice(0, 200)}`);
  }
}

/**
 * The bearer token of a command's `--token`, else `$WEIR_ADMIN_TOKEN` when the
 * process may read it (a token kept out of the command line).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adminToken } from "./admin_client.ts";
 * assert.equal(adminToken("s3cret"), "s3cret");
 * ```
 */
export function adminToken(value: string | boolean | undefined): string | undefined {
  if (typeof value === "string") return value;
  const env = { name: "env", variable: "WEIR_ADMIN_TOKEN" } as const;
  if (Deno.permissions.querySync(env).state !== "granted") return undefined;
  return Deno.env.get("WEIR_ADMIN_TOKEN") || undefined;
}
