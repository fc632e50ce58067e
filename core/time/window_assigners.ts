/**
 * Window assigners: which windows an element belongs to. Tumbling, sliding
 * and session windows in event or processing time, and global windows (for
 * count windows and custom triggers).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { shownValue } from "../_options.ts";
import { checkWholeMs } from "./_event_time_value.ts";
import type { Serializer } from "../state/serializer.ts";
import { GlobalWindow, TimeWindow, type Window } from "./window.ts";
import { EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, type Trigger } from "./triggers.ts";

/**
 * What an assigner can read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TumblingProcessingTimeWindows, type WindowAssignerContext } from "@weir/weir";
 * const ctx: WindowAssignerContext = { currentProcessingTime: () => 1234 };
 * const [w] = TumblingProcessingTimeWindows.of(1000).assignWindows("x", undefined, ctx);
 * assert.deepEqual([w!.start, w!.end], [1000, 2000]);
 * ```
 */
export interface WindowAssignerContext {
  /** Current processing time. */
  currentProcessingTime(): number;
}

/**
 * Assigns elements to windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, EventTimeTrigger, StreamEnvironment, TimeWindow, type WindowAssigner, WatermarkStrategy,
 * } from "@weir/weir";
 * // Windows aligned to even/odd hundreds: [0, 200), [200, 400), ...
 * const pairs: WindowAssigner<number, TimeWindow> = {
 *   assignWindows: (_e, ts) => [new TimeWindow(Math.floor(ts! / 200) * 200, Math.floor(ts! / 200) * 200 + 200)],
 *   defaultTrigger: () => EventTimeTrigger.create(),
 *   windowSerializer: TimeWindow.serializer,
 *   isEventTime: true,
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * env.fromElements(10, 150, 250)
 *   .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n))
 *   .keyBy(() => 0).window(pairs).reduce((a, b) => a + b).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, [160, 250]);
 * ```
 */
export interface WindowAssigner<T, W extends Window> {
  /**
   * The windows `element` (with event timestamp `timestamp`) belongs to. The
   * array may be shared between calls (the built-in assigners return their
   * last, frozen, assignment again): do not modify it.
   */
  assignWindows(element: T, timestamp: number | undefined, ctx: WindowAssignerContext): W[];
  /** The trigger used unless `WindowedStream.trigger` sets another. */
  defaultTrigger(): Trigger<T, W>;
  /** Serializes windows (window state and timers use the window as namespace). */
  readonly windowSerializer: Serializer<W>;
  /** Whether windows are in event time (lateness and the watermark apply). */
  readonly isEventTime: boolean;
  /**
   * Merging assigners (sessions): merges overlapping windows. Calls
   * `merge(result, merged)` for every group of two or more windows that become one.
   */
  mergeWindows?(windows: W[], merge: (result: W, merged: W[]) => void): void;
}

function checkPositive(what: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new ConfigError(`${what} must be > 0 ms, got ${shownValue(v)}`);
  }
  checkWholeMs(what, v);
}

/** `bound` names what the offset must stay under: a tumbling window's size, a sliding one's slide. */
function checkOffset(offset: number, bound: number, name: "size" | "slide"): void {
  checkWholeMs("Window offset", offset);
  if (!(Math.abs(offset) < bound)) {
    throw new ConfigError(
      `Window offset must satisfy |offset| < ${name}, got offset ${offset}, ${name} ${bound}`,
    );
  }
}

