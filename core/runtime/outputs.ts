/**
 * Operator outputs: a fan-out to chained operators (direct synchronous calls)
 * and to channel writers, which batch records per downstream channel and pick
 * channels by partitioning. A record's key is serialized once, into a reused
 * buffer, to find its key group; a short ASCII string key under the string or
 * the default key serializer is hashed straight from its chars, as the bytes
 * those serializers write, and its key tables' hash (`stringKeyHash`) is
 * computed in the same pass. The key group and that hash travel with the
 * record in its batch (`RecordBatch.routedKeys`), so the receiving subtask's
 * state backend does not hash the key again.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { ByteWriter } from "../state/bytes.ts";
import {
  asciiKeyGroup,
  f64KeyGroup,
  i32KeyGroup,
  keyGroupOfBytes,
  subtaskForKeyGroup,
} from "../state/key_group.ts";
import { tableHash } from "../state/_key_table.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import type { OutputChannel } from "./channel.ts";
import type { Partitioning } from "./graph.ts";
import { type ChannelMessage, MessageKind, recordArray } from "./messages.ts";
import type { Output, StreamOperator } from "./operator.ts";
import { ownFunction } from "./_own_function.ts";

/**
 * Most records in a batch sent down a channel (fewer where the channel holds
 * fewer than twice as many: see `ChannelWriter`): a full batch goes at once,
 * a partial one when its task waits or yields (`Task`). Each batch costs a
 * message, and across workers a ring frame and a wake-up of the consumer; a
 * keyed edge over N channels fills each one N times slower than its producer
 * emits, so a batch spans several source polls.
 */
export const BATCH_SIZE = 4096;

/** Records into and out of one operator subtask (the admin API's per-operator counts). */
export interface OperatorCounters {
  /** Records the operator received. */
  recordsIn: number;
  /** Records the operator emitted (main and side outputs). */
  recordsOut: number;
  /** The last watermark the operator emitted (its output watermark); -Infinity before one. */
  watermark: number;
  /** Event timestamp of the last record emitted that had one (NaN before one). */
  lastTimestamp: number;
}

/** Fresh zeroed counters. */
export function newCounters(): OperatorCounters {
  return { recordsIn: 0, recordsOut: 0, watermark: -Infinity, lastTimestamp: NaN };
}

/** A place records go: a chained operator's input or a channel writer. */
export interface Target {
  /** Receives a record. */
  collect(value: unknown, timestamp: number | undefined): void;
  /** Receives a watermark. */
  emitWatermark(timestamp: number): void;
}

/**
 * The function a producer's output calls to hand a record to the one operator chained after it:
 * counts the record out of the producer (into `out`, as `FanOutput` does) and into the operator
 * (`into`), and calls the operator, compiled for this link alone (see `ownFunction`): a `collect`
 * shared by every link of a thread would make each record's `processElement` a generic lookup and
 * call past four operator classes. An operator whose `processElement` is its own (map, filter,
 * flatMap, process: see operators.ts) calls only its own link, so a chain of them is inlined into
 * its source's loop.
 */
function chainLink(
  out: OperatorCounters,
  into: OperatorCounters,
  op: StreamOperator,
  input: number,
): (value: unknown, timestamp: number | undefined) => void {
  return ownFunction(
    "link",
    { out, into, op, input },
    "value, timestamp",
    `
      out.recordsOut++;
      if (timestamp !== undefined) out.lastTimestamp = timestamp;
      into.recordsIn++;
      op.processElement(value, timestamp, input);
    `,
  );
}

