/**
 * Crash test: word_count (parallelism 1) and keyed_shuffle (parallelism 2, a
 * keyed shuffle) run inline in a child process (each also at parallelism 2 on
 * the worker executor, whose workers a kill takes down with the process) that
 * is killed with SIGKILL again and again, after random shares of the input
 * left after each run's restored position were read and inside checkpoint
 * writes, and restarted each time with `--restore latest`; then the committed output is checked: exactly-once for
 * `--mode exactly-once`, nothing lost for `--mode at-least-once`; for the
 * LSM and the heap backend. word_count also reads a directory of files at
 * parallelism 2 (its split enumerator's state restored with the readers').
 *
 * `WEIR_LONG_TESTS=1` makes more kills per scenario; `WEIR_CRASH_SEED=n`
 * repeats a run's kill schedule (where in a batch a kill lands still varies).
 */
import assert from "node:assert/strict";
import {
  assertCrashCoverage,
  type CrashReport,
  describeReport,
  linesIn,
  runWithCrashes,
} from "./_helpers/crash.ts";
import { checkKeyedShuffle, makeShuffleInput } from "./_helpers/keyed_shuffle_check.ts";
import { checkWordCount, makeWordInput } from "./_helpers/word_count_check.ts";

const LONG = Deno.env.get("WEIR_LONG_TESTS") === "1";
const KILLS = LONG ? 30 : 6;
const SEED = Number(Deno.env.get("WEIR_CRASH_SEED") ?? Date.now() % 100_000);

interface JobCase {
  name: string;
  script: string;
  args: string[];
  input: () => string;
  check: (input: string, out: string, exact: boolean) => string[];
}

/** Fails with the output's problems, the seed and every run's history (where each was killed). */
function assertOutput(report: CrashReport, problems: string[], mode: string): void {
  if (problems.length === 0) return;
  assert.fail(
    `${mode} output is wrong after the kills:\n  ${problems.join("\n  ")}\n` +
      describeReport(report),
  );
}

/** Inputs by their arguments: cases over the same input make it once. */
const inputs = new Map<string, string>();
function shared(key: string, make: () => string): string {
  let input = inputs.get(key);
  if (input === undefined) inputs.set(key, input = make());
  return input;
}
const wordInput = (lines: number) =>
  shared(`words ${lines}`, () => makeWordInput(SEED, lines, 3000));
const shuffleInput = (lines: number, users: number) =>
  shared(`shuffle ${lines} ${users}`, () => makeShuffleInput(SEED, lines, users));

const JOBS: JobCase[] = [
  {
    // The inline rows pin their executor and parallelism: a script's default is workers.
    name: "word_count",
    script: "examples/word_count.ts",
    args: ["--parallelism", "1"],
    input: () => wordInput(LONG ? 720_000 : 240_000),
    check: checkWordCount,
  },
  {
    name: "keyed_shuffle",
    script: "examples/keyed_shuffle.ts",
    args: ["--parallelism", "2", "--executor", "inline"],
    input: () => shuffleInput(LONG ? 4_000_000 : 800_000, 500),
    check: checkKeyedShuffle,
  },
  {
    name: "word_count on workers",
    script: "examples/word_count.ts",
    args: ["--parallelism", "2", "--executor", "workers"],
    input: () => wordInput(LONG ? 1_440_000 : 240_000),
    check: (input, out, exact) => checkWordCount(input, out, exact, true),
  },
  {
    name: "keyed_shuffle on workers",
    script: "examples/keyed_shuffle.ts",
    args: ["--parallelism", "2", "--executor", "workers"],
    input: () => shuffleInput(LONG ? 4_000_000 : 800_000, 500),
    check: checkKeyedShuffle,
  },
];

