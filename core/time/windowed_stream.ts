/**
 * The windowed stream API: `keyedStream.window(assigner)` (and `countWindow`,
 * `windowAll`) returns a {@linkcode WindowedStream}; set a trigger, evictor,
 * allowed lateness and a late-data side output, then apply `reduce`,
 * `aggregate`, `process` or Flink's older `apply` (reduce and aggregate
 * optionally combined with a process or window function that sees the window).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkUserFunction } from "../dataflow/_user_function.ts";
import { fieldAggregation, type FieldAggregationKind } from "../dataflow/_field_aggregation.ts";
import { checkWholeMs } from "./_event_time_value.ts";
import { checkVoidResult } from "../runtime/_sync_call.ts";
import type { Collector, RichFunction, SyncVoid } from "../dataflow/functions.ts";
import {
  DataStream,
  type KeyedStream,
  OPERATOR_OPTIONS,
  type OperatorOptions,
} from "../dataflow/data_stream.ts";
import { checkOptionNames } from "../_options.ts";
import type { KeySelector } from "../runtime/operators.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import type { Serializer } from "../state/serializer.ts";
import { plainStateSerializer } from "../state/plain_serializer.ts";
import type { AggregateFunction } from "../state/state.ts";
import type { Evictor } from "./evictors.ts";
import type { Trigger } from "./triggers.ts";
import type { Window } from "./window.ts";
import type { WindowAssigner } from "./window_assigners.ts";
import type {
  AllWindowFunction,
  ProcessAllWindowFunction,
  ProcessWindowContext,
  ProcessWindowFunction,
  ReduceFunction,
  WindowFunction,
} from "./window_functions.ts";
import { type WindowContentsSpec, WindowOperator } from "./window_operator.ts";

/**
 * Options of reduce and aggregate: serializers for the window state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, Serializers, StreamEnvironment, type WindowStateOptions } from "@weir/weir";
 * // A compact serializer for what the window keeps, instead of the default (Serializers.plain).
 * const opts: WindowStateOptions<number> = { uid: "sum3", serializer: Serializers.f64 };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * env.fromElements(1, 2, 3).keyBy(() => 0).countWindow(3).reduce((a, b) => a + b, opts).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, [6]);
 * ```
 */
export interface WindowStateOptions<S> extends OperatorOptions {
  /**
   * Serializes what the window keeps (value, accumulator or element). Default: the serializer of
   * records crossing workers (`Serializers.plain`), so plain values (Date, bigint, NaN, undefined
   * fields included) come back as they were; give one for class instances or Maps.
   */
  serializer?: Serializer<S>;
}

interface WindowConfig<T, W extends Window> {
  trigger?: Trigger<T, W>;
  evictor?: Evictor<T, W>;
  allowedLateness?: number;
  lateDataTag?: OutputTag<T>;
}

/** Builds the window operator's node. */
function windowNode<T, K, W extends Window, O>(
  input: KeyedStream<T, K>,
  assigner: WindowAssigner<T, W>,
  config: WindowConfig<T, W>,
  contents: WindowContentsSpec<T>,
  // deno-lint-ignore no-explicit-any
  process: ProcessWindowFunction<any, O, K, W> | undefined,
  name: string,
  opts: OperatorOptions | undefined,
  forceParallelism?: number,
): DataStream<O> {
  if (opts !== undefined) {
    checkOptionNames(`Operator "${name}"`, opts, { ...OPERATOR_OPTIONS, serializer: true });
  }
  const keySelector = input.keySelector as KeySelector<T, K>;
  const node = input.env.addNode({
    kind: "operator",
    name,
    inputs: [input.edge()],
    createOperator: () =>
      new WindowOperator<T, O, K, W>({
        keySelector,
        assigner,
        ...config,
        contents,
        ...(process ? { process } : {}),
      }),
    keySerializer: input.keySerializer as Serializer<unknown>,
  });
  const out = new DataStream<O>(input.env, node);
  if (opts?.name !== undefined) out.name(opts.name);
  if (opts?.uid !== undefined) out.uid(opts.uid);
  if (forceParallelism !== undefined) {
    out.setParallelism(forceParallelism);
    node.nonParallel = "windowAll";
  }
  // Refused above 1 on a windowAll (as a later setParallelism on `out` is).
  if (opts?.parallelism !== undefined) out.setParallelism(opts.parallelism);
  return out;
}

