/**
 * Benchmark of the WebAssembly LSM store (statestore-as) against a JS Map,
 * Deno KV, classic-level (LevelDB) and lmdb when they load.
 *
 * ```sh
 * deno run -A --unstable-kv --v8-flags=--expose-gc bench/lsm_store.ts [--quick] [--full] [--huge-pages] [--only stores|soak]
 * ```
 * `--quick`: 200k keys. Default: 1M keys. `--full`: adds 10M keys (slow, so gated).
 * `--only stores|soak`: only the store rows, or only the keyed-job memory soak rows (`keyedSoak`).
 * `--huge-pages`: the LsmStores ask for transparent huge pages, and only they run.
 * Key numbers are the median of 3 runs. Each row gives wall-clock ops/s and
 * ops per CPU-second of this process (user + system time, from
 * `process.cpuUsage()`): on a shared machine the second is the steadier one,
 * since it leaves out the time the process waited for a core. "peak RSS" is
 * the process's peak resident memory (VmHWM) since its group of rows began
 * (one store and value size; reset through /proc/self/clear_refs after a
 * full GC when run with `--v8-flags=--expose-gc`, as bench/main.ts does).
 * It still counts what earlier groups left resident (freed memory the
 * allocator keeps), so it is an upper bound for the store rows; the
 * keyed-job soak rows each run in a process of their own and are exact.
 *
 * @module
 */
import process from "node:process";
import { LsmStore } from "../statestore-as/mod.ts";
import { peakRssMiB, resetPeakRss } from "./_util.ts";

const QUICK = Deno.args.includes("--quick");
const FULL = Deno.args.includes("--full");
/** `--huge-pages`: LsmStores ask for transparent huge pages (LsmStoreOptions.hugePages). */
const HUGE = Deno.args.includes("--huge-pages");
const ONLY = Deno.args[Deno.args.indexOf("--only") + 1];
if (Deno.args.includes("--only") && ONLY !== "stores" && ONLY !== "soak") {
  throw new Error(`bench/lsm_store.ts: --only takes "stores" or "soak", got ${ONLY}`);
}
const rows: string[][] = [];
/** Keys per getMany call. */
const BATCH = 64;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One timed pass: wall-clock and CPU milliseconds. */
interface Timing {
  wall: number;
  cpu: number;
}

function report(store: string, op: string, n: number, runs: Timing[]): void {
  const ms = median(runs.map((r) => r.wall));
  const cpu = median(runs.map((r) => r.cpu));
  const ops = n / (ms / 1000);
  const cpuOps = n / (cpu / 1000);
  rows.push([
    store,
    op,
    n.toLocaleString("en-US"),
    Math.round(ops).toLocaleString("en-US"),
    Math.round(cpuOps).toLocaleString("en-US"),
    (ms * 1e6 / n).toFixed(0),
    peakRssMiB().toFixed(0),
  ]);
  console.error(
    `  ${store} ${op}: ${Math.round(ops).toLocaleString("en-US")} ops/s, ${
      Math.round(cpuOps).toLocaleString("en-US")
    } ops/CPU-s`,
  );
}

function start(): { c: { user: number; system: number }; t: number } {
  return { c: process.cpuUsage(), t: performance.now() };
}

function stop(s: { c: { user: number; system: number }; t: number }): Timing {
  const wall = performance.now() - s.t;
  const d = process.cpuUsage(s.c);
  return { wall, cpu: (d.user + d.system) / 1000 };
}

function time(f: () => void): Timing {
  const t = start();
  f();
  return stop(t);
}

/**
 * Writes key `i` the way the state backend serializes a key into the
 * store's key scratch: a fixed 4-byte prefix (key group, state id), 4 bytes
 * mixed from `i` (keys spread over the key space), `i` big-endian, and 4
 * fixed namespace bytes. 16 bytes.
 */
function writeKey(ks: Uint8Array, i: number): void {
  let h = Math.imul(i ^ 0x5bd1e995, 0x9e3779b1);
  h ^= h >>> 15;
  ks[0] = 0;
  ks[1] = 42;
  ks[2] = 0;
  ks[3] = 1;
  ks[4] = h >>> 24;
  ks[5] = (h >>> 16) & 255;
  ks[6] = (h >>> 8) & 255;
  ks[7] = h & 255;
  ks[8] = i >>> 24;
  ks[9] = (i >>> 16) & 255;
  ks[10] = (i >>> 8) & 255;
  ks[11] = i & 255;
  ks[12] = 7;
  ks[13] = 7;
  ks[14] = 7;
  ks[15] = 7;
}

