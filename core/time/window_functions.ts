/**
 * The functions a window applies when it fires: reduce and aggregate
 * functions pre-aggregate as elements arrive; a
 * {@linkcode ProcessWindowFunction} sees the window, its contents (or the
 * pre-aggregated result) and per-window state; Flink's older
 * {@linkcode WindowFunction} (`apply`) sees the key, the window and the contents.
 *
 * @module
 */
import type { Collector, RichFunction, RuntimeContext, SyncVoid } from "../dataflow/functions.ts";
import type { StateFor } from "../state/backend.ts";
import type { AnyStateDescriptor } from "../state/descriptors.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import type { Window } from "./window.ts";

export type { AggregateFunction } from "../state/state.ts";

/**
 * Combines two values into one (`reduce`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type ReduceFunction, StreamEnvironment } from "@weir/weir";
 * const max: ReduceFunction<number> = (a, b) => Math.max(a, b);
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * env.fromElements(3, 9, 4).keyBy(() => "all").countWindow(3).reduce(max).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, [9]);
 * ```
 */
export type ReduceFunction<T> = (a: T, b: T) => T;

/**
 * Keyed state scoped to one key (and, for per-window state, one window).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, type KeyedStateStore, Serializers, StreamEnvironment, ValueStateDescriptor,
 * } from "@weir/weir";
 * // Counts windows per key across windows (global state).
 * const fired = new ValueStateDescriptor("fired", Serializers.f64, 0);
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromElements("a", "a", "a", "a").keyBy((s) => s).countWindow(2)
 *   .process({
 *     process(key, ctx, _els, o) {
 *       const store: KeyedStateStore = ctx.globalState();
 *       const n = store.getState(fired);
 *       n.update(n.value()! + 1);
 *       o.collect(`${key}#${n.value()}`);
 *     },
 *   })
 *   .addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["a#1", "a#2"]);
 * ```
 */
export interface KeyedStateStore {
  /** The state for `descriptor`. */
  getState<D extends AnyStateDescriptor>(descriptor: D): StateFor<D>;
}

/**
 * What a {@linkcode ProcessWindowFunction} sees.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, type ProcessWindowContext, StreamEnvironment, type TimeWindow, TumblingEventTimeWindows,
 *   WatermarkStrategy,
 * } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromElements(1, 5, 12)
 *   .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n))
 *   .keyBy(() => "k").window(TumblingEventTimeWindows.of<number>(10))
 *   .process({
 *     process(_k, ctx: ProcessWindowContext<TimeWindow>, els, o) {
 *       o.collect(`[${ctx.window.start},${ctx.window.end}) n=${els.length}`);
 *     },
 *   })
 *   .addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["[0,10) n=2", "[10,20) n=1"]);
 * ```
 */
