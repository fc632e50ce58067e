/**
 * Every core: each job at parallelism 1 on the inline executor against
 * parallelism 2 on the worker executor, in the same run. Keyed counting over
 * 100k and 1M keys (heap and LSM), `examples/word_count.ts` with
 * exactly-once output and a checkpoint every second (over N / 2 words and
 * over 2N), and a stateless map → filter → sink. Each run is its own process
 * (bench/_parallel_job.ts); CPU is the process's user + system time over all
 * its threads, and utilisation is CPU seconds per wall second (2.0 = two
 * cores busy).
 * Throughput is given over the whole job and over the time once every
 * subtask runs (after the workers' start). Median of `--runs` runs (by
 * whole-job throughput). On Linux a second table splits each run's CPU by
 * thread: the main thread, the workers, V8's background threads (optimizing
 * compilers, concurrent GC: each worker warms up its own code) and the rest.
 *
 *   deno run -A bench/parallel.ts [--records N] [--runs R] [--quick]
 *     [--only keyed|word_count|stateless|plain|overhead|start]...
 *
 * Keyed counting runs with two key orders. Cyclic: record n has key n mod K,
 * so each key comes back after exactly K records, in the order its state was
 * made, and state is read almost in memory order (a parallelism-1 run and its
 * ceiling keep that order; parallelism 2 interleaves two sources' records, and
 * loses some of it). Uniform: each record's key is drawn at random, as keys
 * of a real stream arrive; every state access is a random one.
 *
 * Beside each keyed and stateless row runs its ceiling: two parallelism-1
 * processes at once, each with half the records and half the keys (what a
 * parallelism-2 subtask holds); beside word_count, two at once, each on half
 * the lines of its input. That is what two cores give weir's own
 * single-thread code on this machine, memory and caches shared as they are;
 * p2 against it is what the worker executor itself costs. A row's p1, its
 * two processes and its p2 run in turn (p1, side by side, p2, p1, ...).
 *
 * Two last rows run work without weir on one thread and on two, alternating:
 * the keyed counting's (a Map per thread), and an integer hash that touches no
 * memory. They are the machine's own gain from a second thread: the second
 * one with nothing shared, the first with memory, caches and V8's background
 * threads shared as weir's are (its CPU seconds show how much more a record
 * costs when both cores are busy).
 *
 * Three rows split parallelism 2's extra cost (`--only overhead`; not in the
 * default run): a job of 1,000 records, which is almost only the start and
 * the end (the workers' start is the fixed cost); the 100k-key heap
 * counting with two subtasks of each operator on one thread (`--executor
 * inline`): records hashed to their key group and routed to a channel, no
 * workers, no crossing (the routing's cost per record); and that counting on
 * the workers where no record crosses to the other worker (its "p1" columns:
 * each source makes only its own worker's keys) against one where every
 * record crosses (its "p2" columns): the difference is what a crossing costs,
 * all told (encoding, the ring, decoding, the garbage), per record.
 *
 * `--only start` (not in the default run) splits the start of a parallelism-2
 * job: a Web Worker that imports nothing, one that imports `node:util`
 * (Deno's Node layer, which starts in every worker), one that imports weir,
 * one that imports the job script (what the executor's Web Workers import), each ready
 * when its module has run, and how long `new Worker` holds the thread that
 * calls it; beside them a 1,000-record job's start-up (until every subtask
 * runs) at parallelism 1 and 2, and at parallelism 200 on both backends
 * (p × p channels per keyed edge and a state store per keyed subtask: what
 * their budgets, `ringMemoryBytes` and the LSM backend's `memoryBytes`, are
 * for). Two more Web Workers split weir's import: one that imports weir
 * bundled into one file (`deno bundle`: the same code, one module) and one
 * that imports as many empty modules as weir has (the loader's cost per
 * module, without the code).
 *
 * `--only` (repeatable) runs just those rows. A row's jobs run interleaved
 * (p1, side by side, p2, p1, ...), so a change of load on a shared machine
 * hits them alike.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { benchFlags, machine, rate, table, type ThreadCpu } from "./_util.ts";

const values = benchFlags({
  records: { type: "string" },
  runs: { type: "string" },
  quick: { type: "boolean" },
  full: { type: "boolean" },
  only: { type: "string", multiple: true },
});
const ROWS = ["keyed", "word_count", "stateless", "plain", "overhead", "start"];
for (const name of values.only ?? []) {
  if (!ROWS.includes(name)) {
    throw new Error(`--only ${name}: unknown row, use one of ${ROWS.join(", ")}`);
  }
}
/** Whether the row `name` runs (every row but "overhead" and "start" without `--only`). */
const selected = (name: string) =>
  values.only === undefined ? !["overhead", "start"].includes(name) : values.only.includes(name);
