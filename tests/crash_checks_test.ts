/**
 * The crash tests' own checks: the output checkers find every kind of wrong
 * output at the sizes the crash tests use, and a failed crash run's message
 * names the seed, the assertion and each run's history.
 */
import assert from "node:assert/strict";
import { assertCrashCoverage, type CrashReport } from "./_helpers/crash.ts";
import { checkKeyedShuffle } from "./_helpers/keyed_shuffle_check.ts";
import { checkWordCountLines } from "./_helpers/word_count_check.ts";

/** keyed_shuffle's committed output for `events` (`user amount` each), one file per part. */
function shuffleOutput(dir: string, events: [string, number][], parts: string[][] = []): void {
  const n = new Map<string, number>(), sum = new Map<string, number>();
  const lines = events.map(([user, amount]) => {
    n.set(user, (n.get(user) ?? 0) + 1);
    sum.set(user, (sum.get(user) ?? 0) + amount);
    return `${user}\t${n.get(user)}\t${sum.get(user)}`;
  });
  Deno.writeTextFileSync(`${dir}/part-0`, [...lines, ...parts.flat()].join("\n") + "\n");
}

Deno.test("checkKeyedShuffle: a user with 150,000 events checks out (its line numbers are not spread into arguments)", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const events: [string, number][] = Array.from({ length: 150_000 }, (_, i) => ["hot", i % 7]);
    events.push(["cold", 5]);
    const input = events.map(([u, a]) => `${u} ${a}`).join("\n") + "\n";
    shuffleOutput(dir, events);
    assert.deepEqual(checkKeyedShuffle(input, dir, true), []);
    assert.deepEqual(checkKeyedShuffle(input, dir, false), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkKeyedShuffle: lost, doubled, extra and wrong lines are problems", () => {
  const events: [string, number][] = [["a", 1], ["b", 2], ["a", 3], ["b", 4], ["a", 5]];
  const input = events.map(([u, a]) => `${u} ${a}`).join("\n") + "\n";
  const cases: [string, string[], boolean, string[]][] = [
    ["doubled", ["a\t2\t4"], true, ["a\t2 appears 2 times (sums 4,4)"]],
    ["beyond the events", ["a\t4\t9"], true, [
      "a has 4 lines, but 3 events",
      "a: the running sums do not add up the user's amounts",
    ]],
    ["a replay, at-least-once", ["a\t4\t9"], false, []],
    ["unknown user", ["c\t1\t1"], true, ['unexpected user "c"']],
    ["malformed", ["a\tx\t1"], true, ['malformed line "a\\tx\\t1"']],
  ];
  for (const [name, extra, exact, want] of cases) {
    const dir = Deno.makeTempDirSync();
    try {
      shuffleOutput(dir, events, [extra]);
      assert.deepEqual(checkKeyedShuffle(input, dir, exact), want, name);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  }
  const dir = Deno.makeTempDirSync();
  try {
    // b's second event lost, a's sums from other amounts.
    Deno.writeTextFileSync(`${dir}/part-0`, "a\t1\t1\na\t2\t4\na\t3\t8\nb\t1\t2\n");
    assert.deepEqual(checkKeyedShuffle(input, dir, true), [
      "a: the running sums do not add up the user's amounts",
      "missing b\t2",
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkWordCountLines: lost, doubled and extra counts are problems; at-least-once allows repeats", () => {
  const input = "x y x\nx\n";
  const good = ["x\t1", "x\t2", "x\t3", "y\t1"];
  assert.deepEqual(checkWordCountLines(input, good, true), []);
  assert.deepEqual(checkWordCountLines(input, ["x\t1", "x\t3", "y\t1"], true), ["missing x\t2"]);
  assert.deepEqual(checkWordCountLines(input, [...good, "x\t2"], true), ["x\t2 appears 2 times"]);
  assert.deepEqual(checkWordCountLines(input, [...good, "x\t2"], false), []);
  for (const extra of ["x\t4", "x\t04", "z\t1", "x\t1e0", "garbage", "x\t99999999999"]) {
    assert.deepEqual(
      checkWordCountLines(input, [...good, extra], true),
      [`unexpected line ${JSON.stringify(extra)}`],
      extra,
    );
  }
  // Unaligned barriers at parallelism: a count past the word's may be seen at-least-once.
  assert.deepEqual(checkWordCountLines(input, [...good, "x\t4"], false, false, true), []);
  assert.deepEqual(checkWordCountLines(input, [...good, "x\t4"], true, true), []);
});

Deno.test("assertCrashCoverage: each failure names the seed, what failed and every run", () => {
  const report = (over: Partial<CrashReport>): CrashReport => ({
    kills: 2,
    killsInCheckpointWrite: 1,
    hookedKills: 1,
    missed: "none",
    missedDetail: "",
    positions: [],
    runs: 3,
    restoredRuns: 2,
    lastStderr: "",
    seed: 4242,
    history: ["run 1: from a fresh start, aimed a kill at record 10; killed at record 12"],
    ...over,
  });
  assertCrashCoverage(report({}), 2, { inCheckpointWrites: true });
  const failures: [Partial<CrashReport>, RegExp][] = [
    [{ restoredRuns: 0 }, /^no run restored a checkpoint\nseed 4242: .*\n {2}run 1: from/],
    [{ hookedKills: 0, killsInCheckpointWrite: 0 }, /^no kill landed inside a checkpoint write/],
    [{ killsInCheckpointWrite: 0 }, /1 kills landed paused .* only 0 left an unfinished write/],
    [
      { kills: 1, missed: "random", missedDetail: "kill 2 of 2 was aimed at record 9" },
      /only 1 of 2 kills landed: .*aimed at record 9\nseed 4242/,
    ],
  ];
  for (const [over, message] of failures) {
    assert.throws(() => assertCrashCoverage(report(over), 2, { inCheckpointWrites: true }), {
      message,
    });
  }
});
