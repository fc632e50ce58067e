/**
 * The Kafka source: topics or a topic pattern, partition discovery, starting
 * offsets, an optional bounded mode and `read_committed` by default. Each
 * partition is a split with its next offset. The source's split enumerator
 * (in the job's main thread) discovers the partitions and assigns each to one
 * reader, as Flink's Kafka enumerator does; the splits are the reader state
 * in weir's checkpoints, so the source resumes exactly and rescales. Offsets
 * are also committed to the consumer group when a checkpoint completes, for
 * lag monitoring only.
 *
 * @module
 */
import { ConfigError, SerializationError } from "../../errors.ts";
import { checkOptionNames } from "../../_options.ts";
import { thrownMessage } from "../../_thrown_message.ts";
import { EXTERNAL } from "../_external.ts";
import type { PollStatus, Source, SourceContext, SourceOutput, SplitInfo } from "../source.ts";
import type {
  EnumeratedSplitReader,
  SplitEnumerator,
  SplitEnumeratorContext,
} from "../split_enumerator.ts";
import { type ConsumedRecord, KafkaConsumer } from "./consumer.ts";
import type { KafkaProperties, PartitionOffset } from "./_native.ts";
import {
  checkKafkaSplit,
  KafkaClusterLookup,
  KafkaSplitEnumerator,
  kafkaSplitId as key,
} from "./_kafka_split_enumerator.ts";

export { kafkaSplitOwner } from "./_kafka_split_enumerator.ts";

/**
 * Where partitions without a checkpointed offset start (Flink's `OffsetsInitializer`):
 * `earliest`, `latest`, the committed offsets of the group `groupId` names (else `fallback`), the
 * first record at or after a timestamp (ms since the epoch, an integer ≥ 0),
 * or given offsets per `topic:partition` (else the group's committed offset,
 * else `fallback`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaSource, type StartingOffsets } from "@weir/weir";
 * const source = (startingOffsets: StartingOffsets) =>
 *   new KafkaSource({
 *     bootstrapServers: "127.0.0.1:9092",
 *     topics: ["orders"],
 *     groupId: "orders-report", // whose committed offsets `committed` starts from
 *     startingOffsets,
 *     deserializer: (r) => r.value,
 *   });
 * // Each choice is checked when the source is made.
 * source("earliest");
 * source({ committed: { fallback: "latest" } });
 * source({ timestamp: Date.parse("2026-01-01T00:00:00Z") });
 * source({ specific: { "orders:0": 42 }, fallback: "earliest" });
 * assert.throws(
 *   () => source({ specific: { "orders:0": 42 } } as unknown as StartingOffsets),
 *   /specific needs fallback: "earliest" \| "latest"/,
 * );
 * ```
 */
export type StartingOffsets =
  | "earliest"
  | "latest"
  | { committed: { fallback: "earliest" | "latest" } }
  | { timestamp: number }
  | { specific: Record<string, number>; fallback: "earliest" | "latest" };

/**
 * Options of a {@linkcode KafkaSource}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaDeserializers, type KafkaSourceOptions } from "@weir/weir";
 * const options: KafkaSourceOptions<unknown> = {
 *   bootstrapServers: "127.0.0.1:9092",
 *   topicPattern: new RegExp("orders-.+"),
 *   startingOffsets: "latest",
 *   partitionDiscoveryIntervalMs: 10_000,
 *   deserializer: (r) => KafkaDeserializers.json(r.value),
 * };
 * assert.ok(options.topicPattern!.test("orders-eu"));
 * ```
 */
export interface KafkaSourceOptions<T> {
  /** `host:port,...` of the cluster. */
  bootstrapServers: string;
  /** Topics to read (or give `topicPattern`). */
  topics?: readonly string[];
  /** Reads every topic whose whole name matches. */
  topicPattern?: RegExp;
  /**
   * Turns a record (key, value, headers, partition, offset, timestamp) into a value; `null` or
   * `undefined` skips the record (its offset still counts as read), as Flink's
   * `DeserializationSchema` returning null.
   */
  deserializer: (record: ConsumedRecord) => T | null | undefined;
  /** Where to start without a checkpoint (`earliest`). */
  startingOffsets?: StartingOffsets;
  /**
   * Stop at the offsets that were the latest when the job first started (kept
   * across restores), then end input.
   */
  bounded?: boolean;
  /**
   * ms between looks for new partitions and topics (300 000, Flink's 5 minutes; 0: never;
   * bounded: never).
   */
  partitionDiscoveryIntervalMs?: number;
  /**
   * The consumer group offsets are committed to for monitoring (`weir-<name>`); required with
   * `startingOffsets: { committed }`.
   */
  groupId?: string;
  /** Commit offsets to the group when a checkpoint completes (true). */
  commitOffsetsOnCheckpoint?: boolean;
  /** A name for plans and metrics (`kafka`). */
  name?: string;
  /** More librdkafka consumer properties (`isolation.level` is `read_committed` unless set). */
  properties?: KafkaProperties;
}

