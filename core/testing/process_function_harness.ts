/**
 * A harness for a {@linkcode ProcessFunction} on a non-keyed stream.
 *
 * @module
 */
import type { ProcessFunction } from "../dataflow/functions.ts";
import { ProcessOperator } from "../runtime/operators.ts";
import { type HarnessOptions, OperatorHarness } from "./operator_harness.ts";

/**
 * Runs a {@linkcode ProcessFunction} in the real process operator,
 * synchronously: feed records, read the main and side outputs.
 *
 * @example Route negative numbers to a side output
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutputTag, type ProcessFunction } from "@weir/weir";
 * import { ProcessFunctionHarness } from "@weir/weir/testing";
 * const negative = new OutputTag<number>("negative");
 * const fn: ProcessFunction<number, number> = {
 *   processElement(v, ctx, out) {
 *     if (v < 0) ctx.output(negative, v);
 *     else out.collect(v);
 *   },
 * };
 * const h = await ProcessFunctionHarness.create(fn);
 * h.processElement(1);
 * h.processElement(-2, 50);
 * assert.ok(h.output().join() === "1");
 * assert.ok(h.sideOutput(negative).join() === "-2");
 * assert.ok(h.sideOutputWithTimestamps(negative)[0]!.timestamp === 50);
 * await h.close();
 * ```
 */
export class ProcessFunctionHarness<I, O> extends OperatorHarness<O> {
  /** Wraps `fn` in a process operator and opens it. */
  static async create<I, O>(
    fn: ProcessFunction<I, O>,
    options: HarnessOptions = {},
  ): Promise<ProcessFunctionHarness<I, O>> {
    const h = new ProcessFunctionHarness<I, O>(new ProcessOperator<I, O>(fn), options);
    await h.open();
    return h;
  }

  /** Feeds one record, with an optional timestamp. */
  override processElement(value: I, timestamp?: number): void {
    super.processElement(value, timestamp, 0);
  }
}
