/**
 * A Kafka consumer over librdkafka with manual assignment: weir decides
 * which partitions a reader owns and where it starts, so there is no group
 * rebalancing; the group id only names where offsets are committed for lag
 * monitoring.
 *
 * @module
 */
import { cstr, pinned, rdkafka, readCString } from "./_ffi.ts";
import {
  check,
  ClientType,
  createHandle,
  fetchMetadata,
  fromList,
  type KafkaProperties,
  type PartitionOffset,
  toList,
  type TopicMetadata,
} from "./_native.ts";
import { KafkaError } from "./kafka_error.ts";

const ERR_PARTITION_EOF = -191;

/**
 * One consumed record, as a `KafkaSourceOptions.deserializer` sees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConsumedRecord, KafkaDeserializers } from "@weir/weir";
 * const r: ConsumedRecord = {
 *   topic: "t", partition: 0, offset: 7, timestamp: 1000,
 *   key: null, value: new TextEncoder().encode("hi"), headers: [],
 * };
 * assert.equal(`${r.partition}@${r.offset}: ${KafkaDeserializers.string(r.value)}`, "0@7: hi");
 * ```
 */
export interface ConsumedRecord {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** Offset. */
  readonly offset: number;
  /** Record timestamp in ms (-1 when the record has none). */
  readonly timestamp: number;
  /** Key bytes (null when absent). */
  readonly key: Uint8Array | null;
  /** Value bytes (null for a tombstone). */
  readonly value: Uint8Array | null;
  /** Headers in order (a name may repeat). */
  readonly headers: readonly (readonly [string, Uint8Array | null])[];
}

function copyBytes(p: Deno.PointerValue, len: number): Uint8Array | null {
  if (p === null) return null;
  const out = new Uint8Array(len);
  if (len > 0) new Deno.UnsafePointerView(p).copyInto(out);
  return out;
}

/**
 * A consumer with manual partition assignment.
 *
 * @example Assigning a partition and polling (nothing arrives without a broker)
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaConsumer } from "@weir/weir";
 * const c = KafkaConsumer.create({ "bootstrap.servers": "127.0.0.1:9", "log_level": 0 });
 * c.assign([{ topic: "words", partition: 0, offset: 0 }]);
 * assert.deepEqual(c.poll(100), []); // never waits
 * await c.close();
 * ```
 */
export class KafkaConsumer {
  readonly #rk: Deno.PointerObject;
  readonly #queue: Deno.PointerObject;
  #batch = new BigUint64Array(0);
  #closed = false;
  /** The last non-fatal error the client reported (it keeps retrying). */
  lastError: KafkaError | null = null;
  /**
   * `topic:partition` of partitions read to their end (with the property
   * `enable.partition.eof`; under read_committed the end is the last stable offset).
   */
  readonly atEnd: Set<string> = new Set();

  private constructor(rk: Deno.PointerObject) {
    this.#rk = rk;
    const k = rdkafka();
    k.rd_kafka_poll_set_consumer(rk);
    this.#queue = k.rd_kafka_queue_get_consumer(rk)!;
  }

  /** Creates a consumer; offsets are never auto-committed. */
  static create(properties: KafkaProperties): KafkaConsumer {
    return new KafkaConsumer(
      createHandle(ClientType.Consumer, {
        "group.id": "weir",
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
        "auto.offset.reset": "earliest",
        ...properties,
      }, 0),
    );
  }