for (const job of JOBS) {
  for (const backend of ["lsm", "heap"]) {
    for (const mode of ["exactly-once", "at-least-once"]) {
      Deno.test(`crash: ${job.name} ${backend} ${mode} survives ${KILLS} kill -9s`, async () => {
        const dir = await Deno.makeTempDir({ prefix: "weir-crash-" });
        try {
          const input = job.input();
          await Deno.writeTextFile(`${dir}/input.txt`, input);
          await Deno.mkdir(`${dir}/tmp`);
          const start = performance.now();
          const report = await runWithCrashes({
            script: job.script,
            args: [
              ...job.args,
              "--input",
              `${dir}/input.txt`,
              "--output",
              `${dir}/out`,
              "--checkpoint-dir",
              `${dir}/ck`,
              "--checkpoint-interval",
              "25",
              "--mode",
              mode,
              "--state-backend",
              backend,
            ],
            checkpointDir: `${dir}/ck`,
            kills: KILLS,
            hookEvery: 3,
            records: linesIn(input),
            seed: SEED,
            tmpDir: `${dir}/tmp`,
          });
          const ms = Math.round(performance.now() - start);
          console.log(
            `  seed ${SEED}: ${report.kills} kills (${report.hookedKills} aimed at, ` +
              `${report.killsInCheckpointWrite} left a checkpoint write unfinished), ` +
              `${report.runs} runs, ${ms} ms`,
          );
          // Not vacuous: kills come after shares of the input each run has left, so all of them land.
          assertCrashCoverage(report, KILLS, { inCheckpointWrites: true });
          assertOutput(report, job.check(input, `${dir}/out`, mode === "exactly-once"), mode);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      });
    }
  }
}

// A directory of files: the source's enumerator (main thread) assigns the files to the readers,
// and its state (files listed, files not yet assigned) is restored beside the readers' positions.
for (const executor of ["inline", "workers"]) {
  Deno.test(`crash: word_count over a directory of files (split enumerator) at parallelism 2 (${executor}) lsm exactly-once survives ${KILLS} kill -9s`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "weir-crash-dir-" });
    try {
      const input = wordInput(LONG ? 720_000 : 240_000);
      const lines = input.split("\n");
      const files = 12;
      await Deno.mkdir(`${dir}/input`);
      for (let f = 0; f < files; f++) {
        const part = lines.slice(
          Math.floor(lines.length * f / files),
          Math.floor(lines.length * (f + 1) / files),
        );
        await Deno.writeTextFile(
          `${dir}/input/part-${String(f).padStart(2, "0")}.txt`,
          part.join("\n") + "\n",
        );
      }
      await Deno.mkdir(`${dir}/tmp`);
      const report = await runWithCrashes({
        script: "examples/word_count.ts",
        args: [
          ...["--parallelism", "2", "--executor", executor],
          ...["--input", `${dir}/input`, "--output", `${dir}/out`],
          ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "25"],
          ...["--mode", "exactly-once", "--state-backend", "lsm"],
        ],
        checkpointDir: `${dir}/ck`,
        kills: KILLS,
        hookEvery: 3,
        records: linesIn(input),
        seed: SEED,
        tmpDir: `${dir}/tmp`,
      });
      assertCrashCoverage(report, KILLS, { inCheckpointWrites: true });
      assertOutput(report, checkWordCount(input, `${dir}/out`, true, true), "exactly-once");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

// Large keyed state and checkpoints 400 ms apart: the LSM store's flushes
// (>= 20k entries) and compactions run on the helper pool's threads, so kills
// land while those threads write segment files.
Deno.test(`crash: keyed_shuffle lsm exactly-once with jobs on workers survives ${KILLS - 2} kill -9s`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-crash-" });
  try {
    const input = shuffleInput(1_200_000, 100_000);
    await Deno.writeTextFile(`${dir}/input.txt`, input);
    await Deno.mkdir(`${dir}/tmp`);
    const report = await runWithCrashes({
      script: "examples/keyed_shuffle.ts",
      args: [
        ...["--parallelism", "2", "--executor", "inline"],
        ...["--input", `${dir}/input.txt`, "--output", `${dir}/out`],
        ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "400"],
        ...["--mode", "exactly-once", "--state-backend", "lsm"],
      ],
      checkpointDir: `${dir}/ck`,
      kills: KILLS - 2,
      hookEvery: 0,
      records: linesIn(input),
      // Its last run replays up to 60% of the input with flushes and compactions.
      runTimeoutMs: 180_000,
      seed: SEED,
      tmpDir: `${dir}/tmp`,
    });
    console.log(`  seed ${SEED}: ${report.kills} kills, ${report.runs} runs`);
    assertCrashCoverage(report, KILLS - 2, { inCheckpointWrites: false });
    assertOutput(report, checkKeyedShuffle(input, `${dir}/out`, true), "exactly-once");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crash: --restore latest without a checkpoint starts fresh and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-crash-" });
  try {
    const input = makeWordInput(SEED, 200, 50);
    await Deno.writeTextFile(`${dir}/input.txt`, input);
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "examples/word_count.ts",
        "--input",
        `${dir}/input.txt`,
        "--output",
        `${dir}/out`,
        "--checkpoint-dir",
        `${dir}/ck`,
        "--restore",
        "latest",
      ],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(stderr);
    assert.ok(success, err);
    assert.match(err, /no checkpoint to restore/);
    assert.deepEqual(checkWordCount(input, `${dir}/out`, true), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
