/**
 * Timers of keyed operators: one timer per key, namespace and timestamp, fired
 * in timestamp order with the timer's key made current. Event-time timers fire
 * when the watermark passes them, processing-time timers when the job's clock
 * does.
 *
 * @module
 */
import { ByteWriter } from "../state/bytes.ts";
import type { Serializer } from "../state/serializer.ts";

/** Time domain of a timer. */
export type TimeDomain = "event-time" | "processing-time";

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
  readonly id: string;
  readonly seq: number;
}

/** A min-heap of timers ordered by timestamp, then registration order. */
class TimerQueue<N> {
  readonly #heap: QueuedTimer<N>[] = [];
  readonly #byId = new Map<string, QueuedTimer<N>>();

  get size(): number {
    return this.#byId.size;
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
  delete(id: string): void {
    this.#byId.delete(id);
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
}

/**
 * The timers of one keyed operator subtask.
 */
export class InternalTimerService<N = undefined> {
  readonly #host: TimerHost;
  readonly #target: TimerTarget<N>;
  readonly #keySerializer: Serializer<unknown>;
  readonly #nsSerializer: Serializer<N> | undefined;
  readonly #event = new TimerQueue<N>();
  readonly #processing = new TimerQueue<N>();
  readonly #writer = new ByteWriter();
  #seq = 0;
  #watermark = -Infinity;
  #scheduledAt = Infinity;
  #cancelScheduled: (() => void) | null = null;

  /** Creates the service. */
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
  }

  /** The last watermark this operator saw. */
  get currentWatermark(): number {
    return this.#watermark;
  }

  /** Current processing time. */
  currentProcessingTime(): number {
    return this.#host.now();
  }

  #id(ts: number, key: unknown, ns: N): string {
    const w = this.#writer;
    w.reset();
    this.#keySerializer.write(key, w);
    if (this.#nsSerializer) this.#nsSerializer.write(ns, w);
    let s = `${ts}:`;
    const b = w.bytes();
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
    return s;
  }

  #timer(ts: number, ns: N): QueuedTimer<N> {
    const key = this.#host.currentKey();
    return { timestamp: ts, key, namespace: ns, id: this.#id(ts, key, ns), seq: this.#seq++ };
  }

  /** Registers an event-time timer for the current key. */
  registerEventTimeTimer(ns: N, ts: number): void {
    this.#event.add(this.#timer(ts, ns));
  }

  /** Deletes an event-time timer of the current key. */
  deleteEventTimeTimer(ns: N, ts: number): void {
    this.#event.delete(this.#id(ts, this.#host.currentKey(), ns));
  }

  /** Registers a processing-time timer for the current key. */
  registerProcessingTimeTimer(ns: N, ts: number): void {
    if (this.#processing.add(this.#timer(ts, ns))) this.#reschedule();
  }

  /** Deletes a processing-time timer of the current key. */
  deleteProcessingTimeTimer(ns: N, ts: number): void {
    this.#processing.delete(this.#id(ts, this.#host.currentKey(), ns));
  }

  /** Fires every event-time timer at or before `watermark`, in order. */
  advanceWatermark(watermark: number): void {
    this.#watermark = watermark;
    for (;;) {
      const t = this.#event.peek();
      if (!t || t.timestamp > watermark) return;
      this.#event.pop();
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
