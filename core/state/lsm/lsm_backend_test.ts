import assert from "node:assert/strict";
import { CheckpointError, ConfigError, SerializationError, StateError } from "../../errors.ts";
import type {
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  SnapshotStorage,
  StateBackend,
} from "../backend.ts";
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ValueStateDescriptor,
} from "../descriptors.ts";
import { keyGroupOf, type KeyGroupRange, keyGroupRangeForSubtask } from "../key_group.ts";
import { serialize, Serializers } from "../serializer.ts";
import { HeapStateBackend } from "../heap/heap_backend.ts";
import { DenoSegmentFs } from "../../../statestore-as/segment_fs.ts";
import { runStateSuite } from "../testing/state_suite.ts";
import { LsmKeyedStateBackend, LsmStateBackend } from "./lsm_backend.ts";
import { FaultyFs } from "../../../tests/_helpers/faulty_fs.ts";

const SMALL = { memtableBytes: 64 << 10, blockCacheBytes: 64 << 10 };

runStateSuite(
  "lsm",
  () => new LsmStateBackend({ memtableBytes: 1 << 20, blockCacheBytes: 1 << 20 }),
);
runStateSuite("lsm tiny value cache", () => new LsmStateBackend({ ...SMALL, cacheEntries: 3 }));
runStateSuite("lsm no value cache", () => new LsmStateBackend({ ...SMALL, cacheEntries: 0 }));

const MAX_P = 128;
const ALL: KeyGroupRange = { start: 0, end: MAX_P - 1 };

function keyed(
  backend: StateBackend,
  range: KeyGroupRange = ALL,
  restore?: KeyedRestore,
  workDir?: string,
): KeyedStateBackend {
  return backend.createKeyedBackend({
    operatorUid: "op",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: MAX_P,
    keyGroupRange: range,
    ...(restore ? { restore } : {}),
    ...(workDir ? { workDir } : {}),
  });
}

/** A checkpoint folder: snapshot storage plus the restore view of its handles. */
class Shared {
  readonly dir = Deno.makeTempDirSync({ prefix: "weir-lsm-test-" });
  readonly fs = new DenoSegmentFs();
  #n = 0;
  storage(): SnapshotStorage {
    return { fs: this.fs, dir: this.dir, newSegmentName: () => `heap-${++this.#n}.seg` };
  }
  restore(handles: KeyedStateHandle[]): KeyedRestore {
    return { handles, fs: this.fs, segmentPath: (n) => `${this.dir}/${n}` };
  }
  close(): void {
    this.fs.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

const descriptors = () => ({
  count: new ValueStateDescriptor("count", Serializers.f64, 0),
  seen: new ListStateDescriptor("seen", Serializers.string),
  attrs: new MapStateDescriptor("attrs", Serializers.string, Serializers.f64),
});

/** Writes a known state over `n` keys, with deletes and list appends spread over flushes. */
function populate(b: KeyedStateBackend, n: number, flushEvery = 0): void {
  const d = descriptors();
  const count = b.state(d.count);
  const seen = b.state(d.seen);
  const attrs = b.state(d.attrs);
  const win = b.state(new ValueStateDescriptor("win", Serializers.string), Serializers.f64);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < n; i++) {
      b.setCurrentKey(`k${i}`);
      count.update(count.value()! + 1);
      seen.add(`r${round}`);
      attrs.put(`a${round}`, i);
      if (round === 2 && i % 5 === 0) attrs.remove("a0");
      if (round === 2 && i % 7 === 0) count.clear();
      win.setNamespace(round);
      win.update(`w${i}`);
    }
    if (flushEvery && b instanceof LsmKeyedStateBackend) b.store.flush();
  }
}

/** Reads every key's state back as plain data (registers the states). */
function dump(b: KeyedStateBackend, keys: Iterable<string>): Record<string, unknown> {
  const d = descriptors();
  const count = b.state(d.count);
  const seen = b.state(d.seen);
  const attrs = b.state(d.attrs);
  const win = b.state(new ValueStateDescriptor("win", Serializers.string), Serializers.f64);
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    b.setCurrentKey(k);
    const wins = [0, 1, 2].map((ns) => {
      win.setNamespace(ns);
      return win.value();
    });
    out[k] = {
      count: count.value(),
      seen: seen.get(),
      attrs: [...attrs.entries()].sort(),
      wins,
    };
  }
  return out;
}

