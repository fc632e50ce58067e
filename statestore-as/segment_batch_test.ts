import assert from "node:assert/strict";
import { StateError } from "../core/errors.ts";
import {
  DenoSegmentFs,
  LsmStore,
  readSegment,
  SegmentBatch,
  SegmentBatchWriter,
  type SegmentFs,
  writeSegment,
  writeSegmentBatch,
  writeSegmentBatchAsync,
} from "./mod.ts";
import { hex, rng } from "./_test_util.ts";

/** Keys built to defeat a prefix sort: long shared prefixes, keys that extend others, zero bytes. */
function awkwardKeys(seed: number, n: number): Uint8Array[] {
  const r = rng(seed);
  const prefixes = [0, 3, 8, 9, 16, 40, 70, 130].map((len) =>
    Uint8Array.from({ length: len }, () => (r() < 0.3 ? 0 : 0x61))
  );
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  while (out.length < n) {
    const p = prefixes[Math.floor(r() * prefixes.length)]!;
    const tail = Uint8Array.from(
      { length: Math.floor(r() * 12) },
      () => r() < 0.4 ? 0 : Math.floor(r() * 256),
    );
    const k = new Uint8Array(p.length + tail.length);
    k.set(p);
    k.set(tail, p.length);
    const h = hex(k);
    if (seen.has(h)) continue;
    seen.add(h);
    out.push(k);
  }
  return out;
}

