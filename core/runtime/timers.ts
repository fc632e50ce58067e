/**
 * Timers of keyed operators: one timer per key, namespace and timestamp, fired
 * in timestamp order with the timer's key made current. Event-time timers fire
 * when the watermark passes them, processing-time timers when the job's clock
 * does.
 *
 * Every timer is also written to the operator's keyed backend (a raw entry
 * under a reserved state id), so checkpoints of either backend include the
 * timers, and a restored service rebuilds its queues from the key groups it
 * owns:
 *
 * ```
 * keyGroup (u16 BE) | 0xfff1 event / 0xfff2 processing (u16 BE) | timestamp (8 bytes, order-preserving) | key | namespace
 * ```
 *
 * The entry's value is the timer's registration sequence number: timers with
 * the same timestamp fire in registration order, after a restore too.
 *
 * @module
 */
import { ByteReader, ByteWriter } from "../state/bytes.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import { keyGroupOf } from "../state/key_group.ts";
import type { Serializer } from "../state/serializer.ts";
import { MAX_USER_STATE_ID } from "../state/state_keys.ts";

/** Time domain of a timer. */
export type TimeDomain = "event-time" | "processing-time";

/** Reserved state id of event-time timers in store keys. */
export const EVENT_TIMERS_STATE_ID = MAX_USER_STATE_ID + 1;
/** Reserved state id of processing-time timers in store keys. */
export const PROCESSING_TIMERS_STATE_ID = MAX_USER_STATE_ID + 2;

/** Bytes before the key in a timer's store key: key group, state id, timestamp. */
const TIMER_HEADER_BYTES = 12;

/** A registered timer. */
export interface Timer<N = unknown> {
  /** When it fires. */
  readonly timestamp: number;
  /** The key that is current when it fires. */
  readonly key: unknown;
  /** The namespace (a window, or undefined). */
  readonly namespace: N;
}

interface QueuedTimer<N> extends Timer<N> {
  /** The timer's store key as a latin1 string: its identity. */
  readonly id: string;
  /** Registration order (stored as the entry's value, so it survives restore). */
  readonly seq: number;
}

/** A min-heap of timers ordered by timestamp, then registration order. */
class TimerQueue<N> {
  readonly #heap: QueuedTimer<N>[] = [];
  readonly #byId = new Map<string, QueuedTimer<N>>();

  get size(): number {
    return this.#byId.size;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  add(t: QueuedTimer<N>): boolean {
    if (this.#byId.has(t.id)) return false;
    this.#byId.set(t.id, t);
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return true;
  }

  /** Deletion is lazy: the entry leaves the heap when it reaches the top. */
  delete(id: string): boolean {
    return this.#byId.delete(id);
  }

  peek(): QueuedTimer<N> | undefined {
    this.#dropDeleted();
    return this.#heap[0];
  }

  pop(): QueuedTimer<N> | undefined {
    this.#dropDeleted();
    const t = this.#popRaw();
    if (t) this.#byId.delete(t.id);
    return t;
  }

  all(): QueuedTimer<N>[] {
    return [...this.#byId.values()].sort((a, b) => (before(a, b) ? -1 : 1));
  }

  #dropDeleted(): void {
    while (this.#heap.length > 0 && this.#byId.get(this.#heap[0]!.id) !== this.#heap[0]) {
      this.#popRaw();
    }
  }

  #popRaw(): QueuedTimer<N> | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: QueuedTimer<unknown>, b: QueuedTimer<unknown>): boolean {
  return a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.seq < b.seq);
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
  if (b[at]! & 0x80) for (let i = at; i < at + 8; i++) b[i] = ~b[i]! & 0xff;
  else b[at] = b[at]! | 0x80;
}

