/**
 * Kafka connector throughput against librdkafka's mock cluster (one helper
 * process, three brokers on loopback): the source's read rate and the sink's
 * write rate (records/s and MB/s of 100-byte values) beside `kcat`'s consume
 * and produce rates against the same cluster in the same run, and the cost of
 * exactly-once (transactions at 1 s checkpoints) against at-least-once (1 s
 * checkpoints). One subtask each. The mock keeps only the last few MB of a
 * partition, so topics have many partitions and every rate counts the records
 * actually read. The machine is often shared, so beside wall time every row
 * shows the CPU seconds (user + system, all threads) of the process doing the
 * work: weir's own (`process.cpuUsage`), kcat's from `/usr/bin/time`.
 *
 * deno run -A bench/kafka.ts [--records N] [--quick]
 *
 * @module
 */
import process from "node:process";
import {
  KafkaConsumer,
  KafkaSerializers,
  KafkaSink,
  KafkaSource,
  type SinkFunction,
  StreamEnvironment,
} from "../mod.ts";
import { MockKafka } from "../tests/_helpers/kafka_mock.ts";
import { benchFlags, machine, rate, table } from "./_util.ts";

const values = benchFlags({
  records: { type: "string" },
  quick: { type: "boolean" },
  // bench/main.ts passes it to every benchmark; the default is already the full size.
  full: { type: "boolean" },
});
const N = Number(values.records ?? (values.quick ? 20_000 : 300_000));
const VALUE_BYTES = 100;
const PARTITIONS = 24;

/** A 100-byte value for record `i` (ASCII, no newline: kcat reads it as one line). */
function valueOf(i: number): string {
  const head = `record-${i}-`;
  return head + "x".repeat(VALUE_BYTES - head.length);
}

/** Wall time and CPU seconds (user + system) of one run. */
interface Cost {
  ms: number;
  cpu: number;
}

const inputs = Array.from({ length: N }, (_, i) => valueOf(i));

function row(what: string, records: number, cost: Cost): (string | number)[] {
  const perSecond = records / (cost.ms / 1000);
  return [
    what,
    records,
    Math.round(cost.ms),
    `${rate(perSecond)}/s`,
    `${(perSecond * VALUE_BYTES / 1e6).toFixed(1)} MB/s`,
    cost.cpu.toFixed(2),
    `${rate(records / cost.cpu)}`,
  ];
}

/** Runs `f`, timing it in wall and in this process's CPU seconds. */
async function measured<R>(f: () => Promise<R>): Promise<Cost & { result: R }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await f();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ms, cpu: (used.user + used.system) / 1e6, result };
}

const TIME = "/usr/bin/time";

