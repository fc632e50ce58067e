/**
 * The split enumerator of {@linkcode KafkaSource} (Flink's
 * `KafkaSourceEnumerator`): in the job's main thread it discovers the
 * partitions of the subscribed topics (again at the discovery interval),
 * resolves where new ones start (and, bounded, stop), and assigns each to the
 * reader that owns it. Its state is the partitions it has handed out and the
 * splits waiting for their reader; the readers' state is the splits with
 * their offsets.
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";
import type { SplitEnumerator, SplitEnumeratorContext } from "../split_enumerator.ts";
import { KafkaConsumer } from "./consumer.ts";
import { KafkaErrorCode } from "./_native.ts";
import { naming } from "./_naming.ts";
import type { KafkaSourceOptions, KafkaSplit } from "./kafka_source.ts";

/** A topic partition. */
export interface TopicPartition {
  /** Topic. */
  topic: string;
  /** Partition. */
  partition: number;
}

/** The enumerator's checkpointed state. */
export interface KafkaEnumeratorState {
  /** Partitions handed to readers (their splits are in the readers' state): never again. */
  assigned: TopicPartition[];
  /** Splits discovered or given back whose reader has not registered yet. */
  pending: KafkaSplit[];
  /**
   * Whether the first discovery of the job is done: until then the configured
   * starting offsets apply (and, bounded, the stop offsets are not fixed yet).
   */
  initialDiscoveryDone: boolean;
}

/** Java's `String.hashCode`, for Flink's partition-to-reader assignment. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * The subtask that owns a partition (Flink's `KafkaSourceEnumerator.getSplitOwner`):
 * a topic's partitions go round-robin from a start that depends on the topic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kafkaSplitOwner } from "@weir/weir";
 * const owners = [0, 1, 2, 3].map((p) => kafkaSplitOwner("words", p, 2));
 * assert.deepEqual(owners.toSorted(), [0, 0, 1, 1]);
 * ```
 */
export function kafkaSplitOwner(topic: string, partition: number, parallelism: number): number {
  const start = (Math.imul(javaHash(topic), 31) & 0x7fffffff) % parallelism;
  return (start + partition) % parallelism;
}

/** `topic:partition`: a split's id in state, logs, metrics and per-split watermarks. */
export const kafkaSplitId = (tp: TopicPartition): string => `${tp.topic}:${tp.partition}`;

const isOffset = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;

/** Checks a split read from a checkpoint or a message; throws `ConfigError` naming it. */
export function checkKafkaSplit(raw: unknown): KafkaSplit {
  const s = raw as Partial<KafkaSplit> | null;
  if (
    typeof s !== "object" || s === null || typeof s.topic !== "string" || !isOffset(s.partition) ||
    !isOffset(s.offset) || (s.stop !== undefined && !isOffset(s.stop))
  ) {
    throw new ConfigError(
      `KafkaSource cannot resume: a checkpointed split is not { topic, partition, offset, stop? }: ${
        JSON.stringify(raw)
      }`,
    );
  }
  return {
    topic: s.topic,
    partition: s.partition!,
    offset: s.offset!,
    ...(s.stop !== undefined ? { stop: s.stop } : {}),
  };
}

function checkState(raw: unknown): KafkaEnumeratorState {
  const s = raw as Partial<KafkaEnumeratorState> | null;
  if (
    typeof s !== "object" || s === null || !Array.isArray(s.assigned) ||
    !Array.isArray(s.pending) || typeof s.initialDiscoveryDone !== "boolean" ||
    !s.assigned.every((tp) => typeof tp?.topic === "string" && isOffset(tp.partition))
  ) {
    throw new ConfigError(
      "KafkaSource cannot resume: the checkpointed enumerator state is not " +
        `{ assigned, pending, initialDiscoveryDone }: ${JSON.stringify(raw)}`,
    );
  }
  return {
    assigned: s.assigned.map(({ topic, partition }) => ({ topic, partition })),
    pending: s.pending.map(checkKafkaSplit),
    initialDiscoveryDone: s.initialDiscoveryDone,
  };
}

/** The enumerator's I/O: which partitions exist and where new ones start. */
export interface KafkaPartitionLookup {
  /** The partitions of the subscribed topics (a metadata request). */
  partitions(): Promise<TopicPartition[]>;
  /**
   * Splits of new partitions: from the configured starting offsets when
   * `initial` (the job's first discovery), else from their earliest offset;
   * bounded, with their latest offset as the stop.
   */
  splits(partitions: TopicPartition[], initial: boolean): Promise<KafkaSplit[]>;
  /** Releases the client, once calls in flight have returned. */
  close(): Promise<void>;
}

