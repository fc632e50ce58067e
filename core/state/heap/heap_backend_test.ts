import assert from "node:assert/strict";
import {
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../descriptors.ts";
import { DenoSegmentFs } from "../../../statestore-as/segment_fs.ts";
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

Deno.test("heap: interned composite keys, namespaces and map keys are forgotten once no state refers to them", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-heap-interned-test-" });
  const fs = new DenoSegmentFs();
  let segments = 0;
  const storage = { fs, dir, newSegmentName: () => `s-${++segments}.seg` };
  const options = {
    operatorUid: "op",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
  };
  const keyed = new HeapStateBackend().createKeyedBackend(options);
  const v = keyed.state(new ValueStateDescriptor("v", Serializers.f64));
  const w = keyed.state(new ValueStateDescriptor("w", Serializers.f64), Serializers.key);
  const m = keyed.state(new MapStateDescriptor("m", Serializers.key, Serializers.f64));
  const check = (b: typeof keyed) => {
    const bv = b.state(new ValueStateDescriptor("v", Serializers.f64));
    const bw = b.state(new ValueStateDescriptor("w", Serializers.f64), Serializers.key);
    const bm = b.state(new MapStateDescriptor("m", Serializers.key, Serializers.f64));
    for (let i = 0; i < KEPT; i++) {
      b.setCurrentKey(["keep", i]); // new instances, equal to the stored ones
      assert.equal(bv.value(), i);
      bw.setNamespace(["window", i]);
      assert.equal(bw.value(), -i);
      assert.deepEqual([...bm.entries()], [[["user-key", i], i]]);
    }
    assert.equal([...b.keys("v")].length, KEPT);
    assert.equal([...b.keys("w")].length, KEPT);
    assert.equal([...b.keys("m")].length, KEPT);
  };
  const KEPT = 100;
  for (let i = 0; i < KEPT; i++) {
    keyed.setCurrentKey(["keep", i]);
    v.update(i);
    w.setNamespace(["window", i]);
    w.update(-i);
    m.put(["user-key", i], i);
  }
  await keyed.snapshot(1, storage);
  const CHURN = 20_000;
  for (let i = 0; i < CHURN; i++) {
    keyed.setCurrentKey(["gone", i]);
    v.update(i);
    v.clear();
    w.setNamespace(["window", -i - 1]);
    w.update(i);
    w.clear();
    m.put(["user-key", -i - 1], i);
    m.remove(["user-key", -i - 1]);
  }
  // Keys, namespaces and map keys: each interner holds what is live and what it may grow by
  // before its next sweep (1024), not the 3 * 20,000 objects seen.
  const interned = keyed.internedCount();
  assert.ok(interned <= 3 * (KEPT + 1024 + 1), `${interned} interned objects`);
  check(keyed);
  const handle = await keyed.snapshot(2, storage);
  const restored = new HeapStateBackend().createKeyedBackend({
    ...options,
    restore: { handles: [handle], fs, segmentPath: (n) => `${dir}/${n}` },
  });
  check(restored);
  keyed.dispose();
  restored.dispose();
  fs.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("heap: a snapshot of a value its serializer cannot write names the state and operator", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-heap-unwritable-test-" });
  const fs = new DenoSegmentFs();
  let segments = 0;
  const storage = { fs, dir, newSegmentName: () => `s-${++segments}.seg` };
  // A full snapshot (the first), and a delta on one (a later snapshot with few changes).
  for (const snapshotsBefore of [0, 1]) {
    const keyed = new HeapStateBackend().createKeyedBackend({
      operatorUid: "prices",
      subtaskIndex: 0,
      keySerializer: Serializers.key,
      maxParallelism: 128,
      keyGroupRange: { start: 0, end: 127 },
    });
    const ok = keyed.state(new ValueStateDescriptor("ok", Serializers.f64));
    const m = keyed.state(
      new MapStateDescriptor("last-price", Serializers.string, Serializers.f64),
    );
    for (let i = 0; i < 100; i++) {
      keyed.setCurrentKey(`k${i}`);
      ok.update(i);
      m.put("eur", i);
    }
    for (let n = 1; n <= snapshotsBefore; n++) await keyed.snapshot(n, storage);
    // The heap backend keeps the object as given (the LSM backend refuses it at the put).
    m.put("usd", null as unknown as number);
    await assert.rejects(
      async () => await keyed.snapshot(snapshotsBefore + 1, storage),
      (e: Error) => {
        assert.match(
          e.message,
          /^State "last-price" of operator "prices" holds a value its serializer cannot write: Serializer "f64" cannot serialize a null$/,
        );
        return true;
      },
    );
    keyed.dispose();
  }
  fs.close();
  Deno.removeSync(dir, { recursive: true });
});
