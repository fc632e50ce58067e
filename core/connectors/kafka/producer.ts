/**
 * A Kafka producer over librdkafka: produce, delivery reports, flush and
 * transactions. Calls that wait on the network return promises and run on a
 * worker thread; `produce` and `poll` never block.
 *
 * @module
 */
import { copyFromAddress, cstr, pinned, rdkafka } from "./_ffi.ts";
import {
  check,
  ClientType,
  createHandle,
  fatalError,
  fetchMetadata,
  KafkaErrorCode,
  type KafkaProperties,
  type PartitionOffset,
  takeError,
  toList,
  type TopicMetadata,
} from "./_native.ts";
import { KafkaError } from "./kafka_error.ts";

const RD_KAFKA_EVENT_DR = 0x1;
const RD_KAFKA_EVENT_ERROR = 0x8;
const RD_KAFKA_MSG_F_COPY = 0x2;
const encoder = new TextEncoder();
/** `sizeof(rd_kafka_vu_t)`: the type, padded to 8, and a 64-byte union. */
const VU_SIZE = 72;
/** `sizeof(rd_kafka_message_t)`. */
const MESSAGE_SIZE = 72;
/** Topic and header names whose bytes a producer keeps. */
const MAX_NAMES = 256;
/** Delivery reports taken from an event per call. */
const REPORT_BATCH = 1024;
const VTYPE_RKT = 2;
const VTYPE_PARTITION = 3;
const VTYPE_VALUE = 4;
const VTYPE_KEY = 5;
const VTYPE_OPAQUE = 6;
const VTYPE_MSGFLAGS = 7;
const VTYPE_TIMESTAMP = 8;
const VTYPE_HEADER = 9;

/**
 * Called for every delivered (or failed) record with the `id` given to `produce` and the
 * partition it went to (-1: none was chosen).
 */
export type DeliveryListener = (id: number, errorCode: number, partition: number) => void;

/**
 * A Kafka producer. Properties are librdkafka's (`bootstrap.servers`,
 * `transactional.id`, `linger.ms`, ...).
 *
 * @example Records queue locally until a broker takes them
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaProducer } from "@weir/weir";
 * // No broker listens here: produce still queues (librdkafka connects in the background).
 * const p = KafkaProducer.create({ "bootstrap.servers": "127.0.0.1:9", "log_level": 0 });
 * assert.ok(p.produce("words", new TextEncoder().encode("hello"), null));
 * assert.ok(p.outstanding >= 1); // the record (and any requests in flight)
 * await p.close();
 * ```
 */
export class KafkaProducer {
  readonly #rk: Deno.PointerObject;
  readonly #queue: Deno.PointerObject;
  readonly #topics = new Map<string, Deno.PointerObject>();
  #onDelivery: DeliveryListener | undefined;
  /** `produceWith`'s structs and bytes (pinned: the structs hold their addresses). */
  #arena = new Uint8Array(0);
  #arenaView = new DataView(new ArrayBuffer(0));
  #arenaBase = 0n;
  readonly #names = new Map<string, Uint8Array>();
  /** Addresses of reported messages (`rd_kafka_message_t*[]`, filled by librdkafka). */
  readonly #reported = new BigUint64Array(pinned(REPORT_BATCH * 8));
  readonly #reportPtrs = Deno.UnsafePointer.of(this.#reported)!;
  /** A copy of one reported `rd_kafka_message_t`, as 32-bit words. */
  readonly #fields = new Uint8Array(MESSAGE_SIZE);
  readonly #words = new Uint32Array(this.#fields.buffer);
  #error: KafkaError | null = null;
  #closed = false;

  private constructor(rk: Deno.PointerObject) {
    this.#rk = rk;
    this.#queue = rdkafka().rd_kafka_queue_get_main(rk)!;
  }

  /** Creates a producer (key-based partitioning matches the Java client: murmur2). */
  static create(properties: KafkaProperties, onDelivery?: DeliveryListener): KafkaProducer {
    const p = new KafkaProducer(
      createHandle(
        ClientType.Producer,
        { "partitioner": "murmur2_random", ...properties },
        RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR,
      ),
    );
    p.#onDelivery = onDelivery;
    return p;
  }

