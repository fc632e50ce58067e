import assert from "node:assert/strict";
import { ReducingStateDescriptor, ValueStateDescriptor } from "../descriptors.ts";
import { Serializers } from "../serializer.ts";
import { runStateSuite } from "../testing/state_suite.ts";
import { HeapStateBackend } from "./heap_backend.ts";

runStateSuite("heap", () => new HeapStateBackend());

Deno.test("heap: the backend keeps its options and names itself", () => {
  const backend = new HeapStateBackend();
  assert.equal(backend.name, "heap");
  const keyed = backend.createKeyedBackend({
    operatorUid: "op",
    subtaskIndex: 1,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: { start: 64, end: 127 },
  });
  assert.deepEqual(keyed.keyGroupRange, { start: 64, end: 127 });
  const v = keyed.state(new ValueStateDescriptor("v", Serializers.f64));
  keyed.setCurrentKey("k");
  v.update(1);
  keyed.dispose();
  assert.deepEqual(keyed.stateNames(), []);
});

Deno.test("heap: reducing state keeps its first value as a copy, so a reduce that updates it in place changes no input", () => {
  const keyed = new HeapStateBackend().createKeyedBackend({
    operatorUid: "op",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
  });
  const sum = keyed.state(
    new ReducingStateDescriptor<{ n: number }>("sum", (a, b) => {
      a.n += b.n;
      return a;
    }, Serializers.json as never),
  );
  keyed.setCurrentKey("k");
  const first = { n: 1 }, second = { n: 2 };
  sum.add(first);
  sum.add(second);
  assert.deepEqual(sum.get(), { n: 3 });
  assert.deepEqual([first, second], [{ n: 1 }, { n: 2 }]);
  keyed.dispose();
});
