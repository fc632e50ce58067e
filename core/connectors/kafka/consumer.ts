/**
 * A Kafka consumer over librdkafka with manual assignment: weir decides
 * which partitions a reader owns and where it starts, so there is no group
 * rebalancing; the group id only names where offsets are committed for lag
 * monitoring.
 *
 * @module
 */
import { copyFromAddress, cstr, pinned, rdkafka, readCString } from "./_ffi.ts";
import {
  check,
  ClientType,
  createHandle,
  fetchMetadata,
  fromList,
  KafkaErrorCode,
  type KafkaProperties,
  type PartitionOffset,
  toList,
  type TopicMetadata,
} from "./_native.ts";
import { KafkaError } from "./kafka_error.ts";

const NO_HEADERS: readonly (readonly [string, Uint8Array | null])[] = Object.freeze([]);

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
  /**
   * Value bytes (null for a tombstone). Small keys and values of a poll share
   * 16 KiB chunks: copy one (`slice()`) to keep it long without its chunk.
   */
  readonly value: Uint8Array | null;
  /** Headers in order (a name may repeat). */
  readonly headers: readonly (readonly [string, Uint8Array | null])[];
}

function copyBytes(p: Deno.PointerValue, len: number): Uint8Array | null {
  if (p === null) return null;
  const out = new Uint8Array(len);
  if (len > 0) Deno.UnsafePointerView.copyInto(p, out);
  return out;
}

/** Bytes up to this size are cut from a shared chunk (an ArrayBuffer of their own costs more). */
const SMALL_BYTES = 1024;
const CHUNK_BYTES = 16 * 1024;

