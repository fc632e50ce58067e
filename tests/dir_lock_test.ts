/**
 * Two jobs on one directory: a job holds its checkpoint directory and its
 * exactly-once sink's output directory while it runs. A second job (a real
 * second process) started on either fails at once with an error naming the
 * first (job, pid, host); after `kill -9` of the first, a new run starts and
 * finishes with exactly-once output, the lock left by the killed process
 * gone with it.
 */
import assert from "node:assert/strict";
import { PAUSE_MARKER } from "./_helpers/crash.ts";
import { checkWordCount, makeWordInput } from "./_helpers/word_count_check.ts";

const CRASH_CHILD = new URL("./_helpers/crash.ts", import.meta.url).pathname;
const WORD_COUNT = new URL("../examples/word_count.ts", import.meta.url).pathname;

/** word_count in a child that pauses (alive, holding its locks) in its first checkpoint write. */
async function pausedJob(args: string[]): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    // Inline: the pause in the first checkpoint write then holds the whole job.
    args: ["run", "-A", CRASH_CHILD, WORD_COUNT, ...args, "--parallelism", "1"],
    env: { NO_COLOR: "1", WEIR_TEST_PAUSE_IN_CHECKPOINT_MS: "60000", WEIR_TEST_PAUSE_AT: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let err = "";
  for await (const chunk of child.stderr) {
    err += decoder.decode(chunk, { stream: true });
    if (err.includes(PAUSE_MARKER)) return child;
  }
  throw new Error(`the first job ended before pausing: ${err}`);
}

async function kill9(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  assert.equal((await child.status).signal, "SIGKILL");
}

async function wordCount(args: string[]): Promise<{ code: number; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORD_COUNT, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: r.code, err: new TextDecoder().decode(r.stderr) };
}

for (const shared of ["checkpoint", "output"] as const) {
  Deno.test(`two jobs on one ${shared} directory: the second fails naming the first; after kill -9 of the first a new run starts`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-lock-" });
    let first: Deno.ChildProcess | undefined;
    try {
      const input = makeWordInput(7, 3000, 200);
      Deno.writeTextFileSync(`${dir}/input.txt`, input);
      const common = ["--input", `${dir}/input.txt`];
      const ck = `${dir}/ck`, out = `${dir}/out`;
      first = await pausedJob([...common, "--checkpoint-dir", ck, "--output", out]);
      const second = await wordCount([
        ...common,
        "--checkpoint-dir",
        shared === "checkpoint" ? ck : `${dir}/ck2`,
        "--output",
        shared === "output" ? out : `${dir}/out2`,
      ]);
      assert.notEqual(second.code, 0, second.err);
      const [what, path, holder] = shared === "checkpoint"
        ? ["Checkpoint", ck, 'job "word count"']
        : ["Output", out, 'exactly-once file sink "sink"'];
      assert.ok(
        second.err.includes(
          `${what} directory ${path} is in use by ${holder} (pid ${first.pid} on host ${Deno.hostname()}, running since `,
        ),
        second.err,
      );
      assert.ok(second.err.includes(`lock file ${path}/.weir-lock`), second.err);
      assert.equal(second.err.trim().split("\n").length, 1, `one clear line:\n${second.err}`);

      await kill9(first);
      first = undefined;
      const again = await wordCount([
        ...common,
        "--checkpoint-dir",
        ck,
        "--output",
        out,
        "--restore",
        "latest",
      ]);
      assert.equal(again.code, 0, again.err);
      assert.deepEqual(checkWordCount(input, out, true), []);
    } finally {
      if (first) await kill9(first);
      Deno.removeSync(dir, { recursive: true });
    }
  });
}