function keys(n: number, seed: number): Uint8Array[] {
  const out: Uint8Array[] = new Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    const k = new Uint8Array(16);
    const dv = new DataView(k.buffer);
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    dv.setUint32(0, x);
    dv.setUint32(12, i);
    out[i] = k;
  }
  return out;
}

function shuffled(n: number, count: number): Int32Array {
  const idx = new Int32Array(count);
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    idx[i] = x % n;
  }
  return idx;
}

function tmp(): string {
  return Deno.makeTempDirSync({ prefix: "weir-bench-" });
}

async function lsmResident(n: number, vlen: number): Promise<void> {
  const ks = keys(n, 1);
  const v = new Uint8Array(vlen).fill(7);
  const probe = shuffled(n, n);
  const label = `LsmStore (memtable) v=${vlen}B`;
  const puts: Timing[] = [];
  const gets: Timing[] = [];
  const merges: Timing[] = [];
  const scans: Timing[] = [];
  const sputs: Timing[] = [];
  const sgets: Timing[] = [];
  const mgets: Timing[] = [];
  const wputs: Timing[] = [];
  const wgets: Timing[] = [];
  for (let r = 0; r < 3; r++) {
    const dir = tmp();
    const s = LsmStore.open({
      hugePages: HUGE,
      dir,
      memtableBytes: 256 << 20,
      blockCacheBytes: 1 << 20,
    });
    puts.push(time(() => {
      for (let i = 0; i < n; i++) s.put(ks[i]!, v);
    }));
    gets.push(time(() => {
      for (let i = 0; i < n; i++) s.get(ks[probe[i]!]!);
    }));
    const one = new Uint8Array(4);
    merges.push(time(() => {
      for (let i = 0; i < n; i++) s.merge(ks[probe[i]!]!, one);
    }));
    scans.push(time(() => {
      let c = 0;
      for (const _ of s.scan({})) c++;
      if (c !== n) throw new Error(`scan saw ${c}`);
    }));
    s.close();
    Deno.removeSync(dir, { recursive: true });
    // What the state backend does per access: serialize the key into the
    // key scratch (and the value into the value scratch), call the scratch
    // method, read the value through valueView. No JS object per key.
    const dir2 = tmp();
    const s2 = LsmStore.open({
      hugePages: HUGE,
      dir: dir2,
      memtableBytes: 256 << 20,
      blockCacheBytes: 1 << 20,
    });
    const fill = () => {
      for (let i = 0; i < n; i++) {
        writeKey(s2.keyScratch(16), i);
        s2.valueScratch(vlen).set(v);
        s2.putScratch(16, vlen);
      }
    };
    const randomGets = () => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        writeKey(s2.keyScratch(16), probe[i]!);
        const len = s2.getScratch(16);
        if (len < 0) throw new Error("missing");
        sum += s2.valueView(len)[0]!;
      }
      if (sum !== 7 * n) throw new Error("wrong values");
    };
    sputs.push(time(fill));
    sgets.push(time(randomGets));
    // The same random gets, 64 keys per getMany call (their cache misses overlap).
    const kb = new Uint8Array(BATCH * 16);
    const keyViews = Array.from({ length: BATCH }, (_, j) => kb.subarray(j * 16, j * 16 + 16));
    const ends = Array.from({ length: BATCH }, (_, j) => (j + 1) * 16);
    mgets.push(time(() => {
      let sum = 0;
      const each = (_i: number, values: Uint8Array, offset: number, length: number) => {
        if (length < 0) throw new Error("missing");
        sum += values[offset]!;
      };
      for (let i = 0; i < n; i += BATCH) {
        const m = Math.min(BATCH, n - i);
        for (let j = 0; j < m; j++) writeKey(keyViews[j]!, probe[i + j]!);
        s2.getMany(kb, m === BATCH ? ends : ends.slice(0, m), each);
      }
      if (sum !== 7 * n) throw new Error("wrong values");
    }));
    // A running store fills a memtable whose arena and hash table it has
    // used before (flushing hands the written memtable back as the next
    // one), so only its first two fills fault pages in and grow the table:
    // flush twice, then time a third fill of the same keys and gets on it.
    await s2.flush();
    fill();
    await s2.flush();
    wputs.push(time(fill));
    wgets.push(time(randomGets));
    s2.close();
    Deno.removeSync(dir2, { recursive: true });
  }
  report(label, "put", n, puts);
  report(label, "get (random)", n, gets);
  report(label, "merge (append 4B)", n, merges);
  report(label, "scan (per entry)", n, scans);
  report(label, "putScratch (key built in keyScratch)", n, sputs);
  report(label, "getScratch+valueView (random, key built in keyScratch)", n, sgets);
  report(label, "getMany (random, 64 keys per call, keys built in a batch buffer)", n, mgets);
  report(label, "putScratch, warm memtable (third fill, after two flushes)", n, wputs);
  report(label, "getScratch+valueView (random), warm memtable", n, wgets);
  // scratch path with the key copied from a separate Uint8Array per key
  const dir = tmp();
  const s = LsmStore.open({
    hugePages: HUGE,
    dir,
    memtableBytes: 256 << 20,
    blockCacheBytes: 1 << 20,
  });
  for (let i = 0; i < n; i++) s.put(ks[i]!, v);
  const sg: Timing[] = [];
  for (let r = 0; r < 3; r++) {
    sg.push(time(() => {
      for (let i = 0; i < n; i++) {
        s.keyScratch(16).set(ks[probe[i]!]!);
        if (s.getScratch(16) < 0) throw new Error("missing");
      }
    }));
  }
  report(label, "getScratch (random, key from a Uint8Array per key)", n, sg);
  // get() with the key copied into one reused buffer (no heap object per key).
  const flat = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) flat.set(ks[i]!, i * 16);
  const kbuf = new Uint8Array(16);
  const rg: Timing[] = [];
  for (let r = 0; r < 3; r++) {
    rg.push(time(() => {
      for (let i = 0; i < n; i++) {
        const o = probe[i]! * 16;
        for (let j = 0; j < 16; j++) kbuf[j] = flat[o + j]!;
        if (s.get(kbuf) === undefined) throw new Error("missing");
      }
    }));
  }
  report(label, "get (random, key in a reused buffer)", n, rg);
  s.close();
  Deno.removeSync(dir, { recursive: true });
}

