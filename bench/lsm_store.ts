/**
 * Benchmark of the WebAssembly LSM store (statestore-as) against a JS Map,
 * Deno KV, classic-level (LevelDB) and lmdb when they load.
 *
 * ```sh
 * deno run -A --unstable-kv bench/lsm_store.ts [--quick] [--full]
 * ```
 * `--quick`: 200k keys. Default: 1M keys. `--full`: adds 10M keys (slow, so gated).
 * Key numbers are the median of 3 runs.
 *
 * @module
 */
import { LsmStore } from "../statestore-as/mod.ts";

const QUICK = Deno.args.includes("--quick");
const FULL = Deno.args.includes("--full");
const rows: string[][] = [];

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function report(store: string, op: string, n: number, runs: number[]): void {
  const ms = median(runs);
  const ops = n / (ms / 1000);
  rows.push([
    store,
    op,
    n.toLocaleString("en-US"),
    Math.round(ops).toLocaleString("en-US"),
    (ms * 1e6 / n).toFixed(0),
  ]);
  console.error(`  ${store} ${op}: ${Math.round(ops).toLocaleString("en-US")} ops/s`);
}

function time(f: () => void): number {
  const t = performance.now();
  f();
  return performance.now() - t;
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

function lsmResident(n: number, vlen: number): void {
  const ks = keys(n, 1);
  const v = new Uint8Array(vlen).fill(7);
  const probe = shuffled(n, n);
  const label = `LsmStore (memtable) v=${vlen}B`;
  const puts: number[] = [];
  const gets: number[] = [];
  const merges: number[] = [];
  const scans: number[] = [];
  for (let r = 0; r < 3; r++) {
    const dir = tmp();
    const s = LsmStore.open({ dir, memtableBytes: 256 << 20, blockCacheBytes: 1 << 20 });
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
  }
  report(label, "put", n, puts);
  report(label, "get (random)", n, gets);
  report(label, "merge (append 4B)", n, merges);
  report(label, "scan (per entry)", n, scans);
  // scratch path: caller writes the key into linear memory directly
  const dir = tmp();
  const s = LsmStore.open({ dir, memtableBytes: 256 << 20, blockCacheBytes: 1 << 20 });
  for (let i = 0; i < n; i++) s.put(ks[i]!, v);
  const sg: number[] = [];
  for (let r = 0; r < 3; r++) {
    sg.push(time(() => {
      for (let i = 0; i < n; i++) {
        s.keyScratch(16).set(ks[probe[i]!]!);
        if (s.getScratch(16) < 0) throw new Error("missing");
      }
    }));
  }
  report(label, "getScratch (random)", n, sg);
  // The state backend serializes each key into a reused buffer: the same
  // random gets without a separate heap object per key (whose cache misses
  // on the JS side cost as much as the lookup itself).
  const flat = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) flat.set(ks[i]!, i * 16);
  const kbuf = new Uint8Array(16);
  const rg: number[] = [];
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
  const s = LsmStore.open({ dir, memtableBytes, blockCacheBytes: cacheBytes });
  const order = shuffled(n, n);
  const putMs = time(() => {
    for (let i = 0; i < n; i++) s.put(ks[order[i]!]!, v);
    s.flush();
  });
  const st0 = s.stats();
  const userBytes = dataBytes;
  const probe = shuffled(n, QUICK ? 200_000 : 500_000);
  const runs: number[] = [];
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
  report(label, `put (random order, incl. flush+compaction)`, n, [putMs]);
  report(label, "get (random)", probe.length, runs);
  const after = s.stats();
  const spaceBefore = st0.segmentBytes;
  const compactMs = time(() => s.compact());
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

function mapBench(n: number, vlen: number): void {
  const ks = keys(n, 1);
  const probe = shuffled(n, n);
  const v = new Uint8Array(vlen).fill(7);
  const dec = new TextDecoder("latin1");
  const puts: number[] = [];
  const gets: number[] = [];
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
  let t = performance.now();
  for (let i = 0; i < n; i++) await kv.set([ks[i]!], v);
  report(`Deno KV v=${vlen}B`, "put (await each)", n, [performance.now() - t]);
  t = performance.now();
  for (let i = 0; i < n; i++) await kv.get([ks[(i * 7919) % n]!]);
  report(`Deno KV v=${vlen}B`, "get (await each)", n, [performance.now() - t]);
  kv.close();
  Deno.removeSync(dir, { recursive: true });
}

async function lmdbBench(n: number, vlen: number): Promise<void> {
  try {
    // deno-lint-ignore no-import-prefix
    const { open } = await import("npm:lmdb@3.5.6");
    const dir = tmp();
    const db = open({ path: `${dir}/db`, encoding: "binary", keyEncoding: "binary" });
    const ks = keys(n, 1);
    const v = new Uint8Array(vlen).fill(7);
    let t = performance.now();
    db.transactionSync(() => {
      for (let i = 0; i < n; i++) db.putSync(ks[i]!, v);
    });
    report(`lmdb v=${vlen}B`, "put (one sync txn)", n, [performance.now() - t]);
    const probe = shuffled(n, n);
    t = performance.now();
    for (let i = 0; i < n; i++) db.get(ks[probe[i]!]!);
    report(`lmdb v=${vlen}B`, "get (random)", n, [performance.now() - t]);
    await db.close();
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    console.log(`lmdb: not measured: ${(e as Error).message.split("\n")[0]}`);
  }
}

async function classicLevelBench(n: number, vlen: number): Promise<void> {
  try {
    // deno-lint-ignore no-import-prefix
    const { ClassicLevel } = await import("npm:classic-level@3.0.0");
    const dir = tmp();
    const db = new ClassicLevel<Uint8Array, Uint8Array>(`${dir}/db`, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    await db.open();
    const ks = keys(n, 1);
    const v = new Uint8Array(vlen).fill(7);
    let t = performance.now();
    for (let i = 0; i < n; i += 10_000) {
      const b = db.batch();
      for (let j = i; j < Math.min(n, i + 10_000); j++) b.put(ks[j]!, v);
      await b.write();
    }
    report(`classic-level v=${vlen}B`, "put (batches of 10k, awaited)", n, [
      performance.now() - t,
    ]);
    const probe = shuffled(n, n);
    const runs: number[] = [];
    for (let r = 0; r < 3; r++) {
      runs.push(time(() => {
        for (let i = 0; i < n; i++) {
          if (db.getSync(ks[probe[i]!]!) === undefined) throw new Error("missing key");
        }
      }));
    }
    report(`classic-level v=${vlen}B`, "getSync (random)", n, runs);
    t = performance.now();
    for (let i = 0; i < Math.min(n, 20_000); i++) await db.get(ks[probe[i]!]!);
    report(`classic-level v=${vlen}B`, "get (await each)", Math.min(n, 20_000), [
      performance.now() - t,
    ]);
    await db.close();
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    console.log(`classic-level: not measured: ${(e as Error).message.split("\n")[0]}`);
  }
}

const n = QUICK ? 200_000 : 1_000_000;
console.log(
  `weir statestore-as benchmark — ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, n=${n}`,
);
for (const vlen of [8, 100]) {
  lsmResident(n, vlen);
  mapBench(n, vlen);
}
for (const vlen of [8, 100]) lsmLarge(n, vlen);
if (FULL) {
  lsmResident(10_000_000, 8);
  lsmLarge(10_000_000, 100);
} else {
  console.log("10M-key runs are gated behind --full (they take minutes here).");
}
await kvBench(QUICK ? 5_000 : 20_000, 100);
await classicLevelBench(n, 100);
await lmdbBench(QUICK ? 200_000 : n, 100);

const head = ["store", "operation", "ops", "ops/s", "ns/op"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) =>
  `| ${r.map((c, i) => i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join(" | ")} |`;
console.log("\n" + line(head));
console.log(
  `|${widths.map((w, i) => (i >= 2 ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`,
);
for (const r of rows) console.log(line(r));
