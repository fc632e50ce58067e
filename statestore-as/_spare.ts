/**
 * One spare value (a large buffer handed back by a worker) kept for a while
 * for the next job to reuse, then dropped: memory held only while jobs come
 * close together.
 *
 * @module
 */

/** Holds at most one value, for `ms` after it was put. */
export class Spare<T> {
  #value: T | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #ms: number;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** The value, if it is there (left there). */
  peek(): T | undefined {
    return this.#value;
  }

  /** Takes the value out, if it is there. */
  take(): T | undefined {
    const v = this.#value;
    this.clear();
    return v;
  }

  /** Keeps `value` (replacing any other) for the next `ms`; the timer never keeps the process alive. */
  put(value: T): void {
    this.clear();
    this.#value = value;
    this.#timer = setTimeout(() => this.clear(), this.#ms);
    Deno.unrefTimer(this.#timer);
  }

  /** Drops the value. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#value = this.#timer = undefined;
  }
}