export interface ProcessWindowContext<W extends Window> {
  /** The window being evaluated. */
  readonly window: W;
  /** Current processing time. */
  currentProcessingTime(): number;
  /** Current event time. */
  currentWatermark(): number;
  /**
   * State of this key and window: cleared by the function in `clear`. Not with merging windows
   * (sessions), as in Flink: its `getState` throws a `ConfigError` there.
   */
  windowState(): KeyedStateStore;
  /**
   * State of this key, across windows (the runtime context's `getState`). A name is either
   * per-window or global: asking for one name in both is a `StateError`.
   */
  globalState(): KeyedStateStore;
  /** Emits to a side output. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Evaluates a window. `elements` are the window's contents, or the one
 * pre-aggregated value when combined with reduce or aggregate. Results carry
 * the window's max timestamp.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, type GlobalWindow, type ProcessWindowFunction, StreamEnvironment,
 * } from "@weir/weir";
 * const summary: ProcessWindowFunction<number, string, string, GlobalWindow> = {
 *   process(key, _ctx, elements, out) {
 *     out.collect(`${key}: ${Math.min(...elements)}..${Math.max(...elements)}`);
 *   },
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromElements(4, 1, 7).keyBy(() => "all").countWindow(3).process(summary).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["all: 1..7"]);
 * ```
 */
export interface ProcessWindowFunction<IN, OUT, K, W extends Window> {
  /** Per-subtask set-up. */
  open?(ctx: RuntimeContext): void | Promise<void>;
  /** Evaluates the window. */
  process(key: K, context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>): SyncVoid;
  /** The window is removed (end + allowed lateness): clear per-window state here. */
  clear?(context: ProcessWindowContext<W>): void;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/**
 * A {@linkcode ProcessWindowFunction} of a non-keyed (`windowAll`) stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, type GlobalWindow, type ProcessAllWindowFunction, StreamEnvironment,
 * } from "@weir/weir";
 * const joined: ProcessAllWindowFunction<string, string, GlobalWindow> = {
 *   process(_ctx, elements, out) { out.collect(elements.join("")); },
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromElements("a", "b", "c", "d").countWindowAll(2).process(joined).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["ab", "cd"]);
 * ```
 */
export interface ProcessAllWindowFunction<IN, OUT, W extends Window> {
  /** Per-subtask set-up. */
  open?(ctx: RuntimeContext): void | Promise<void>;
  /** Evaluates the window. */
  process(context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>): void;
  /** The window is removed: clear per-window state here. */
  clear?(context: ProcessWindowContext<W>): void;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/**
 * Flink's `WindowFunction`, the older form of {@linkcode ProcessWindowFunction} that `apply` (and
 * `reduce`/`aggregate` with a second function) takes: `(key, window, input, out)`, in Flink's
 * argument order, as a function or an object with `apply` (and `open`/`close`, Flink's
 * `RichWindowFunction`). `input` is the window's contents, or the one pre-aggregated value. It
 * sees no per-window state, side outputs or clocks; use a `ProcessWindowFunction` for those.
 *
 * @example Flink's `apply(key, window, input, out)` on session windows
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, EventTimeSessionWindows, StreamEnvironment, type TimeWindow, WatermarkStrategy,
 *   type WindowFunction,
 * } from "@weir/weir";
 * type Click = { user: string; ts: number };
 * const sessions: WindowFunction<Click, string, string, TimeWindow> = (user, window, input, out) => {
 *   out.collect(`${user} [${window.start},${window.end}) ${input.length} clicks`);
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromCollection<Click>([{ user: "a", ts: 1 }, { user: "a", ts: 3 }, { user: "a", ts: 20 }])
 *   .assignTimestampsAndWatermarks(
 *     WatermarkStrategy.forMonotonousTimestamps<Click>().withTimestampAssigner((c) => c.ts),
 *   )
 *   .keyBy((c) => c.user)
 *   .window(EventTimeSessionWindows.withGap<Click>(5))
 *   .apply(sessions)
 *   .addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["a [1,8) 2 clicks", "a [20,25) 1 clicks"]);
 * ```
 */
export type WindowFunction<IN, OUT, K, W extends Window> =
  | ((key: K, window: W, input: IN[], out: Collector<OUT>) => SyncVoid)
  | (RichFunction & {
    /** Evaluates the window. */
    apply(key: K, window: W, input: IN[], out: Collector<OUT>): SyncVoid;
  });

/**
 * Flink's `AllWindowFunction`: a {@linkcode WindowFunction} of a non-keyed (`windowAll`) stream,
 * `(window, input, out)`, as a function or an object with `apply` (and `open`/`close`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type AllWindowFunction, CollectSink, type GlobalWindow, StreamEnvironment,
 * } from "@weir/weir";
 * const total: AllWindowFunction<number, number, GlobalWindow> = {
 *   apply(_window, input, out) { out.collect(input.reduce((a, b) => a + b, 0)); },
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * env.fromElements(1, 2, 3, 4).countWindowAll(2).apply(total).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, [3, 7]);
 * ```
 */
export type AllWindowFunction<IN, OUT, W extends Window> =
  | ((window: W, input: IN[], out: Collector<OUT>) => SyncVoid)
  | (RichFunction & {
    /** Evaluates the window. */
    apply(window: W, input: IN[], out: Collector<OUT>): SyncVoid;
  });
