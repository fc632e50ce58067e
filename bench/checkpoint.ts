/**
 * Checkpointing benchmarks (issue 4), on the LSM and the heap backends:
 *
 * 1. Throughput of keyed counting and of `examples/word_count.ts` with a
 *    checkpoint every 1 s vs without checkpointing, and the % cost.
 * 2. Per state size (10 MB, 100 MB; 1 GB with `--full`): the full checkpoint
 *    after building the state, then incremental checkpoints after changing
 *    0.1%, 1% and 10% of the keys: sync pause (manifest `tasks[].syncMs`),
 *    duration, `stateSize` and `checkpointedSize`.
 * 3. Restore time per state size: from starting a job that restores the last
 *    checkpoint until its keyed operator has read a restored value.
 *
 * 4. Checkpoint storages side by side (file, PostgreSQL, Redis; private servers
 *    started here): checkpoint duration and segment bytes for 1M keys with 1%,
 *    10% and 100% of the keys changed, restore time for 1M and 10M keys, and
 *    keyed counting throughput with a checkpoint every 1 s vs none, with every
 *    key changing between checkpoints and with 1% of them.
 *
 * 5. Timers (`--only timers`, run by nothing else): a keyed operator's timer
 *    service with 1M and 2M event-time timers (one per key; 50k with
 *    `--quick`) registered after a first checkpoint: their registration, the
 *    next checkpoint's sync part (the `snapshot` call) and async part (until
 *    its segment is written), and the restore (the keyed backend reading the
 *    segments, then the timer service loading the timers).
 *
 * deno run -A bench/checkpoint.ts [--quick] [--full] [--runs R] [--backend lsm|heap]
 *   [--only throughput|sizes|storages|timers] [--storages file,postgres,redis] [--seconds S]
 *
 * `--seconds S`: how long each keyed-counting run reads input (20 s; 3 s with `--quick`).
 *
 * @module
 */
