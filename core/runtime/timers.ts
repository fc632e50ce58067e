/**
 * Timers of keyed operators: one timer per key, namespace and timestamp, fired
 * in timestamp order with the timer's key made current. Event-time timers fire
 * when the watermark passes them, processing-time timers when the job's clock
 * does.
 *
 * Timers are checkpointed as raw entries of the operator's keyed backend
 * (under a reserved state id), and a restored service rebuilds its queues
 * from the key groups it owns:
 *
 * ```
 * keyGroup (u16 BE) | 0xfff1 event / 0xfff2 processing (u16 BE) | timestamp (8 bytes, order-preserving) | key | namespace
 * ```
 *
 * The entry's value is the timer's registration sequence number: timers with
 * the same timestamp fire in registration order, after a restore too.
 *
 * On the heap backend (`takeRawEntries`) the service owns its entries: a full
 * snapshot's synchronous part copies the queues' bucket arrays (references
 * only: a queued timer never changes but for being marked removed, with the
 * snapshot epoch it left in), and its asynchronous part serializes them. A
 * delta's synchronous part takes the list of timers registered since the
 * last snapshot instead (its cost follows the interval's registrations, not
 * the queues' size), and its asynchronous part serializes those still queued,
 * with deletes of the snapshotted ones that left. As in Flink's heap priority
 * queue snapshot, the task stops for a copy, not for serialization.
 * A restore decodes the entries and bulk-loads the queues: buckets
 * unindexed, the heap of buckets built at once.
 *
 * Other backends with `onSnapshot` (LSM) call the service at the start of
 * every snapshot, and only then are the timers registered since the last
 * snapshot written (a timer that fires before the next checkpoint never
 * touches the backend: windows' timers mostly do); a fired or deleted timer
 * whose entry was written is deleted from the backend at once. So that the
 * snapshot's synchronous part does not grow with the timers registered in a
 * checkpoint interval (a session timeout per key of millions), the service
 * keeps those in registration order and, once more than
 * `MAX_UNWRITTEN_TIMERS` wait, writes the oldest still queued at once: a
 * timer that old is likely to outlive the interval, as Flink's RocksDB
 * backend writes every timer. Not before the first snapshot (it scans the
 * queues): a job that takes none writes no timer and lists none. Backends
 * with neither get every timer written through.
 *
 * @module
 */
import { ByteReader, ByteWriter } from "../state/bytes.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import { keyGroupOfBytes } from "../state/key_group.ts";
import type { Serializer } from "../state/serializer.ts";
import { MAX_USER_STATE_ID } from "../state/state_keys.ts";
import type { SegmentBatch } from "../../statestore-as/segment_batch.ts";
import { checkEventTime } from "../time/_event_time_value.ts";

/**
 * Time domain of a timer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeyedProcessFunction, ManualClock, type TimeDomain } from "@weir/weir";
 * import { KeyedProcessFunctionHarness } from "@weir/weir/testing";
 * const domains: TimeDomain[] = [];
 * const fn: KeyedProcessFunction<string, string, never> = {
 *   processElement(_v, ctx) { ctx.timerService().registerProcessingTimeTimer(10); },
 *   onTimer(_t, ctx) { domains.push(ctx.timeDomain()); },
 * };
 * const h = await KeyedProcessFunctionHarness.create(fn, (s: string) => s, { clock: new ManualClock(0) });
 * h.processElement("k");
 * h.setProcessingTime(10);
 * assert.deepEqual(domains, ["processing-time"]);
 * ```
 */
export type TimeDomain = "event-time" | "processing-time";

/** Reserved state id of event-time timers in store keys. */
export const EVENT_TIMERS_STATE_ID = MAX_USER_STATE_ID + 1;
/** Reserved state id of processing-time timers in store keys. */
export const PROCESSING_TIMERS_STATE_ID = MAX_USER_STATE_ID + 2;

/**
 * Timers an `onSnapshot` backend's snapshot writes at most, about: the bound
 * on what timers add to its synchronous part (see the module's comment).
 */
export const MAX_UNWRITTEN_TIMERS = 16_384;

/** Bytes before the key in a timer's store key: key group, state id, timestamp. */
const TIMER_HEADER_BYTES = 12;

/** The key identity of a timer that is not indexed (`registerNewEventTimeTimer`). */
const UNINDEXED: unique symbol = Symbol("unindexed");

/** A registered timer. */
export interface Timer<N = unknown> {
  /** When it fires. */
  readonly timestamp: number;
  /** The key that is current when it fires. */
  readonly key: unknown;
  /** The namespace (a window, or undefined). */
  readonly namespace: N;
}

