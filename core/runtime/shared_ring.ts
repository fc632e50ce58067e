/**
 * A single-producer, single-consumer byte ring in a SharedArrayBuffer: the
 * channel between two workers. The ring's size is the producer's credit: a
 * producer that finds too little free space awaits the consumer, so a slow
 * consumer slows its producer and memory stays bounded. Each side sleeps with
 * `Atomics.waitAsync` only after announcing it in a flag, so the other side
 * calls `Atomics.notify` only when someone sleeps (a notify is a syscall).
 *
 * Layout of a ring's header (Int32 slots; each side's fields on their own
 * 64-byte line so the two threads do not bounce one cache line):
 * ```
 * i32[0]   written          total bytes written, mod 2^32   (producer stores)
 * i32[1]   consumerWaiting  1 while the consumer sleeps on `written`
 * i32[16]  read             total bytes consumed, mod 2^32  (consumer stores)
 * i32[17]  producerWaiting  1 while the producer sleeps on `read`
 * i32[32]  closed           1 once either side closed
 * ```
 * Its data area (`capacity` bytes) is a sequence of frames, `u32 LE length |
 * payload`; a frame may wrap around the end of the area. Invariant:
 * `0 <= written - read <= capacity` (mod 2^32), which holds because capacity
 * is at most 2^30.
 *
 * Rings are cut from one SharedArrayBuffer ({@linkcode createRings}), all
 * headers first, then the data areas:
 * ```
 * | header 0 | header 1 | ... | header n-1 | data 0 | data 1 | ... | data n-1 |
 *   192 B each                               capacity bytes each
 * ```
 * One large buffer is mapped untouched, and a page of it becomes resident
 * only once a ring writes into it, while a small SharedArrayBuffer is zeroed
 * on the heap when made, all of it resident at once. Headers side by side
 * touch one page per 21 rings, not one per ring: at high parallelism a job
 * has many rings (p × p channels per keyed edge), most of them quiet.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

const WRITTEN = 0;
const CONSUMER_WAITING = 1;
const READ = 16;
const PRODUCER_WAITING = 17;
const CLOSED = 32;
/** Bytes of a ring's header. */
const HEADER_BYTES = 192;
const FRAME_HEADER = 4;

/**
 * Where a ring lives in shared memory: plain data, posted to the worker at the
 * other end, where a {@linkcode RingWriter} or {@linkcode RingReader} wraps it.
 */
export interface SharedRing {
  /** The memory the ring is cut from (shared with other rings). */
  readonly buffer: SharedArrayBuffer;
  /** Byte offset of the ring's header. */
  readonly header: number;
  /** Byte offset of the ring's data area. */
  readonly data: number;
  /** Bytes of frames the ring holds. */
  readonly capacity: number;
}

/**
 * Makes one ring holding `capacity` bytes of frames (a power of two, 64
 * bytes to 1 GiB), in memory of its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRing, RingReader, RingWriter } from "./shared_ring.ts";
 * const ring = createRing(1024);
 * const writer = new RingWriter(ring), reader = new RingReader(ring);
 * assert.ok(writer.tryWrite(new TextEncoder().encode("hello")));
 * assert.equal(new TextDecoder().decode(reader.read()!), "hello");
 * assert.equal(reader.read(), undefined);
 * ```
 */
export function createRing(capacity: number): SharedRing {
  return createRings(1, capacity)[0]!;
}

/**
 * Cuts `count` rings of `capacity` bytes each (a power of two, 64 bytes to
 * 1 GiB) from one SharedArrayBuffer (layout above).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRings, RingReader, RingWriter } from "./shared_ring.ts";
 * const [a, b] = createRings(2, 64 * 1024);
 * assert.equal(a!.buffer, b!.buffer);
 * new RingWriter(a!).tryWrite(new Uint8Array([1, 2]));
 * assert.equal(new RingReader(b!).hasFrame(), false);
 * assert.deepEqual(new RingReader(a!).read(), new Uint8Array([1, 2]));
 * ```
 */
export function createRings(count: number, capacity: number): SharedRing[] {
  if (!Number.isInteger(capacity) || capacity < 64 || capacity > 2 ** 30) {
    throw new ConfigError(`A ring's capacity must be 64 bytes to 1 GiB, got ${capacity}`);
  }
  if ((capacity & (capacity - 1)) !== 0) {
    throw new ConfigError(`A ring's capacity must be a power of two, got ${capacity}`);
  }
  // Data areas start on a page (or on their own size, when smaller).
  const headers = Math.ceil(count * HEADER_BYTES / 4096) * 4096;
  const buffer = new SharedArrayBuffer(headers + count * capacity);
  return Array.from({ length: count }, (_, i) => ({
    buffer,
    header: i * HEADER_BYTES,
    data: headers + i * capacity,
    capacity,
  }));
}

/** What both ends share: the header view, the data view and the index mask. */
class RingEnd {
  protected readonly header: Int32Array;
  protected readonly data: Uint8Array;
  protected readonly mask: number;
  /** Bytes of frames the ring holds. */
  readonly capacity: number;

  constructor(ring: SharedRing) {
    this.header = new Int32Array(ring.buffer, ring.header, HEADER_BYTES / 4);
    this.data = new Uint8Array(ring.buffer, ring.data, ring.capacity);
    this.capacity = ring.capacity;
    this.mask = this.capacity - 1;
  }

  /** Whether either side closed the ring. */
  get closed(): boolean {
    return Atomics.load(this.header, CLOSED) === 1;
  }

