/**
 * Window coGroup: `a.coGroup(b).where(keyA).equalTo(keyB).window(assigner).apply(fn)`.
 * As in Flink, both inputs are tagged with their side, unioned, keyed and
 * windowed by the ordinary window operator (so a coGroup has the window
 * operator's state, timers, triggers, lateness and checkpointing on both
 * backends); when a window fires, its elements are split by side and handed
 * to the {@linkcode CoGroupFunction}.
 *
 * @module
 */
import type { Collector } from "../dataflow/functions.ts";
import type { DataStream, OperatorOptions } from "../dataflow/data_stream.ts";
import type { KeySelector } from "../runtime/operators.ts";
import type { Serializer } from "../state/serializer.ts";
import { Serializers } from "../state/serializer.ts";
import type { Trigger } from "./triggers.ts";
import type { Window } from "./window.ts";
import type { WindowAssigner } from "./window_assigners.ts";
import type { ProcessWindowFunction } from "./window_functions.ts";
import type { CoGroupFunction } from "./join_functions.ts";
import { checkVoidResult } from "../runtime/_sync_call.ts";
import { WhereStage, WindowedStage } from "./_two_input_stages.ts";

/**
 * An element of either input, tagged with its side (0: first, 1: second):
 * what the window of a join or coGroup holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   EventTimeTrigger, StreamEnvironment, type TaggedUnion, type TriggerContext, type TriggerResult,
 *   TumblingEventTimeWindows, WatermarkStrategy, type Window,
 * } from "@weir/weir";
 * // A custom trigger on a coGroup sees each element tagged with its side.
 * type Tagged = TaggedUnion<number, number>;
 * const seen: Tagged[] = [];
 * class Tap extends EventTimeTrigger<Tagged> {
 *   override onElement(
 *     e: Tagged, ts: number | undefined, w: Window, ctx: TriggerContext,
 *   ): TriggerResult {
 *     seen.push(e);
 *     return super.onElement(e, ts, w, ctx);
 *   }
 * }
 * const env = StreamEnvironment.create({ executor: "inline" });
 * const wm = WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n);
 * const first = env.fromElements(1).assignTimestampsAndWatermarks(wm);
 * const second = env.fromElements(2).assignTimestampsAndWatermarks(wm);
 * first.coGroup(second).where(() => 0).equalTo(() => 0).window(TumblingEventTimeWindows.of(10))
 *   .trigger(new Tap()).apply({ coGroup() {} });
 * await env.execute();
 * assert.deepEqual(seen.toSorted((a, b) => a.s - b.s), [{ s: 0, v: 1 }, { s: 1, v: 2 }]);
 * ```
 */
export interface TaggedUnion<A, B> {
  /** 0 for the first input, 1 for the second. */
  readonly s: 0 | 1;
  /** The element. */
  readonly v: A | B;
}

/** @internal Settings of a windowed two-input operation. */
export interface TwoInputWindowConfig<A, B, W extends Window> {
  trigger?: Trigger<TaggedUnion<A, B>, W>;
  allowedLateness?: number;
}

/** @internal Tags, unions, keys and windows two streams; `fn` sees each window's two sides. */
export function coGroupWindows<A, B, K, W extends Window, O>(
  { first, second, keyA, keyB, keySerializer }: KeyedPair<A, B, K>,
  assigner: WindowAssigner<TaggedUnion<A, B>, W>,
  config: TwoInputWindowConfig<A, B, W>,
  fn: CoGroupFunction<A, B, O>,
  name: string,
  opts: OperatorOptions | undefined,
): DataStream<O> {
  const left = first.map((v: A): TaggedUnion<A, B> => ({ s: 0, v }), { name: `${name}: tag 1` });
  const right = second.map((v: B): TaggedUnion<A, B> => ({ s: 1, v }), {
    name: `${name}: tag 2`,
  });
  const key = (t: TaggedUnion<A, B>): K => t.s === 0 ? keyA(t.v as A) : keyB(t.v as B);
  let windowed = left.union(right).keyBy(key, keySerializer).window(assigner);
  if (config.trigger) windowed = windowed.trigger(config.trigger);
  if (config.allowedLateness !== undefined) {
    windowed = windowed.allowedLateness(config.allowedLateness);
  }
  const split: ProcessWindowFunction<TaggedUnion<A, B>, O, K, W> & {
    inner?: CoGroupFunction<A, B, O>;
    operator?: string;
  } = {
    open(ctx) {
      this.operator = ctx.taskName;
      // A per-subtask copy, so `this` fields set in the user's open stay per subtask.
      this.inner = Object.create(fn) as CoGroupFunction<A, B, O>;
      return this.inner.open?.(ctx);
    },
    process(_key, _ctx, elements, out: Collector<O>) {
      const as: A[] = [], bs: B[] = [];
      for (const e of elements) {
        if (e.s === 0) as.push(e.v as A);
        else bs.push(e.v as B);
      }
      const r: unknown = (this.inner ?? fn).coGroup(as, bs, out);
      // coGroup is void, as Flink's: a promise or returned records fail the job.
      if (r !== undefined) checkVoidResult(r, "coGroup", this.operator ?? name);
    },
    close() {
      return (this.inner ?? fn).close?.();
    },
  };
  return windowed.process(split, { name, ...opts });
}