/** A queued timer. A class (not object literals) so V8 sees one shape. */
class QueuedTimer<N> implements Timer<N> {
  readonly timestamp: number;
  readonly key: unknown;
  readonly namespace: N;
  /** Registration order (stored as the entry's value, so it survives restore). */
  readonly seq: number;
  /** The key's identity in the queue's index (the key itself when primitive). */
  readonly keyId: unknown;
  /** The namespace's identity in the queue's index. */
  readonly nsId: unknown;
  /** Fired or deleted. */
  dead = false;
  /** The service's snapshot epoch when it fired or was deleted (-1: dropped as a duplicate). */
  removedIn = Infinity;
  /**
   * The service's snapshot epoch when the timer was queued: a snapshot taken
   * since (a later epoch) holds its entry. -1: held from the start (restored,
   * or written through, early ones included).
   */
  epoch: number;
  constructor(
    timestamp: number,
    key: unknown,
    namespace: N,
    seq: number,
    keyId: unknown,
    nsId: unknown,
    epoch: number,
  ) {
    this.timestamp = timestamp;
    this.key = key;
    this.namespace = namespace;
    this.seq = seq;
    this.keyId = keyId;
    this.nsId = nsId;
    this.epoch = epoch;
  }
}

/** The timers of one timestamp, in registration order, indexed by namespace and key. */
class Bucket<N> {
  readonly timestamp: number;
  readonly timers: QueuedTimer<N>[] = [];
  /**
   * The bucket's timers by namespace identity, then key identity (fired ones
   * stay until drained); undefined until first needed after a bulk load.
   */
  byNs: Map<unknown, Map<unknown, QueuedTimer<N>>> | undefined = new Map();
  /** Timers before `head` have been popped. */
  head = 0;
  /** False when a restored timer arrived out of registration order. */
  sorted = true;
  /** Drained and dropped from the queue. */
  gone = false;
  constructor(timestamp: number) {
    this.timestamp = timestamp;
  }
}

/**
 * Timers by timestamp: a bucket per distinct timestamp (timers of one
 * timestamp fire in registration order, which is append order), a min-heap
 * of buckets, and in each bucket an index by (namespace, key) to deduplicate
 * and delete. A popped timer is only marked dead: its bucket, index included,
 * is dropped once drained. A deleted timer leaves the index and is skipped
 * when its bucket drains.
 */
class TimerQueue<N> {
  readonly #buckets = new Map<number, Bucket<N>>();
  readonly #heap: Bucket<N>[] = [];
  #size = 0;
  /** The bucket `append` used last (elements of one window register in a row). */
  #lastAppended: Bucket<N> | undefined;

  get size(): number {
    return this.#size;
  }

  find(nsId: unknown, keyId: unknown, ts: number): QueuedTimer<N> | undefined {
    const b = this.#buckets.get(ts);
    if (b === undefined) return undefined;
    const t = this.#index(b).get(nsId)?.get(keyId);
    return t === undefined || t.dead ? undefined : t;
  }