const quick = values.quick ?? false;
const N = Number(values.records ?? (quick ? 1_000_000 : 5_000_000));
const RUNS = Number(values.runs ?? (quick ? 1 : 3));
const JOB = new URL("./_parallel_job.ts", import.meta.url).pathname;

interface Measure {
  records: number;
  wallMs: number;
  /** Until every subtask runs (workers spawned, script imported, state opened). */
  startupMs: number;
  /** `--job worker-start`: ms `new Worker` held the creating thread. */
  spawnMs?: number;
  cpuMs: number;
  /** CPU by thread (Linux only). */
  threads?: ThreadCpu;
}

async function runJob(args: string[]): Promise<Measure> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", JOB, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
  if (out.code !== 0) {
    throw new Error(`${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(stdout[stdout.length - 1]!) as Measure;
}

/** The median run by throughput (the upper one of an even count). */
function pick(runs: Measure[]): Measure {
  const sorted = [...runs].sort((a, b) => a.records / a.wallMs - b.records / b.wallMs);
  return sorted[sorted.length >> 1]!;
}

/** `RUNS` runs of each of `variants`, in turn (a, b, c, a, b, c, ...): load changes hit all alike. */
async function runInTurn(variants: (() => Promise<Measure>)[]): Promise<Measure[][]> {
  const runs: Measure[][] = variants.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (const [k, run] of variants.entries()) runs[k]!.push(await run());
  }
  return runs;
}

/** Median runs of each of `variants`, run in turn. */
async function measureEach(variants: (() => Promise<Measure>)[]): Promise<Measure[]> {
  return (await runInTurn(variants)).map(pick);
}

/** Median runs of `a` and of `b`, run alternately. */
async function measurePair(a: string[], b: string[]): Promise<[Measure, Measure]> {
  const [ma, mb] = await measureEach([() => runJob(a), () => runJob(b)]);
  return [ma!, mb!];
}

/**
 * Two processes at once, as one measure: their records and CPU summed, the wall time of the
 * slower one.
 */
async function runSideBySide(
  first: () => Promise<Measure>,
  second: () => Promise<Measure>,
): Promise<Measure> {
  const [a, b] = await Promise.all([first(), second()]);
  const threads = a!.threads && b!.threads
    ? {
      main: a!.threads.main + b!.threads.main,
      workers: a!.threads.workers + b!.threads.workers,
      v8: a!.threads.v8 + b!.threads.v8,
    }
    : undefined;
  return {
    records: a!.records + b!.records,
    wallMs: Math.max(a!.wallMs, b!.wallMs),
    startupMs: Math.max(a!.startupMs, b!.startupMs),
    cpuMs: a!.cpuMs + b!.cpuMs,
    ...(threads ? { threads } : {}),
  };
}

const P1 = ["--parallelism", "1", "--executor", "inline"];
const P2 = ["--parallelism", "2", "--executor", "workers"];
const P2_INLINE = ["--parallelism", "2", "--executor", "inline"];

/** Records per second over the whole job, and once every subtask runs. */
function rates(m: Measure): { total: number; running: number } {
  return {
    total: m.records / (m.wallMs / 1000),
    running: m.records / ((m.wallMs - m.startupMs) / 1000),
  };
}

function cells(m: Measure): string[] {
  const r = rates(m);
  return [
    `${rate(r.total)}/s`,
    `${rate(r.running)}/s`,
    (m.cpuMs / 1000).toFixed(2),
    (m.cpuMs / m.wallMs).toFixed(2),
  ];
}

/**
 * A text file `dir/input.txt` of `words` words (10k distinct), for word_count, and its two
 * halves (`half-0.txt`: its first half of the lines, `half-1.txt`: the rest); the words of
 * each half.
 */
function wordInputs(dir: string, words: number): [number, number] {
  let seed = 42;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const lines: string[] = [];
  const wordsIn: number[] = [];
  for (let n = 0; n < words;) {
    const k = Math.min(words - n, 1 + Math.floor(next() * 12));
    const line: string[] = [];
    for (let j = 0; j < k; j++) line.push(`w${Math.floor(10_000 * next() ** 2)}`);
    lines.push(line.join(" "));
    wordsIn.push(k);
    n += k;
  }
  const text = (from: number, to?: number) => lines.slice(from, to).join("\n") + "\n";
  const cut = lines.length >> 1;
  Deno.writeTextFileSync(`${dir}/input.txt`, text(0));
  Deno.writeTextFileSync(`${dir}/half-0.txt`, text(0, cut));
  Deno.writeTextFileSync(`${dir}/half-1.txt`, text(cut));
  const words0 = wordsIn.slice(0, cut).reduce((a, b) => a + b, 0);
  return [words0, words - words0];
}

/** CPU seconds of the main thread, the workers, V8's background threads and the rest. */
function threadCells(m: Measure): string[] {
  const t = m.threads;
  if (!t) return ["", "", "", ""];
  const s = (ms: number) => (ms / 1000).toFixed(2);
  return [s(t.main), s(t.workers), s(t.v8), s(m.cpuMs - t.main - t.workers - t.v8)];
}

const rows: (string | number)[][] = [];
const threadRows: (string | number)[][] = [];
function row(name: string, p1: Measure, p2: Measure): void {
  const a = rates(p1), b = rates(p2);
  threadRows.push([name, ...threadCells(p1), ...threadCells(p2)]);
  rows.push([
    name,
    ...cells(p1),
    ...cells(p2),
    `${(b.total / a.total).toFixed(2)}×`,
    `${(b.running / a.running).toFixed(2)}×`,
  ]);
}

/**
 * A row's p1 and p2 runs, and beside them two p1 processes at once, each with half the records
 * (and half the keys): what two cores give weir's single-thread code on this machine, the
 * ceiling for p2. Runs in turn: p1, side by side, p2.
 */
async function rowWithCeiling(name: string, args: (records: number, p: string[]) => string[]) {
  const [p1, two, p2] = await measureEach([
    () => runJob(args(N, P1)),
    () => runSideBySide(() => runJob(args(N / 2, P1)), () => runJob(args(N / 2, P1))),
    () => runJob(args(N, P2)),
  ]);
  rowAndCeiling(name, p1!, two!, p2!);
}

/** The rows of `p1` against `p2`, and of both against `two` (two p1 processes at once). */
function rowAndCeiling(name: string, p1: Measure, two: Measure, p2: Measure): void {
  row(name, p1, p2);
  const r1 = rates(p1).total, r2 = rates(two).total, rp = rates(p2);
  ceilingRows.push([
    name,
    `${rate(r1)}/s`,
    `${rate(r2)}/s`,
    `${(r2 / r1).toFixed(2)}×`,
    `${rate(rp.total)}/s`,
    `${(rp.total / r1).toFixed(2)}×`,
    `${(rp.total / r2).toFixed(2)}×`,
    `${(rp.running / r2).toFixed(2)}×`,
  ]);
}
const ceilingRows: (string | number)[][] = [];

// Keys in two orders: cyclic (record n has key n mod K, so every key comes back after exactly K
// records, in the order the state first saw them) and uniform (each record's key drawn at random).
for (const order of selected("keyed") ? ["cyclic", "uniform"] : []) {
  for (const keys of [100_000, 1_000_000]) {
    for (const backend of ["heap", "lsm"]) {
      await rowWithCeiling(
        `keyed count, ${keys >= 1e6 ? `${keys / 1e6}M` : `${keys / 1000}k`} ${order} keys, ` +
          backend,
        (records, p) => [
          ...["--job", "keyed", "--records", String(records), "--key-order", order],
          ...["--keys", String(keys * records / N), "--state-backend", backend, ...p],
        ],
      );
    }
  }
}

// word_count over N / 2 words, and over 2N: a longer job spreads the workers' start and each
// worker's own warm-up (its JIT compiles the same code again) over more words. Its ceiling: two
// p1 processes at once, each on half the lines.
for (const words of selected("word_count") ? [Math.max(1000, Math.floor(N / 2)), 2 * N] : []) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-bench-parallel-" });
  try {
    const halves = wordInputs(dir, words);
    let runs = 0;
    const wordCount = async (input: string, p: string[], records: number) => {
      const tag = String(runs++);
      try {
        const m = await runJob([
          ...["--job", "word_count", "--input", `${dir}/${input}`, "--output", `${dir}/out-${tag}`],
          ...["--checkpoint-dir", `${dir}/ck-${tag}`, "--checkpoint-interval", "1000"],
          ...["--mode", "exactly-once", ...p],
        ]);
        return { ...m, records };
      } finally {
        Deno.removeSync(`${dir}/out-${tag}`, { recursive: true });
        Deno.removeSync(`${dir}/ck-${tag}`, { recursive: true });
      }
    };
    const [p1, two, p2] = await measureEach([
      () => wordCount("input.txt", P1, words),
      () =>
        runSideBySide(
          () => wordCount("half-0.txt", P1, halves[0]),
          () => wordCount("half-1.txt", P1, halves[1]),
        ),
      () => wordCount("input.txt", P2, words),
    ]);
    rowAndCeiling(`word_count, exactly-once, checkpoint 1 s (${words} words)`, p1!, two!, p2!);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

// A record costs little here: twenty times as many as the keyed rows, so the
// workers' start stays a small part of the run, as it is in the keyed rows.
if (selected("stateless")) {
  await rowWithCeiling(
    `map → filter → sink (${20 * N} records)`,
    (records, p) => ["--job", "stateless", "--records", String(20 * records), ...p],
  );
}

// The same work without weir, on one thread and on two: what a second thread gives on this
// machine, an upper bound for weir; then work that only computes (no allocation, no memory):
// what a second thread gives when nothing is shared at all. Runs alternate (1, 2, 1, 2, ...):
// load on a shared machine changes within a minute.
if (selected("plain")) {
  const args = ["--job", "plain", "--records", String(N), "--keys", "100000"];
  row(
    "plain JS keyed count, no weir, 100k keys (1 vs 2 threads)",
    ...await measurePair([...args, "--threads", "1"], [...args, "--threads", "2"]),
  );
  const arithmetic = [...args, "--arithmetic"];
  row(
    `plain JS integer hash, no weir, no memory, ${100 * N} steps (1 vs 2 threads)`,
    ...await measurePair([...arithmetic, "--threads", "1"], [...arithmetic, "--threads", "2"]),
  );
}

// Parallelism 2's extra cost, split: the fixed part (a job that is almost only its start and
// end), the routing of every record without workers (two subtasks on one thread), and a
// record's crossing between workers (none crossing against all crossing).
if (selected("overhead")) {
  const tinyOn = (
    backend: string,
  ) => ["--job", "keyed", "--records", "1000", "--keys", "1000", "--state-backend", backend];
  const tiny = tinyOn("heap");
  row(
    "start and end only: keyed count, 1,000 records, heap",
    ...await measurePair([...tiny, ...P1], [...tiny, ...P2]),
  );
  const keyed = ["--job", "keyed", "--records", String(N), "--keys", "100000"];
  const heap = ["--state-backend", "heap"];
  row(
    "keyed count, 100k keys, heap; p2 on one thread (inline: routing, no workers)",
    ...await measurePair([...keyed, ...heap, ...P1], [...keyed, ...heap, ...P2_INLINE]),
  );
  row(
    "keyed count, 100k keys, heap, p2: no record crosses workers (p1 columns) vs every one does (p2 columns)",
    ...await measurePair(
      [...keyed, ...heap, ...P2, "--key-order", "local"],
      [...keyed, ...heap, ...P2, "--key-order", "cross"],
    ),
  );
}

const kb = (bytes: number) => `${Math.round(bytes / 1024)} KB`;

/**
 * In `dir`: weir bundled into one module by `deno bundle` (npm packages left out, dynamic imports
 * as chunks of their own) and its size; and as many empty modules as weir's `mod.ts` imports
 * statically (a chain: each imports the next), with the count and the bytes of weir's own.
 */
function weirAsOneFileAndAsEmptyModules(dir: string) {
  const mod = new URL("../mod.ts", import.meta.url);
  const deno = (args: string[]) => {
    const out = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
      .outputSync();
    if (!out.success) throw new Error(`deno ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    return new TextDecoder().decode(out.stdout);
  };
  deno(["bundle", "--platform", "deno", "--packages", "external", "--code-splitting"]
    .concat(["--outdir", `${dir}/bundle`, mod.pathname]));
  const bundle = `${dir}/bundle/mod.js`;
  type Info = {
    roots: string[];
    modules: {
      specifier: string;
      size?: number;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const info = JSON.parse(deno(["info", "--json", mod.pathname])) as Info;
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...info.roots];
  for (let s = todo.pop(); s !== undefined; s = todo.pop()) {
    if (seen.has(s) || !s.startsWith("file:")) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) todo.push(d.code.specifier);
    }
  }
  const count = seen.size;
  const bytes = [...seen].reduce((sum, s) => sum + (bySpecifier.get(s)?.size ?? 0), 0);
  for (let i = 0; i < count; i++) {
    const next = i + 1 < count ? `import "./m${i + 1}.js";\n` : "";
    Deno.writeTextFileSync(`${dir}/m${i}.js`, `${next}export const m${i} = ${i};\n`);
  }
  return {
    bundle: pathToFileURL(bundle).href,
    bundleBytes: Deno.statSync(bundle).size,
    modules: { url: pathToFileURL(`${dir}/m0.js`).href, count, bytes },
  };
}