/**
 * Windows over a keyed stream.
 *
 * @example Tumbling event-time counts per key
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<string>();
 * env.fromCollection([{ k: "a", ts: 1 }, { k: "a", ts: 5 }, { k: "b", ts: 12 }])
 *   .assignTimestampsAndWatermarks(
 *     WatermarkStrategy.forMonotonousTimestamps<{ k: string; ts: number }>().withTimestampAssigner((e) => e.ts),
 *   )
 *   .keyBy((e) => e.k)
 *   .window(TumblingEventTimeWindows.of(10))
 *   .aggregate(
 *     { createAccumulator: () => 0, add: (_e, n: number) => n + 1, getResult: (n) => n },
 *     { process: (k, ctx, [n], out) => out.collect(`${k}@${ctx.window.start}=${n}`) },
 *   )
 *   .addSink(sink);
 * await env.execute("doc");
 * assert.deepEqual(sink.values.sort(), ["a@0=2", "b@10=1"]);
 * ```
 */
export class WindowedStream<T, K, W extends Window> {
  readonly #input: KeyedStream<T, K>;
  readonly #assigner: WindowAssigner<T, W>;
  readonly #config: WindowConfig<T, W> = {};
  readonly #parallelism: number | undefined;

  /** Use `KeyedStream.window`. */
  constructor(input: KeyedStream<T, K>, assigner: WindowAssigner<T, W>, parallelism?: number) {
    this.#input = input;
    this.#assigner = assigner;
    this.#parallelism = parallelism;
  }

  /** Replaces the assigner's default trigger. */
  trigger(trigger: Trigger<T, W>): this {
    this.#config.trigger = trigger;
    return this;
  }

  /** Removes elements before/after firings (the window then keeps every element). */
  evictor(evictor: Evictor<T, W>): this {
    this.#config.evictor = evictor;
    return this;
  }

  /**
   * Keeps event-time windows `ms` (whole ms, or Infinity) after their end; late elements
   * update (fire) them again.
   */
  allowedLateness(ms: number): this {
    if (!(ms >= 0)) throw new ConfigError(`Allowed lateness must be >= 0 ms, got ${ms}`);
    checkWholeMs("Allowed lateness", ms, true);
    this.#config.allowedLateness = ms;
    return this;
  }

  /** Sends elements dropped as late to the side output `tag` (read with `getSideOutput`). */
  sideOutputLateData(tag: OutputTag<T>): this {
    this.#config.lateDataTag = tag;
    return this;
  }

