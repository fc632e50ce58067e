/**
 * Triggers decide when a window's function runs (fires) and when its
 * contents are dropped (purged): on each element, on event-time and
 * processing-time timers, and when session windows merge.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { shownValue } from "../_options.ts";
import { checkWholeMs } from "./_event_time_value.ts";
import type { StateFor } from "../state/backend.ts";
import {
  type AnyStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../state/descriptors.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import { plainStateSerializer } from "../state/plain_serializer.ts";
import type { Window } from "./window.ts";

/**
 * What a trigger returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CountTrigger, type TriggerContext, type TriggerResult, TimeWindow } from "@weir/weir";
 * const trigger = CountTrigger.of<string>(2);
 * let count: number | undefined;
 * const ctx = {
 *   getPartitionedState: () => ({ add: (n: number) => void (count = (count ?? 0) + n), get: () => count, clear() {} }),
 * } as unknown as TriggerContext;
 * const w = new TimeWindow(0, 10);
 * const results: TriggerResult[] = [trigger.onElement("a", 1, w, ctx), trigger.onElement("b", 2, w, ctx)];
 * assert.deepEqual(results, ["CONTINUE", "FIRE"]);
 * ```
 */
export type TriggerResult = "CONTINUE" | "FIRE" | "PURGE" | "FIRE_AND_PURGE";

/** Whether a result fires the window. */
export function isFire(r: TriggerResult): boolean {
  return r === "FIRE" || r === "FIRE_AND_PURGE";
}

/** Whether a result purges the window's contents. */
export function isPurge(r: TriggerResult): boolean {
  return r === "PURGE" || r === "FIRE_AND_PURGE";
}

/**
 * What a trigger can do, scoped to the current key and window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventTimeTrigger, TimeWindow, type TriggerContext } from "@weir/weir";
 * const timers: number[] = [];
 * const ctx = {
 *   currentWatermark: () => 0,
 *   registerEventTimeTimer: (t: number) => void timers.push(t),
 * } as unknown as TriggerContext;
 * // The event-time trigger asks for a timer at the window's last timestamp.
 * assert.equal(EventTimeTrigger.create().onElement("x", 3, new TimeWindow(0, 10), ctx), "CONTINUE");
 * assert.deepEqual(timers, [9]);
 * ```
 */
export interface TriggerContext {
  /** Current event time. */
  currentWatermark(): number;
  /** Current processing time. */
  currentProcessingTime(): number;
  /** Calls `onEventTime` once the watermark reaches `time`. */
  registerEventTimeTimer(time: number): void;
  /** Deletes an event-time timer of this window. */
  deleteEventTimeTimer(time: number): void;
  /** Calls `onProcessingTime` once processing time reaches `time`. */
  registerProcessingTimeTimer(time: number): void;
  /** Deletes a processing-time timer of this window. */
  deleteProcessingTimeTimer(time: number): void;
  /** Keyed state of this key and window (trigger state). */
  getPartitionedState<D extends AnyStateDescriptor>(descriptor: D): StateFor<D>;
}

/**
 * The context of `onMerge`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventTimeTrigger, type OnMergeContext, TimeWindow } from "@weir/weir";
 * const timers: number[] = [];
 * const ctx = {
 *   currentWatermark: () => 0,
 *   registerEventTimeTimer: (t: number) => void timers.push(t),
 * } as unknown as OnMergeContext;
 * // Two sessions merged into [0, 30): the trigger re-registers the new end.
 * EventTimeTrigger.create().onMerge(new TimeWindow(0, 30), ctx);
 * assert.deepEqual(timers, [29]);
 * ```
 */
export interface OnMergeContext extends TriggerContext {
  /** Combines the merged windows' reducing state into the new window's. */
  mergePartitionedState<T>(descriptor: ReducingStateDescriptor<T>): void;
}

