/**
 * A harness for a {@linkcode CoProcessFunction}, keyed or not.
 *
 * @module
 */
import type { CoProcessFunction } from "../dataflow/functions.ts";
import { CoProcessOperator, type KeySelector } from "../runtime/operators.ts";
import { type KeyedHarnessOptions, OperatorHarness } from "./operator_harness.ts";

/**
 * Options of {@linkcode CoProcessFunctionHarness.create}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CoProcessFunction } from "@weir/weir";
 * import { type CoProcessHarnessOptions, CoProcessFunctionHarness } from "@weir/weir/testing";
 * const join: CoProcessFunction<[string, number], [string, string], string> = {
 *   processElement1: ([k, n], _ctx, out) => out.collect(`${k}:${n}`),
 *   processElement2: ([k, s], _ctx, out) => out.collect(`${k}:${s}`),
 * };
 * const options: CoProcessHarnessOptions<[string, number], [string, string], string> = {
 *   keySelectors: [([k]) => k, ([k]) => k],
 * };
 * const h = await CoProcessFunctionHarness.create(join, options);
 * h.processElement1(["a", 1]);
 * h.processElement2(["a", "x"]);
 * assert.deepEqual(h.output(), ["a:1", "a:x"]);
 * ```
 */
export interface CoProcessHarnessOptions<I1, I2, K> extends KeyedHarnessOptions<K> {
  /** Key selectors of both inputs; given, the operator is keyed (state and timers). */
  keySelectors?: [KeySelector<I1, K>, KeySelector<I2, K>];
}

/**
 * Runs a {@linkcode CoProcessFunction} in the real two-input operator.
 *
 * @example Join orders with payments by id
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type CoProcessFunction, type RuntimeContext, Serializers, type ValueState,
 *   ValueStateDescriptor,
 * } from "@weir/weir";
 * import { CoProcessFunctionHarness } from "@weir/weir/testing";
 * type Order = { id: string; item: string };
 * type Payment = { id: string; amount: number };
 * const orderDesc = new ValueStateDescriptor<string>("order", Serializers.string);
 * class Join implements CoProcessFunction<Order, Payment, string> {
 *   order!: ValueState<string>;
 *   open(ctx: RuntimeContext) {
 *     this.order = ctx.getState(orderDesc);
 *   }
 *   processElement1(o: Order) {
 *     this.order.update(o.item);
 *   }
 *   processElement2(p: Payment, _ctx: unknown, out: { collect(s: string): void }) {
 *     out.collect(`${p.id}:${this.order.value()}:${p.amount}`);
 *   }
 * }
 * const h = await CoProcessFunctionHarness.create(new Join(), {
 *   keySelectors: [(o: Order) => o.id, (p: Payment) => p.id],
 * });
 * h.processElement1({ id: "o1", item: "book" });
 * h.processElement2({ id: "o1", amount: 12 });
 * assert.ok(h.output().join() === "o1:book:12");
 * assert.ok(h.state(orderDesc, "o1") === "book");
 * await h.close();
 * ```
 */
export class CoProcessFunctionHarness<I1, I2, O> extends OperatorHarness<O> {
  /** Wraps `fn` in a two-input process operator (keyed when `keySelectors` are given) and opens it. */
  static async create<I1, I2, O, K = unknown>(
    fn: CoProcessFunction<I1, I2, O>,
    options: CoProcessHarnessOptions<I1, I2, K> = {},
  ): Promise<CoProcessFunctionHarness<I1, I2, O>> {
    // The harness takes the other options (and checks their names).
    const { keySelectors, ...rest } = options;
    const ks = keySelectors as [KeySelector, KeySelector] | undefined;
    const op = new CoProcessOperator<I1, I2, O>(fn, ks ?? [undefined, undefined]);
    const h = new CoProcessFunctionHarness<I1, I2, O>(
      op,
      { ...rest, keyed: ks !== undefined } as never,
    );
    await h.open();
    return h;
  }

  /** Feeds a record to the first input. */
  processElement1(value: I1, timestamp?: number): void {
    this.processElement(value, timestamp, 0);
  }

  /** Feeds a record to the second input. */
  processElement2(value: I2, timestamp?: number): void {
    this.processElement(value, timestamp, 1);
  }

  /**
   * Feeds a watermark to the first input. Event time (timers, the watermark
   * forwarded) advances to the smaller of both inputs' watermarks, as in a job:
   * until the second input has one too, nothing fires. `processWatermark(t)`
   * advances both inputs at once (Flink's `processBothWatermarks`).
   */
  processWatermark1(timestamp: number): void {
    this.processInputWatermark(0, timestamp);
  }

  /** Feeds a watermark to the second input (see {@linkcode processWatermark1}). */
  processWatermark2(timestamp: number): void {
    this.processInputWatermark(1, timestamp);
  }
}
