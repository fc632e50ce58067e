import assert from "node:assert/strict";
import { LsmStore } from "./mod.ts";

/** An 8-byte key for `i` (distinct for every i < 2^24). */
const key = (i: number) => new Uint8Array([i >> 16, (i >> 8) & 255, i & 255, 1, 2, 3, 4, 5]);

Deno.test("write stall: a full memtable waits for the worker's flush instead of redoing it here", async () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir, memtableBytes: 2 << 20, autoCompact: false });
  try {
    // No await in the loop: a memtable (~31k entries, enough for a worker)
    // fills far faster than a worker that is still starting writes one, so
    // every third fill finds both frozen places taken.
    const value = new Uint8Array(16).fill(9);
    const n = 400_000;
    for (let i = 0; i < n; i++) s.put(key(i), value);
    const mid = s.stats();
    assert.ok(mid.writeStalls >= 1, `writes stalled ${mid.writeStalls} times`);
    assert.ok(mid.writeStallMs > 0);
    await s.checkpoint().segments;
    const st = s.stats();
    assert.ok(st.flushes >= 8, `${st.flushes} flushes`);
    // Every full memtable's flush ran on a worker: none was cancelled and
    // redone on this thread (the checkpoint's last one is too small for a worker).
    assert.equal(st.workerJobs, st.flushes - 1);
    assert.equal(st.backgroundErrors, 0, st.lastBackgroundError);
    for (const i of [0, 1, 77_777, 250_000, n - 1]) assert.deepEqual(s.get(key(i)), value);
    assert.equal([...s.scan({})].length, n);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("write stall: live segments above stallSegments stall writes until a compaction merged some", () => {
  const dir = Deno.makeTempDirSync();
  const stallSegments = 8;
  const s = LsmStore.open({
    dir,
    memtableBytes: 64 << 10,
    backgroundThreads: false,
    stallSegments,
  });
  try {
    // Without an await, background jobs never run between writes: only
    // stalls flush and compact. Rewrites over a fixed key set.
    const keys = 5_000;
    let most = 0;
    for (let i = 0; i < 200_000; i++) {
      s.put(key(i % keys), new Uint8Array([i & 255, 1, 2, 3]));
      if (i % 500 === 0) most = Math.max(most, s.stats().segments.length);
    }
    const st = s.stats();
    assert.ok(st.flushes >= 40, `${st.flushes} flushes`);
    assert.ok(most <= stallSegments + 1, `up to ${most} live segments`);
    assert.ok(st.compactions >= 1 && st.writeStalls >= 1);
    for (const i of [0, 1234, keys - 1]) {
      const v = s.get(key(i))!;
      assert.equal(v[1], 1);
    }
    assert.equal([...s.scan({})].length, keys);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("write stall: writeStall() resolves once the queued memtable is written; its wait counts in stats", async () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir, memtableBytes: 64 << 10, backgroundThreads: false });
  try {
    assert.equal(s.writeStall(), undefined);
    let stall: Promise<void> | undefined;
    let i = 0;
    // Two fills: one memtable frozen, one queued behind it.
    while ((stall = s.writeStall()) === undefined) {
      if (++i > 100_000) throw new Error("no memtable was queued");
      s.put(key(i), new Uint8Array(8));
    }
    assert.equal(s.writeStall(), stall); // one wait, however many ask
    await stall;
    assert.equal(s.writeStall(), undefined);
    const st = s.stats();
    assert.equal(st.writeStalls, 1);
    assert.ok(st.writeStallMs > 0);
    assert.ok(st.flushes >= 1);
    for (const k of [1, i]) assert.deepEqual(s.get(key(k)), new Uint8Array(8));
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("write stall: close ends a pending writeStall() wait", async () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir, memtableBytes: 64 << 10, backgroundThreads: false });
  let i = 0;
  let stall: Promise<void> | undefined;
  while ((stall = s.writeStall()) === undefined) s.put(key(++i), new Uint8Array(8));
  s.close();
  await stall;
  Deno.removeSync(dir, { recursive: true });
});
