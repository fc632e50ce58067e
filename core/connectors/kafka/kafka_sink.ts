/**
 * The Kafka sink: delivery guarantee `none`, `at-least-once` or
 * `exactly-once` (Kafka transactions).
 *
 * Exactly-once: librdkafka cannot resume another process's transaction by
 * producer id and epoch (Flink's Java producer does this by reflection), so a
 * transaction is written only once its checkpoint is complete. At the barrier
 * the records of the checkpoint interval go into the checkpoint (pre-commit);
 * when the checkpoint completes, one transactional producer per subtask
 * (`transactional.id` = prefix-subtask) writes them and, last in the same
 * transaction, a marker record (key = transactional id, value = checkpoint id)
 * to the transaction topic, then commits. After a restore, the producer's
 * `init_transactions` fences older producers and aborts their open
 * transactions; the restored checkpoints whose marker is not committed are
 * written again. Nothing waits on the job thread: commits run in the
 * background and their failure fails the job at its next batch.
 *
 * @module
 */
import { ConfigError, SerializationError } from "../../errors.ts";
import { checkOptionNames } from "../../_options.ts";
import { EXTERNAL } from "../_external.ts";
import { ListStateDescriptor } from "../../state/descriptors.ts";
import { type Serializer, Serializers } from "../../state/serializer.ts";
import type { ListState } from "../../state/state.ts";
import { KAFKA_TRANSACTIONS_STATE } from "../../checkpoint/manifest.ts";
import type {
  FunctionInitializationContext,
  FunctionSnapshotContext,
} from "../../dataflow/functions.ts";
import type { SinkContext, SinkFunction } from "../sink.ts";
import { KafkaConsumer } from "./consumer.ts";
import { KafkaError } from "./kafka_error.ts";
import { naming } from "./_naming.ts";
import type { KafkaProperties, TopicMetadata } from "./_native.ts";
import { KafkaProducer } from "./producer.ts";
import { errorText } from "./_ffi.ts";

/**
 * How much a Kafka sink promises (Flink's `DeliveryGuarantee`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DeliveryGuarantee, KafkaSerializers, KafkaSink } from "@weir/weir";
 * const sink = (deliveryGuarantee: DeliveryGuarantee) =>
 *   new KafkaSink<string>({
 *     bootstrapServers: "127.0.0.1:9092",
 *     topic: "out",
 *     deliveryGuarantee,
 *     transactionalIdPrefix: "job-1",
 *     serializer: (v) => ({ value: KafkaSerializers.string(v) }),
 *   });
 * for (const g of ["none", "at-least-once", "exactly-once"] as const) sink(g);
 * // Flink's names only: a typo is refused when the sink is made, not when the job runs.
 * assert.throws(
 *   () => sink("exactly_once" as DeliveryGuarantee),
 *   /deliveryGuarantee must be none, at-least-once or exactly-once, got "exactly_once"/,
 * );
 * ```
 */
export type DeliveryGuarantee = "none" | "at-least-once" | "exactly-once";

/** A record to write: what a {@linkcode KafkaSinkOptions.serializer} returns. */
export interface KafkaOutputRecord {
  /** Key bytes; records with the same key go to the same partition (murmur2, as Java). */
  key?: Uint8Array<ArrayBuffer> | null;
  /** Value bytes (null: a tombstone). */
  value: Uint8Array<ArrayBuffer> | null;
  /** A fixed partition (an integer ≥ 0) instead of key-based partitioning. */
  partition?: number;
  /**
   * The record's timestamp (ms ≥ 0; a negative one is a `ConfigError`). Unset: the element's
   * event timestamp, as Flink's Kafka sink writes it; null, or an element without one or with a
   * negative one: the time the producer sends it.
   */
  timestamp?: number | null;
  /** Headers, in order (a name may repeat). */
  headers?: readonly (readonly [string, Uint8Array<ArrayBuffer> | null])[];
}

/**
 * Options of a {@linkcode KafkaSink}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KafkaSinkOptions, KafkaSerializers } from "@weir/weir";
 * const options: KafkaSinkOptions<{ user: string; n: number }> = {
 *   bootstrapServers: "127.0.0.1:9092",
 *   topic: "totals",
 *   deliveryGuarantee: "at-least-once",
 *   serializer: (t) => ({ key: KafkaSerializers.string(t.user), value: KafkaSerializers.json(t) }),
 * };
 * assert.equal(new TextDecoder().decode(options.serializer({ user: "a", n: 1 }).value!), '{"user":"a","n":1}');
 * ```
 */