/** Properties the source sets from its options, and the one its bounded reading needs. */
const OWN_PROPERTIES: Record<string, string> = {
  "bootstrap.servers": "the bootstrapServers option",
  "group.id": "the groupId option",
  "enable.partition.eof": "nothing: the source needs it on to see where partitions end",
};

/** An option's value in an error message. */
const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

/** Every option's name, for `checkOptionNames`. */
const KAFKA_SOURCE_OPTIONS: Record<keyof KafkaSourceOptions<unknown>, true> = {
  bootstrapServers: true,
  topics: true,
  topicPattern: true,
  deserializer: true,
  startingOffsets: true,
  bounded: true,
  partitionDiscoveryIntervalMs: true,
  groupId: true,
  commitOffsetsOnCheckpoint: true,
  name: true,
  properties: true,
};

/** Throws a `ConfigError` naming the first option of `o` that is missing or malformed. */
function checkSourceOptions(o: KafkaSourceOptions<unknown>): void {
  const fail = (what: string) => {
    throw new ConfigError(`KafkaSource: ${what}`);
  };
  if ((o.topics === undefined) === (o.topicPattern === undefined)) {
    fail("give either topics or topicPattern");
  }
  if (o.topics !== undefined) {
    if (!Array.isArray(o.topics)) fail(`topics must be an array of names, got ${shown(o.topics)}`);
    if (o.topics.length === 0) fail("topics must name at least one topic");
    for (const t of o.topics) {
      if (typeof t !== "string" || t === "") fail(`topics holds ${shown(t)}, not a topic name`);
    }
  }
  if (o.topicPattern !== undefined && !(o.topicPattern instanceof RegExp)) {
    fail(`topicPattern must be a RegExp, got ${shown(o.topicPattern)}`);
  }
  if (typeof o.bootstrapServers !== "string" || o.bootstrapServers.trim() === "") {
    fail(`bootstrapServers must be "host:port,…", got ${shown(o.bootstrapServers)}`);
  }
  if (o.groupId !== undefined && (typeof o.groupId !== "string" || o.groupId === "")) {
    fail(`groupId must be a non-empty string, got ${shown(o.groupId)}`);
  }
  if (o.startingOffsets !== undefined) checkStartingOffsets(o.startingOffsets, fail);
  // The default group, `weir-<name>`, is every job's whose source has that name ("kafka" unless
  // named): started from it, a job would resume where another job's source had read. Flink
  // requires group.id here too.
  if (
    typeof o.startingOffsets === "object" && "committed" in o.startingOffsets &&
    o.groupId === undefined
  ) {
    fail(
      "startingOffsets { committed } needs a groupId: the consumer group whose offsets it " +
        "starts from (the default weir-<name> is shared by every job naming its source alike)",
    );
  }
  for (const [name, instead] of Object.entries(OWN_PROPERTIES)) {
    if (o.properties !== undefined && name in o.properties) {
      fail(`properties must not set ${name}: use ${instead}`);
    }
  }
}

