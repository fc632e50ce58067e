import assert from "node:assert/strict";
import { StateError } from "../core/errors.ts";
import {
  DenoSegmentFs,
  LsmStore,
  readSegment,
  readSegmentKeys,
  type SegmentFile,
  type SegmentFs,
  type SegmentInfo,
  writeSegment,
} from "./mod.ts";
import { hex, rng } from "./_test_util.ts";

const assertEquals = (a: unknown, b: unknown, msg?: string) => assert.deepEqual(a, b, msg);
// deno-lint-ignore no-explicit-any
const assertThrows = (f: () => unknown, cls: new (...a: any[]) => Error, msg?: string) =>
  assert.throws(
    f,
    (e: unknown) => e instanceof cls && (msg === undefined || e.message.includes(msg)),
  );

const LONG = Deno.env.get("WEIR_LONG_TESTS") === "1";

const unhex = (s: string) => new Uint8Array(s.match(/../g)!.map((x) => parseInt(x, 16)));

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0; // hex strings of bytes order like the bytes
}

async function modelRun(seed: number, ops: number): Promise<void> {
  const r = rng(seed);
  const dir = Deno.makeTempDirSync({ prefix: "weir-lsm-model-" });
  const model = new Map<string, string>();
  const open = (segments?: SegmentInfo[]) =>
    LsmStore.open({
      dir,
      memtableBytes: 64 << 10,
      blockCacheBytes: 64 << 10,
      blockSize: 1024,
      ...(segments ? { segments } : {}),
    });
  let store = open();
  const keySpace = 3000;
  const key = () => {
    const i = Math.floor(r() * keySpace);
    // first byte groups keys for prefix scans; variable length tails
    const k = new Uint8Array(2 + (i % 7));
    k[0] = i % 11;
    k[1] = (i * 7) & 0xff;
    for (let j = 2; j < k.length; j++) k[j] = (i >> (j % 3)) & 0xff;
    return k;
  };
  const val = () => {
    const v = new Uint8Array(Math.floor(r() * 40));
    for (let j = 0; j < v.length; j++) v[j] = Math.floor(r() * 256);
    return v;
  };
  try {
    for (let op = 0; op < ops; op++) {
      const x = r();
      if (x < 0.35) {
        const k = key();
        const v = val();
        store.put(k, v);
        model.set(hex(k), hex(v));
      } else if (x < 0.55) {
        const k = key();
        const got = store.get(k);
        const want = model.get(hex(k));
        assertEquals(got === undefined ? undefined : hex(got), want, `get ${hex(k)} op ${op}`);
      } else if (x < 0.6) {
        // getMany over more keys than one batch, repeats included.
        const ks = Array.from({ length: 1 + Math.floor(r() * 150) }, key);
        const ends: number[] = [];
        let end = 0;
        for (const k of ks) ends.push(end += k.length);
        const packed = new Uint8Array(end);
        ks.forEach((k, i) => packed.set(k, ends[i]! - k.length));
        const got: (string | undefined)[] = [];
        store.getMany(packed, ends, (i, values, offset, length) => {
          got[i] = length < 0 ? undefined : hex(values.subarray(offset, offset + length));
        });
        assertEquals(got, ks.map((k) => model.get(hex(k))), `getMany op ${op}`);
      } else if (x < 0.7) {
        const k = key();
        store.delete(k);
        model.delete(hex(k));
      } else if (x < 0.88) {
        const k = key();
        const v = val();
        store.merge(k, v);
        model.set(hex(k), (model.get(hex(k)) ?? "") + hex(v));
      } else if (x < 0.9) {
        const p = new Uint8Array([Math.floor(r() * 11)]);
        const got = [...store.scan({ prefix: p })].map(([k, v]) => `${hex(k)}=${hex(v)}`);
        const prefix = hex(p);
        const want = [...model].filter(([k]) => k.startsWith(prefix)).sort((a, b) =>
          cmp(a[0], b[0])
        )
          .map(([k, v]) => `${k}=${v}`);
        assertEquals(got, want, `scan prefix ${prefix} op ${op}`);
      } else if (x < 0.91) {
        const a = key();
        const b = key();
        const [s, e] = cmp(hex(a), hex(b)) <= 0 ? [a, b] : [b, a];
        const got = [...store.scan({ start: s, end: e })].map(([k]) => hex(k));
        const [from, to] = [hex(s), hex(e)];
        const want = [...model.keys()].filter((k) => cmp(k, from) >= 0 && cmp(k, to) < 0).sort(cmp);
        assertEquals(got, want, `scan range op ${op}`);
      } else if (x < 0.915) {
        store.flush();
      } else if (x < 0.918) {
        const p = store.checkpoint();
        // keep working while the checkpoint completes
        const k = key();
        const v = val();
        store.put(k, v);
        model.set(hex(k), hex(v));
        // Sometimes a second checkpoint before the first is written: its
        // memtable queues behind the frozen one, and reads see all three.
        const q = r() < 0.5 ? store.checkpoint() : undefined;
        if (q) {
          const k2 = key();
          store.merge(k2, v);
          model.set(hex(k2), (model.get(hex(k2)) ?? "") + hex(v));
          for (const kk of [k, k2, key()]) {
            const got = store.get(kk);
            assertEquals(got === undefined ? undefined : hex(got), model.get(hex(kk)));
          }
          const pre = new Uint8Array([k[0]!]);
          const got = [...store.scan({ prefix: pre })].map(([a, b]) => `${hex(a)}=${hex(b)}`);
          const want = [...model].filter(([a]) => a.startsWith(hex(pre)))
            .sort((a, b) => cmp(a[0], b[0])).map(([a, b]) => `${a}=${b}`);
          assertEquals(got, want, `scan with a queued memtable, op ${op}`);
        }
        const segs = await p.segments;
        assert(segs.every((s) => s.size > 0));
        if (q) await q.segments;
      } else if (x < 0.9195) {
        store.compact();
        assert(store.stats().segments.length <= 1);
      } else if (x < 0.921) {
        const segs = store.close();
        store = open(segs);
      }
    }
    // final full comparison
    const all = [...store.scan({})].map(([k, v]) => `${hex(k)}=${hex(v)}`);
    const want = [...model].sort((a, b) => cmp(a[0], b[0])).map(([k, v]) => `${k}=${v}`);
    assertEquals(all, want);
    const st = store.stats();
    assert(st.segments.length > 0, "most data should live in segments");
    for (const k of model.keys()) assertEquals(hex(store.get(unhex(k))!), model.get(k));
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("model: random operations against a Map", async () => {
  const seeds = LONG ? [1, 2, 3, 4, 5, 6, 7, 8] : [1, 2, 3];
  const ops = LONG ? 400_000 : 50_000;
  for (const seed of seeds) await modelRun(seed, ops);
});

Deno.test("merge: base then operands in order; put replaces; delete clears", () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir, memtableBytes: 64 << 10, blockCacheBytes: 64 << 10 });
  const k = new Uint8Array([1, 2]);
  s.merge(k, new Uint8Array([1]));
  s.flush();
  s.merge(k, new Uint8Array([2]));
  s.flush();
  s.merge(k, new Uint8Array([3]));
  assertEquals([...s.get(k)!], [1, 2, 3]);
  s.put(k, new Uint8Array([9]));
  s.merge(k, new Uint8Array([4]));
  s.flush();
  assertEquals([...s.get(k)!], [9, 4]);
  s.delete(k);
  s.flush();
  s.merge(k, new Uint8Array([5]));
  assertEquals([...s.get(k)!], [5]);
  s.compact();
  assertEquals([...s.get(k)!], [5]);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a written memtable answers gets of puts and deletes until the next freeze; merges read the segment", async () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir, memtableBytes: 1 << 20, blockCacheBytes: 64 << 10 });
  const key = (i: number) => new Uint8Array([0, i]);
  for (let i = 0; i < 100; i++) s.put(key(i), new Uint8Array([i]));
  s.delete(key(7));
  s.merge(key(200), new Uint8Array([1]));
  await s.checkpoint().segments;
  const blockLookups = () => {
    const st = s.stats();
    return st.cacheHits + st.cacheMisses;
  };
  const before = blockLookups();
  for (let i = 0; i < 100; i++) {
    assertEquals(s.get(key(i)), i === 7 ? undefined : new Uint8Array([i]));
  }
  assert.equal(blockLookups(), before, "no segment block was read");
  s.merge(key(200), new Uint8Array([2]));
  assertEquals([...s.get(key(200))!], [1, 2], "the flushed operand is applied once");
  assert.ok(blockLookups() > before);
  // Compaction and a new freeze keep every answer.
  s.put(key(1), new Uint8Array([99]));
  s.flush();
  s.compact();
  assertEquals(s.get(key(1)), new Uint8Array([99]));
  assertEquals(s.get(key(2)), new Uint8Array([2]));
  assertEquals(s.get(key(7)), undefined);
  assertEquals([...s.get(key(200))!], [1, 2]);
  // A filter installed later may drop entries in compactions: the written memtable goes.
  s.setExpiryFilter({
    keyOffset: 0,
    rules: [{ tag: new Uint8Array([9]), ttlMs: 10, layout: "value" }],
    now: () => 0,
  });
  const withFilter = blockLookups();
  assertEquals(s.get(key(2)), new Uint8Array([2]));
  assert.ok(blockLookups() > withFilter);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("obsolete segments are kept and reported when deleteObsoleteSegments is false", () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir, deleteObsoleteSegments: false, autoCompact: false });
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    s.put(new Uint8Array([i]), new Uint8Array([i]));
    names.push(s.flush()[0]!.name);
  }
  const live = s.compact();
  assertEquals(live.length, 1);
  const obsolete = s.takeObsoleteSegments().sort();
  assertEquals(obsolete, names.sort());
  for (const n of obsolete) assert(Deno.statSync(`${dir}/${n}`).isFile);
  assertEquals(s.takeObsoleteSegments(), []);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scratch path: get/put/merge/delete without building key arrays", () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir });
  s.keyScratch(3).set([1, 2, 3]);
  s.valueScratch(2).set([7, 8]);
  s.putScratch(3, 2);
  s.keyScratch(3).set([1, 2, 3]);
  s.valueScratch(1).set([9]);
  s.mergeScratch(3, 1);
  s.keyScratch(3).set([1, 2, 3]);
  const n = s.getScratch(3);
  assertEquals([...s.valueView(n)], [7, 8, 9]);
  s.keyScratch(3).set([1, 2, 3]);
  s.deleteScratch(3);
  s.keyScratch(3).set([1, 2, 3]);
  assertEquals(s.getScratch(3), -1);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scratch path: values of every size around the result scratch, across table growth", () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir });
  // Lengths around the 256-byte result scratch; 5000 keys grow the hash table
  // several times; the second round relocates every record (longer values).
  const len = (i: number, round: number) => [0, 1, 7, 8, 255, 256, 257, 1000][i % 8]! + round;
  const key = (i: number) => {
    const k = s.keyScratch(4);
    new DataView(k.buffer, k.byteOffset, 4).setUint32(0, i * 2654435761);
    return 4;
  };
  for (const round of [0, 3]) {
    for (let i = 0; i < 5000; i++) {
      const vl = len(i, round);
      const kl = key(i);
      s.valueScratch(vl).fill((i + round) & 255);
      s.putScratch(kl, vl);
    }
    for (let i = 0; i < 5000; i++) {
      const n = s.getScratch(key(i));
      assertEquals(n, len(i, round), `length of key ${i}`);
      const v = s.valueView(n);
      assert.ok(v.length === n && v.every((b) => b === ((i + round) & 255)), `value of key ${i}`);
    }
  }
  assertEquals(s.getScratch(key(5000)), -1);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("getMany: large values, empty keys, a growing memtable table; bad key ends", () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-lsm-getmany-" });
  const s = LsmStore.open({ dir, memtableBytes: 4 << 20 });
  try {
    const key = (i: number) => new Uint8Array([i >> 8, i & 255, 9]);
    const value = (i: number) => new Uint8Array(i % 3 === 0 ? 3000 : i % 50).fill(i & 255);
    s.put(new Uint8Array(0), new Uint8Array([42]));
    for (let i = 0; i < 500; i++) s.put(key(i), value(i));
    // 200 keys (4 batches), 1 in 5 absent; 3000-byte values outgrow the value buffer.
    const ids = Array.from({ length: 200 }, (_, j) => (j * 7) % 625);
    const ends = ids.map((_, j) => (j + 1) * 3);
    const packed = new Uint8Array(ids.length * 3);
    ids.forEach((id, j) => packed.set(key(id), j * 3));
    const seen: number[] = [];
    s.getMany(packed, ends, (i, values, offset, length) => {
      seen.push(i);
      const id = ids[i]!;
      if (id >= 500) return assertEquals(length, -1, `key ${id}`);
      assertEquals(values.slice(offset, offset + length), value(id), `key ${id}`);
    });
    assertEquals(seen, ids.map((_, j) => j));
    // An empty key between two others.
    const got: Uint8Array[] = [];
    s.getMany(new Uint8Array([0, 1, 9, 0, 2, 9]), [3, 3, 6], (_i, v, off, len) => {
      got.push(v.slice(off, off + len));
    });
    assertEquals(got, [value(1), new Uint8Array([42]), value(2)]);
    assert.throws(
      () => s.getMany(new Uint8Array(4), [3, 2], () => {}),
      /key ends must ascend; key 1 ends at 2/,
    );
    assert.throws(() => s.getMany(new Uint8Array(4), [5], () => {}), /within keys \(4 bytes\)/);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("large keys and values cross the boundary", () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir, memtableBytes: 256 << 10, blockCacheBytes: 64 << 10 });
  const k = new Uint8Array(10_000).fill(3);
  const v = new Uint8Array(200_000).map((_, i) => i & 255);
  s.put(k, v);
  assertEquals(s.get(k), v);
  s.flush();
  assertEquals(s.get(k), v);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("writeSegment rejects unsorted keys and leaves no file", () => {
  const dir = Deno.makeTempDirSync();
  const fs = new DenoSegmentFs();
  assertThrows(
    () =>
      writeSegment(fs, `${dir}/x.seg`, [
        [new Uint8Array([2]), new Uint8Array()],
        [new Uint8Array([1]), new Uint8Array()],
      ]),
    StateError,
  );
  assertEquals([...Deno.readDirSync(dir)].length, 0);
  fs.close();
  Deno.removeSync(dir, { recursive: true });
});

// ---- fault injection -----------------------------------------------------------

class FaultyFs implements SegmentFs {
  failWrites = false;
  real = new DenoSegmentFs();
  readAt(p: string, o: number, d: Uint8Array): number {
    return this.real.readAt(p, o, d);
  }
  size(p: string): number | undefined {
    return this.real.size(p);
  }
  create(p: string): SegmentFile {
    const f = this.real.create(p);
    return {
      write: (d) => {
        if (this.failWrites) throw new Error("ENOSPC: no space left on device");
        f.write(d);
      },
      sync: () => f.sync(),
      close: () => f.close(),
    };
  }
  rename(a: string, b: string): void {
    this.real.rename(a, b);
  }
  remove(p: string): void {
    this.real.remove(p);
  }
  mkdirp(p: string): void {
    this.real.mkdirp(p);
  }
  forget(p: string): void {
    this.real.forget(p);
  }
}

Deno.test("fault: a failed segment write leaves the store consistent and a retry works", async () => {
  const dir = Deno.makeTempDirSync();
  const fs = new FaultyFs();
  const s = LsmStore.open({ dir, fs, memtableBytes: 64 << 10, blockCacheBytes: 64 << 10 });
  const key = (i: number) => new Uint8Array([i >> 8, i & 255, 1, 2, 3, 4, 5, 6]);
  for (let i = 0; i < 500; i++) s.put(key(i), new Uint8Array(20).fill(i & 255));
  fs.failWrites = true;
  // The disk's error names no file; the store's names its folder (the temporary one, by default).
  assertThrows(() => s.flush(), StateError, `writing segment ${dir}/`);
  assertThrows(() => s.flush(), StateError, "no space left");
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), []);
  for (let i = 0; i < 500; i++) assertEquals(s.get(key(i))![0], i & 255);
  await assert.rejects(s.checkpoint().segments, StateError);
  assertEquals([...Deno.readDirSync(dir)].length, 0);
  fs.failWrites = false;
  const segs = s.flush();
  assertEquals(segs.length, 1);
  assertEquals(segs[0]!.entries, 500);
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [segs[0]!.name]);
  s.close();
  const t = LsmStore.open({ dir, segments: segs });
  for (let i = 0; i < 500; i++) assertEquals(t.get(key(i))![0], i & 255);
  t.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("fault: writes fail while the memtable is full; data stays readable", () => {
  const dir = Deno.makeTempDirSync();
  const fs = new FaultyFs();
  const s = LsmStore.open({ dir, fs, memtableBytes: 64 << 10, blockCacheBytes: 64 << 10 });
  fs.failWrites = true;
  let written = 0;
  let failed = false;
  try {
    for (; written < 100_000; written++) {
      s.put(new Uint8Array([written >> 16, written >> 8, written]), new Uint8Array(30));
    }
  } catch (e) {
    assert(e instanceof StateError);
    failed = true;
  }
  assert(failed);
  for (let i = 0; i < written; i++) assert(s.get(new Uint8Array([i >> 16, i >> 8, i])));
  fs.failWrites = false;
  const segs = s.close();
  const t = LsmStore.open({ dir, segments: segs });
  for (let i = 0; i < written; i++) assert(t.get(new Uint8Array([i >> 16, i >> 8, i])));
  t.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("memory for three memtables is reserved at open: filling and freezing them grows none", () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-lsm-reserve-" });
  const mib = 1 << 20;
  const s = LsmStore.open({
    dir,
    memtableBytes: mib,
    blockCacheBytes: mib,
    backgroundThreads: false,
  });
  try {
    const opened = s.stats().memoryBytes;
    assert.ok(opened >= 4 * mib, `memory at open: ${opened} bytes`);
    // Values large enough that the memtables' indexes and sort scratch stay small beside them.
    const value = new Uint8Array(1000).fill(7);
    const key = (i: number) => new TextEncoder().encode(`key-${i}`);
    // Several memtables' worth: the active one fills and freezes, the frozen one is written.
    for (let i = 0; i < 5000; i++) s.put(key(i), value);
    s.flush();
    const stats = s.stats();
    assert.ok(stats.flushes >= 4, `flushes: ${stats.flushes}`);
    assertEquals(stats.memoryBytes, opened);
    assertEquals(s.get(key(0)), value);
    assertEquals(s.get(key(4999)), value);
  } finally {
    s.close({ discard: true });
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("LsmStore compaction: small checkpoint flushes merge among themselves, not into the large segment", async () => {
  const dir = Deno.makeTempDirSync();
  // Tier 0 holds segments below 1/256 of the memtable (16 KiB here).
  const s = LsmStore.open({ dir, memtableBytes: 4 << 20, backgroundThreads: false });
  const key = (i: number) => new Uint8Array([i >> 16, (i >> 8) & 255, i & 255, 7]);
  // Lets the background jobs that run on this thread finish.
  const settle = async () => {
    let last = -1;
    while (last !== s.stats().compactions) {
      last = s.stats().compactions;
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
    }
  };
  try {
    for (let i = 0; i < 20_000; i++) s.put(key(i), new Uint8Array(100).fill(i & 255));
    const [large] = await s.checkpoint().segments;
    assert.ok(large !== undefined && large.size > 1 << 20, `one large segment: ${large?.size}`);
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 50; i++) s.put(key(i), new Uint8Array(100).fill(round));
      await s.checkpoint().segments;
      await settle();
    }
    const st = s.stats();
    assert.ok(st.compactions >= 2, `${st.compactions} compactions`);
    assert.ok(
      st.segments.some((x) => x.name === large.name),
      `the large segment was rewritten: ${st.segments.map((x) => `${x.name}:${x.size}`)}`,
    );
    assert.ok(st.segments.length <= 5, `${st.segments.length} live segments`);
    assert.deepEqual(s.get(key(0)), new Uint8Array(100).fill(11));
    assert.deepEqual(s.get(key(19_999)), new Uint8Array(100).fill(19_999 & 255));
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Descriptors of this process open on `path` (Linux's /proc). */
function openDescriptorsOn(path: string): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === path) n++;
    } catch { /* closed meanwhile (the readDir's own descriptor) */ }
  }
  return n;
}

Deno.test("readSegment releases the file's descriptor once read, whole or in part", () => {
  const dir = Deno.realPathSync(Deno.makeTempDirSync());
  const fs = new DenoSegmentFs();
  try {
    const path = `${dir}/a.seg`;
    const entries: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < 3; i++) entries.push([new Uint8Array([i]), new Uint8Array([i, i])]);
    writeSegment(fs, path, entries);
    // A restore reads a checkpoint's segment through a path (chk-N/../shared/x.seg) that the
    // checkpoint GC's remove does not name: a descriptor kept here pins the deleted file.
    assertEquals([...readSegment(fs, path)].length, 3);
    assertEquals(openDescriptorsOn(path), 0);
    for (const _ of readSegment(fs, path)) break;
    assertEquals(openDescriptorsOn(path), 0);
    assertEquals([...readSegmentKeys(fs, path)].length, 3);
    assertEquals(openDescriptorsOn(path), 0);
  } finally {
    fs.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