export interface KafkaSinkOptions<T> {
  /** `host:port,...` of the cluster. */
  bootstrapServers: string;
  /** The topic records go to. */
  topic: string;
  /** Turns a value into a record. */
  serializer: (value: T) => KafkaOutputRecord;
  /** `at-least-once` unless given. */
  deliveryGuarantee?: DeliveryGuarantee;
  /** Exactly-once: the prefix of the transactional ids (unique per job and sink). */
  transactionalIdPrefix?: string;
  /**
   * Exactly-once: the topic of commit markers, one per transaction (created by
   * you with 1 partition, best compacted). Default `<topic>.weir-transactions`.
   */
  transactionTopic?: string;
  /**
   * How long opening the sink waits for the topic's metadata (ms, 60 000: Flink's producer
   * `max.block.ms`); a topic still missing then fails the job with a `ConfigError` naming it.
   */
  metadataTimeoutMs?: number;
  /** More librdkafka producer properties. */
  properties?: KafkaProperties;
}

/** Every option's name, for `checkOptionNames`. */
const KAFKA_SINK_OPTIONS: Record<keyof KafkaSinkOptions<unknown>, true> = {
  bootstrapServers: true,
  topic: true,
  serializer: true,
  deliveryGuarantee: true,
  transactionalIdPrefix: true,
  transactionTopic: true,
  metadataTimeoutMs: true,
  properties: true,
};

/** The header naming an exactly-once record's transaction ({@linkcode transactionTag}). */
export const TRANSACTION_HEADER = "weir.txn";

/** `<transactional id> <run> <checkpoint> <attempt>`: the value of {@linkcode TRANSACTION_HEADER}. */
export function transactionTag(transactionalId: string, m: TransactionMarker): string {
  return `${transactionalId} ${m.run} ${m.checkpointId} ${m.attempt}`;
}

/** The highest checkpoint of `run` among committed markers (-1: none). */
function lastCommitted(markers: readonly TransactionMarker[], run: string): number {
  let last = -1;
  for (const m of markers) if (m.run === run && m.checkpointId > last) last = m.checkpointId;
  return last;
}

/** A record as kept in a checkpoint until its transaction commits (bytes in base64). */
interface StoredRecord {
  k?: string;
  v?: string;
  p?: number;
  /** Its timestamp. */
  t?: number;
  /** Its headers: name, value (null: none). */
  h?: [string, string | null][];
}

interface PendingCheckpoint {
  run: string;
  checkpointId: number;
  records: StoredRecord[];
}

/** Union operator state: each subtask's records not yet safely in Kafka. */
interface SubtaskPending {
  subtask: number;
  pending: PendingCheckpoint[];
}

const PENDING = new ListStateDescriptor<SubtaskPending>(
  "kafka-sink-pending",
  Serializers.json as Serializer<SubtaskPending>,
);
/**
 * Exactly once, the same under a name manifests count as pending transactions:
 * a restore then refuses to fall back past a checkpoint that committed output.
 */
const TRANSACTIONS = new ListStateDescriptor<SubtaskPending>(
  KAFKA_TRANSACTIONS_STATE,
  Serializers.json as Serializer<SubtaskPending>,
);
const TIMEOUT_MS = 60_000;
/** Flink's producer `max.block.ms`: how long it waits for a topic's metadata. */
const METADATA_TIMEOUT_MS = 60_000;
/** Between metadata requests while a topic is not there yet. */
const METADATA_RETRY_MS = 100;
/** Undelivered records above which `flush` waits (backpressure). */
const MAX_OUTSTANDING = 50_000;
/** librdkafka's `message.max.bytes` default. */
const MESSAGE_MAX_BYTES = 1_000_000;
/** librdkafka's room for a record's framing (`RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD`). */
const RECORD_OVERHEAD = 36;
/** `ERR_MSG_SIZE_TOO_LARGE` and `ERR__UNKNOWN_PARTITION`: what librdkafka's produce refuses. */
const TOO_LARGE = 10;
const UNKNOWN_PARTITION = -190;

const encoder = new TextEncoder();

/** Bytes of `n`'s zigzag varint, as Kafka's record format writes lengths. */
function varintSize(n: number): number {
  let size = 1;
  for (let v = n * 2; v >= 0x80; v = Math.floor(v / 0x80)) size++;
  return size;
}

/**
 * The size librdkafka compares with `message.max.bytes` when a record is produced
 * (`rd_kafka_msg_max_wire_size`), with headers of `extraHeaderBytes` (name and value) more.
 */
function recordSize(r: KafkaOutputRecord, extraHeaderBytes: [number, number]): number {
  const header = (name: number, value: number) =>
    name + value + varintSize(name) + varintSize(value);
  let size = RECORD_OVERHEAD + (r.key?.length ?? 0) + (r.value?.length ?? 0) +
    header(...extraHeaderBytes);
  for (const [name, value] of r.headers ?? []) {
    size += header(encoder.encode(name).length, value?.length ?? 0);
  }
  return size;
}

