/**
 * Reads a job's state the way someone outside the job would: `psql` over the
 * `weir_state_latest` view, `redis-cli` over the documented key layout.
 *
 * @module
 */

import { until } from "./checkpoint_jobs.ts";

/** Which database. */
export type DatabaseKind = "postgres" | "redis";

function text(cmd: string, out: Deno.CommandOutput): string {
  if (!out.success) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

function output(cmd: string, args: string[]): string {
  return text(cmd, new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync());
}

async function outputAsync(cmd: string, args: string[]): Promise<string> {
  return text(
    cmd,
    await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output(),
  );
}

/** Runs one SQL statement with psql; rows as arrays of columns. */
export function psql(url: string, sql: string): string[][] {
  return output("psql", [url, "-X", "-A", "-t", "-F", "\t", "-c", sql])
    .split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
}

/**
 * A `psql` session stuck mid-transaction, as a writer that hung: it runs `lock` (statements that
 * take a lock) in an open transaction, then sleeps. Resolves once `granted` (a count query) reads
 * 1, the lock held; `release()` ends the session, and with it the lock.
 */
export async function stuckSession(
  url: string,
  lock: string,
  granted: string,
): Promise<{ release(): Promise<void> }> {
  const session = new Deno.Command("psql", {
    args: [url, "-X", "-c", `BEGIN; ${lock}; SELECT pg_sleep(120);`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const release = async () => {
    psql(
      url,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' " +
        "AND pid <> pg_backend_pid()",
    );
    await session.status;
  };
  try {
    await until(() => psql(url, granted)[0]![0] === "1", "the lock taken");
  } catch (e) {
    await release();
    throw e;
  }
  return { release };
}

/**
 * Runs `f` while `redis-cli MONITOR` records every command the server runs
 * (a script's commands too); returns MONITOR's lines,
 * `<time> [<db> <client>] "command" "arg" …` (client `lua` for a script's).
 */
export async function redisCommands(url: string, f: () => Promise<void>): Promise<string[]> {
  const monitor = new Deno.Command("redis-cli", {
    args: ["-u", url, "--no-auth-warning", "MONITOR"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = monitor.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += value;
    }
  })();
  try {
    await until(() => text.startsWith("OK"), "MONITOR started");
    await f();
    // A marker command: MONITOR has shown everything before it once it shows it.
    redisCli(url, "ECHO", "end-of-commands");
    await until(() => text.includes("end-of-commands"), "MONITOR caught up");
  } finally {
    monitor.kill();
    await reading.catch(() => {});
    await monitor.status;
  }
  return text.split("\n").filter((l) => l !== "" && l !== "OK");
}

/** Runs one redis-cli command; its output lines. */
export function redisCli(url: string, ...command: string[]): string[] {
  return output("redis-cli", ["-u", url, "--no-auth-warning", ...command])
    .split("\n").filter((l) => l !== "");
}

/**
 * The values of one keyed state as of the job's latest completed checkpoint,
 * by key (JSON text of the key), read from outside the job.
 */
export function stateInDatabase(
  kind: DatabaseKind,
  url: string,
  job: string,
  operator: string,
  state: string,
): Map<string, unknown> {
  const found = new Map<string, unknown>();
  if (kind === "postgres") {
    for (
      const [key, value] of psql(
        url,
        `SELECT key::text, value::text FROM weir_state_latest WHERE job_id = '${job}'
         AND operator_uid = '${operator}' AND state_name = '${state}'`,
      )
    ) found.set(key!, JSON.parse(value!));
    return found;
  }
  const lines = redisCli(url, "HGETALL", `weir:${job}:state:${operator}:${state}`);
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [key] = JSON.parse(lines[i]!) as unknown[];
    found.set(JSON.stringify(key), JSON.parse(lines[i + 1]!));
  }
  return found;
}

/** Ids of the job's completed checkpoints in the database. */
export function checkpointsInDatabase(kind: DatabaseKind, url: string, job: string): number[] {
  const [cmd, args] = listCheckpoints(kind, url, job);
  return lines(output(cmd, args)).map((l) => Number(l));
}

/**
 * As {@linkcode checkpointsInDatabase}, without blocking the thread: a poll
 * while a job runs in this process. Each `psql` or `redis-cli` takes tens to
 * hundreds of ms on a loaded machine; run synchronously every few ms, they
 * left the job's thread too little time to complete a checkpoint in its
 * timeout.
 */
export async function checkpointsInDatabaseAsync(
  kind: DatabaseKind,
  url: string,
  job: string,
): Promise<number[]> {
  const [cmd, args] = listCheckpoints(kind, url, job);
  return lines(await outputAsync(cmd, args)).map((l) => Number(l));
}

function listCheckpoints(kind: DatabaseKind, url: string, job: string): [string, string[]] {
  return kind === "postgres"
    ? ["psql", [
      url,
      "-X",
      "-A",
      "-t",
      "-c",
      `SELECT checkpoint_id FROM weir_checkpoints WHERE job_id = '${job}' AND kind = 'checkpoint'
       ORDER BY checkpoint_id`,
    ]]
    : ["redis-cli", [
      "-u",
      url,
      "--no-auth-warning",
      "ZRANGE",
      `weir:${job}:checkpoints`,
      "0",
      "-1",
    ]];
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}