  /**
   * The bucket's index, built on first use after a bulk load: a second live
   * timer of one namespace, key and timestamp (the later registered) is dropped.
   */
  #index(b: Bucket<N>): Map<unknown, Map<unknown, QueuedTimer<N>>> {
    if (b.byNs !== undefined) return b.byNs;
    const byNs = b.byNs = new Map();
    if (!b.sorted) this.#sortBucket(b);
    const timers = b.timers;
    for (let i = b.head; i < timers.length; i++) {
      const t = timers[i]!;
      if (t.dead || t.keyId === UNINDEXED) continue;
      let byKey = byNs.get(t.nsId);
      if (byKey === undefined) byNs.set(t.nsId, byKey = new Map());
      if (byKey.has(t.keyId)) {
        t.dead = true;
        t.removedIn = -1;
        this.#size--;
      } else byKey.set(t.keyId, t);
    }
    return byNs;
  }

  /** Adds `t` unless a live timer of its namespace, key and timestamp is queued. */
  add(t: QueuedTimer<N>): boolean {
    let b = this.#buckets.get(t.timestamp);
    if (b === undefined) {
      b = new Bucket<N>(t.timestamp);
      this.#buckets.set(t.timestamp, b);
      this.#push(b);
    }
    const byNs = this.#index(b);
    let byKey = byNs.get(t.nsId);
    if (byKey === undefined) byNs.set(t.nsId, byKey = new Map());
    const old = byKey.get(t.keyId);
    if (old !== undefined && !old.dead) return false;
    byKey.set(t.keyId, t);
    const timers = b.timers;
    if (timers.length > b.head && timers[timers.length - 1]!.seq > t.seq) b.sorted = false;
    timers.push(t);
    this.#size++;
    return true;
  }

  /**
   * Adds restored timers in O(n): into their buckets unindexed (the index of
   * a bucket is built when first needed), then the heap of buckets is built
   * at once rather than by a push per bucket.
   */
  bulkLoad(timers: readonly QueuedTimer<N>[]): void {
    const h = this.#heap;
    let b: Bucket<N> | undefined;
    for (const t of timers) {
      if (b === undefined || b.timestamp !== t.timestamp) {
        b = this.#buckets.get(t.timestamp);
        if (b === undefined) {
          b = new Bucket<N>(t.timestamp);
          b.byNs = undefined;
          this.#buckets.set(t.timestamp, b);
          h.push(b);
        }
      }
      const bt = b.timers;
      if (bt.length > b.head && bt[bt.length - 1]!.seq > t.seq) b.sorted = false;
      bt.push(t);
      b.byNs = undefined; // a bucket of earlier timers too: indexed again when needed
    }
    this.#size += timers.length;
    for (let i = (h.length >> 1) - 1; i >= 0; i--) this.#siftDown(i, h[i]!);
  }

  /** Adds `t` without looking for a duplicate and without indexing it (it cannot be found or deleted). */
  append(t: QueuedTimer<N>): void {
    let b = this.#lastAppended;
    if (b === undefined || b.gone || b.timestamp !== t.timestamp) {
      b = this.#buckets.get(t.timestamp);
      if (b === undefined) {
        b = new Bucket<N>(t.timestamp);
        this.#buckets.set(t.timestamp, b);
        this.#push(b);
      }
      this.#lastAppended = b;
    }
    b.timers.push(t);
    this.#size++;
  }

  /** Deletes a queued timer: out of the index, skipped when its bucket drains. */
  remove(t: QueuedTimer<N>): void {
    t.dead = true;
    this.#size--;
    const byNs = this.#buckets.get(t.timestamp)!.byNs!;
    const byKey = byNs.get(t.nsId)!;
    byKey.delete(t.keyId);
    if (byKey.size === 0) byNs.delete(t.nsId);
  }

  #sortBucket(b: Bucket<N>): void {
    const rest = b.timers.slice(b.head).sort((x, y) => x.seq - y.seq);
    b.timers.length = b.head;
    for (const t of rest) b.timers.push(t);
    b.sorted = true;
  }

  peek(): QueuedTimer<N> | undefined {
    const h = this.#heap;
    while (h.length > 0) {
      const b = h[0]!;
      if (!b.sorted) this.#sortBucket(b);
      const timers = b.timers;
      while (b.head < timers.length && timers[b.head]!.dead) b.head++;
      if (b.head < timers.length) return timers[b.head];
      this.#buckets.delete(b.timestamp);
      b.gone = true;
      this.#popTop();
    }
    return undefined;
  }

  /** Takes the first timer out (it stays in its bucket's index, dead, until the bucket drains). */
  pop(): QueuedTimer<N> | undefined {
    const t = this.peek();
    if (t !== undefined) {
      const b = this.#heap[0]!;
      b.timers[b.head++] = undefined as unknown as QueuedTimer<N>; // let it be collected
      t.dead = true;
      this.#size--;
    }
    return t;
  }

  /** Calls `fn` for every queued timer. */
  forEachLive(fn: (t: QueuedTimer<N>) => void): void {
    for (const b of this.#buckets.values()) {
      const timers = b.timers;
      for (let i = b.head; i < timers.length; i++) if (!timers[i]!.dead) fn(timers[i]!);
    }
  }

  /**
   * The buckets' timers from their heads: queued ones and deleted ones,
   * copied without reading them (see `InternalTimerService.#capture`).
   */
  slots(): QueuedTimer<N>[][] {
    const out: QueuedTimer<N>[][] = [];
    for (const b of this.#buckets.values()) out.push(b.timers.slice(b.head));
    return out;
  }

  all(): QueuedTimer<N>[] {
    const out: QueuedTimer<N>[] = [];
    for (const b of this.#buckets.values()) {
      for (let i = b.head; i < b.timers.length; i++) if (!b.timers[i]!.dead) out.push(b.timers[i]!);
    }
    return out.sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
  }

  #push(b: Bucket<N>): void {
    const h = this.#heap;
    h.push(b);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.timestamp <= b.timestamp) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = b;
  }

  #popTop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length > 0) this.#siftDown(0, last);
  }

  /** Puts `last` at `i` or below, where the heap order holds. */
  #siftDown(i: number, last: Bucket<N>): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = last.timestamp, mi = -1;
      if (l < h.length && h[l]!.timestamp < m) m = h[mi = l]!.timestamp;
      if (r < h.length && h[r]!.timestamp < m) mi = r;
      if (mi < 0) break;
      h[i] = h[mi]!;
      i = mi;
    }
    h[i] = last;
  }
}

