/**
 * Lets `weir checkpoints list|inspect` and `weir state get|dump` read
 * checkpoints kept in a database: a `postgres://…?job=J` or `redis://…?job=J`
 * argument is replaced by a temporary copy of the job's checkpoints (the
 * layout of a checkpoint directory), removed afterwards. `&checkpoint=N` or
 * `&savepoint=NAME` picks one snapshot instead of the latest.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { parseCheckpointStorage } from "../core/dataflow/flags.ts";
import { CheckpointMirror } from "../core/checkpoint/storage/checkpoint_mirror.ts";
import { jobOf, openRemoteStore } from "../core/checkpoint/storage/open_remote_store.ts";
import { redactUrl, type RemoteStore } from "../core/checkpoint/storage/remote_store.ts";

const DATABASE_URL = /^(postgres|postgresql|redis|rediss):/;

/** Whether a command's argument names a database rather than a directory. */
export function isDatabaseUrl(arg: string): boolean {
  return DATABASE_URL.test(arg);
}

/**
 * Connects to the checkpoints of the job a `postgres://…?job=J` or
 * `redis://…?job=J` URL names; a ConfigError when it names no job, or has a parameter
 * `params` lacks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDatabase } from "./database_snapshots.ts";
 * await assert.rejects(openDatabase("redis://u:pw@127.0.0.1:1"), /name the job with \?job=NAME/);
 * ```
 */
export async function openDatabase(
  url: string,
  params: Readonly<Record<string, true>> = { job: true },
): Promise<RemoteStore> {
  const job = jobOf(url);
  const spec = parseCheckpointStorage(url, params);
  if (job === undefined || spec.kind === "file") {
    throw new ConfigError(
      `${redactUrl(url)}: name the job with ?job=NAME (the job's name or its URL's job parameter)`,
    );
  }
  return await openRemoteStore(spec, job);
}

/** Commands that take a checkpoint directory or snapshot path as their first positional. */
const READERS = new Set(["checkpoints list", "checkpoints inspect", "state get", "state dump"]);

/**
 * Runs `run(args)` with every database URL in `args` replaced by a local copy
 * of that job's checkpoints, for the commands that read snapshots.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withDatabaseSnapshots } from "./database_snapshots.ts";
 * const args = await withDatabaseSnapshots("checkpoints list", ["/tmp/x"], (a) => Promise.resolve(a));
 * assert.deepEqual(args, ["/tmp/x"]);
 * ```
 */
export async function withDatabaseSnapshots<T>(
  command: string,
  args: string[],
  run: (args: string[]) => Promise<T>,
): Promise<T> {
  const at = READERS.has(command) ? args.findIndex((a) => isDatabaseUrl(a)) : -1;
  if (at < 0) return run(args);
  const url = args[at]!;
  const params = new URL(url).searchParams;
  const store = await openDatabase(url, { job: true, checkpoint: true, savepoint: true });
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-" });
  try {
    // Read-only: a running job's checkpoint in progress is left alone.
    const mirror = await CheckpointMirror.open(store, dir, { readOnly: true });
    await mirror.close();
    const id = params.get("checkpoint");
    const savepoint = params.get("savepoint");
    const path = id !== null
      ? `${dir}/chk-${id}`
      : savepoint !== null
      ? `${dir}/savepoints/${savepoint}`
      : dir;
    return await run(args.map((a, i) => i === at ? path : a));
  } finally {
    await store.close().catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
}
