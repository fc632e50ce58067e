/**
 * A harness for a {@linkcode KeyedProcessFunction}.
 *
 * @module
 */
import type { KeyedProcessFunction } from "../dataflow/functions.ts";
import { type KeySelector, ProcessOperator } from "../runtime/operators.ts";
import { type KeyedHarnessOptions, OperatorHarness } from "./operator_harness.ts";

/**
 * Runs a {@linkcode KeyedProcessFunction} in the real keyed process operator,
 * with the heap backend and the real timer service, synchronously (as Flink's
 * `KeyedOneInputStreamOperatorTestHarness`). Processing time moves only when
 * the test moves it.
 *
 * @example Emit a count one minute after a key's first record
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type Collector, type KeyedProcessContext, type KeyedProcessFunction, type OnTimerContext,
 *   type RuntimeContext, Serializers, type ValueState, ValueStateDescriptor,
 * } from "@weir/weir";
 * import { KeyedProcessFunctionHarness } from "@weir/weir/testing";
 *
 * const countDesc = new ValueStateDescriptor("count", Serializers.f64, 0);
 * class CountPerMinute implements KeyedProcessFunction<string, string, string> {
 *   count!: ValueState<number>;
 *   open(ctx: RuntimeContext) {
 *     this.count = ctx.getState(countDesc);
 *   }
 *   processElement(_w: string, ctx: KeyedProcessContext<string>) {
 *     if (this.count.value() === 0) {
 *       ctx.timerService().registerProcessingTimeTimer(ctx.currentProcessingTime() + 60_000);
 *     }
 *     this.count.update(this.count.value()! + 1);
 *   }
 *   onTimer(_t: number, ctx: OnTimerContext<string>, out: Collector<string>) {
 *     out.collect(`${ctx.getCurrentKey()}=${this.count.value()}`);
 *   }
 * }
 *
 * const h = await KeyedProcessFunctionHarness.create(new CountPerMinute(), (w: string) => w);
 * h.processElement("a");
 * h.processElement("b");
 * h.processElement("a");
 * assert.ok(h.state(countDesc, "a") === 2);
 * assert.ok(h.pendingTimers("processing-time").length === 2);
 * h.advanceProcessingTime(59_999);
 * assert.ok(h.output().length === 0);
 * h.advanceProcessingTime(1);
 * assert.ok(h.output().join() === "a=2,b=1");
 * await h.close();
 * ```
 */
export class KeyedProcessFunctionHarness<K, I, O> extends OperatorHarness<O> {
  /** Wraps `fn` in a keyed process operator keyed by `keySelector`, and opens it. */
  static async create<K, I, O>(
    fn: KeyedProcessFunction<K, I, O>,
    keySelector: KeySelector<I, K>,
    options: KeyedHarnessOptions<K> = {},
  ): Promise<KeyedProcessFunctionHarness<K, I, O>> {
    const op = new ProcessOperator<I, O>(
      fn as KeyedProcessFunction<unknown, I, O>,
      keySelector as KeySelector,
    );
    const h = new KeyedProcessFunctionHarness<K, I, O>(op, { ...options, keyed: true } as never);
    await h.open();
    return h;
  }

  /** Feeds one record (its key becomes current), with an optional timestamp. */
  override processElement(value: I, timestamp?: number): void {
    super.processElement(value, timestamp, 0);
  }
}
