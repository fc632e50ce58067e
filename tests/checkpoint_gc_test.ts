/**
 * `weir checkpoints gc --delete` never deletes what a checkpoint in progress
 * may reference: a file's age counts from when it entered the checkpoint
 * directory (a hard link keeps an old mtime but renews the change time), and
 * while a job holds the directory, from no later than when its newest
 * completed checkpoint was triggered.
 */
import assert from "node:assert/strict";
import { runCli } from "../cli/main.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { PAUSE_MARKER } from "./_helpers/crash.ts";
import { makeWordInput } from "./_helpers/word_count_check.ts";

const CRASH_CHILD = new URL("./_helpers/crash.ts", import.meta.url).pathname;
const WORD_COUNT = new URL("../examples/word_count.ts", import.meta.url).pathname;
const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

async function cliInProcess(...args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, out: out.join("\n") };
}

const segmentsIn = (dir: string) =>
  [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".seg")).sort();

Deno.test("gc while a checkpoint is being written: the real CLI gc --delete during the manifest write deletes nothing it needs; the restore succeeds", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-gc-" });
  let paused: Deno.ChildProcess | undefined;
  try {
    const input = `${dir}/input.txt`;
    Deno.writeTextFileSync(input, makeWordInput(11, 4000, 300));
    // A checkpoint taken an hour ago, restored as one restores a savepoint.
    const first = await run([
      WORD_COUNT,
      "--input",
      input,
      "--output",
      `${dir}/out1`,
      "--checkpoint-dir",
      `${dir}/ck1`,
      "--state-backend",
      "lsm",
      "--parallelism",
      "1",
    ]);
    assert.equal(first.code, 0, first.err);
    const [old] = [...Deno.readDirSync(`${dir}/ck1`)].map((e) => e.name).filter((n) =>
      n.startsWith("chk-")
    );
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const seg of segmentsIn(`${dir}/ck1/shared`)) {
      Deno.utimeSync(`${dir}/ck1/shared/${seg}`, hourAgo, hourAgo);
    }

    // The restored job hard-links those segments into ck2/shared/ and pauses writing its manifest.
    const ck = `${dir}/ck2`;
    paused = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CRASH_CHILD,
        WORD_COUNT,
        "--input",
        input,
        // The same output: the restored sink commits (again) what checkpoint 1 holds.
        "--output",
        `${dir}/out1`,
        "--checkpoint-dir",
        ck,
        "--state-backend",
        "lsm",
        "--restore",
        `${dir}/ck1/${old}`,
        // Inline, as the first run: the pause at the first checkpoint write is then the
        // manifest's, and blocks the job.
        "--parallelism",
        "1",
      ],
      env: {
        NO_COLOR: "1",
        WEIR_TEST_PAUSE_IN_CHECKPOINT_MS: "60000",
        WEIR_TEST_PAUSE_AT: "1",
        WEIR_TEST_RESUME_FILE: `${dir}/resume`,
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const child = paused;
    const watchdog = setTimeout(() => child.kill("SIGKILL"), 120_000);
    let err = "";
    const decoder = new TextDecoder();
    const reader = paused.stderr.getReader();
    while (!err.includes(PAUSE_MARKER)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the job ended before pausing:\n${err}`);
      err += decoder.decode(value, { stream: true });
    }
    assert.match(err, /paused in checkpoint write .*\/chk-\d+\/\..*_metadata.*\.tmp/);
    const linked = segmentsIn(`${ck}/shared`);
    assert.ok(linked.length > 0, "the checkpoint in progress put segments into shared/");
    assert.ok(
      linked.some((s) => Deno.statSync(`${ck}/shared/${s}`).mtime!.getTime() <= hourAgo.getTime()),
      "a hard link keeps the old mtime (the case the issue describes)",
    );

    const gc = await run([CLI, "checkpoints", "gc", ck, "--delete", "--json"]);
    assert.equal(gc.code, 0, gc.err);
    const plan = JSON.parse(gc.out);
    assert.deepEqual(plan.segments, []);
    assert.match(plan.runningJob, /^job "word count" \(pid \d+ on host /);
    assert.deepEqual(segmentsIn(`${ck}/shared`), linked);

    Deno.writeTextFileSync(`${dir}/resume`, "");
    reader.releaseLock();
    await paused.stderr.cancel();
    const status = await paused.status;
    clearTimeout(watchdog);
    paused = undefined;
    assert.ok(status.success, `the paused job failed: ${err}`);

    const list = await cliInProcess("checkpoints", "list", ck, "--json", "--verify");
    const rows = JSON.parse(list.out) as { kind: string; status: string; problems: string[] }[];
    assert.deepEqual(rows.map((r) => `${r.kind} ${r.status} ${r.problems.join()}`), [
      "checkpoint completed ",
    ]);
    const restored = await run([
      WORD_COUNT,
      "--input",
      input,
      "--output",
      `${dir}/out1`,
      "--checkpoint-dir",
      ck,
      "--restore",
      "latest",
      "--parallelism",
      "1",
    ]);
    assert.equal(restored.code, 0, restored.err);
    assert.match(restored.err, /restoring checkpoint \d+/);
  } finally {
    if (paused) {
      paused.kill("SIGKILL");
      await paused.status;
    }
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gc: a segment hard-linked into shared/ just now is young, whatever its mtime", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-gc-" });
  try {
    Deno.mkdirSync(`${dir}/ck/shared`, { recursive: true });
    Deno.writeFileSync(`${dir}/flushed-long-ago.seg`, new Uint8Array(64));
    const hourAgo = new Date(Date.now() - 3_600_000);
    Deno.utimeSync(`${dir}/flushed-long-ago.seg`, hourAgo, hourAgo);
    Deno.linkSync(`${dir}/flushed-long-ago.seg`, `${dir}/ck/shared/x.seg`);
    const kept = JSON.parse(
      (await cliInProcess("checkpoints", "gc", `${dir}/ck`, "--delete", "--json")).out,
    );
    assert.deepEqual([kept.segments, kept.runningJob], [[], null]);
    assert.deepEqual(segmentsIn(`${dir}/ck/shared`), ["x.seg"]);
    const gone = JSON.parse(
      (await cliInProcess("checkpoints", "gc", `${dir}/ck`, "--delete", "--min-age", "0", "--json"))
        .out,
    );
    assert.deepEqual(gone.segments.map((s: { name: string }) => s.name), ["x.seg"]);
    assert.deepEqual(segmentsIn(`${dir}/ck/shared`), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("gc while a job runs: what entered shared/ after the newest checkpoint was triggered stays, even with --min-age 0", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-gc-" });
  try {
    const env = StreamEnvironment.create({ checkpoint: { dir }, log: () => {} });
    env.generate({ generate: (n) => `k${n % 10}`, ratePerSecond: 1000 })
      .keyBy((k: string) => k)
      .map((k: string) => k).uid("m");
    const client = env.executeAsync("running");
    Deno.writeFileSync(`${dir}/shared/orphan-before.seg`, new Uint8Array(8));
    await new Promise((r) => setTimeout(r, 50)); // change times are coarse
    const { manifest } = await client.triggerCheckpoint();
    await new Promise((r) => setTimeout(r, 50));
    // What a checkpoint in progress writes before its manifest names it.
    Deno.writeFileSync(`${dir}/shared/in-progress.seg`, new Uint8Array(8));
    const gc = await cliInProcess("checkpoints", "gc", dir, "--delete", "--min-age", "0");
    assert.equal(gc.code, 0, gc.out);
    assert.match(
      gc.out,
      new RegExp(
        `is in use by job "running" \\(pid ${Deno.pid} .*since checkpoint ${manifest.checkpointId} was triggered are kept`,
      ),
    );
    const left = segmentsIn(`${dir}/shared`);
    assert.ok(left.includes("in-progress.seg"), left.join());
    assert.ok(!left.includes("orphan-before.seg"), left.join());
    for (const s of Object.keys(manifest.segments)) assert.ok(left.includes(s), s);
    client.cancel();
    await client.done;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