async function kcat(args: string[], input?: string): Promise<Cost & { out: string }> {
  const times = await Deno.makeTempFile({ prefix: "weir-bench-kcat-" });
  const start = performance.now();
  const child = new Deno.Command(TIME, {
    args: ["-f", "%U %S", "-o", times, "kcat", ...args],
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const r = await child.output();
  const ms = performance.now() - start;
  if (!r.success) throw new Error(`kcat ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  const [user = NaN, system = NaN] = (await Deno.readTextFile(times)).trim().split(/\s+/)
    .slice(-2).map(Number);
  await Deno.remove(times);
  return { ms, cpu: user + system, out: new TextDecoder().decode(r.stdout) };
}

/** A sink that counts. */
function counter(): { sink: SinkFunction<unknown>; count: () => number } {
  let n = 0;
  return { sink: { invoke: () => void n++ }, count: () => n };
}

async function readWithWeir(bootstrap: string, topic: string): Promise<Cost & { n: number }> {
  const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const c = counter();
  env.addSource(
    new KafkaSource({
      bootstrapServers: bootstrap,
      topics: [topic],
      bounded: true,
      deserializer: (r) => r.value,
    }),
  ).addSink(c.sink);
  const cost = await measured(() => env.execute("kafka read"));
  return { ms: cost.ms, cpu: cost.cpu, n: c.count() };
}

async function writeWithWeir(
  bootstrap: string,
  topic: string,
  guarantee: "at-least-once" | "exactly-once",
  timestamped = false,
): Promise<Cost> {
  const dir = await Deno.makeTempDir({ prefix: "weir-bench-kafka-" });
  try {
    const env = StreamEnvironment.create({
      parallelism: 1,
      checkpoint: { dir, intervalMs: 1000 },
      log: () => {},
    });
    // Built before the clock starts, as kcat's input is: both sides time only writing.
    env.generate({ count: N, generate: (i) => inputs[i]! }).addSink(
      new KafkaSink<string>({
        bootstrapServers: bootstrap,
        topic,
        deliveryGuarantee: guarantee,
        transactionalIdPrefix: `bench-${topic}`,
        // Timestamped, as records with an event time are written (librdkafka's produceva);
        // else the producer stamps them (its plain produce).
        serializer: (v) => ({
          value: KafkaSerializers.string(v),
          ...(timestamped ? { timestamp: 1_700_000_000_000 } : {}),
        }),
      }),
    );
    const { ms, cpu } = await measured(() => env.execute("kafka write"));
    return { ms, cpu };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Offsets written to `topic` (the sum of its partitions' ends): a rate counts
 * only records that reached Kafka. Under exactly-once the ends also count one
 * commit marker per partition and transaction.
 */
async function offsetsWritten(bootstrap: string, topic: string): Promise<number> {
  const consumer = KafkaConsumer.create({ "bootstrap.servers": bootstrap });
  try {
    let n = 0;
    for (let p = 0; p < PARTITIONS; p++) n += (await consumer.watermarks(topic, p)).high;
    return n;
  } finally {
    await consumer.close();
  }
}

async function assertWrote(bootstrap: string, topic: string): Promise<void> {
  const n = await offsetsWritten(bootstrap, topic);
  if (n < N) {
    throw new Error(`bench/kafka.ts: ${topic} holds ${n} offsets, fewer than ${N} records`);
  }
}

const kafka = await MockKafka.start();
try {
  const b = kafka.bootstrap;
  for (const t of ["kcat-in", "alo-out", "alo-ts-out", "eo-out"]) {
    await kafka.createTopic(t, PARTITIONS);
  }
  await kafka.createTopic("eo-out.weir-transactions", 1);
  const lines = inputs.join("\n") + "\n";
  const produced = await kcat(["-P", "-b", b, "-t", "kcat-in", "-X", "linger.ms=5"], lines);
  const consumed = await kcat(["-C", "-b", b, "-t", "kcat-in", "-e", "-q", "-o", "beginning"]);
  const kcatRead = consumed.out.split("\n").filter((l) => l !== "").length;
  const weirRead = await readWithWeir(b, "kcat-in");
  const alo = await writeWithWeir(b, "alo-out", "at-least-once");
  const aloTs = await writeWithWeir(b, "alo-ts-out", "at-least-once", true);
  const eo = await writeWithWeir(b, "eo-out", "exactly-once");
  for (const t of ["alo-out", "alo-ts-out", "eo-out"]) await assertWrote(b, t);
  console.log(`## Kafka connectors (mock cluster, ${N} records of ${VALUE_BYTES} bytes)\n`);
  console.log(machine() + "\n");
  console.log(table(["run", "records", "ms", "records/s", "MB/s", "CPU s", "records/CPU-s"], [
    row("kcat produce", N, produced),
    row("weir sink, at-least-once (1 s checkpoints)", N, alo),
    row("weir sink, at-least-once, records with timestamps", N, aloTs),
    row("weir sink, exactly-once (transactions, 1 s checkpoints)", N, eo),
    row("kcat consume", kcatRead, consumed),
    row("weir source (bounded)", weirRead.n, weirRead),
  ]));
  console.log(
    `\nexactly-once costs ${((eo.ms / alo.ms - 1) * 100).toFixed(0)}% more time and ${
      ((eo.cpu / alo.cpu - 1) * 100).toFixed(0)
    }% more CPU than at-least-once`,
  );
} finally {
  await kafka.stop();
}