abstract class TumblingWindows<T> implements WindowAssigner<T, TimeWindow> {
  readonly size: number;
  readonly offset: number;
  readonly windowSerializer: Serializer<TimeWindow> = TimeWindow.serializer;
  abstract readonly isEventTime: boolean;
  constructor(size: number, offset: number) {
    checkPositive("Tumbling window size", size);
    checkOffset(offset, size, "size");
    this.size = size;
    this.offset = offset;
  }
  // The last assignment: consecutive elements mostly fall into the same window.
  #lastStart = NaN;
  #last: TimeWindow[] = [];
  protected windowOf(ts: number): TimeWindow[] {
    const start = TimeWindow.startOf(ts, this.size, this.offset);
    if (start !== this.#lastStart) {
      this.#lastStart = start;
      this.#last = Object.freeze([new TimeWindow(start, start + this.size)]) as TimeWindow[];
    }
    return this.#last;
  }
  abstract assignWindows(e: T, ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[];
  abstract defaultTrigger(): Trigger<T, TimeWindow>;
}

/**
 * Tumbling event-time windows: fixed size, no overlap, starts at
 * `offset + k * size`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TumblingEventTimeWindows } from "@weir/weir";
 * const [w] = TumblingEventTimeWindows.of(10).assignWindows("x", 25, { currentProcessingTime: () => 0 });
 * assert.deepEqual([w!.start, w!.end], [20, 30]);
 * ```
 */
export class TumblingEventTimeWindows<T = unknown> extends TumblingWindows<T> {
  readonly isEventTime = true;
  /** Windows of `size` ms, shifted by `offset` ms (whole ms, else a `ConfigError`). */
  static of<T = unknown>(size: number, offset = 0): TumblingEventTimeWindows<T> {
    return new TumblingEventTimeWindows<T>(size, offset);
  }
  /** The window holding `timestamp`. */
  assignWindows(_e: T, ts: number | undefined, _ctx?: WindowAssignerContext): TimeWindow[] {
    return this.windowOf(eventTime(ts));
  }
  /** Fires when the watermark passes the window's end. */
  defaultTrigger(): Trigger<T, TimeWindow> {
    return EventTimeTrigger.create<T>();
  }
}

/**
 * Tumbling processing-time windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TumblingProcessingTimeWindows } from "@weir/weir";
 * const assigner = TumblingProcessingTimeWindows.of(60_000);
 * const [w] = assigner.assignWindows("x", undefined, { currentProcessingTime: () => 61_000 });
 * assert.deepEqual([w!.start, w!.end, assigner.isEventTime], [60_000, 120_000, false]);
 * ```
 */
export class TumblingProcessingTimeWindows<T = unknown> extends TumblingWindows<T> {
  readonly isEventTime = false;
  /** Windows of `size` ms, shifted by `offset` ms (whole ms, else a `ConfigError`). */
  static of<T = unknown>(size: number, offset = 0): TumblingProcessingTimeWindows<T> {
    return new TumblingProcessingTimeWindows<T>(size, offset);
  }
  /** The window holding the current processing time. */
  assignWindows(_e: T, _ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[] {
    return this.windowOf(ctx.currentProcessingTime());
  }
  /** Fires when processing time passes the window's end. */
  defaultTrigger(): Trigger<T, TimeWindow> {
    return ProcessingTimeTrigger.create<T>();
  }
}

abstract class SlidingWindows<T> implements WindowAssigner<T, TimeWindow> {
  readonly size: number;
  readonly slide: number;
  readonly offset: number;
  readonly windowSerializer: Serializer<TimeWindow> = TimeWindow.serializer;
  abstract readonly isEventTime: boolean;
  constructor(size: number, slide: number, offset: number) {
    checkPositive("Sliding window size", size);
    checkPositive("Sliding window slide", slide);
    checkOffset(offset, slide, "slide");
    this.size = size;
    this.slide = slide;
    this.offset = offset;
  }
  // The last assignment: consecutive elements mostly fall into the same slide,
  // and when the size is a multiple of the slide, the slide fixes the windows.
  #lastStart = NaN;
  #last: TimeWindow[] = [];
  protected windowsOf(ts: number): TimeWindow[] {
    const last = TimeWindow.startOf(ts, this.slide, this.offset);
    if (last === this.#lastStart) return this.#last;
    const out: TimeWindow[] = [];
    for (let start = last; start > ts - this.size; start -= this.slide) {
      out.push(new TimeWindow(start, start + this.size));
    }
    if (this.size % this.slide !== 0) return out;
    this.#lastStart = last;
    this.#last = Object.freeze(out) as TimeWindow[];
    return this.#last;
  }
  abstract assignWindows(e: T, ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[];
  abstract defaultTrigger(): Trigger<T, TimeWindow>;
}

/**
 * Sliding event-time windows: `size` ms long, one starting every `slide` ms,
 * so an element is in `ceil(size / slide)` windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SlidingEventTimeWindows } from "@weir/weir";
 * const ws = SlidingEventTimeWindows.of(10, 5).assignWindows("x", 12, { currentProcessingTime: () => 0 });
 * assert.deepEqual(ws.map((w) => w.start), [10, 5]);
 * ```
 */
export class SlidingEventTimeWindows<T = unknown> extends SlidingWindows<T> {
  readonly isEventTime = true;
  /** Windows of `size` ms every `slide` ms, shifted by `offset` ms (all whole ms). */
  static of<T = unknown>(size: number, slide: number, offset = 0): SlidingEventTimeWindows<T> {
    return new SlidingEventTimeWindows<T>(size, slide, offset);
  }
  /** Every window holding `timestamp`, latest first. */
  assignWindows(_e: T, ts: number | undefined, _ctx?: WindowAssignerContext): TimeWindow[] {
    return this.windowsOf(eventTime(ts));
  }
  /** Fires when the watermark passes the window's end. */
  defaultTrigger(): Trigger<T, TimeWindow> {
    return EventTimeTrigger.create<T>();
  }
}

/**
 * Sliding processing-time windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SlidingProcessingTimeWindows } from "@weir/weir";
 * // 10 s windows every 5 s: each moment is in two windows.
 * const assigner = SlidingProcessingTimeWindows.of(10_000, 5_000);
 * const ws = assigner.assignWindows("x", undefined, { currentProcessingTime: () => 12_000 });
 * assert.deepEqual(ws.map((w) => w.start).toSorted((a, b) => a - b), [5_000, 10_000]);
 * ```
 */
export class SlidingProcessingTimeWindows<T = unknown> extends SlidingWindows<T> {
  readonly isEventTime = false;
  /** Windows of `size` ms every `slide` ms, shifted by `offset` ms (all whole ms). */
  static of<T = unknown>(size: number, slide: number, offset = 0): SlidingProcessingTimeWindows<T> {
    return new SlidingProcessingTimeWindows<T>(size, slide, offset);
  }
  /** Every window holding the current processing time. */
  assignWindows(_e: T, _ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[] {
    return this.windowsOf(ctx.currentProcessingTime());
  }
  /** Fires when processing time passes the window's end. */
  defaultTrigger(): Trigger<T, TimeWindow> {
    return ProcessingTimeTrigger.create<T>();
  }
}

/**
 * Gives the session gap for an element (dynamic gaps).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventTimeSessionWindows, type SessionGapExtractor } from "@weir/weir";
 * type Visit = { vip: boolean };
 * const gap: SessionGapExtractor<Visit> = (v) => (v.vip ? 60_000 : 10_000);
 * const [w] = EventTimeSessionWindows.withDynamicGap(gap).assignWindows({ vip: true }, 1000, {
 *   currentProcessingTime: () => 0,
 * });
 * assert.deepEqual([w!.start, w!.end], [1000, 61_000]);
 * ```
 */
export type SessionGapExtractor<T> = (element: T) => number;

/** Merges sorted, touching or overlapping time windows. */
function mergeTimeWindows(
  windows: TimeWindow[],
  merge: (result: TimeWindow, merged: TimeWindow[]) => void,
): void {
  const sorted = [...windows].sort((a, b) => a.start - b.start);
  let cur: TimeWindow | undefined;
  let group: TimeWindow[] = [];
  for (const w of sorted) {
    if (cur && cur.intersects(w)) {
      cur = cur.cover(w);
      group.push(w);
    } else {
      if (cur && group.length > 1) merge(cur, group);
      cur = w;
      group = [w];
    }
  }
  if (cur && group.length > 1) merge(cur, group);
}

/**
 * Refuses a gap extractor that is no function (Flink's `SessionWindowTimeGapExtractor` object with
 * `extract`, a number meant for `withGap`) where it is given: calling it would fail the job at its
 * first element with a bare TypeError.
 */
function checkGapExtractor(extractor: unknown): void {
  if (typeof extractor === "function") return;
  const flink = typeof extractor === "object" && extractor !== null && "extract" in extractor;
  throw new ConfigError(
    `withDynamicGap takes a function (element) => gap in ms, got ${shownValue(extractor)}` +
      (flink
        ? ": Flink's SessionWindowTimeGapExtractor is the function here, e.g. (e) => e.gap"
        : typeof extractor === "number"
        ? ": a fixed gap is withGap(ms)"
        : ""),
  );
}

abstract class SessionWindows<T> implements WindowAssigner<T, TimeWindow> {
  readonly #gap: SessionGapExtractor<T>;
  readonly windowSerializer: Serializer<TimeWindow> = TimeWindow.serializer;
  abstract readonly isEventTime: boolean;
  constructor(gap: SessionGapExtractor<T>) {
    this.#gap = gap;
  }
  protected sessionOf(element: T, ts: number): TimeWindow[] {
    const gap = this.#gap(element);
    checkPositive("Session gap", gap);
    return [new TimeWindow(ts, ts + gap)];
  }
  abstract assignWindows(e: T, ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[];
  abstract defaultTrigger(): Trigger<T, TimeWindow>;
  /** Merges overlapping sessions. */
  mergeWindows(windows: TimeWindow[], merge: (r: TimeWindow, m: TimeWindow[]) => void): void {
    mergeTimeWindows(windows, merge);
  }
}

/**
 * Event-time session windows: an element opens `[ts, ts + gap)`; windows
 * that overlap merge, so a session ends after `gap` ms without elements.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventTimeSessionWindows } from "@weir/weir";
 * const [w] = EventTimeSessionWindows.withGap(30).assignWindows("x", 100, { currentProcessingTime: () => 0 });
 * assert.deepEqual([w!.start, w!.end], [100, 130]);
 * ```
 */
export class EventTimeSessionWindows<T = unknown> extends SessionWindows<T> {
  readonly isEventTime = true;
  /** Sessions with a fixed gap of `gapMs` (whole ms, else a `ConfigError`). */
  static withGap<T = unknown>(gapMs: number): EventTimeSessionWindows<T> {
    checkPositive("Session gap", gapMs);
    return new EventTimeSessionWindows<T>(() => gapMs);
  }
  /** Sessions whose gap each element gives (a function, else a `ConfigError`). */
  static withDynamicGap<T>(extractor: SessionGapExtractor<T>): EventTimeSessionWindows<T> {
    checkGapExtractor(extractor);
    return new EventTimeSessionWindows<T>(extractor);
  }
  /** The element's own session window. */
  assignWindows(e: T, ts: number | undefined, _ctx?: WindowAssignerContext): TimeWindow[] {
    return this.sessionOf(e, eventTime(ts));
  }
  /** Fires when the watermark passes the session's end. */
  defaultTrigger(): Trigger<T, TimeWindow> {
    return EventTimeTrigger.create<T>();
  }
}

/**
 * Processing-time session windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProcessingTimeSessionWindows } from "@weir/weir";
 * const assigner = ProcessingTimeSessionWindows.withGap<string>(5_000);
 * const [w] = assigner.assignWindows("x", undefined, { currentProcessingTime: () => 100 });
 * assert.deepEqual([w!.start, w!.end], [100, 5_100]);
 * const merged: number[][] = [];
 * assigner.mergeWindows([w!, ...assigner.assignWindows("y", undefined, { currentProcessingTime: () => 3_000 })],
 *   (r) => merged.push([r.start, r.end]));
 * assert.deepEqual(merged, [[100, 8_000]]);
 * ```
 */
export class ProcessingTimeSessionWindows<T = unknown> extends SessionWindows<T> {
  readonly isEventTime = false;
  /** Sessions with a fixed gap of `gapMs` (whole ms, else a `ConfigError`). */
  static withGap<T = unknown>(gapMs: number): ProcessingTimeSessionWindows<T> {
    checkPositive("Session gap", gapMs);
    return new ProcessingTimeSessionWindows<T>(() => gapMs);
  }
  /** Sessions whose gap each element gives (a function, else a `ConfigError`). */
  static withDynamicGap<T>(extractor: SessionGapExtractor<T>): ProcessingTimeSessionWindows<T> {
    checkGapExtractor(extractor);
    return new ProcessingTimeSessionWindows<T>(extractor);
  }
  /** The element's own session window, from the current processing time. */
  assignWindows(e: T, _ts: number | undefined, ctx: WindowAssignerContext): TimeWindow[] {
    return this.sessionOf(e, ctx.currentProcessingTime());
  }
  /** Fires when processing time passes the session's end. */
  defaultTrigger(): Trigger<T, TimeWindow> {
    return ProcessingTimeTrigger.create<T>();
  }
}

/**
 * One global window per key; its default trigger never fires, so give a
 * trigger (count windows use `CountTrigger`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GlobalWindow, GlobalWindows } from "@weir/weir";
 * const ws = GlobalWindows.create().assignWindows("x", 1, { currentProcessingTime: () => 0 });
 * assert.ok(ws[0] === GlobalWindow.get());
 * ```
 */
export class GlobalWindows<T = unknown> implements WindowAssigner<T, GlobalWindow> {
  readonly windowSerializer: Serializer<GlobalWindow> = GlobalWindow.serializer;
  readonly isEventTime = false;
  #endOfStream = false;
  /** The assigner. */
  static create<T = unknown>(): GlobalWindows<T> {
    return new GlobalWindows<T>();
  }
  /**
   * The assigner whose default trigger fires each key's window once, at end of input (the final
   * watermark, +Infinity; a drain too), as Flink's `createWithEndOfStreamTrigger`: a per-key
   * aggregation of a bounded input that emits only its final result.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, GlobalWindows, StreamEnvironment } from "@weir/weir";
   * const env = StreamEnvironment.create();
   * const out = new CollectSink<[string, number]>();
   * env.fromElements<[string, number]>(["a", 1], ["b", 2], ["a", 3]).keyBy((t) => t[0])
   *   .window(GlobalWindows.createWithEndOfStreamTrigger<[string, number]>())
   *   .sum(1)
   *   .addSink(out);
   * await env.execute();
   * assert.deepEqual(out.values, [["a", 4], ["b", 2]]);
   * ```
   */
  static createWithEndOfStreamTrigger<T = unknown>(): GlobalWindows<T> {
    const assigner = new GlobalWindows<T>();
    assigner.#endOfStream = true;
    return assigner;
  }
  /** The global window. */
  assignWindows(_e?: T, _ts?: number, _ctx?: WindowAssignerContext): GlobalWindow[] {
    return [GlobalWindow.get()];
  }
  /** Never fires; with `createWithEndOfStreamTrigger`, fires at end of input. */
  defaultTrigger(): Trigger<T, GlobalWindow> {
    // The window's end is +Infinity, which only the final watermark reaches.
    return this.#endOfStream ? EventTimeTrigger.create<T>() : NeverTrigger.create<T>();
  }
}

function eventTime(ts: number | undefined): number {
  if (ts === undefined) {
    throw new ConfigError(
      "A record without a timestamp reached an event-time window: " +
        "call assignTimestampsAndWatermarks before the window",
    );
  }
  // ±Infinity (Flink's Long.MIN_VALUE "no timestamp" and MAX_VALUE) lies in no time window: its
  // window's bounds would be NaN or infinite, and the record lost or its timers out of order.
  if (!Number.isFinite(ts)) {
    throw new ConfigError(
      `A record with timestamp ${ts} reached an event-time window: time windows need finite ` +
        "timestamps (-Infinity is Flink's Long.MIN_VALUE, no timestamp)",
    );
  }
  return ts;
}