function store(r: KafkaOutputRecord): StoredRecord {
  const s: StoredRecord = {};
  if (r.key) s.k = r.key.toBase64();
  if (r.value) s.v = r.value.toBase64();
  if (r.partition !== undefined) s.p = r.partition;
  if (typeof r.timestamp === "number") s.t = r.timestamp;
  if (r.headers?.length) s.h = r.headers.map(([n, v]) => [n, v === null ? null : v.toBase64()]);
  return s;
}

function load(s: StoredRecord): KafkaOutputRecord {
  return {
    key: s.k === undefined ? null : Uint8Array.fromBase64(s.k),
    value: s.v === undefined ? null : Uint8Array.fromBase64(s.v),
    ...(s.p === undefined ? {} : { partition: s.p }),
    ...(s.t === undefined ? {} : { timestamp: s.t }),
    ...(s.h === undefined ? {} : {
      headers: s.h.map(([n, v]) => [n, v === null ? null : Uint8Array.fromBase64(v)] as const),
    }),
  };
}

/** `v` for an error message: its type, and its value when short. */
function described(v: unknown): string {
  if (v === undefined || v === null) return String(v);
  const type = typeof v === "object" ? v.constructor?.name ?? "object" : typeof v;
  const text = JSON.stringify(v) ?? String(v);
  return text.length <= 40 ? `${type} ${text}` : type;
}

/**
 * Throws a `SerializationError` naming the field of `r` that Kafka cannot take (bytes that are a
 * string or an array, a partition that is no integer ≥ 0), as Kafka's Java producer refuses them:
 * left to librdkafka, a string header value would be written as other bytes and a partition of
 * -1 would pick one by key, both silently; the other cases would fail without naming the field.
 */
function checkRecord(r: KafkaOutputRecord): void {
  const fail = (what: string, v: unknown, want: string): never => {
    throw new SerializationError(
      `Kafka sink: the serializer gave ${what} ${described(v)}; it must be ${want}`,
    );
  };
  if (typeof r !== "object" || r === null) fail("the record", r, "a KafkaOutputRecord");
  const bytes = "a Uint8Array or null";
  if (r.key !== undefined && r.key !== null && !(r.key instanceof Uint8Array)) {
    fail("the key", r.key, `${bytes} (e.g. KafkaSerializers.string(key))`);
  }
  if (r.value !== null && !(r.value instanceof Uint8Array)) {
    fail("the value", r.value, `${bytes} (a tombstone; e.g. KafkaSerializers.string(value))`);
  }
  if (r.partition !== undefined && !(Number.isInteger(r.partition) && r.partition >= 0)) {
    fail("the partition", r.partition, "an integer ≥ 0 (or unset: by key)");
  }
  if (r.headers !== undefined) {
    if (!Array.isArray(r.headers)) fail("the headers", r.headers, "an array of [name, value]");
    for (const h of r.headers) {
      if (!Array.isArray(h) || typeof h[0] !== "string") {
        fail("the header", h, "[name (a string), value]");
      }
      if (h[1] !== null && !(h[1] instanceof Uint8Array)) {
        fail(`the header "${h[0]}" the value`, h[1], bytes);
      }
    }
  }
}

/**
 * What `serializer` returns for `value`, with the element's `timestamp` unless it gave its own.
 * Kafka has no negative timestamps (-1 reads as none): an element's is left out, as Flink's sink
 * does; one the serializer gives that is negative or no finite number is a `ConfigError` naming
 * it, as Kafka's Java producer refuses it.
 */
function serialize<T>(
  serializer: (value: T) => KafkaOutputRecord,
  value: T,
  timestamp: number | undefined,
): KafkaOutputRecord {
  const r = serializer(value);
  checkRecord(r);
  if (
    r.timestamp === undefined && timestamp !== undefined && Number.isFinite(timestamp) &&
    timestamp >= 0
  ) {
    return { ...r, timestamp };
  }
  if (
    r.timestamp !== undefined && r.timestamp !== null &&
    !(Number.isFinite(r.timestamp) && r.timestamp >= 0)
  ) {
    throw new ConfigError(
      // A string ("1000") shown as one: bare, it would look valid.
      `Kafka sink: the serializer gave the timestamp ${
        typeof r.timestamp === "number" ? r.timestamp : described(r.timestamp)
      }; ` +
        `Kafka's are ms ≥ 0 (null: the send time)`,
    );
  }
  return r;
}

