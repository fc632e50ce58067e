/**
 * A harness for a {@linkcode BroadcastProcessFunction}, keyed or not.
 *
 * @module
 */
import type { BroadcastProcessFunction } from "../dataflow/functions.ts";
import type { MapStateDescriptor } from "../state/descriptors.ts";
import { BroadcastProcessOperator, type KeySelector } from "../runtime/operators.ts";
import { type KeyedHarnessOptions, OperatorHarness } from "./operator_harness.ts";

/**
 * Options of {@linkcode BroadcastProcessFunctionHarness.create}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BroadcastProcessFunction, MapStateDescriptor, Serializers } from "@weir/weir";
 * import { type BroadcastHarnessOptions, BroadcastProcessFunctionHarness } from "@weir/weir/testing";
 * const limits = new MapStateDescriptor("limits", Serializers.string, Serializers.f64);
 * const fn: BroadcastProcessFunction<[string, number], [string, number], string> = {
 *   processElement([k, v], ctx, out) {
 *     if (v > (ctx.getBroadcastState(limits).get(k) ?? Infinity)) out.collect(`${ctx.getCurrentKey()} over`);
 *   },
 *   processBroadcastElement([k, v], ctx) { ctx.getBroadcastState(limits).put(k, v); },
 * };
 * // A key selector makes the main input keyed (timers and keyed state work).
 * const options: BroadcastHarnessOptions<[string, number], string> = { keySelector: ([k]) => k };
 * const h = await BroadcastProcessFunctionHarness.create(fn, options);
 * h.processBroadcastElement(["a", 5]);
 * h.processElement(["a", 9]);
 * assert.deepEqual(h.output(), ["a over"]);
 * ```
 */
export interface BroadcastHarnessOptions<I, K> extends KeyedHarnessOptions<K> {
  /** Key selector of the main input; given, the operator is keyed (state and timers). */
  keySelector?: KeySelector<I, K>;
}

/**
 * Runs a {@linkcode BroadcastProcessFunction} in the real broadcast operator:
 * `processElement` feeds the main input, `processBroadcastElement` the
 * broadcast one; `broadcastState` reads the broadcast state. Watermarks go to
 * one input each as well (`processWatermark`, `processBroadcastWatermark`) or
 * to both (`watermark`), as in Flink's `BroadcastOperatorTestHarness`.
 *
 * @example Thresholds broadcast as rules
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BroadcastProcessFunction, MapStateDescriptor, Serializers } from "@weir/weir";
 * import { BroadcastProcessFunctionHarness } from "@weir/weir/testing";
 * const rules = new MapStateDescriptor("rules", Serializers.string, Serializers.f64);
 * const fn: BroadcastProcessFunction<[string, number], [string, number], string> = {
 *   processElement([k, v], ctx, out) {
 *     const limit = ctx.getBroadcastState(rules).get(k);
 *     if (limit !== undefined && v > limit) out.collect(`${k}:${v}`);
 *   },
 *   processBroadcastElement([k, limit], ctx) {
 *     ctx.getBroadcastState(rules).put(k, limit);
 *   },
 * };
 * const h = await BroadcastProcessFunctionHarness.create(fn);
 * h.processElement(["cpu", 95]);
 * h.processBroadcastElement(["cpu", 90]);
 * h.processElement(["cpu", 95]);
 * h.processElement(["cpu", 50]);
 * assert.ok(h.output().join() === "cpu:95");
 * assert.ok(h.broadcastState(rules).get("cpu") === 90);
 * await h.close();
 * ```
 */
export class BroadcastProcessFunctionHarness<I, B, O> extends OperatorHarness<O> {
  /** Wraps `fn` in a broadcast process operator (keyed when `keySelector` is given) and opens it. */
  static async create<I, B, O, K = unknown>(
    fn: BroadcastProcessFunction<I, B, O>,
    options: BroadcastHarnessOptions<I, K> = {},
  ): Promise<BroadcastProcessFunctionHarness<I, B, O>> {
    // The harness takes the other options (and checks their names).
    const { keySelector, ...rest } = options;
    const ks = keySelector as KeySelector | undefined;
    const op = new BroadcastProcessOperator<I, B, O>(fn, ks);
    const h = new BroadcastProcessFunctionHarness<I, B, O>(
      op,
      { ...rest, keyed: ks !== undefined } as never,
    );
    await h.open();
    return h;
  }

  /** Feeds a record to the main input. */
  override processElement(value: I, timestamp?: number): void {
    super.processElement(value, timestamp, 0);
  }

  /** Feeds a record to the broadcast input. */
  processBroadcastElement(value: B, timestamp?: number): void {
    super.processElement(value, timestamp, 1);
  }

  /**
   * Feeds a watermark to the main (non-broadcast) input only, as Flink's
   * broadcast harness's `processWatermark`: event time (timers, the watermark
   * forwarded) advances to the smaller of both inputs' watermarks, as in a
   * job, so nothing fires until the broadcast input has a watermark too
   * ({@linkcode processBroadcastWatermark}). {@linkcode watermark} advances
   * both at once.
   */
  override processWatermark(timestamp: number): void {
    this.processInputWatermark(0, timestamp, "processWatermark");
  }

  /** Feeds a watermark to the broadcast input only (Flink's `processBroadcastWatermark`). */
  processBroadcastWatermark(timestamp: number): void {
    this.processInputWatermark(1, timestamp, "processBroadcastWatermark");
  }

  /** Feeds a watermark to both inputs, as Flink's broadcast harness's `watermark(t)`. */
  watermark(timestamp: number): void {
    this.processInputWatermark(0, timestamp, "watermark");
    this.processInputWatermark(1, timestamp, "watermark");
  }

  /** A copy of broadcast state `descriptor`. */
  broadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): Map<K, V> {
    return new Map(this.context.operatorState.getBroadcastState(descriptor).entries());
  }
}
