/**
 * Window join: `a.join(b).where(keyA).equalTo(keyB).window(assigner).apply(fn)`.
 * An inner join per key and window: every pair of a first-input and a
 * second-input element with equal keys in the same window meets once. Built,
 * as in Flink, on the window coGroup (see {@linkcode CoGroupedStreams}).
 *
 * @module
 */
import type { Collector } from "../dataflow/functions.ts";
import type { DataStream, OperatorOptions } from "../dataflow/data_stream.ts";
import type { KeySelector } from "../runtime/operators.ts";
import type { Serializer } from "../state/serializer.ts";
import { Serializers } from "../state/serializer.ts";
import { coGroupWindows, type KeyedPair, type TaggedUnion } from "./co_grouped_streams.ts";
import type { Window } from "./window.ts";
import type { WindowAssigner } from "./window_assigners.ts";
import type { CoGroupFunction, FlatJoinFunction, JoinFunction } from "./join_functions.ts";
import { WhereStage, WindowedStage } from "./_two_input_stages.ts";
import { ConfigError } from "../errors.ts";
import { promiseReturnedError } from "../runtime/_sync_call.ts";

/**
 * Two streams to join: give the first input's key with `where`, the
 * second's with `equalTo`, then a window.
 *
 * @example Joining clicks with views in 10 ms tumbling windows
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from "@weir/weir";
 * type E = { user: string; ts: number };
 * const env = StreamEnvironment.create();
 * const wm = WatermarkStrategy.forMonotonousTimestamps<E>().withTimestampAssigner((e) => e.ts);
 * const views = env.fromElements<E>({ user: "u", ts: 1 }, { user: "u", ts: 12 }).assignTimestampsAndWatermarks(wm);
 * const clicks = env.fromElements<E>({ user: "u", ts: 5 }).assignTimestampsAndWatermarks(wm);
 * const out = new CollectSink<string>();
 * views.join(clicks).where((v) => v.user).equalTo((c) => c.user)
 *   .window(TumblingEventTimeWindows.of(10))
 *   .apply((v, c) => `${v.ts}-${c.ts}`)
 *   .addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["1-5"]);
 * ```
 */
export class JoinedStreams<A, B> {
  readonly #first: DataStream<A>;
  readonly #second: DataStream<B>;

  /** Use `DataStream.join`. */
  constructor(first: DataStream<A>, second: DataStream<B>) {
    this.#first = first;
    this.#second = second;
  }

  /** The first input's key. */
  where<K>(
    keySelector: KeySelector<A, K>,
    keySerializer: Serializer<K> = Serializers.key as Serializer<K>,
  ): JoinWhere<A, B, K> {
    return new JoinWhere(this.#first, this.#second, keySelector, keySerializer);
  }
}

/**
 * A join with the first input's key: give the second's with `equalTo`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type JoinWhere, StreamEnvironment, TumblingEventTimeWindows } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const w: JoinWhere<number, number, number> = env.fromElements(1).join(env.fromElements(2))
 *   .where((n) => n % 2);
 * w.equalTo((n) => n % 2).window(TumblingEventTimeWindows.of(10)).apply((a, b) => a + b);
 * assert.ok(env.getExecutionPlan().edges.some((x) => x.partitioning === "hash"), "keyed by the keys");
 * ```
 */
export class JoinWhere<A, B, K> extends WhereStage<A, B, K, JoinEqualTo<A, B, K>> {
  protected withKeys(pair: KeyedPair<A, B, K>): JoinEqualTo<A, B, K> {
    return new JoinEqualTo(pair);
  }
}

/**
 * A join with both keys: give the window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type JoinEqualTo, StreamEnvironment, TumblingEventTimeWindows } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const e: JoinEqualTo<number, number, number> = env.fromElements(1).join(env.fromElements(2))
 *   .where((n) => n % 2).equalTo((n) => n % 2);
 * e.window(TumblingEventTimeWindows.of(10)).apply((a, b) => a + b);
 * assert.ok(env.getExecutionPlan().edges.some((x) => x.partitioning === "hash"), "keyed by the keys");
 * ```
 */
export class JoinEqualTo<A, B, K> {
  readonly #pair: KeyedPair<A, B, K>;