  #build<O>(
    contents: WindowContentsSpec<T>,
    // deno-lint-ignore no-explicit-any
    process: ProcessWindowFunction<any, O, K, W> | undefined,
    name: string,
    opts: OperatorOptions | undefined,
  ): DataStream<O> {
    return windowNode(
      this.#input,
      this.#assigner,
      { ...this.#config },
      contents,
      process,
      name,
      opts,
      this.#parallelism,
    );
  }

  /**
   * Reduces each window's elements; with `process` (a `ProcessWindowFunction`, or Flink's
   * `WindowFunction`), that function gets the reduced value.
   */
  reduce(fn: ReduceFunction<T>, opts?: WindowStateOptions<T>): DataStream<T>;
  reduce<O>(
    fn: ReduceFunction<T>,
    process: ProcessWindowFunction<T, O, K, W> | WindowFunction<T, O, K, W>,
    opts?: WindowStateOptions<T>,
  ): DataStream<O>;
  reduce<O>(
    fn: ReduceFunction<T>,
    processOrOpts?:
      | ProcessWindowFunction<T, O, K, W>
      | WindowFunction<T, O, K, W>
      | WindowStateOptions<T>,
    maybeOpts?: WindowStateOptions<T>,
  ): DataStream<O | T> {
    checkUserFunction("window reduce", fn, [], true);
    const process = secondFunction<T, O, K, W>(processOrOpts);
    const opts = (process ? maybeOpts : processOrOpts ?? maybeOpts) as
      | WindowStateOptions<T>
      | undefined;
    const serializer = opts?.serializer ??
      plainStateSerializer<T>(stateOwner(opts, "Window(Reduce)"), ".reduce(fn, { serializer })");
    return this.#build<O | T>(
      { kind: "reduce", reduce: fn, serializer },
      process,
      "Window(Reduce)",
      opts,
    );
  }

  /**
   * Aggregates each window with an accumulator; with `process` (a `ProcessWindowFunction`, or
   * Flink's `WindowFunction`), that function gets the aggregate's result.
   */
  aggregate<ACC, R>(
    fn: AggregateFunction<T, ACC, R>,
    opts?: WindowStateOptions<ACC>,
  ): DataStream<R>;
  aggregate<ACC, R, O>(
    fn: AggregateFunction<T, ACC, R>,
    process: ProcessWindowFunction<R, O, K, W> | WindowFunction<R, O, K, W>,
    opts?: WindowStateOptions<ACC>,
  ): DataStream<O>;
  aggregate<ACC, R, O>(
    fn: AggregateFunction<T, ACC, R>,
    processOrOpts?:
      | ProcessWindowFunction<R, O, K, W>
      | WindowFunction<R, O, K, W>
      | WindowStateOptions<ACC>,
    maybeOpts?: WindowStateOptions<ACC>,
  ): DataStream<O | R> {
    checkUserFunction("window aggregate", fn, ["createAccumulator", "add", "getResult"], false);
    const process = secondFunction<R, O, K, W>(processOrOpts);
    const opts = (process ? maybeOpts : processOrOpts ?? maybeOpts) as
      | WindowStateOptions<ACC>
      | undefined;
    const accumulatorSerializer = opts?.serializer ??
      plainStateSerializer<ACC>(
        stateOwner(opts, "Window(Aggregate)"),
        ".aggregate(fn, { serializer }) (for the accumulator)",
      );
    return this.#build<O | R>(
      { kind: "aggregate", aggregate: fn, accumulatorSerializer },
      process,
      "Window(Aggregate)",
      opts,
    );
  }

  /**
   * Sums `field` per window (Flink's windowed `sum`): emits the window's first record with the
   * field replaced by the sum. As the keyed stream's rolling `sum`, a record whose field is not a
   * number fails the job with a `ConfigError`.
   *
   * @example Flink's SessionWindowing example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, EventTimeSessionWindows, StreamEnvironment, WatermarkStrategy } from "@weir/weir";
   * type Visit = [string, number, number]; // user, time, count
   * const env = StreamEnvironment.create();
   * const out = new CollectSink<Visit>();
   * env.fromCollection<Visit>([["a", 1, 1], ["b", 1, 1], ["b", 3, 1], ["a", 10, 1]])
   *   .assignTimestampsAndWatermarks(
   *     WatermarkStrategy.forMonotonousTimestamps<Visit>().withTimestampAssigner((v) => v[1]),
   *   )
   *   .keyBy((v) => v[0])
   *   .window(EventTimeSessionWindows.withGap<Visit>(3))
   *   .sum(2)
   *   .addSink(out);
   * await env.execute();
   * assert.deepEqual(out.values, [["a", 1, 1], ["b", 1, 2], ["a", 10, 1]]);
   * ```
   */
  sum(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#byField(field, "sum", true, opts);
  }

  /** The window's first record with `field` replaced by the window's minimum (numbers or strings). */
  min(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#byField(field, "min", true, opts);
  }

  /** The window's first record with `field` replaced by the window's maximum (numbers or strings). */
  max(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#byField(field, "max", true, opts);
  }

  /** The window's record with the smallest `field` (on ties the first, or with `first = false` the latest). */
  minBy(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    first = true,
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#byField(field, "minBy", first, opts);
  }

  /**
   * The window's record with the largest `field` (on ties the first, or with `first = false` the
   * latest), as Flink's windowed `maxBy` (its TopSpeedWindowing example).
   */
  maxBy(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    first = true,
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#byField(field, "maxBy", first, opts);
  }

  /** A field aggregation as the window's reduce; the fired result is checked too (a window of one). */
  #byField(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    op: FieldAggregationKind,
    first: boolean,
    opts: WindowStateOptions<T> | undefined,
  ): DataStream<T> {
    const agg = fieldAggregation<T>(field, op, first);
    const check: ProcessWindowFunction<T, T, K, W> = {
      process(_k, _ctx, results, out) {
        for (const r of results) {
          agg.check(r);
          out.collect(r);
        }
      },
    };
    const name = `Window(${op[0]!.toUpperCase() + op.slice(1)})`;
    return this.reduce<T>(agg.reduce, check, { name, ...opts });
  }

  /** Evaluates each window with all its elements. */
  process<O>(
    fn: ProcessWindowFunction<T, O, K, W>,
    opts?: WindowStateOptions<T>,
  ): DataStream<O> {
    checkUserFunction("window process", fn, ["process"], false);
    return this.#all(fn, "process", opts);
  }

  /**
   * Evaluates each window with all its elements by Flink's `WindowFunction`, `(key, window,
   * input, out)` (Flink's `WindowedStream.apply`): a process function that sees only the window.
   *
   * @example Flink's WindowWordCount: a count per word and window of 4 words
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, type GlobalWindow, StreamEnvironment, type WindowFunction } from "@weir/weir";
   * const count: WindowFunction<string, string, string, GlobalWindow> = (word, _w, input, out) =>
   *   out.collect(`${word}=${input.length}`);
   * const env = StreamEnvironment.create();
   * const out = new CollectSink<string>();
   * env.fromElements("to be or not to be to be".split(" ")).flatMap((ws: string[], o) => ws.forEach((w) => o.collect(w)))
   *   .keyBy((w) => w).countWindow(2).apply(count).addSink(out);
   * await env.execute();
   * assert.deepEqual(out.values.sort(), ["be=2", "to=2"]);
   * ```
   */
  apply<O>(fn: WindowFunction<T, O, K, W>, opts?: WindowStateOptions<T>): DataStream<O> {
    checkUserFunction("window apply", fn, ["apply"], true);
    return this.#all(windowFunctionProcess(fn), "apply", opts);
  }

  /** A window keeping all its elements for `process` (`call`, as named in messages). */
  #all<O>(
    process: ProcessWindowFunction<T, O, K, W>,
    call: "process" | "apply",
    opts: WindowStateOptions<T> | undefined,
  ): DataStream<O> {
    const name = call === "process" ? "Window(Process)" : "Window(Apply)";
    const serializer = opts?.serializer ??
      plainStateSerializer<T>(stateOwner(opts, name), `.${call}(fn, { serializer })`);
    return this.#build<O>({ kind: "list", serializer }, process, name, opts);
  }
}