  /** Records not yet delivered or failed, plus requests and events librdkafka still holds. */
  get outstanding(): number {
    return rdkafka().rd_kafka_outq_len(this.#rk);
  }

  #topic(name: string): Deno.PointerObject {
    let t = this.#topics.get(name);
    if (t === undefined) {
      const created = rdkafka().rd_kafka_topic_new(this.#rk, cstr(name), null);
      if (created === null) {
        throw new KafkaError(`Cannot open Kafka topic "${name}"`, rdkafka().rd_kafka_last_error());
      }
      t = created;
      this.#topics.set(name, t);
    }
    return t;
  }

  /** UTF-8 bytes of a topic or header name (the first few hundred names are kept). */
  #name(name: string): Uint8Array {
    let bytes = this.#names.get(name);
    if (bytes === undefined) {
      bytes = encoder.encode(name);
      if (this.#names.size < MAX_NAMES) this.#names.set(name, bytes);
    }
    return bytes;
  }

  #growArena(bytes: number): void {
    const buffer = pinned(Math.max(bytes, this.#arena.length * 2, 4096));
    this.#arena = new Uint8Array(buffer);
    this.#arenaView = new DataView(buffer);
    this.#arenaBase = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
  }

  /**
   * Queues a record with headers and/or a timestamp (librdkafka's
   * `rd_kafka_produceva`); otherwise as {@linkcode KafkaProducer.produce}.
   */
  produceWith(
    topic: string,
    value: Uint8Array<ArrayBuffer> | null,
    key: Uint8Array<ArrayBuffer> | null,
    extra: {
      partition?: number;
      id?: number;
      timestamp?: number | undefined;
      headers?: readonly (readonly [string, Uint8Array<ArrayBuffer> | null])[];
    },
  ): boolean {
    this.#throwIfFailed();
    const headers = extra.headers ?? [];
    const count = 6 + (extra.timestamp !== undefined ? 1 : 0) + headers.length;
    // One pinned arena holds the structs and every byte they point to (see `pinned`);
    // librdkafka copies them all during the call, so the next call reuses it.
    // The topic's handle, not its name: a name alone has librdkafka look the topic up in the
    // cluster's metadata later (its next refresh, about a second), the records waiting.
    const rkt = this.#topic(topic);
    let bytes = count * VU_SIZE + (value?.length ?? 0) + (key?.length ?? 0);
    for (const [n, v] of headers) bytes += n.length * 3 + 1 + (v?.length ?? 0);
    if (this.#arena.length < bytes) this.#growArena(bytes);
    const u8 = this.#arena;
    const vus = this.#arenaView;
    const base = this.#arenaBase;
    let data = count * VU_SIZE;
    const place = (b: Uint8Array | null, nul = false): bigint => {
      if (b === null) return 0n;
      const at = data;
      u8.set(b, at);
      data += b.length;
      if (nul) u8[data++] = 0;
      return base + BigInt(at);
    };
    let at = 0;
    const put = (type: number, a: bigint, b = 0n, c = 0n) => {
      const o = at++ * VU_SIZE;
      vus.setInt32(o, type, true);
      vus.setBigUint64(o + 8, a, true);
      vus.setBigUint64(o + 16, b, true);
      vus.setBigUint64(o + 24, c, true);
    };
    put(VTYPE_RKT, BigInt(Deno.UnsafePointer.value(rkt)));
    put(VTYPE_PARTITION, BigInt.asUintN(32, BigInt(extra.partition ?? -1)));
    put(VTYPE_VALUE, place(value), BigInt(value?.length ?? 0));
    put(VTYPE_KEY, place(key), BigInt(key?.length ?? 0));
    put(VTYPE_MSGFLAGS, BigInt(RD_KAFKA_MSG_F_COPY));
    if (extra.timestamp !== undefined) {
      put(VTYPE_TIMESTAMP, BigInt.asUintN(64, BigInt(Math.trunc(extra.timestamp))));
    }
    for (const [hName, hValue] of headers) {
      const size = hValue === null ? -1n : BigInt(hValue.length);
      put(VTYPE_HEADER, place(this.#name(hName), true), place(hValue), BigInt.asUintN(64, size));
    }
    put(VTYPE_OPAQUE, BigInt(extra.id ?? 0));
    const error = rdkafka().rd_kafka_produceva(this.#rk, u8, BigInt(at));
    if (error === null) return true;
    const e = takeError(error, `Kafka produce to "${topic}"`)!;
    if (e.code === KafkaErrorCode.QueueFull) return false;
    throw e;
  }

  /**
   * Queues a record; `partition` -1 lets the partitioner pick one from the key.
   * Returns false when the local queue is full (poll, wait, and try again).
   * `id` (a positive integer) comes back in the delivery report.
   */
  produce(
    topic: string,
    value: Uint8Array<ArrayBuffer> | null,
    key: Uint8Array<ArrayBuffer> | null,
    partition = -1,
    id = 0,
  ): boolean {
    this.#throwIfFailed();
    const k = rdkafka();
    const rc = k.rd_kafka_produce(
      this.#topic(topic),
      partition,
      RD_KAFKA_MSG_F_COPY,
      value,
      BigInt(value?.length ?? 0),
      key,
      BigInt(key?.length ?? 0),
      BigInt(id),
    );
    if (rc === 0) return true;
    const code = k.rd_kafka_last_error();
    if (code === KafkaErrorCode.QueueFull) return false;
    check(code, `Kafka produce to "${topic}"`);
    return false;
  }

  /** Serves delivery reports and errors; never waits. Returns how many reports it served. */
  poll(): number {
    const k = rdkafka();
    let served = 0;
    for (;;) {
      const ev = k.rd_kafka_queue_poll(this.#queue, 0);
      if (ev === null) return served;
      try {
        const type = k.rd_kafka_event_type(ev);
        if (type === RD_KAFKA_EVENT_DR) served += this.#reports(ev);
        else if (type === RD_KAFKA_EVENT_ERROR && k.rd_kafka_event_error_is_fatal(ev) !== 0) {
          this.#error = fatalError(this.#rk) ??
            new KafkaError("Kafka producer fatal error", k.rd_kafka_event_error(ev), {
              fatal: true,
            });
        }
      } finally {
        k.rd_kafka_event_destroy(ev);
      }
    }
  }

  /** Hands a delivery-report event's messages to the listener, a batch of pointers at a time. */
  #reports(ev: Deno.PointerObject): number {
    const k = rdkafka();
    const words = this.#words;
    let served = 0;
    for (;;) {
      const n = Number(k.rd_kafka_event_message_array(ev, this.#reportPtrs, BigInt(REPORT_BATCH)));
      for (let i = 0; i < n; i++) {
        // err (first word), partition (fifth) and the opaque delivery id (`_private`, last
        // field), in one read.
        copyFromAddress(this.#fields, this.#reported[i]!);
        this.#onDelivery?.(words[16]! + words[17]! * 2 ** 32, words[0]! | 0, words[4]! | 0);
      }
      served += n;
      if (n < REPORT_BATCH) return served;
    }
  }

  #throwIfFailed(): void {
    if (this.#closed) throw new KafkaError("The Kafka producer is closed", -172);
    if (this.#error) throw this.#error;
  }

  /** Waits (off the job thread) until every queued record is delivered or failed. */
  async flush(timeoutMs: number): Promise<void> {
    this.#throwIfFailed();
    const code = await this.#serving(rdkafka().rd_kafka_flush(this.#rk, timeoutMs));
    check(code, "Kafka flush");
  }

  /**
   * Awaits a call running on librdkafka's side while serving delivery reports
   * here: a commit or flush only finishes once its reports have been taken.
   */
  async #serving<R>(call: Promise<R>): Promise<R> {
    const timer = setInterval(() => this.poll(), 2);
    try {
      return await call;
    } finally {
      clearInterval(timer);
      this.poll();
    }
  }

  async #txn(call: Promise<Deno.PointerValue>, what: string): Promise<void> {
    const error = takeError(await this.#serving(call), `Kafka ${what}`);
    if (error) throw error;
  }

  /** Registers the `transactional.id`, fencing older producers with it and aborting their transactions. */
  initTransactions(timeoutMs: number): Promise<void> {
    return this.#txn(
      rdkafka().rd_kafka_init_transactions(this.#rk, timeoutMs),
      "init_transactions",
    );
  }

  /** Starts a transaction (local; no round trip). */
  beginTransaction(): void {
    const error = takeError(
      rdkafka().rd_kafka_begin_transaction(this.#rk),
      "Kafka begin_transaction",
    );
    if (error) throw error;
  }

  /** Adds consumer-group offsets to the open transaction. */
  async sendOffsetsToTransaction(
    offsets: readonly PartitionOffset[],
    groupId: string,
    timeoutMs: number,
  ): Promise<void> {
    const k = rdkafka();
    const list = toList(offsets);
    const group = k.rd_kafka_consumer_group_metadata_new(cstr(groupId));
    try {
      await this.#txn(
        k.rd_kafka_send_offsets_to_transaction(this.#rk, list, group, timeoutMs),
        "send_offsets_to_transaction",
      );
    } finally {
      k.rd_kafka_consumer_group_metadata_destroy(group);
      k.rd_kafka_topic_partition_list_destroy(list);
    }
  }

  /** Flushes and commits the open transaction. */
  commitTransaction(timeoutMs: number): Promise<void> {
    return this.#txn(
      rdkafka().rd_kafka_commit_transaction(this.#rk, timeoutMs),
      "commit_transaction",
    );
  }

  /** Aborts the open transaction. */
  abortTransaction(timeoutMs: number): Promise<void> {
    return this.#txn(
      rdkafka().rd_kafka_abort_transaction(this.#rk, timeoutMs),
      "abort_transaction",
    );
  }

  /** The cluster's topics and partitions. */
  metadata(timeoutMs = 10_000): Promise<TopicMetadata[]> {
    return fetchMetadata(this.#rk, timeoutMs);
  }

  /**
   * `topic`'s partitions as the cluster reports them; asking for it by name lets a broker that
   * creates topics on demand (and `allow.auto.create.topics`, true for producers) create it.
   */
  async topicMetadata(topic: string, timeoutMs = 10_000): Promise<TopicMetadata | undefined> {
    this.#throwIfFailed();
    return (await fetchMetadata(this.#rk, timeoutMs, this.#topic(topic))).find((t) =>
      t.topic === topic
    );
  }

  /** Releases the client (records still queued are dropped after a short wait). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const k = rdkafka();
    for (const t of this.#topics.values()) k.rd_kafka_topic_destroy(t);
    this.#topics.clear();
    k.rd_kafka_queue_destroy(this.#queue);
    await k.rd_kafka_destroy(this.#rk);
  }
}
