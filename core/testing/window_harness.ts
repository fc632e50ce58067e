/**
 * A harness for a keyed window: its assigner, trigger, evictor, lateness and
 * window function, in weir's window operator.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";
import { checkUserFunction } from "../dataflow/_user_function.ts";
import type { KeySelector } from "../runtime/operators.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import { describeValue } from "../runtime/_sync_call.ts";
import type { Serializer } from "../state/serializer.ts";
import { plainStateSerializer } from "../state/plain_serializer.ts";
import type { AggregateFunction } from "../state/state.ts";
import type { Evictor } from "../time/evictors.ts";
import type { Trigger } from "../time/triggers.ts";
import type { Window } from "../time/window.ts";
import type { WindowAssigner } from "../time/window_assigners.ts";
import type {
  ProcessWindowFunction,
  ReduceFunction,
  WindowFunction,
} from "../time/window_functions.ts";
import { type WindowContentsSpec, WindowOperator } from "../time/window_operator.ts";
import { secondFunction } from "../time/windowed_stream.ts";
import { type KeyedHarnessOptions, OperatorHarness } from "./operator_harness.ts";

/**
 * The window a {@linkcode WindowHarness} runs, as
 * `keyBy(keySelector).window(assigner)` with `trigger`, `evictor`,
 * `allowedLateness` and `sideOutputLateData(lateDataTag)` would build it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CountTrigger, GlobalWindows } from "@weir/weir";
 * import { type WindowHarnessWindow, WindowHarness } from "@weir/weir/testing";
 * // Every 2 elements of a key, the sum so far.
 * const window: WindowHarnessWindow<number, string, import("@weir/weir").GlobalWindow> = {
 *   keySelector: () => "all",
 *   assigner: GlobalWindows.create<number>(),
 *   trigger: CountTrigger.of(2),
 * };
 * const h = await WindowHarness.create({ ...window, reduce: (a: number, b: number) => a + b });
 * for (const n of [1, 2, 3, 4]) h.processElement(n);
 * assert.deepEqual(h.output(), [3, 10]);
 * ```
 */
export interface WindowHarnessWindow<IN, K, W extends Window> {
  /** Selects the key (as `keyBy`). */
  keySelector: KeySelector<IN, K>;
  /** Assigns each element to windows. */
  assigner: WindowAssigner<IN, W>;
  /** When windows fire (the assigner's default trigger when absent). */
  trigger?: Trigger<IN, W>;
  /** Removes elements before or after a firing (the window then keeps every element). */
  evictor?: Evictor<IN, W>;
  /** How long (ms) an event-time window is kept after its end for late elements (0). */
  allowedLateness?: number;
  /** The side output for elements dropped as late (read with `sideOutput(tag)`). */
  lateDataTag?: OutputTag<IN>;
}

/** The spec's option names, for `checkOptionNames`. */
const SPEC_OPTIONS: Record<string, true> = {
  keySelector: true,
  assigner: true,
  trigger: true,
  evictor: true,
  allowedLateness: true,
  lateDataTag: true,
  reduce: true,
  aggregate: true,
  process: true,
  serializer: true,
};

/**
 * Runs a keyed window in weir's window operator, synchronously (as Flink's
 * tests wrap a `WindowOperator` in a `KeyedOneInputStreamOperatorTestHarness`):
 * feed elements with timestamps, move the watermark or processing time, and
 * read the fired results (each with its window's `maxTimestamp()`), late
 * elements on the `lateDataTag` side output, and pending trigger and cleanup
 * timers.
 *
 * `create` takes the window ({@linkcode WindowHarnessWindow}) and its
 * function as `WindowedStream` does: `reduce`, or `aggregate`, each optionally
 * with a `process` (a `ProcessWindowFunction` or Flink's `WindowFunction`) that
 * gets the result; or `process` alone, which gets every element. `serializer`
 * serializes what the window keeps (the reduced value, the accumulator or the
 * elements), as the `serializer` option of `reduce`, `aggregate` and
 * `process`.
 *
 * @example Flink's WindowOperatorTest: tumbling event-time windows of 3 s, reduced
 * ```ts
 * import assert from "node:assert/strict";
 * import { TumblingEventTimeWindows } from "@weir/weir";
 * import { WindowHarness } from "@weir/weir/testing";
 * type E = [string, number];
 * const h = await WindowHarness.create({
 *   keySelector: (e: E) => e[0],
 *   assigner: TumblingEventTimeWindows.of<E>(3_000),
 *   reduce: (a: E, b: E): E => [a[0], a[1] + b[1]],
 * });
 * h.processElement(["key2", 1], 3_999);
 * h.processElement(["key1", 1], 20);
 * h.processElement(["key1", 1], 999);
 * h.processWatermark(2_999);
 * h.processWatermark(5_999);
 * assert.deepEqual(h.outputWithWatermarks(), [
 *   { value: ["key1", 2], timestamp: 2_999 },
 *   { watermark: 2_999 },
 *   { value: ["key2", 1], timestamp: 5_999 },
 *   { watermark: 5_999 },
 * ]);
 * await h.close();
 * ```
 */