function lsmLarge(n: number, vlen: number): void {
  const ks = keys(n, 2);
  const v = new Uint8Array(vlen).fill(3);
  const dataBytes = n * (16 + vlen);
  const budget = Math.max(256 << 10, Math.floor(dataBytes / 4));
  const memtableBytes = Math.max(128 << 10, Math.floor(budget / 4));
  const cacheBytes = Math.max(128 << 10, budget - 2 * memtableBytes);
  const label = `LsmStore (4x budget) v=${vlen}B`;
  const dir = tmp();
  const s = LsmStore.open({ hugePages: HUGE, dir, memtableBytes, blockCacheBytes: cacheBytes });
  const order = shuffled(n, n);
  const putMs = time(() => {
    for (let i = 0; i < n; i++) s.put(ks[order[i]!]!, v);
    s.flush();
  });
  const st0 = s.stats();
  const userBytes = dataBytes;
  const probe = shuffled(n, QUICK ? 200_000 : 500_000);
  const runs: Timing[] = [];
  let before = s.stats();
  let blockReads = 0;
  let bloomChecks = 0;
  for (let r = 0; r < 3; r++) {
    before = s.stats();
    runs.push(time(() => {
      for (let i = 0; i < probe.length; i++) {
        if (s.get(ks[probe[i]!]!) === undefined) throw new Error("missing key");
      }
    }));
    const after = s.stats();
    blockReads = (after.blockReads - before.blockReads) / probe.length;
    bloomChecks = (after.bloomChecks - before.bloomChecks) / probe.length;
  }
  // The same gets with each key copied into the key scratch (the backend's path).
  const flat = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) flat.set(ks[i]!, i * 16);
  const sruns: Timing[] = [];
  for (let r = 0; r < 3; r++) {
    sruns.push(time(() => {
      for (let i = 0; i < probe.length; i++) {
        const ksc = s.keyScratch(16);
        const o = probe[i]! * 16;
        for (let j = 0; j < 16; j++) ksc[j] = flat[o + j]!;
        if (s.getScratch(16) < 0) throw new Error("missing key");
      }
    }));
  }
  report(label, `put (random order, incl. flush+compaction)`, n, [putMs]);
  report(label, "get (random)", probe.length, runs);
  report(label, "getScratch (random, key copied into keyScratch)", probe.length, sruns);
  const after = s.stats();
  const spaceBefore = st0.segmentBytes;
  const compactMs = time(() => s.compact()).wall;
  const spaceAfter = s.stats().segmentBytes;
  console.log(
    `\n${label}: budget ${(budget / 2 ** 20).toFixed(1)} MiB (memtable ${
      (memtableBytes / 2 ** 20).toFixed(1)
    } MiB x2, cache ${(cacheBytes / 2 ** 20).toFixed(1)} MiB), user data ${
      (userBytes / 2 ** 20).toFixed(1)
    } MiB\n` +
      `  compaction (size-tiered, 4 per tier): write amplification ${
        (st0.bytesWritten / userBytes).toFixed(2)
      } ` +
      `(segment bytes written / user bytes), ${st0.flushes} flushes, ${st0.compactions} compactions\n` +
      `  write stalls during the puts: ${st0.writeStalls} (${st0.writeStallMs.toFixed(0)} ms)\n` +
      `  space amplification ${
        (spaceBefore / spaceAfter).toFixed(2)
      } (live segment bytes / after full compaction; ` +
      `${st0.segments.length} segments)\n` +
      `  read amplification per get: ${bloomChecks.toFixed(2)} bloom probes, ${
        blockReads.toFixed(2)
      } block reads ` +
      `from file; cache hit rate ${(after.cacheHitRate * 100).toFixed(1)}%\n` +
      `  full compaction of ${(spaceBefore / 2 ** 20).toFixed(1)} MiB took ${
        compactMs.toFixed(0)
      } ms`,
  );
  s.close();
  Deno.removeSync(dir, { recursive: true });
}

