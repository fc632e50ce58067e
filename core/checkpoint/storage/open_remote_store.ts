/**
 * Connects to the database `--checkpoint-storage` names. The clients are
 * loaded only when a job keeps its checkpoints in a database.
 *
 * @module
 */
import type { CheckpointStorageSpec } from "../../dataflow/flags.ts";
import type { RemoteStore } from "./remote_store.ts";

/**
 * Opens the store of `spec` for job `defaultJob`, or for the job the URL's
 * `job` parameter names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openRemoteStore } from "./open_remote_store.ts";
 * await assert.rejects(
 *   openRemoteStore({ kind: "redis", url: "redis://127.0.0.1:1?job=wc" }, "word count"),
 *   /Redis at redis:\/\/127\.0\.0\.1:1 \(job "wc"\)/,
 * );
 * ```
 */
export async function openRemoteStore(
  spec: Exclude<CheckpointStorageSpec, { kind: "file" }>,
  defaultJob: string,
): Promise<RemoteStore> {
  const job = jobOf(spec.url) ?? defaultJob;
  if (spec.kind === "postgres") {
    const { PostgresStore } = await import("./postgres/postgres_store.ts");
    return await PostgresStore.open(spec.url, job);
  }
  const { RedisStore } = await import("./redis/redis_store.ts");
  return await RedisStore.open(spec.url, job);
}

/** The URL's `job` parameter. */
export function jobOf(url: string): string | undefined {
  try {
    return new URL(url).searchParams.get("job") ?? undefined;
  } catch {
    return undefined;
  }
}