/**
 * Decides when windows fire. Implement it for custom triggers; timers a
 * trigger registers are deleted in `clear`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, GlobalWindow, GlobalWindows, StreamEnvironment, type Trigger,
 * } from "@weir/weir";
 * // Fires (and purges) on every record equal to "!".
 * const onBang: Trigger<string, GlobalWindow> = {
 *   onElement: (e) => (e === "!" ? "FIRE_AND_PURGE" : "CONTINUE"),
 *   onEventTime: () => "CONTINUE",
 *   onProcessingTime: () => "CONTINUE",
 *   clear() {},
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromElements("a", "b", "!", "c", "!").keyBy(() => 0)
 *   .window(GlobalWindows.create<string>()).trigger(onBang)
 *   .reduce((a, b) => a + b)
 *   .addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["ab!", "c!"]);
 * ```
 */
export interface Trigger<T, W extends Window> {
  /** An element was added to `window`. */
  onElement(
    element: T,
    timestamp: number | undefined,
    window: W,
    ctx: TriggerContext,
  ): TriggerResult;
  /** An event-time timer of `window` fired. */
  onEventTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  /** A processing-time timer of `window` fired. */
  onProcessingTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  /** Whether it supports merging windows (sessions). */
  canMerge?(): boolean;
  /** Windows merged into `window`: re-register timers, merge trigger state. */
  onMerge?(window: W, ctx: OnMergeContext): void;
  /** The window is removed: delete timers and trigger state. */
  clear(window: W, ctx: TriggerContext): void;
}

/**
 * Fires once the watermark passes the window's end; late elements (allowed
 * lateness) fire the window again at once. The default of event-time assigners.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventTimeTrigger, TimeWindow } from "@weir/weir";
 * const t = EventTimeTrigger.create();
 * assert.equal(t.onEventTime(9, new TimeWindow(0, 10)), "FIRE");
 * ```
 */
export class EventTimeTrigger<T = unknown> implements Trigger<T, Window> {
  /** The trigger. */
  static create<T = unknown>(): EventTimeTrigger<T> {
    return new EventTimeTrigger<T>();
  }
  /** Registers the end-of-window timer; fires at once if the window is already over. */
  onElement(_e: T, _ts: number | undefined, window: Window, ctx: TriggerContext): TriggerResult {
    if (window.maxTimestamp() <= ctx.currentWatermark()) return "FIRE";
    ctx.registerEventTimeTimer(window.maxTimestamp());
    return "CONTINUE";
  }
  /** Fires at the window's end. */
  onEventTime(time: number, window: Window): TriggerResult {
    return time === window.maxTimestamp() ? "FIRE" : "CONTINUE";
  }
  /** Ignores processing time. */
  onProcessingTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Merges. */
  canMerge(): boolean {
    return true;
  }
  /** Registers the merged window's end. */
  onMerge(window: Window, ctx: OnMergeContext): void {
    if (window.maxTimestamp() > ctx.currentWatermark()) {
      ctx.registerEventTimeTimer(window.maxTimestamp());
    }
  }
  /** Deletes the end-of-window timer. */
  clear(window: Window, ctx: TriggerContext): void {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }
}

/**
 * Fires once processing time passes the window's end. The default of
 * processing-time assigners.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProcessingTimeTrigger, TumblingProcessingTimeWindows } from "@weir/weir";
 * // The default trigger of processing-time windows.
 * const trigger = TumblingProcessingTimeWindows.of(1000).defaultTrigger();
 * assert.ok(trigger instanceof ProcessingTimeTrigger);
 * ```
 */
export class ProcessingTimeTrigger<T = unknown> implements Trigger<T, Window> {
  /** The trigger. */
  static create<T = unknown>(): ProcessingTimeTrigger<T> {
    return new ProcessingTimeTrigger<T>();
  }
  /** Registers the end-of-window timer. */
  onElement(_e: T, _ts: number | undefined, window: Window, ctx: TriggerContext): TriggerResult {
    ctx.registerProcessingTimeTimer(window.maxTimestamp());
    return "CONTINUE";
  }
  /** Ignores event time. */
  onEventTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Fires at the window's end. */
  onProcessingTime(): TriggerResult {
    return "FIRE";
  }
  /** Merges. */
  canMerge(): boolean {
    return true;
  }
  /** Registers the merged window's end. */
  onMerge(window: Window, ctx: OnMergeContext): void {
    if (window.maxTimestamp() > ctx.currentProcessingTime()) {
      ctx.registerProcessingTimeTimer(window.maxTimestamp());
    }
  }
  /** Deletes the end-of-window timer. */
  clear(window: Window, ctx: TriggerContext): void {
    ctx.deleteProcessingTimeTimer(window.maxTimestamp());
  }
}

