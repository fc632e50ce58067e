/**
 * Crash test: examples/kafka_word_count.ts reads random text from a topic of
 * the mock Kafka cluster (its own process, so the brokers survive) and writes
 * counts to a topic; the job is killed with SIGKILL again and again and
 * restarted with `--restore latest`, for both state backends at parallelism 1
 * and 2. Exactly-once: every count appears exactly once among the committed
 * records; at-least-once: none is missing.
 *
 * `WEIR_LONG_TESTS=1` makes more kills; `WEIR_CRASH_SEED=n` repeats a kill schedule.
 */
import assert from "node:assert/strict";
import { assertKillsLanded, describeReport, linesIn, runWithCrashes } from "./_helpers/crash.ts";
import { MockKafka } from "./_helpers/kafka_mock.ts";
import { checkKafkaWordCount, produceLines } from "./_helpers/kafka_word_count_check.ts";
import { makeWordInput } from "./_helpers/word_count_check.ts";

const LONG = Deno.env.get("WEIR_LONG_TESTS") === "1";
const KILLS = LONG ? 12 : 4;
const SEED = Number(Deno.env.get("WEIR_CRASH_SEED") ?? Date.now() % 100_000);

// Input lines. Kills come after a random share of the lines left after each run's restored
// position was read, so the count only has to outlast the first checkpoint (100 ms) on a fast
// machine, whatever the parallelism.
const LINES = 20_000;

const CASES: { backend: string; parallelism: number; mode: string }[] = [
  { backend: "lsm", parallelism: 1, mode: "exactly-once" },
  { backend: "lsm", parallelism: 2, mode: "exactly-once" },
  { backend: "heap", parallelism: 1, mode: "exactly-once" },
  { backend: "heap", parallelism: 2, mode: "exactly-once" },
  { backend: "heap", parallelism: 2, mode: "at-least-once" },
];

for (const c of CASES) {
  const name =
    `crash: kafka_word_count ${c.backend} p${c.parallelism} ${c.mode} survives ${KILLS} kill -9s`;
  Deno.test(name, async () => {
    const kafka = await MockKafka.start();
    const dir = await Deno.makeTempDir({ prefix: "weir-kafka-crash-" });
    try {
      await kafka.createTopic("lines", 3);
      // Output spread wide: the mock keeps only the last few MB of each partition.
      await kafka.createTopic("counts", 12);
      await kafka.createTopic("counts.weir-transactions", 1);
      const input = makeWordInput(SEED, LONG ? 2 * LINES : LINES, 800);
      await produceLines(kafka.bootstrap, "lines", input);
      await Deno.mkdir(`${dir}/tmp`);
      const report = await runWithCrashes({
        script: "examples/kafka_word_count.ts",
        args: [
          ...["--bootstrap-servers", kafka.bootstrap, "--input-topic", "lines"],
          ...["--output-topic", "counts", "--bounded"],
          ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "100"],
          ...["--mode", c.mode, "--state-backend", c.backend],
          ...["--parallelism", String(c.parallelism)],
        ],
        checkpointDir: `${dir}/ck`,
        kills: KILLS,
        hookEvery: 0,
        records: linesIn(input),
        seed: SEED,
        tmpDir: `${dir}/tmp`,
        runTimeoutMs: 120_000,
      });
      assertKillsLanded(report, KILLS);
      assert.ok(
        report.restoredRuns >= 1,
        `no run restored a checkpoint\n${describeReport(report)}`,
      );
      const { problems, uncommitted } = await checkKafkaWordCount(
        kafka.bootstrap,
        input,
        "counts",
        c.mode === "exactly-once",
      );
      console.log(
        `  seed ${SEED}: ${report.kills} kills, ${report.runs} runs; ` +
          `${uncommitted} records of unfinished transactions left out`,
      );
      assert.deepEqual(problems, [], describeReport(report));
    } finally {
      await kafka.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