/** A commit marker's value: which run made the transaction, for which checkpoint, which attempt wrote it. */
export interface TransactionMarker {
  /** The process that pre-committed the records (checkpoint ids are unique within it). */
  run: string;
  /** The checkpoint. */
  checkpointId: number;
  /** The process that wrote the transaction. */
  attempt: string;
}

/** The metadata of the transaction topic `topic`; a `ConfigError` when the cluster lacks it. */
function transactionTopicOf(meta: readonly TopicMetadata[], topic: string): TopicMetadata {
  const t = meta.find((t) => t.topic === topic);
  if (!t || t.err !== 0 || t.partitions.length === 0) {
    throw new ConfigError(
      `Kafka exactly-once sink: the transaction topic "${topic}" does not exist; ` +
        `create it (1 partition, cleanup.policy=compact) or set transactionTopic`,
    );
  }
  return t;
}

/**
 * Reads the transaction topic (read_committed) to its end: every committed
 * marker, by transactional id, in order.
 */
export async function readTransactionMarkers(
  bootstrapServers: string,
  topic: string,
  properties: KafkaProperties = {},
): Promise<Map<string, TransactionMarker[]>> {
  const consumer = KafkaConsumer.create({
    ...properties,
    "bootstrap.servers": bootstrapServers,
    "isolation.level": "read_committed",
    "enable.partition.eof": true,
    // A short read to the end at start-up: do not let the broker hold empty fetches.
    "fetch.wait.max.ms": 10,
  });
  try {
    const meta = transactionTopicOf(await consumer.metadata(), topic);
    consumer.assign(meta.partitions.map((p) => ({ topic, partition: p.id, offset: -2 })));
    const markers = new Map<string, TransactionMarker[]>();
    const deadline = Date.now() + TIMEOUT_MS;
    const decoder = new TextDecoder();
    while (!meta.partitions.every((p) => consumer.atEnd.has(`${topic}:${p.id}`))) {
      if (Date.now() > deadline) {
        throw new KafkaError(`Timed out reading the transaction topic "${topic}"`, -185);
      }
      const batch = consumer.poll(1000);
      for (const r of batch) {
        if (!r.key || !r.value) continue;
        const id = decoder.decode(r.key);
        const list = markers.get(id) ?? [];
        list.push(JSON.parse(decoder.decode(r.value)));
        markers.set(id, list);
      }
      if (batch.length === 0) await new Promise((r) => setTimeout(r, 5));
    }
    return markers;
  } finally {
    await consumer.close();
  }
}

/** What one sink subtask keeps. */
interface SubtaskRuntime {
  subtask: SinkContext;
  producer: KafkaProducer | undefined;
  state: ListState<SubtaskPending> | undefined;
  restored: SubtaskPending[];
  /** Records of the current checkpoint interval (exactly-once). */
  buffer: StoredRecord[];
  /** Pre-committed checkpoints not yet committed (exactly-once). */
  pending: PendingCheckpoint[];
  /** Pending checkpoints whose commit is scheduled. */
  scheduled: Set<PendingCheckpoint>;
  /** Partitions of the topic when the sink opened (exactly-once). */
  partitions: number | undefined;
  /** The longest value this subtask's transaction header can have, in bytes (exactly-once). */
  tagBytes: number;
  /** Records sent and not yet acknowledged, by delivery id (at-least-once). */
  inFlight: Map<number, KafkaOutputRecord>;
  /** Records the full local queue did not take yet. */
  overflow: KafkaOutputRecord[];
  nextId: number;
  failure: Error | null;
  /** The background commits, in order. */
  committing: Promise<void>;
  /** This process: tags what it writes. */
  attempt: string;
  /** Names the checkpoints this process pre-commits (see {@linkcode TransactionMarker.run}). */
  run: string;
}

/** 64 random bits in hex: short, since every exactly-once record carries two in a header. */
function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function newSubtaskRuntime(): SubtaskRuntime {
  return {
    subtask: { subtaskIndex: 0, parallelism: 1, operatorUid: "" },
    producer: undefined,
    state: undefined,
    restored: [],
    buffer: [],
    pending: [],
    scheduled: new Set(),
    partitions: undefined,
    tagBytes: 0,
    inFlight: new Map(),
    overflow: [],
    nextId: 1,
    failure: null,
    committing: Promise.resolve(),
    attempt: randomId(),
    run: randomId(),
  };
}

