/**
 * Processing time. The runtime reads time and schedules processing-time
 * timers only through a {@linkcode Clock}, so tests can drive time by hand.
 *
 * @module
 */

/**
 * A source of processing time and of callbacks at given times.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Clock, ManualClock, SystemClock } from "@weir/weir";
 * // Code that needs time takes a Clock, so tests can drive it by hand.
 * function deadline(clock: Clock, ms: number): number {
 *   return clock.now() + ms;
 * }
 * assert.equal(deadline(new ManualClock(100), 50), 150);
 * assert.ok(deadline(new SystemClock(), 0) > 0);
 * ```
 */
export interface Clock {
  /** Milliseconds since the epoch (or since the test began). */
  now(): number;
  /** Calls `callback` once `now() >= at`; returns a function that cancels it. */
  schedule(at: number, callback: () => void): () => void;
}

/**
 * Throws a `RangeError` unless `t` is a number other than NaN: a NaN time
 * passes every `<` check, so the clock would stand at NaN and no timer would
 * ever be due again, silently.
 */
function checkTime(t: unknown, what: string): void {
  if (typeof t === "number" && t === t) return;
  const got = typeof t === "number" ? "NaN" : `${typeof t} ${String(t)}`;
  throw new RangeError(`${what} got ${got}: processing time is a number of milliseconds`);
}

/** The longest delay `setTimeout` keeps (a signed 32-bit number of ms). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Wall-clock time with `setTimeout`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SystemClock } from "@weir/weir";
 * assert.ok(Math.abs(new SystemClock().now() - Date.now()) < 1000);
 * ```
 */
export class SystemClock implements Clock {
  /** `Date.now()`. */
  now(): number {
    return Date.now();
  }
  /**
   * Schedules with `setTimeout`; a time more than 2^31 - 1 ms (about 24.8 days) ahead is waited
   * for in steps of that (+Infinity: never called).
   */
  schedule(at: number, callback: () => void): () => void {
    let id: ReturnType<typeof setTimeout>;
    // setTimeout runs a longer delay after 1 ms: a far processing-time timer's callback ran at
    // once, and its timer service, finding it not due, rescheduled it every millisecond.
    const arm = (): void => {
      const delay = at - Date.now();
      id = delay > MAX_TIMEOUT_MS
        ? setTimeout(arm, MAX_TIMEOUT_MS)
        : setTimeout(callback, Math.max(0, delay));
    };
    arm();
    return () => clearTimeout(id);
  }
}

/**
 * A clock that moves only when told: `advance(ms)` or `set(t)` run every
 * callback that became due, in time order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "@weir/weir";
 * const clock = new ManualClock(0);
 * const fired: number[] = [];
 * clock.schedule(10, () => fired.push(clock.now()));
 * clock.advance(5);
 * clock.advance(5);
 * assert.ok(fired.length === 1 && fired[0] === 10);
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #pending = new Map<number, { at: number; callback: () => void }>();

  /** Starts at `start` ms. */
  constructor(start = 0) {
    checkTime(start, "new ManualClock");
    this.#now = start;
  }

  /** The current time. */
  now(): number {
    return this.#now;
  }

  /** Runs `callback` when time reaches `at` (at once if it already has, on the next advance). */
  schedule(at: number, callback: () => void): () => void {
    const id = this.#seq++;
    this.#pending.set(id, { at, callback });
    return () => this.#pending.delete(id);
  }

  /** Moves time forward by `ms` and runs what became due. */
  advance(ms: number): void {
    checkTime(ms, "ManualClock.advance");
    this.set(this.#now + ms);
  }

  /**
   * Moves time to `t` (never backwards) and runs what became due, in time
   * order. `t` NaN or no number is a `RangeError`.
   */
  set(t: number): void {
    checkTime(t, "ManualClock.set");
    if (t < this.#now) throw new RangeError(`ManualClock cannot go back from ${this.#now} to ${t}`);
    this.#now = t;
    for (;;) {
      let first: [number, { at: number; callback: () => void }] | undefined;
      for (const e of this.#pending) {
        if (e[1].at <= t && (!first || e[1].at < first[1].at)) first = e;
      }
      if (!first) return;
      this.#pending.delete(first[0]);
      first[1].callback();
    }
  }

  /** Number of callbacks not yet run. */
  pendingCount(): number {
    return this.#pending.size;
  }
}