/** How the enumerator discovers. */
export interface KafkaEnumeratorOptions {
  /** Stop offsets are fixed at the first discovery; no discovery after it; readers end. */
  bounded: boolean;
  /** ms between discoveries while running (0: only the first). */
  discoveryIntervalMs: number;
}

/**
 * Discovers partitions and assigns each to its owner reader
 * ({@linkcode kafkaSplitOwner}) once that reader has registered.
 *
 * @example Four partitions over two readers; a fifth discovered later goes to its owner
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaSplitEnumerator } from "./_kafka_split_enumerator.ts";
 * const parts = [0, 1, 2, 3].map((partition) => ({ topic: "t", partition }));
 * const got: string[] = [];
 * let rediscover = () => {};
 * const e = new KafkaSplitEnumerator({ bounded: false, discoveryIntervalMs: 10 }, {
 *   parallelism: 2,
 *   registeredReaders: () => [0, 1],
 *   assignSplits: (r, splits) => splits.forEach((s) => got.push(`${r}:${s.partition}@${s.offset}`)),
 *   signalNoMoreSplits: () => {},
 *   callPeriodically: () => {},
 *   callAsync: (work, handle) => void (rediscover = () => work().then(handle)),
 *   now: () => 0,
 * }, {
 *   partitions: () => Promise.resolve([...parts]),
 *   splits: (tps) => Promise.resolve(tps.map((tp) => ({ ...tp, offset: 0 }))),
 *   close: () => Promise.resolve(),
 * }, undefined);
 * e.start();
 * await rediscover();
 * assert.deepEqual(got.toSorted(), ["0:0@0", "0:2@0", "1:1@0", "1:3@0"]);
 * parts.push({ topic: "t", partition: 4 });
 * await rediscover();
 * assert.equal(got.at(-1), "0:4@0");
 * ```
 */
export class KafkaSplitEnumerator implements SplitEnumerator<KafkaSplit, KafkaEnumeratorState> {
  readonly #opts: KafkaEnumeratorOptions;
  readonly #ctx: SplitEnumeratorContext<KafkaSplit>;
  readonly #lookup: KafkaPartitionLookup;
  /** Partitions handed to readers, by id. */
  readonly #assigned = new Set<string>();
  /** Splits waiting for their owner to register, by id. */
  readonly #pending = new Map<string, KafkaSplit>();
  #initialDone: boolean;
  readonly #restored: boolean;
  /** Readers told there are no more splits (bounded), once each. */
  readonly #ended = new Set<number>();

  /** Resumes from `restored` state (undefined: a first start). */
  constructor(
    options: KafkaEnumeratorOptions,
    ctx: SplitEnumeratorContext<KafkaSplit>,
    lookup: KafkaPartitionLookup,
    restored: unknown,
  ) {
    this.#opts = options;
    this.#ctx = ctx;
    this.#lookup = lookup;
    const state = restored === undefined ? undefined : checkState(restored);
    this.#restored = state !== undefined;
    for (const tp of state?.assigned ?? []) this.#assigned.add(kafkaSplitId(tp));
    for (const s of state?.pending ?? []) this.#pending.set(kafkaSplitId(s), s);
    this.#initialDone = state?.initialDiscoveryDone ?? false;
  }

