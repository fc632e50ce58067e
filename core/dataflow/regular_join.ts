/**
 * Regular (unwindowed) keyed inner join:
 * `a.keyBy(k).innerJoin(b.keyBy(k)).withStateTtl(ttl).apply(fn)` joins every
 * pair of elements with equal keys, whenever they arrive, as SQL's
 * `a JOIN b ON a.k = b.k` on streams. Its state is bounded by state TTL (see
 * {@linkcode RegularJoinOperator}).
 *
 * @module
 */
import type { KeySelector } from "../runtime/operators.ts";
import type { Serializer } from "../state/serializer.ts";
import { StateTtlConfig } from "../state/ttl.ts";
import type { FlatJoinFunction, JoinFunction } from "../time/join_functions.ts";
import {
  DataStream,
  type KeyedStream,
  OPERATOR_OPTIONS,
  type OperatorOptions,
} from "./data_stream.ts";
import { checkOptionNames } from "../_options.ts";
import { RegularJoinOperator } from "./regular_join_operator.ts";

/**
 * Options of a regular join's `apply`: serializers for the kept elements.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RegularJoinOptions, Serializers } from "@weir/weir";
 * const opts: RegularJoinOptions<number, string> = { uid: "j", leftSerializer: Serializers.f64 };
 * assert.equal(opts.uid, "j");
 * ```
 */
export interface RegularJoinOptions<L, R> extends OperatorOptions {
  /** Serializes kept left elements (default `Serializers.plain`). */
  leftSerializer?: Serializer<L>;
  /** Serializes kept right elements (default `Serializers.plain`). */
  rightSerializer?: Serializer<R>;
}

/**
 * Two keyed streams to inner-join on their keys, without windows.
 *
 * @example Orders joined with their customers, kept for an hour
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const customers = env.fromElements({ id: 1, name: "Ada" }, { id: 2, name: "Bo" });
 * const orders = env.fromElements({ customer: 1, item: "tea" }, { customer: 1, item: "jam" });
 * const out = new CollectSink<string>();
 * orders.keyBy((o) => o.customer)
 *   .innerJoin(customers.keyBy((c) => c.id))
 *   .withStateTtl(3_600_000)
 *   .apply((o, c) => `${c.name}:${o.item}`)
 *   .addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values.sort(), ["Ada:jam", "Ada:tea"]);
 * ```
 */
export class RegularJoin<L, R, K> {
  readonly #left: KeyedStream<L, K>;
  readonly #right: KeyedStream<R, K>;
  #ttl: StateTtlConfig | undefined;

  /** Use `KeyedStream.innerJoin`. */
  constructor(left: KeyedStream<L, K>, right: KeyedStream<R, K>) {
    this.#left = left;
    this.#right = right;
  }

  /**
   * Elements stay joinable this long after they arrive (a number: ms of
   * processing time, with the default cleanup); without it, forever.
   */
  withStateTtl(ttl: StateTtlConfig | number): this {
    this.#ttl = typeof ttl === "number" ? StateTtlConfig.newBuilder(ttl).build() : ttl;
    return this;
  }

  /** Calls `fn` for every pair with equal keys. */
  apply<O>(
    fn: JoinFunction<L, R, O> | FlatJoinFunction<L, R, O>,
    opts?: RegularJoinOptions<L, R>,
  ): DataStream<O> {
    if (opts !== undefined) {
      checkOptionNames(`Operator "Join"`, opts, {
        ...OPERATOR_OPTIONS,
        leftSerializer: true,
        rightSerializer: true,
      });
    }
    const left = this.#left, right = this.#right;
    const spec = {
      leftKey: left.keySelector as KeySelector<L>,
      rightKey: right.keySelector as KeySelector<R>,
      ...(this.#ttl ? { ttl: this.#ttl } : {}),
      ...(opts?.leftSerializer ? { leftSerializer: opts.leftSerializer } : {}),
      ...(opts?.rightSerializer ? { rightSerializer: opts.rightSerializer } : {}),
      fn,
    };
    const node = left.env.addNode({
      kind: "operator",
      name: "Join",
      inputs: [left.edge(0), right.edge(1)],
      createOperator: () => new RegularJoinOperator<L, R, O>(spec),
      keySerializer: left.keySerializer as Serializer<unknown>,
    });
    const out = new DataStream<O>(left.env, node);
    if (opts?.name !== undefined) out.name(opts.name);
    if (opts?.uid !== undefined) out.uid(opts.uid);
    if (opts?.parallelism !== undefined) out.setParallelism(opts.parallelism);
    return out;
  }
}