/** The operator, as a refusal of a value to keep names it. */
function stateOwner(opts: OperatorOptions | undefined, name: string): string {
  const uid = opts?.uid === undefined ? "" : ` [uid ${opts.uid}]`;
  return `operator "${opts?.name ?? name}"${uid}`;
}

function isProcess(x: unknown): x is ProcessWindowFunction<unknown, unknown, unknown, Window> {
  return typeof x === "object" && x !== null &&
    typeof (x as { process?: unknown }).process === "function";
}

/** Flink's (All)WindowFunction: a function, or an object with `apply` (options have none). */
function isApply(x: unknown): boolean {
  return typeof x === "function" ||
    (typeof x === "object" && x !== null && typeof (x as { apply?: unknown }).apply === "function");
}

/**
 * reduce/aggregate's second argument as a process function, or undefined for options (also the
 * window harness's `process`).
 */
export function secondFunction<IN, O, K, W extends Window>(
  x: unknown,
): ProcessWindowFunction<IN, O, K, W> | undefined {
  if (isProcess(x)) return x as ProcessWindowFunction<IN, O, K, W>;
  if (isApply(x)) return windowFunctionProcess(x as WindowFunction<IN, O, K, W>);
  return undefined;
}

/** Flink's WindowFunction as a process function (no new operator: the process path runs it). */
function windowFunctionProcess<IN, O, K, W extends Window>(
  fn: WindowFunction<IN, O, K, W>,
): ProcessWindowFunction<IN, O, K, W> {
  return applyAdapter<IN, O, K, W, WindowFunction<IN, O, K, W>>(
    fn,
    (f, key, window, input, out) =>
      typeof f === "function" ? f(key, window, input, out) : f.apply(key, window, input, out),
  );
}