  /** Use `JoinWhere.equalTo`. */
  constructor(pair: KeyedPair<A, B, K>) {
    this.#pair = pair;
  }

  /** Joins within the windows of `assigner` (tumbling, sliding, session, ...). */
  window<W extends Window>(
    assigner: WindowAssigner<TaggedUnion<A, B>, W>,
  ): JoinWithWindow<A, B, K, W> {
    return new JoinWithWindow(this.#pair, assigner);
  }
}

/**
 * The windowed join; `apply` a {@linkcode JoinFunction} or {@linkcode FlatJoinFunction}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type JoinWithWindow, SlidingEventTimeWindows, StreamEnvironment, type TimeWindow } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const w: JoinWithWindow<number, number, number, TimeWindow> = env.fromElements(1)
 *   .join(env.fromElements(2)).where((n) => n % 2).equalTo((n) => n % 2)
 *   .window(SlidingEventTimeWindows.of(10, 5));
 * w.apply((a, b) => a + b);
 * assert.ok(env.getExecutionPlan().edges.some((x) => x.partitioning === "hash"), "keyed by the keys");
 * ```
 */
export class JoinWithWindow<A, B, K, W extends Window> extends WindowedStage<A, B, K, W> {
  /**
   * Calls `fn` for every pair with equal keys in the same window: a function returns the pair's
   * result; an object's `join(first, second, out)` emits through `out`, and one that returns a
   * value (as a Flink `RichJoinFunction` does) fails the job with a `ConfigError`.
   */
  apply<O>(
    fn: JoinFunction<A, B, O> | FlatJoinFunction<A, B, O>,
    opts?: OperatorOptions,
  ): DataStream<O> {
    const coGroup: CoGroupFunction<A, B, O> & {
      inner?: FlatJoinFunction<A, B, O>;
      name?: string;
    } = {
      open(ctx) {
        this.name = ctx.taskName;
        if (typeof fn === "function") return;
        this.inner = Object.create(fn) as FlatJoinFunction<A, B, O>;
        return this.inner.open?.(ctx);
      },
      coGroup(as, bs, out: Collector<O>) {
        const name = this.name ?? opts?.name ?? "Join";
        if (typeof fn === "function") {
          for (const a of as) {
            for (const b of bs) {
              const r = fn(a, b);
              // A promise would be emitted as the record, its value never.
              if (r instanceof Promise) throw promiseReturnedError(r, "join", name);
              out.collect(r);
            }
          }
          return;
        }
        const f = this.inner ?? fn;
        for (const a of as) {
          for (const b of bs) {
            const r: unknown = f.join(a, b, out);
            if (r !== undefined) throw returnedFromFlatJoin(r, name);
          }
        }
      },
      close() {
        return typeof fn === "function" ? undefined : (this.inner ?? fn).close?.();
      },
    };
    return coGroupWindows(this.pair, this.assigner, this.config, coGroup, "Join", opts);
  }
}

/**
 * A `join(first, second, out)` method returned a value. Flink's (rich) `JoinFunction` returns its
 * result, but an object's `join` here is a `FlatJoinFunction`, which emits through `out`: the
 * value would be dropped, and with it every result of the join.
 */
function returnedFromFlatJoin(r: unknown, operator: string): ConfigError {
  if (r instanceof Promise) return promiseReturnedError(r, "join", operator);
  return new ConfigError(
    `join of operator "${operator}" returned a value: an object's join(first, second, out) ` +
      `emits its results with out.collect(...), and a returned value would be dropped. Call ` +
      `out.collect(result) in join, or pass a function (first, second) => result to apply`,
  );
}