// Where a parallelism-2 job's start goes: a Web Worker's own start, importing weir and the job
// script in it, and the job's start-up (until every subtask runs) on top. Each in its own process,
// in turn; medians by time.
const startRows: string[][] = [];
if (selected("start")) {
  const tinyOn = (
    backend: string,
  ) => ["--job", "keyed", "--records", "1000", "--keys", "1000", "--state-backend", backend];
  const tiny = tinyOn("heap");
  const dir = Deno.makeTempDirSync({ prefix: "weir-bench-start-" });
  const { bundle, bundleBytes, modules } = weirAsOneFileAndAsEmptyModules(dir);
  const variants = [
    ...["none", "node", "weir", "job", bundle, modules.url].map((i) => () =>
      runJob(["--job", "worker-start", "--imports", i])
    ),
    () => runJob([...tiny, ...P1]),
    () => runJob([...tiny, ...P2]),
    ...["heap", "lsm"].map((backend) => () =>
      runJob([...tinyOn(backend), "--parallelism", "200", "--executor", "workers"])
    ),
  ];
  const runs = await runInTurn(variants);
  Deno.removeSync(dir, { recursive: true });
  const median = (ms: Measure[], f: (m: Measure) => number) =>
    ms.map(f).sort((a, b) => a - b)[ms.length >> 1]!.toFixed(1);
  const names = [
    "a Web Worker that imports nothing",
    "a Web Worker that imports node:util (Deno's Node layer)",
    `a Web Worker that imports weir (mod.ts: ${modules.count} modules, ${kb(modules.bytes)})`,
    "a Web Worker that imports the job script (bench/_parallel_job.ts, as the executor's do)",
    `a Web Worker that imports weir bundled into one file (deno bundle: ${kb(bundleBytes)})`,
    `a Web Worker that imports ${modules.count} empty modules`,
    "keyed count, 1,000 records: parallelism 1 (inline), start-up",
    "keyed count, 1,000 records: parallelism 2 (workers), start-up",
    "keyed count, 1,000 records: parallelism 200 (workers), heap, start-up",
    "keyed count, 1,000 records: parallelism 200 (workers), lsm, start-up",
  ];
  for (const [k, name] of names.entries()) {
    const spawn = runs[k]![0]!.spawnMs !== undefined ? median(runs[k]!, (m) => m.spawnMs!) : "";
    startRows.push([name, spawn, median(runs[k]!, (m) => m.startupMs)]);
  }
}

