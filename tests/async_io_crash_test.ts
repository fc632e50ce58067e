/**
 * Async I/O survives kill -9: examples/async_enrich.ts looks every line up on
 * a slow HTTP server with many requests in flight, is killed again and again
 * and restarted with `--restore latest`; in exactly-once mode every line is
 * in the committed output exactly once.
 */
import assert from "node:assert/strict";
import { runWithCrashes } from "./_helpers/crash.ts";
import { committedLines } from "./_helpers/word_count_check.ts";
import { startLookupServer } from "./_helpers/lookup_server.ts";

const SEED = Number(Deno.env.get("WEIR_CRASH_SEED") ?? Date.now() % 100_000);
const KILLS = 4;

for (const order of ["ordered", "unordered"] as const) {
  Deno.test(`crash: async I/O (${order}) exactly-once survives ${KILLS} kill -9s with lookups in flight`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "weir-async-crash-" });
    const server = startLookupServer();
    try {
      const n = 4000;
      const ids = Array.from({ length: n }, (_, i) => `id${i}`);
      await Deno.writeTextFile(`${dir}/input.txt`, ids.join("\n") + "\n");
      const report = await runWithCrashes({
        script: "examples/async_enrich.ts",
        args: [
          ...["--input", `${dir}/input.txt`, "--output", `${dir}/out`],
          ...["--lookup-url", `${server.url}/lookup/{}?delay=3`, "--capacity", "40"],
          ...(order === "unordered" ? ["--unordered"] : []),
          ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "30"],
          ...["--mode", "exactly-once", "--state-backend", "heap"],
        ],
        checkpointDir: `${dir}/ck`,
        kills: KILLS,
        hookEvery: 0,
        maxDelayMs: 300,
        seed: SEED,
        tmpDir: `${dir}/tmp`,
      });
      console.log(`  seed ${SEED}: ${report.kills} kills, ${report.runs} runs`);
      assert.ok(report.kills >= KILLS - 1, `only ${report.kills} kills before the job finished`);
      assert.ok(report.restoredRuns >= 1, "some run restored a checkpoint");
      const lines = committedLines(`${dir}/out`);
      const seen = new Map<string, number>();
      for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
      const doubled = [...seen].filter(([, c]) => c > 1).map(([l]) => l);
      assert.deepEqual(doubled.slice(0, 5), [], `seed ${SEED}: doubled`);
      const missing = ids.filter((id) => !seen.has(`${id}\tvalue-${id}`));
      assert.deepEqual(missing.slice(0, 5), [], `seed ${SEED}: ${missing.length} missing`);
      assert.equal(lines.length, n);
      // The kills interrupted lookups: some ids were requested by more than one run.
      const again = [...server.requests.values()].filter((c) => c > 1).length;
      assert.ok(again > 0, "lookups in flight at a kill were made again");
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