/** Fails naming what in `start` is not a {@linkcode StartingOffsets}. */
function checkStartingOffsets(start: unknown, fail: (what: string) => never): void {
  const usage = 'use "earliest", "latest", { committed: { fallback } }, { timestamp } or ' +
    "{ specific, fallback }";
  const isFallback = (f: unknown) => f === "earliest" || f === "latest";
  if (start === "earliest" || start === "latest") return;
  if (typeof start !== "object" || start === null) {
    fail(`startingOffsets ${shown(start)}: ${usage}`);
  }
  const s = start as Record<string, unknown>;
  const keys = Object.keys(s);
  if ("committed" in s && keys.length === 1) {
    const c = s.committed as { fallback?: unknown } | null;
    if (typeof c === "object" && c !== null && isFallback(c.fallback)) return;
    fail(`startingOffsets ${shown(start)}: committed needs { fallback: "earliest" | "latest" }`);
  }
  if ("timestamp" in s && keys.length === 1) {
    // A negative one is no time: Kafka's offset look-up reads -1 and -2 as latest and earliest.
    if (Number.isSafeInteger(s.timestamp) && (s.timestamp as number) >= 0) return;
    fail(`startingOffsets ${shown(start)}: timestamp must be a number of ms ≥ 0, an integer`);
  }
  if ("specific" in s && keys.length <= 2) {
    if (!isFallback(s.fallback)) {
      fail(`startingOffsets ${shown(start)}: specific needs fallback: "earliest" | "latest"`);
    }
    const given = s.specific as Record<string, unknown> | null;
    if (typeof given !== "object" || given === null) {
      fail(`startingOffsets ${shown(start)}: specific maps "topic:partition" to an offset`);
    }
    for (const [split, offset] of Object.entries(given)) {
      if (!/^.+:\d+$/.test(split)) {
        fail(`startingOffsets: "${split}" is not "topic:partition"`);
      }
      if (!Number.isSafeInteger(offset) || (offset as number) < 0) {
        fail(`startingOffsets: the offset of "${split}" must be an integer ≥ 0, got ${offset}`);
      }
    }
    return;
  }
  fail(`startingOffsets ${shown(start)}: ${usage}`);
}

/**
 * `deserialize(r)`; what it throws is a `SerializationError` naming the record's topic, partition
 * and offset, so that a record no deserializer reads can be found (and skipped past, or mended).
 */
function read<T>(deserialize: (r: ConsumedRecord) => T, r: ConsumedRecord): T {
  try {
    return deserialize(r);
  } catch (e) {
    throw new SerializationError(
      `KafkaSource: the record at ${r.topic}:${r.partition} offset ${r.offset} could not be ` +
        `deserialized: ${thrownMessage(e)}`,
      { cause: e },
    );
  }
}

/** A partition as a split: where to read next and, when bounded, where to stop. */
export interface KafkaSplit {
  /** Topic. */
  topic: string;
  /** Partition. */
  partition: number;
  /** The next offset to read. */
  offset: number;
  /** Bounded: the offset to stop before. */
  stop?: number;
}

/** ms between look-ups of the partitions' high watermarks, for the lag metric. */
const LAG_CHECK_MS = 5_000;
/** Flink's KafkaSource `partition.discovery.interval.ms` default: 5 minutes. */
const DEFAULT_DISCOVERY_INTERVAL_MS = 300_000;

/**
 * Reads Kafka topics.
 *
 * @example Lines of a topic, to where it ended when the job started
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaDeserializers, KafkaSource, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const source = new KafkaSource({
 *   bootstrapServers: "127.0.0.1:9092",
 *   topics: ["lines"],
 *   bounded: true,
 *   deserializer: (r) => KafkaDeserializers.string(r.value) ?? "",
 * });
 * env.addSource(source, { uid: "lines" }).print(); // connects when the job runs
 * assert.equal(source.name, "kafka");
 * // The topics are checked when the source is made, not when the job runs.
 * assert.throws(
 *   () =>
 *     new KafkaSource({ bootstrapServers: "127.0.0.1:9092", topics: [], deserializer: (r) => r.value }),
 *   /topics must name at least one topic/,
 * );
 * ```
 */
export class KafkaSource<T> implements Source<T> {
  /** The name in plans and metrics. */
  readonly name: string;
  readonly #options: KafkaSourceOptions<T>;

  /** Creates the source. */
  constructor(options: KafkaSourceOptions<T>) {
    // A misspelt startingOffsets or bounded would read from where the default says.
    checkOptionNames("KafkaSource", options, KAFKA_SOURCE_OPTIONS);
    checkSourceOptions(options as KafkaSourceOptions<unknown>);
    this.#options = options;
    this.name = options.name ?? "kafka";
  }

  /** @internal What the plan compares between threads (see `_external.ts`). */
  [EXTERNAL](): string {
    const o = this.#options;
    return `reads Kafka ${o.bootstrapServers} ${o.topics?.join(",") ?? String(o.topicPattern)}`;
  }

