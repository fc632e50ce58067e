import assert from "node:assert/strict";
import {
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../descriptors.ts";
import { Serializers } from "../serializer.ts";
import type {
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  SnapshotStorage,
} from "../backend.ts";
import { keyGroupOf, type KeyGroupRange } from "../key_group.ts";
import { ByteWriter } from "../bytes.ts";
import { LsmStateBackend } from "../lsm/lsm_backend.ts";
import { DenoSegmentFs, type SegmentFs } from "../../../statestore-as/segment_fs.ts";
import { HeapStateBackend } from "./heap_backend.ts";

const FULL: KeyGroupRange = { start: 0, end: 127 };

/** A snapshot folder shared by the backends of a test. */
class Shared {
  readonly dir: string = Deno.makeTempDirSync({ prefix: "weir-heap-incremental-test-" });
  readonly fs: DenoSegmentFs = new DenoSegmentFs();
  #n = 0;
  storage(fs: SegmentFs = this.fs): SnapshotStorage {
    return { fs, dir: this.dir, newSegmentName: () => `inc-${++this.#n}.seg` };
  }
  restore(handles: KeyedStateHandle[]): KeyedRestore {
    return { handles, fs: this.fs, segmentPath: (n) => `${this.dir}/${n}` };
  }
  close(): void {
    this.fs.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

const value = () => new ValueStateDescriptor("value", Serializers.f64);
const list = () => new ListStateDescriptor("list", Serializers.string);
const map = () => new MapStateDescriptor("map", Serializers.string, Serializers.f64);
const sum = () =>
  new ReducingStateDescriptor("sum", (a: number, b: number) => a + b, Serializers.f64);
/** Value state per (key, window end). */
const windowed = () => new ValueStateDescriptor("windowed", Serializers.string);
const WINDOWS = [1000, 2000, 3000];

function heap(range: KeyGroupRange = FULL, restore?: KeyedRestore): KeyedStateBackend {
  return new HeapStateBackend().createKeyedBackend({
    operatorUid: "op",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: range,
    ...(restore ? { restore } : {}),
  });
}

function lsm(range: KeyGroupRange, restore: KeyedRestore): KeyedStateBackend {
  return new LsmStateBackend({ memtableBytes: 64 << 10, blockCacheBytes: 64 << 10 })
    .createKeyedBackend({
      operatorUid: "op",
      subtaskIndex: 0,
      keySerializer: Serializers.key,
      maxParallelism: 128,
      keyGroupRange: range,
      restore,
    });
}

/** A timer-like raw key of key `i` (reserved state id 0xfff1), in the key's key group. */
function rawKey(i: number): Uint8Array {
  const kg = keyGroupOfKey(`key-${i}`);
  return new Uint8Array([kg >> 8, kg & 0xff, 0xff, 0xf1, i >> 8, i & 0xff]);
}

function keyGroupOfKey(key: string): number {
  const w = new ByteWriter();
  Serializers.key.write(key, w);
  return keyGroupOf(w.bytes(), 128);
}

/** Everything the backend holds for keys `key-0` .. `key-(n-1)`, as plain data. */
function dump(b: KeyedStateBackend, n: number, range: KeyGroupRange = FULL): unknown {
  const v = b.state(value());
  const l = b.state(list());
  const m = b.state(map());
  const s = b.state(sum());
  const w = b.state(windowed(), Serializers.f64);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    b.setCurrentKey(`key-${i}`);
    const windows = WINDOWS.map((ns) => {
      w.setNamespace(ns);
      return w.value();
    });
    const entry = {
      value: v.value(),
      list: l.get() ?? [],
      map: [...m.entries()].sort(),
      sum: s.get(),
      windows,
    };
    if (JSON.stringify(entry) !== JSON.stringify(EMPTY)) out[`key-${i}`] = entry;
  }
  const raw = [
    ...b.rawScan(
      new Uint8Array([range.start >> 8, range.start & 0xff]),
      new Uint8Array([0xff, 0xff]),
    ),
  ]
    .filter(([k]) => k[2] === 0xff && k[3] === 0xf1) // the LSM backend scans user state too
    .map(([k, val]) => `${k.join(".")}=${val.join(".")}`);
  return { out, raw };
}
const EMPTY = {
  value: undefined,
  list: [],
  map: [],
  sum: undefined,
  windows: [undefined, undefined, undefined],
};

/** Writes every kind of state for `n` keys. */
function fill(b: KeyedStateBackend, n: number): void {
  const v = b.state(value());
  const l = b.state(list());
  const m = b.state(map());
  const s = b.state(sum());
  const w = b.state(windowed(), Serializers.f64);
  for (let i = 0; i < n; i++) {
    b.setCurrentKey(`key-${i}`);
    v.update(i);
    l.add(`a${i}`);
    m.put("x", i);
    m.put("y", -i);
    s.add(i);
    for (const ns of WINDOWS) {
      w.setNamespace(ns);
      w.update(`w${ns}-${i}`);
    }
    b.rawPut(rawKey(i), new Uint8Array([i & 0xff]));
  }
}

/** Changes every kind of state for the keys in `keys`, round `r`. */
function churn(b: KeyedStateBackend, keys: number[], r: number): void {
  const v = b.state(value());
  const l = b.state(list());
  const m = b.state(map());
  const s = b.state(sum());
  const w = b.state(windowed(), Serializers.f64);
  for (const i of keys) {
    b.setCurrentKey(`key-${i}`);
    switch ((i + r) % 6) {
      case 0:
        v.update(i * 100 + r); // overwrite
        l.add(`r${r}`); // append in place
        m.put(`z${r}`, r); // new map entry
        break;
      case 1:
        v.clear();
        l.clear();
        m.clear(); // every user key becomes a delete
        s.clear();
        break;
      case 2:
        m.remove("x");
        m.put("y", r);
        l.update(["u", `${r}`]);
        s.add(r);
        break;
      case 3:
        m.remove("x");
        m.remove("y"); // the map is empty: removed
        b.rawDelete(rawKey(i));
        break;
      case 4:
        b.rawPut(rawKey(i), new Uint8Array([r, 1]));
        w.setNamespace(2000);
        w.clear();
        w.setNamespace(4000 + r); // a new namespace
        w.update(`n${r}`);
        break;
      case 5:
        // Put, then removed again before the snapshot.
        v.update(1);
        v.clear();
        m.put("tmp", 1);
        m.remove("tmp");
        break;
    }
  }
}

function inRange(key: string, range: KeyGroupRange): boolean {
  const kg = keyGroupOfKey(key);
  return kg >= range.start && kg <= range.end;
}

function sizeOf(h: KeyedStateHandle): number {
  return h.segments.reduce((n, s) => n + s.size, 0);
}

Deno.test("heap incremental: deltas of every change restore into heap and LSM as the live state", async () => {
  const shared = new Shared();
  try {
    const N = 300;
    const b = heap();
    fill(b, N);
    const handles = [await b.snapshot(1, shared.storage())];
    assert.equal(handles[0]!.segments.length, 1);
    for (let r = 1; r <= 4; r++) {
      churn(b, Array.from({ length: 30 }, (_, j) => (j * 7 + r * 13) % N), r);
      const h = await b.snapshot(r + 1, shared.storage());
      // A delta on top of the previous snapshot's segments.
      assert.equal(h.segments.length, r + 1);
      assert.deepEqual(h.segments.slice(1), handles[handles.length - 1]!.segments);
      handles.push(h);
    }
    const live = dump(b, N);
    const last = handles[handles.length - 1]!;
    const fromHeap = heap(FULL, shared.restore([last]));
    assert.deepEqual(dump(fromHeap, N), live);
    const fromLsm = lsm(FULL, shared.restore([last]));
    assert.deepEqual(dump(fromLsm, N), live);
    // An earlier handle of the chain still restores its own state.
    const second = heap(FULL, shared.restore([handles[1]!]));
    assert.notDeepEqual(dump(second, N), live);
    fromLsm.dispose();
    fromHeap.dispose();
    second.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap snapshots of large state (sorted on a worker) restore into heap and LSM", async () => {
  const shared = new Shared();
  try {
    // 5000 keys of every kind: ~40k entries, past writeSegmentBatchAsync's off-thread threshold.
    const N = 5000;
    const b = heap();
    fill(b, N);
    const full = await b.snapshot(1, shared.storage());
    assert.equal(full.segments.length, 1);
    const first = dump(b, N);
    churn(b, Array.from({ length: N }, (_, i) => i), 1);
    const again = await b.snapshot(2, shared.storage());
    const live = dump(b, N);
    assert.notDeepEqual(live, first);
    const fromFirst = heap(FULL, shared.restore([full]));
    assert.deepEqual(dump(fromFirst, N), first);
    fromFirst.dispose();
    const fromHeap = heap(FULL, shared.restore([again]));
    assert.deepEqual(dump(fromHeap, N), live);
    const fromLsm = lsm(FULL, shared.restore([again]));
    assert.deepEqual(dump(fromLsm, N), live);
    fromLsm.dispose();
    fromHeap.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap incremental: a delta's size follows the change, and no change adds no segment", async () => {
  const shared = new Shared();
  try {
    const N = 5000;
    const b = heap();
    fill(b, N);
    const full = await b.snapshot(1, shared.storage());
    const v = b.state(value());
    for (let i = 0; i < 10; i++) {
      b.setCurrentKey(`key-${i}`);
      v.update(-1);
    }
    const delta = await b.snapshot(2, shared.storage());
    assert.equal(delta.segments.length, 2);
    const deltaBytes = delta.segments[0]!.size;
    // 10 of 5000 keys changed: well under 1% of the full snapshot.
    assert.ok(deltaBytes * 100 < sizeOf(full), `${deltaBytes} vs ${sizeOf(full)}`);
    for (let i = 0; i < 100; i++) {
      b.setCurrentKey(`key-${i}`);
      v.update(-2);
    }
    const bigger = await b.snapshot(3, shared.storage());
    assert.ok(bigger.segments[0]!.size > deltaBytes * 5, `${bigger.segments[0]!.size}`);
    const same = await b.snapshot(4, shared.storage());
    assert.deepEqual(same.segments, bigger.segments);
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap incremental: a long chain or large deltas start a new full snapshot", async () => {
  const shared = new Shared();
  try {
    const N = 1000;
    const b = heap();
    fill(b, N);
    const v = b.state(value());
    const lengths: number[] = [];
    for (let r = 1; r <= 10; r++) {
      b.setCurrentKey(`key-${r}`);
      v.update(r);
      lengths.push((await b.snapshot(r, shared.storage())).segments.length);
    }
    // Full, 7 deltas (8 segments), then full again.
    assert.deepEqual(lengths, [1, 2, 3, 4, 5, 6, 7, 8, 1, 2]);
    // Changing most keys costs as much as a full snapshot: one is written.
    const l = b.state(list());
    for (let i = 0; i < N; i++) {
      b.setCurrentKey(`key-${i}`);
      l.update(["x".repeat(1000)]);
    }
    const h = await b.snapshot(11, shared.storage());
    assert.equal(h.segments.length, 1);
    const r = heap(FULL, shared.restore([h]));
    assert.deepEqual(dump(r, N), dump(b, N));
    r.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap incremental: changes to more than an eighth of the state stop change tracking; under churn it pauses for longer", async () => {
  const shared = new Shared();
  try {
    const N = 1000;
    const b = heap();
    const v = b.state(value());
    const bump = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        b.setCurrentKey(`key-${i}`);
        v.update((v.value() ?? 0) + 1);
      }
    };
    const segments = async (id: number) => (await b.snapshot(id, shared.storage())).segments.length;
    bump(0, N);
    assert.equal(await segments(1), 1);
    // 60% of the keys: a delta would be smaller than the full snapshot, but not by enough.
    bump(0, 600);
    assert.equal(await segments(2), 1, "a full snapshot, not a delta");
    const lengths = async (from: number, to: number, change: () => void) => {
      const out: number[] = [];
      for (let id = from; id <= to; id++) {
        change();
        out.push(await segments(id));
      }
      return out;
    };
    // Tracking pauses for two intervals: 10% is a full snapshot twice, then a delta again.
    assert.deepEqual(await lengths(3, 5, () => bump(200, 300)), [1, 1, 2]);
    // Churn again: two intervals paused; churn right after them: four.
    bump(0, 600);
    assert.equal(await segments(6), 1, "churn: full");
    assert.deepEqual(await lengths(7, 9, () => bump(0, 700)), [1, 1, 1], "paused, paused, churn");
    assert.deepEqual(await lengths(10, 14, () => bump(300, 400)), [1, 1, 1, 1, 2]);
    const last = await b.snapshot(15, shared.storage());
    assert.equal(last.segments.length, 2, "nothing changed: no new segment");
    const r = heap(FULL, shared.restore([last]));
    const rv = r.state(value());
    for (let i = 0; i < N; i++) {
      r.setCurrentKey(`key-${i}`);
      b.setCurrentKey(`key-${i}`);
      assert.equal(rv.value(), v.value(), `key-${i}`);
    }
    assert.equal(v.value(), 1); // key-999 was bumped once
    r.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap full snapshots of a steady key set keep the last batch's keys; new, removed and resized entries still restore exactly", async () => {
  const shared = new Shared();
  try {
    // Enough entries for the worker, whose handed-back buffer the next full snapshot reuses.
    const N = 25_000;
    const name = () => new ValueStateDescriptor("name", Serializers.string);
    const all = (b: KeyedStateBackend) => ({
      v: b.state(value()),
      s: b.state(sum()),
      n: b.state(name()),
      m: b.state(map()),
    });
    const contents = (b: KeyedStateBackend) => {
      const { v, s, n, m } = all(b);
      const out: unknown[] = [];
      for (let i = 0; i < N + 100; i++) {
        b.setCurrentKey(`key-${i}`);
        out.push([v.value(), s.get(), n.value(), [...m.entries()].sort()]);
      }
      return JSON.stringify(out);
    };
    const b = heap();
    const st = all(b);
    for (let i = 0; i < N; i++) {
      b.setCurrentKey(`key-${i}`);
      st.v.update(i);
      st.s.add(i);
      st.n.update(`n${i % 10}`);
      st.m.put("x", i);
    }
    const rounds: [string, (i: number) => void][] = [
      // Every value changes; a few names change length (the rest of the batch is written whole).
      ["values and some name lengths", (i) => {
        st.v.update(i + 1);
        st.s.add(1);
        st.n.update(i % 1000 === 7 ? `longer${i}` : `m${i % 10}`);
      }],
      // Only values of the same length: every key stays in place.
      ["values only", (i) => {
        st.v.update(i + 2);
        st.s.add(1);
      }],
      // Removed and new keys in the first state, as most entries change.
      ["removed and new keys", (i) => {
        st.s.add(1);
        st.n.update(`k${i % 10}`);
        if (i % 5000 === 3) st.v.clear();
        else st.v.update(i + 3);
        if (i < 100) {
          b.setCurrentKey(`key-${N + i}`);
          st.v.update(-i);
        }
      }],
    ];
    const first = await b.snapshot(1, shared.storage());
    assert.equal(first.segments.length, 1);
    let id = 1;
    for (const [what, change] of rounds) {
      for (let i = 0; i < N; i++) {
        b.setCurrentKey(`key-${i}`);
        change(i);
      }
      const h = await b.snapshot(++id, shared.storage());
      assert.equal(h.segments.length, 1, `${what}: a full snapshot`);
      const r = heap(FULL, shared.restore([h]));
      assert.equal(contents(r), contents(b), what);
      r.dispose();
      if (id === rounds.length + 1) {
        const l = lsm(FULL, shared.restore([h]));
        assert.equal(contents(l), contents(b), `${what}, into LSM`);
        l.dispose();
      }
    }
    b.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap incremental: the first snapshot after a restore is a delta on the restored chain", async () => {
  const shared = new Shared();
  try {
    const N = 200;
    const b = heap();
    fill(b, N);
    await b.snapshot(1, shared.storage());
    churn(b, [1, 2, 3, 4, 5, 6], 1);
    const before = await b.snapshot(2, shared.storage());
    const r = heap(FULL, shared.restore([before]));
    assert.deepEqual(dump(r, N), dump(b, N));
    churn(r, [7, 8, 9, 10, 11, 12], 2);
    churn(b, [7, 8, 9, 10, 11, 12], 2);
    const after = await r.snapshot(3, shared.storage());
    assert.equal(after.segments.length, 3);
    assert.deepEqual(after.segments.slice(1), before.segments);
    const again = heap(FULL, shared.restore([after]));
    assert.deepEqual(dump(again, N), dump(b, N));
    // Only the key groups of a subtask: its first snapshot is full.
    const half = heap({ start: 0, end: 63 }, shared.restore([after]));
    assert.equal((await half.snapshot(4, shared.storage())).segments.length, 1);
    for (const x of [b, r, again, half]) x.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap incremental: chains of two subtasks restore into one (heap and LSM)", async () => {
  const shared = new Shared();
  try {
    const N = 400;
    const ranges = [{ start: 0, end: 63 }, { start: 64, end: 127 }];
    const reference = heap();
    fill(reference, N);
    const all = await reference.snapshot(1, shared.storage());
    const handles: KeyedStateHandle[] = [];
    const parts = ranges.map((range) => heap(range, shared.restore([all])));
    for (const [i, p] of parts.entries()) {
      const mine = Array.from({ length: N }, (_, k) => k).filter((k) =>
        inRange(`key-${k}`, ranges[i]!)
      );
      // Full: the restored handle holds more key groups than this subtask.
      assert.equal((await p.snapshot(2, shared.storage())).segments.length, 1);
      for (let r = 1; r <= 3; r++) {
        const some = mine.filter((k) => (k + r) % 5 === 0);
        churn(p, some, r);
        churn(reference, some, r);
        assert.equal((await p.snapshot(2 + r, shared.storage())).segments.length, 1 + r);
      }
      handles.push(await p.snapshot(6, shared.storage()));
    }
    const expected = dump(reference, N);
    const merged = heap(FULL, shared.restore(handles));
    assert.deepEqual(dump(merged, N), expected);
    const mergedLsm = lsm(FULL, shared.restore(handles));
    assert.deepEqual(dump(mergedLsm, N), expected);
    // Two handles: the merged subtask's first snapshot is full, and complete.
    const next = await merged.snapshot(7, shared.storage());
    assert.equal(next.segments.length, 1);
    const again = heap(FULL, shared.restore([next]));
    assert.deepEqual(dump(again, N), expected);
    for (const x of [reference, merged, mergedLsm, again, ...parts]) x.dispose();
  } finally {
    shared.close();
  }
});

Deno.test("heap incremental: a failed write makes the next snapshot full", async () => {
  const shared = new Shared();
  try {
    const N = 100;
    const b = heap();
    fill(b, N);
    await b.snapshot(1, shared.storage());
    const real = shared.fs;
    const failing: SegmentFs = {
      readAt: (p, o, d) => real.readAt(p, o, d),
      size: (p) => real.size(p),
      create: () => {
        throw new Error("disk full");
      },
      rename: (a, c) => real.rename(a, c),
      remove: (p) => real.remove(p),
      mkdirp: (p) => real.mkdirp(p),
    };
    churn(b, [1, 2, 3], 1);
    await assert.rejects(b.snapshot(2, shared.storage(failing)), /disk full/);
    churn(b, [4, 5, 6], 2);
    const h = await b.snapshot(3, shared.storage());
    // The changes of the failed snapshot are in no delta: a full snapshot holds them.
    assert.equal(h.segments.length, 1);
    const r = heap(FULL, shared.restore([h]));
    assert.deepEqual(dump(r, N), dump(b, N));
    r.dispose();
    b.dispose();
  } finally {
    shared.close();
  }
});