/**
 * Writes records to a Kafka topic.
 *
 * @example Exactly-once into "counts" (the job needs the topic "counts.weir-transactions")
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   KafkaSerializers, KafkaSink, type KafkaSinkOptions, StreamEnvironment,
 * } from "@weir/weir";
 * const options: KafkaSinkOptions<[string, number]> = {
 *   bootstrapServers: "127.0.0.1:9092",
 *   topic: "counts",
 *   deliveryGuarantee: "exactly-once",
 *   serializer: ([word, n]) => ({
 *     key: KafkaSerializers.string(word),
 *     value: KafkaSerializers.string(`${word}\t${n}`),
 *   }),
 * };
 * // Exactly-once needs the prefix of its transactional ids, unique per job and sink.
 * assert.throws(() => new KafkaSink(options), /exactly-once needs a transactionalIdPrefix/);
 * const env = StreamEnvironment.create();
 * const sink = new KafkaSink({ ...options, transactionalIdPrefix: "word-count" });
 * env.fromElements<[string, number]>(["a", 1]).addSink(sink, { uid: "counts" });
 * // The sink connects when the job opens it (env.execute()).
 * ```
 */
export class KafkaSink<T> implements SinkFunction<T> {
  private readonly options: KafkaSinkOptions<T>;
  private readonly guarantee: DeliveryGuarantee;
  private readonly encoder = new TextEncoder();
  /** The producer's `message.max.bytes`. */
  private readonly maxRecordBytes: number;
  /**
   * Per-subtask state: the runtime gives each subtask an object that inherits
   * the sink (`Object.create`), so it is made in `initializeState`, never shared.
   */
  private s!: SubtaskRuntime;