const sum = (a: number, b: number) => a + b;

/**
 * Fires every `count` elements of a window (the count is trigger state, kept
 * per key and window, and merged for sessions).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CountTrigger } from "@weir/weir";
 * assert.equal(CountTrigger.of(3).count, 3);
 * ```
 */
export class CountTrigger<T = unknown> implements Trigger<T, Window> {
  /** Elements per firing. */
  readonly count: number;
  readonly #state = new ReducingStateDescriptor<number>("count-trigger", sum, Serializers.f64);

  private constructor(count: number) {
    if (!Number.isInteger(count) || count < 1) {
      throw new ConfigError(`CountTrigger needs a count >= 1, got ${shownValue(count)}`);
    }
    this.count = count;
  }

  /** Fires every `count` elements. */
  static of<T = unknown>(count: number): CountTrigger<T> {
    return new CountTrigger<T>(count);
  }
  /** Counts; fires (and restarts the count) at `count`. */
  onElement(_e: T, _ts: number | undefined, _w: Window, ctx: TriggerContext): TriggerResult {
    const c = ctx.getPartitionedState(this.#state);
    c.add(1);
    if (c.get()! >= this.count) {
      c.clear();
      return "FIRE";
    }
    return "CONTINUE";
  }
  /** Ignores event time. */
  onEventTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Ignores processing time. */
  onProcessingTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Merges. */
  canMerge(): boolean {
    return true;
  }
  /** Adds up the merged windows' counts. */
  onMerge(_w: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.#state);
  }
  /** Drops the count. */
  clear(_w: Window, ctx: TriggerContext): void {
    ctx.getPartitionedState(this.#state).clear();
  }
}

/**
 * Turns every FIRE of the wrapped trigger into FIRE_AND_PURGE: each firing
 * sees only the elements since the last one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CountTrigger, PurgingTrigger } from "@weir/weir";
 * const t = PurgingTrigger.of(CountTrigger.of(1));
 * const state = { add() {}, get: () => 1, clear() {} };
 * const ctx = { getPartitionedState: () => state } as never;
 * assert.equal(t.onElement("x", 0, {} as never, ctx), "FIRE_AND_PURGE");
 * ```
 */
export class PurgingTrigger<T, W extends Window> implements Trigger<T, W> {
  readonly #inner: Trigger<T, W>;
  private constructor(inner: Trigger<T, W>) {
    this.#inner = inner;
  }
  /** Wraps `inner`. */
  static of<T, W extends Window>(inner: Trigger<T, W>): PurgingTrigger<T, W> {
    return new PurgingTrigger(inner);
  }
  static #purging(r: TriggerResult): TriggerResult {
    return isFire(r) ? "FIRE_AND_PURGE" : r;
  }
  /** The inner result, purging. */
  onElement(e: T, ts: number | undefined, w: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.#purging(this.#inner.onElement(e, ts, w, ctx));
  }
  /** The inner result, purging. */
  onEventTime(time: number, w: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.#purging(this.#inner.onEventTime(time, w, ctx));
  }
  /** The inner result, purging. */
  onProcessingTime(time: number, w: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.#purging(this.#inner.onProcessingTime(time, w, ctx));
  }
  /** As the inner trigger. */
  canMerge(): boolean {
    return this.#inner.canMerge?.() ?? false;
  }
  /** As the inner trigger. */
  onMerge(w: W, ctx: OnMergeContext): void {
    this.#inner.onMerge?.(w, ctx);
  }
  /** As the inner trigger. */
  clear(w: W, ctx: TriggerContext): void {
    this.#inner.clear(w, ctx);
  }
}

/**
 * Fires when the wrapped trigger fires, or `timeout` ms of processing time after a window's first
 * element (Flink's `ProcessingTimeoutTrigger`). With `resetTimerOnNewRecord` every element starts
 * the timeout again; with `shouldClearOnTimeout` (the default) a timer clears the trigger (its
 * timeout and the wrapped trigger's state). As in Flink, any timer of the window (the timeout, or
 * one the wrapped trigger registered) fires it, purging when the wrapped trigger purges.
 *
 * @example Batches of 3, or what has come within 100 ms
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, CountTrigger, GlobalWindows, ProcessingTimeoutTrigger, PurgingTrigger, StreamEnvironment,
 * } from "@weir/weir";
 * import { JobTestDriver, ManualClock, TestSource } from "@weir/weir/testing";
 * const env = StreamEnvironment.create({ clock: new ManualClock(0) });
 * const items = new TestSource<number>();
 * const out = new CollectSink<number[]>();
 * env.addSource(items).keyBy(() => "all")
 *   .window(GlobalWindows.create<number>())
 *   .trigger(PurgingTrigger.of(ProcessingTimeoutTrigger.of(CountTrigger.of<number>(3), 100)))
 *   .process({ process: (_k, _c, els: number[], o) => o.collect(els) })
 *   .addSink(out);
 * const driver = await JobTestDriver.start(env);
 * items.push(1, 2, 3, 4);
 * await driver.settle();
 * await driver.advanceProcessingTime(100);
 * assert.deepEqual(out.values, [[1, 2, 3], [4]]);
 * await driver.close();
 * ```
 */
export class ProcessingTimeoutTrigger<T, W extends Window> implements Trigger<T, W> {
  /** ms of processing time before the window fires. */
  readonly timeout: number;
  readonly #inner: Trigger<T, W>;
  readonly #reset: boolean;
  readonly #clearOnTimeout: boolean;
  readonly #timeout = new ValueStateDescriptor<number>("timeout", Serializers.f64);
  private constructor(inner: Trigger<T, W>, timeout: number, reset: boolean, clear: boolean) {
    if (!Number.isFinite(timeout) || timeout < 0) {
      throw new ConfigError(
        `ProcessingTimeoutTrigger needs a timeout >= 0 ms, got ${shownValue(timeout)}`,
      );
    }
    checkWholeMs("ProcessingTimeoutTrigger timeout", timeout);
    this.#inner = inner;
    this.timeout = timeout;
    this.#reset = reset;
    this.#clearOnTimeout = clear;
  }
  /** Wraps `inner` with a timeout of `timeout` ms from a window's first element. */
  static of<T, W extends Window>(
    inner: Trigger<T, W>,
    timeout: number,
    resetTimerOnNewRecord = false,
    shouldClearOnTimeout = true,
  ): ProcessingTimeoutTrigger<T, W> {
    return new ProcessingTimeoutTrigger(
      inner,
      timeout,
      resetTimerOnNewRecord,
      shouldClearOnTimeout,
    );
  }
  /** The inner result; a firing clears the timeout, else the timeout is started (or restarted). */
  onElement(e: T, ts: number | undefined, w: W, ctx: TriggerContext): TriggerResult {
    const r = this.#inner.onElement(e, ts, w, ctx);
    if (isFire(r)) {
      this.clear(w, ctx);
      return r;
    }
    const state = ctx.getPartitionedState(this.#timeout);
    let at = state.value();
    if (at !== undefined && this.#reset) {
      ctx.deleteProcessingTimeTimer(at);
      at = undefined;
    }
    if (at === undefined) {
      at = ctx.currentProcessingTime() + this.timeout;
      state.update(at);
      ctx.registerProcessingTimeTimer(at);
    }
    return r;
  }
  /** Fires (purging when the inner trigger purges). */
  onProcessingTime(time: number, w: W, ctx: TriggerContext): TriggerResult {
    return this.#fireOnTimer(this.#inner.onProcessingTime(time, w, ctx), w, ctx);
  }
  /** Fires (purging when the inner trigger purges). */
  onEventTime(time: number, w: W, ctx: TriggerContext): TriggerResult {
    return this.#fireOnTimer(this.#inner.onEventTime(time, w, ctx), w, ctx);
  }
  #fireOnTimer(r: TriggerResult, w: W, ctx: TriggerContext): TriggerResult {
    if (this.#clearOnTimeout) this.clear(w, ctx);
    return isPurge(r) ? "FIRE_AND_PURGE" : "FIRE";
  }
  /** Deletes the timeout and clears the inner trigger. */
  clear(w: W, ctx: TriggerContext): void {
    const state = ctx.getPartitionedState(this.#timeout);
    const at = state.value();
    if (at !== undefined) {
      ctx.deleteProcessingTimeTimer(at);
      state.clear();
    }
    this.#inner.clear(w, ctx);
  }
}

/**
 * Never fires: the default of {@linkcode GlobalWindows}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GlobalWindows, NeverTrigger } from "@weir/weir";
 * // Global windows never fire unless given another trigger (say a CountTrigger).
 * assert.ok(GlobalWindows.create().defaultTrigger() instanceof NeverTrigger);
 * ```
 */
export class NeverTrigger<T = unknown> implements Trigger<T, Window> {
  /** The trigger. */
  static create<T = unknown>(): NeverTrigger<T> {
    return new NeverTrigger<T>();
  }
  /** Continues. */
  onElement(): TriggerResult {
    return "CONTINUE";
  }
  /** Continues. */
  onEventTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Continues. */
  onProcessingTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Merges. */
  canMerge(): boolean {
    return true;
  }
  /** Nothing to do. */
  onMerge(): void {}
  /** Nothing to clear. */
  clear(): void {}
}

/**
 * How far apart two elements are (Flink's DeltaFunction): used by
 * {@linkcode DeltaTrigger} and `DeltaEvictor`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeltaFunction } from "@weir/weir";
 * const priceMove: DeltaFunction<{ price: number }> = (a, b) => Math.abs(b.price - a.price);
 * assert.equal(priceMove({ price: 10 }, { price: 7 }), 3);
 * ```
 */
export type DeltaFunction<T> = (oldPoint: T, newPoint: T) => number;

const earliest = (a: number, b: number) => Math.min(a, b);

function checkInterval(name: string, interval: number): number {
  if (!Number.isFinite(interval) || interval <= 0) {
    throw new ConfigError(`${name} needs an interval > 0 ms, got ${shownValue(interval)}`);
  }
  checkWholeMs(`${name} interval`, interval);
  return interval;
}

/**
 * Fires a window every `interval` ms of event time while it is open (early
 * results), and at its end. The next firing time is trigger state (merged
 * for sessions). A global window (no end) stops its early firings at the
 * final watermark (+Infinity), where its end fires it once more.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, ContinuousEventTimeTrigger, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy,
 * } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * env.fromElements(1, 5, 12, 18, 25)
 *   .assignTimestampsAndWatermarks(
 *     WatermarkStrategy.forGenerator<number>(() => ({ onEvent: (_e, ts, o) => o.emitWatermark(ts), onPeriodicEmit() {} }))
 *       .withTimestampAssigner((n) => n),
 *   )
 *   .keyBy(() => "all")
 *   .window(TumblingEventTimeWindows.of<number>(30))
 *   .trigger(ContinuousEventTimeTrigger.of(10))
 *   .reduce((a, b) => a + b)
 *   .addSink(out);
 * await env.execute();
 * // The watermark of 12 passes 10: an early firing of 1 + 5 + 12; that of 25 passes 20; then
 * // the window's end (29).
 * assert.deepEqual(out.values, [18, 61, 61]);
 * ```
 */
export class ContinuousEventTimeTrigger<T = unknown> implements Trigger<T, Window> {
  /** ms of event time between firings. */
  readonly interval: number;
  readonly #next = new ReducingStateDescriptor<number>("fire-time", earliest, Serializers.f64);
  private constructor(interval: number) {
    this.interval = checkInterval("ContinuousEventTimeTrigger", interval);
  }
  /** Fires every `interval` ms of event time. */
  static of<T = unknown>(interval: number): ContinuousEventTimeTrigger<T> {
    return new ContinuousEventTimeTrigger<T>(interval);
  }
  #registerNext(time: number, window: Window, ctx: TriggerContext): void {
    const next = Math.min(time + this.interval, window.maxTimestamp());
    ctx.getPartitionedState(this.#next).add(next);
    ctx.registerEventTimeTimer(next);
  }
  /** Registers the window's end and, for its first element, the first firing time. */
  onElement(_e: T, ts: number | undefined, window: Window, ctx: TriggerContext): TriggerResult {
    if (window.maxTimestamp() <= ctx.currentWatermark()) return "FIRE";
    ctx.registerEventTimeTimer(window.maxTimestamp());
    if (ts === undefined) {
      throw new ConfigError("ContinuousEventTimeTrigger needs records with event timestamps");
    }
    if (ctx.getPartitionedState(this.#next).get() === undefined) {
      this.#registerNext(
        ts - (((ts % this.interval) + this.interval) % this.interval),
        window,
        ctx,
      );
    }
    return "CONTINUE";
  }
  /** Fires at the window's end and at each firing time (then schedules the next). */
  onEventTime(time: number, window: Window, ctx: TriggerContext): TriggerResult {
    if (time === window.maxTimestamp()) return "FIRE";
    const next = ctx.getPartitionedState(this.#next);
    if (next.get() === time) {
      next.clear();
      // At the final watermark (+Infinity: end of input, a drain) a window without end (global)
      // would fire every interval for ever, each next time due at once; its end-of-window timer,
      // at +Infinity too, fires it last instead.
      if (window.maxTimestamp() !== Infinity || ctx.currentWatermark() !== Infinity) {
        this.#registerNext(time, window, ctx);
      }
      return "FIRE";
    }
    return "CONTINUE";
  }
  /** Ignores processing time. */
  onProcessingTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Merges. */
  canMerge(): boolean {
    return true;
  }
  /** Keeps the earliest firing time of the merged windows. */
  onMerge(window: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.#next);
    const next = ctx.getPartitionedState(this.#next).get();
    if (next !== undefined) ctx.registerEventTimeTimer(next);
    if (window.maxTimestamp() > ctx.currentWatermark()) {
      ctx.registerEventTimeTimer(window.maxTimestamp());
    }
  }
  /** Deletes the timers and the firing time. */
  clear(window: Window, ctx: TriggerContext): void {
    const next = ctx.getPartitionedState(this.#next);
    const t = next.get();
    if (t !== undefined) ctx.deleteEventTimeTimer(t);
    next.clear();
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }
}

/**
 * Fires a window every `interval` ms of processing time, aligned to multiples
 * of `interval`, up to its end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, ContinuousProcessingTimeTrigger, StreamEnvironment, TumblingProcessingTimeWindows,
 * } from "@weir/weir";
 * import { JobTestDriver, ManualClock, TestSource } from "@weir/weir/testing";
 * // A minute's running total, refreshed every 10 seconds.
 * const env = StreamEnvironment.create({ clock: new ManualClock(0) });
 * const amounts = new TestSource<number>();
 * const out = new CollectSink<number>();
 * env.addSource(amounts).keyBy(() => "all")
 *   .window(TumblingProcessingTimeWindows.of<number>(60_000))
 *   .trigger(ContinuousProcessingTimeTrigger.of(10_000))
 *   .reduce((a, b) => a + b)
 *   .addSink(out);
 * const driver = await JobTestDriver.start(env);
 * amounts.push(5, 7);
 * await driver.settle();
 * await driver.advanceProcessingTime(10_000);
 * amounts.push(3);
 * await driver.settle();
 * await driver.advanceProcessingTime(10_000);
 * assert.deepEqual(out.values, [12, 15]);
 * await driver.close();
 * ```
 */
export class ContinuousProcessingTimeTrigger<T = unknown> implements Trigger<T, Window> {
  /** ms of processing time between firings. */
  readonly interval: number;
  readonly #next = new ReducingStateDescriptor<number>("fire-time", earliest, Serializers.f64);
  private constructor(interval: number) {
    this.interval = checkInterval("ContinuousProcessingTimeTrigger", interval);
  }
  /** Fires every `interval` ms of processing time. */
  static of<T = unknown>(interval: number): ContinuousProcessingTimeTrigger<T> {
    return new ContinuousProcessingTimeTrigger<T>(interval);
  }
  #registerNext(time: number, window: Window, ctx: TriggerContext): void {
    const next = Math.min(time + this.interval, window.maxTimestamp());
    ctx.getPartitionedState(this.#next).add(next);
    ctx.registerProcessingTimeTimer(next);
  }
  /** For a window's first element, schedules the next aligned firing. */
  onElement(_e: T, _ts: number | undefined, window: Window, ctx: TriggerContext): TriggerResult {
    if (ctx.getPartitionedState(this.#next).get() === undefined) {
      const now = ctx.currentProcessingTime();
      this.#registerNext(now - (now % this.interval), window, ctx);
    }
    return "CONTINUE";
  }
  /** Ignores event time. */
  onEventTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Fires at the firing time and schedules the next. */
  onProcessingTime(time: number, window: Window, ctx: TriggerContext): TriggerResult {
    const next = ctx.getPartitionedState(this.#next);
    if (next.get() !== time) return "CONTINUE";
    next.clear();
    // The window's end was the last firing.
    if (time < window.maxTimestamp()) this.#registerNext(time, window, ctx);
    return "FIRE";
  }
  /** Merges. */
  canMerge(): boolean {
    return true;
  }
  /** Keeps the earliest firing time of the merged windows. */
  onMerge(_w: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.#next);
    const next = ctx.getPartitionedState(this.#next).get();
    if (next !== undefined) ctx.registerProcessingTimeTimer(next);
  }
  /** Deletes the timer and the firing time. */
  clear(_w: Window, ctx: TriggerContext): void {
    const next = ctx.getPartitionedState(this.#next);
    const t = next.get();
    if (t !== undefined) ctx.deleteProcessingTimeTimer(t);
    next.clear();
  }
}

/**
 * Fires when an element is more than `threshold` away (by `delta`) from the
 * element of the last firing (the first element of the window starts it).
 * That element is trigger state, written with `serializer` (JSON by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, DeltaTrigger, GlobalWindows, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number[]>();
 * env.fromElements(10, 11, 12, 16, 17, 30).keyBy(() => "price")
 *   .window(GlobalWindows.create<number>())
 *   .trigger(DeltaTrigger.of(4, (a: number, b: number) => Math.abs(b - a)))
 *   .process({ process: (_k, _c, els: Iterable<number>, o) => o.collect([...els]) })
 *   .addSink(out);
 * await env.execute();
 * // 16 is more than 4 from 10; 30 more than 4 from 16.
 * assert.deepEqual(out.values, [[10, 11, 12, 16], [10, 11, 12, 16, 17, 30]]);
 * ```
 */
export class DeltaTrigger<T> implements Trigger<T, Window> {
  /** The distance that fires. */
  readonly threshold: number;
  readonly #delta: DeltaFunction<T>;
  readonly #last: ValueStateDescriptor<T>;
  private constructor(threshold: number, delta: DeltaFunction<T>, serializer: Serializer<T>) {
    if (!(threshold >= 0)) {
      throw new ConfigError(`DeltaTrigger needs a threshold >= 0, got ${threshold}`);
    }
    this.threshold = threshold;
    this.#delta = delta;
    this.#last = new ValueStateDescriptor<T>("delta-trigger-last", serializer);
  }
  /**
   * Fires when `delta(last fired, element) > threshold`. `serializer` keeps the element of the
   * last firing; default `Serializers.plain` (plain values come back as they were).
   */
  static of<T>(
    threshold: number,
    delta: DeltaFunction<T>,
    serializer: Serializer<T> = plainStateSerializer<T>(
      "a DeltaTrigger",
      "DeltaTrigger.of(threshold, delta, serializer)",
    ),
  ): DeltaTrigger<T> {
    return new DeltaTrigger<T>(threshold, delta, serializer);
  }
  /** Compares with the element of the last firing. */
  onElement(element: T, _ts: number | undefined, _w: Window, ctx: TriggerContext): TriggerResult {
    const last = ctx.getPartitionedState(this.#last);
    const prev = last.value();
    if (prev === undefined) {
      last.update(element);
      return "CONTINUE";
    }
    if (this.#delta(prev, element) > this.threshold) {
      last.update(element);
      return "FIRE";
    }
    return "CONTINUE";
  }
  /** Ignores event time. */
  onEventTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Ignores processing time. */
  onProcessingTime(): TriggerResult {
    return "CONTINUE";
  }
  /** Drops the element of the last firing. */
  clear(_w: Window, ctx: TriggerContext): void {
    ctx.getPartitionedState(this.#last).clear();
  }
}