/** Feeds a chained operator. */
export class ChainedTarget implements Target {
  readonly #op: StreamOperator;
  readonly #input: number;
  readonly #counters: OperatorCounters;
  /** Feeds `op` as its input `input`, counting into `counters`. */
  constructor(op: StreamOperator, input: number, counters: OperatorCounters = newCounters()) {
    this.#op = op;
    this.#input = input;
    this.#counters = counters;
  }
  /** Calls the operator directly. */
  collect(value: unknown, timestamp: number | undefined): void {
    this.#counters.recordsIn++;
    this.#op.processElement(value, timestamp, this.#input);
  }
  /** For an output that feeds only this operator: its `collect`, compiled (see `chainLink`). */
  compiled(out: OperatorCounters): (value: unknown, timestamp: number | undefined) => void {
    return chainLink(out, this.#counters, this.#op, this.#input);
  }
  /** Passes the watermark on (the task already combined inputs). */
  emitWatermark(timestamp: number): void {
    this.#op.processWatermark(timestamp);
  }
}

/** Key tags of a string and a number in `Serializers.key`'s format. */
const KEY_STRING_TAG = 1;
const KEY_NUMBER_TAG = 2;

/**
 * The key group of a key, and where a string key's table hash goes (see {@linkcode keyGrouper}).
 */
export type KeyGrouper = (key: unknown, stringHash: Int32Array) => number;

/**
 * The key group among `maxParallelism` of a key: of the murmur3 hash of its
 * serialized bytes. Strings of fewer than 128 ASCII chars under
 * `Serializers.string` (`varint length | chars`) or `Serializers.key`
 * (`tag 1 | varint length | chars`) are hashed from their chars: the same
 * bytes, none written. It also sets `stringHash[0]` to a string key's hash in
 * the key tables (`stringKeyHash`; for those strings from the same pass over
 * the chars), and to 0 for a key the tables find without one (`tableHash`:
 * not a string, or longer than the tables hash, unless hashed in that pass).
 */
export function keyGrouper(
  keySerializer: Serializer<unknown>,
  maxParallelism: number,
): KeyGrouper {
  let bySize = groupers.get(keySerializer);
  if (bySize === undefined) groupers.set(keySerializer, bySize = new Map());
  let f = bySize.get(maxParallelism);
  if (f === undefined) bySize.set(maxParallelism, f = newKeyGrouper(keySerializer, maxParallelism));
  return f;
}

/**
 * One function per serializer and key group count in a thread: every writer of a keyed edge
 * calls the same one, so V8 inlines it into `ChannelWriter.collect` (a closure per writer would
 * be a call each).
 */
const groupers = new WeakMap<Serializer<unknown>, Map<number, KeyGrouper>>();

function newKeyGrouper(
  keySerializer: Serializer<unknown>,
  maxParallelism: number,
): KeyGrouper {
  const w = new ByteWriter(64);
  const serialized = (key: unknown, stringHash: Int32Array) => {
    w.reset();
    keySerializer.write(key, w);
    stringHash[0] = tableHash(key);
    return keyGroupOfBytes(w.buf, maxParallelism, w.length);
  };
  // Numbers: their bytes hashed as written, without the writer (what the serializer refuses
  // goes to it, to be refused).
  if (keySerializer === (Serializers.f64 as Serializer<unknown>)) {
    return (key, stringHash) => {
      if (typeof key !== "number") return serialized(key, stringHash);
      stringHash[0] = 0;
      // -0 is the key 0, as === (and the state backends) say.
      return f64KeyGroup(key === 0 ? 0 : key, maxParallelism, -1);
    };
  }
  if (keySerializer === (Serializers.i32 as Serializer<unknown>)) {
    return (key, stringHash) => {
      if (typeof key !== "number" || (key | 0) !== key) return serialized(key, stringHash);
      stringHash[0] = 0;
      return i32KeyGroup(key, maxParallelism);
    };
  }
  const tagged = keySerializer === Serializers.key;
  if (!tagged && keySerializer !== (Serializers.string as Serializer<unknown>)) return serialized;
  return (key, stringHash) => {
    if (typeof key === "string" && key.length < 0x80) {
      const g = tagged
        ? asciiKeyGroup(key, maxParallelism, 2, KEY_STRING_TAG, key.length, stringHash)
        : asciiKeyGroup(key, maxParallelism, 1, key.length, 0, stringHash);
      if (g >= 0) return g;
    }
    // Serializers.key writes -0 as 0: one key, as === says.
    if (tagged && typeof key === "number") {
      stringHash[0] = 0;
      return f64KeyGroup(key === 0 ? 0 : key, maxParallelism, KEY_NUMBER_TAG);
    }
    return serialized(key, stringHash);
  };
}

/** Records a batch's routed keys have room for at first, at least (they double when full). */
const MIN_ROUTED_KEYS = 64;

/** Batches records into the channels of one edge. */
export class ChannelWriter implements Target {
  readonly channels: readonly OutputChannel[];
  /** Per channel, the batch being filled: its first `#counts[c]` slots (it may have more). */
  readonly #values: unknown[][];
  readonly #counts: Int32Array;
  readonly #timestamps: ((number | undefined)[] | null)[];
  readonly #select: (value: unknown) => number;
  /**
   * A keyed edge over several channels: each record's key is hashed to its key group, which
   * picks its channel. Fields, not a closure per writer, so `collect` inlines them.
   */
  readonly #keySelector: ((value: unknown) => unknown) | null = null;
  readonly #keyGroup: KeyGrouper | null = null;
  readonly #channelOf: Uint16Array | null = null;
  /** Where the key grouper leaves a string key's table hash. */
  readonly #stringHash = new Int32Array(1);
  /**
   * Per channel, the key group and table hash of each record batched (keyed edges over several
   * channels; `RecordBatch.routedKeys`): null until the batch's first record. One array, not
   * one of each: a second array to look up a record cost more than both stores.
   */
  readonly #routedKeys: (Int32Array | null)[];
  readonly #broadcast: boolean;
  readonly #batchSize: number;
  /** Records written, for metrics. */
  recordsOut = 0;