function readOrderedF64(b: Uint8Array, at: number): number {
  const c = b.slice(at, at + 8);
  if (c[0]! & 0x80) c[0] = c[0]! & 0x7f;
  else for (let i = 0; i < 8; i++) c[i] = ~c[i]! & 0xff;
  return new DataView(c.buffer).getFloat64(0);
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function fromLatin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

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
  readonly #valueWriter = new ByteWriter(16);
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
    if (this.#backend) {
      this.#load(EVENT_TIMERS_STATE_ID, this.#event);
      this.#load(PROCESSING_TIMERS_STATE_ID, this.#processing);
      this.#reschedule();
    }
  }

  #load(stateId: number, queue: TimerQueue<N>): void {
    const backend = this.#backend!;
    const { start, end } = backend.keyGroupRange;
    const lo = new Uint8Array(4), hi = new Uint8Array(4);
    for (let kg = start; kg <= end; kg++) {
      lo[0] = hi[0] = kg >>> 8;
      lo[1] = hi[1] = kg & 0xff;
      lo[2] = stateId >>> 8;
      lo[3] = stateId & 0xff;
      hi[2] = (stateId + 1) >>> 8;
      hi[3] = (stateId + 1) & 0xff;
      for (const [k, v] of backend.rawScan(lo, hi)) {
        const timestamp = readOrderedF64(k, 4);
        const r = new ByteReader(k);
        r.pos = TIMER_HEADER_BYTES;
        const key = this.#keySerializer.read(r);
        const namespace = this.#nsSerializer ? this.#nsSerializer.read(r) : undefined as N;
        const seq = new ByteReader(v).readVarUint();
        if (seq >= this.#seq) this.#seq = seq + 1;
        queue.add({ timestamp, key, namespace, id: latin1(k), seq });
      }
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

  /** The store key of a timer of the current key, as a latin1 string. */
  #id(stateId: number, ts: number, key: unknown, ns: N): string {
    const w = this.#writer;
    w.reset();
    w.writeU16(0);
    w.writeU16(stateId);
    writeOrderedF64(w, ts);
    this.#keySerializer.write(key, w);
    const keyEnd = w.length;
    if (this.#nsSerializer) this.#nsSerializer.write(ns, w);
    const b = w.bytes();
    const kg = keyGroupOf(b.subarray(TIMER_HEADER_BYTES, keyEnd), this.#maxParallelism);
    b[0] = kg >>> 8;
    b[1] = kg & 0xff;
    return latin1(b);
  }

  #register(queue: TimerQueue<N>, stateId: number, ns: N, ts: number): boolean {
    const key = this.#host.currentKey();
    const id = this.#id(stateId, ts, key, ns);
    if (queue.has(id)) return false;
    const seq = this.#seq++;
    queue.add({ timestamp: ts, key, namespace: ns, id, seq });
    if (this.#backend) {
      const v = this.#valueWriter;
      v.reset();
      v.writeVarUint(seq);
      this.#backend.rawPut(this.#writer.bytes(), v.bytes());
    }
    return true;
  }

  #delete(queue: TimerQueue<N>, stateId: number, ns: N, ts: number): void {
    const id = this.#id(stateId, ts, this.#host.currentKey(), ns);
    if (queue.delete(id)) this.#backend?.rawDelete(this.#writer.bytes());
  }

  /** Registers an event-time timer for the current key. */
  registerEventTimeTimer(ns: N, ts: number): void {
    this.#register(this.#event, EVENT_TIMERS_STATE_ID, ns, ts);
  }

  /** Deletes an event-time timer of the current key. */
  deleteEventTimeTimer(ns: N, ts: number): void {
    this.#delete(this.#event, EVENT_TIMERS_STATE_ID, ns, ts);
  }

  /** Registers a processing-time timer for the current key. */
  registerProcessingTimeTimer(ns: N, ts: number): void {
    if (this.#register(this.#processing, PROCESSING_TIMERS_STATE_ID, ns, ts)) this.#reschedule();
  }

  /** Deletes a processing-time timer of the current key. */
  deleteProcessingTimeTimer(ns: N, ts: number): void {
    this.#delete(this.#processing, PROCESSING_TIMERS_STATE_ID, ns, ts);
  }

  /** Fires every event-time timer at or before `watermark`, in order. */
  advanceWatermark(watermark: number): void {
    this.#watermark = watermark;
    for (;;) {
      const t = this.#event.peek();
      if (!t || t.timestamp > watermark) return;
      this.#event.pop();
      this.#backend?.rawDelete(fromLatin1(t.id));
      this.#host.setCurrentKey(t.key);
      this.#target.onTimer(t, "event-time");
    }
  }

  /** Fires every processing-time timer at or before `now`, in order. */
  fireProcessingTimers(now: number): void {
    this.#scheduledAt = Infinity;
    this.#cancelScheduled = null;
    for (;;) {
      const t = this.#processing.peek();
      if (!t || t.timestamp > now) break;
      this.#processing.pop();
      this.#backend?.rawDelete(fromLatin1(t.id));
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