export class WindowHarness<IN, OUT> extends OperatorHarness<OUT> {
  /** Runs `reduce` on each window, then `process` on its result. */
  static create<IN, K, W extends Window, OUT>(
    spec: WindowHarnessWindow<IN, K, W> & {
      reduce: ReduceFunction<IN>;
      process: ProcessWindowFunction<IN, OUT, K, W> | WindowFunction<IN, OUT, K, W>;
      serializer?: Serializer<IN>;
    },
    options?: KeyedHarnessOptions<K>,
  ): Promise<WindowHarness<IN, OUT>>;
  /** Runs `reduce` on each window; a firing emits the reduced value. */
  static create<IN, K, W extends Window>(
    spec: WindowHarnessWindow<IN, K, W> & {
      reduce: ReduceFunction<IN>;
      serializer?: Serializer<IN>;
    },
    options?: KeyedHarnessOptions<K>,
  ): Promise<WindowHarness<IN, IN>>;
  /** Runs `aggregate` on each window, then `process` on its result. */
  static create<IN, K, W extends Window, ACC, R, OUT>(
    spec: WindowHarnessWindow<IN, K, W> & {
      aggregate: AggregateFunction<IN, ACC, R>;
      process: ProcessWindowFunction<R, OUT, K, W> | WindowFunction<R, OUT, K, W>;
      serializer?: Serializer<ACC>;
    },
    options?: KeyedHarnessOptions<K>,
  ): Promise<WindowHarness<IN, OUT>>;
  /** Runs `aggregate` on each window; a firing emits its result. */
  static create<IN, K, W extends Window, ACC, R>(
    spec: WindowHarnessWindow<IN, K, W> & {
      aggregate: AggregateFunction<IN, ACC, R>;
      serializer?: Serializer<ACC>;
    },
    options?: KeyedHarnessOptions<K>,
  ): Promise<WindowHarness<IN, R>>;
  /** Runs `process` on each window's elements. */
  static create<IN, K, W extends Window, OUT>(
    spec: WindowHarnessWindow<IN, K, W> & {
      process: ProcessWindowFunction<IN, OUT, K, W> | WindowFunction<IN, OUT, K, W>;
      serializer?: Serializer<IN>;
    },
    options?: KeyedHarnessOptions<K>,
  ): Promise<WindowHarness<IN, OUT>>;
  static async create(
    spec: WindowHarnessWindow<unknown, unknown, Window> & {
      reduce?: ReduceFunction<unknown>;
      aggregate?: AggregateFunction<unknown, unknown, unknown>;
      process?: unknown;
      serializer?: Serializer<unknown>;
    },
    options: KeyedHarnessOptions<unknown> = {},
  ): Promise<WindowHarness<unknown, unknown>> {
    // A misspelt `allowedLateness` would test a window without it.
    checkOptionNames("WindowHarness.create", spec, SPEC_OPTIONS);
    const { reduce, aggregate, serializer } = spec;
    if (reduce !== undefined && aggregate !== undefined) {
      throw new ConfigError("WindowHarness.create: give reduce or aggregate, not both");
    }
    const process = secondFunction<unknown, unknown, unknown, Window>(spec.process);
    if (spec.process !== undefined && process === undefined) {
      throw new ConfigError(
        "WindowHarness.create: process takes a ProcessWindowFunction (an object with process) " +
          `or a WindowFunction ((key, window, input, out) => void), got ${
            describeValue(spec.process)
          }`,
      );
    }
    // What the window keeps has no serializer of the user's unless given: as WindowedStream's.
    const kept = () =>
      serializer ??
        plainStateSerializer<unknown>("the window harness", "WindowHarness.create({ serializer })");
    let contents: WindowContentsSpec<unknown>;
    if (reduce !== undefined) {
      checkUserFunction("window reduce", reduce, [], true);
      contents = { kind: "reduce", reduce, serializer: kept() };
    } else if (aggregate !== undefined) {
      checkUserFunction(
        "window aggregate",
        aggregate,
        ["createAccumulator", "add", "getResult"],
        false,
      );
      contents = { kind: "aggregate", aggregate, accumulatorSerializer: kept() };
    } else if (process !== undefined) {
      contents = { kind: "list", serializer: kept() };
    } else {
      throw new ConfigError(
        "WindowHarness.create: give the window's function: reduce, aggregate or process",
      );
    }
    const op = new WindowOperator<unknown, unknown, unknown, Window>({
      keySelector: spec.keySelector,
      assigner: spec.assigner,
      ...(spec.trigger !== undefined ? { trigger: spec.trigger } : {}),
      ...(spec.evictor !== undefined ? { evictor: spec.evictor } : {}),
      ...(spec.allowedLateness !== undefined ? { allowedLateness: spec.allowedLateness } : {}),
      ...(spec.lateDataTag !== undefined ? { lateDataTag: spec.lateDataTag } : {}),
      contents,
      ...(process !== undefined ? { process } : {}),
    });
    const h = new WindowHarness<unknown, unknown>(op, { ...options, keyed: true } as never);
    await h.open();
    return h;
  }

  /** Feeds one element (its key becomes current), with its timestamp (event-time windows need one). */
  override processElement(value: IN, timestamp?: number): void {
    super.processElement(value, timestamp, 0);
  }
}
