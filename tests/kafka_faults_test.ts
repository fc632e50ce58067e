/**
 * Broker faults while examples/kafka_word_count.ts runs exactly-once against
 * the mock cluster: a broker down and back, partition leaders moving, every
 * broker frozen (its process stopped, connections open) and thawed, and
 * injected request errors (produce, fetch, transaction end). The job rides
 * through them or restarts from its latest checkpoint, finishes, and its
 * committed output is exactly once.
 */
import assert from "node:assert/strict";
import { MockKafka } from "./_helpers/kafka_mock.ts";
import { checkKafkaWordCount, produceLines } from "./_helpers/kafka_word_count_check.ts";
import { makeWordInput } from "./_helpers/word_count_check.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kafka error codes and API keys the faults use. */
const NOT_LEADER_OR_FOLLOWER = 6;
const REQUEST_TIMED_OUT = 7;
const NOT_COORDINATOR = 16;
const API_PRODUCE = 0;
const API_FETCH = 1;
const API_END_TXN = 26;

const FAULTS: { name: string; inject: (k: MockKafka) => Promise<void> }[] = [
  {
    name: "a broker down and back",
    inject: async (k) => {
      await k.command("down 1");
      await sleep(1500);
      await k.command("up 1");
    },
  },
  {
    name: "leader changes",
    inject: async (k) => {
      for (let p = 0; p < 3; p++) await k.command(`leader lines ${p} ${1 + ((p + 1) % 3)}`);
      for (let p = 0; p < 6; p++) await k.command(`leader counts ${p} ${1 + ((p + 2) % 3)}`);
    },
  },
  {
    name: "every broker frozen (SIGSTOP) for 5 s",
    inject: async (k) => {
      k.signal("SIGSTOP");
      try {
        await sleep(5000);
      } finally {
        k.signal("SIGCONT");
      }
    },
  },
  {
    name: "request errors",
    inject: async (k) => {
      await k.command(`errors ${API_FETCH} ${NOT_LEADER_OR_FOLLOWER} ${REQUEST_TIMED_OUT}`);
      await k.command(`errors ${API_PRODUCE} ${NOT_LEADER_OR_FOLLOWER} ${REQUEST_TIMED_OUT}`);
      await k.command(`errors ${API_END_TXN} ${NOT_COORDINATOR}`);
    },
  },
];

for (const fault of FAULTS) {
  Deno.test(`kafka faults: ${fault.name} during kafka_word_count, output exactly once`, async () => {
    const kafka = await MockKafka.start();
    const dir = await Deno.makeTempDir({ prefix: "weir-kafka-faults-" });
    try {
      await kafka.createTopic("lines", 3);
      await kafka.createTopic("counts", 6);
      await kafka.createTopic("counts.weir-transactions", 1);
      const input = makeWordInput(7, 5_000, 500);
      await produceLines(kafka.bootstrap, "lines", input);
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "examples/kafka_word_count.ts",
          ...["--bootstrap-servers", kafka.bootstrap, "--input-topic", "lines"],
          ...["--output-topic", "counts", "--bounded", "--parallelism", "2"],
          ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "100"],
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      let exited = false;
      child.status.then(() => exited = true);
      // Faults land once the job has checkpointed (it is reading and committing by then).
      const deadline = Date.now() + 30_000;
      while (!hasCheckpoint(`${dir}/ck`)) {
        if (Date.now() > deadline) throw new Error("no checkpoint within 30 s");
        await sleep(20);
      }
      await fault.inject(kafka);
      assert.ok(!exited, "the job was still running when the faults were injected");
      const status = await child.status;
      const log = (await stderr).split("\n").filter((l) => !l.startsWith("%")).join("\n");
      assert.equal(status.code, 0, log);
      const { problems } = await checkKafkaWordCount(kafka.bootstrap, input, "counts", true);
      assert.deepEqual(problems, []);
    } finally {
      await kafka.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

function hasCheckpoint(dir: string): boolean {
  try {
    return [...Deno.readDirSync(dir)].some((e) => {
      if (!/^chk-\d+$/.test(e.name)) return false;
      try {
        Deno.statSync(`${dir}/${e.name}/_metadata`);
        return true;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}