  /** Replaces the assignment: read these partitions from these offsets. */
  assign(partitions: readonly PartitionOffset[]): void {
    const k = rdkafka();
    const list = toList(partitions);
    try {
      check(k.rd_kafka_assign(this.#rk, list), "Kafka assign");
    } finally {
      k.rd_kafka_topic_partition_list_destroy(list);
    }
  }

  /** Returns up to `max` records already fetched; never waits. */
  poll(max: number): ConsumedRecord[] {
    if (this.#closed) throw new KafkaError("The Kafka consumer is closed", -172);
    const k = rdkafka();
    if (this.#batch.length < max) this.#batch = new BigUint64Array(max);
    const n = Number(k.rd_kafka_consume_batch_queue(this.#queue, 0, this.#batch, BigInt(max)));
    const out: ConsumedRecord[] = [];
    const tsType = new Int32Array(1);
    const hdrs = new BigUint64Array(1);
    const nameP = new BigUint64Array(1);
    const valP = new BigUint64Array(1);
    const sizeP = new BigUint64Array(1);
    for (let i = 0; i < n; i++) {
      const msg = Deno.UnsafePointer.create(this.#batch[i]!)!;
      try {
        const v = new Deno.UnsafePointerView(msg);
        const err = v.getInt32(0);
        if (err !== 0) {
          if (err === ERR_PARTITION_EOF) {
            this.atEnd.add(
              `${readCString(k.rd_kafka_topic_name(v.getPointer(8)))}:${v.getInt32(16)}`,
            );
          } else {
            const text = copyBytes(v.getPointer(24), Number(v.getBigUint64(32)));
            this.lastError = new KafkaError(
              `Kafka consumer: ${text ? new TextDecoder().decode(text) : err}`,
              err,
            );
          }
          continue;
        }
        const headers: [string, Uint8Array | null][] = [];
        if (k.rd_kafka_message_headers(msg, hdrs) === 0) {
          const h = Deno.UnsafePointer.create(hdrs[0]!);
          for (let j = 0; k.rd_kafka_header_get_all(h, BigInt(j), nameP, valP, sizeP) === 0; j++) {
            headers.push([
              readCString(Deno.UnsafePointer.create(nameP[0]!)),
              copyBytes(Deno.UnsafePointer.create(valP[0]!), Number(sizeP[0]!)),
            ]);
          }
        }
        const topic = readCString(k.rd_kafka_topic_name(v.getPointer(8)));
        const partition = v.getInt32(16);
        if (this.atEnd.size > 0) this.atEnd.delete(`${topic}:${partition}`);
        out.push({
          topic,
          partition,
          offset: Number(v.getBigInt64(56)),
          timestamp: Number(k.rd_kafka_message_timestamp(msg, tsType)),
          key: copyBytes(v.getPointer(40), Number(v.getBigUint64(48))),
          value: copyBytes(v.getPointer(24), Number(v.getBigUint64(32))),
          headers,
        });
      } finally {
        k.rd_kafka_message_destroy(msg);
      }
    }
    return out;
  }

  /** The low and high watermark offsets of a partition, asked of its leader. */
  async watermarks(
    topic: string,
    partition: number,
    timeoutMs = 10_000,
  ): Promise<{ low: number; high: number }> {
    const low = new BigInt64Array(pinned(8));
    const high = new BigInt64Array(pinned(8));
    const name = cstr(topic); // referenced after the call: alive while the other thread reads it
    check(
      await rdkafka().rd_kafka_query_watermark_offsets(
        this.#rk,
        name,
        partition,
        low,
        high,
        timeoutMs,
      ),
      `Kafka watermark offsets of ${topic}-${partition}`,
    );
    void name.length;
    return { low: Number(low[0]!), high: Number(high[0]!) };
  }

  async #listCall(
    items: readonly PartitionOffset[],
    call: (list: Deno.PointerObject) => Promise<number>,
    what: string,
  ): Promise<PartitionOffset[]> {
    const k = rdkafka();
    const list = toList(items);
    try {
      check(await call(list), what);
      return fromList(list).map(({ topic, partition, offset, err }) => {
        check(err, `${what} of ${topic}-${partition}`);
        return { topic, partition, offset };
      });
    } finally {
      k.rd_kafka_topic_partition_list_destroy(list);
    }
  }

  /** The group's committed offsets (negative when the group has none for a partition). */
  committed(
    partitions: readonly PartitionOffset[],
    timeoutMs = 10_000,
  ): Promise<PartitionOffset[]> {
    return this.#listCall(
      partitions,
      (l) => rdkafka().rd_kafka_committed(this.#rk, l, timeoutMs),
      "Kafka committed offsets",
    );
  }

  /** For each entry (offset = a timestamp in ms), the first offset at or after it (-1: none). */
  offsetsForTimes(
    partitions: readonly PartitionOffset[],
    timeoutMs = 10_000,
  ): Promise<PartitionOffset[]> {
    return this.#listCall(
      partitions,
      (l) => rdkafka().rd_kafka_offsets_for_times(this.#rk, l, timeoutMs),
      "Kafka offsets for times",
    );
  }

  /**
   * The next offset the consumer will fetch of each partition (past control
   * records too); negative when it has not fetched yet.
   */
  positions(partitions: readonly PartitionOffset[]): PartitionOffset[] {
    const k = rdkafka();
    const list = toList(partitions);
    try {
      check(k.rd_kafka_position(this.#rk, list), "Kafka position");
      return fromList(list).map(({ topic, partition, offset }) => ({ topic, partition, offset }));
    } finally {
      k.rd_kafka_topic_partition_list_destroy(list);
    }
  }

  /** Commits offsets to the group in the background (for lag monitoring). */
  commitAsync(offsets: readonly PartitionOffset[]): void {
    if (offsets.length === 0) return;
    const k = rdkafka();
    const list = toList(offsets);
    try {
      check(k.rd_kafka_commit(this.#rk, list, 1), "Kafka commit");
    } finally {
      k.rd_kafka_topic_partition_list_destroy(list);
    }
  }

  /** The cluster's topics and partitions. */
  metadata(timeoutMs = 10_000): Promise<TopicMetadata[]> {
    return fetchMetadata(this.#rk, timeoutMs);
  }

  /** Releases the client. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const k = rdkafka();
    k.rd_kafka_queue_destroy(this.#queue);
    await k.rd_kafka_consumer_close(this.#rk);
    await k.rd_kafka_destroy(this.#rk);
  }
}