/** Runs `f` with a fresh temporary folder and a file system on it, then removes both. */
async function inTempDir(f: (dir: string, fs: DenoSegmentFs) => void | Promise<void>) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-batch-" });
  const fs = new DenoSegmentFs();
  try {
    await f(dir, fs);
  } finally {
    fs.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

/** `fs` with its `create` replaced. */
function withCreate(fs: SegmentFs, create: SegmentFs["create"]): SegmentFs {
  return {
    readAt: (p, o, d) => fs.readAt(p, o, d),
    size: (p) => fs.size(p),
    rename: (a, b) => fs.rename(a, b),
    remove: (p) => fs.remove(p),
    mkdirp: (p) => fs.mkdirp(p),
    create,
  };
}

Deno.test("writeSegmentBatch sorts like a byte comparison, over awkward keys and seeds", () =>
  inTempDir((dir, fs) => {
    // 60k keys: ~7k share each prefix, so the sort also buckets ranges
    // past the first 8 and 16 bytes (keysort.ts buckets from 4096 items).
    for (const [seed, n] of [[1, 20_000], [2, 20_000], [3, 60_000]] as const) {
      const keys = awkwardKeys(seed, n);
      const batch = new SegmentBatch(16);
      keys.forEach((k, i) => batch.put(k, new Uint8Array([i & 255, i >> 8])));
      const info = writeSegmentBatch(fs, `${dir}/s${seed}.seg`, batch);
      assert.equal(info.entries, keys.length);
      const got = [...readSegment(fs, `${dir}/s${seed}.seg`)].map(([k, v]) =>
        `${hex(k)}=${hex(v)}`
      );
      const want = keys.map((k, i) => [hex(k), hex(new Uint8Array([i & 255, i >> 8]))] as const)
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`);
      assert.deepEqual(got, want, `seed ${seed}`);
    }
  }));

Deno.test("writeSegmentBatch: deletes hide older segments; add() takes writer buffers as they are", () =>
  inTempDir((dir, fs) => {
    const k = (i: number) => new Uint8Array([0, i]);
    writeSegment(fs, `${dir}/old.seg`, [[k(1), k(1)], [k(2), k(2)], [k(3), k(3)]]);
    const batch = new SegmentBatch();
    batch.delete(k(2));
    // A longer buffer of which only the first bytes count.
    batch.add(new Uint8Array([0, 3, 99]), 2, new Uint8Array([7, 7, 99, 99]), 2);
    batch.add(new Uint8Array([0, 4, 99]), 2, null, 5);
    writeSegmentBatch(fs, `${dir}/new.seg`, batch);
    const s = LsmStore.open({ dir, segments: ["new.seg", "old.seg"] });
    const all = [...s.scan({})].map(([key, v]) => `${hex(key)}=${hex(v)}`);
    s.close();
    assert.deepEqual(all, ["0001=0001", "0003=0707"]);
  }));

Deno.test("writeSegmentBatch: a key twice is a StateError and leaves no file", () =>
  inTempDir((dir, fs) => {
    const batch = new SegmentBatch();
    for (let i = 0; i < 100; i++) batch.put(new Uint8Array([i]), new Uint8Array([i]));
    batch.put(new Uint8Array([42]), new Uint8Array([0]));
    assert.throws(
      () => writeSegmentBatch(fs, `${dir}/dup.seg`, batch),
      (e) => e instanceof StateError && /a key occurs twice/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // An empty batch writes an empty segment.
    assert.equal(writeSegmentBatch(fs, `${dir}/empty.seg`, new SegmentBatch()).entries, 0);
    assert.deepEqual([...readSegment(fs, `${dir}/empty.seg`)], []);
  }));

Deno.test("writeSegmentBatchAsync: sorted on a worker, written through the caller's fs", () =>
  inTempDir(async (dir, real) => {
    const writes: string[] = [];
    const fs = withCreate(real, (p) => {
      writes.push(p.slice(dir.length + 1));
      return real.create(p);
    });
    const keys = awkwardKeys(4, 30_000);
    const batch = new SegmentBatch();
    keys.forEach((k, i) => batch.put(k, new Uint8Array([i & 255])));
    const info = await writeSegmentBatchAsync(fs, `${dir}/w.seg`, batch, { offThreadFrom: 0 });
    assert.equal(info.entries, keys.length);
    assert.equal(info.size, Deno.statSync(`${dir}/w.seg`).size);
    assert.deepEqual(writes, [".w.seg.tmp"]);
    const got = [...readSegment(real, `${dir}/w.seg`)].map(([k]) => hex(k));
    assert.deepEqual(got, keys.map(hex).sort());
    // The worker's errors come back as StateErrors; nothing is written.
    const dup = new SegmentBatch();
    dup.put(new Uint8Array([1]), new Uint8Array([1]));
    dup.put(new Uint8Array([1]), new Uint8Array([2]));
    await assert.rejects(
      writeSegmentBatchAsync(fs, `${dir}/dup.seg`, dup, { offThreadFrom: 0 }),
      (e) => e instanceof StateError && /a key occurs twice/.test(e.message),
    );
    assert.equal(real.size(`${dir}/dup.seg`), undefined);
  }));

Deno.test("SegmentBatchWriter: one worker for a series of batches; close fails the batch in flight", () =>
  inTempDir(async (dir, fs) => {
    const writer = new SegmentBatchWriter({ offThreadFrom: 0 });
    const batches = [1, 2, 3].map((seed) => awkwardKeys(seed, 5000));
    // Written together: the worker sorts them in turn, each reply finds its own write.
    const infos = await Promise.all(batches.map((keys, i) => {
      const batch = new SegmentBatch();
      keys.forEach((k, j) => batch.put(k, new Uint8Array([i, j & 255])));
      return writer.write(fs, `${dir}/${i}.seg`, batch);
    }));
    batches.forEach((keys, i) => {
      assert.equal(infos[i]!.entries, keys.length);
      const got = [...readSegment(fs, `${dir}/${i}.seg`)];
      assert.deepEqual(got.map(([k]) => hex(k)), keys.map(hex).sort());
      assert.ok(got.every(([, v]) => v[0] === i));
    });
    const late = new SegmentBatch();
    late.put(new Uint8Array([9]), new Uint8Array([9]));
    const pending = writer.write(fs, `${dir}/late.seg`, late);
    writer.close();
    await assert.rejects(pending, (e) => e instanceof StateError && /closed/.test(e.message));
    assert.equal(fs.size(`${dir}/late.seg`), undefined);
    // The worker wrote the others' files itself (DenoSegmentFs); no temporary file is left.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "0.seg",
      "1.seg",
      "2.seg",
    ]);
  }));

Deno.test("SegmentBatchWriter: a batch packs into the buffer of one sorted before, when large enough", () =>
  inTempDir(async (dir, fs) => {
    const writer = new SegmentBatchWriter({ offThreadFrom: 0 });
    try {
      const first = writer.batch(1 << 20);
      const keys = awkwardKeys(4, 3000);
      keys.forEach((k, j) => first.put(k, new Uint8Array(40).fill(j & 255)));
      await writer.write(fs, `${dir}/a.seg`, first);
      assert.equal(
        writer.batch(4 << 20).bytes().buffer.byteLength,
        4 << 20,
        "too small: a new buffer",
      );
      // The handed-back buffer still holds the first batch's bytes: a shorter batch overwrites a part.
      const second = writer.batch(1 << 20);
      assert.equal(second.bytes().buffer.byteLength, 1 << 20);
      assert.equal(second.byteLength, 0);
      const fewer = keys.slice(0, 100);
      fewer.forEach((k) => second.put(k, new Uint8Array([7])));
      assert.equal((await writer.write(fs, `${dir}/b.seg`, second)).entries, 100);
      const got = [...readSegment(fs, `${dir}/b.seg`)];
      assert.deepEqual(got.map(([k]) => hex(k)), fewer.map(hex).sort());
      assert.ok(got.every(([, v]) => v.length === 1 && v[0] === 7));
    } finally {
      writer.close();
    }
  }));

Deno.test("writeSegmentBatchAsync: a failing disk removes the temporary file and rejects, naming the segment's path", () =>
  inTempDir(async (dir, real) => {
    const fs = withCreate(real, (p) => {
      const f = real.create(p);
      return {
        write: () => {
          throw new Error("No space left on device (os error 28)");
        },
        sync: () => f.sync(),
        close: () => f.close(),
      };
    });
    const batch = new SegmentBatch();
    for (let i = 0; i < 1000; i++) batch.put(new Uint8Array([i >> 8, i & 255]), new Uint8Array(4));
    // The disk's error names no file: the rejection does.
    await assert.rejects(
      writeSegmentBatchAsync(fs, `${dir}/f.seg`, batch, { offThreadFrom: 0 }),
      (e) =>
        e instanceof StateError &&
        e.message === `writing segment ${dir}/f.seg failed: No space left on device (os error 28)`,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  }));
