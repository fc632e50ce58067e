import assert from "node:assert/strict";
import {
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../../mod.ts";
import { OperatorHarness } from "../testing/mod.ts";
import { ProcessOperator } from "./operators.ts";

/** Counts each key's records in keyed state; emits `key:count` through a detached `collect`. */
class CountPerKey implements KeyedProcessFunction<string, string, string> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }
  processElement(_w: string, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    const emit = out.collect;
    emit(`${ctx.getCurrentKey()}:${n}`);
  }
}

Deno.test("each process operator runs an entry of its own, and each collector a collect of its own: the record's key, state and timestamp", async () => {
  const ops = [0, 1].map(() => new ProcessOperator(new CountPerKey(), (w) => w));
  const [a, b] = await Promise.all(
    ops.map((op) => OperatorHarness.forOperator(op, { keySerializer: Serializers.string })),
  );
  a!.processElement("x", 10);
  a!.processElement("x", 11);
  b!.processElement("x", 12);
  a!.processElement("y");
  assert.deepEqual(a!.outputWithTimestamps(), [
    { value: "x:1", timestamp: 10 },
    { value: "x:2", timestamp: 11 },
    { value: "y:1", timestamp: undefined },
  ]);
  assert.deepEqual(b!.outputWithTimestamps(), [{ value: "x:1", timestamp: 12 }]);
  // Compiled per instance (each its own type feedback), not one method shared.
  assert.notEqual(ops[0]!.processElement, ops[1]!.processElement);
  assert.notEqual(ops[0]!.processElement.name, ops[1]!.processElement.name);
});
