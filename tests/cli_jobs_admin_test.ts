/**
 * `weir jobs list`, `weir savepoint` and `weir cancel` against the real admin API of a running
 * job (with a bearer token): the list shows it running, cancel ends it (exit 1).
 */
import assert from "node:assert/strict";
import { readAdminUrl } from "./_helpers/admin_url.ts";

function weir(args: string[], env: Record<string, string> = {}): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Starts tests/_helpers/admin_job.ts with `args` (its admin API on a free port). */
function spawnAdminJob(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_helpers/admin_job.ts", import.meta.url).pathname,
      "--admin-port",
      "0",
      ...args,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** Kills `job` unless it ended, and waits for it. */
async function endJob(job: Deno.ChildProcess): Promise<void> {
  try {
    job.kill("SIGKILL");
  } catch { /* already ended */ }
  await job.status;
}

/** Waits for `job`, cancelled, to end by itself, saying so and exiting 1. */
async function assertEndsCancelled(
  job: Deno.ChildProcess,
  stderr: { text: string; drained?: Promise<void> },
): Promise<void> {
  const ended = await Promise.race([
    job.status,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000)),
  ]);
  assert.ok(ended, "the job process ends after cancel");
  await stderr.drained;
  assert.equal(ended.code, 1, stderr.text);
  assert.match(stderr.text, /^admin_job: Job "admin test job" was cancelled$/m);
}

Deno.test("weir jobs list, weir savepoint and weir cancel drive the admin API of a running job", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-token-" });
  const job = spawnAdminJob(["--admin-token", "s3cret", "--rate", "2000", "--checkpoint-dir", dir]);
  try {
    const stderr: { text: string; drained?: Promise<void> } = { text: "" };
    const url = await readAdminUrl(job.stderr, stderr);

    const refused = await weir(["jobs", "list", "--url", url]);
    assert.equal(refused.code, 1);
    assert.match(text(refused.stderr), /401.*Missing or wrong bearer token/);

    const json = await weir(["jobs", "list", "--url", url, "--token", "s3cret", "--json"]);
    assert.equal(json.code, 0, text(json.stderr));
    const [only, ...others] = JSON.parse(text(json.stdout)).jobs;
    assert.equal(others.length, 0);
    assert.equal(only.state, "RUNNING");
    const id = only.jid as string;

    // The token may come from the environment; the table names the job.
    const table = await weir(["jobs", "list", "--url", url], { WEIR_ADMIN_TOKEN: "s3cret" });
    assert.equal(table.code, 0, text(table.stderr));
    const lines = text(table.stdout).trimEnd().split("\n");
    assert.match(lines[0]!, /^ID\s+STATUS\s+NAME\s+STARTED\s+DURATION$/);
    assert.ok(lines[1]!.startsWith(`${id}  RUNNING`), lines[1]);

    // savepoint takes the token the same ways.
    const noToken = await weir(["savepoint", "--url", url, "--job", id]);
    assert.equal(noToken.code, 1);
    assert.match(text(noToken.stderr), /401.*Missing or wrong bearer token/);
    const saved = await weir(["savepoint", "--url", url, "--job", id, "--json"], {
      WEIR_ADMIN_TOKEN: "s3cret",
    });
    assert.equal(saved.code, 0, text(saved.stderr));
    const location = JSON.parse(text(saved.stdout)).location as string;
    assert.ok(Deno.statSync(`${location}/_metadata`).isFile, `savepoint at ${location}`);

    const unknown = await weir([
      "cancel",
      "--url",
      url,
      "--job",
      "0".repeat(32),
      "--token",
      "s3cret",
    ]);
    assert.equal(unknown.code, 1);
    assert.match(text(unknown.stderr), /404/);

    const cancel = await weir(["cancel", "--url", url, "--job", id, "--token", "s3cret"]);
    assert.equal(cancel.code, 0, text(cancel.stderr));
    assert.equal(text(cancel.stdout), `Cancelled job ${id}\n`);
    // The job process ends without being killed, and as Flink's `flink run` does, it says the
    // job was cancelled and exits 1: a supervisor tells it from a job that finished its input.
    await assertEndsCancelled(job, stderr);
  } finally {
    await endJob(job);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a job whose records come back to the script (executeAndCollect) and that weir cancel ends exits 1, saying it was cancelled", async () => {
  const job = spawnAdminJob(["--rate", "200", "--collect"]);
  try {
    const stderr: { text: string; drained?: Promise<void> } = { text: "" };
    const url = await readAdminUrl(job.stderr, stderr);
    const list = await weir(["jobs", "list", "--url", url, "--json"]);
    assert.equal(list.code, 0, text(list.stderr));
    const id = JSON.parse(text(list.stdout)).jobs[0].jid as string;
    const cancel = await weir(["cancel", "--url", url, "--job", id]);
    assert.equal(cancel.code, 0, text(cancel.stderr));
    await assertEndsCancelled(job, stderr);
  } finally {
    await endJob(job);
  }
});
