import assert from "node:assert/strict";
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from "../descriptors.ts";
import { Serializers } from "../serializer.ts";
import { StateTtlConfig } from "../ttl.ts";
import { ManualClock } from "../../runtime/clock.ts";
import { runTtlSuite, ttlKeyed, TtlShared } from "../testing/ttl_suite.ts";
import { LsmStateBackend } from "../lsm/lsm_backend.ts";
import { HeapStateBackend } from "./heap_backend.ts";

runTtlSuite(
  "heap",
  () => new HeapStateBackend(),
  () => new LsmStateBackend({ memtableBytes: 64 << 10, blockCacheBytes: 64 << 10 }),
);

/** Writes `n` keys of value, list and map state at the clock's time. */
function fill(clock: ManualClock, config: StateTtlConfig, n: number) {
  const b = ttlKeyed(new HeapStateBackend(), clock);
  const v = new ValueStateDescriptor("v", Serializers.string);
  const l = new ListStateDescriptor("l", Serializers.string);
  const m = new MapStateDescriptor("m", Serializers.string, Serializers.f64);
  for (const d of [v, l, m]) d.enableTimeToLive(config);
  const vs = b.state(v);
  const ls = b.state(l);
  const ms = b.state(m);
  for (let i = 0; i < n; i++) {
    b.setCurrentKey(`key-${i}`);
    vs.update("x".repeat(20));
    ls.add("element");
    ms.put("entry", i);
  }
  return { b, vs, ls, ms };
}

Deno.test("heap ttl: cleanupFullSnapshot leaves expired entries and elements out of snapshots", async () => {
  const shared = new TtlShared();
  try {
    const clock = new ManualClock(0);
    const cfg = StateTtlConfig.newBuilder(100).disableCleanupInBackground().cleanupFullSnapshot()
      .build();
    const { b, ls } = fill(clock, cfg, 200);
    const full = await b.snapshot(1, shared.storage());
    clock.set(50);
    b.setCurrentKey("key-0");
    ls.add("late"); // one element of one key survives
    clock.set(120);
    const after = await b.snapshot(2, shared.storage());
    assert.ok(
      TtlShared.size(after) * 20 < TtlShared.size(full),
      `${TtlShared.size(after)} vs ${TtlShared.size(full)}`,
    );
    const r = ttlKeyed(new HeapStateBackend(), new ManualClock(0), shared.restore([after]));
    const l2 = new ListStateDescriptor("l", Serializers.string);
    l2.enableTimeToLive(cfg);
    const rl = r.state(l2);
    r.setCurrentKey("key-0");
    assert.deepEqual(rl.get(), ["late"]);
    assert.deepEqual([...r.keys("l")], ["key-0"]);
    assert.deepEqual([...r.keys("v")], []);
    r.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap ttl: without cleanupFullSnapshot expired entries stay in snapshots", async () => {
  const shared = new TtlShared();
  try {
    const clock = new ManualClock(0);
    const cfg = StateTtlConfig.newBuilder(100).disableCleanupInBackground().build();
    const { b } = fill(clock, cfg, 50);
    const before = await b.snapshot(1, shared.storage());
    clock.set(500);
    const after = await b.snapshot(2, shared.storage());
    assert.equal(TtlShared.size(after), TtlShared.size(before));
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap ttl: incremental cleanup checks cleanupSize entries per state access", () => {
  const clock = new ManualClock(0);
  const cfg = StateTtlConfig.newBuilder(100).cleanupIncrementally(10, false).build();
  const { b, vs } = fill(clock, cfg, 100);
  clock.set(100);
  b.setCurrentKey("fresh");
  assert.equal([...b.keys("v")].length, 100);
  vs.value(); // one access: 10 entries checked
  assert.equal([...b.keys("v")].length, 90);
  for (let i = 0; i < 9; i++) vs.value();
  assert.equal([...b.keys("v")].length, 0);
  // Other states are cleaned by their own accesses only.
  assert.equal([...b.keys("l")].length, 100);
  b.dispose();
});

Deno.test("heap ttl: incremental cleanup with runForEveryRecord runs on every record", () => {
  const clock = new ManualClock(0);
  const cfg = StateTtlConfig.newBuilder(100).cleanupIncrementally(5, true).build();
  const { b } = fill(clock, cfg, 40);
  clock.set(100);
  for (let i = 0; i < 4; i++) b.setCurrentKey(`other-${i}`); // records, no state access
  assert.equal([...b.keys("m")].length, 20);
  assert.equal([...b.keys("l")].length, 20);
  assert.equal([...b.keys("v")].length, 20);
  b.dispose();
});

Deno.test("heap ttl: incremental cleanup removes expired elements and entries only", () => {
  const clock = new ManualClock(0);
  const cfg = StateTtlConfig.newBuilder(100).cleanupIncrementally(1000, false).build();
  const b = ttlKeyed(new HeapStateBackend(), clock);
  const l = new ListStateDescriptor("l", Serializers.f64);
  l.enableTimeToLive(cfg);
  const m = new MapStateDescriptor("m", Serializers.f64, Serializers.f64);
  m.enableTimeToLive(cfg);
  const ls = b.state(l);
  const ms = b.state(m);
  b.setCurrentKey("k");
  ls.add(1);
  ms.put(1, 1);
  clock.set(60);
  ls.add(2);
  ms.put(2, 2);
  clock.set(100);
  b.setCurrentKey("other");
  ls.get(); // cleans "k"'s list in place
  ms.get(0);
  b.setCurrentKey("k");
  // ReturnExpiredIfNotCleanedUp would show them if they were still there.
  const peek = new ListStateDescriptor("l", Serializers.f64);
  peek.enableTimeToLive(
    StateTtlConfig.newBuilder(100).disableCleanupInBackground().returnExpiredIfNotCleanedUp()
      .build(),
  );
  assert.deepEqual(b.state(peek).get(), [2]);
  assert.deepEqual([...ms.entries()], [[2, 2]]);
  b.dispose();
});

Deno.test("heap ttl: defaults enable incremental cleanup of 5 entries", () => {
  const cfg = StateTtlConfig.newBuilder(100).build();
  assert.deepEqual(cfg.cleanup.incremental, { cleanupSize: 5, runForEveryRecord: false });
  const clock = new ManualClock(0);
  const { b, vs } = fill(clock, cfg, 10);
  clock.set(100);
  b.setCurrentKey("z");
  vs.value();
  assert.equal([...b.keys("v")].length, 5);
  b.dispose();
});