/** Where fired timers go. */
export interface TimerTarget<N> {
  /** A timer fired; its key is current. */
  onTimer(timer: Timer<N>, domain: TimeDomain): void;
}

/** What the timer service needs from its task. */
export interface TimerHost {
  /** Current processing time. */
  now(): number;
  /** Calls `fire` (on the task, between batches) once processing time reaches `at`. */
  scheduleProcessingTime(at: number, fire: () => void): () => void;
  /** Makes `key` current before a timer fires. */
  setCurrentKey(key: unknown): void;
  /** The current key when a timer is registered. */
  currentKey(): unknown;
  /**
   * The operator's keyed backend: timers are stored in it (and so
   * checkpointed) and restored from it. Without one, timers live in memory only.
   */
  readonly backend?: KeyedStateBackend;
  /** The number of key groups (needed with `backend`). */
  readonly maxParallelism?: number;
}

/**
 * Writes `ts` as 8 bytes whose unsigned byte order is the numeric order
 * (IEEE-754 with the sign bit flipped, all bits for negatives).
 */
function writeOrderedF64(w: ByteWriter, ts: number): void {
  const at = w.length;
  w.writeF64(ts === 0 ? 0 : ts); // -0 sorts as 0
  const b = w.buf;
  if (b[at]! & 0x80) { for (let i = at; i < at + 8; i++) b[i] = ~b[i]! & 0xff; }
  else b[at] = b[at]! | 0x80;
}

/** Scratch for `readOrderedF64`: no allocation per timer. */
const F64 = new DataView(new ArrayBuffer(8));

function readOrderedF64(b: Uint8Array, at: number): number {
  if (b[at]! & 0x80) {
    F64.setUint8(0, b[at]! & 0x7f);
    for (let i = 1; i < 8; i++) F64.setUint8(i, b[at + i]!);
  } else for (let i = 0; i < 8; i++) F64.setUint8(i, ~b[at + i]! & 0xff);
  return F64.getFloat64(0);
}

/** A varint at the start of `b` (as `ByteReader.readVarUint`, without a reader). */
function readVarUint(b: Uint8Array): number {
  let result = 0, mul = 1;
  for (let i = 0; i < 8 && i < b.length; i++) {
    const x = b[i]!;
    result += (x & 0x7f) * mul;
    if (x < 0x80) return result;
    mul *= 0x80;
  }
  return new ByteReader(b).readVarUint(); // throws the reader's error
}