const keysOf = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

Deno.test("lsm: state far larger than the memtable stays correct", () => {
  const b = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 0 })) as LsmKeyedStateBackend;
  populate(b, 3000);
  assert.ok(b.store.stats().flushes > 3, "the memtable was flushed several times");
  const heap = keyed(new HeapStateBackend());
  populate(heap, 3000);
  assert.deepEqual(dump(b, keysOf(3000)), dump(heap, keysOf(3000)));
  assert.equal(new Set(b.keys("seen")).size, 3000);
  assert.equal(new Set(b.keys("count")).size, 3000 - Math.ceil(3000 / 7));
  b.dispose();
  heap.dispose();
});

Deno.test("lsm: ListState.add appends with a merge and never reads the list", () => {
  const b = keyed(new LsmStateBackend(SMALL)) as LsmKeyedStateBackend;
  const list = b.state(new ListStateDescriptor("l", Serializers.f64));
  let reads = 0;
  const store = b.store;
  const getScratch = store.getScratch.bind(store);
  const get = store.get.bind(store);
  store.getScratch = (n: number) => (reads++, getScratch(n));
  store.get = (k: Uint8Array) => (reads++, get(k));
  let merges = 0;
  const mergeScratch = store.mergeScratch.bind(store);
  store.mergeScratch = (k: number, v: number) => (merges++, mergeScratch(k, v));
  b.setCurrentKey("k");
  for (let i = 0; i < 100; i++) list.add(i);
  list.addAll([100, 101]);
  assert.equal(reads, 0, "add() does not read");
  assert.equal(merges, 101, "one merge per add, one per addAll");
  assert.equal(list.get()!.length, 102);
  assert.equal(reads, 1);
  b.dispose();
});

for (
  const [from, to] of [
    ["lsm", "lsm"],
    ["lsm", "heap"],
    ["heap", "lsm"],
  ] as const
) {
  Deno.test(`lsm: snapshot of ${from} restores into ${to} (and back into ${from})`, async () => {
    const make = (kind: string) =>
      kind === "lsm" ? new LsmStateBackend({ ...SMALL, cacheEntries: 0 }) : new HeapStateBackend();
    const shared = new Shared();
    const a = keyed(make(from));
    // Flushes between rounds: list appends and deletes span several segments.
    populate(a, 500, 1);
    const raw: [Uint8Array, Uint8Array] = [
      new Uint8Array([0, 1, 0xff, 0xf8, 7]),
      new Uint8Array([9]),
    ];
    a.rawPut(raw[0], raw[1]);
    const expected = dump(a, keysOf(500));
    const h1 = await a.snapshot(1, shared.storage());
    assert.equal(h1.backend, from);
    a.dispose();
    const b = keyed(make(to), ALL, shared.restore([h1]));
    const rawRange = [
      new Uint8Array([0, 1, 0xff, 0xf1]),
      new Uint8Array([0, 1, 0xff, 0xff]),
    ] as const;
    assert.deepEqual([...b.rawScan(...rawRange)], [raw]);
    assert.deepEqual(dump(b, keysOf(500)), expected);
    assert.equal(new Set(b.keys("seen")).size, 500);
    const h2 = await b.snapshot(2, shared.storage());
    b.dispose();
    const c = keyed(make(from), ALL, shared.restore([h2]));
    assert.deepEqual(dump(c, keysOf(500)), expected);
    c.dispose();
    shared.close();
  });
}