/**
 * Flink's AllWindowFunction as a WindowFunction of the constant key. An object becomes one that
 * inherits from it with a keyed `apply`, so `applyAdapter`'s per-subtask copy is the object's too
 * (its `open`, `close` and fields).
 */
function allAsWindowFunction<IN, O, W extends Window>(
  fn: AllWindowFunction<IN, O, W>,
): WindowFunction<IN, O, number, W> {
  if (typeof fn === "function") return (_key, window, input, out) => fn(window, input, out);
  const applyAll = fn.apply;
  return Object.create(fn, {
    apply: {
      value(this: typeof fn, _key: number, window: W, input: IN[], out: Collector<O>) {
        return applyAll.call(this, window, input, out);
      },
    },
  });
}

/**
 * Runs `fn` through `call` as a process function. An object gets a per-subtask copy in `open`
 * (the operator copies the adapter per subtask), so fields its `open` sets stay per subtask and
 * `this` in `apply` is the object, as with `keyless`.
 */
function applyAdapter<IN, O, K, W extends Window, F>(
  fn: F,
  call: (fn: F, key: K, window: W, input: IN[], out: Collector<O>) => SyncVoid,
): ProcessWindowFunction<IN, O, K, W> {
  // apply is void, as Flink's: a promise or returned records fail the job, naming apply.
  const applied = (r: SyncVoid, operator: string | undefined) => {
    if (r !== undefined) checkVoidResult(r, "apply", operator ?? "Window");
  };
  if (typeof fn === "function") {
    const adapter: ProcessWindowFunction<IN, O, K, W> & { operator?: string } = {
      open(ctx) {
        this.operator = ctx.taskName;
      },
      process(key, ctx, input, out) {
        applied(call(fn, key, ctx.window, input, out), this.operator);
      },
    };
    return adapter;
  }
  const adapter: ProcessWindowFunction<IN, O, K, W> & {
    inner?: F & RichFunction;
    operator?: string;
  } = {
    open(ctx) {
      this.operator = ctx.taskName;
      this.inner = Object.create(fn as object) as F & RichFunction;
      return this.inner.open?.(ctx);
    },
    process(key, ctx, input, out) {
      applied(call(this.inner ?? fn, key, ctx.window, input, out), this.operator);
    },
    close() {
      return (this.inner ?? fn as F & RichFunction).close?.();
    },
  };
  return adapter;
}

