/**
 * Serves the admin app on `Deno.serve`, bound to 127.0.0.1 unless told
 * otherwise; once it listens, prints `admin: http://HOST:PORT` to stderr.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";
import { createAdminApp } from "./app.ts";
import { checkAdminExposure } from "./exposure.ts";
import type { AdminRuntime } from "./runtime.ts";

export { checkAdminExposure };

/**
 * Where and how to serve the admin API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AdminServerOptions, serveAdmin } from "@weir/weir/admin";
 * const lines: string[] = [];
 * const options: AdminServerOptions = { port: 0, host: "127.0.0.1", announce: (l) => lines.push(l) };
 * const server = serveAdmin({ jobs: () => [] }, options);
 * await server.shutdown();
 * assert.match(lines[0]!, /^admin: http:\/\/127\.0\.0\.1:\d+$/);
 * ```
 */
export interface AdminServerOptions {
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind (127.0.0.1). */
  readonly host?: string;
  /** Bearer token requests need. */
  readonly token?: string;
  /** Origins allowed cross-origin requests (CORS off unless given). */
  readonly corsOrigins?: readonly string[];
  /** Serve a non-loopback interface without a token (`--admin-insecure`). */
  readonly insecure?: boolean;
  /** A further directory savepoint target directories may point into (`--savepoint-dir`). */
  readonly savepointDir?: string;
  /** Where the `admin: http://HOST:PORT` line goes (stderr). */
  readonly announce?: (line: string) => void;
}

/**
 * A running admin server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AdminServer, serveAdmin } from "@weir/weir/admin";
 * const server: AdminServer = serveAdmin({ jobs: () => [] }, { port: 0, announce: () => {} });
 * assert.equal(server.url, `http://127.0.0.1:${server.port}`);
 * assert.equal((await fetch(`${server.url}/jobs`)).status, 200);
 * await server.shutdown();
 * ```
 */
export interface AdminServer {
  /** `http://HOST:PORT`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Stops accepting connections and finishes the requests in flight. */
  shutdown(): Promise<void>;
}

const encoder = new TextEncoder();

/** Every {@linkcode AdminServerOptions} name, for `checkOptionNames`. */
const ADMIN_SERVER_OPTIONS: Record<keyof AdminServerOptions, true> = {
  port: true,
  host: true,
  token: true,
  corsOrigins: true,
  insecure: true,
  savepointDir: true,
  announce: true,
};

/**
 * Starts the admin API for `runtime`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveAdmin } from "@weir/weir/admin";
 * const server = serveAdmin({ jobs: () => [] }, { port: 0, announce: () => {} });
 * const res = await fetch(`${server.url}/jobs`);
 * assert.deepEqual(await res.json(), { jobs: [] });
 * await server.shutdown();
 * ```
 */
export function serveAdmin(runtime: AdminRuntime, options: AdminServerOptions): AdminServer {
  // A misspelt `token` or `host` would serve the API unprotected or elsewhere without a word.
  checkOptionNames("serveAdmin", options, ADMIN_SERVER_OPTIONS);
  const host = options.host ?? "127.0.0.1";
  checkAdminExposure(host, options.token, options.insecure ?? false);
  const app = createAdminApp(runtime, {
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.corsOrigins !== undefined ? { corsOrigins: options.corsOrigins } : {}),
    ...(options.savepointDir !== undefined ? { savepointDir: options.savepointDir } : {}),
  });
  const announce = options.announce ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(`${line}\n`)));
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ port: options.port, hostname: host, onListen: () => {} }, app.fetch);
  } catch (e) {
    throw new ConfigError(
      `The admin API cannot listen on ${host}:${options.port}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const addr = server.addr;
  const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${shown}:${addr.port}`;
  announce(`admin: ${url}`);
  return { url, port: addr.port, shutdown: () => server.shutdown() };
}