/** Bytes as a string of char codes 0-255: a Map key with value semantics. */
function latin1(b: Uint8Array, from = 0): string {
  let s = "";
  for (let i = from; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** Marks identities built from serialized bytes (never a latin1 char). */
const BYTES_ID = "\uffff";

/** How many object identities a service remembers (cleared when full). */
const IDENTITY_CACHE_SIZE = 1024;

/**
 * The timers of one keyed operator subtask (one service per operator: its
 * timers use the operator backend's reserved timer state ids).
 */
export class InternalTimerService<N = undefined> {
  readonly #host: TimerHost;
  readonly #target: TimerTarget<N>;
  readonly #keySerializer: Serializer<unknown>;
  readonly #nsSerializer: Serializer<N> | undefined;
  readonly #backend: KeyedStateBackend | undefined;
  readonly #maxParallelism: number;
  readonly #event = new TimerQueue<N>();
  readonly #processing = new TimerQueue<N>();
  readonly #writer = new ByteWriter();
  readonly #idWriter = new ByteWriter();
  readonly #valueWriter = new ByteWriter(16);
  /** Write every timer to the backend at once (the backend has no `onSnapshot`). */
  readonly #writeThrough: boolean;
  /** The backend's snapshots capture the queues (`takeRawEntries`): nothing is written to it. */
  #captured = false;
  /** Snapshots taken (captures, or flushes of new timers): see `QueuedTimer.epoch`. */
  #epoch = 0;
  /** Queued timers registered since the last snapshot. */
  #unwritten = 0;
  /**
   * `onSnapshot` backends: the timers registered since the last snapshot, oldest first from
   * `#pendingHead` (fired and deleted ones too, skipped when met), and which queue each is in.
   */
  #pending: (QueuedTimer<N> | undefined)[] = [];
  #pendingEvent: boolean[] = [];
  #pendingHead = 0;
  /**
   * `takeRawEntries` backends: the timers queued since the last capture (fired and deleted ones
   * too), so that a delta's capture takes these rather than copying every queued timer;
   * undefined once they outnumber the queues (the capture then copies those).
   */
  #freshEvent: QueuedTimer<N>[] | undefined = [];
  #freshProcessing: QueuedTimer<N>[] | undefined = [];
  /** Timers the last capture copied (references). */
  #capturedCount = 0;
  /** Timers a snapshot held that fired or were deleted since the last capture: a delta deletes them. */
  #removedEvent: QueuedTimer<N>[] = [];
  #removedProcessing: QueuedTimer<N>[] = [];
  /** Namespace objects seen lately, with their identity (namespaces are immutable). */
  readonly #nsIds = new Map<unknown, unknown>();
  #seq = 0;
  #watermark = -Infinity;
  #scheduledAt = Infinity;
  #cancelScheduled: (() => void) | null = null;

  /**
   * Creates the service; with a backend in `host`, loads the timers the
   * backend holds (a restored job's), and schedules the processing-time ones.
   */
  constructor(
    host: TimerHost,
    target: TimerTarget<N>,
    keySerializer: Serializer<unknown>,
    namespaceSerializer?: Serializer<N>,
  ) {
    this.#host = host;
    this.#target = target;
    this.#keySerializer = keySerializer;
    this.#nsSerializer = namespaceSerializer;
    this.#backend = host.backend;
    this.#maxParallelism = host.maxParallelism ?? 128;
    const backend = this.#backend;
    this.#writeThrough = backend !== undefined && typeof backend.onSnapshot !== "function" &&
      typeof backend.takeRawEntries !== "function";
    if (backend) {
      let restored: Iterable<[Uint8Array, Uint8Array]>;
      if (typeof backend.takeRawEntries === "function") {
        this.#captured = true;
        restored = backend.takeRawEntries([EVENT_TIMERS_STATE_ID, PROCESSING_TIMERS_STATE_ID], {
          count: () => this.#event.size + this.#processing.size,
          changes: () =>
            this.#unwritten + this.#removedEvent.length + this.#removedProcessing.length,
          capture: (full) => this.#capture(full),
        });
      } else {
        backend.onSnapshot?.(() => this.#writeUnwritten());
        restored = this.#scan();
      }
      this.#load(restored);
      this.#reschedule();
    }
  }

  /** The backend's timer entries, by key group. */
  *#scan(): Iterable<[Uint8Array, Uint8Array]> {
    const backend = this.#backend!;
    const { start, end } = backend.keyGroupRange;
    const lo = new Uint8Array(4), hi = new Uint8Array(4);
    for (let kg = start; kg <= end; kg++) {
      lo[0] = hi[0] = kg >>> 8;
      lo[1] = hi[1] = kg & 0xff;
      lo[2] = EVENT_TIMERS_STATE_ID >>> 8;
      lo[3] = EVENT_TIMERS_STATE_ID & 0xff;
      hi[2] = (PROCESSING_TIMERS_STATE_ID + 1) >>> 8;
      hi[3] = (PROCESSING_TIMERS_STATE_ID + 1) & 0xff;
      yield* backend.rawScan(lo, hi);
    }
  }

  /** Decodes restored entries and bulk-loads the queues (O(n), not a heap insert per timer). */
  #load(entries: Iterable<[Uint8Array, Uint8Array]>): void {
    const event: QueuedTimer<N>[] = [], processing: QueuedTimer<N>[] = [];
    const keySer = this.#keySerializer, nsSer = this.#nsSerializer;
    let maxSeq = this.#seq - 1;
    for (const [k, v] of entries) {
      const timestamp = readOrderedF64(k, 4);
      const r = new ByteReader(k);
      r.pos = TIMER_HEADER_BYTES;
      const key = keySer.read(r);
      const namespace = nsSer ? nsSer.read(r) : undefined as N;
      const seq = readVarUint(v);
      if (seq > maxSeq) maxSeq = seq;
      const t = new QueuedTimer(
        timestamp,
        key,
        namespace,
        seq,
        this.#keyId(key),
        this.#nsId(namespace),
        -1,
      );
      (((k[2]! << 8) | k[3]!) === EVENT_TIMERS_STATE_ID ? event : processing).push(t);
    }
    this.#seq = maxSeq + 1;
    this.#event.bulkLoad(event);
    this.#processing.bulkLoad(processing);
  }

  /** The key's identity: the key itself when a primitive, else its serialized bytes. */
  #keyId(key: unknown): unknown {
    switch (typeof key) {
      case "string":
        if (!key.startsWith(BYTES_ID)) return key;
        break;
      case "number":
      case "boolean":
      case "bigint":
        return key;
    }
    const w = this.#idWriter;
    w.reset();
    this.#keySerializer.write(key, w);
    return BYTES_ID + latin1(w.bytes());
  }

  /** The namespace's identity: its serialized bytes, remembered per object. */
  #nsId(ns: N): unknown {
    const ser = this.#nsSerializer;
    if (ser === undefined || ns === undefined || ns === null) return ns;
    if (typeof ns !== "object") {
      if (typeof ns === "string" && !ns.startsWith(BYTES_ID)) return ns;
      if (typeof ns === "number") return ns;
    }
    const cache = this.#nsIds;
    let id = cache.get(ns);
    if (id !== undefined) return id;
    const w = this.#idWriter;
    w.reset();
    ser.write(ns, w);
    id = BYTES_ID + latin1(w.bytes());
    if (cache.size >= IDENTITY_CACHE_SIZE) cache.clear();
    cache.set(ns, id);
    return id;
  }

  /** The store key of a timer (a view of the service's writer). */
  #storeKey(stateId: number, t: QueuedTimer<N>): Uint8Array {
    this.#writeStoreKey(stateId, t);
    return this.#writer.bytes();
  }

  /** Writes the store key of a timer into the service's writer. */
  #writeStoreKey(stateId: number, t: QueuedTimer<N>): void {
    const w = this.#writer;
    w.reset();
    w.writeU16(0);
    w.writeU16(stateId);
    writeOrderedF64(w, t.timestamp);
    this.#keySerializer.write(t.key, w);
    const keyEnd = w.length;
    if (this.#nsSerializer) this.#nsSerializer.write(t.namespace, w);
    const b = w.buf;
    const kg = keyGroupOfBytes(
      b.subarray(TIMER_HEADER_BYTES, keyEnd),
      this.#maxParallelism,
      keyEnd - TIMER_HEADER_BYTES,
    );
    b[0] = kg >>> 8;
    b[1] = kg & 0xff;
  }

  /** The entry's value: the registration sequence number (in the service's value writer). */
  #value(t: QueuedTimer<N>): ByteWriter {
    const v = this.#valueWriter;
    v.reset();
    v.writeVarUint(t.seq);
    return v;
  }

  #put(stateId: number, t: QueuedTimer<N>): void {
    this.#backend!.rawPut(this.#storeKey(stateId, t), this.#value(t).bytes());
  }

  /** A timer left the queue (fired or deleted): its entry, if a snapshot holds one, goes too. */
  #forget(stateId: number, t: QueuedTimer<N>): void {
    t.removedIn = this.#epoch;
    if (this.#backend === undefined) return;
    if (t.epoch >= this.#epoch) this.#unwritten--; // no snapshot since it was queued
    else if (!this.#captured) this.#backend.rawDelete(this.#storeKey(stateId, t));
    else (stateId === EVENT_TIMERS_STATE_ID ? this.#removedEvent : this.#removedProcessing).push(t);
  }

  /** Writes the entries of the timers registered since the last snapshot and still queued. */
  #writeUnwritten(): void {
    if (this.#epoch === 0) {
      // Before the first snapshot nothing was listed: every queued timer is new.
      this.#event.forEachLive((t) => this.#writeEarly(t, true));
      this.#processing.forEachLive((t) => this.#writeEarly(t, false));
    }
    const pending = this.#pending, isEvent = this.#pendingEvent;
    for (let i = this.#pendingHead; i < pending.length; i++) {
      this.#writeEarly(pending[i]!, isEvent[i]!);
    }
    this.#pending = [];
    this.#pendingEvent = [];
    this.#pendingHead = 0;
    this.#unwritten = 0;
    this.#epoch++;
  }

  /** Writes `t`'s entry before the next snapshot, if it is queued and not written yet. */
  #writeEarly(t: QueuedTimer<N>, event: boolean): void {
    if (t.dead || t.epoch !== this.#epoch) return;
    this.#put(event ? EVENT_TIMERS_STATE_ID : PROCESSING_TIMERS_STATE_ID, t);
    t.epoch = -1;
    this.#unwritten--;
  }

  /** A timer registered on an `onSnapshot` backend: written at the next snapshot, or earlier. */
  #addPending(t: QueuedTimer<N>, event: boolean): void {
    // Before the first snapshot none are listed: a job that takes none keeps no list.
    if (this.#epoch === 0) return;
    const pending = this.#pending;
    pending.push(t);
    this.#pendingEvent.push(event);
    if (pending.length - this.#pendingHead <= MAX_UNWRITTEN_TIMERS) return;
    const i = this.#pendingHead++;
    this.#writeEarly(pending[i]!, this.#pendingEvent[i]!);
    pending[i] = undefined; // let it be collected
    // Drop the written prefix once it is half the list: amortized O(1) a timer.
    if (i >= 4096 && 2 * i >= pending.length) {
      pending.splice(0, i + 1);
      this.#pendingEvent.splice(0, i + 1);
      this.#pendingHead = 0;
    }
  }

  /**
   * A snapshot's synchronous part (see `RawSnapshotSource`): copies the
   * queues' slots (references, without reading the timers), or for a delta
   * takes the timers listed since the last capture, and takes the
   * timers a snapshot held that left since the last capture. The returned
   * asynchronous part serializes every timer queued at the capture (`full`)
   * or those registered since the last one, and deletes of the ones that
   * left. What happens after the capture does not change it: a queued timer
   * is immutable but for being marked removed, with the epoch it was removed in.
   */
  #capture(full: boolean): (out: SegmentBatch) => void {
    const epoch = this.#epoch++;
    this.#unwritten = 0;
    // A delta needs only the timers queued since the last capture: when listed, those, not
    // every queued timer (a delta of a few new timers among millions stays small).
    const fresh = !full && this.#freshEvent !== undefined && this.#freshProcessing !== undefined;
    const event = fresh ? [this.#freshEvent!] : this.#event.slots();
    const processing = fresh ? [this.#freshProcessing!] : this.#processing.slots();
    this.#freshEvent = [];
    this.#freshProcessing = [];
    let copied = 0;
    for (const b of event) copied += b.length;
    for (const b of processing) copied += b.length;
    this.#capturedCount = copied;
    const removedEvent = full ? [] : this.#removedEvent;
    const removedProcessing = full ? [] : this.#removedProcessing;
    this.#removedEvent = [];
    this.#removedProcessing = [];
    const queued = (t: QueuedTimer<N>) => t.removedIn > epoch && (full || t.epoch === epoch);
    return (out) => {
      this.#addEntries(out, EVENT_TIMERS_STATE_ID, event, queued, removedEvent);
      this.#addEntries(out, PROCESSING_TIMERS_STATE_ID, processing, queued, removedProcessing);
    };
  }

  /**
   * Adds puts of the `timers` that are `put` and deletes of `removed` to
   * `out`. A removed timer registered again since (same store key) is put
   * only: a batch's keys are distinct.
   */
  #addEntries(
    out: SegmentBatch,
    stateId: number,
    timers: readonly QueuedTimer<N>[][],
    put: (t: QueuedTimer<N>) => boolean,
    removed: readonly QueuedTimer<N>[],
  ): void {
    const w = this.#writer;
    const removedAt = removed.length === 0 ? undefined : new Set(removed.map((t) => t.timestamp));
    const putAgain = new Set<string>();
    for (const bucket of timers) {
      for (const t of bucket) {
        if (!put(t)) continue;
        this.#writeStoreKey(stateId, t);
        if (removedAt?.has(t.timestamp)) putAgain.add(latin1(w.bytes()));
        const v = this.#value(t);
        out.add(w.buf, w.length, v.buf, v.length);
      }
    }
    for (const t of removed) {
      this.#writeStoreKey(stateId, t);
      if (putAgain.size > 0 && putAgain.has(latin1(w.bytes()))) continue;
      out.add(w.buf, w.length, null, 0);
    }
  }

  /** The last watermark this operator saw. */
  get currentWatermark(): number {
    return this.#watermark;
  }

  /** Current processing time. */
  currentProcessingTime(): number {
    return this.#host.now();
  }

  #register(queue: TimerQueue<N>, event: boolean, ns: N, ts: number): boolean {
    const key = this.#host.currentKey();
    const t = new QueuedTimer(
      ts,
      key,
      ns,
      this.#seq,
      this.#keyId(key),
      this.#nsId(ns),
      this.#newEpoch,
    );
    if (!queue.add(t)) return false;
    this.#seq++;
    if (this.#backend) this.#track(event, t);
    return true;
  }

  /** The epoch of a timer queued now (written through: held at once). */
  get #newEpoch(): number {
    return this.#writeThrough ? -1 : this.#epoch;
  }

  /** A new timer: written now (write-through) or at the next snapshot. */
  #track(event: boolean, t: QueuedTimer<N>): void {
    if (this.#writeThrough) {
      this.#put(event ? EVENT_TIMERS_STATE_ID : PROCESSING_TIMERS_STATE_ID, t);
      return;
    }
    this.#unwritten++;
    if (this.#captured) this.#addFresh(t, event);
    else this.#addPending(t, event);
  }

  /**
   * Lists a timer queued on a `takeRawEntries` backend for the next delta. The lists keep
   * fired timers too: past twice the queued timers (a job that takes no snapshot, or whose
   * timers fire soon) they are dropped until the next capture, which copies the queues.
   */
  #addFresh(t: QueuedTimer<N>, event: boolean): void {
    const list = event ? this.#freshEvent : this.#freshProcessing;
    if (list === undefined) return;
    list.push(t);
    const listed = this.#freshEvent!.length + this.#freshProcessing!.length;
    if (
      listed > MAX_UNWRITTEN_TIMERS && listed > 2 * (this.#event.size + this.#processing.size)
    ) {
      this.#freshEvent = this.#freshProcessing = undefined;
    }
  }

  /**
   * @internal How many timers (references) the last snapshot's synchronous part copied on a
   * `takeRawEntries` backend: every queued one for a full snapshot, those queued since the
   * last snapshot for a delta.
   */
  get capturedTimers(): number {
    return this.#capturedCount;
  }

  #delete(queue: TimerQueue<N>, stateId: number, ns: N, ts: number): void {
    const t = queue.find(this.#nsId(ns), this.#keyId(this.#host.currentKey()), ts);
    if (t === undefined) return;
    queue.remove(t);
    this.#forget(stateId, t);
  }

  /** Registers an event-time timer for the current key. */
  registerEventTimeTimer(ns: N, ts: number): void {
    if (typeof ts !== "number" || ts !== ts) checkEventTime(ts, "registerEventTimeTimer");
    this.#register(this.#event, true, ns, ts);
  }

  /**
   * Registers an event-time timer for the current key that the caller knows
   * is not queued, skipping the duplicate check: for callers that register a
   * (key, namespace, timestamp) at most once while it is pending, and never
   * delete it (the window operator registers a window's end with its first
   * element). A duplicate would fire twice.
   */
  registerNewEventTimeTimer(ns: N, ts: number): void {
    const key = this.#host.currentKey();
    const t = new QueuedTimer(ts, key, ns, this.#seq++, UNINDEXED, undefined, this.#newEpoch);
    this.#event.append(t);
    if (this.#backend) this.#track(true, t);
  }

  /** Deletes an event-time timer of the current key. */
  deleteEventTimeTimer(ns: N, ts: number): void {
    this.#delete(this.#event, EVENT_TIMERS_STATE_ID, ns, ts);
  }

  /** Registers a processing-time timer for the current key. */
  registerProcessingTimeTimer(ns: N, ts: number): void {
    if (typeof ts !== "number" || ts !== ts) checkEventTime(ts, "registerProcessingTimeTimer");
    if (this.#register(this.#processing, false, ns, ts)) this.#reschedule();
  }

  /** Deletes a processing-time timer of the current key. */
  deleteProcessingTimeTimer(ns: N, ts: number): void {
    this.#delete(this.#processing, PROCESSING_TIMERS_STATE_ID, ns, ts);
  }

  /** Fires every event-time timer at or before `watermark`, in order. */
  advanceWatermark(watermark: number): void {
    this.#watermark = watermark;
    const q = this.#event;
    for (;;) {
      const t = q.peek();
      if (t === undefined || t.timestamp > watermark) return;
      q.pop();
      this.#forget(EVENT_TIMERS_STATE_ID, t);
      this.#host.setCurrentKey(t.key);
      this.#target.onTimer(t, "event-time");
    }
  }

  /** Fires every processing-time timer at or before `now`, in order. */
  fireProcessingTimers(now: number): void {
    this.#scheduledAt = Infinity;
    this.#cancelScheduled = null;
    const q = this.#processing;
    for (;;) {
      const t = q.peek();
      if (t === undefined || t.timestamp > now) break;
      q.pop();
      this.#forget(PROCESSING_TIMERS_STATE_ID, t);
      this.#host.setCurrentKey(t.key);
      this.#target.onTimer(t, "processing-time");
    }
    this.#reschedule();
  }

  #reschedule(): void {
    const next = this.#processing.peek();
    if (!next || next.timestamp >= this.#scheduledAt) return;
    this.#cancelScheduled?.();
    this.#scheduledAt = next.timestamp;
    this.#cancelScheduled = this.#host.scheduleProcessingTime(
      next.timestamp,
      () => this.fireProcessingTimers(this.#host.now()),
    );
  }

  /** Number of pending timers of a domain. */
  size(domain: TimeDomain): number {
    return (domain === "event-time" ? this.#event : this.#processing).size;
  }

  /** Pending timers of a domain, in firing order. */
  pending(domain: TimeDomain): Timer<N>[] {
    const q = domain === "event-time" ? this.#event : this.#processing;
    return q.all().map(({ timestamp, key, namespace }) => ({ timestamp, key, namespace }));
  }

  /** Stops scheduling processing-time callbacks. */
  dispose(): void {
    this.#cancelScheduled?.();
    this.#cancelScheduled = null;
  }
}