  /**
   * Starts discovery: the first one (unless a restored job had it), then, unbounded, one
   * every interval. A restored bounded job discovers nothing: its partitions and stop
   * offsets were fixed at the first start.
   */
  start(): void {
    const periodic = !this.#opts.bounded && this.#opts.discoveryIntervalMs > 0;
    if (this.#initialDone && !periodic) {
      this.#assignPending();
      return;
    }
    this.#ctx.callAsync(
      () => this.#discover(),
      (splits) => this.#discovered(splits),
      periodic ? this.#opts.discoveryIntervalMs : undefined,
    );
  }

  /** The reader of `subtask` registered: it gets its waiting splits. */
  addReader(_subtask: number): void {
    this.#assignPending();
  }

  /** Kafka readers do not ask: their partitions are pushed to them (as in Flink). */
  handleSplitRequest(_subtask: number): void {}

  /**
   * A restored job's splits (or a failed reader's): assigned again to their
   * owners at this run's parallelism, from their offsets. A checkpoint of a
   * version without an enumerator has no enumerator state: its splits tell
   * which partitions were already read (and, bounded, where they stop).
   */
  addSplitsBack(splits: KafkaSplit[], _subtask: number): void {
    for (const raw of splits) {
      const split = checkKafkaSplit(raw);
      const id = kafkaSplitId(split);
      this.#assigned.delete(id);
      this.#pending.set(id, split);
    }
    if (!this.#restored && splits.length > 0) this.#initialDone = true;
    this.#assignPending();
  }

  /** The partitions handed out and the splits waiting for their reader. */
  snapshotState(): KafkaEnumeratorState {
    return {
      assigned: [...this.#assigned].map((id) => {
        const at = id.lastIndexOf(":");
        return { topic: id.slice(0, at), partition: Number(id.slice(at + 1)) };
      }),
      pending: [...this.#pending.values()].map((s) => ({ ...s })),
      initialDiscoveryDone: this.#initialDone,
    };
  }

  /** Closes the lookup's client once its calls in flight are done. */
  close(): Promise<void> {
    return this.#lookup.close();
  }

  /** Splits of the partitions not seen before. */
  async #discover(): Promise<KafkaSplit[]> {
    const initial = !this.#initialDone;
    const found = (await this.#lookup.partitions()).filter((tp) => !this.#knows(tp));
    return found.length === 0 ? [] : await this.#lookup.splits(found, initial);
  }

  #knows(tp: TopicPartition): boolean {
    const id = kafkaSplitId(tp);
    return this.#assigned.has(id) || this.#pending.has(id);
  }

  #discovered(splits: KafkaSplit[]): void {
    for (const s of splits) if (!this.#knows(s)) this.#pending.set(kafkaSplitId(s), s);
    this.#initialDone = true;
    this.#assignPending();
  }

  /** Sends waiting splits to their registered owners; bounded, then ends those readers. */
  #assignPending(): void {
    const registered = new Set(this.#ctx.registeredReaders());
    const byOwner = new Map<number, KafkaSplit[]>();
    for (const [id, split] of this.#pending) {
      const owner = kafkaSplitOwner(split.topic, split.partition, this.#ctx.parallelism);
      if (!registered.has(owner)) continue;
      byOwner.set(owner, [...(byOwner.get(owner) ?? []), split]);
      this.#pending.delete(id);
      this.#assigned.add(id);
    }
    for (const [owner, splits] of byOwner) this.#ctx.assignSplits(owner, splits);
    if (!this.#opts.bounded || !this.#initialDone) return;
    for (const subtask of registered) {
      if (this.#ended.has(subtask)) continue;
      this.#ended.add(subtask);
      this.#ctx.signalNoMoreSplits(subtask);
    }
  }
}

/** ms the enumerator's look-ups wait for the cluster. */
const LOOKUP_TIMEOUT_MS = 10_000;

/**
 * The enumerator's look-ups over one librdkafka client: a metadata request
 * per discovery, and for new partitions their watermarks (all at once) and,
 * as the starting offsets need, one committed-offsets or offsets-for-times
 * request for all of them.
 */
export class KafkaClusterLookup implements KafkaPartitionLookup {
  readonly #options: KafkaSourceOptions<unknown>;
  readonly #groupId: string;
  #consumer: KafkaConsumer | undefined;
  /** The call in flight: the client is destroyed only after it. */
  #inFlight: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Looks up the cluster of `options`; committed offsets are the group `groupId`'s. */
  constructor(options: KafkaSourceOptions<unknown>, groupId: string) {
    this.#options = options;
    this.#groupId = groupId;
  }

  #client(): KafkaConsumer {
    if (this.#closed) throw new Error("The Kafka source's enumerator is closed");
    return this.#consumer ??= KafkaConsumer.create({
      // The readers' default: a bounded stop is the latest offset at this level, for
      // read_committed the last stable offset (Flink's OffsetsInitializer.latest()).
      "isolation.level": "read_committed",
      ...this.#options.properties,
      "bootstrap.servers": this.#options.bootstrapServers,
      "group.id": this.#groupId,
    });
  }

  #track<T>(call: Promise<T>): Promise<T> {
    const named = call.catch((e) => {
      throw naming(e, this.#options.bootstrapServers);
    });
    this.#inFlight = named.catch(() => {});
    return named;
  }

  /**
   * The subscribed topics' partitions (topics with an error have none). A topic the `topics`
   * option names that the cluster does not have is a `ConfigError`, as Flink's topic list
   * subscriber fails: a misspelt name would read nothing, and wait for it for ever unbounded. A
   * pattern may match nothing.
   */
  partitions(): Promise<TopicPartition[]> {
    return this.#track((async () => {
      const meta = await this.#client().metadata(LOOKUP_TIMEOUT_MS);
      const pattern = this.#options.topicPattern;
      // Without g or y: a RegExp with either keeps where its last match ended (lastIndex), and
      // test() of the next topic would start there.
      const whole = pattern
        ? new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gy]/g, ""))
        : undefined;
      const wanted = new Set(this.#options.topics ?? []);
      const missing = new Set(wanted);
      const out: TopicPartition[] = [];
      for (const t of meta) {
        if (t.err !== KafkaErrorCode.UnknownTopic) missing.delete(t.topic);
        if (t.err !== 0 || !(whole ? whole.test(t.topic) : wanted.has(t.topic))) continue;
        for (const p of t.partitions) out.push({ topic: t.topic, partition: p.id });
      }
      if (missing.size > 0) {
        throw new ConfigError(
          `KafkaSource: ${[...missing].map((t) => `"${t}"`).join(", ")} ` +
            `${missing.size === 1 ? "is no topic" : "are no topics"} of the cluster at ` +
            `${this.#options.bootstrapServers}: create ${missing.size === 1 ? "it" : "them"} ` +
            "first, or correct the topics option",
        );
      }
      return out;
    })());
  }

  /** Where new partitions start and (bounded) stop. */
  splits(partitions: TopicPartition[], initial: boolean): Promise<KafkaSplit[]> {
    return this.#track(this.#resolve(partitions, initial));
  }

  async #resolve(partitions: TopicPartition[], initial: boolean): Promise<KafkaSplit[]> {
    const client = this.#client();
    const start = initial ? this.#options.startingOffsets ?? "earliest" : "earliest";
    const asked = partitions.map((tp) => ({ ...tp, offset: -1001 }));
    // Partitions a `specific` map leaves out start at the group's committed offsets, then the
    // fallback, as Flink's specified-offsets initializer does.
    const unspecified = typeof start === "object" && "specific" in start
      ? asked.filter((tp) => start.specific[kafkaSplitId(tp)] === undefined)
      : [];
    const [marks, given] = await Promise.all([
      // One round trip per partition, all at once (each runs on its own thread).
      Promise.all(partitions.map((tp) => client.watermarks(tp.topic, tp.partition))),
      typeof start !== "object"
        ? undefined
        : "committed" in start
        ? client.committed(asked, LOOKUP_TIMEOUT_MS)
        : unspecified.length > 0
        ? client.committed(unspecified, LOOKUP_TIMEOUT_MS)
        : "timestamp" in start
        ? client.offsetsForTimes(
          asked.map((tp) => ({ ...tp, offset: start.timestamp })),
          LOOKUP_TIMEOUT_MS,
        )
        : undefined,
    ]);
    const offsetOf = new Map(given?.map((o) => [kafkaSplitId(o), o.offset]));
    return partitions.map((tp, i) => {
      const { low, high } = marks[i]!;
      const pick = (f: "earliest" | "latest") => f === "earliest" ? low : high;
      let offset: number;
      if (start === "earliest" || start === "latest") offset = pick(start);
      else if ("committed" in start) {
        // One the partition does not have (deleted, or past its end) too: Flink's reader resets
        // it with auto.offset.reset = the fallback.
        const c = offsetOf.get(kafkaSplitId(tp)) ?? -1;
        offset = c >= low && c <= high ? c : pick(start.committed.fallback);
      } else if ("timestamp" in start) {
        const o = offsetOf.get(kafkaSplitId(tp)) ?? -1;
        offset = o >= 0 ? o : high;
      } else {
        // An offset the partition no longer (or does not yet) have starts at the fallback, as
        // Flink's consumer resets an offset out of range.
        const o = start.specific[kafkaSplitId(tp)] ?? offsetOf.get(kafkaSplitId(tp)) ?? -1;
        offset = o >= low && o <= high ? o : pick(start.fallback);
      }
      return { ...tp, offset, ...(this.#options.bounded ? { stop: high } : {}) };
    });
  }

  /** Closes the client after the call in flight. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#inFlight;
    await this.#consumer?.close();
    this.#consumer = undefined;
  }
}
