/**
 * Evictors remove elements from a window's contents before and/or after its
 * function runs (a window with an evictor keeps every element, no
 * pre-aggregation).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { shownValue } from "../_options.ts";
import { checkWholeMs } from "./_event_time_value.ts";
import type { DeltaFunction } from "./triggers.ts";
import type { Window } from "./window.ts";

/**
 * An element in a window's contents, with its timestamp.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CountEvictor, type TimestampedValue } from "@weir/weir";
 * const elements: TimestampedValue<string>[] = [
 *   { value: "a", timestamp: 1 }, { value: "b", timestamp: 2 }, { value: "c", timestamp: 3 },
 * ];
 * CountEvictor.of<string>(2).evictBefore(elements);
 * assert.deepEqual(elements.map((e) => e.value), ["b", "c"]);
 * ```
 */
export interface TimestampedValue<T> {
  /** The element. */
  readonly value: T;
  /** Its event timestamp (undefined in processing-time windows without timestamps). */
  readonly timestamp: number | undefined;
}

/**
 * What an evictor can read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type Evictor, type EvictorContext, StreamEnvironment, type TimeWindow,
 *   TumblingEventTimeWindows, WatermarkStrategy,
 * } from "@weir/weir";
 * const firedAt: number[] = [];
 * const evictor: Evictor<number, TimeWindow> = {
 *   evictBefore(_elements, _size, _window, ctx: EvictorContext) {
 *     firedAt.push(ctx.currentWatermark());
 *   },
 *   evictAfter() {},
 * };
 * const env = StreamEnvironment.create({ executor: "inline" });
 * env.fromElements(1, 3, 15) // a watermark after each: its timestamp
 *   .assignTimestampsAndWatermarks(WatermarkStrategy.forGenerator<number>(() => ({
 *     onEvent: (_n, ts, out) => out.emitWatermark(ts),
 *     onPeriodicEmit() {},
 *   })).withTimestampAssigner((n) => n))
 *   .keyBy(() => "all").window(TumblingEventTimeWindows.of<number>(10)).evictor(evictor)
 *   .reduce((a, b) => a + b);
 * await env.execute();
 * // [0, 10) fired on 15's watermark; [10, 20) at the end of input.
 * assert.deepEqual(firedAt, [15, Infinity]);
 * ```
 */
export interface EvictorContext {
  /** Current event time. */
  currentWatermark(): number;
  /** Current processing time. */
  currentProcessingTime(): number;
}

/**
 * Removes elements from a window (edit `elements` in place: splice or
 * filter into it). `size` is `elements.length`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, type Evictor, StreamEnvironment, type TimestampedValue, type TimeWindow,
 *   TumblingEventTimeWindows, WatermarkStrategy,
 * } from "@weir/weir";
 * // Drops negative readings before the window function sees them.
 * const dropNegative: Evictor<number, TimeWindow> = {
 *   evictBefore(elements: TimestampedValue<number>[]) {
 *     const kept = elements.filter((e) => e.value >= 0);
 *     elements.splice(0, elements.length, ...kept);
 *   },
 *   evictAfter() {},
 * };
 * const env = StreamEnvironment.create({ executor: "inline" });
 * const out = new CollectSink<number>();
 * env.fromElements(1, -2, 3, 15)
 *   .assignTimestampsAndWatermarks(
 *     WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner(Math.abs),
 *   )
 *   .keyBy(() => "all").window(TumblingEventTimeWindows.of<number>(10)).evictor(dropNegative)
 *   .reduce((a, b) => a + b).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, [4, 15]); // 1 + 3 in [0, 10), without -2; 15 in [10, 20)
 * ```
 */
export interface Evictor<T, W extends Window> {
  /** Before the window function runs. */
  evictBefore(elements: TimestampedValue<T>[], size: number, window: W, ctx: EvictorContext): void;
  /** After the window function runs. */
  evictAfter(elements: TimestampedValue<T>[], size: number, window: W, ctx: EvictorContext): void;
}

/**
 * Keeps at most `maxCount` elements: the newest (count windows with a slide use it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CountEvictor } from "@weir/weir";
 * const els = [1, 2, 3, 4].map((value) => ({ value, timestamp: value }));
 * CountEvictor.of(2).evictBefore(els);
 * assert.deepEqual(els.map((e) => e.value), [3, 4]);
 * ```
 */
