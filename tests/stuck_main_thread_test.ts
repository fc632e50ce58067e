/**
 * The main thread's watchdog (Flink's task cancellation watchdog): a subtask on the main thread
 * whose function never returns holds the checkpoint coordinator too, so no checkpoint times out;
 * the process is killed once the thread has not run for the checkpoint interval, the timeouts
 * and `cancellationTimeoutMs`, and its latest checkpoint restores.
 */
import assert from "node:assert/strict";

const SCRIPT = new URL("./_helpers/parallel_job.ts", import.meta.url).pathname;

/** Runs the stuck-main scenario; ends it after `giveUpMs` if it has not ended by itself. */
async function stuck(args: string[], giveUpMs: number) {
  const dir = await Deno.makeTempDir({ prefix: "weir-stuck-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", SCRIPT, "--scenario", "stuck-main", "--checkpoint-dir", dir],
      ...["--checkpoint-interval", "100", ...args],
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let gaveUp = false;
  const timer = setTimeout(() => {
    gaveUp = true;
    child.kill("SIGTERM");
  }, giveUpMs);
  const started = performance.now();
  const out = await child.output();
  const tookMs = performance.now() - started;
  clearTimeout(timer);
  const chk = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("chk-"));
  await Deno.remove(dir, { recursive: true });
  return { out, gaveUp, tookMs, stderr: new TextDecoder().decode(out.stderr), chk };
}

for (const executor of ["inline", "workers"]) {
  const parallelism = executor === "inline" ? "1" : "2";
  Deno.test(`a ${executor} subtask on the main thread that never returns: the watchdog kills the process, naming why`, async () => {
    const r = await stuck(
      ["--parallelism", parallelism, "--executor", executor, "--cancellation-timeout", "500"],
      30_000,
    );
    assert.equal(r.gaveUp, false, r.stderr);
    assert.equal(r.out.signal, "SIGKILL", r.stderr);
    assert.match(r.stderr, /stuck from now on/);
    assert.match(
      r.stderr,
      /weir: job "stuck main": the main thread has not run for 800 ms \(the checkpoint interval, 1 checkpoint timeout\(s\) and checkpoint\.cancellationTimeoutMs\)/,
    );
    assert.match(r.stderr, /restore it with --restore latest/);
    assert.ok(r.chk.length > 0, "a checkpoint to restore");
  });
}

Deno.test("a stuck main thread with cancellationTimeoutMs 0: no watchdog, the process runs on", async () => {
  const r = await stuck(
    ["--parallelism", "1", "--executor", "inline", "--cancellation-timeout", "0"],
    4_000,
  );
  assert.equal(r.gaveUp, true, r.stderr);
  assert.match(r.stderr, /stuck from now on/);
  assert.doesNotMatch(r.stderr, /the main thread has not run/);
});