Deno.test("lsm: restored state not registered yet is kept in the next snapshot", async () => {
  const shared = new Shared();
  const a = keyed(new LsmStateBackend(SMALL));
  populate(a, 50);
  const expected = dump(a, keysOf(50));
  const h1 = await a.snapshot(1, shared.storage());
  a.dispose();
  const b = keyed(new LsmStateBackend(SMALL), ALL, shared.restore([h1]));
  assert.deepEqual(b.stateNames(), []);
  const h2 = await b.snapshot(2, shared.storage());
  assert.deepEqual(h2.states.map((s) => s.name).sort(), ["attrs", "count", "seen", "win"]);
  b.dispose();
  const c = keyed(new HeapStateBackend(), ALL, shared.restore([h2]));
  assert.deepEqual(dump(c, keysOf(50)), expected);
  c.dispose();
  shared.close();
});

Deno.test("lsm: restore with rescaling (2 → 1 and 1 → 3)", async () => {
  const n = 600;
  const shared = new Shared();
  const heap = keyed(new HeapStateBackend());
  populate(heap, n);
  const expected = dump(heap, keysOf(n));
  heap.dispose();
  // Two old subtasks, each holding the keys of its key groups.
  const old = [0, 1].map((i) => keyGroupRangeForSubtask(MAX_P, 2, i));
  const handles: KeyedStateHandle[] = [];
  for (const range of old) {
    const b = keyed(new LsmStateBackend(SMALL), range);
    const mine = keysOf(n).filter((k) => ownsKey(range, k));
    populateSome(b, mine);
    handles.push(await b.snapshot(1, shared.storage()));
    b.dispose();
  }
  const one = keyed(new LsmStateBackend(SMALL), ALL, shared.restore(handles));
  assert.deepEqual(dump(one, keysOf(n)), expected);
  assert.equal(new Set(one.keys("seen")).size, n);
  const merged = await one.snapshot(2, shared.storage());
  one.dispose();
  // One → three: each new subtask sees only its key groups.
  const seenKeys: string[] = [];
  for (let i = 0; i < 3; i++) {
    const range = keyGroupRangeForSubtask(MAX_P, 3, i);
    const b = keyed(new LsmStateBackend(SMALL), range, shared.restore([merged]));
    const mine = keysOf(n).filter((k) => ownsKey(range, k));
    assert.deepEqual(dump(b, mine), Object.fromEntries(mine.map((k) => [k, expected[k]])));
    const listed = [...b.keys("seen")] as string[];
    assert.deepEqual(listed.sort(), mine.sort(), `subtask ${i} lists only its own keys`);
    seenKeys.push(...listed);
    // Its next snapshot holds no other subtask's key groups.
    const h = await b.snapshot(3, shared.storage());
    const back = keyed(new HeapStateBackend(), ALL, shared.restore([h]));
    back.state(descriptors().seen);
    assert.deepEqual(([...back.keys("seen")] as string[]).sort(), mine.sort());
    back.dispose();
    b.dispose();
  }
  assert.equal(seenKeys.length, n);
  shared.close();
});

function ownsKey(range: KeyGroupRange, key: string): boolean {
  const kg = keyGroupOfKey(key);
  return kg >= range.start && kg <= range.end;
}

function keyGroupOfKey(key: string): number {
  return keyGroupOf(serialize(Serializers.key, key), MAX_P);
}

/** `populate` restricted to some keys (the same values as for all keys). */
function populateSome(b: KeyedStateBackend, keys: string[]): void {
  const d = descriptors();
  const count = b.state(d.count);
  const seen = b.state(d.seen);
  const attrs = b.state(d.attrs);
  const win = b.state(new ValueStateDescriptor("win", Serializers.string), Serializers.f64);
  for (let round = 0; round < 3; round++) {
    for (const k of keys) {
      const i = Number(k.slice(1));
      b.setCurrentKey(k);
      count.update(count.value()! + 1);
      seen.add(`r${round}`);
      attrs.put(`a${round}`, i);
      if (round === 2 && i % 5 === 0) attrs.remove("a0");
      if (round === 2 && i % 7 === 0) count.clear();
      win.setNamespace(round);
      win.update(`w${i}`);
    }
  }
}