import process from "node:process";
import {
  type JobClient,
  type KeyedProcessFunction,
  type Manifest,
  type RuntimeContext,
  Serializers,
  type Source,
  type StateBackend,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";
import { HeapStateBackend } from "../core/state/heap/mod.ts";
import { LsmStateBackend } from "../core/state/lsm/mod.ts";
import { main as wordCount } from "../examples/word_count.ts";
import { InternalTimerService } from "../core/runtime/timers.ts";
import type { KeyedRestore, KeyedStateBackend } from "../core/state/backend.ts";
import { DenoSegmentFs } from "../statestore-as/segment_fs.ts";
import { benchFlags, Count, machine, median, rate, table } from "./_util.ts";

const values = benchFlags({
  quick: { type: "boolean" },
  full: { type: "boolean" },
  runs: { type: "string" },
  seconds: { type: "string" },
  backend: { type: "string" },
  only: { type: "string" },
  storages: { type: "string" },
});
const quick = values.quick ?? false;
const full = values.full ?? false;
const RUNS = Number(values.runs ?? 3);
/** Pairs per storage counting row: one with `--quick`, unless `--runs` says otherwise. */
const STORAGE_RUNS = values.runs !== undefined ? RUNS : quick ? 1 : RUNS;
const MB = 1_000_000;

const BACKENDS = ([
  ["lsm", () => new LsmStateBackend()],
  ["heap", () => new HeapStateBackend()],
] as [string, () => StateBackend][]).filter(([name]) => (values.backend ?? name) === name);

const tmpRoot = await Deno.makeTempDir({ prefix: "weir-bench-checkpoint-" });
const noLog = () => {};

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}
function ms(x: number): string {
  return x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`;
}
function mark(ok: boolean): string {
  return ok ? "pass" : "**FAIL**";
}

// ---------------------------------------------------------------------------
// 1. Throughput with and without checkpoints

// Long enough that the first checkpoint (full) and the last (at the end of
// input) weigh in a run about as little as in a job that runs for hours.
const COUNT_SECONDS = Number(values.seconds ?? (quick ? 3 : 20));
if (!(COUNT_SECONDS > 0)) throw new Error(`--seconds must be > 0, got ${values.seconds}`);
/** Keyed counting runs over each of these key counts. */
const COUNT_KEYS = [100_000, 1_000_000];
const countWords = Array.from({ length: Math.max(...COUNT_KEYS) }, (_, i) => `user-${i}`);
/** Keys the running keyed-counting source cycles over. */
let countKeys = COUNT_KEYS[0]!;
/**
 * After one pass over all `countKeys` keys, the source cycles over only this
 * many of them: the share of the state a checkpoint a second apart finds
 * changed (its churn), once the first checkpoint has the whole state.
 */
let countHotKeys = countKeys;
/** When the running keyed-counting source stops (performance.now() ms). */
let countDeadline = 0;
/** Records the last keyed-counting source emitted, and when it ended. */
let countEmitted = 0;
let countEndedAt = 0;
/** CPU milliseconds used so far. */
interface Cpu {
  /** By the calling thread (the job's, at parallelism 1). */
  readonly thread: number;
  /** By every thread of the process (worker threads too). */
  readonly process: number;
}

/**
 * CPU time so far (NaN where /proc is not readable): unlike records/s on a
 * shared machine, it does not depend on what else runs.
 */
function cpuNow(): Cpu {
  try {
    // Nanoseconds on the CPU.
    const thread = Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]) / 1e6;
    const { user, system } = process.cpuUsage();
    return { thread, process: (user + system) / 1000 };
  } catch {
    return { thread: NaN, process: NaN };
  }
}

/**
 * Words cycling over `countKeys` keys until `countDeadline`: runs are
 * time-boxed, so a slow configuration cannot stall the benchmark.
 */
const countSource: Source<string> = {
  name: "words",
  maxParallelism: 1,
  createReader() {
    let i = 0;
    return {
      poll(out, max) {
        if (performance.now() >= countDeadline) {
          countEmitted = i;
          countEndedAt = performance.now();
          return "end";
        }
        for (let n = 0; n < max; n++, i++) {
          out.collect(countWords[i < countKeys ? i : (i - countKeys) % countHotKeys]!);
        }
        return "more";
      },
      position: () => i,
      restore(p) {
        i = p as number;
      },
    };
  },
};

/**
 * Runs keyed counting; returns records/s up to the end of input (`rate`)
 * and to the job's end (`toEnd`, which adds draining and the final
 * checkpoint), the number of checkpoints taken, and the CPU time used up to
 * the job's end.
 */
async function keyedCount(
  backend: () => StateBackend,
  checkpointed: boolean,
  storage?: { url: string; server: { cpuMs(): number } | undefined },
): Promise<
  {
    rate: number;
    toEnd: number;
    tailMs: number;
    checkpoints: number;
    firstCheckpointMs: number;
    records: number;
    cpu: Cpu;
    /** CPU milliseconds of the database server up to the job's end (NaN without one). */
    serverCpu: number;
  }
> {
  const dir = `${tmpRoot}/count-${crypto.randomUUID()}`;
  const env = StreamEnvironment.create({
    parallelism: 1, // one thread, as the figures it is compared with (and many jobs per script)
    stateBackend: backend(),
    log: noLog,
    ...(checkpointed
      ? { checkpoint: { dir, intervalMs: 1000, ...(storage ? { storage: storage.url } : {}) } }
      : {}),
  });
  let n = 0;
  env.addSource(countSource).uid("words")
    .keyBy((w) => w, Serializers.string)
    .process(new Count()).uid("count")
    .addSink({ invoke: () => void n++ }, { uid: "sink" });
  if (checkpointed && storage) await env.openCheckpointStorage("keyed count");
  const server = storage?.server;
  const serverCpu = server ? server.cpuMs() : NaN;
  const t = performance.now();
  const cpu = cpuNow();
  countDeadline = t + COUNT_SECONDS * 1000;
  const client = env.executeAsync("keyed count");
  await client.done;
  // Includes the final checkpoint at end of input when checkpointing.
  const elapsed = performance.now() - t;
  const cpuAtEnd = cpuNow();
  const serverCpuAtEnd = server ? server.cpuMs() : NaN;
  if (n === 0) throw new Error("keyed counting processed no records");
  const completed = client.job.coordinator?.history.filter((h) => h.status === "completed") ?? [];
  const checkpoints = completed.length;
  const first = completed[0];
  const firstCheckpointMs = first?.endedAt === undefined ? NaN : first.endedAt - first.triggeredAt;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  if (countEmitted !== n) throw new Error(`keyed counting emitted ${countEmitted}, counted ${n}`);
  return {
    rate: n / ((countEndedAt - t) / 1000),
    toEnd: n / (elapsed / 1000),
    tailMs: t + elapsed - countEndedAt,
    checkpoints,
    firstCheckpointMs,
    records: n,
    cpu: { thread: cpuAtEnd.thread - cpu.thread, process: cpuAtEnd.process - cpu.process },
    serverCpu: serverCpuAtEnd - serverCpu,
  };
}

// word_count over a generated text file (Zipf-like over a 50k-word vocabulary).
const WC_LINES = quick ? 150_000 : 2_000_000;
const WC_WORDS_PER_LINE = 10;
const wcInput = `${tmpRoot}/words.txt`;
{
  const vocab = Array.from({ length: 50_000 }, (_, i) => `w${i.toString(36)}`);
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const lines: string[] = [];
  for (let l = 0; l < WC_LINES; l++) {
    const ws: string[] = [];
    for (let w = 0; w < WC_WORDS_PER_LINE; w++) {
      ws.push(vocab[Math.floor(vocab.length * rnd() ** 3)]!);
    }
    lines.push(ws.join(" "));
  }
  await Deno.writeTextFile(wcInput, lines.join("\n") + "\n");
}
const WC_RECORDS = WC_LINES * WC_WORDS_PER_LINE;

async function runWordCount(backend: string, checkpointed: boolean): Promise<number> {
  const id = crypto.randomUUID();
  const out = `${tmpRoot}/wc-out-${id}`;
  const chk = `${tmpRoot}/wc-chk-${id}`;
  const t = performance.now();
  // Parallelism 1, as the keyed rows: the default (one subtask per core) would run on workers,
  // which import this script again and would run the whole bench there.
  await wordCount([
    "--parallelism",
    "1",
    "--input",
    wcInput,
    "--output",
    out,
    "--state-backend",
    backend,
    ...(checkpointed ? ["--checkpoint-dir", chk, "--checkpoint-interval", "1000"] : []),
  ]);
  const elapsed = performance.now() - t;
  let parts = 0;
  for (const e of Deno.readDirSync(out)) if (e.name.startsWith("part-")) parts++;
  if (parts === 0) throw new Error(`word_count committed no part files in ${out}`);
  await Deno.remove(out, { recursive: true });
  await Deno.remove(chk, { recursive: true }).catch(() => {});
  return WC_RECORDS / (elapsed / 1000);
}

// ---------------------------------------------------------------------------
// 2 and 3. Checkpoints and restore vs state size

const VALUE_BYTES = 100;
const pool = crypto.getRandomValues(new Uint8Array(1 << 16));

/** A 100-byte value for key `k`, version `v` (not compressible; distinct per version). */
function valueOf(k: number, v: number): Uint8Array {
  const b = new Uint8Array(VALUE_BYTES);
  const off = (k * 31 + v * 7919) % (pool.length - VALUE_BYTES);
  b.set(pool.subarray(off, off + VALUE_BYTES));
  const dv = new DataView(b.buffer);
  dv.setUint32(0, k);
  dv.setUint32(4, v);
  return b;
}

interface Update {
  k: number;
  v: number;
  probe: boolean;
}

/** What the state-size source emits next, set by the bench between phases. */
const plan = {
  queue: [] as Int32Array[],
  version: 0,
  pos: 0,
  restored: false,
};
/** Records processed by the keyed operator, and when a probe read a restored value. */
const progress = { processed: 0, probeAt: 0, probeOk: false };

/** Emits queued keys, then idles; after a restore it emits one probe. */
const stateSource: Source<Update> = {
  name: "updates",
  maxParallelism: 1,
  createReader() {
    return {
      poll(out, max) {
        if (plan.restored) {
          plan.restored = false;
          out.collect({ k: 0, v: 0, probe: true });
          return "more";
        }
        const batch = plan.queue[0];
        if (!batch) return "idle";
        let n = 0;
        for (; n < max && plan.pos < batch.length; n++, plan.pos++) {
          out.collect({ k: batch[plan.pos]!, v: plan.version, probe: false });
        }
        if (plan.pos === batch.length) {
          plan.queue.shift();
          plan.pos = 0;
        }
        return "more";
      },
      position: () => 0,
      restore() {
        plan.restored = true;
      },
    };
  },
};

class Store implements KeyedProcessFunction<number, Update, never> {
  value!: ValueState<Uint8Array>;
  open(ctx: RuntimeContext): void {
    this.value = ctx.getState(new ValueStateDescriptor("value", Serializers.bytes));
  }
  processElement(u: Update): void {
    if (u.probe) {
      const v = this.value.value();
      progress.probeOk = v !== undefined && v.length === VALUE_BYTES &&
        new DataView(v.buffer, v.byteOffset).getUint32(0) === u.k;
      progress.probeAt = performance.now();
      return;
    }
    this.value.update(valueOf(u.k, u.v));
    progress.processed++;
  }
}

function stateJob(
  backend: () => StateBackend,
  dir: string,
  restore?: string,
  storage?: string,
): StreamEnvironment {
  const env = StreamEnvironment.create({
    parallelism: 1, // one thread, as the figures it is compared with (and many jobs per script)
    stateBackend: backend(),
    log: noLog,
    checkpoint: {
      dir,
      retainOnCancellation: true,
      timeoutMs: 3_600_000,
      ...(storage ? { storage } : {}),
    },
    ...(restore ? { restore } : {}),
  });
  env.addSource(stateSource).uid("updates")
    .keyBy((u) => u.k, Serializers.f64)
    .process(new Store()).uid("store");
  return env;
}

function startStateJob(backend: () => StateBackend, dir: string, restore?: string): JobClient {
  return stateJob(backend, dir, restore).executeAsync("state size");
}

/** Queues `keys`, waits until the keyed operator processed them all. */
async function apply(keys: Int32Array): Promise<void> {
  const target = progress.processed + keys.length;
  plan.version++;
  plan.queue.push(keys);
  while (progress.processed < target) await new Promise((r) => setTimeout(r, 5));
}

/** `count` distinct keys of `0..n-1`, spread over the key space. */
function churnKeys(n: number, count: number, salt: number): Int32Array {
  const out = new Int32Array(count);
  // 2654435761 is prime, so j ↦ (j·p + salt) mod n is a bijection for n < p.
  for (let j = 0; j < count; j++) {
    out[j] = Number((BigInt(j) * 2654435761n + BigInt(salt)) % BigInt(n));
  }
  return out;
}

interface CheckpointRow {
  backend: string;
  sizeLabel: string;
  kind: string;
  syncMs: number;
  durationMs: number;
  stateSize: number;
  checkpointedSize: number;
}

/** The same checkpoint over several runs of a state-size case. */
interface CheckpointRows {
  first: CheckpointRow;
  syncMs: number[];
  durationMs: number[];
}

function rowOf(backend: string, sizeLabel: string, kind: string, m: Manifest): CheckpointRow {
  return {
    backend,
    sizeLabel,
    kind,
    syncMs: Math.max(...m.stats.tasks.map((t) => t.syncMs)),
    durationMs: m.stats.durationMs,
    stateSize: m.stats.stateSize,
    checkpointedSize: m.stats.checkpointedSize,
  };
}

interface RestoreRow {
  backend: string;
  sizeLabel: string;
  stateSize: number;
  restoreMs: number[];
}

async function stateSizeCase(
  backendName: string,
  backend: () => StateBackend,
  sizeLabel: string,
  bytes: number,
  restoreRuns: number,
): Promise<{ rows: CheckpointRow[]; restore: RestoreRow }> {
  const dir = `${tmpRoot}/state-${backendName}-${sizeLabel.replace(/ /g, "")}`;
  // ~100 B value + 8 B key + per-entry overhead in a segment: aim at `bytes` of state.
  const keys = Math.round(bytes / (VALUE_BYTES + 20));
  plan.queue = [];
  plan.pos = 0;
  plan.restored = false;
  plan.version = 0;
  const client = startStateJob(backend, dir);
  const rows: CheckpointRow[] = [];
  const all = new Int32Array(keys);
  for (let i = 0; i < keys; i++) all[i] = i;
  const tBuild = performance.now();
  await apply(all);
  const buildS = (performance.now() - tBuild) / 1000;
  console.error(
    `  ${backendName} ${sizeLabel}: built ${keys.toLocaleString("en")} keys in ${
      buildS.toFixed(1)
    } s`,
  );
  let last = await client.triggerCheckpoint();
  rows.push(rowOf(backendName, sizeLabel, "full (after build)", last.manifest));
  for (const [label, frac] of [["0.1%", 0.001], ["1%", 0.01], ["10%", 0.1]] as const) {
    await apply(churnKeys(keys, Math.max(1, Math.round(keys * frac)), rows.length * 7777));
    last = await client.triggerCheckpoint();
    rows.push(
      rowOf(backendName, sizeLabel, `incremental, ${label} of keys changed`, last.manifest),
    );
  }
  client.cancel();
  await client.done.catch(() => {});
  const restoreMs: number[] = [];
  for (let r = 0; r < restoreRuns; r++) {
    progress.probeAt = 0;
    progress.probeOk = false;
    const t = performance.now();
    const c = startStateJob(backend, dir, last.path);
    while (progress.probeAt === 0) await new Promise((res) => setTimeout(res, 1));
    restoreMs.push(progress.probeAt - t);
    if (!progress.probeOk) throw new Error(`restored ${backendName} state misses key 0`);
    c.cancel();
    await c.done.catch(() => {});
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return {
    rows,
    restore: { backend: backendName, sizeLabel, stateSize: rows[0]!.stateSize, restoreMs },
  };
}

// ---------------------------------------------------------------------------

console.log(`# bench/checkpoint.ts${quick ? " --quick" : ""}${full ? " --full" : ""}`);
console.log(machine());
const load = await Deno.readTextFile("/proc/loadavg").catch(() => "?");
console.log(`load average at start: ${load.split(" ").slice(0, 3).join(" ")}`);
console.log();

const only = values.only;
if (
  only !== undefined && only !== "throughput" && only !== "sizes" && only !== "storages" &&
  only !== "timers"
) {
  throw new Error(`--only takes "throughput", "sizes", "storages" or "timers", got "${only}"`);
}
if (only === "timers") {
  await timersSection();
  await Deno.remove(tmpRoot, { recursive: true });
  Deno.exit(0);
}
if (only === "storages") {
  await storagesSection();
  await Deno.remove(tmpRoot, { recursive: true });
  Deno.exit(0);
}
if (only !== "sizes") {
  console.log(
    `## Throughput: checkpoint every 1 s vs none (medians of ${RUNS} runs after a warm-up; each run with checkpoints right after one without; cost = the median of the ${RUNS} pairs' costs)`,
  );
  console.log(
    `keyed counting: ${COUNT_SECONDS} s of input cycling over ${
      COUNT_KEYS.map((k) => k.toLocaleString("en")).join(" or ")
    } keys, so every key changes between two checkpoints, parallelism 1: rate = records / time to the end of input; "to job end" adds draining and the final checkpoint (a one-off per job; its median time from the end of input to the job's end is in the note). word_count: examples/word_count.ts main() (rate = records / time to job end), ${
      WC_RECORDS.toLocaleString("en")
    } words (${WC_LINES.toLocaleString("en")} lines, 50k-word vocabulary) into the exactly-once ` +
      `file sink. Target: checkpointing costs < 10% of throughput.`,
  );
  const tputRows: (string | number)[][] = [];
  /** Records/s while input flows, and to the job's end. */
  type Rates = { rate: number; toEnd: number; tailMs?: number };
  /** The median of the costs of runs paired back to back (`on` right after `off`). */
  const pairedCost = (off: number[], on: number[]) =>
    median(off.map((x, i) => (1 - on[i]! / x) * 100));
  for (const [name, backend] of BACKENDS) {
    const cases: [string, (c: boolean) => Promise<Rates>][] = [
      ...COUNT_KEYS.map((keys): [string, (c: boolean) => Promise<Rates>] => [
        `keyed counting, ${keys.toLocaleString("en")} keys`,
        async (c) => {
          countKeys = countHotKeys = keys;
          const r = await keyedCount(backend, c);
          if (c) chkCounts.push(r.checkpoints);
          return r;
        },
      ]),
      ["word_count", async (c) => {
        const r = await runWordCount(name, c);
        return { rate: r, toEnd: r };
      }],
    ];
    const chkCounts: number[] = [];
    for (const [pipeline, run] of cases) {
      chkCounts.length = 0;
      await run(false); // warm-up
      const off: Rates[] = [], on: Rates[] = [];
      // Interleaved, so load from other processes hits both alike. The cost
      // is the median of the pairs' costs: this VM's speed drifts by ±20%
      // over tens of seconds, which a ratio of two medians mixes in.
      for (let r = 0; r < RUNS; r++) {
        off.push(await run(false));
        on.push(await run(true));
      }
      const cost = pairedCost(off.map((r) => r.rate), on.map((r) => r.rate));
      const endCost = pairedCost(off.map((r) => r.toEnd), on.map((r) => r.toEnd));
      console.error(
        `  ${pipeline}, ${name}: off ${off.map((r) => rate(r.rate))}; on ${
          on.map((r) => rate(r.rate))
        }; to job end: off ${off.map((r) => rate(r.toEnd))}; on ${on.map((r) => rate(r.toEnd))}`,
      );
      const streaming = pipeline !== "word_count";
      tputRows.push([
        pipeline,
        name,
        `${rate(median(off.map((r) => r.rate)))}/s`,
        `${rate(median(on.map((r) => r.rate)))}/s`,
        `${cost.toFixed(1)}%`,
        mark(cost < 10),
        streaming ? `${rate(median(off.map((r) => r.toEnd)))}/s` : "",
        streaming ? `${rate(median(on.map((r) => r.toEnd)))}/s` : "",
        streaming ? `${endCost.toFixed(1)}%` : "",
        streaming
          ? `${chkCounts.join(", ")} checkpoints per run; end of input to job end: ${
            ms(median(off.map((r) => r.tailMs!)))
          } / ${ms(median(on.map((r) => r.tailMs!)))}`
          : "",
      ]);
    }
  }
  console.log(table(
    [
      "pipeline",
      "backend",
      "no checkpoints",
      "checkpoint every 1 s",
      "cost",
      "< 10%?",
      "to job end: none",
      "every 1 s",
      "cost",
      "note",
    ],
    tputRows,
  ));
  console.log();
}
if (only === "throughput") {
  await Deno.remove(tmpRoot, { recursive: true });
  Deno.exit(0);
}

const SIZES: [string, number][] = [["10 MB", 10 * MB], ["100 MB", 100 * MB]];
if (full) SIZES.push(["1 GB", 1000 * MB]);
const restoreRuns = quick ? 1 : 3;
/**
 * Each state-size case runs this often (restores only in the first): a
 * single checkpoint's sync pause sometimes holds a V8 garbage collection
 * pause of several ms that would have come at another moment anyway.
 */
const sizeRuns = quick ? 1 : 3;
console.log(
  `## Checkpoints vs state size: sizes run: ${SIZES.map((s) => s[0]).join(", ")}` +
    (full ? "" : " (1 GB needs --full)"),
);
console.log(
  `ValueState<Uint8Array> of ${VALUE_BYTES} B values over N f64 keys, parallelism 1; ` +
    `checkpoints triggered by client.triggerCheckpoint() with the job idle. sync = the ` +
    `manifest's tasks[].syncMs (max over tasks), duration = stats.durationMs (trigger to ` +
    `manifest written). Each case runs ${sizeRuns} time(s) (a new job each time); sync and ` +
    `duration are medians, with each run's sync pause listed. Target: sync pause < 5 ms at any ` +
    `state size on the LSM backend.`,
);
const chkRows: CheckpointRows[] = [];
const restoreRows: RestoreRow[] = [];
for (const [label, bytes] of SIZES) {
  for (const [name, backend] of BACKENDS) {
    if (name === "heap" && bytes >= 1000 * MB) {
      // Its checkpoints and restores copy the whole state (see the 100 MB rows): minutes here.
      console.error(`  heap ${label}: not run`);
      continue;
    }
    const runs = bytes >= 1000 * MB ? 1 : restoreRuns;
    const r = await stateSizeCase(name, backend, label, bytes, runs);
    const more: CheckpointRow[][] = [];
    for (let i = 1; i < sizeRuns; i++) {
      more.push((await stateSizeCase(name, backend, label, bytes, 0)).rows);
    }
    chkRows.push(...r.rows.map((first, i) => {
      const all = [first, ...more.map((rows) => rows[i]!)];
      return { first, syncMs: all.map((x) => x.syncMs), durationMs: all.map((x) => x.durationMs) };
    }));
    restoreRows.push(r.restore);
  }
}
console.log(table(
  [
    "backend",
    "target size",
    "checkpoint",
    "sync pause",
    "each run",
    "< 5 ms?",
    "duration",
    "stateSize",
    "checkpointedSize",
  ],
  chkRows.map(({ first: r, syncMs, durationMs }) => [
    r.backend,
    r.sizeLabel,
    r.kind,
    ms(median(syncMs)),
    syncMs.map((x) => x.toFixed(1)).join(", ") + " ms",
    r.backend === "lsm" ? mark(median(syncMs) < 5) : "(target is for LSM)",
    ms(median(durationMs)),
    mb(r.stateSize),
    mb(r.checkpointedSize),
  ]),
));
console.log();
console.log(
  `## Restore time vs state size (${
    restoreRuns > 1 ? `median of ${restoreRuns}` : "1 run"
  }): from executeAsync() of a job restoring the last checkpoint above until its keyed ` +
    `operator has read a restored value (includes job start, manifest load and the backend's ` +
    `restore). Target: a 1 GB LSM state under 1 s.`,
);
console.log(table(
  ["backend", "target size", "stateSize", "restore (median)", "each run", "< 1 s?"],
  restoreRows.map((r) => [
    r.backend,
    r.sizeLabel,
    mb(r.stateSize),
    ms(median(r.restoreMs)),
    r.restoreMs.map((x) => x.toFixed(0)).join(", ") + " ms",
    r.backend === "lsm" ? mark(median(r.restoreMs) < 1000) : "(target is for LSM)",
  ]),
));
if (!full) console.log("1 GB sizes not run (pass --full).");
console.log();
if (only !== "sizes") await storagesSection();

await Deno.remove(tmpRoot, { recursive: true });

// ---------------------------------------------------------------------------
// 4. Checkpoint storages: file vs PostgreSQL vs Redis

async function storagesSection(): Promise<void> {
  const { startPostgres, startRedis } = await import("../tests/_helpers/db_servers.ts");
  const kinds = (values.storages ?? "file,postgres,redis").split(",");
  const [backendName, backend] = BACKENDS[0]!;
  const keys = quick ? 20_000 : 1_000_000;
  const restoreSizes = quick ? [20_000, 50_000] : [1_000_000, 10_000_000];
  const chkRows: string[][] = [];
  const restoreRows: string[][] = [];
  const tputRows: string[][] = [];
  for (const kind of kinds) {
    if (kind !== "file" && kind !== "postgres" && kind !== "redis") {
      throw new Error(`--storages takes file, postgres and redis, got "${kind}"`);
    }
    const server = kind === "postgres"
      ? await startPostgres()
      : kind === "redis"
      ? await startRedis()
      : undefined;
    const url = (job: string) => server ? `${server.url}?job=${job}` : undefined;
    try {
      // Checkpoint duration (wall time of triggerCheckpoint: includes the database commit).
      const dir = `${tmpRoot}/storage-${kind}`;
      resetPlan();
      const env = stateJob(backend, dir, undefined, url("churn"));
      if (server) await env.openCheckpointStorage("state size");
      const client = env.executeAsync("state size");
      const all = new Int32Array(keys);
      for (let i = 0; i < keys; i++) all[i] = i;
      await apply(all);
      const timed = async (label: string) => {
        const t = performance.now();
        const c = await client.triggerCheckpoint();
        chkRows.push([
          kind,
          backendName,
          keys.toLocaleString("en"),
          label,
          ms(performance.now() - t),
          mb(c.manifest.stats.checkpointedSize),
        ]);
      };
      await timed("full (after build)");
      for (const [label, frac] of [["1%", 0.01], ["10%", 0.1], ["100%", 1]] as const) {
        await apply(churnKeys(keys, Math.max(1, Math.round(keys * frac)), chkRows.length * 7777));
        await timed(`${label} of keys changed`);
      }
      client.cancel();
      await client.done.catch(() => {});
      // Restore time: from creating the job (database read included) to a restored value.
      for (const n of restoreSizes) {
        const rdir = `${tmpRoot}/restore-${kind}-${n}`;
        resetPlan();
        const build = stateJob(backend, rdir, undefined, url(`restore-${n}`));
        if (server) await build.openCheckpointStorage("state size");
        const b = build.executeAsync("state size");
        const ks = new Int32Array(n);
        for (let i = 0; i < n; i++) ks[i] = i;
        await apply(ks);
        const last = await b.triggerCheckpoint();
        b.cancel();
        await b.done.catch(() => {});
        progress.probeAt = 0;
        progress.probeOk = false;
        const t = performance.now();
        const renv = stateJob(
          backend,
          server ? "" : rdir,
          server ? "latest" : last.path,
          url(`restore-${n}`),
        );
        if (server) await renv.openCheckpointStorage("state size");
        const c = renv.executeAsync("state size");
        while (progress.probeAt === 0) await new Promise((res) => setTimeout(res, 1));
        if (!progress.probeOk) throw new Error(`restored ${kind} state misses key 0`);
        restoreRows.push([kind, backendName, n.toLocaleString("en"), ms(progress.probeAt - t)]);
        c.cancel();
        await c.done.catch(() => {});
        await Deno.remove(rdir, { recursive: true }).catch(() => {});
      }
      // Throughput with a checkpoint every 1 s vs none, every key changing between checkpoints
      // and 1% of them (a hot 1% after one pass over all keys).
      for (
        const [k, churn] of (quick ? COUNT_KEYS.slice(0, 1) : COUNT_KEYS).flatMap((k) => [
          [k, 1],
          [k, 0.01],
        ])
      ) {
        countKeys = k!;
        countHotKeys = Math.max(1, Math.round(k! * churn!));
        const costs: number[] = [];
        const rates: number[] = [];
        const threadCpu: number[] = [];
        const processCpu: number[] = [];
        const counts: number[] = [];
        const firsts: number[] = [];
        const serverCpu: number[] = [];
        for (let r = 0; r < STORAGE_RUNS; r++) {
          const off = await keyedCount(backend, false);
          const countUrl = url(`count-${crypto.randomUUID()}`);
          const on = await keyedCount(
            backend,
            true,
            countUrl === undefined ? undefined : { url: countUrl, server },
          );
          rates.push(on.rate);
          counts.push(on.checkpoints);
          firsts.push(on.firstCheckpointMs);
          costs.push((1 - on.rate / off.rate) * 100);
          // What the checkpoints added: the CPU time beyond what counting as many records
          // took without them, per checkpoint.
          const extra = (k: keyof Cpu) =>
            (on.cpu[k] - on.records * off.cpu[k] / off.records) / Math.max(1, on.checkpoints);
          threadCpu.push(extra("thread"));
          processCpu.push(extra("process"));
          serverCpu.push(on.serverCpu / Math.max(1, on.checkpoints));
        }
        tputRows.push([
          kind,
          backendName,
          k!.toLocaleString("en"),
          `${Math.round(churn! * 100)}%`,
          rate(median(rates)),
          `${median(costs).toFixed(1)}%`,
          mark(median(costs) < 10),
          ms(median(threadCpu)),
          ms(median(processCpu)),
          server ? ms(median(serverCpu)) : "-",
          String(median(counts)),
          ms(median(firsts)),
        ]);
      }
    } finally {
      await server?.stop();
    }
  }
  console.log(
    `## Checkpoint storages: ${backendName} backend, ${
      keys.toLocaleString("en")
    } keys of ${VALUE_BYTES}-byte values; duration = wall time of triggerCheckpoint() (for a database: until it committed); bytes = segment bytes the checkpoint added (what a database receives besides the changed rows)`,
  );
  console.log(table(["storage", "backend", "keys", "checkpoint", "duration", "bytes"], chkRows));
  console.log();
  console.log(
    "## Checkpoint storages: restore time (job creation, database read included, to the first restored value)",
  );
  console.log(table(["storage", "backend", "keys", "restore"], restoreRows));
  console.log();
  console.log(
    `## Checkpoint storages: keyed counting with a checkpoint every 1 s (medians of ${STORAGE_RUNS} pairs, each a run without checkpoints then one with; target: cost < 10% at 1% churn; churn: the share of the keys the job updates, all of them between two checkpoints; CPU per checkpoint: the CPU time of the job's thread and of the whole process (worker threads included) beyond what as many records took without checkpoints, per checkpoint, up to the job's end: unlike records/s, it does not depend on the machine's load; at 1% churn neither do the keys a checkpoint writes; server CPU per checkpoint: the database server's processes' CPU time during the run with checkpoints, per checkpoint (on this machine it shares the cores with the job; where the database runs on another machine the job's machine does not pay it); checkpoints: completed in the run with checkpoints; first checkpoint: its duration, which holds every key the job touched in its first second)`,
  );
  console.log(
    table(
      [
        "storage",
        "backend",
        "keys",
        "churn",
        "records/s",
        "cost",
        "< 10%?",
        "job-thread CPU per checkpoint",
        "process CPU per checkpoint",
        "server CPU per checkpoint",
        "checkpoints",
        "first checkpoint",
      ],
      tputRows,
    ),
  );
}

function resetPlan(): void {
  plan.queue = [];
  plan.pos = 0;
  plan.restored = false;
  plan.version = 0;
}

// ---------------------------------------------------------------------------
// 5. Timers: checkpoint and restore of a timer service's queues

async function timersSection(): Promise<void> {
  const counts = quick ? [50_000] : [1_000_000, 2_000_000];
  console.log(
    `## Timers: a checkpoint and a restore of N event-time timers (one per string key, ` +
      `10,000 distinct timestamps) registered since the job's previous checkpoint, medians of ` +
      `${RUNS} runs; register = registering them, a timer; sync = the snapshot call (the ` +
      `task's pause), async = from its return until the segment is written, restore = keyed ` +
      `backend restore + timer service load`,
  );
  const fs = new DenoSegmentFs();
  const rows: (string | number)[][] = [];
  for (const [backendName, make] of BACKENDS) {
    for (const n of counts) {
      const register: number[] = [], sync: number[] = [], async: number[] = [];
      const restore: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const dir = await Deno.makeTempDir({ dir: tmpRoot });
        let seg = 0;
        const storage = { fs, dir, newSegmentName: () => `t-${++seg}.seg` };
        const a = timerBackend(make);
        const s = timerService(a);
        await a.snapshot(1, storage); // a running job has taken checkpoints before
        let t0 = performance.now();
        for (let i = 0; i < n; i++) {
          a.setCurrentKey(`key-${i}`);
          s.registerEventTimeTimer(undefined, 1000 + (i % 10_000) * 10);
        }
        register.push((performance.now() - t0) * 1000 / n);
        t0 = performance.now();
        const pending = a.snapshot(2, storage);
        const t1 = performance.now();
        const handle = await pending;
        sync.push(t1 - t0);
        async.push(performance.now() - t1);
        a.dispose();
        t0 = performance.now();
        const b = timerBackend(make, {
          handles: [handle],
          fs,
          segmentPath: (name: string) => `${dir}/${name}`,
        });
        const restored = timerService(b);
        restore.push(performance.now() - t0);
        if (restored.size("event-time") !== n) {
          throw new Error(`restored ${restored.size("event-time")} timers of ${n}`);
        }
        b.dispose();
        await Deno.remove(dir, { recursive: true });
      }
      rows.push([
        backendName,
        n.toLocaleString("en"),
        `${median(register).toFixed(2)} µs`,
        ms(median(sync)),
        ms(median(async)),
        ms(median(restore)),
        `${(median(restore) * 1000 / n).toFixed(2)} µs`,
      ]);
    }
  }
  fs.close();
  console.log(table(
    ["backend", "timers", "register", "sync", "async", "restore", "restore per timer"],
    rows,
  ));
  console.log();
}

function timerBackend(
  make: () => StateBackend,
  restore?: KeyedRestore,
): KeyedStateBackend {
  return make().createKeyedBackend({
    operatorUid: "timers",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
    ...(restore ? { restore } : {}),
  });
}

function timerService(backend: KeyedStateBackend): InternalTimerService {
  return new InternalTimerService(
    {
      now: () => 0,
      scheduleProcessingTime: () => () => {},
      setCurrentKey: (k) => backend.setCurrentKey(k),
      currentKey: () => backend.currentKey(),
      backend,
      maxParallelism: 128,
    },
    { onTimer: () => {} },
    Serializers.key,
  );
}
