/**
 * Starts {@linkcode ./kafka_mock_cluster.ts} in a child process and talks to
 * it: the bootstrap servers, topic creation and broker faults.
 *
 * @module
 */
import { type ConsumedRecord, KafkaConsumer } from "../../core/connectors/kafka/consumer.ts";
import type { KafkaProperties } from "../../core/connectors/kafka/_native.ts";

/** A running mock Kafka cluster in its own process. */
export class MockKafka {
  /** `127.0.0.1:PORT,...` of its brokers. */
  readonly bootstrap: string;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  private constructor(
    bootstrap: string,
    child: Deno.ChildProcess,
    writer: WritableStreamDefaultWriter<Uint8Array>,
    lines: AsyncIterator<string>,
  ) {
    this.bootstrap = bootstrap;
    this.#child = child;
    this.#writer = writer;
    this.#lines = lines;
  }

  /** Starts a cluster of `brokers` brokers (ids 1 … brokers). */
  static async start(brokers = 3): Promise<MockKafka> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-env",
        new URL("./kafka_mock_cluster.ts", import.meta.url).pathname,
        String(brokers),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(child.stdout);
    const first = await lines.next();
    if (first.done || !first.value.startsWith("bootstrap ")) {
      throw new Error(`the mock Kafka cluster did not start: ${first.value ?? "(no output)"}`);
    }
    return new MockKafka(first.value.slice(10), child, child.stdin.getWriter(), lines);
  }

  /** Sends one command and waits for `ok`; throws on `error …`. */
  async command(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
    const reply = await this.#lines.next();
    if (reply.done || reply.value !== "ok") {
      throw new Error(`mock Kafka "${line}": ${reply.value ?? "(exited)"}`);
    }
  }

  /** Creates a topic with `partitions` partitions. */
  createTopic(name: string, partitions: number): Promise<void> {
    return this.command(`topic ${name} ${partitions}`);
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) the cluster's process: every broker stops answering. */
  signal(signal: "SIGSTOP" | "SIGCONT"): void {
    this.#child.kill(signal);
  }

  /** Stops the cluster. */
  async stop(): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* already gone */ }
    await this.#child.status;
  }
}

/** Polls `consumer` until `n` records arrived (fails after `timeoutMs`). */
export async function consumeN(
  consumer: KafkaConsumer,
  n: number,
  timeoutMs = 10_000,
): Promise<ConsumedRecord[]> {
  const got: ConsumedRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < n) {
    if (Date.now() > deadline) throw new Error(`got ${got.length} of ${n} records`);
    const batch = consumer.poll(500);
    got.push(...batch);
    if (batch.length === 0) await new Promise((r) => setTimeout(r, 10));
  }
  return got;
}

/** Reads every partition of `topic` to its end (read_committed unless `properties` say otherwise). */
export async function readTopic(
  bootstrap: string,
  topic: string,
  properties: KafkaProperties = {},
): Promise<ConsumedRecord[]> {
  const c = KafkaConsumer.create({
    "bootstrap.servers": bootstrap,
    "isolation.level": "read_committed",
    "enable.partition.eof": true,
    ...properties,
  });
  try {
    const meta = (await c.metadata()).find((t) => t.topic === topic);
    if (!meta) throw new Error(`no topic ${topic}`);
    c.assign(meta.partitions.map((p) => ({ topic, partition: p.id, offset: -2 })));
    const got: ConsumedRecord[] = [];
    const deadline = Date.now() + 30_000;
    while (!meta.partitions.every((p) => c.atEnd.has(`${topic}:${p.id}`))) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${topic}`);
      const batch = c.poll(1000);
      got.push(...batch);
      if (batch.length === 0) await new Promise((r) => setTimeout(r, 5));
    }
    return got;
  } finally {
    await c.close();
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}