  /** Creates subtask `ctx.subtaskIndex`'s reader: it reads the partitions the enumerator assigns. */
  createReader(ctx: SourceContext): KafkaSourceReader<T> {
    return new KafkaSourceReader(this.#options, ctx, this.name);
  }

  /**
   * The source's split enumerator: it discovers partitions (again every
   * `partitionDiscoveryIntervalMs` unless bounded), resolves their starting
   * offsets and assigns each to its owner ({@linkcode kafkaSplitOwner}).
   */
  createEnumerator(
    ctx: SplitEnumeratorContext<unknown>,
    restored: unknown,
  ): SplitEnumerator<unknown, unknown> {
    const bounded = this.#options.bounded ?? false;
    return new KafkaSplitEnumerator(
      {
        bounded,
        discoveryIntervalMs: bounded ? 0 : this.#options.partitionDiscoveryIntervalMs ??
          DEFAULT_DISCOVERY_INTERVAL_MS,
      },
      ctx as SplitEnumeratorContext<KafkaSplit>,
      new KafkaClusterLookup(this.#options, groupIdOf(this.#options, this.name)),
      restored,
    ) as SplitEnumerator<unknown, unknown>;
  }
}

/** The consumer group offsets are committed to (and committed starting offsets read from). */
const groupIdOf = (options: KafkaSourceOptions<unknown>, name: string) =>
  options.groupId ?? `weir-${name}`;

/** What a reader reports per partition (for `/metrics` and the admin API). */
export interface KafkaSplitMetrics {
  /** Topic. */
  topic: string;
  /** Partition. */
  partition: number;
  /** The next offset to read. */
  offset: number;
  /** Records read. */
  records: number;
  /** Value and key bytes read. */
  bytes: number;
  /** The partition's high watermark minus `offset`, as last seen (-1: not yet known). */
  lag: number;
}

/** Counters of one split. */
interface SplitStats {
  records: number;
  bytes: number;
  /** The partition's high watermark as last seen (-1: not yet known). */
  high: number;
}

/** One subtask's reader: reads the partitions the source's enumerator assigns to it. */
export class KafkaSourceReader<T> implements EnumeratedSplitReader<T> {
  readonly #options: KafkaSourceOptions<T>;
  readonly #ctx: SourceContext;
  readonly #groupId: string;
  #consumer: KafkaConsumer | undefined;
  /** Assigned splits by `topic:partition` (finished ones too: they stay in the checkpoint). */
  #splits = new Map<string, KafkaSplit>();
  /** Splits arrived since the consumer's assignment was last set. */
  #reassign = false;
  #noMoreSplits = false;
  #offsetsAt = new Map<number, PartitionOffset[]>();
  #stats = new Map<string, SplitStats>();
  #nextLagCheck = 0;
  /**
   * The high watermarks' look-up under way: polls go on without it (a broker that stops
   * answering holds a look-up until librdkafka's socket timeout, 60 s, whatever the look-up's
   * own timeout says), close() waits for it (it uses the consumer on another thread).
   */
  #lagLookup: Promise<void> | undefined;
  /** Splits paused by watermark alignment, by `topic:partition`. */
  readonly #paused = new Set<string>();
  /** Paused splits whose fetched records were dropped: assigned again from their offsets on resume. */
  readonly #skipped = new Set<string>();

  /** Creates the reader (it connects once it has splits). */
  constructor(options: KafkaSourceOptions<T>, ctx: SourceContext, name: string) {
    this.#options = options;
    this.#ctx = ctx;
    this.#groupId = groupIdOf(options as KafkaSourceOptions<unknown>, name);
  }

  /** Partitions per split, as `/metrics` and the admin API show them. */
  splitMetrics(): KafkaSplitMetrics[] {
    return [...this.#splits.values()].map((s) => {
      const st = this.#stats.get(key(s));
      return {
        topic: s.topic,
        partition: s.partition,
        offset: s.offset,
        records: st?.records ?? 0,
        bytes: st?.bytes ?? 0,
        lag: st && st.high >= 0 ? Math.max(0, st.high - s.offset) : -1,
      };
    });
  }

  /** The assigned partitions for the admin API and `/metrics`. */
  splitInfo(): SplitInfo[] {
    return this.splitMetrics().map((m) => ({
      id: key(m),
      position: m.offset,
      records: m.records,
      bytes: m.bytes,
      ...(m.lag >= 0 ? { lag: m.lag } : {}),
    }));
  }

  /** Partitions the enumerator assigned, from their offsets; read from the next poll. */
  addSplits(splits: unknown[]): void {
    for (const raw of splits) {
      const split = checkKafkaSplit(raw);
      this.#splits.set(key(split), split);
    }
    this.#reassign = true;
    this.#nextLagCheck = 0; // the new partitions' lag is known soon
  }

  /** Bounded: the enumerator has assigned everything; the reader ends at its splits' stops. */
  notifyNoMoreSplits(): void {
    this.#noMoreSplits = true;
  }

  /** Not called: the enumerator gets a restored job's splits back and assigns them again. */
  restoreSplits(all: unknown[]): void {
    this.addSplits(all);
  }

  /** The assigned splits and their next offsets. */
  snapshotSplits(checkpointId: number): unknown[] {
    const splits = [...this.#splits.values()].map((s) => ({ ...s }));
    this.#offsetsAt.set(
      checkpointId,
      splits.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
    );
    return splits;
  }

  /** Commits the offsets of checkpoint `checkpointId` to the group (monitoring only). */
  notifyCheckpointComplete(checkpointId: number): void {
    const offsets = this.#offsetsAt.get(checkpointId);
    for (const id of this.#offsetsAt.keys()) if (id <= checkpointId) this.#offsetsAt.delete(id);
    if (!offsets || this.#options.commitOffsetsOnCheckpoint === false || !this.#consumer) return;
    try {
      this.#consumer.commitAsync(offsets.filter((o) => o.offset >= 0));
    } catch {
      // Committed offsets are for monitoring; a failed commit must not fail the job.
    }
  }

  /** Split readers have no single position (kept for the {@linkcode SourceReader} contract). */
  position(): unknown {
    return null;
  }

  /** Not used: split readers restore through their splits. */
  restore(): void {}

  #active(): KafkaSplit[] {
    return [...this.#splits.values()].filter((s) => s.stop === undefined || s.offset < s.stop);
  }

  /**
   * Assigns the unfinished splits to the consumer (created with the first
   * ones). Only when splits arrive: a new assignment drops what librdkafka
   * already fetched for the other partitions, so finished partitions stay
   * assigned until then (their later records are skipped in `poll`).
   */
  #assign(): void {
    this.#reassign = false;
    const active = this.#active();
    // Splits that start at their stop (bounded, `latest`) need no client.
    if (!this.#consumer && active.length === 0) return;
    this.#consumer ??= KafkaConsumer.create({
      "isolation.level": "read_committed",
      "enable.partition.eof": true,
      ...this.#options.properties,
      "bootstrap.servers": this.#options.bootstrapServers,
      "group.id": this.#groupId,
    });
    this.#consumer.assign(
      active.map((s) => ({ topic: s.topic, partition: s.partition, offset: s.offset })),
    );
    // Fetching restarts at the splits' offsets: nothing dropped is lost; paused splits stay so.
    this.#skipped.clear();
    this.#consumer.setPaused(this.#partitions(this.#paused), true);
  }

