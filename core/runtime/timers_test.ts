import assert from "node:assert/strict";
import type {
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  SnapshotStorage,
  StateBackend,
} from "../state/backend.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import { HeapStateBackend } from "../state/heap/heap_backend.ts";
import { LsmStateBackend } from "../state/lsm/lsm_backend.ts";
import { DenoSegmentFs } from "../../statestore-as/segment_fs.ts";
import { TimeWindow } from "../time/window.ts";
import { ByteWriter } from "../state/bytes.ts";
import { keyGroupOf } from "../state/key_group.ts";
import {
  InternalTimerService,
  MAX_UNWRITTEN_TIMERS,
  type TimeDomain,
  type Timer,
} from "./timers.ts";

/** A checkpoint folder: snapshot storage plus the restore view of its handles. */
class Shared {
  readonly dir = Deno.makeTempDirSync({ prefix: "weir-timers-test-" });
  readonly fs = new DenoSegmentFs();
  #n = 0;
  storage(): SnapshotStorage {
    return { fs: this.fs, dir: this.dir, newSegmentName: () => `t-${++this.#n}.seg` };
  }
  restore(handles: KeyedStateHandle[]): KeyedRestore {
    return { handles, fs: this.fs, segmentPath: (n) => `${this.dir}/${n}` };
  }
  close(): void {
    this.fs.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

type Fired = [TimeDomain, number, unknown, string];

/** A timer service over `backend` (a restored one when the backend is), recording firings. */
function service(backend: KeyedStateBackend, fired: Fired[], keys = Serializers.key) {
  return new InternalTimerService<TimeWindow>(
    {
      now: () => 0,
      scheduleProcessingTime: () => () => {},
      setCurrentKey: (k) => backend.setCurrentKey(k),
      currentKey: () => backend.currentKey(),
      backend,
      maxParallelism: 128,
    },
    {
      onTimer: (t: Timer<TimeWindow>, d: TimeDomain) =>
        void fired.push([d, t.timestamp, backend.currentKey(), `${t.namespace.start}`]),
    },
    keys,
    TimeWindow.serializer,
  );
}

function keyed(
  make: StateBackend,
  restore?: KeyedRestore,
  keySerializer: Serializer<unknown> = Serializers.key,
): KeyedStateBackend {
  return make.createKeyedBackend({
    operatorUid: "timers",
    subtaskIndex: 0,
    keySerializer,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
    ...(restore ? { restore } : {}),
  });
}

for (const [name, make] of [["heap", HeapStateBackend], ["lsm", LsmStateBackend]] as const) {
  Deno.test(`timers (${name}): a restore fires exactly the timers pending at the snapshot, in order`, async () => {
    const shared = new Shared();
    try {
      const a = keyed(new make());
      const firedA: Fired[] = [];
      const s = service(a, firedA);
      const w = (start: number) => new TimeWindow(start, start + 10);
      const reg = (key: string, start: number, ts: number) => {
        a.setCurrentKey(key);
        s.registerEventTimeTimer(w(start), ts);
      };
      reg("k1", 0, 9);
      reg("k2", 0, 9);
      reg("k1", 0, 9); // a duplicate
      reg("k3", 10, 19);
      a.setCurrentKey("k4");
      s.registerNewEventTimeTimer(w(10), 19);
      s.advanceWatermark(9); // fires k1 and k2 before any snapshot: never written
      assert.deepEqual(firedA.map((f) => f[2]), ["k1", "k2"]);
      const h1 = await a.snapshot(1, shared.storage());
      // After the snapshot: one pending timer fires, one is deleted, two are new.
      reg("k5", 20, 29);
      reg("k6", 20, 25);
      a.setCurrentKey("k6");
      s.deleteEventTimeTimer(w(20), 25);
      a.setCurrentKey("k3");
      s.deleteEventTimeTimer(w(10), 19);
      reg("k7", 30, 39);
      s.advanceWatermark(29); // fires k4, k5
      assert.deepEqual(firedA.slice(2).map((f) => f[2]), ["k4", "k5"]);
      const h2 = await a.snapshot(2, shared.storage());

      // Restoring checkpoint 1: k3 and k4 at 19 (in registration order), nothing else.
      const b = keyed(new make(), shared.restore([h1]));
      const firedB: Fired[] = [];
      const sb = service(b, firedB);
      assert.equal(sb.size("event-time"), 2);
      b.setCurrentKey("k3");
      sb.registerEventTimeTimer(w(10), 19); // already restored: not added again
      sb.advanceWatermark(100);
      assert.deepEqual(firedB, [
        ["event-time", 19, "k3", "10"],
        ["event-time", 19, "k4", "10"],
      ]);

      // Restoring checkpoint 2: only k7 (k3 deleted, k4 and k5 fired after checkpoint 1).
      const c = keyed(new make(), shared.restore([h2]));
      const firedC: Fired[] = [];
      const sc = service(c, firedC);
      assert.deepEqual(sc.pending("event-time").map((t) => t.key), ["k7"]);
      sc.advanceWatermark(100);
      assert.deepEqual(firedC, [["event-time", 39, "k7", "30"]]);
      for (const x of [a, b, c]) x.dispose();
    } finally {
      shared.close();
    }
  });
}

/** `Serializers.key`, counting the keys it writes. */
function countingKeys(): { serializer: Serializer<unknown>; writes: () => number } {
  let n = 0;
  const serializer: Serializer<unknown> = Object.create(Serializers.key);
  serializer.write = (v, w) => {
    n++;
    Serializers.key.write(v, w);
  };
  return { serializer, writes: () => n };
}

Deno.test("timers (heap): a snapshot's synchronous part serializes no timer; its asynchronous part writes them", async () => {
  const shared = new Shared();
  try {
    const keys = countingKeys();
    const a = keyed(new HeapStateBackend(), undefined, keys.serializer);
    const s = service(a, [], keys.serializer);
    const w = new TimeWindow(0, 10);
    for (let i = 0; i < 100; i++) {
      a.setCurrentKey(`k${i}`);
      s.registerEventTimeTimer(w, 9);
    }
    const before = keys.writes();
    const pending = a.snapshot(1, shared.storage());
    const inSyncPart = keys.writes() - before;
    const h = await pending;
    assert.equal(inSyncPart, 0, "the synchronous part wrote timer keys");
    assert.equal(keys.writes() - before, 100);
    const firedB: Fired[] = [];
    const b = keyed(new HeapStateBackend(), shared.restore([h]));
    service(b, firedB).advanceWatermark(9);
    assert.deepEqual(firedB.map((f) => f[2]), Array.from({ length: 100 }, (_, i) => `k${i}`));
    a.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("timers (heap): a delta's synchronous part copies the timers registered since the last snapshot, not every queued one", async () => {
  const shared = new Shared();
  try {
    const a = keyed(new HeapStateBackend());
    const s = service(a, []);
    const w = new TimeWindow(0, 10);
    const reg = (key: string, ts: number) => {
      a.setCurrentKey(key);
      s.registerProcessingTimeTimer(w, ts);
    };
    const n = 20_000;
    for (let i = 0; i < n; i++) reg(`k${i}`, 1_000_000 + i);
    const h1 = await a.snapshot(1, shared.storage());
    assert.equal(s.capturedTimers, n, "a full snapshot copies every queued timer");
    // A few changes: new timers (one fires, one is deleted), a snapshotted one deleted.
    for (let i = 0; i < 10; i++) reg(`new${i}`, i === 0 ? 10 : 500_000 + i);
    a.setCurrentKey("new1");
    s.deleteProcessingTimeTimer(w, 500_001);
    a.setCurrentKey("k0");
    s.deleteProcessingTimeTimer(w, 1_000_000);
    s.fireProcessingTimers(10); // new0
    const h2 = await a.snapshot(2, shared.storage());
    assert.deepEqual(h2.segments.slice(1), h1.segments, "not a delta");
    assert.equal(s.capturedTimers, 10, "a delta copied more than the new timers");
    // Many timers that fire before the next snapshot: their list is dropped, the queues copied.
    for (let i = 0; i < 3 * n; i++) reg(`short${i}`, 100 + i);
    s.fireProcessingTimers(100 + 3 * n);
    reg("last", 50);
    const h3 = await a.snapshot(3, shared.storage());
    assert.deepEqual(h3.segments.slice(2), h1.segments, "not a delta");
    // The queues' slots (deleted timers not yet dropped from their buckets too), not the 3n.
    const queued = s.size("processing-time");
    assert.ok(s.capturedTimers >= queued && s.capturedTimers < queued + 10, `${s.capturedTimers}`);
    const b = keyed(new HeapStateBackend(), shared.restore([h3]));
    const restored = service(b, []).pending("processing-time").map((t) =>
      `${t.key}@${t.timestamp}`
    );
    assert.deepEqual(restored, [
      "last@50",
      ...[2, 3, 4, 5, 6, 7, 8, 9].map((i) => `new${i}@${500_000 + i}`),
      ...Array.from({ length: n - 1 }, (_, i) => `k${i + 1}@${1_000_001 + i}`),
    ]);
    a.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("timers (lsm): a snapshot's synchronous part writes at most MAX_UNWRITTEN_TIMERS timers; older ones were written before, short-lived ones never", async () => {
  const shared = new Shared();
  try {
    const keys = countingKeys();
    const a = keyed(new LsmStateBackend(), undefined, keys.serializer);
    const s = service(a, [], keys.serializer);
    const w = new TimeWindow(0, 10);
    a.setCurrentKey("first");
    s.registerEventTimeTimer(w, 1_000_000);
    await a.snapshot(1, shared.storage());
    // Windows: each timer fires soon after it is registered: none is written.
    let before = keys.writes();
    for (let i = 0; i < 2 * MAX_UNWRITTEN_TIMERS; i++) {
      a.setCurrentKey(`w${i}`);
      s.registerEventTimeTimer(w, i + 1);
      if (i % 100 === 99) s.advanceWatermark(i + 1);
    }
    s.advanceWatermark(2 * MAX_UNWRITTEN_TIMERS);
    assert.equal(keys.writes() - before, 0, "short-lived timers were written");
    // Sessions: every timer outlives the interval; the oldest are written as more come.
    const extra = 1000, n = MAX_UNWRITTEN_TIMERS + extra;
    before = keys.writes();
    for (let i = 0; i < n; i++) {
      a.setCurrentKey(`k${i}`);
      s.registerEventTimeTimer(w, 3_000_000 + i);
    }
    assert.equal(keys.writes() - before, extra);
    before = keys.writes();
    const pending = a.snapshot(2, shared.storage());
    assert.equal(keys.writes() - before, MAX_UNWRITTEN_TIMERS, "the synchronous part's writes");
    const h = await pending;
    const fired: Fired[] = [];
    const b = keyed(new LsmStateBackend(), shared.restore([h]));
    service(b, fired).advanceWatermark(Infinity);
    assert.deepEqual(
      fired.map((f) => f[2]),
      ["first", ...Array.from({ length: n }, (_, i) => `k${i}`)],
    );
    a.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

for (const [name, make] of [["heap", HeapStateBackend], ["lsm", LsmStateBackend]] as const) {
  Deno.test(`timers (${name}): a snapshot holds the timers queued at its synchronous part, whatever fires, is deleted or is added before its asynchronous part`, async () => {
    const shared = new Shared();
    try {
      const a = keyed(new make());
      const s = service(a, []);
      const w = (start: number) => new TimeWindow(start, start + 10);
      const reg = (key: string, ts: number) => {
        a.setCurrentKey(key);
        s.registerEventTimeTimer(w(0), ts);
      };
      const del = (key: string, ts: number) => {
        a.setCurrentKey(key);
        s.deleteEventTimeTimer(w(0), ts);
      };
      for (let i = 0; i < 20; i++) reg(`a${i}`, 10 + (i % 4));
      // Enough timers for the second snapshot to be a delta on the heap backend.
      const fillers = Array.from({ length: 300 }, (_, i) => `f${i}@1000`);
      for (let i = 0; i < 300; i++) reg(`f${i}`, 1000);
      const h1p = a.snapshot(1, shared.storage()); // full
      s.advanceWatermark(11); // fires a0, a1, a4, a5, ...
      del("a2", 12);
      reg("late", 5);
      const h1 = await h1p;
      for (let i = 0; i < 5; i++) reg(`b${i}`, 20 + i);
      del("a3", 13);
      const h2p = a.snapshot(2, shared.storage()); // a delta on h1 (heap)
      s.advanceWatermark(21); // fires late, a2's bucket, b0, b1 ...
      del("b3", 23);
      del("b4", 24);
      reg("later", 30);
      const h2 = await h2p;
      if (name === "heap") assert.deepEqual(h2.segments.slice(1), h1.segments, "not a delta");

      const restored = (h: KeyedStateHandle) => {
        const b = keyed(new make(), shared.restore([h]));
        const sb = service(b, []);
        const keys = sb.pending("event-time").map((t) => `${t.key}@${t.timestamp}`);
        b.dispose();
        return keys;
      };
      const a1 = Array.from({ length: 20 }, (_, i) => i)
        .sort((x, y) => x % 4 - y % 4 || x - y)
        .map((i) => `a${i}@${10 + (i % 4)}`);
      assert.deepEqual(restored(h1), [...a1, ...fillers]);
      const a2 = a1.filter((k) => k >= "a" && !/@1[01]$/.test(k) && k !== "a3@13" && k !== "a2@12");
      assert.deepEqual(restored(h2), [
        "late@5",
        ...a2,
        ...[0, 1, 2, 3, 4].map((i) => `b${i}@${20 + i}`),
        ...fillers,
      ]);
      a.dispose();
    } finally {
      shared.close();
    }
  });
}

for (const [name, make] of [["heap", HeapStateBackend], ["lsm", LsmStateBackend]] as const) {
  Deno.test(`timers (${name}): restored timers fire in timestamp then registration order, and registering one again adds nothing`, async () => {
    const shared = new Shared();
    try {
      const a = keyed(new make());
      const s = service(a, []);
      const w = new TimeWindow(0, 10);
      const ts = (i: number) => [7, 5, 9][(i * 7) % 3]!;
      // Keys in every key group, registered in an order no key group keeps.
      for (let i = 0; i < 300; i++) {
        a.setCurrentKey(`k${i}`);
        s.registerEventTimeTimer(w, ts(i));
        s.registerProcessingTimeTimer(w, 100 - ts(i));
      }
      const h = await a.snapshot(1, shared.storage());
      a.dispose();

      const fired: Fired[] = [];
      const b = keyed(new make(), shared.restore([h]));
      const sb = service(b, fired);
      assert.equal(sb.size("event-time"), 300);
      for (let i = 0; i < 300; i++) {
        b.setCurrentKey(`k${i}`);
        sb.registerEventTimeTimer(w, ts(i)); // restored already
        if (i % 5 === 0) sb.deleteEventTimeTimer(w, ts(i));
      }
      for (let i = 0; i < 3; i++) {
        b.setCurrentKey(`n${i}`);
        sb.registerEventTimeTimer(w, 7);
        sb.registerEventTimeTimer(w, 7);
      }
      assert.equal(sb.size("event-time"), 240 + 3);
      assert.equal(sb.size("processing-time"), 300);
      sb.advanceWatermark(100);
      const byTime = (x: number, y: number) => ts(x) - ts(y) || x - y;
      const kept = Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 5 !== 0).sort(byTime);
      const expected = [
        ...kept.filter((i) => ts(i) === 5).map((i) => `k${i}@5`),
        ...kept.filter((i) => ts(i) === 7).map((i) => `k${i}@7`),
        "n0@7",
        "n1@7",
        "n2@7",
        ...kept.filter((i) => ts(i) === 9).map((i) => `k${i}@9`),
      ];
      assert.deepEqual(fired.map((f) => `${f[2]}@${f[1]}`), expected);
      const processing = sb.pending("processing-time").map((t) => `${t.key}@${t.timestamp}`);
      const all = Array.from({ length: 300 }, (_, i) => i).sort((x, y) => ts(y) - ts(x) || x - y);
      assert.deepEqual(processing, all.map((i) => `k${i}@${100 - ts(i)}`));
      b.dispose();
    } finally {
      shared.close();
    }
  });

  Deno.test(`timers (${name}): timer entries as checkpoints hold them (written before snapshots captured the queues) restore`, async () => {
    const shared = new Shared();
    try {
      // The entry layout of the module doc, written raw: key group | 0xfff1 or 0xfff2 |
      // timestamp (IEEE-754, sign bit flipped for positives) | key | namespace -> sequence number.
      const a = keyed(new make());
      const entry = (stateId: number, ts: number, key: string, seq: number) => {
        const kb = new ByteWriter();
        Serializers.key.write(key, kb);
        const k = new ByteWriter();
        k.writeU16(keyGroupOf(kb.bytes(), 128));
        k.writeU16(stateId);
        k.writeF64(ts);
        k.buf[4] = k.buf[4]! | 0x80;
        k.writeRaw(kb.bytes());
        TimeWindow.serializer.write(new TimeWindow(0, 10), k);
        const v = new ByteWriter();
        v.writeVarUint(seq);
        a.rawPut(k.bytes(), v.bytes());
      };
      entry(0xfff1, 9, "late", 3);
      entry(0xfff1, 9, "early", 1);
      entry(0xfff1, 4, "first", 7);
      entry(0xfff2, 50, "p", 2);
      const h = await a.snapshot(1, shared.storage());
      a.dispose();
      const fired: Fired[] = [];
      const b = keyed(new make(), shared.restore([h]));
      const sb = service(b, fired);
      assert.deepEqual(sb.pending("processing-time").map((t) => [t.key, t.timestamp]), [["p", 50]]);
      b.setCurrentKey("new");
      sb.registerEventTimeTimer(new TimeWindow(0, 10), 9); // after the restored ones (sequence 8)
      sb.advanceWatermark(9);
      assert.deepEqual(fired.map((f) => `${f[2]}@${f[1]}`), [
        "first@4",
        "early@9",
        "late@9",
        "new@9",
      ]);
      b.dispose();
    } finally {
      shared.close();
    }
  });
}

for (const [name, make] of [["heap", HeapStateBackend], ["lsm", LsmStateBackend]] as const) {
  Deno.test(`timers (${name}): a checkpointed timer deleted or fired, then registered again before the next checkpoint, is in it`, async () => {
    const shared = new Shared();
    try {
      const a = keyed(new make());
      const s = service(a, []);
      const w = new TimeWindow(0, 10);
      a.setCurrentKey("deleted");
      s.registerEventTimeTimer(w, 20);
      a.setCurrentKey("fired");
      s.registerNewEventTimeTimer(w, 5);
      // Enough other timers for the next snapshot to be a delta on the heap backend.
      for (let i = 0; i < 100; i++) {
        a.setCurrentKey(`other${i}`);
        s.registerEventTimeTimer(w, 30);
      }
      const h1 = await a.snapshot(1, shared.storage());
      a.setCurrentKey("deleted");
      s.deleteEventTimeTimer(w, 20);
      s.registerEventTimeTimer(w, 20);
      s.advanceWatermark(5);
      a.setCurrentKey("fired");
      s.registerNewEventTimeTimer(w, 5); // behind the watermark: fires with the next one
      const h = await a.snapshot(2, shared.storage());
      if (name === "heap") assert.deepEqual(h.segments.slice(1), h1.segments, "not a delta");
      const b = keyed(new make(), shared.restore([h]));
      const pending = service(b, []).pending("event-time").map((t) => `${t.key}@${t.timestamp}`);
      assert.deepEqual(pending.slice(0, 2), ["fired@5", "deleted@20"]);
      assert.equal(pending.length, 102);
      a.dispose();
      b.dispose();
    } finally {
      shared.close();
    }
  });
}
