/**
 * Throughput of the dataflow runtime: a stateless pipeline, a chain of seven
 * operators of five kinds, a chain of five process functions, and keyed
 * counting over 100k and 1M keys on the heap and the LSM backends, with 1 and
 * 2 parallel subtasks (one Deno process, one core: subtasks share the event
 * loop). Median of `--runs` runs.
 *
 * deno run -A bench/pipeline.ts [--records N] [--runs R]
 *
 * @module
 */
import {
  type Collector,
  Serializers,
  type Source,
  type StateBackend,
  StreamEnvironment,
} from "../mod.ts";
import { HeapStateBackend } from "../core/state/heap/mod.ts";
import { LsmStateBackend } from "../core/state/lsm/mod.ts";
import { benchFlags, Count, machine, median, rate, table } from "./_util.ts";

const values = benchFlags({
  records: { type: "string" },
  runs: { type: "string" },
  quick: { type: "boolean" },
  // bench/main.ts passes --full to every bench; this one has no larger size.
  full: { type: "boolean" },
});
const quick = values.quick ?? false;
const N = Number(values.records ?? (quick ? 1_000_000 : 5_000_000));
const RUNS = Number(values.runs ?? (quick ? 3 : 5));
const KEY_COUNTS = [100_000, 1_000_000];
const words = Array.from({ length: Math.max(...KEY_COUNTS) }, (_, i) => `user-${i}`);

/** A source of `N` words cycling over `keys` keys, split over subtasks. */
function wordSource(keys: number): Source<string> {
  return {
    name: "words",
    createReader(ctx) {
      let i = ctx.subtaskIndex;
      const step = ctx.parallelism;
      return {
        poll(out, max) {
          for (let n = 0; n < max && i < N; n++, i += step) out.collect(words[i % keys]!);
          return i < N ? "more" : "end";
        },
        position: () => i,
        restore(p) {
          i = p as number;
        },
      };
    },
  };
}

/** Runs `env`'s job `name`: records per second, once `count()` shows every record arrived. */
async function throughput(
  env: StreamEnvironment,
  name: string,
  count: () => number,
): Promise<number> {
  const t = performance.now();
  await env.execute(name);
  if (count() !== N) throw new Error(`lost records: ${count()} of ${N}`);
  return N / ((performance.now() - t) / 1000);
}

async function stateless(parallelism: number): Promise<number> {
  // Inline: this script runs many jobs, and measures subtasks that share one event loop.
  const env = StreamEnvironment.create({ parallelism, executor: "inline" });
  let n = 0;
  env.addSource(wordSource(KEY_COUNTS[0]!))
    .map((w) => w.length)
    .filter((l) => l > 0)
    .addSink({ invoke: () => void n++ });
  return await throughput(env, "stateless", () => n);
}

/**
 * map → filter → flatMap → map → process → filter → sink, all chained: more operator classes
 * than V8 keeps apart at one call site, so each link's call costs what the runtime makes it.
 */
async function longChain(parallelism: number): Promise<number> {
  const env = StreamEnvironment.create({ parallelism, executor: "inline" });
  let n = 0;
  env.addSource(wordSource(KEY_COUNTS[0]!))
    .map((w) => w.length)
    .filter((l) => l > 0)
    .flatMap((l: number, out: Collector<number>) => out.collect(l * 2))
    .map((l) => l - 1)
    .process({
      processElement: (l: number, _ctx: unknown, out: Collector<number>) => out.collect(l),
    })
    .filter((l) => l >= 0)
    .addSink({ invoke: () => void n++ });
  return await throughput(env, "long chain", () => n);
}

/**
 * map → five process functions → sink, all chained: five operators of one kind, each emitting
 * through its collector (past four, V8 makes a call site they all share a generic call).
 */
async function processChain(parallelism: number): Promise<number> {
  const env = StreamEnvironment.create({ parallelism, executor: "inline" });
  let n = 0;
  const step = (k: number) => ({
    processElement: (l: number, _ctx: unknown, out: Collector<number>) => out.collect(l + k),
  });
  env.addSource(wordSource(KEY_COUNTS[0]!))
    .map((w) => w.length)
    .process(step(1)).process(step(2)).process(step(3)).process(step(4)).process(step(5))
    .addSink({ invoke: () => void n++ });
  return await throughput(env, "process chain", () => n);
}

async function keyedCount(
  parallelism: number,
  keys: number,
  backend: () => StateBackend,
): Promise<number> {
  const env = StreamEnvironment.create({
    parallelism,
    executor: "inline",
    stateBackend: backend(),
  });
  let n = 0;
  env.addSource(wordSource(keys))
    .keyBy((w) => w, Serializers.string)
    .process(new Count())
    .addSink({ invoke: () => void n++ });
  return await throughput(env, "keyed count", () => n);
}

const cases: [string, number, string, () => Promise<number>][] = [];
const fmtKeys = (k: number) => k >= 1e6 ? `${k / 1e6}M` : `${k / 1e3}k`;
for (const p of [1, 2]) {
  cases.push(["stateless map → filter → sink", p, "", () => stateless(p)]);
  cases.push(["stateless chain of seven operators", p, "", () => longChain(p)]);
  cases.push(["stateless chain of five process functions", p, "", () => processChain(p)]);
  for (const k of KEY_COUNTS) {
    const keys = fmtKeys(k);
    cases.push([
      "keyed counting, heap backend",
      p,
      keys,
      () => keyedCount(p, k, () => new HeapStateBackend()),
    ]);
    cases.push([
      "keyed counting, LSM backend",
      p,
      keys,
      () => keyedCount(p, k, () => new LsmStateBackend()),
    ]);
    cases.push([
      "keyed counting, LSM backend, value cache off",
      p,
      keys,
      () => keyedCount(p, k, () => new LsmStateBackend({ cacheEntries: 0 })),
    ]);
  }
}

console.log(
  `# bench/pipeline.ts: ${N.toLocaleString("en")} records, median of ${RUNS} runs`,
);
console.log(machine());
const rows: (string | number)[][] = [];
for (const [name, p, keys, run] of cases) {
  await run(); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) rates.push(await run());
  rows.push([name, p, keys, `${rate(median(rates))} records/s`]);
}
console.log(table(["pipeline", "subtasks", "keys", "throughput"], rows));