  #partitions(keys: Iterable<string>): { topic: string; partition: number }[] {
    const out: { topic: string; partition: number }[] = [];
    for (const k of keys) {
      const s = this.#splits.get(k);
      if (s) out.push({ topic: s.topic, partition: s.partition });
    }
    return out;
  }

  /**
   * Stops reading the partitions (`topic:partition`) in `pause` and reads
   * those in `resume` again (watermark alignment). Records of a paused
   * partition already fetched are dropped, and read again after it resumes.
   */
  pauseOrResumeSplits(pause: readonly string[], resume: readonly string[]): void {
    for (const k of pause) this.#paused.add(k);
    for (const k of resume) this.#paused.delete(k);
    const consumer = this.#consumer;
    if (!consumer) return;
    consumer.setPaused(this.#partitions(pause), true);
    if (resume.some((k) => this.#skipped.has(k))) this.#assign();
    // A partition's pause outlives a new assignment in librdkafka.
    consumer.setPaused(this.#partitions(resume), false);
  }

  /** Emits up to `max` records of the assigned partitions. */
  // deno-lint-ignore require-await -- consumes what librdkafka fetched; errors reject the poll
  async poll(out: SourceOutput<T>, max: number): Promise<PollStatus> {
    if (this.#reassign) this.#assign();
    const consumer = this.#consumer;
    if (!consumer) return this.#noMoreSplits ? "end" : "idle";
    const now = this.#ctx.now();
    const records = consumer.poll(max);
    const deserialize = this.#options.deserializer;
    // With `env.fromSource`, each partition has its own watermark generator: every
    // assigned partition holds the watermark back from the start, as in Flink.
    const perSplit = out.forSplit !== undefined;
    if (perSplit) { for (const s of this.#active()) out.forSplit!(key(s)); }
    // A batch holds runs of records of one partition: look its split up once per run.
    let run: ConsumedRecord | undefined;
    let k = "";
    let split: KafkaSplit | undefined;
    let stats: SplitStats | undefined;
    let target: SourceOutput<T> = out;
    for (const r of records) {
      if (run === undefined || r.partition !== run.partition || r.topic !== run.topic) {
        run = r;
        k = key(r);
        split = this.#splits.get(k);
        if (split) {
          stats = this.#statsOf(k);
          target = perSplit ? out.forSplit!(k) : out;
        }
      }
      // Records before the split's position (a seek in flight).
      if (!split || r.offset < split.offset) continue;
      // Paused by watermark alignment, possibly by this batch's previous record.
      if (this.#paused.size > 0 && this.#paused.has(k)) {
        this.#skipped.add(k);
        continue;
      }
      if (split.stop !== undefined && r.offset >= split.stop) continue;
      const value = read(deserialize, r);
      // Nothing to emit (a record the job skips), as Flink's DeserializationSchema returns null.
      if (value !== null && value !== undefined) {
        target.collect(value, r.timestamp >= 0 ? r.timestamp : undefined);
      }
      split.offset = r.offset + 1;
      stats!.records++;
      stats!.bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
    }
    // Control records (transaction markers) may sit just before a stop offset: the
    // consumer's position moves past them without a record.
    for (const s of this.#active()) {
      const k = key(s);
      // A paused partition's position may be past records it dropped.
      if (s.stop === undefined || !consumer.atEnd.has(k) || this.#paused.has(k)) continue;
      if (this.#skipped.has(k)) continue;
      const [p] = consumer.positions([{ topic: s.topic, partition: s.partition, offset: -1001 }]);
      if (p && p.offset >= s.offset) s.offset = Math.min(p.offset, s.stop);
    }
    if (perSplit) {
      for (const s of this.#splits.values()) {
        if (s.stop !== undefined && s.offset >= s.stop) {
          this.#paused.delete(key(s));
          out.releaseSplit?.(key(s));
        }
      }
    }
    if (this.#noMoreSplits && this.#active().length === 0) return "end";
    if (now >= this.#nextLagCheck && this.#lagLookup === undefined) {
      // Infinity until the look-up ends, unless new splits (0) ask for another at once.
      this.#nextLagCheck = Infinity;
      this.#lagLookup = this.#updateLag().then((known) => {
        // A partition whose end is not known yet (a broker still connecting) is asked again soon.
        const next = this.#ctx.now() + (known ? LAG_CHECK_MS : LAG_CHECK_MS / 25);
        if (this.#nextLagCheck === Infinity) this.#nextLagCheck = next;
        this.#lagLookup = undefined;
      });
    }
    return records.length > 0 ? "more" : "idle";
  }

  #statsOf(k: string): SplitStats {
    let st = this.#stats.get(k);
    if (!st) this.#stats.set(k, st = { records: 0, bytes: 0, high: -1 });
    return st;
  }

  /** Refreshes every split's high watermark; whether all are known. */
  async #updateLag(): Promise<boolean> {
    const consumer = this.#consumer!;
    let known = true;
    await Promise.all([...this.#splits.values()].map(async (s) => {
      const st = this.#statsOf(key(s));
      try {
        st.high = (await consumer.watermarks(s.topic, s.partition, 1_000)).high;
      } catch {
        // Lag is for monitoring: a broker that does not answer now leaves the last value.
      }
      if (st.high < 0) known = false;
    }));
    return known;
  }

  /** Closes the consumer. */
  async close(): Promise<void> {
    await this.#lagLookup;
    await this.#consumer?.close();
    this.#consumer = undefined;
  }
}