  /** Creates the sink. */
  constructor(options: KafkaSinkOptions<T>) {
    // A misspelt deliveryGuarantee would leave at-least-once: records doubled after a restart.
    checkOptionNames("KafkaSink", options, KAFKA_SINK_OPTIONS);
    if (typeof options.bootstrapServers !== "string" || options.bootstrapServers.trim() === "") {
      throw new ConfigError(
        `KafkaSink: bootstrapServers must be "host:port,…", got ${
          JSON.stringify(options.bootstrapServers)
        }`,
      );
    }
    if (typeof options.topic !== "string" || options.topic === "") {
      throw new ConfigError(
        `KafkaSink: topic must be a topic name, got ${JSON.stringify(options.topic)}`,
      );
    }
    if (options.properties !== undefined && "bootstrap.servers" in options.properties) {
      throw new ConfigError(
        "KafkaSink: properties must not set bootstrap.servers: use the bootstrapServers option",
      );
    }
    const timeout = options.metadataTimeoutMs;
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
      throw new ConfigError(
        `KafkaSink: metadataTimeoutMs must be a positive number, got ${timeout}`,
      );
    }
    this.guarantee = options.deliveryGuarantee ?? "at-least-once";
    if (this.guarantee === "exactly-once" && !options.transactionalIdPrefix) {
      throw new ConfigError("A Kafka sink with exactly-once needs a transactionalIdPrefix");
    }
    if (!["none", "at-least-once", "exactly-once"].includes(this.guarantee)) {
      throw new ConfigError(
        `deliveryGuarantee must be none, at-least-once or exactly-once, got "${this.guarantee}"`,
      );
    }
    this.options = options;
    this.maxRecordBytes = Number(options.properties?.["message.max.bytes"] ?? MESSAGE_MAX_BYTES);
  }

  /** @internal What the plan compares between threads (see `_external.ts`). */
  [EXTERNAL](): string {
    return `writes Kafka ${this.options.bootstrapServers} ${this.options.topic}`;
  }

  private get transactionTopic(): string {
    return this.options.transactionTopic ?? `${this.options.topic}.weir-transactions`;
  }

  private transactionalId(subtask: number): string {
    return `${this.options.transactionalIdPrefix}-${subtask}`;
  }

  private newProducer(transactionalId?: string): KafkaProducer {
    const props: KafkaProperties = {
      "linger.ms": 5,
      ...this.options.properties,
      "bootstrap.servers": this.options.bootstrapServers,
    };
    if (transactionalId !== undefined) props["transactional.id"] = transactionalId;
    else if (this.guarantee !== "none") props["enable.idempotence"] = true;
    return KafkaProducer.create(props, (id, err, p) => this.delivered(id, err, p));
  }

  /** `Kafka sink: a record to "<topic>" partition <p> at <servers>` (p -1: none chosen yet). */
  private recordTo(partition: number | undefined): string {
    const p = partition === undefined || partition < 0 ? "" : ` partition ${partition}`;
    return `Kafka sink: a record to "${this.options.topic}"${p} at ${this.options.bootstrapServers}`;
  }

  private delivered(id: number, err: number, partition: number): void {
    if (err !== 0 && this.s.failure === null) {
      const p = partition >= 0 ? partition : this.s.inFlight.get(id)?.partition;
      this.s.failure = new KafkaError(`${this.recordTo(p)} failed: ${errorText(err)}`, err);
    }
    if (id > 0) this.s.inFlight.delete(id);
  }

  /**
   * Exactly-once: refuses at once what librdkafka would refuse when the transaction is written (a
   * record over `message.max.bytes`, counting the transaction header it will carry; a partition
   * the topic does not have), as Flink's writer fails at the write: the checkpoint that would
   * hold it never completes, so a restore goes back before it instead of failing again.
   */
  private checkWritable(r: KafkaOutputRecord): void {
    let reason: string | undefined;
    let code = TOO_LARGE;
    const max = this.maxRecordBytes;
    const size = recordSize(r, [TRANSACTION_HEADER.length, this.s.tagBytes]);
    if (size > max) {
      reason = `${errorText(code)} (${size} bytes with its framing and ` +
        `${TRANSACTION_HEADER} header, message.max.bytes ${max})`;
    } else if (
      r.partition !== undefined && this.s.partitions !== undefined &&
      !(Number.isInteger(r.partition) && r.partition >= 0 && r.partition < this.s.partitions)
    ) {
      code = UNKNOWN_PARTITION;
      reason = `${errorText(code)} (the topic has ${this.s.partitions})`;
    }
    if (reason !== undefined) {
      this.s.failure = new KafkaError(`${this.recordTo(r.partition)} was refused: ${reason}`, code);
      throw this.s.failure;
    }
  }

  /** Restores what earlier runs left unfinished. */
  initializeState(ctx: FunctionInitializationContext): void {
    this.s = newSubtaskRuntime();
    if (this.guarantee === "none") return;
    const undelivered = ctx.operatorStateStore.getUnionListState(PENDING);
    const transactions = ctx.operatorStateStore.getUnionListState(TRANSACTIONS);
    // Both: a checkpoint of the other guarantee, or of a version that kept both under one name.
    this.s.restored = [...(undelivered.get() ?? []), ...(transactions.get() ?? [])];
    const exactlyOnce = this.guarantee === "exactly-once";
    (exactlyOnce ? undelivered : transactions).update([]);
    this.s.state = exactlyOnce ? transactions : undelivered;
  }

  /**
   * Waits for the sink topic's metadata, at most `metadataTimeoutMs`, as Flink's producer blocks
   * at most `max.block.ms`: without it librdkafka would hold the records until
   * `message.timeout.ms` (5 minutes) and only then fail them. Asked for by name, so a broker that
   * creates topics on demand does, unless `allow.auto.create.topics` is false.
   */
  private async awaitTopic(producer: KafkaProducer): Promise<TopicMetadata> {
    const { topic, bootstrapServers } = this.options;
    const timeoutMs = this.options.metadataTimeoutMs ?? METADATA_TIMEOUT_MS;
    const autoCreate = String(this.options.properties?.["allow.auto.create.topics"]) !== "false";
    const deadline = Date.now() + timeoutMs;
    let answered = false;
    for (;;) {
      const left = Math.max(1, deadline - Date.now());
      let t: TopicMetadata | undefined;
      let failure: unknown;
      try {
        t = autoCreate
          ? await producer.topicMetadata(topic, left)
          : (await producer.metadata(left)).find((m) => m.topic === topic);
        answered = true;
      } catch (e) {
        failure = e; // e.g. not connected yet: asked again until the deadline
      }
      if (t !== undefined && t.err === 0 && t.partitions.length > 0) return t;
      if (Date.now() >= deadline) {
        // A cluster that never answered is no missing topic.
        if (!answered) throw naming(failure, bootstrapServers);
        const reason = t === undefined || t.err === 0
          ? "not in the cluster's metadata"
          : errorText(t.err);
        throw new ConfigError(
          `Kafka sink: the topic "${topic}" does not exist at ${bootstrapServers} ` +
            `(${reason} after ${timeoutMs} ms, metadataTimeoutMs); create it`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(METADATA_RETRY_MS, left)));
    }
  }

  /** Connects; after a restore, finishes the transactions (or resends the records) this subtask inherits. */
  async open(ctx: SinkContext): Promise<void> {
    if (!Object.hasOwn(this, "s")) this.s = newSubtaskRuntime();
    this.s.subtask = ctx;
    const mine = this.s.restored.filter((r) => r.subtask % ctx.parallelism === ctx.subtaskIndex);
    this.s.restored = [];
    if (this.guarantee !== "exactly-once") {
      this.s.producer = this.newProducer();
      await this.awaitTopic(this.s.producer);
      for (const r of mine) {
        for (const p of r.pending) for (const s of p.records) this.send(load(s));
      }
      return;
    }
    // init_transactions fences the old producers of these ids and aborts their open transactions.
    this.s.producer = this.newProducer(this.transactionalId(ctx.subtaskIndex));
    this.s.partitions = (await this.awaitTopic(this.s.producer)).partitions.length;
    // Checked on a first start too: the first commit would otherwise have a broker that creates
    // topics on demand make it with its defaults (several partitions, deleted with age).
    if (mine.length === 0) {
      transactionTopicOf(await this.s.producer.metadata(), this.transactionTopic);
    }
    // The checkpoint id at its longest: MAX_SAFE_INTEGER, 16 digits.
    this.s.tagBytes = this.encoder.encode(
      transactionTag(this.transactionalId(ctx.subtaskIndex), {
        run: this.s.run,
        checkpointId: Number.MAX_SAFE_INTEGER,
        attempt: this.s.attempt,
      }),
    ).length;
    await this.s.producer.initTransactions(TIMEOUT_MS);
    const others = new Map<number, KafkaProducer>();
    try {
      for (const r of mine) {
        if (r.subtask === ctx.subtaskIndex || others.has(r.subtask)) continue;
        const producer = this.newProducer(this.transactionalId(r.subtask));
        others.set(r.subtask, producer);
        await producer.initTransactions(TIMEOUT_MS);
      }
      const markers = mine.length === 0 ? new Map() : await readTransactionMarkers(
        this.options.bootstrapServers,
        this.transactionTopic,
        this.options.properties,
      );
      for (const r of mine) {
        const id = this.transactionalId(r.subtask);
        const producer = others.get(r.subtask) ?? this.s.producer;
        const committed = markers.get(id) ?? [];
        for (const p of r.pending.toSorted((a, b) => a.checkpointId - b.checkpointId)) {
          if (p.checkpointId > lastCommitted(committed, p.run)) {
            await this.transaction(producer, id, p);
          }
        }
      }
    } finally {
      for (const p of others.values()) await p.close();
    }
  }

  private send(r: KafkaOutputRecord): void {
    const id = this.s.nextId++;
    if (this.guarantee !== "none") this.s.inFlight.set(id, r);
    let queued: boolean;
    try {
      queued = this.produce(r, id);
    } catch (e) {
      // Refused before it was queued (too large, a partition the topic lacks): fail here, as
      // Flink's writer fails at the write, not with a later checkpoint.
      this.s.inFlight.delete(id);
      if (!(e instanceof KafkaError) || e.fatal) throw e;
      const reason = e.message.replace(/^Kafka produce to "[^"]*": /, "");
      this.s.failure ??= new KafkaError(
        `${this.recordTo(r.partition)} was refused: ${reason}`,
        e.code,
      );
      throw this.s.failure;
    }
    if (!queued) {
      // The local queue is full: keep the record for the next flush to resend.
      this.s.inFlight.delete(id);
      this.s.overflow.push(r);
    }
  }

  /**
   * Queues `r` (`id` comes back in its delivery report); false when the local queue is full. A
   * record without a timestamp or headers takes librdkafka's plain `rd_kafka_produce`; one with
   * them its `rd_kafka_produceva`, whose arguments cost more to build.
   */
  private produce(r: KafkaOutputRecord, id: number): boolean {
    const producer = this.s.producer!;
    const timestamp = r.timestamp ?? undefined;
    if (timestamp === undefined && !r.headers?.length) {
      return producer.produce(this.options.topic, r.value, r.key ?? null, r.partition, id);
    }
    return producer.produceWith(this.options.topic, r.value, r.key ?? null, {
      id,
      timestamp,
      ...(r.headers === undefined ? {} : { headers: r.headers }),
      ...(r.partition === undefined ? {} : { partition: r.partition }),
    });
  }

  /** Writes one record (exactly-once: into the current checkpoint interval). */
  invoke(value: T, timestamp?: number): void {
    if (this.s.failure) throw this.s.failure;
    const r = serialize(this.options.serializer, value, timestamp);
    if (this.guarantee === "exactly-once") {
      this.checkWritable(r);
      this.s.buffer.push(store(r));
    } else if (this.s.overflow.length > 0) this.s.overflow.push(r);
    else this.send(r);
  }

  /** Serves delivery reports; waits only when too much is undelivered (backpressure). */
  async flush(): Promise<void> {
    if (this.s.failure) throw this.s.failure;
    const producer = this.s.producer!;
    producer.poll();
    if (this.s.overflow.length > 0 || producer.outstanding > MAX_OUTSTANDING) {
      try {
        await producer.flush(TIMEOUT_MS);
      } catch (e) {
        throw naming(e, this.options.bootstrapServers);
      }
      const again = this.s.overflow;
      this.s.overflow = [];
      for (const r of again) this.send(r);
    }
    if (this.s.failure) throw this.s.failure;
  }

  /** Pre-commits: the interval's records (or the undelivered ones) go into the checkpoint. */
  snapshotState(ctx: FunctionSnapshotContext): void {
    if (this.guarantee === "none") return;
    if (this.guarantee === "exactly-once") {
      // A record refused at the write (or a failed commit): this checkpoint must not complete.
      if (this.s.failure) throw this.s.failure;
      this.s.pending.push({
        run: this.s.run,
        checkpointId: ctx.checkpointId,
        records: this.s.buffer,
      });
      this.s.buffer = [];
      this.s.state!.update([{ subtask: this.s.subtask.subtaskIndex, pending: this.s.pending }]);
      return;
    }
    this.s.producer!.poll();
    // A failed delivery has left `inFlight`: a checkpoint taken now would hold its source
    // position past the record but not the record. Decline it, as Flink's writer fails its flush.
    if (this.s.failure) throw this.s.failure;
    const undelivered = [...this.s.inFlight.values(), ...this.s.overflow].map(store);
    this.s.state!.update([{
      subtask: this.s.subtask.subtaskIndex,
      pending: [{ run: this.s.run, checkpointId: ctx.checkpointId, records: undelivered }],
    }]);
  }

  /** Exactly-once: commits the transactions of checkpoints up to `checkpointId`, in the background. */
  notifyCheckpointComplete(checkpointId: number): void {
    if (this.guarantee !== "exactly-once") return;
    // Scheduled once: a commit still running keeps its checkpoint in `pending` (and state).
    const due = this.s.pending.filter((p) =>
      p.checkpointId <= checkpointId && !this.s.scheduled.has(p)
    );
    if (due.length === 0) return;
    for (const p of due) this.s.scheduled.add(p);
    const id = this.transactionalId(this.s.subtask.subtaskIndex);
    this.s.committing = this.s.committing.then(async () => {
      for (const p of due) {
        if (this.s.failure) return;
        await this.transaction(this.s.producer!, id, p);
        this.s.pending = this.s.pending.filter((q) => q !== p);
        this.s.scheduled.delete(p);
      }
    }).catch((e) => {
      this.s.failure ??= e instanceof Error ? e : new Error(String(e));
    });
  }

  /** Writes one checkpoint's records and its marker in a transaction, and commits. */
  private async transaction(
    producer: KafkaProducer,
    transactionalId: string,
    p: PendingCheckpoint,
  ): Promise<void> {
    const marker: TransactionMarker = {
      run: p.run,
      checkpointId: p.checkpointId,
      attempt: this.s.attempt,
    };
    const tag = this.encoder.encode(transactionTag(transactionalId, marker));
    const headers = [[TRANSACTION_HEADER, tag]] as const;
    producer.beginTransaction();
    for (const s of p.records) {
      const r = load(s);
      const extra = {
        headers: r.headers ? [...headers, ...r.headers] : headers,
        timestamp: r.timestamp ?? undefined,
        ...(r.partition === undefined ? {} : { partition: r.partition }),
      };
      while (!producer.produceWith(this.options.topic, r.value, r.key ?? null, extra)) {
        await producer.flush(TIMEOUT_MS);
      }
    }
    // The marker follows the data, so a marker never stands for records still on their way.
    await producer.flush(TIMEOUT_MS);
    producer.produce(
      this.transactionTopic,
      this.encoder.encode(JSON.stringify(marker)),
      this.encoder.encode(transactionalId),
    );
    await producer.commitTransaction(TIMEOUT_MS);
  }

  /** End of input: waits until everything is in Kafka (exactly-once: committed). */
  async finish(): Promise<void> {
    await this.s.committing;
    if (this.s.failure) throw this.s.failure;
    if (this.guarantee === "exactly-once") {
      // Without checkpointing (or after the last one) the remaining records commit now.
      if (this.s.buffer.length > 0) {
        const last = {
          run: this.s.run,
          checkpointId: Number.MAX_SAFE_INTEGER,
          records: this.s.buffer,
        };
        this.s.buffer = [];
        await this.transaction(
          this.s.producer!,
          this.transactionalId(this.s.subtask.subtaskIndex),
          last,
        );
      }
      return;
    }
    await this.flush();
    try {
      await this.s.producer!.flush(TIMEOUT_MS);
    } catch (e) {
      throw naming(e, this.options.bootstrapServers);
    }
    if (this.s.failure) throw this.s.failure;
  }

  /** Closes the producer (pending transactions stay in the checkpoint for a restore). */
  async close(): Promise<void> {
    if (!Object.hasOwn(this, "s")) return;
    await this.s.committing;
    await this.s.producer?.close();
    this.s.producer = undefined;
    if (this.s.failure) throw this.s.failure;
  }
}