  /**
   * Writes to `channels` by `partitioning`; `subtaskIndex` seeds round-robin.
   * A batch holds at most `batchSize` records: the job gives half its
   * channels' capacity where that is smaller than {@linkcode BATCH_SIZE}, so
   * a small capacity still bounds what waits for a slow consumer (a channel
   * holds its capacity and the batch that filled it).
   */
  constructor(
    channels: OutputChannel[],
    partitioning: Partitioning,
    subtaskIndex: number,
    maxParallelism: number,
    batchSize: number = BATCH_SIZE,
  ) {
    this.channels = channels;
    this.#batchSize = batchSize;
    this.#values = channels.map(() => recordArray(0));
    this.#counts = new Int32Array(channels.length);
    this.#timestamps = channels.map(() => null);
    this.#routedKeys = channels.map(() => null);
    this.#broadcast = partitioning.kind === "broadcast";
    const n = channels.length;
    switch (partitioning.kind) {
      case "forward":
      case "global":
      case "broadcast":
        this.#select = () => 0;
        break;
      case "shuffle":
        this.#select = () => Math.floor(Math.random() * n);
        break;
      case "custom": {
        const { partitioner, keySelector } = partitioning;
        this.#select = (value) => {
          const c = partitioner(keySelector(value), n);
          if (!Number.isInteger(c) || c < 0 || c >= n) {
            throw new ConfigError(
              `partitionCustom: the partitioner returned ${c} for ${n} partitions; it must ` +
                `return an integer from 0 to ${n - 1}`,
            );
          }
          return c;
        };
        break;
      }
      // Rescale: the plan gives this producer subtask only its subset of channels.
      case "rescale":
      case "rebalance": {
        let next = subtaskIndex % n;
        this.#select = () => {
          const c = next;
          next = next + 1 === n ? 0 : next + 1;
          return c;
        };
        break;
      }
      case "hash": {
        // One channel takes every key: no key to serialize and hash per record (the receiver's
        // state backend hashes it if it needs the key group).
        this.#select = () => 0;
        if (n === 1) break;
        const { keySelector, keySerializer } = partitioning;
        // The channel of each key group, looked up: no division per record.
        const channelOf = this.#channelOf = new Uint16Array(maxParallelism);
        for (let g = 0; g < maxParallelism; g++) {
          channelOf[g] = subtaskForKeyGroup(g, maxParallelism, n);
        }
        this.#keyGroup = keyGrouper(keySerializer, maxParallelism);
        this.#keySelector = keySelector;
        break;
      }
    }
  }

  /** Buffers a record for its channel(s). */
  collect(value: unknown, timestamp: number | undefined): void {
    this.recordsOut++;
    if (this.#keySelector !== null) {
      const key = this.#keySelector(value);
      const g = this.#keyGroup!(key, this.#stringHash);
      const c = this.#channelOf![g]!;
      // Below the batch size: full batches flush.
      const n = this.#counts[c]!;
      let routed = this.#routedKeys[c] as Int32Array | null;
      if (routed === null || 2 * n === routed.length) routed = this.#roomForRoutedKey(c, n);
      routed[2 * n] = g;
      routed[2 * n + 1] = this.#stringHash[0]!;
      this.#append(c, value, timestamp);
    } else if (this.#broadcast) {
      for (let c = 0; c < this.channels.length; c++) this.#append(c, value, timestamp);
    } else {
      this.#append(this.#select(value), value, timestamp);
    }
  }

  /**
   * Channel `c`'s routed keys with room for its batch's record `n`. Made with a batch's first
   * record (a writer of p channels, one of p writers to an edge of parallelism p, makes none
   * for the channels its records never reach), with room for as many records as the channel's
   * values array has before its first record, the last batch's count (batches flushed early, a
   * trickle of records, get small ones: a typed array is an allocation outside the JS heap,
   * zeroed), and doubled when full.
   */
  #roomForRoutedKey(c: number, n: number): Int32Array {
    const full = this.#routedKeys[c] as Int32Array | null;
    const records = Math.min(
      full === null ? Math.max(this.#values[c]!.length, MIN_ROUTED_KEYS) : 2 * n,
      this.#batchSize,
    );
    const routed = new Int32Array(2 * records);
    if (full !== null) routed.set(full);
    return this.#routedKeys[c] = routed;
  }

  #append(c: number, value: unknown, timestamp: number | undefined): void {
    const n = this.#counts[c]!;
    let ts = this.#timestamps[c]!;
    if (timestamp !== undefined && ts === null) {
      ts = this.#timestamps[c] = new Array(n).fill(undefined);
    }
    // Stores within the batch's array and appends past its end at separate sites: V8 makes a
    // site that sees both for one array map megamorphic (a generic store per record).
    const values = this.#values[c]!;
    if (n < values.length) values[n] = value;
    else values.push(value);
    if (ts !== null) ts.push(timestamp);
    this.#counts[c] = n + 1;
    if (n + 1 >= this.#batchSize) this.#flushChannel(c);
  }

  #flushChannel(c: number): void {
    const n = this.#counts[c]!;
    if (n === 0) return;
    const values = this.#values[c]!;
    if (values.length > n) values.length = n;
    const routedKeys = this.#routedKeys[c]!;
    this.channels[c]!.push({
      kind: MessageKind.Records,
      values,
      timestamps: this.#timestamps[c]!,
      routedKeys: routedKeys === null ? null : routedKeys.subarray(0, 2 * n),
      sentAt: performance.now(),
    });
    // The next batch likely fills as this one did: room for as many records up front saves
    // growing the array record by record, and a trickle of records gets small arrays.
    this.#values[c] = recordArray(n);
    this.#counts[c] = 0;
    this.#timestamps[c] = null;
    this.#routedKeys[c] = null;
  }

  /** Sends every partial batch. */
  flush(): void {
    for (let c = 0; c < this.channels.length; c++) this.#flushChannel(c);
  }

  /** Sends a control message to every channel, after the records before it. */
  broadcastEvent(msg: ChannelMessage): void {
    this.flush();
    for (const ch of this.channels) ch.push(msg);
  }

  /** Sends the watermark to every channel. */
  emitWatermark(timestamp: number): void {
    this.broadcastEvent({ kind: MessageKind.Watermark, timestamp });
  }

  /** Whether some channel is full. */
  isFull(): boolean {
    for (const ch of this.channels) if (!ch.hasSpace()) return true;
    return false;
  }

  /** Resolves once every channel has space. */
  async waitForSpace(): Promise<void> {
    for (const ch of this.channels) if (!ch.hasSpace()) await ch.waitForSpace();
  }
}