Deno.test("lsm: a segment copy that fills the disk leaves no temp file in the checkpoint folder", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-lsm-full-" });
  // Not a DenoSegmentFs: the snapshot copies its segments through it.
  const fs = new FaultyFs();
  const b = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 0 }));
  const count = b.state(new ValueStateDescriptor("count", Serializers.f64, 0));
  for (let i = 0; i < 5_000; i++) {
    b.setCurrentKey(`key-${i}`);
    count.update(i);
  }
  let n = 0;
  const storage = { fs, dir, newSegmentName: () => `heap-${++n}.seg` };
  fs.arm({ diskFullAfterBytes: 1000 });
  await assert.rejects(
    b.snapshot(1, storage),
    (e) =>
      e instanceof StateError &&
      new RegExp(`writing segment ${dir}/[^ ]+ failed: ENOSPC`).test(e.message),
  );
  assert.ok(fs.injected > 0);
  // The part that fitted went with its temp file: the space is free again.
  assert.deepEqual(Deno.readDirSync(dir).toArray().map((e) => e.name), []);
  fs.heal();
  const h = await b.snapshot(2, storage);
  assert.deepEqual(
    Deno.readDirSync(dir).toArray().map((e) => e.name).sort(),
    h.segments.map((s) => s.name).sort(),
  );
  b.dispose();
  fs.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("lsm: incremental snapshots link only new segments", async () => {
  const shared = new Shared();
  const b = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 0 })) as LsmKeyedStateBackend;
  const count = b.state(new ValueStateDescriptor("count", Serializers.f64, 0));
  for (let i = 0; i < 20_000; i++) {
    b.setCurrentKey(`key-${i}`);
    count.update(i);
  }
  // One segment, so no compaction (on a worker) can finish between the two
  // snapshots and add its output to the second.
  b.store.compact();
  const h1 = await b.snapshot(1, shared.storage());
  const bytes1 = h1.segments.reduce((a, s) => a + s.size, 0);
  for (let i = 0; i < 20; i++) {
    b.setCurrentKey(`key-${i}`);
    count.update(-i);
  }
  const h2 = await b.snapshot(2, shared.storage());
  const old = new Set(h1.segments.map((s) => s.name));
  const added = h2.segments.filter((s) => !old.has(s.name));
  const addedBytes = added.reduce((a, s) => a + s.size, 0);
  assert.ok(added.length >= 1);
  assert.ok(addedBytes < bytes1 / 20, `second snapshot adds ${addedBytes} of ${bytes1} bytes`);
  // Shared files are hard links of the store's segments, not copies.
  for (const s of h2.segments) {
    assert.equal(shared.fs.size(`${shared.dir}/${s.name}`), s.size);
    assert.ok(Deno.statSync(`${shared.dir}/${s.name}`).nlink! >= 2, `${s.name} is linked`);
  }
  assert.deepEqual(b.liveSegments(), h2.segments.map((s) => s.name));
  b.dispose();
  const c = keyed(new LsmStateBackend(SMALL), ALL, shared.restore([h2]));
  const again = c.state(new ValueStateDescriptor("count", Serializers.f64, 0));
  c.setCurrentKey("key-3");
  assert.equal(again.value(), -3);
  c.setCurrentKey("key-19999");
  assert.equal(again.value(), 19999);
  c.dispose();
  shared.close();
});

