/**
 * Interval join: `a.keyBy(k).intervalJoin(b.keyBy(k)).between(lower, upper).process(fn)`
 * joins each left element at time `t` with the right elements of the same
 * key whose time lies in `[t + lower, t + upper]` (see
 * {@linkcode IntervalJoinOperator}).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkWholeMs } from "./_event_time_value.ts";
import {
  DataStream,
  type KeyedStream,
  OPERATOR_OPTIONS,
  type OperatorOptions,
} from "../dataflow/data_stream.ts";
import { checkOptionNames, shownValue } from "../_options.ts";
import type { KeySelector } from "../runtime/operators.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import type { Serializer } from "../state/serializer.ts";
import { IntervalJoinOperator } from "./interval_join_operator.ts";
import type { ProcessJoinFunction } from "./join_functions.ts";

/**
 * Options of an interval join's `process`: serializers for the buffered elements.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type IntervalJoinOptions, Serializers } from "@weir/weir";
 * const opts: IntervalJoinOptions<number, string> = {
 *   uid: "join", leftSerializer: Serializers.f64, rightSerializer: Serializers.string,
 * };
 * assert.equal(opts.uid, "join");
 * ```
 */
export interface IntervalJoinOptions<L, R> extends OperatorOptions {
  /** Serializes buffered left elements (default `Serializers.plain`). */
  leftSerializer?: Serializer<L>;
  /** Serializes buffered right elements (default `Serializers.plain`). */
  rightSerializer?: Serializer<R>;
}

/**
 * Two keyed streams to interval-join; give the bounds with `between`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type IntervalJoin, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const j: IntervalJoin<number, number, number> = env.fromElements(1).keyBy((n) => n)
 *   .intervalJoin(env.fromElements(2).keyBy((n) => n - 1));
 * j.between(0, 10).process({ processElement: (a, b, _ctx, out) => out.collect(a + b) });
 * assert.ok(env.getExecutionPlan().edges.some((x) => x.partitioning === "hash"), "keyed by the keys");
 * ```
 */
export class IntervalJoin<L, R, K> {
  readonly #left: KeyedStream<L, K>;
  readonly #right: KeyedStream<R, K>;

  /** Use `KeyedStream.intervalJoin`. */
  constructor(left: KeyedStream<L, K>, right: KeyedStream<R, K>) {
    this.#left = left;
    this.#right = right;
  }

  /**
   * Joins a left element at `t` with right elements in `[t + lower, t + upper]`
   * (ms, both inclusive unless made exclusive). Throws `ConfigError` unless
   * both are whole ms (as Flink's `Time` bounds) and `lower <= upper` as given; an exclusive bound moves 1 ms inwards, so
   * `between(0, 0)` with both exclusive is accepted and joins nothing (as Flink).
   */
  between(lower: number, upper: number): IntervalJoined<L, R, K> {
    return new IntervalJoined(this.#left, this.#right, lower, upper);
  }
}

/**
 * An interval join with bounds; `process` a {@linkcode ProcessJoinFunction}.
 *
 * @example Orders joined with the payments of the next 10 ms
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment, WatermarkStrategy } from "@weir/weir";
 * type E = { id: string; ts: number };
 * const env = StreamEnvironment.create();
 * const wm = WatermarkStrategy.forMonotonousTimestamps<E>().withTimestampAssigner((e) => e.ts);
 * const orders = env.fromElements<E>({ id: "o1", ts: 0 }, { id: "o2", ts: 5 }).assignTimestampsAndWatermarks(wm);
 * const payments = env.fromElements<E>({ id: "o1", ts: 10 }, { id: "o2", ts: 12 }).assignTimestampsAndWatermarks(wm);
 * const out = new CollectSink<string>();
 * orders.keyBy((o) => o.id)
 *   .intervalJoin(payments.keyBy((p) => p.id))
 *   .between(0, 10).upperBoundExclusive()
 *   .process({ processElement: (o, p, ctx, c) => c.collect(`${o.id}@${ctx.timestamp()}`) })
 *   .addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["o2@12"]); // o1 pays at exactly +10: excluded
 * ```
 */
export class IntervalJoined<L, R, K> {
  readonly #left: KeyedStream<L, K>;
  readonly #right: KeyedStream<R, K>;
  readonly #lower: number;
  readonly #upper: number;
  #lowerExclusive = false;
  #upperExclusive = false;
  #leftLate: OutputTag<L> | undefined;
  #rightLate: OutputTag<R> | undefined;

  /** Use `IntervalJoin.between`. */
  constructor(left: KeyedStream<L, K>, right: KeyedStream<R, K>, lower: number, upper: number) {
    if (!Number.isFinite(lower) || !Number.isFinite(upper) || lower > upper) {
      throw new ConfigError(
        `Interval join bounds must be finite ms with lower <= upper, got [${shownValue(lower)}, ${
          shownValue(upper)
        }]`,
      );
    }
    checkWholeMs("Interval join lower bound", lower);
    checkWholeMs("Interval join upper bound", upper);
    this.#left = left;
    this.#right = right;
    this.#lower = lower;
    this.#upper = upper;
  }

  /** Excludes the lower bound. */
  lowerBoundExclusive(): this {
    this.#lowerExclusive = true;
    return this;
  }

  /** Excludes the upper bound. */
  upperBoundExclusive(): this {
    this.#upperExclusive = true;
    return this;
  }

  /** Sends left elements that arrive behind the watermark to `tag`. */
  sideOutputLeftLateData(tag: OutputTag<L>): this {
    this.#leftLate = tag;
    return this;
  }

  /** Sends right elements that arrive behind the watermark to `tag`. */
  sideOutputRightLateData(tag: OutputTag<R>): this {
    this.#rightLate = tag;
    return this;
  }

  /** Calls `fn` for every pair within the bounds. */
  process<O>(fn: ProcessJoinFunction<L, R, O>, opts?: IntervalJoinOptions<L, R>): DataStream<O> {
    if (opts !== undefined) {
      checkOptionNames(`Operator "IntervalJoin"`, opts, {
        ...OPERATOR_OPTIONS,
        leftSerializer: true,
        rightSerializer: true,
      });
    }
    const left = this.#left, right = this.#right;
    const spec = {
      leftKey: left.keySelector as KeySelector<L>,
      rightKey: right.keySelector as KeySelector<R>,
      lower: this.#lower,
      upper: this.#upper,
      lowerExclusive: this.#lowerExclusive,
      upperExclusive: this.#upperExclusive,
      ...(opts?.leftSerializer ? { leftSerializer: opts.leftSerializer } : {}),
      ...(opts?.rightSerializer ? { rightSerializer: opts.rightSerializer } : {}),
      ...(this.#leftLate ? { leftLateTag: this.#leftLate } : {}),
      ...(this.#rightLate ? { rightLateTag: this.#rightLate } : {}),
      fn,
    };
    new IntervalJoinOperator<L, R, O>(spec); // checks the bounds now, not at run time
    const node = left.env.addNode({
      kind: "operator",
      name: "IntervalJoin",
      inputs: [left.edge(0), right.edge(1)],
      createOperator: () => new IntervalJoinOperator<L, R, O>(spec),
      keySerializer: left.keySerializer as Serializer<unknown>,
    });
    const out = new DataStream<O>(left.env, node);
    if (opts?.name !== undefined) out.name(opts.name);
    if (opts?.uid !== undefined) out.uid(opts.uid);
    if (opts?.parallelism !== undefined) out.setParallelism(opts.parallelism);
    return out;
  }
}