/**
 * What memory alone costs a single random get over an n-key memtable: a
 * chain of dependent loads through arrays laid out like the memtable's hash
 * slots (4 bytes, at most half full) and records (16-byte header, 16-byte
 * key, the value, 8-byte aligned), each step reading a slot and then its
 * record's first and last word. No store code runs, and each step depends
 * on the last, so the CPU cannot overlap one step's cache misses with the
 * next's: the rate of a get path that waits for both misses every time.
 */
function memoryFloor(n: number, vlen: number): void {
  const recordBytes = (32 + vlen + 7) & ~7;
  let slots = 2048;
  while (slots < 2 * n) slots *= 2;
  const words = slots + (n * recordBytes) / 4;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((words * 4) / 65536) });
  const u32 = new Uint32Array(memory.buffer);
  const recordWords = recordBytes / 4;
  let seed = 1;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < slots; i++) u32[i] = slots + (next() % n) * recordWords;
  for (let r = 0; r < n; r++) {
    u32[slots + r * recordWords] = next();
    u32[slots + r * recordWords + recordWords - 1] = 1;
  }
  const steps = 2_000_000;
  const mask = slots - 1;
  const runs: Timing[] = [];
  for (let r = 0; r < 3; r++) {
    runs.push(time(() => {
      let h = 7, sum = 0;
      for (let i = 0; i < steps; i++) {
        const record = u32[h & mask]!;
        h = u32[record]! ^ i;
        sum += u32[record + recordWords - 1]!;
      }
      if (sum !== steps) throw new Error("memory floor: wrong sum");
    }));
  }
  report(
    `memory floor (no store code) v=${vlen}B`,
    `dependent slot -> record loads, ${(slots * 4) >> 20} MiB of slots, ${
      (n * recordBytes) >> 20
    } MiB of records`,
    steps,
    runs,
  );
}

function mapBench(n: number, vlen: number): void {
  const ks = keys(n, 1);
  const probe = shuffled(n, n);
  const v = new Uint8Array(vlen).fill(7);
  const dec = new TextDecoder("latin1");
  const puts: Timing[] = [];
  const gets: Timing[] = [];
  for (let r = 0; r < 3; r++) {
    const m = new Map<string, Uint8Array>();
    puts.push(time(() => {
      for (let i = 0; i < n; i++) m.set(dec.decode(ks[i]!), v);
    }));
    gets.push(time(() => {
      for (let i = 0; i < n; i++) m.get(dec.decode(ks[probe[i]!]!));
    }));
  }
  report(`Map<string> (key bytes decoded) v=${vlen}B`, "put", n, puts);
  report(`Map<string> (key bytes decoded) v=${vlen}B`, "get (random)", n, gets);
}