Deno.test("lsm: restore opens segments lazily (reads their indexes and blooms, no data block)", async () => {
  const shared = new Shared();
  const b = keyed(
    new LsmStateBackend({ memtableBytes: 8 << 20, blockCacheBytes: 1 << 20, cacheEntries: 0 }),
  );
  const v = b.state(new ValueStateDescriptor("v", Serializers.string));
  for (let i = 0; i < 100_000; i++) {
    b.setCurrentKey(i);
    v.update(`value-${i}-${"x".repeat(40)}`);
  }
  const h = await b.snapshot(1, shared.storage());
  b.dispose();
  const segmentBytes = h.segments.reduce((a, s) => a + s.size, 0);
  // Every segment read of the store goes through DenoSegmentFs.readAt: count
  // them (wall time, what laziness saves, is too noisy on a loaded machine).
  let bytesRead = 0;
  const readAt = DenoSegmentFs.prototype.readAt;
  DenoSegmentFs.prototype.readAt = function (path, offset, dest) {
    const n = readAt.call(this, path, offset, dest);
    bytesRead += n;
    return n;
  };
  try {
    const c = keyed(new LsmStateBackend(SMALL), ALL, shared.restore([h])) as LsmKeyedStateBackend;
    const restored = bytesRead;
    assert.ok(
      restored > 0 && restored < segmentBytes / 10,
      `restore read ${restored} of ${segmentBytes} segment bytes`,
    );
    assert.equal(c.store.stats().blockReads, 0);
    const again = c.state(new ValueStateDescriptor("v", Serializers.string));
    c.setCurrentKey(7);
    assert.equal(again.value(), `value-7-${"x".repeat(40)}`);
    // The one key read one data block, not the segment.
    assert.equal(c.store.stats().blockReads, 1);
    assert.ok(bytesRead - restored <= 2 * 4096, `a get read ${bytesRead - restored} bytes`);
    c.dispose();
  } finally {
    DenoSegmentFs.prototype.readAt = readAt;
  }
  shared.close();
});

Deno.test("lsm: restore errors: type mismatch and a missing segment", async () => {
  const shared = new Shared();
  const a = keyed(new LsmStateBackend(SMALL));
  const v = a.state(new ValueStateDescriptor("v", Serializers.f64));
  a.setCurrentKey("k");
  v.update(1);
  const h = await a.snapshot(1, shared.storage());
  a.dispose();
  const b = keyed(new LsmStateBackend(SMALL), ALL, shared.restore([h]));
  assert.throws(
    () => b.state(new ValueStateDescriptor("v", Serializers.string)),
    (e: unknown) =>
      e instanceof StateError &&
      /state "v".*from f64 \(version 1\) in the snapshot to string/.test(e.message),
  );
  b.dispose();
  Deno.removeSync(`${shared.dir}/${h.segments[0]!.name}`);
  assert.throws(
    () => keyed(new LsmStateBackend(SMALL), ALL, shared.restore([h])),
    (e: unknown) => e instanceof CheckpointError && e.message.includes(h.segments[0]!.name),
  );
  shared.close();
});

Deno.test("lsm: segments live in workDir when given, else in a folder removed on dispose", () => {
  const work = Deno.makeTempDirSync();
  const b = keyed(
    new LsmStateBackend({ ...SMALL, cacheEntries: 0 }),
    ALL,
    undefined,
    work,
  ) as LsmKeyedStateBackend;
  const v = b.state(new ValueStateDescriptor("v", Serializers.f64));
  b.setCurrentKey("k");
  v.update(1);
  b.store.flush();
  assert.equal([...Deno.readDirSync(work)].filter((e) => e.name.endsWith(".seg")).length, 1);
  b.dispose();
  assert.deepEqual([...Deno.readDirSync(work)], [], "segment files removed, folder kept");
  Deno.removeSync(work);
  const base = Deno.makeTempDirSync();
  const c = keyed(new LsmStateBackend({ ...SMALL, dir: base }));
  assert.equal([...Deno.readDirSync(base)].length, 1);
  c.dispose();
  assert.equal([...Deno.readDirSync(base)].length, 0);
  Deno.removeSync(base);
});

Deno.test("lsm: a heap backend restores appends and deletes that span LSM segments", async () => {
  const shared = new Shared();
  const a = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 0 })) as LsmKeyedStateBackend;
  const list = a.state(new ListStateDescriptor("l", Serializers.string));
  const value = a.state(new ValueStateDescriptor("v", Serializers.f64));
  a.setCurrentKey("k");
  list.add("a");
  value.update(1);
  a.store.flush();
  list.add("b");
  value.clear();
  const h = await a.snapshot(1, shared.storage());
  assert.equal(h.segments.length, 2, "the append and the delete are in a newer segment");
  a.dispose();
  const b = keyed(new HeapStateBackend(), ALL, shared.restore([h]));
  const l2 = b.state(new ListStateDescriptor("l", Serializers.string));
  const v2 = b.state(new ValueStateDescriptor("v", Serializers.f64));
  b.setCurrentKey("k");
  assert.deepEqual(l2.get(), ["a", "b"]);
  assert.equal(v2.value(), undefined);
  b.dispose();
  shared.close();
});

