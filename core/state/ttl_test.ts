import assert from "node:assert/strict";
import { ConfigError, SerializationError } from "../errors.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "./descriptors.ts";
import { Serializers } from "./serializer.ts";
import { StateTtlConfig, ttlSerializer } from "./ttl.ts";
import { liveStoredValue } from "./ttl_state.ts";

Deno.test("ttl: builder defaults follow Flink", () => {
  const c = StateTtlConfig.newBuilder(1000).build();
  assert.equal(c.ttlMs, 1000);
  assert.equal(c.updateType, "OnCreateAndWrite");
  assert.equal(c.stateVisibility, "NeverReturnExpired");
  assert.equal(c.timeCharacteristic, "ProcessingTime");
  assert.deepEqual(c.cleanup, {
    fullSnapshot: false,
    incremental: { cleanupSize: 5, runForEveryRecord: false },
    compactionFilter: true,
  });
});

Deno.test("ttl: builder options", () => {
  const c = StateTtlConfig.newBuilder(5).setTtl(7).updateTtlOnReadAndWrite()
    .returnExpiredIfNotCleanedUp().useProcessingTime().cleanupFullSnapshot()
    .cleanupInRocksdbCompactFilter().build();
  assert.equal(c.ttlMs, 7);
  assert.equal(c.updateType, "OnReadAndWrite");
  assert.equal(c.stateVisibility, "ReturnExpiredIfNotCleanedUp");
  assert.deepEqual(c.cleanup, {
    fullSnapshot: true,
    incremental: { cleanupSize: 5, runForEveryRecord: false },
    compactionFilter: true,
  });
  const d = StateTtlConfig.newBuilder(5).setUpdateType("OnCreateAndWrite")
    .setStateVisibility("NeverReturnExpired").cleanupIncrementally(3, true).build();
  assert.deepEqual(d.cleanup.incremental, { cleanupSize: 3, runForEveryRecord: true });
  assert.ok(d.isExpired(0, 5) && !d.isExpired(0, 4));
});

Deno.test("ttl: a cleanup strategy chosen for one backend keeps the other's default, as Flink's", () => {
  // Incremental cleanup is the heap backend's: the same job on the LSM backend still drops
  // expired entries in compaction (else every key that went away stays in the store for good).
  const heap = StateTtlConfig.newBuilder(5).cleanupIncrementally(3, true).build();
  assert.deepEqual(heap.cleanup.incremental, { cleanupSize: 3, runForEveryRecord: true });
  assert.equal(heap.cleanup.compactionFilter, true);
  const lsm = StateTtlConfig.newBuilder(5).cleanupInLsmCompactFilter().build();
  assert.deepEqual(lsm.cleanup.incremental, { cleanupSize: 5, runForEveryRecord: false });
  const none = StateTtlConfig.newBuilder(5).disableCleanupInBackground().cleanupIncrementally(
    3,
    true,
  )
    .build();
  assert.equal(none.cleanup.compactionFilter, false);
  assert.equal(
    StateTtlConfig.newBuilder(5).disableCleanupInBackground().cleanupInLsmCompactFilter().build()
      .cleanup.incremental,
    undefined,
  );
});

Deno.test("ttl: bad settings are ConfigErrors", () => {
  assert.throws(() => StateTtlConfig.newBuilder(0).build(), ConfigError);
  assert.throws(() => StateTtlConfig.newBuilder(-1).build(), ConfigError);
  assert.throws(() => StateTtlConfig.newBuilder(Infinity).build(), ConfigError);
  assert.throws(() => StateTtlConfig.newBuilder(NaN).build(), ConfigError);
  assert.throws(() => StateTtlConfig.newBuilder(0.5).build(), /whole number of ms, got 0\.5/);
  assert.throws(() => StateTtlConfig.newBuilder(1000).setTtl(1.5).build(), ConfigError);
  // Strings from untyped code or config files: a typo must not fall back to the default.
  assert.throws(
    () => StateTtlConfig.newBuilder(1).setUpdateType("OnRead" as never).build(),
    /update type must be "OnCreateAndWrite" or "OnReadAndWrite", got "OnRead"/,
  );
  assert.throws(
    () => StateTtlConfig.newBuilder(1).setStateVisibility("ReturnExpired" as never).build(),
    ConfigError,
  );
  assert.equal(StateTtlConfig.newBuilder(2 ** 60).build().ttlMs, 2 ** 60);
  assert.throws(() => StateTtlConfig.newBuilder(1).cleanupIncrementally(0, false), ConfigError);
});

Deno.test("ttl: type ids get +ttl", () => {
  const ttl = StateTtlConfig.newBuilder(1).build();
  const ds = [
    new ValueStateDescriptor("a", Serializers.f64),
    new ListStateDescriptor("b", Serializers.string),
    new MapStateDescriptor("c", Serializers.string, Serializers.f64),
    new ReducingStateDescriptor("d", (x: number, y: number) => x + y, Serializers.f64),
    new AggregatingStateDescriptor("e", {
      createAccumulator: () => 0,
      add: (_v: number, a: number) => a + 1,
      getResult: (a: number) => a,
    }, Serializers.f64),
  ];
  const before = ds.map((d) => d.typeId());
  for (const d of ds) d.enableTimeToLive(ttl);
  assert.deepEqual(ds.map((d) => d.typeId()), before.map((id) => `${id}+ttl`));
  assert.ok(ds.every((d) => d.ttlConfig === ttl));
});

Deno.test("ttl: serializer layout is a u64 big-endian timestamp then the value", () => {
  const s = ttlSerializer(Serializers.string);
  assert.equal(s.id, "ttl<string>");
  const w = new ByteWriter();
  const ts = 2 ** 40 + 5;
  s.write({ v: "hi", ts }, w);
  const bytes = w.toBytes();
  assert.deepEqual([...bytes.subarray(0, 8)], [0, 0, 1, 0, 0, 0, 0, 5]);
  const inner = new ByteWriter();
  Serializers.string.write("hi", inner);
  assert.deepEqual(bytes.subarray(8), inner.toBytes());
  assert.deepEqual(s.read(new ByteReader(bytes)), { v: "hi", ts });
  assert.throws(() => s.write({ v: "x", ts: -1 }, new ByteWriter()), SerializationError);
  assert.throws(() => s.write({ v: "x", ts: 1.5 }, new ByteWriter()), SerializationError);
});

Deno.test("ttl: liveStoredValue filters lists and maps without touching the input", () => {
  const c = StateTtlConfig.newBuilder(10).build();
  const list = [{ v: 1, ts: 0 }, { v: 2, ts: 5 }];
  assert.equal(liveStoredValue("list", list, c, 9), list);
  assert.deepEqual(liveStoredValue("list", list, c, 10), [{ v: 2, ts: 5 }]);
  assert.equal(liveStoredValue("list", list, c, 15), undefined);
  assert.equal(list.length, 2);
  const map = new Map([["a", { v: 1, ts: 0 }], ["b", { v: 2, ts: 5 }]]);
  assert.equal(liveStoredValue("map", map, c, 9), map);
  assert.deepEqual([...(liveStoredValue("map", map, c, 10) as Map<string, unknown>).keys()], ["b"]);
  assert.equal(liveStoredValue("map", map, c, 15), undefined);
  assert.equal(map.size, 2);
  const one = { v: 1, ts: 3 };
  assert.equal(liveStoredValue("reducing", one, c, 12), one);
  assert.equal(liveStoredValue("value", one, c, 13), undefined);
});