/** Adapts an all-window function to the keyed operator (the key is a constant). */
function keyless<IN, O, W extends Window>(
  fn: ProcessAllWindowFunction<IN, O, W>,
): ProcessWindowFunction<IN, O, unknown, W> {
  const adapter: ProcessWindowFunction<IN, O, unknown, W> & {
    inner?: ProcessAllWindowFunction<IN, O, W>;
  } = {
    open(ctx) {
      // Per-subtask copy, so `this` fields the user's open sets stay per subtask.
      this.inner = Object.create(fn) as ProcessAllWindowFunction<IN, O, W>;
      return this.inner.open?.(ctx);
    },
    process(_k: unknown, ctx: ProcessWindowContext<W>, els: IN[], out: Collector<O>) {
      // What it returns goes to the operator, which fails the job for a promise or records.
      return (this.inner ?? fn).process(ctx, els, out);
    },
    clear(ctx: ProcessWindowContext<W>) {
      (this.inner ?? fn).clear?.(ctx);
    },
    close() {
      return (this.inner ?? fn).close?.();
    },
  };
  return adapter;
}

/**
 * Windows over a whole (non-keyed) stream: one window operator subtask sees
 * every element (parallelism 1), as in Flink; a higher parallelism set on the
 * result is a `ConfigError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AllWindowedStream, CollectSink, type GlobalWindow, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * // A non-keyed window over the whole stream (runs with parallelism 1).
 * const all: AllWindowedStream<number, GlobalWindow> = env.fromElements(1, 2, 3, 4).countWindowAll(2);
 * all.reduce((a, b) => a + b).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, [3, 7]);
 * ```
 */
export class AllWindowedStream<T, W extends Window> {
  readonly #inner: WindowedStream<T, number, W>;

  /** Use `DataStream.windowAll`. */
  constructor(input: KeyedStream<T, number>, assigner: WindowAssigner<T, W>) {
    this.#inner = new WindowedStream(input, assigner, 1);
  }

  /** Replaces the assigner's default trigger. */
  trigger(trigger: Trigger<T, W>): this {
    this.#inner.trigger(trigger);
    return this;
  }

  /** Removes elements before/after firings. */
  evictor(evictor: Evictor<T, W>): this {
    this.#inner.evictor(evictor);
    return this;
  }

  /** Keeps event-time windows `ms` after their end. */
  allowedLateness(ms: number): this {
    this.#inner.allowedLateness(ms);
    return this;
  }

  /** Sends elements dropped as late to `tag`. */
  sideOutputLateData(tag: OutputTag<T>): this {
    this.#inner.sideOutputLateData(tag);
    return this;
  }