Deno.test("lsm value cache: steps aside while keys do not repeat in it, and comes back", () => {
  const b = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 8 })) as LsmKeyedStateBackend;
  const count = b.state(new ValueStateDescriptor("count", Serializers.f64, 0));
  const model = new Map<string, number>();
  const bump = (k: string) => {
    b.setCurrentKey(k);
    count.update(count.value()! + 1);
    model.set(k, (model.get(k) ?? 0) + 1);
  };
  const stored = () => b.store.stats().memtableEntries;
  // 8 distinct keys fill the cache without a hit: written out, then bypassed.
  for (let i = 0; i < 8; i++) bump(`a${i}`);
  assert.equal(stored(), 8);
  // The next 16 fills' worth of records (128) go straight to the store.
  for (let i = 0; i < 128; i++) {
    bump(`b${i}`);
    assert.equal(stored(), 9 + i, `record ${i} while bypassed`);
  }
  // Then the cache takes writes again: a new key waits in it.
  bump("c0");
  assert.equal(stored(), 136);
  // Keys that repeat (2 hits per entry) keep it on: the store sees the fill only.
  for (let i = 0; i < 8; i++) for (let r = 0; r < 3; r++) bump(`d${i}`);
  // d6's first read filled it: c0 and d0..d5 were written (d6 was only read then).
  assert.equal(stored(), 143);
  bump("e0");
  assert.equal(stored(), 143, "the fill had hits: the cache stays on");
  for (const [k, n] of model) {
    b.setCurrentKey(k);
    assert.equal(count.value(), n, k);
  }
  b.dispose();
});

Deno.test("lsm value cache: keys of every kind keep their values through fills, flushes and deletes", () => {
  // Short strings go to the cache's hash table, long ones (over 64 chars) and other kinds to a
  // Map: every kind must read back what a backend without a cache reads.
  const keys: unknown[] = [];
  for (let i = 0; i < 40; i++) {
    keys.push(`k${i}`, "x".repeat(60 + i % 10) + i, i, BigInt(i) * 10n ** 20n);
  }
  keys.push(true, false, "", "é".repeat(3));
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (const cacheEntries of [16, 1000]) {
    const cached = keyed(new LsmStateBackend({ ...SMALL, cacheEntries }));
    const plain = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 0 }));
    const states = [cached, plain].map((b) =>
      b.state(new ValueStateDescriptor("n", Serializers.f64, 0))
    );
    for (let op = 0; op < 5000; op++) {
      const key = keys[Math.floor(random() * keys.length)];
      const del = random() < 0.1;
      const seen = [cached, plain].map((b, i) => {
        b.setCurrentKey(key);
        const v = states[i]!.value()!;
        states[i]!.update(del ? undefined : v + 1);
        return v;
      });
      assert.equal(seen[0], seen[1], `op ${op}, key ${String(key)}, cacheEntries ${cacheEntries}`);
    }
    for (const key of keys) {
      cached.setCurrentKey(key);
      plain.setCurrentKey(key);
      assert.equal(states[0]!.value(), states[1]!.value(), String(key));
    }
    cached.dispose();
    plain.dispose();
  }
});

const STATS = Serializers.record({
  n: Serializers.f64,
  prices: Serializers.array(Serializers.f64),
});
type Stats = { n: number; prices: number[] };

