/**
 * The admin API's exposure rule, apart from the server so that a job can
 * check its admin options before it starts without loading the server
 * (and hono).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/** Whether `host` names the loopback interface only. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Refuses to expose the admin API beyond loopback without a token: anyone
 * who reaches it can stop the job, write savepoints and read state. Throws
 * `ConfigError` unless `host` is loopback, a token is set or `insecure` says
 * so on purpose.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkAdminExposure } from "@weir/weir/admin";
 * checkAdminExposure("127.0.0.1", undefined, false);
 * checkAdminExposure("0.0.0.0", "s3cret", false);
 * checkAdminExposure("0.0.0.0", undefined, true);
 * assert.throws(() => checkAdminExposure("0.0.0.0", undefined, false), /--admin-token/);
 * ```
 */
export function checkAdminExposure(
  host: string,
  token: string | undefined,
  insecure: boolean,
): void {
  if (isLoopback(host) || (token !== undefined && token !== "") || insecure) return;
  throw new ConfigError(
    `The admin API on ${host} would be reachable beyond this machine without a token: ` +
      `set --admin-token (or WEIR_ADMIN_TOKEN), or pass --admin-insecure to allow it`,
  );
}
