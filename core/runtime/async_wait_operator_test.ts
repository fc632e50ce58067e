import assert from "node:assert/strict";
import { ListStateDescriptor } from "../state/descriptors.ts";
import { type OperatorStateSnapshot, OperatorStateStore } from "../state/operator_state.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import { ManualClock } from "./clock.ts";
import { AsyncWaitOperator, type AsyncWaitOptions } from "./async_wait_operator.ts";
import type { OperatorContext } from "./operator.ts";
import type { AsyncFunction } from "../dataflow/async_function.ts";
import { ConfigError } from "../errors.ts";

/** An async wait operator on a hand-made task: mails run at once; `calls` sees each call. */
async function openOperator(
  fn: AsyncFunction<unknown, unknown>,
  restored?: OperatorStateSnapshot,
  inputSerializer?: Serializer<unknown>,
  timeoutMs = Infinity,
) {
  const options: AsyncWaitOptions = { ordered: true, timeoutMs, capacity: 10 };
  const op = new AsyncWaitOperator(fn, { ...options, inputSerializer });
  const clock = new ManualClock(0);
  const operatorState = new OperatorStateStore("lookup", restored);
  const out: unknown[] = [];
  op.setup(
    {
      uid: "lookup",
      name: "lookup",
      subtaskIndex: 0,
      parallelism: 1,
      maxParallelism: 128,
      clock,
      operatorState,
      isRestored: restored !== undefined,
      mailbox: { post: (mail: () => void) => mail(), yieldUntil: () => Promise.resolve() },
    } as unknown as OperatorContext,
    {
      collect: (v) => void out.push(v),
      collectSide: () => {},
      emitWatermark: () => {},
    },
  );
  await op.open();
  const snapshot = () => {
    op.snapshotState();
    return operatorState.snapshot();
  };
  return { op, out, snapshot, clock };
}

const never = () => new Promise<unknown[]>(() => {});

Deno.test("async I/O: a record in flight at a checkpoint is called again after restore as it was", async () => {
  const record = { at: new Date(5), x: NaN, gone: undefined, holes: [1, undefined], n: 2n };
  const first = await openOperator(never);
  first.op.processElement(record, 7);
  const snapshot = first.snapshot();
  await first.op.close();

  const calls: unknown[] = [];
  const second = await openOperator((v) => {
    calls.push(v);
    return Promise.resolve([v]);
  }, snapshot);
  // As JSON it came back with the date a string, NaN null, and no `gone` (bigint: refused).
  assert.deepEqual(calls, [record]);
  await Promise.resolve();
  assert.deepEqual(second.out, [record]);
  await second.op.close();
});

Deno.test("async I/O: in-flight records keep the input's serializer (returns)", async () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const points: Serializer<Point> = {
    id: "point",
    version: 1,
    write: (p, w) => Serializers.f64.write(p.x, w),
    read: (r) => new Point(Serializers.f64.read(r)),
  };
  const first = await openOperator(never, undefined, points as Serializer<unknown>);
  first.op.processElement(new Point(3), undefined);
  const snapshot = first.snapshot();
  const calls: unknown[] = [];
  const second = await openOperator(
    (v) => {
      calls.push(v);
      return never();
    },
    snapshot,
    points as Serializer<unknown>,
  );
  assert.ok(calls[0] instanceof Point && calls[0].x === 3, String(calls[0]));
  await second.op.close();
});

Deno.test("async I/O: in-flight records of a checkpoint that kept them as JSON are called again, once", async () => {
  const old = new OperatorStateStore("lookup");
  old.getListState(new ListStateDescriptor<unknown>("async-in-flight", Serializers.json))
    .update([{ v: { id: 1 }, t: 4 }, { v: "two" }]);
  const calls: unknown[] = [];
  const holding = (v: unknown) => {
    calls.push(v);
    return never();
  };
  const restored = await openOperator(holding, old.snapshot());
  assert.deepEqual(calls, [{ id: 1 }, "two"]);
  restored.op.processElement("three", undefined);
  // The next checkpoint holds each record once, in the new form: the JSON list is emptied.
  const snapshot = restored.snapshot();
  await restored.op.close();
  calls.length = 0;
  const again = await openOperator(holding, snapshot);
  assert.deepEqual(calls, [{ id: 1 }, "two", "three"]);
  await again.op.close();
});

Deno.test("async I/O: a timeout function that returns no array is a ConfigError naming the operator and the value", async () => {
  const { op, clock } = await openOperator(
    { asyncInvoke: never, timeout: () => "late" as unknown as unknown[] },
    undefined,
    undefined,
    50,
  );
  op.processElement(1, undefined);
  assert.throws(
    () => clock.advance(50),
    (e) =>
      e instanceof ConfigError &&
      /the timeout function of operator "lookup" returned the string "late": it must return an array/
        .test(e.message),
  );
  await op.close();
});
