/**
 * Crash test with checkpoints in PostgreSQL and Redis: word_count and
 * keyed_shuffle, at parallelism 1 and 2, on both working backends (each pair of
 * these met once: `setups`), are killed with SIGKILL a few times (after random
 * shares of the input each run has left and inside checkpoint writes) and
 * restarted with `--restore latest`, which reads the database. The output must
 * be exactly-once, and the database must then hold the same counts as an
 * independent count of the input, read with psql / redis-cli.
 */
import assert from "node:assert/strict";
import { assertKillsLanded, describeReport, linesIn, runWithCrashes } from "./_helpers/crash.ts";
import { startPostgres, startRedis, type TestServer } from "./_helpers/db_servers.ts";
import { type DatabaseKind, stateInDatabase } from "./_helpers/database_state.ts";
import {
  checkKeyedShuffle,
  eventsByUser,
  makeShuffleInput,
} from "./_helpers/keyed_shuffle_check.ts";
import { checkWordCount, countWords, makeWordInput } from "./_helpers/word_count_check.ts";

const KILLS = 3;
const SEED = Number(Deno.env.get("WEIR_CRASH_SEED") ?? Date.now() % 100_000);

interface Case {
  name: string;
  script: string;
  input: () => string;
  check: (input: string, out: string, exact: boolean) => string[];
  /** The state the database must hold afterwards: operator, state, key → value. */
  expected: (input: string) => { operator: string; state: string; values: Map<string, number> };
}

const CASES: Case[] = [
  {
    name: "word_count",
    script: "examples/word_count.ts",
    input: () => makeWordInput(SEED, 240_000, 2000),
    check: checkWordCount,
    expected: (input) => ({
      operator: "count",
      state: "count",
      values: new Map([...countWords(input)].map(([w, n]) => [JSON.stringify(w), n])),
    }),
  },
  {
    name: "keyed_shuffle",
    script: "examples/keyed_shuffle.ts",
    input: () => makeShuffleInput(SEED, 600_000, 300),
    check: checkKeyedShuffle,
    expected: (input) => ({
      operator: "sum",
      state: "n",
      values: new Map([...eventsByUser(input)].map(([u, a]) => [JSON.stringify(u), a.length])),
    }),
  },
];

/**
 * The backends and parallelisms case `c` of `CASES` runs with in database `kind`: half of the
 * four each, the other half in the other database, so that each database, job, backend and
 * parallelism meet each other one (every pair of them is run; a run takes 7-20 s).
 */
function setups(kind: DatabaseKind, c: number): (readonly ["heap" | "lsm", 1 | 2])[] {
  const flip = (kind === "postgres" ? 0 : 1) ^ c;
  return [["heap", flip ? 2 : 1], ["lsm", flip ? 1 : 2]];
}

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  Deno.test(`crash (${kind} checkpoint storage): exactly-once after kill -9, database holds the input's counts`, async (t) => {
    const server: TestServer = kind === "postgres" ? await startPostgres() : await startRedis();
    try {
      for (const [i, c] of CASES.entries()) {
        for (const [backend, parallelism] of setups(kind, i)) {
          await t.step(`${c.name} ${backend} parallelism ${parallelism}`, async () => {
            const dir = await Deno.makeTempDir({ prefix: "weir-dbcrash-" });
            const job = `${c.name}-${backend}-p${parallelism}`;
            try {
              const input = c.input();
              await Deno.writeTextFile(`${dir}/input.txt`, input);
              await Deno.mkdir(`${dir}/tmp`);
              const report = await runWithCrashes({
                script: c.script,
                args: [
                  "--input",
                  `${dir}/input.txt`,
                  "--output",
                  `${dir}/out`,
                  "--checkpoint-storage",
                  `${server.url}?job=${job}`,
                  // The local working copy: where the kills inside checkpoint writes land.
                  "--checkpoint-dir",
                  `${dir}/ck`,
                  "--checkpoint-interval",
                  "40",
                  "--state-backend",
                  backend,
                  "--parallelism",
                  String(parallelism),
                  // One thread, as before workers were the default: the storage is under test
                  // here (crash_test.ts kills jobs on workers).
                  "--executor",
                  "inline",
                ],
                checkpointDir: `${dir}/ck`,
                // The database committed one: the history line comes after the commit.
                checkpointReady: () => {
                  try {
                    return Deno.readTextFileSync(`${dir}/ck/_history.jsonl`).includes(
                      '"status":"COMPLETED"',
                    );
                  } catch {
                    return false;
                  }
                },
                kills: KILLS,
                hookEvery: 2,
                records: linesIn(input),
                seed: SEED,
                tmpDir: `${dir}/tmp`,
              });
              assertKillsLanded(report, KILLS);
              assert.ok(
                report.restoredRuns >= 1,
                `no run restored a checkpoint\n${describeReport(report)}`,
              );
              assert.ok(
                !report.lastStderr.includes(server.password),
                "the password is not printed",
              );
              assert.deepEqual(c.check(input, `${dir}/out`, true), [], describeReport(report));
              const want = c.expected(input);
              const got = stateInDatabase(kind, server.url, job, want.operator, want.state);
              assert.deepEqual(
                new Map([...got].sort()),
                new Map([...want.values].sort()),
                `seed ${SEED}`,
              );
            } finally {
              await Deno.remove(dir, { recursive: true });
            }
          });
        }
      }
    } finally {
      await server.stop();
    }
  });
}