/** `sizeof(rd_kafka_message_t)`: err, rkt, partition, payload, len, key, key_len, offset, _private. */
const MESSAGE_SIZE = 72;
const TWO_32 = 2 ** 32;

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
  /** `rd_kafka_message_t*[]` filled by `rd_kafka_consume_batch_queue`. */
  #batch: Deno.PointerObject | null = null;
  #addresses = new BigUint64Array(0);
  /** A copy of the current message's struct, read as 32-bit words. */
  readonly #fields = new Uint8Array(MESSAGE_SIZE);
  readonly #i32 = new Int32Array(this.#fields.buffer);
  readonly #u32 = new Uint32Array(this.#fields.buffer);
  readonly #u64 = new BigUint64Array(this.#fields.buffer);
  /** An out-parameter librdkafka writes (pinned: passed as a raw pointer). */
  readonly #outWords = new BigUint64Array(pinned(8));
  readonly #out = Deno.UnsafePointer.of(this.#outWords)!;
  /** Topic names by topic handle (librdkafka keeps a handle per topic while the client lives). */
  readonly #topicNames = new Map<number, string>();
  #chunk = new ArrayBuffer(0);
  #chunkAt = 0;
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
    // A handle lives while its partitions are assigned or its messages exist: after a
    // new assignment a freed handle's address could come back for another topic.
    this.#topicNames.clear();
    try {
      check(k.rd_kafka_assign(this.#rk, list), "Kafka assign");
    } finally {
      k.rd_kafka_topic_partition_list_destroy(list);
    }
  }

  /**
   * Stops fetching `partitions` (`paused` true) or fetches them again
   * (librdkafka's `rd_kafka_pause_partitions`); the assignment stays, and a
   * paused partition stays paused through a new `assign`.
   */
  setPaused(partitions: readonly { topic: string; partition: number }[], paused: boolean): void {
    if (partitions.length === 0) return;
    const k = rdkafka();
    const list = toList(partitions.map((p) => ({ ...p, offset: -1001 })));
    try {
      check(
        paused
          ? k.rd_kafka_pause_partitions(this.#rk, list)
          : k.rd_kafka_resume_partitions(this.#rk, list),
        paused ? "Kafka pause" : "Kafka resume",
      );
    } finally {
      k.rd_kafka_topic_partition_list_destroy(list);
    }
  }

  /**
   * Returns up to `max` records already fetched; never waits. One call takes
   * the whole batch; each message's fixed fields are copied out in one read.
   */
  poll(max: number): ConsumedRecord[] {
    if (this.#closed) throw new KafkaError("The Kafka consumer is closed", -172);
    const k = rdkafka();
    if (this.#addresses.length < max) {
      this.#addresses = new BigUint64Array(pinned(max * 8));
      this.#batch = Deno.UnsafePointer.of(this.#addresses)!;
    }
    const n = Number(k.rd_kafka_consume_batch_queue(this.#queue, 0, this.#batch, BigInt(max)));
    const out: ConsumedRecord[] = [];
    const addresses = this.#addresses;
    const fields = this.#fields;
    const i32 = this.#i32;
    const u32 = this.#u32;
    const u64 = this.#u64;
    for (let i = 0; i < n; i++) {
      const msg = addresses[i]!;
      try {
        copyFromAddress(fields, msg);
        const err = i32[0]!;
        const partition = i32[4]!;
        if (err !== 0) {
          if (err === KafkaErrorCode.PartitionEof) {
            this.atEnd.add(`${this.#topicName()}:${partition}`);
          } else {
            const text = u64[3] === 0n ? null : this.#copy(u64[3]!, u32[8]! + u32[9]! * TWO_32);
            this.lastError = new KafkaError(
              `Kafka consumer: ${text ? new TextDecoder().decode(text) : err}`,
              err,
            );
          }
          continue;
        }
        const topic = this.#topicName();
        if (this.atEnd.size > 0) this.atEnd.delete(`${topic}:${partition}`);
        out.push({
          topic,
          partition,
          offset: u32[14]! + i32[15]! * TWO_32,
          timestamp: Number(k.rd_kafka_message_timestamp(msg, null)),
          key: u32[10] === 0 && u32[11] === 0
            ? null
            : this.#copy(u64[5]!, u32[12]! + u32[13]! * TWO_32),
          value: u32[6] === 0 && u32[7] === 0
            ? null
            : this.#copy(u64[3]!, u32[8]! + u32[9]! * TWO_32),
          headers: this.#headers(msg),
        });
      } finally {
        k.rd_kafka_message_destroy(msg);
      }
    }
    return out;
  }

  /**
   * Copies a key or value out of librdkafka's memory. Small ones are views
   * into a shared chunk, so a value kept long keeps at most the chunk alive.
   */
  #copy(address: bigint, len: number): Uint8Array {
    let out: Uint8Array;
    if (len > SMALL_BYTES) {
      out = new Uint8Array(len);
    } else {
      if (this.#chunkAt + len > this.#chunk.byteLength) {
        this.#chunk = new ArrayBuffer(CHUNK_BYTES);
        this.#chunkAt = 0;
      }
      out = new Uint8Array(this.#chunk, this.#chunkAt, len);
      this.#chunkAt += len;
    }
    if (len > 0) copyFromAddress(out, address);
    return out;
  }

  /** The current message's topic name, decoded once per topic handle. */
  #topicName(): string {
    const handle = this.#u32[2]! + this.#u32[3]! * TWO_32;
    let name = this.#topicNames.get(handle);
    if (name === undefined) {
      name = readCString(rdkafka().rd_kafka_topic_name(Deno.UnsafePointer.create(this.#u64[1]!)));
      this.#topicNames.set(handle, name);
    }
    return name;
  }

  /** The message's headers (a shared empty list when it has none). */
  #headers(msg: bigint): readonly (readonly [string, Uint8Array | null])[] {
    const k = rdkafka();
    if (k.rd_kafka_message_headers(msg, this.#out) !== 0) return NO_HEADERS;
    const h = Deno.UnsafePointer.create(this.#outWords[0]!);
    const headers: [string, Uint8Array | null][] = [];
    const nameP = new BigUint64Array(1);
    const valP = new BigUint64Array(1);
    const sizeP = new BigUint64Array(1);
    for (let j = 0; k.rd_kafka_header_get_all(h, BigInt(j), nameP, valP, sizeP) === 0; j++) {
      headers.push([
        readCString(Deno.UnsafePointer.create(nameP[0]!)),
        copyBytes(Deno.UnsafePointer.create(valP[0]!), Number(sizeP[0]!)),
      ]);
    }
    return headers;
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
