/**
 * LSM memory soak: a keyed job writes 20 times the LSM backend's memory
 * budget over a fixed key set while two busy processes keep both cores
 * loaded (background flushes and compactions then fall behind the writer),
 * and its peak RSS must stay under the budget plus a fixed overhead: the
 * writer stalls instead of letting frozen memtables, worker copies or
 * segments pile up. The job runs in its own process so its RSS is its own.
 */
import assert from "node:assert/strict";

const MEMTABLE_MIB = 4;
const CACHE_MIB = 2;
/** The store's budget: three memtables (active, frozen, queued) and the block cache. */
const BUDGET_MIB = 3 * MEMTABLE_MIB + CACHE_MIB;
/**
 * What the process holds whatever it writes: the Deno runtime, the code and
 * V8 heaps of the job's thread and of the flush and compaction workers
 * (~200 MiB together), the job thread's JS heap (the backend's value cache,
 * and garbage between collections: up to ~110 MiB), the worker copy of a
 * frozen memtable and its spare. Runs of 2.4M to 12M writes peak at 260-340
 * MiB here, loaded or not; before write stalls, 3M writes passed 600 MiB.
 */
const FIXED_OVERHEAD_MIB = 370;
const RSS_BOUND_MIB = BUDGET_MIB + FIXED_OVERHEAD_MIB;
/** Each write is a ~16-byte key and a 100-byte value: 20 budgets' worth of bytes. */
const WRITES = Math.ceil((20 * BUDGET_MIB * 2 ** 20) / 116);

/** A process that keeps one core busy until killed. */
function busyProcess(): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", "while :; do :; done"],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("LSM memory soak: 20x the budget written under load keeps RSS under budget + fixed overhead", async () => {
  const busy = [busyProcess(), busyProcess()];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_helpers/lsm_soak_job.ts", import.meta.url).pathname,
        "--writes",
        String(WRITES),
        "--memtable-mib",
        String(MEMTABLE_MIB),
        "--cache-mib",
        String(CACHE_MIB),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } finally {
    for (const p of busy) {
      p.kill("SIGKILL");
      await p.status;
    }
  }
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `the soak job failed:\n${stderr}`);
  const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  assert.equal(result.writes, WRITES);
  console.log(
    `  ${WRITES} writes in ${result.seconds.toFixed(1)} s: peak RSS ${result.peakMiB} MiB ` +
      `(bound ${RSS_BOUND_MIB}), write stalls ${result.stallSeconds?.toFixed(1)} s`,
  );
  assert.ok(
    result.peakMiB <= RSS_BOUND_MIB,
    `peak RSS ${result.peakMiB} MiB > ${RSS_BOUND_MIB} MiB (budget ${BUDGET_MIB} + ${FIXED_OVERHEAD_MIB})`,
  );
  // The write-stall time reached /metrics (0 when flushes kept up).
  assert.ok(typeof result.stallSeconds === "number" && result.stallSeconds >= 0, stderr);
});
