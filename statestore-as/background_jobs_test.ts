import assert from "node:assert/strict";
import { CorruptionError, StateError } from "../core/errors.ts";
import { rng } from "./_test_util.ts";
import { DenoSegmentFs, LsmStore, type LsmStore as Store, type SegmentFs } from "./mod.ts";

const key = (i: number) => new Uint8Array([i >> 16, (i >> 8) & 255, i & 255, 7, 7, 7, 7, 7]);

/** Puts, merges and deletes that are the same for every store they are applied to. */
function workload(s: Store, seed: number, n: number, maxValue = 40): void {
  const r = rng(seed);
  for (let i = 0; i < n; i++) {
    const k = key(Math.floor(r() * n));
    const x = r();
    if (x < 0.7) s.put(k, new Uint8Array(1 + Math.floor(r() * maxValue)).fill(i & 255));
    else if (x < 0.9) s.merge(k, new Uint8Array([i & 255, 1]));
    else s.delete(k);
  }
}

/** Resolves when `done()` holds, polling the event loop (worker replies arrive there). */
async function until(done: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function contents(s: Store): string[] {
  return [...s.scan({})].map(([k, v]) => `${k.join(".")}=${v.join(".")}`);
}

Deno.test("background jobs: a checkpoint's flush runs on a worker and writes the same file as this thread", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const stores = [true, false].map((backgroundThreads) =>
      LsmStore.open({ dir: `${dir}/${backgroundThreads}`, backgroundThreads })
    );
    // ~38k keys, then ~22k: both enough for a worker (20k). The second copy
    // goes into the first flush's buffers, handed back and larger than it needs.
    for (const [seed, ops] of [[11, 60_000], [12, 35_000]]) {
      const files: Uint8Array[] = [];
      for (const s of stores) {
        workload(s, seed!, ops!);
        const [seg] = await s.checkpoint().segments;
        files.push(Deno.readFileSync(`${dir}/${s === stores[0] ? "true" : "false"}/${seg!.name}`));
      }
      assert.deepEqual(files[0], files[1]);
    }
    assert.equal(stores[0]!.stats().workerJobs, 2);
    assert.equal(stores[1]!.stats().workerJobs, 0);
    assert.equal(stores[0]!.stats().flushes, 2);
    assert.deepEqual(contents(stores[0]!), contents(stores[1]!));
    for (const s of stores) s.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("background jobs: a worker flush applies the expiry filter as this thread does", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const files: Uint8Array[] = [];
    const scans: string[][] = [];
    for (const backgroundThreads of [true, false]) {
      const s = LsmStore.open({ dir: `${dir}/${backgroundThreads}`, backgroundThreads });
      s.setExpiryFilter({
        keyOffset: 0,
        rules: [{ tag: new Uint8Array([7]), ttlMs: 10, layout: "value" }],
        now: () => 12,
      });
      for (let i = 0; i < 30_000; i++) {
        const ts = new Uint8Array(12);
        ts[7] = i % 2 === 0 ? 1 : 5; // 1 + 10 <= 12 expired, 5 + 10 > 12 live
        s.put(new Uint8Array([7, i >> 16, (i >> 8) & 255, i & 255]), ts);
        s.put(new Uint8Array([8, i >> 16, (i >> 8) & 255, i & 255]), new Uint8Array([1]));
      }
      const [seg] = await s.checkpoint().segments;
      files.push(Deno.readFileSync(`${dir}/${backgroundThreads}/${seg!.name}`));
      scans.push(contents(s));
      assert.equal(s.stats().workerJobs, backgroundThreads ? 1 : 0);
      s.close();
    }
    assert.deepEqual(files[0], files[1]);
    assert.deepEqual(scans[0], scans[1]);
    assert.equal(scans[0]!.length, 45_000, "the expired half of the tag-7 keys is gone");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("background jobs: small flushes and compactions stay on this thread", async () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir, compactionTrigger: 2 });
  try {
    for (let round = 0; round < 4; round++) {
      workload(s, round, 5000); // ~3k keys a flush, well under 20k
      await s.checkpoint().segments;
    }
    await until(() => s.stats().compactions > 0, "a compaction");
    assert.equal(s.stats().workerJobs, 0);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("background jobs: compactions run on a worker; the data survives them and a reopen", async () => {
  const dir = Deno.makeTempDirSync();
  const model = LsmStore.open({
    dir: `${dir}/model`,
    backgroundThreads: false,
    autoCompact: false,
  });
  // Rounds of ~4 MB segments: each compaction reads >= 4 MB, enough for a worker.
  let s = LsmStore.open({ dir: `${dir}/s`, memtableBytes: 16 << 20, compactionTrigger: 2 });
  try {
    for (let round = 0; round < 6; round++) {
      for (const t of [s, model]) workload(t, 100 + round, 60_000, 200);
      await s.checkpoint().segments;
    }
    await until(() => s.stats().compactions >= 2, "two compactions");
    const st = s.stats();
    assert.equal(st.workerJobs, st.flushes + st.compactions, "every job ran on a worker");
    assert.ok(st.bytesRead > 0, "compactions on workers read their inputs");
    assert.deepEqual(contents(s), contents(model));
    for (let i = 0; i < 60_000; i += 7) assert.deepEqual(s.get(key(i)), model.get(key(i)));
    const segments = s.close();
    s = LsmStore.open({ dir: `${dir}/s`, segments });
    assert.deepEqual(contents(s), contents(model));
    assert.ok(![...Deno.readDirSync(`${dir}/s`)].some((e) => e.name.endsWith(".tmp")));
  } finally {
    s.close();
    model.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("background jobs: a checkpoint while the frozen memtable is unwritten queues the next one", async () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir });
  try {
    const batch = (b: number) => {
      for (let i = 0; i < 30_000; i++) s.put(key(b * 100_000 + i), new Uint8Array([b]));
    };
    batch(1);
    const first = s.checkpoint();
    batch(2);
    const second = s.checkpoint(); // queued behind the first: no flush on this thread
    assert.equal(s.stats().flushes, 0);
    batch(3);
    // Both places taken: the third freeze writes the first memtable here.
    const third = s.checkpoint();
    assert.equal(s.stats().flushes, 1);
    for (const b of [1, 2, 3]) assert.deepEqual(s.get(key(b * 100_000 + 7)), new Uint8Array([b]));
    assert.equal((await first.segments).length, 1);
    assert.equal((await second.segments).length, 2);
    const segments = await third.segments;
    assert.deepEqual(segments.map((g) => g.entries), [30_000, 30_000, 30_000]);
    const st = s.stats();
    assert.equal(st.flushes, 3);
    assert.equal(st.workerJobs, 2, "the second and third memtables were written on a worker");
    const all = contents(s);
    assert.equal(all.length, 90_000);
    const reopened = LsmStore.open({ dir: `${dir}`, segments: s.close() });
    assert.deepEqual(contents(reopened), all);
    reopened.close();
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("background jobs: a synchronous flush replaces a worker's flush in progress", async () => {
  const dir = Deno.makeTempDirSync();
  const s = LsmStore.open({ dir });
  try {
    workload(s, 5, 50_000);
    const pending = s.checkpoint();
    const flushed = s.flush(); // the worker's result is dropped when it comes
    assert.equal(flushed.length, 1);
    assert.deepEqual(await pending.segments, flushed);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(s.stats().segments, flushed);
    assert.equal(s.stats().workerJobs, 0);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [flushed[0]!.name]);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("background jobs: a worker flush whose file cannot be written fails the checkpoint; a retry works", async () => {
  const dir = Deno.makeTempDirSync();
  const real = new DenoSegmentFs();
  let full = true;
  const fs: SegmentFs = {
    readAt: (p, o, d) => real.readAt(p, o, d),
    size: (p) => real.size(p),
    create: (p) => {
      const f = real.create(p);
      return {
        write: (d) => {
          if (full) throw new Error("ENOSPC: no space left on device");
          f.write(d);
        },
        sync: () => f.sync(),
        close: () => f.close(),
      };
    },
    rename: (a, b) => real.rename(a, b),
    remove: (p) => real.remove(p),
    mkdirp: (p) => real.mkdirp(p),
  };
  const s = LsmStore.open({ dir, fs });
  try {
    workload(s, 3, 60_000);
    const before = contents(s);
    await assert.rejects(
      s.checkpoint().segments,
      (e) => e instanceof StateError && /segment .*\.seg failed: .*no space left/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no file, not even a temporary one");
    assert.deepEqual(contents(s), before);
    full = false;
    const segs = await s.checkpoint().segments; // the frozen memtable is written now
    assert.equal(segs.length, 1);
    assert.deepEqual(contents(s), before);
  } finally {
    s.close();
    real.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("background jobs: a worker compaction over a corrupt segment fails alone; the store goes on", async () => {
  const dir = Deno.makeTempDirSync();
  let s = LsmStore.open({ dir, autoCompact: false });
  for (let i = 0; i < 80_000; i++) s.put(key(i), new Uint8Array(16).fill(1));
  const [oldest] = s.flush();
  const segments = s.close();
  // Damage the first data block of the oldest segment (keys 0...).
  const path = `${dir}/${oldest!.name}`;
  const bytes = Deno.readFileSync(path);
  bytes[20]! ^= 0x40;
  Deno.writeFileSync(path, bytes);
  s = LsmStore.open({ dir, segments, compactionTrigger: 2 });
  try {
    // A segment like the damaged one: the two make a compaction, on a worker.
    for (let i = 0; i < 80_000; i++) s.put(key(100_000 + i), new Uint8Array(16).fill(2));
    await s.checkpoint().segments;
    await until(() => s.stats().backgroundErrors > 0, "the compaction's failure");
    const st = s.stats();
    assert.equal(st.compactions, 0);
    assert.equal(st.workerJobs, 1, "the flush");
    assert.match(
      st.lastBackgroundError!,
      new RegExp(`Corrupt segment ${oldest!.name} \\(block 0\\)`),
    );
    assert.ok(![...Deno.readDirSync(dir)].some((e) => e.name.endsWith(".tmp")));
    assert.deepEqual(s.get(key(100_000)), new Uint8Array(16).fill(2));
    assert.deepEqual(s.get(key(79_999)), new Uint8Array(16).fill(1));
    assert.throws(() => s.get(key(0)), CorruptionError);
    // The worker starts its next job on a fresh engine.
    for (let i = 0; i < 30_000; i++) s.put(key(200_000 + i), new Uint8Array([3]));
    await s.checkpoint().segments;
    assert.equal(s.stats().workerJobs, 2);
    assert.deepEqual(s.get(key(200_000)), new Uint8Array([3]));
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("background jobs: where no worker can load, checkpoints run on this thread", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const script = `${dir}/job.ts`;
    Deno.writeTextFileSync(
      script,
      `import { LsmStore } from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};
const s = LsmStore.open({ dir: ${JSON.stringify(`${dir}/store`)} });
for (let i = 0; i < 30000; i++) s.put(new Uint8Array([i >> 8, i & 255]), new Uint8Array([i & 255]));
const segments = await s.checkpoint().segments;
const st = s.stats();
console.log(JSON.stringify({ segments: segments.length, entries: segments[0].entries, workerJobs: st.workerJobs, error: st.lastBackgroundError }));
s.close();
`,
    );
    // Reading the worker's module is not allowed (the store loads without it).
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${dir}`, `--allow-write=${dir}`, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(got.segments, 1);
    assert.equal(got.entries, 30_000);
    assert.equal(got.workerJobs, 0);
    // No worker was started to fail: the process said once why there are none.
    assert.equal(got.error, undefined);
    const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
    assert.deepEqual(
      new TextDecoder().decode(out.stderr).split("\n").filter((l) => l.startsWith("weir:")),
      [
        "weir: skipped background store threads (flushes, compactions and snapshot writes " +
        `run on the job thread): needs --allow-read=${root}`,
      ],
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
