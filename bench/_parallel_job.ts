/**
 * One job of bench/parallel.ts, run as its own process (the worker
 * executor's workers import this script again, so one job per process):
 *
 *   deno run -A bench/_parallel_job.ts --job keyed|stateless --records N [--keys K] [common flags]
 *   deno run -A bench/_parallel_job.ts --job word_count [word_count's flags]
 *   deno run -A bench/_parallel_job.ts --job plain --records N --keys K --threads T [--arithmetic]
 *   deno run -A bench/_parallel_job.ts --job worker-start --imports none|node|weir|job|URL
 *
 * `keyed` takes `--key-order cyclic` (record n has key n mod K, the default) or `uniform` (each
 * record's key drawn at random from K). At parallelism 2, `local` and `cross` cycle through the
 * keys too, but each source subtask makes only keys that the counting subtask in its own worker
 * holds (`local`: no record crosses workers) or only keys the other worker's holds (`cross`:
 * every record crosses); the pair prices a crossing.
 *
 * `plain` is keyed counting without weir: T Web Workers, each counting N / T
 * records into a Map of its own; its start-up is until every worker is ready.
 * Its one thread against two shows what this machine gives a second thread of
 * the same work, whatever weir does. With `--arithmetic` each worker instead
 * runs 100 × N / T steps of an integer hash that allocates nothing and touches
 * no memory: what a second thread gives work that only computes.
 *
 * `worker-start` starts one Web Worker that imports nothing, `node:util` (Deno's Node layer, which
 * weir's `parseArgs` needs), weir (`mod.ts`), this script (what the worker executor's Web
 * Workers import: the job's main module) or the module at URL, and says when it is ready;
 * its `startupMs` is until then, and `spawnMs` how long `new Worker` held this thread.
 *
 * Prints one JSON line: records (0 for word_count), wall ms and process CPU ms (user + system of
 * every thread, workers included) from just before the job to its end, and the job's startup ms
 * (until every subtask runs: workers spawned and opened), and on Linux the CPU ms by thread
 * (`threads`: main, workers, V8 background; see `sampleThreadCpu`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  ByteWriter,
  keyGroupOf,
  runMain,
  Serializers,
  type SinkFunction,
  StreamEnvironment,
  subtaskForKeyGroup,
} from "../mod.ts";
import { main as wordCount } from "../examples/word_count.ts";
import { Count, sampleThreadCpu } from "./_util.ts";

/** Counts what reaches it (per subtask, so nothing is shared). */
class CountingSink implements SinkFunction<unknown> {
  n = 0;
  invoke(): void {
    this.n++;
  }
}

/**
 * Process CPU ms (user + system), in the main thread only. The worker executor's workers run
 * this script again up to `execute()`, which never returns there: measuring in them would only
 * add to parallelism 2 (node:process's import, a thread sampler per worker).
 */
async function processCpuMs(): Promise<(() => number) | undefined> {
  if ("WorkerGlobalScope" in globalThis) return undefined;
  const { default: process } = await import("node:process");
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
}

// A plain-count worker: says it is ready, then counts `records` new strings over `keys` keys
// into a Map, as the keyed job's Count function does, and answers. With `arithmetic`, 100
// integer hash steps a record instead, in registers only.
const PLAIN_WORKER = `self.postMessage("ready");
self.onmessage = (e) => {
  const { records, keys, arithmetic } = e.data;
  if (arithmetic) {
    let x = 1;
    for (let i = 0; i < 100 * records; i++) x = Math.imul(x ^ i, 0x9e3779b1) >>> 0;
    self.postMessage(x);
    return;
  }
  const counts = new Map();
  for (let i = 0; i < records; i++) {
    const w = "user-" + (i % keys);
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  self.postMessage(counts.size);
};`;

/**
 * Counts `records` over `threads` workers at once; resolves when all are done, with the ms
 * until every worker was ready (their start, as a job's start-up).
 */
async function plainCount(
  records: number,
  keys: number,
  threads: number,
  arithmetic: boolean,
): Promise<number> {
  const t0 = performance.now();
  const url = URL.createObjectURL(new Blob([PLAIN_WORKER], { type: "text/javascript" }));
  const workers = Array.from({ length: threads }, () => new Worker(url, { type: "module" }));
  const next = (w: Worker) =>
    new Promise((resolve, reject) => {
      w.onmessage = resolve;
      w.onerror = reject;
    });
  try {
    await Promise.all(workers.map(next));
    const startupMs = performance.now() - t0;
    await Promise.all(workers.map((w) => {
      const done = next(w);
      w.postMessage({ records: Math.ceil(records / threads), keys, arithmetic });
      return done;
    }));
    return startupMs;
  } finally {
    for (const w of workers) w.terminate();
    URL.revokeObjectURL(url);
  }
}

/**
 * Starts a Web Worker whose module imports `imports` (`none`, `node`: node:util, `weir`: mod.ts,
 * `job`: this script) and then says it is ready: ms until `new Worker` returned, and until it was ready.
 */
