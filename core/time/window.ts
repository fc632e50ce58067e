/**
 * Windows: {@linkcode TimeWindow} (a half-open interval `[start, end)` of
 * event or processing time) and {@linkcode GlobalWindow} (one window holding
 * every element of a key), each with a serializer so window state and window
 * timers can be stored under the window as namespace.
 *
 * @module
 */
import type { Serializer } from "../state/serializer.ts";

/**
 * A window: elements are grouped into windows and results emitted per window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GlobalWindow, TimeWindow, type Window } from "@weir/weir";
 * const windows: Window[] = [new TimeWindow(0, 10), GlobalWindow.get()];
 * assert.deepEqual(windows.map((w) => w.maxTimestamp()), [9, Infinity]);
 * ```
 */
export interface Window {
  /** The largest timestamp that still belongs to the window. */
  maxTimestamp(): number;
}

/**
 * A time interval `[start, end)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimeWindow } from "@weir/weir";
 * const w = new TimeWindow(0, 10);
 * assert.equal(w.maxTimestamp(), 9);
 * assert.deepEqual([w.getStart(), w.getEnd()], [w.start, w.end]); // Flink's getters
 * assert.equal(TimeWindow.startOf(-3, 10), -10);
 * assert.ok(w.intersects(new TimeWindow(10, 20)));
 * ```
 */
export class TimeWindow implements Window {
  /** First timestamp in the window. */
  readonly start: number;
  /** First timestamp after the window. */
  readonly end: number;

  /** Creates the window `[start, end)`. */
  constructor(start: number, end: number) {
    this.start = start;
    this.end = end;
  }

  /** {@linkcode start}, by the name Flink's `TimeWindow` gives it (ported jobs call it). */
  getStart(): number {
    return this.start;
  }

  /** {@linkcode end}, by the name Flink's `TimeWindow` gives it (ported jobs call it). */
  getEnd(): number {
    return this.end;
  }

  /** `end - 1`. */
  maxTimestamp(): number {
    return this.end - 1;
  }

  /** Whether the windows overlap or touch (session windows merge then). */
  intersects(other: TimeWindow): boolean {
    return this.start <= other.end && this.end >= other.start;
  }

  /** The smallest window that contains both. */
  cover(other: TimeWindow): TimeWindow {
    return new TimeWindow(Math.min(this.start, other.start), Math.max(this.end, other.end));
  }

  /** Same interval. */
  equals(other: unknown): boolean {
    return other instanceof TimeWindow && other.start === this.start && other.end === this.end;
  }

  /** `TimeWindow{start=..., end=...}`. */
  toString(): string {
    return `TimeWindow{start=${this.start}, end=${this.end}}`;
  }

  /**
   * The start of the window of size `size` (shifted by `offset`) that holds
   * `timestamp`: starts are `offset + k * size`, for negative timestamps too.
   */
  static startOf(timestamp: number, size: number, offset = 0): number {
    const remainder = (timestamp - offset) % size;
    return remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
  }

  /** Serializes a window as its start and end (two f64). */
  static readonly serializer: Serializer<TimeWindow> = {
    id: "time-window",
    version: 1,
    write(w, out) {
      out.writeF64(w.start);
      out.writeF64(w.end);
    },
    read(r) {
      const start = r.readF64();
      return new TimeWindow(start, r.readF64());
    },
    // With a copy, the LSM backend's value cache keeps a key's session window set decoded. A
    // window is immutable (readonly fields), so as Flink's it is its own copy: the same object
    // stays its timers' namespace. Anything else becomes what a read of its write would be
    // (unary plus coerces and throws as writeF64 does).
    copy: (w) =>
      w instanceof TimeWindow && typeof w.start === "number" && typeof w.end === "number"
        ? w
        : new TimeWindow(+w.start, +w.end),
  };
}

/**
 * The one window of {@linkcode GlobalWindows}: it never ends, so only a
 * custom trigger (e.g. a count trigger) fires it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GlobalWindow } from "@weir/weir";
 * assert.equal(GlobalWindow.get().maxTimestamp(), Infinity);
 * ```
 */
export class GlobalWindow implements Window {
  static readonly #instance = new GlobalWindow();

  /** The global window. */
  static get(): GlobalWindow {
    return GlobalWindow.#instance;
  }

  /** `Infinity`: the global window never ends. */
  maxTimestamp(): number {
    return Infinity;
  }

  /** `GlobalWindow`. */
  toString(): string {
    return "GlobalWindow";
  }

  /** The global window takes no bytes. */
  static readonly serializer: Serializer<GlobalWindow> = {
    id: "global-window",
    version: 1,
    write() {},
    read: () => GlobalWindow.#instance,
  };
}
