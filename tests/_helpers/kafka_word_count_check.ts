/**
 * Input and checks of examples/kafka_word_count.ts against the mock cluster.
 *
 * librdkafka 2.0.2's mock cluster accepts transactions but does not hide the
 * records of aborted or unfinished ones from `read_committed` readers (nor
 * write control records): checked in kafka_sink_test.ts. So the exactly-once
 * check applies read_committed visibility itself: it keeps a record only if
 * its transaction (the sink's `weir.txn` header) has a committed marker in the
 * transaction topic, which is what a real broker's read_committed shows.
 *
 * @module
 */
import {
  readTransactionMarkers,
  TRANSACTION_HEADER,
  transactionTag,
} from "../../core/connectors/kafka/kafka_sink.ts";
import { KafkaProducer } from "../../core/connectors/kafka/producer.ts";
import { readTopic } from "./kafka_mock.ts";
import { checkWordCountLines } from "./word_count_check.ts";

/** Writes `text`'s lines as records of `topic` (no key: spread over partitions). */
export async function produceLines(bootstrap: string, topic: string, text: string): Promise<void> {
  const p = KafkaProducer.create({ "bootstrap.servers": bootstrap, "linger.ms": 20 });
  const enc = new TextEncoder();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    while (!p.produce(topic, enc.encode(line), null)) await p.flush(30_000);
  }
  await p.flush(30_000);
  await p.close();
}

/**
 * The output values that a real broker's read_committed would show (see the
 * module doc), and how many records the topic holds in all.
 */
export async function committedOutput(
  bootstrap: string,
  topic: string,
  exactlyOnce: boolean,
): Promise<{ values: string[]; records: number }> {
  const records = await readTopic(bootstrap, topic);
  const dec = new TextDecoder();
  if (!exactlyOnce) {
    return { values: records.map((r) => dec.decode(r.value!)), records: records.length };
  }
  const committed = new Set<string>();
  for (
    const [id, markers] of await readTransactionMarkers(bootstrap, `${topic}.weir-transactions`)
  ) {
    for (const m of markers) committed.add(transactionTag(id, m));
  }
  const out: string[] = [];
  for (const r of records) {
    const tag = r.headers.find(([n]) => n === TRANSACTION_HEADER)?.[1];
    if (tag && committed.has(dec.decode(tag))) out.push(dec.decode(r.value!));
  }
  return { values: out, records: records.length };
}

/**
 * Problems with kafka_word_count's output for `input` (see checkWordCountLines),
 * and the records of uncommitted transactions the check left out.
 */
export async function checkKafkaWordCount(
  bootstrap: string,
  input: string,
  topic: string,
  exactlyOnce: boolean,
): Promise<{ problems: string[]; uncommitted: number }> {
  const { values, records } = await committedOutput(bootstrap, topic, exactlyOnce);
  // At-least-once does not align barriers: at parallelism > 1 a restored count may already
  // hold records that are then read again, so counts above n are allowed; none may be missing.
  const problems = checkWordCountLines(input, values, exactlyOnce, !exactlyOnce);
  return {
    problems,
    uncommitted: records - values.length,
  };
}