async function workerStart(imports: string): Promise<{ spawnMs: number; readyMs: number }> {
  const specs: Record<string, string> = {
    none: "",
    node: "node:util",
    weir: new URL("../mod.ts", import.meta.url).href,
    job: import.meta.url,
  };
  const spec = imports.includes("://") ? imports : specs[imports];
  if (spec === undefined) {
    throw new Error(`--imports ${imports}: use none, node, weir, job or a module's URL`);
  }
  const line = spec ? `import ${JSON.stringify(spec)};\n` : "";
  const url = URL.createObjectURL(
    new Blob([`${line}self.postMessage("ready");`], { type: "text/javascript" }),
  );
  const t0 = performance.now();
  const worker = new Worker(url, { type: "module" });
  const spawnMs = performance.now() - t0;
  try {
    await new Promise((resolve, reject) => {
      worker.onmessage = resolve;
      worker.onerror = reject;
    });
    return { spawnMs, readyMs: performance.now() - t0 };
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
}

/**
 * Keys for `--key-order local|cross` at parallelism 2: source subtask s makes records n ≡ s
 * (mod 2) (the generator's first-start splits), and gets, in turn, the keys of the counting
 * subtask s (`local`) or 1 - s (`cross`). A new string per record, as the other orders make.
 */
function sidedKeys(keys: number, order: "local" | "cross", maxParallelism: number) {
  const sides: number[][] = [[], []];
  const w = new ByteWriter();
  for (let k = 0; k < keys; k++) {
    w.reset();
    Serializers.string.write(`user-${k}`, w);
    sides[subtaskForKeyGroup(keyGroupOf(w.bytes(), maxParallelism), maxParallelism, 2)]!.push(k);
  }
  const flip = order === "cross" ? 1 : 0;
  return (n: number) => {
    const side = sides[(n & 1) ^ flip]!;
    return `user-${side[(n >> 1) % side.length]}`;
  };
}

async function main(args: string[]): Promise<void> {
  const i = args.indexOf("--job");
  const job = args[i + 1];
  const rest = args.filter((_, k) => k !== i && k !== i + 1);
  const cpuMs = await processCpuMs();
  const threads = cpuMs ? sampleThreadCpu() : undefined;
  const wall0 = performance.now(), cpu0 = cpuMs?.() ?? 0;
  let records = 0;
  let startupMs = 0;
  let spawnMs: number | undefined;
  if (job === "worker-start") {
    const { values } = parseArgs({ args: rest, options: { imports: { type: "string" } } });
    const started = await workerStart(values.imports ?? "none");
    startupMs = started.readyMs;
    spawnMs = started.spawnMs;
  } else if (job === "plain") {
    const { values } = parseArgs({
      args: rest,
      options: {
        records: { type: "string" },
        keys: { type: "string" },
        threads: { type: "string" },
        arithmetic: { type: "boolean" },
      },
    });
    records = Number(values.records);
    const arithmetic = values.arithmetic ?? false;
    startupMs = await plainCount(records, Number(values.keys), Number(values.threads), arithmetic);
  } else if (job === "word_count") {
    startupMs = (await wordCount(rest)).startupMs ?? 0; // records: the caller knows its input
  } else {
    const { env, values } = StreamEnvironment.fromArgs(rest, {
      records: { type: "string" },
      keys: { type: "string" },
      "key-order": { type: "string" },
    });
    records = Number(values.records);
    const keys = Number(values.keys ?? 1);
    const order = (values["key-order"] ?? "cyclic") as string;
    if (!["cyclic", "uniform", "local", "cross"].includes(order)) {
      throw new Error(`--key-order ${order}: use cyclic, uniform, local or cross`);
    }
    // A new string per record, as a real source makes them (parsed from a line, a message):
    // reusing a table of strings would spare the state's Map the string-table lookup that
    // every real record costs, and flatter parallelism 1.
    const word = order === "local" || order === "cross"
      ? sidedKeys(keys, order, env.config.maxParallelism)
      : order === "cyclic"
      ? (n: number) => `user-${n % keys}`
      : (_n: number, random: () => number) => `user-${Math.floor(random() * keys)}`;
    const source = env.generate({ count: records, generate: word }).uid("gen");
    if (job === "keyed") {
      source.keyBy((w) => w, Serializers.string).process(new Count()).uid("count")
        .addSink(new CountingSink()).uid("sink");
    } else {
      source.map((w) => w.length).uid("len").filter((n) => n % 2 === 0 || n > 5).uid("filter")
        .addSink(new CountingSink()).uid("sink");
    }
    startupMs = (await env.execute(`bench ${job}`)).startupMs ?? 0;
  }
  const wallMs = performance.now() - wall0;
  const cpu = cpuMs!() - cpu0;
  const stopped = threads?.stop();
  console.log(
    JSON.stringify({ records, wallMs, startupMs, spawnMs, cpuMs: cpu, threads: stopped }),
  );
}

if (import.meta.main) await runMain("bench/_parallel_job", main);