  /** Closes the ring and wakes both sides (a cancelled job). */
  close(): void {
    Atomics.store(this.header, CLOSED, 1);
    Atomics.notify(this.header, WRITTEN);
    Atomics.notify(this.header, READ);
  }

  /** Bytes of frames (headers included) written and not yet read. */
  protected used(): number {
    return (Atomics.load(this.header, WRITTEN) - Atomics.load(this.header, READ)) >>> 0;
  }

  /**
   * Sleeps until slot `index` no longer holds `seen` (or the ring closes),
   * with `waitingFlag` raised meanwhile. `ready` is checked after raising the
   * flag: a change made just before the flag went up is not missed.
   */
  protected async sleep(
    index: number,
    waitingFlag: number,
    seen: number,
    ready: () => boolean,
  ): Promise<void> {
    Atomics.store(this.header, waitingFlag, 1);
    // Deno does not count a pending Atomics.waitAsync as work: without a timer
    // the event loop could end while this side sleeps.
    const keepAlive = setTimeout(() => {}, 2 ** 31 - 1);
    try {
      while (!ready() && !this.closed) {
        const w = Atomics.waitAsync(this.header, index, seen);
        if (w.async) await w.value;
        seen = Atomics.load(this.header, index);
      }
    } finally {
      clearTimeout(keepAlive);
      Atomics.store(this.header, waitingFlag, 0);
    }
  }
}

/**
 * The producing end of a ring.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRing, RingReader, RingWriter } from "./shared_ring.ts";
 * const ring = createRing(64);
 * const writer = new RingWriter(ring), reader = new RingReader(ring);
 * const frame = new Uint8Array(40);
 * assert.ok(writer.tryWrite(frame));
 * assert.equal(writer.tryWrite(frame), false); // no credit left
 * const space = writer.waitForSpace(frame.length);
 * reader.read();
 * await space;
 * assert.ok(writer.tryWrite(frame));
 * ```
 */
export class RingWriter extends RingEnd {
  /** The largest payload one frame can hold. */
  get maxFrame(): number {
    return this.capacity - FRAME_HEADER;
  }

  /**
   * Appends one frame if the ring has room for it; false when it has not
   * (await {@linkcode waitForSpace} and try again). A closed ring drops it.
   */
  tryWrite(payload: Uint8Array): boolean {
    const n = payload.length;
    if (n > this.maxFrame) {
      throw new ConfigError(
        `A ${n}-byte frame does not fit a ring of ${this.capacity} bytes: send smaller batches`,
      );
    }
    if (this.closed) return true;
    if (this.capacity - this.used() < n + FRAME_HEADER) return false;
    const written = Atomics.load(this.header, WRITTEN);
    let at = written & this.mask;
    for (let i = 0; i < FRAME_HEADER; i++) {
      this.data[at] = (n >>> (8 * i)) & 0xff;
      at = (at + 1) & this.mask;
    }
    const first = Math.min(n, this.capacity - at);
    this.data.set(payload.subarray(0, first), at);
    if (first < n) this.data.set(payload.subarray(first), 0);
    // The store publishes the frame: the consumer reads `written` before the bytes.
    Atomics.store(this.header, WRITTEN, (written + FRAME_HEADER + n) | 0);
    if (Atomics.load(this.header, CONSUMER_WAITING) === 1) Atomics.notify(this.header, WRITTEN);
    return true;
  }

  /** Resolves once a frame of `payloadBytes` fits (or the ring is closed). */
  waitForSpace(payloadBytes: number): Promise<void> {
    const need = payloadBytes + FRAME_HEADER;
    const fits = () => this.capacity - this.used() >= need;
    if (fits() || this.closed) return Promise.resolve();
    return this.sleep(READ, PRODUCER_WAITING, Atomics.load(this.header, READ), fits);
  }
}

/** The consuming end of a ring. */
export class RingReader extends RingEnd {
  #scratch = new Uint8Array(256);

  /** Whether a frame waits. */
  hasFrame(): boolean {
    return this.used() > 0;
  }

  /**
   * The next frame, or undefined when none waits. The bytes are a copy in a
   * buffer this reader reuses: valid until the next `read`. (A copy, because
   * TextDecoder refuses views of shared memory.)
   */
  read(): Uint8Array | undefined {
    if (this.used() === 0) return undefined;
    const read = Atomics.load(this.header, READ);
    let at = read & this.mask;
    let n = 0;
    for (let i = 0; i < FRAME_HEADER; i++) {
      n |= this.data[at]! << (8 * i);
      at = (at + 1) & this.mask;
    }
    n >>>= 0;
    if (this.#scratch.length < n) {
      this.#scratch = new Uint8Array(Math.max(n, this.#scratch.length * 2));
    }
    const out = this.#scratch.subarray(0, n);
    const first = Math.min(n, this.capacity - at);
    out.set(this.data.subarray(at, at + first));
    if (first < n) out.set(this.data.subarray(0, n - first), first);
    Atomics.store(this.header, READ, (read + FRAME_HEADER + n) | 0);
    if (Atomics.load(this.header, PRODUCER_WAITING) === 1) Atomics.notify(this.header, READ);
    return out;
  }

  /** Resolves once a frame waits (or the ring is closed). */
  waitForFrame(): Promise<void> {
    const ready = () => this.used() > 0;
    if (ready() || this.closed) return Promise.resolve();
    return this.sleep(WRITTEN, CONSUMER_WAITING, Atomics.load(this.header, WRITTEN), ready);
  }
}