/**
 * An operator's output: the main targets, and per side output tag its own.
 * Watermarks go to main and side targets alike.
 */
export class FanOutput implements Output<unknown> {
  readonly #main: Target[];
  readonly #side: Map<string, Target[]>;
  readonly #all: Target[];
  readonly #single: Target | undefined;
  readonly #counters: OperatorCounters;

  /** Creates the output; emitted records are counted into `counters`. */
  constructor(
    main: Target[],
    side: Map<string, Target[]>,
    counters: OperatorCounters = newCounters(),
  ) {
    this.#counters = counters;
    this.#main = main;
    this.#side = side;
    this.#all = [...new Set([...main, ...[...side.values()].flat()])];
    this.#single = main.length === 1 ? main[0] : undefined;
    this.collect = this.#single instanceof ChainedTarget
      ? this.#single.compiled(counters)
      : this.#emit;
  }

  /** Emits to every main target: one chained operator through its compiled link. */
  readonly collect: (value: unknown, timestamp: number | undefined) => void;

  #emit(value: unknown, timestamp: number | undefined): void {
    const c = this.#counters;
    c.recordsOut++;
    if (timestamp !== undefined) c.lastTimestamp = timestamp;
    const single = this.#single;
    if (single !== undefined) single.collect(value, timestamp);
    else for (const t of this.#main) t.collect(value, timestamp);
  }

  /** Emits to the targets of side output `tagId` (dropped if nobody reads it). */
  collectSide(tagId: string, value: unknown, timestamp: number | undefined): void {
    this.#counters.recordsOut++;
    const ts = this.#side.get(tagId);
    if (ts) { for (const t of ts) t.collect(value, timestamp); }
  }

  /** Forwards a watermark to every target. */
  emitWatermark(timestamp: number): void {
    this.#counters.watermark = timestamp;
    for (const t of this.#all) t.emitWatermark(timestamp);
  }
}
