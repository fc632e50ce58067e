import assert from "node:assert/strict";
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from "../descriptors.ts";
import { Serializers } from "../serializer.ts";
import { StateTtlConfig } from "../ttl.ts";
import { ManualClock } from "../../runtime/clock.ts";
import { runTtlSuite, ttlKeyed, TtlShared } from "../testing/ttl_suite.ts";
import { HeapStateBackend } from "../heap/heap_backend.ts";
import { type LsmKeyedStateBackend, LsmStateBackend } from "./lsm_backend.ts";

const SMALL = { memtableBytes: 64 << 10, blockCacheBytes: 64 << 10 };

runTtlSuite("lsm", () => new LsmStateBackend(SMALL), () => new HeapStateBackend());
runTtlSuite(
  "lsm no value cache",
  () => new LsmStateBackend({ ...SMALL, cacheEntries: 0 }),
  () => new HeapStateBackend(),
);

function fill(clock: ManualClock, config: StateTtlConfig, n: number) {
  const b = ttlKeyed(new LsmStateBackend(SMALL), clock) as LsmKeyedStateBackend;
  const v = new ValueStateDescriptor("v", Serializers.string);
  const l = new ListStateDescriptor("l", Serializers.string);
  const m = new MapStateDescriptor("m", Serializers.string, Serializers.f64);
  for (const d of [v, l, m]) d.enableTimeToLive(config);
  const plain = b.state(new ValueStateDescriptor("plain", Serializers.f64));
  const vs = b.state(v);
  const ls = b.state(l);
  const ms = b.state(m);
  for (let i = 0; i < n; i++) {
    b.setCurrentKey(`key-${i}`);
    vs.update("x".repeat(20));
    ls.add("element");
    ms.put("entry", i);
    plain.update(i);
  }
  return { b, vs, ls, ms, plain };
}

/** Raw store entries of state `id`. */
function rawCount(b: LsmKeyedStateBackend, name: string): number {
  const id = b.stateNames().indexOf(name) + 1;
  let n = 0;
  for (const [k] of b.store.scan()) if (((k[2]! << 8) | k[3]!) === id) n++;
  return n;
}

Deno.test("lsm ttl: the compaction filter drops expired entries and list elements", async () => {
  const shared = new TtlShared();
  try {
    const clock = new ManualClock(0);
    const cfg = StateTtlConfig.newBuilder(100).cleanupInLsmCompactFilter().build();
    const { b, ls } = fill(clock, cfg, 300);
    b.store.flush();
    clock.set(60);
    b.setCurrentKey("key-7");
    ls.add("late"); // a merge record in a newer segment
    b.store.flush();
    const before = await b.snapshot(1, shared.storage());
    assert.equal(rawCount(b, "v"), 300);
    clock.set(100);
    b.store.compact();
    assert.equal(rawCount(b, "v"), 0);
    assert.equal(rawCount(b, "m"), 0);
    assert.equal(rawCount(b, "l"), 1);
    assert.equal(rawCount(b, "plain"), 300, "state without TTL is untouched");
    const after = await b.snapshot(2, shared.storage());
    assert.ok(TtlShared.size(after) * 2 < TtlShared.size(before));
    // Restored: the surviving element only, the state without TTL intact.
    const r = ttlKeyed(new HeapStateBackend(), new ManualClock(0), shared.restore([after]));
    const l2 = new ListStateDescriptor("l", Serializers.string);
    l2.enableTimeToLive(cfg);
    const rl = r.state(l2);
    const rp = r.state(new ValueStateDescriptor("plain", Serializers.f64));
    r.setCurrentKey("key-7");
    assert.deepEqual(rl.get(), ["late"]);
    assert.equal(rp.value(), 7);
    r.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("lsm ttl: a flush writes deletes for expired entries, so older segments stay hidden", () => {
  const clock = new ManualClock(0);
  const cfg = StateTtlConfig.newBuilder(100).cleanupInLsmCompactFilter()
    .returnExpiredIfNotCleanedUp().build();
  const b = ttlKeyed(new LsmStateBackend(SMALL), clock) as LsmKeyedStateBackend;
  const d = new ValueStateDescriptor("v", Serializers.f64);
  d.enableTimeToLive(cfg);
  const v = b.state(d);
  b.setCurrentKey("k");
  v.update(1);
  b.store.flush(); // segment 1: (k, 1 @ 0)
  clock.set(50);
  v.update(2); // memtable: (k, 2 @ 50)
  clock.set(150);
  b.store.flush(); // expired: written as a delete, not dropped
  assert.equal(v.value(), undefined, "no older version shows through");
  b.dispose();
});

Deno.test("lsm ttl: without the compaction filter expired entries stay until read", () => {
  const clock = new ManualClock(0);
  const cfg = StateTtlConfig.newBuilder(100).disableCleanupInBackground().build();
  const { b, vs } = fill(clock, cfg, 50);
  clock.set(200);
  b.store.flush();
  b.store.compact();
  assert.equal(rawCount(b, "v"), 50);
  b.setCurrentKey("key-3");
  assert.equal(vs.value(), undefined);
  assert.equal([...b.keys("v")].length, 49, "cleanup on read");
  b.dispose();
});

Deno.test("lsm ttl: a partly expired list keeps its live elements through compaction", () => {
  const clock = new ManualClock(0);
  const cfg = StateTtlConfig.newBuilder(100).cleanupInLsmCompactFilter().build();
  const b = ttlKeyed(new LsmStateBackend(SMALL), clock) as LsmKeyedStateBackend;
  const d = new ListStateDescriptor("l", Serializers.f64);
  d.enableTimeToLive(cfg);
  const l = b.state(d);
  b.setCurrentKey("k");
  l.addAll([1, 2]);
  clock.set(30);
  l.add(3);
  b.store.flush();
  clock.set(70);
  l.add(4);
  b.store.flush();
  clock.set(110);
  b.store.compact();
  const peek = new ListStateDescriptor("l", Serializers.f64);
  peek.enableTimeToLive(
    StateTtlConfig.newBuilder(100).disableCleanupInBackground().returnExpiredIfNotCleanedUp()
      .build(),
  );
  assert.deepEqual(b.state(peek).get(), [3, 4]);
  b.dispose();
});
