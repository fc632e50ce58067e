import assert from "node:assert/strict";
import { ValueStateDescriptor } from "../descriptors.ts";
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