Deno.test("lsm value cache: object values stay in it as copies, so a record's update writes nothing until a flush", async () => {
  const shared = new Shared();
  const cached = keyed(new LsmStateBackend(SMALL)) as LsmKeyedStateBackend;
  const uncached = keyed(
    new LsmStateBackend({ ...SMALL, cacheEntries: 0 }),
  ) as LsmKeyedStateBackend;
  const run = (b: LsmKeyedStateBackend) => {
    const st = b.state(new ValueStateDescriptor<Stats>("stats", STATS));
    const agg = b.state(
      new AggregatingStateDescriptor<number, number[], number>("agg", {
        createAccumulator: () => [],
        add: (v, acc) => {
          acc.push(v);
          return acc;
        },
        getResult: (acc) => acc.length,
        merge: (a, c) => [...a, ...c],
      }, Serializers.array(Serializers.f64)),
    );
    const seen: unknown[] = [];
    for (let i = 0; i < 60; i++) {
      b.setCurrentKey(`k${i % 3}`);
      const s = st.value() ?? { n: 0, prices: [] };
      s.n++;
      s.prices.push(i);
      st.update(s);
      // Changes after update, or to a value read, are not state until the next update.
      s.n = -1;
      s.prices.push(-1);
      st.value()!.prices.length = 0;
      agg.add(i);
      seen.push(structuredClone(st.value()), agg.get());
    }
    return seen;
  };
  const expected = run(uncached);
  assert.deepEqual(run(cached), expected);
  assert.deepEqual(expected.slice(-2), [{
    n: 20,
    prices: Array.from({ length: 20 }, (_, i) => 3 * i + 2),
  }, 20]);
  assert.equal(cached.store.stats().memtableEntries, 0, "every value waits in the cache");
  const handle = await cached.snapshot(1, shared.storage());
  const restored = keyed(new LsmStateBackend(SMALL), ALL, shared.restore([handle]));
  const st = restored.state(new ValueStateDescriptor<Stats>("stats", STATS));
  for (const k of ["k0", "k1", "k2"]) {
    restored.setCurrentKey(k);
    uncached.setCurrentKey(k);
    assert.deepEqual(
      st.value(),
      uncached.state(new ValueStateDescriptor<Stats>("stats", STATS)).value(),
    );
  }
  for (const b of [cached, uncached, restored]) b.dispose();
  shared.close();
});

Deno.test("lsm value cache: an update that cannot be serialized leaves the cached value as it was", () => {
  const b = keyed(new LsmStateBackend(SMALL)) as LsmKeyedStateBackend;
  const st = b.state(new ValueStateDescriptor("nums", Serializers.array(Serializers.f64)));
  b.setCurrentKey("k");
  st.update([1, 2]);
  const v = st.value()!;
  v.push(3, "four" as unknown as number);
  assert.throws(() => st.update(v), SerializationError);
  assert.deepEqual(st.value(), [1, 2]);
  v.length = 3;
  st.update(v); // written over the cached copy
  v[0] = 9;
  assert.deepEqual(st.value(), [1, 2, 3]);
  assert.equal(b.store.stats().memtableEntries, 0, "the value waits in the cache");
  b.dispose();
});

Deno.test("lsm value cache: an object value counts by its size, so large values are flushed sooner", () => {
  // 64 units: a value of 100 numbers (801 bytes) counts 13, so the 5th key fills the cache.
  const b = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 64 })) as LsmKeyedStateBackend;
  const st = b.state(new ValueStateDescriptor("big", Serializers.array(Serializers.f64)));
  const stored = () => b.store.stats().memtableEntries;
  for (let k = 0; k < 4; k++) {
    b.setCurrentKey(`k${k}`);
    for (let r = 0; r < 3; r++) st.update(Array.from({ length: 100 }, (_, i) => i + r + k));
  }
  assert.equal(stored(), 0);
  b.setCurrentKey("k4");
  st.update(Array.from({ length: 100 }, (_, i) => i));
  assert.equal(stored(), 5, "the fifth value filled the cache: all five were written");
  for (let k = 0; k < 4; k++) {
    b.setCurrentKey(`k${k}`);
    assert.deepEqual(st.value(), Array.from({ length: 100 }, (_, i) => i + 2 + k));
  }
  b.dispose();
});

Deno.test("lsm value cache: an object value of a serializer without copy is not cached", () => {
  const b = keyed(new LsmStateBackend(SMALL)) as LsmKeyedStateBackend;
  const st = b.state(new ValueStateDescriptor<{ a: number }>("j", Serializers.json as never));
  b.setCurrentKey("k");
  const v = { a: 1 };
  st.update(v);
  v.a = 2;
  assert.equal(b.store.stats().memtableEntries, 1, "written through");
  assert.deepEqual(st.value(), { a: 1 });
  b.dispose();
});