console.log(`## Every core: parallelism 1 (inline) vs 2 (workers), ${N} records\n`);
console.log(machine());
console.log();
if (rows.length > 0) {
  console.log(table([
    "job",
    "p1 rec/s",
    "p1 rec/s running",
    "p1 CPU s",
    "p1 cores",
    "p2 rec/s",
    "p2 rec/s running",
    "p2 CPU s",
    "p2 cores",
    "p2 / p1",
    "p2 / p1 running",
  ], rows));
  console.log(
    "\nrunning: records over the time after every subtask runs (the worker executor first starts " +
      "its Web Workers, which import the script again; the main thread runs worker 0's share). " +
      "CPU s: user + system of every thread; cores: CPU s per wall second.",
  );
}
if (ceilingRows.length > 0) {
  console.log(
    "\nThe ceiling: two parallelism-1 processes at once, each with half the records and " +
      "half the keys (word_count: half the lines), timed inside each process as the p1 and " +
      "p2 runs are (a process's own " +
      "start is not timed; p2's workers' start is, except in p2 running). The same runs' p1 " +
      "and p2 beside them:\n",
  );
  console.log(table([
    "job",
    "p1 rec/s",
    "2 × p1 side by side rec/s",
    "side by side / p1",
    "p2 rec/s",
    "p2 / p1",
    "p2 / side by side",
    "p2 running / side by side",
  ], ceilingRows));
}
if (threadRows.some((r) => r[1] !== "")) {
  console.log("\nCPU seconds by thread (the same runs):\n");
  console.log(table([
    "job",
    "p1 main",
    "p1 workers",
    "p1 V8 background",
    "p1 rest",
    "p2 main",
    "p2 workers",
    "p2 V8 background",
    "p2 rest",
  ], threadRows));
  console.log(
    "\nmain: the coordinator, and the subtasks inline or of worker 0 (the worker executor's " +
      "share on the main thread); workers: the Web Workers and the state backends' helper " +
      "threads; V8 background: optimizing compilers and " +
      "concurrent GC; rest: Deno's I/O threads and threads' last moments before they ended.",
  );
}
if (startRows.length > 0) {
  console.log(`\nA start, ms (medians of ${RUNS} runs, each its own process):\n`);
  console.log(
    table(["what", "new Worker returns", "ready (a job: every subtask runs)"], startRows),
  );
}