export class CountEvictor<T = unknown> implements Evictor<T, Window> {
  readonly #max: number;
  readonly #after: boolean;
  private constructor(max: number, after: boolean) {
    if (!Number.isInteger(max) || max < 0) {
      throw new ConfigError(`CountEvictor needs a count >= 0, got ${shownValue(max)}`);
    }
    this.#max = max;
    this.#after = after;
  }
  /** Keeps the newest `maxCount`; with `doEvictAfter` after the function runs. */
  static of<T = unknown>(maxCount: number, doEvictAfter = false): CountEvictor<T> {
    return new CountEvictor<T>(maxCount, doEvictAfter);
  }
  #evict(elements: TimestampedValue<T>[]): void {
    if (elements.length > this.#max) elements.splice(0, elements.length - this.#max);
  }
  /** Evicts unless evicting after. */
  evictBefore(elements: TimestampedValue<T>[]): void {
    if (!this.#after) this.#evict(elements);
  }
  /** Evicts when evicting after. */
  evictAfter(elements: TimestampedValue<T>[]): void {
    if (this.#after) this.#evict(elements);
  }
}

/**
 * Keeps elements whose timestamp is within `windowSizeMs` of the newest one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimeEvictor } from "@weir/weir";
 * const els = [1, 5, 9].map((t) => ({ value: t, timestamp: t }));
 * TimeEvictor.of(5).evictBefore(els);
 * assert.deepEqual(els.map((e) => e.value), [5, 9]);
 * ```
 */
export class TimeEvictor<T = unknown> implements Evictor<T, Window> {
  readonly #size: number;
  readonly #after: boolean;
  private constructor(size: number, after: boolean) {
    if (!(size >= 0)) throw new ConfigError(`TimeEvictor needs a size >= 0 ms, got ${size}`);
    checkWholeMs("TimeEvictor size", size);
    this.#size = size;
    this.#after = after;
  }
  /** Keeps the last `windowSizeMs` ms; with `doEvictAfter` after the function runs. */
  static of<T = unknown>(windowSizeMs: number, doEvictAfter = false): TimeEvictor<T> {
    return new TimeEvictor<T>(windowSizeMs, doEvictAfter);
  }
  #evict(elements: TimestampedValue<T>[]): void {
    let max = -Infinity;
    for (const e of elements) if (e.timestamp !== undefined && e.timestamp > max) max = e.timestamp;
    if (max === -Infinity) return;
    const cut = max - this.#size;
    let j = 0;
    for (const e of elements) if (e.timestamp === undefined || e.timestamp > cut) elements[j++] = e;
    elements.length = j;
  }
  /** Evicts unless evicting after. */
  evictBefore(elements: TimestampedValue<T>[]): void {
    if (!this.#after) this.#evict(elements);
  }
  /** Evicts when evicting after. */
  evictAfter(elements: TimestampedValue<T>[]): void {
    if (this.#after) this.#evict(elements);
  }
}

/**
 * Evicts the elements at least `threshold` away (by `delta`) from the
 * window's last element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeltaEvictor } from "@weir/weir";
 * const els = [1, 8, 9, 3, 10].map((v, i) => ({ value: v, timestamp: i }));
 * DeltaEvictor.of(3, (a: number, b: number) => Math.abs(b - a)).evictBefore(els);
 * assert.deepEqual(els.map((e) => e.value), [8, 9, 10]);
 * ```
 */
export class DeltaEvictor<T> implements Evictor<T, Window> {
  readonly #threshold: number;
  readonly #delta: DeltaFunction<T>;
  readonly #after: boolean;
  private constructor(threshold: number, delta: DeltaFunction<T>, after: boolean) {
    if (!(threshold >= 0)) {
      throw new ConfigError(`DeltaEvictor needs a threshold >= 0, got ${threshold}`);
    }
    this.#threshold = threshold;
    this.#delta = delta;
    this.#after = after;
  }
  /** Evicts elements `threshold` or more from the last; with `doEvictAfter` after the function. */
  static of<T>(threshold: number, delta: DeltaFunction<T>, doEvictAfter = false): DeltaEvictor<T> {
    return new DeltaEvictor<T>(threshold, delta, doEvictAfter);
  }
  #evict(elements: TimestampedValue<T>[]): void {
    const last = elements.at(-1);
    if (last === undefined) return;
    let j = 0;
    for (const e of elements) {
      if (this.#delta(e.value, last.value) < this.#threshold) elements[j++] = e;
    }
    elements.length = j;
  }
  /** Evicts unless evicting after. */
  evictBefore(elements: TimestampedValue<T>[]): void {
    if (!this.#after) this.#evict(elements);
  }
  /** Evicts when evicting after. */
  evictAfter(elements: TimestampedValue<T>[]): void {
    if (this.#after) this.#evict(elements);
  }
}