/**
 * Two streams to coGroup: give the first input's key with `where`, the
 * second's with `equalTo`, then a window.
 *
 * @example CoGroup per key and tumbling window
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from "@weir/weir";
 * type E = { k: string; ts: number };
 * const env = StreamEnvironment.create();
 * const wm = WatermarkStrategy.forMonotonousTimestamps<E>().withTimestampAssigner((e) => e.ts);
 * const a = env.fromElements<E>({ k: "x", ts: 1 }, { k: "y", ts: 2 }).assignTimestampsAndWatermarks(wm);
 * const b = env.fromElements<E>({ k: "x", ts: 3 }, { k: "x", ts: 4 }).assignTimestampsAndWatermarks(wm);
 * const out = new CollectSink<string>();
 * a.coGroup(b).where((e) => e.k).equalTo((e) => e.k)
 *   .window(TumblingEventTimeWindows.of(10))
 *   .apply({ coGroup: (as, bs, o) => o.collect(`${(as[0] ?? bs[0])!.k}:${as.length}/${bs.length}`) })
 *   .addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values.sort(), ["x:1/2", "y:1/0"]);
 * ```
 */
export class CoGroupedStreams<A, B> {
  readonly #first: DataStream<A>;
  readonly #second: DataStream<B>;

  /** Use `DataStream.coGroup`. */
  constructor(first: DataStream<A>, second: DataStream<B>) {
    this.#first = first;
    this.#second = second;
  }

  /** The first input's key. */
  where<K>(
    keySelector: KeySelector<A, K>,
    keySerializer: Serializer<K> = Serializers.key as Serializer<K>,
  ): CoGroupWhere<A, B, K> {
    return new CoGroupWhere(this.#first, this.#second, keySelector, keySerializer);
  }
}

/**
 * A coGroup with the first input's key: give the second's with `equalTo`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CoGroupWhere, StreamEnvironment, TumblingEventTimeWindows } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const w: CoGroupWhere<number, number, number> = env.fromElements(1).coGroup(env.fromElements(2))
 *   .where((n) => n % 2);
 * w.equalTo((n) => n % 2).window(TumblingEventTimeWindows.of(10)).apply({ coGroup: () => {} });
 * assert.ok(env.getExecutionPlan().edges.some((x) => x.partitioning === "hash"), "keyed by the keys");
 * ```
 */
export class CoGroupWhere<A, B, K> extends WhereStage<A, B, K, CoGroupEqualTo<A, B, K>> {
  protected withKeys(pair: KeyedPair<A, B, K>): CoGroupEqualTo<A, B, K> {
    return new CoGroupEqualTo(pair);
  }
}

/** @internal Both inputs and their keys. */
export interface KeyedPair<A, B, K> {
  readonly first: DataStream<A>;
  readonly second: DataStream<B>;
  readonly keyA: KeySelector<A, K>;
  readonly keyB: KeySelector<B, K>;
  readonly keySerializer: Serializer<K>;
}

/**
 * A coGroup with both keys: give the window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CoGroupEqualTo, StreamEnvironment, TumblingEventTimeWindows } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const e: CoGroupEqualTo<number, number, number> = env.fromElements(1).coGroup(env.fromElements(2))
 *   .where((n) => n % 2).equalTo((n) => n % 2);
 * e.window(TumblingEventTimeWindows.of(10)).apply({ coGroup: () => {} });
 * assert.ok(env.getExecutionPlan().edges.some((x) => x.partitioning === "hash"), "keyed by the keys");
 * ```
 */
export class CoGroupEqualTo<A, B, K> {
  readonly #pair: KeyedPair<A, B, K>;

  /** Use `CoGroupWhere.equalTo`. */
  constructor(pair: KeyedPair<A, B, K>) {
    this.#pair = pair;
  }

  /** Groups both inputs into the windows of `assigner` (tumbling, sliding, session, ...). */
  window<W extends Window>(
    assigner: WindowAssigner<TaggedUnion<A, B>, W>,
  ): CoGroupWithWindow<A, B, K, W> {
    return new CoGroupWithWindow(this.#pair, assigner);
  }
}

/**
 * The windowed coGroup; `apply` a {@linkcode CoGroupFunction}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CoGroupWithWindow, StreamEnvironment, type TimeWindow, TumblingEventTimeWindows } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const w: CoGroupWithWindow<number, number, number, TimeWindow> = env.fromElements(1)
 *   .coGroup(env.fromElements(2)).where((n) => n % 2).equalTo((n) => n % 2)
 *   .window(TumblingEventTimeWindows.of(10)).allowedLateness(5);
 * w.apply({ coGroup: () => {} });
 * assert.ok(env.getExecutionPlan().edges.some((x) => x.partitioning === "hash"), "keyed by the keys");
 * ```
 */
export class CoGroupWithWindow<A, B, K, W extends Window> extends WindowedStage<A, B, K, W> {
  /** Calls `fn` with each key's elements of each window, by side. */
  apply<O>(fn: CoGroupFunction<A, B, O>, opts?: OperatorOptions): DataStream<O> {
    return coGroupWindows(this.pair, this.assigner, this.config, fn, "CoGroup", opts);
  }
}