  /**
   * Reduces each window; with `process` (a `ProcessAllWindowFunction`, or Flink's
   * `AllWindowFunction`), that function gets the reduced value.
   */
  reduce(fn: ReduceFunction<T>, opts?: WindowStateOptions<T>): DataStream<T>;
  reduce<O>(
    fn: ReduceFunction<T>,
    process: ProcessAllWindowFunction<T, O, W> | AllWindowFunction<T, O, W>,
    opts?: WindowStateOptions<T>,
  ): DataStream<O>;
  reduce<O>(
    fn: ReduceFunction<T>,
    processOrOpts?:
      | ProcessAllWindowFunction<T, O, W>
      | AllWindowFunction<T, O, W>
      | WindowStateOptions<T>,
    maybeOpts?: WindowStateOptions<T>,
    // deno-lint-ignore no-explicit-any
  ): DataStream<any> {
    if (isProcess(processOrOpts)) {
      return this.#inner.reduce<O>(
        fn,
        keyless(processOrOpts as ProcessAllWindowFunction<T, O, W>),
        maybeOpts,
      );
    }
    if (isApply(processOrOpts)) {
      return this.#inner.reduce<O>(
        fn,
        allAsWindowFunction(processOrOpts as AllWindowFunction<T, O, W>),
        maybeOpts,
      );
    }
    return this.#inner.reduce(
      fn,
      (processOrOpts ?? maybeOpts) as WindowStateOptions<T> | undefined,
    );
  }

  /**
   * Aggregates each window; with `process` (a `ProcessAllWindowFunction`, or Flink's
   * `AllWindowFunction`), that function gets the result.
   */
  aggregate<ACC, R>(
    fn: AggregateFunction<T, ACC, R>,
    opts?: WindowStateOptions<ACC>,
  ): DataStream<R>;
  aggregate<ACC, R, O>(
    fn: AggregateFunction<T, ACC, R>,
    process: ProcessAllWindowFunction<R, O, W> | AllWindowFunction<R, O, W>,
    opts?: WindowStateOptions<ACC>,
  ): DataStream<O>;
  aggregate<ACC, R, O>(
    fn: AggregateFunction<T, ACC, R>,
    processOrOpts?:
      | ProcessAllWindowFunction<R, O, W>
      | AllWindowFunction<R, O, W>
      | WindowStateOptions<ACC>,
    maybeOpts?: WindowStateOptions<ACC>,
    // deno-lint-ignore no-explicit-any
  ): DataStream<any> {
    if (isProcess(processOrOpts)) {
      return this.#inner.aggregate<ACC, R, O>(
        fn,
        keyless(processOrOpts as ProcessAllWindowFunction<R, O, W>),
        maybeOpts,
      );
    }
    if (isApply(processOrOpts)) {
      return this.#inner.aggregate<ACC, R, O>(
        fn,
        allAsWindowFunction(processOrOpts as AllWindowFunction<R, O, W>),
        maybeOpts,
      );
    }
    return this.#inner.aggregate(
      fn,
      (processOrOpts ?? maybeOpts) as WindowStateOptions<ACC> | undefined,
    );
  }

  /** Sums `field` per window, as `WindowedStream.sum`. */
  sum(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#inner.sum(field, opts);
  }

  /** The window's first record with its minimum `field`, as `WindowedStream.min`. */
  min(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#inner.min(field, opts);
  }

  /** The window's first record with its maximum `field`, as `WindowedStream.max`. */
  max(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#inner.max(field, opts);
  }

  /** The window's record with the smallest `field`, as `WindowedStream.minBy`. */
  minBy(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    first = true,
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#inner.minBy(field, first, opts);
  }

  /** The window's record with the largest `field`, as `WindowedStream.maxBy`. */
  maxBy(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    first = true,
    opts?: WindowStateOptions<T>,
  ): DataStream<T> {
    return this.#inner.maxBy(field, first, opts);
  }

  /** Evaluates each window with all its elements. */
  process<O>(fn: ProcessAllWindowFunction<T, O, W>, opts?: WindowStateOptions<T>): DataStream<O> {
    checkUserFunction("window process", fn, ["process"], false);
    return this.#inner.process<O>(keyless(fn), opts);
  }

  /**
   * Evaluates each window with all its elements by Flink's `AllWindowFunction`, `(window, input,
   * out)` (Flink's `AllWindowedStream.apply`).
   *
   * @example The largest reading per tumbling window of the whole stream
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from "@weir/weir";
   * const env = StreamEnvironment.create();
   * const out = new CollectSink<string>();
   * env.fromElements(3, 8, 1, 14, 12)
   *   .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n))
   *   .windowAll(TumblingEventTimeWindows.of<number>(10))
   *   .apply((window, input, o) => o.collect(`${window.start}: ${Math.max(...input)}`))
   *   .addSink(out);
   * await env.execute();
   * assert.deepEqual(out.values, ["0: 8", "10: 14"]);
   * ```
   */
  apply<O>(fn: AllWindowFunction<T, O, W>, opts?: WindowStateOptions<T>): DataStream<O> {
    checkUserFunction("window apply", fn, ["apply"], true);
    return this.#inner.apply<O>(allAsWindowFunction(fn), opts);
  }
}