async function kvBench(n: number, vlen: number): Promise<void> {
  const dir = tmp();
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  const ks = keys(n, 1);
  const v = new Uint8Array(vlen).fill(7);
  let t = start();
  for (let i = 0; i < n; i++) await kv.set([ks[i]!], v);
  report(`Deno KV v=${vlen}B`, "put (await each)", n, [stop(t)]);
  t = start();
  for (let i = 0; i < n; i++) await kv.get([ks[(i * 7919) % n]!]);
  report(`Deno KV v=${vlen}B`, "get (await each)", n, [stop(t)]);
  kv.close();
  Deno.removeSync(dir, { recursive: true });
}

// The comparison stores are bench-only npm packages with native install scripts. Their
// specifiers are made at run time, so neither type checks nor the lockfile pick them up:
// with `nodeModulesDir: "auto"` every run of anything in this repository (`deno task demo`)
// would otherwise install them. bench/main.ts runs benches with --no-lock for the same reason.
/** Imports a bench-only npm package, out of sight of the module graph. */
function importOptional(name: string, version: string): Promise<unknown> {
  const specifier = ["npm:", name, "@", version].join("");
  return import(specifier);
}

/** The part of lmdb's API measured here. */
interface Lmdb {
  open(o: { path: string; encoding: "binary"; keyEncoding: "binary" }): {
    transactionSync(f: () => void): void;
    putSync(k: Uint8Array, v: Uint8Array): void;
    get(k: Uint8Array): Uint8Array | undefined;
    close(): Promise<void>;
  };
}

/** The part of classic-level's API measured here. */
interface ClassicLevelModule {
  ClassicLevel: new (path: string, o: { keyEncoding: "view"; valueEncoding: "view" }) => {
    open(): Promise<void>;
    batch(): { put(k: Uint8Array, v: Uint8Array): void; write(): Promise<void> };
    getSync(k: Uint8Array): Uint8Array | undefined;
    get(k: Uint8Array): Promise<Uint8Array | undefined>;
    close(): Promise<void>;
  };
}

async function lmdbBench(n: number, vlen: number): Promise<void> {
  try {
    const { open } = await importOptional("lmdb", "3.5.6") as Lmdb;
    const dir = tmp();
    const db = open({ path: `${dir}/db`, encoding: "binary", keyEncoding: "binary" });
    const ks = keys(n, 1);
    const v = new Uint8Array(vlen).fill(7);
    let t = start();
    db.transactionSync(() => {
      for (let i = 0; i < n; i++) db.putSync(ks[i]!, v);
    });
    report(`lmdb v=${vlen}B`, "put (one sync txn)", n, [stop(t)]);
    const probe = shuffled(n, n);
    t = start();
    for (let i = 0; i < n; i++) db.get(ks[probe[i]!]!);
    report(`lmdb v=${vlen}B`, "get (random)", n, [stop(t)]);
    await db.close();
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    console.log(`lmdb: not measured: ${(e as Error).message.split("\n")[0]}`);
  }
}