Deno.test("lsm value cache: a backend holding half the key groups caches half the entries", () => {
  const half = keyGroupRangeForSubtask(MAX_P, 2, 1);
  const mine: string[] = [];
  for (let i = 0; mine.length < 8; i++) {
    const g = keyGroupOf(serialize(Serializers.key, `k${i}`), MAX_P);
    if (g >= half.start && g <= half.end) mine.push(`k${i}`);
  }
  const options = { ...SMALL, cacheEntries: 8 };
  const whole = keyed(new LsmStateBackend(options)) as LsmKeyedStateBackend;
  const part = keyed(new LsmStateBackend(options), half) as LsmKeyedStateBackend;
  assert.equal(whole.cacheCapacity, 8);
  assert.equal(part.cacheCapacity, 4);
  const count = (b: LsmKeyedStateBackend) =>
    b.state(new ValueStateDescriptor("count", Serializers.f64, 0));
  const [cw, cp] = [count(whole), count(part)];
  for (const [n, k] of mine.slice(0, 7).entries()) {
    whole.setCurrentKey(k);
    cw.update(cw.value()! + n + 1);
    part.setCurrentKey(k);
    cp.update(cp.value()! + n + 1);
    // The part's 4th key fills its cache: the four values are written (and, as no key was hit,
    // later keys bypass it); the whole's cache holds all seven.
    assert.equal(part.store.stats().memtableEntries, n < 3 ? 0 : n + 1, `after key ${n + 1}`);
  }
  assert.equal(whole.store.stats().memtableEntries, 0);
  for (const [n, k] of mine.slice(0, 7).entries()) {
    for (const [b, c] of [[whole, cw], [part, cp]] as const) {
      b.setCurrentKey(k);
      assert.equal(c.value(), n + 1);
    }
  }
  whole.dispose();
  part.dispose();
  const none = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 0 }), half);
  assert.equal((none as LsmKeyedStateBackend).cacheCapacity, 0, "0 still disables the cache");
  none.dispose();
  const one = keyed(new LsmStateBackend({ ...SMALL, cacheEntries: 1 }), { start: 5, end: 5 });
  assert.equal((one as LsmKeyedStateBackend).cacheCapacity, 1, "a share is at least 1");
  one.dispose();
});

Deno.test("lsm: keyed backends share memoryBytes: a smaller share flushes a smaller memtable; memtableBytes given wins", () => {
  const flushesAfter = (
    config: ConstructorParameters<typeof LsmStateBackend>[0],
    share: number,
  ) => {
    const b = new LsmStateBackend({ ...config, cacheEntries: 0 }).createKeyedBackend({
      operatorUid: "op",
      subtaskIndex: 0,
      keySerializer: Serializers.key,
      maxParallelism: MAX_P,
      keyGroupRange: ALL,
      memoryShare: share,
    });
    try {
      const v = b.state(new ValueStateDescriptor("v", Serializers.string, ""));
      for (let i = 0; i < 1500; i++) {
        b.setCurrentKey(`k${i}`);
        v.update("x".repeat(1000)); // 1.5 MB in all
      }
      return b.store.stats().flushes;
    } finally {
      b.dispose();
    }
  };
  // 8 MiB to itself: a memtable of about 2.4 MiB holds it all.
  assert.equal(flushesAfter({ memoryBytes: 8 << 20 }, 1), 0);
  // An eighth of it: a memtable of 256 KiB.
  assert.ok(flushesAfter({ memoryBytes: 8 << 20 }, 1 / 8) >= 4);
  assert.equal(flushesAfter({ memoryBytes: 8 << 20, memtableBytes: 4 << 20 }, 1 / 8), 0);
  assert.throws(
    () => new LsmStateBackend({ memoryBytes: 0 }),
    (e: Error) =>
      e instanceof ConfigError && /memoryBytes must be a positive integer/.test(e.message),
  );
});
