/**
 * The exactly-once file sink rolling parts within checkpoints survives
 * kill -9: a job writing every input line through it, rolling parts by size
 * and by age, is killed again and again and restarted with `--restore latest`;
 * every line is then committed exactly once, across many parts per checkpoint.
 */
import assert from "node:assert/strict";
import { assertCrashCoverage, describeReport, linesIn, runWithCrashes } from "./_helpers/crash.ts";

const SEED = Number(Deno.env.get("WEIR_CRASH_SEED") ?? Date.now() % 100_000);
const KILLS = 4;

/** Committed part files under `dir` (hidden files and folders are not committed). */
function committedParts(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (sub: string) => {
    for (const e of Deno.readDirSync(`${dir}/${sub}`)) {
      if (e.name.startsWith(".")) continue;
      const path = sub === "" ? e.name : `${sub}/${e.name}`;
      if (e.isDirectory) walk(path);
      else found.set(path, Deno.readTextFileSync(`${dir}/${path}`));
    }
  };
  walk("");
  return found;
}

for (const bucketed of [false, true]) {
  Deno.test(
    `crash: exactly-once file sink rolling parts by size and age${
      bucketed ? " into buckets" : ""
    } at parallelism 2 survives ${KILLS} kill -9s`,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "weir-roll-crash-" });
      try {
        const n = 200_000;
        const lines = Array.from({ length: n }, (_, i) => `line-${i}-${"x".repeat(i % 40)}`);
        const input = lines.join("\n") + "\n";
        await Deno.writeTextFile(`${dir}/input.txt`, input);
        await Deno.mkdir(`${dir}/tmp`);
        const report = await runWithCrashes({
          script: "tests/_helpers/rolling_file_sink_job.ts",
          args: [
            ...["--input", `${dir}/input.txt`, "--output", `${dir}/out`],
            ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "40"],
            ...["--parallelism", "2", "--executor", "inline", "--state-backend", "heap"],
            ...(bucketed ? ["--bucketed"] : []),
          ],
          checkpointDir: `${dir}/ck`,
          kills: KILLS,
          hookEvery: 2,
          records: linesIn(input),
          seed: SEED,
          tmpDir: `${dir}/tmp`,
        });
        console.log(`  seed ${SEED}: ${report.kills} kills, ${report.runs} runs`);
        assertCrashCoverage(report, KILLS, { inCheckpointWrites: true });
        const parts = committedParts(`${dir}/out`);
        const seen = new Map<string, number>();
        const misplaced: string[] = [];
        const seconds = new Set<string>();
        for (const [path, text] of parts) {
          const folder = path.slice(0, path.lastIndexOf("/") + 1);
          if (bucketed) seconds.add(folder.split("/")[0]!);
          for (const l of text.split("\n")) {
            if (l === "") continue;
            seen.set(l, (seen.get(l) ?? 0) + 1);
            const k = Number(l.split("-")[1]) % 3;
            if (
              bucketed
                ? !new RegExp(`^\\d{4}-\\d\\d-\\d\\d--\\d\\d-\\d\\d-\\d\\d/k=${k}/$`).test(folder)
                : folder !== ""
            ) {
              misplaced.push(`${l} in ${folder}`);
            }
          }
        }
        assert.deepEqual(
          misplaced.slice(0, 5),
          [],
          `${misplaced.length} lines in the wrong bucket`,
        );
        if (bucketed) assert.ok(seconds.size > 1, `one time bucket only: ${[...seconds]}`);
        const doubled = [...seen].filter(([, c]) => c > 1).map(([l]) => l);
        const missing = lines.filter((l) => !seen.has(l));
        const why = `seed ${SEED}\n${describeReport(report)}`;
        assert.deepEqual(doubled.slice(0, 5), [], `${doubled.length} doubled; ${why}`);
        assert.deepEqual(missing.slice(0, 5), [], `${missing.length} missing; ${why}`);
        assert.equal(seen.size, n);
        // Not vacuous: parts rolled within checkpoints, and none much past the size limit.
        assert.ok(parts.size > 100, `only ${parts.size} parts`);
        const largest = Math.max(
          ...[...parts.values()].map((t) => new TextEncoder().encode(t).length),
        );
        assert.ok(largest <= 4096 + 64, `a part of ${largest} bytes`);
        assert.deepEqual(
          [...Deno.readDirSync(`${dir}/out/.in-progress`)],
          [],
          "nothing left pending",
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}