async function classicLevelBench(n: number, vlen: number): Promise<void> {
  try {
    const { ClassicLevel } = await importOptional("classic-level", "3.0.0") as ClassicLevelModule;
    const dir = tmp();
    const db = new ClassicLevel(`${dir}/db`, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    await db.open();
    const ks = keys(n, 1);
    const v = new Uint8Array(vlen).fill(7);
    let t = start();
    for (let i = 0; i < n; i += 10_000) {
      const b = db.batch();
      for (let j = i; j < Math.min(n, i + 10_000); j++) b.put(ks[j]!, v);
      await b.write();
    }
    report(`classic-level v=${vlen}B`, "put (batches of 10k, awaited)", n, [stop(t)]);
    const probe = shuffled(n, n);
    const runs: Timing[] = [];
    for (let r = 0; r < 3; r++) {
      runs.push(time(() => {
        for (let i = 0; i < n; i++) {
          if (db.getSync(ks[probe[i]!]!) === undefined) throw new Error("missing key");
        }
      }));
    }
    report(`classic-level v=${vlen}B`, "getSync (random)", n, runs);
    t = start();
    for (let i = 0; i < Math.min(n, 20_000); i++) await db.get(ks[probe[i]!]!);
    report(`classic-level v=${vlen}B`, "get (await each)", Math.min(n, 20_000), [stop(t)]);
    await db.close();
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    console.log(`classic-level: not measured: ${(e as Error).message.split("\n")[0]}`);
  }
}

const n = QUICK ? 200_000 : 1_000_000;
console.log(
  `weir statestore-as benchmark — ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, n=${n}${
    HUGE ? ", LsmStore with huge pages (the peers are not run)" : ""
  }`,
);
/** Runs one group of rows with the peak RSS reset at its start. */
async function group(run: () => void | Promise<void>): Promise<void> {
  // Earlier groups' stores and arrays are garbage: collect them first.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  resetPeakRss();
  await run();
}
if (ONLY !== "soak") {
  for (const vlen of [8, 100]) {
    await group(() => lsmResident(n, vlen));
    await group(() => memoryFloor(n, vlen));
    if (!HUGE) await group(() => mapBench(n, vlen));
  }
  for (const vlen of [8, 100]) await group(() => lsmLarge(n, vlen));
  if (FULL) {
    await group(() => lsmResident(10_000_000, 8));
    await group(() => lsmLarge(10_000_000, 100));
  } else {
    console.log("10M-key runs are gated behind --full (they take minutes here).");
  }
  if (!HUGE) {
    await group(() => kvBench(QUICK ? 5_000 : 20_000, 100));
    await group(() => classicLevelBench(n, 100));
    await group(() => lmdbBench(QUICK ? 200_000 : n, 100));
  }
}

/**
 * The memory soak (tests/_helpers/lsm_soak_job.ts in a process of its own):
 * a keyed job rewrites 100-byte values over 300k keys with a checkpoint
 * every second, on the LSM backend (4 MiB memtables, 2 MiB block cache) on
 * a quiet machine and with both cores kept busy by two other processes, and
 * on the heap backend. Rows give its peak RSS, and its write-stall time.
 */
async function keyedSoak(writes: number): Promise<void> {
  const cases: Array<[backend: string, busy: number]> = [["lsm", 0], ["lsm", 2], ["heap", 0]];
  for (const [backend, busy] of cases) {
    const hogs = Array.from(
      { length: busy },
      () => new Deno.Command("sh", { args: ["-c", "while :; do :; done"] }).spawn(),
    );
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../tests/_helpers/lsm_soak_job.ts", import.meta.url).pathname,
          "--writes",
          String(writes),
          "--state-backend",
          backend,
        ],
        stderr: "inherit",
      }).output();
    } finally {
      for (const h of hogs) {
        h.kill("SIGKILL");
        await h.status;
      }
    }
    if (!out.success) throw new Error(`the ${backend} soak job failed`);
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    const stall = backend === "lsm" ? `, write stalls ${(r.stallSeconds ?? 0).toFixed(1)} s` : "";
    rows.push([
      `keyed job, ${backend} backend, 300k keys, v=100B${busy ? ", both cores busy" : ""}`,
      `rewrite (checkpoint every 1 s${stall})`,
      writes.toLocaleString("en-US"),
      Math.round(writes / r.seconds).toLocaleString("en-US"),
      Math.round(writes / r.cpuSeconds).toLocaleString("en-US"),
      (r.seconds * 1e9 / writes).toFixed(0),
      String(r.peakMiB),
    ]);
    console.error(`  soak ${backend}${busy ? " (busy cores)" : ""}: peak RSS ${r.peakMiB} MiB`);
  }
}
if (!HUGE && ONLY !== "stores") await keyedSoak(QUICK ? 1_000_000 : FULL ? 12_000_000 : 6_000_000);

const head = ["store", "operation", "ops", "ops/s", "ops/CPU-s", "ns/op", "peak RSS (MiB)"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) =>
  `| ${r.map((c, i) => i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join(" | ")} |`;
console.log("\n" + line(head));
console.log(
  `|${widths.map((w, i) => (i >= 2 ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`,
);
for (const r of rows) console.log(line(r));
