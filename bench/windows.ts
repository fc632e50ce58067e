/**
 * Throughput of event-time window aggregation: counts per key in tumbling
 * windows and in sliding windows (size / slide = 10), 1M distinct keys, on the
 * heap and the LSM backends, one subtask (one core); 10k keys for reference.
 * Median of `--runs` runs.
 *
 * deno run -A bench/windows.ts [--records N] [--runs R] [--quick] [--only tumbling|sliding] [--backend heap|lsm] [--keys K]
 *
 * @module
 */
import {
  type AggregateFunction,
  Serializers,
  SlidingEventTimeWindows,
  type Source,
  type StateBackend,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from "../mod.ts";
import { HeapStateBackend } from "../core/state/heap/mod.ts";
import { LsmStateBackend } from "../core/state/lsm/mod.ts";
import { benchFlags, machine, median, rate, table } from "./_util.ts";

const values = benchFlags({
  records: { type: "string" },
  runs: { type: "string" },
  quick: { type: "boolean" },
  // bench/main.ts passes --full to every bench; this one has no larger size.
  full: { type: "boolean" },
  only: { type: "string" },
  backend: { type: "string" },
  keys: { type: "string" },
});
const quick = values.quick ?? false;
const N = Number(values.records ?? (quick ? 100_000 : 300_000));
const RUNS = Number(values.runs ?? (quick ? 1 : 5));
const KEY_COUNTS = values.keys ? [Number(values.keys)] : [1_000_000, 10_000];
/** Records per millisecond of event time. */
const PER_MS = 100;
const WINDOW_MS = 1_000;
const allKeys = Array.from({ length: Math.max(...KEY_COUNTS) }, (_, i) => `user-${i}`);

/** `N` records over `keyCount` keys (scattered), 100 per ms of event time, in order. */
const source = (keyCount: number): Source<string> => ({
  name: "events",
  createReader() {
    let i = 0;
    return {
      poll(out, max) {
        for (let n = 0; n < max && i < N; n++, i++) {
          out.collect(allKeys[(i * 7_919) % keyCount]!, Math.floor(i / PER_MS));
        }
        return i < N ? "more" : "end";
      },
      position: () => i,
      restore(p) {
        i = p as number;
      },
    };
  },
});

const count: AggregateFunction<string, number, number> = {
  createAccumulator: () => 0,
  add: (_v, n) => n + 1,
  getResult: (n) => n,
};

async function run(
  kind: "tumbling" | "sliding",
  keyCount: number,
  backend: () => StateBackend,
): Promise<number> {
  const env = StreamEnvironment.create({ parallelism: 1, stateBackend: backend() });
  let results = 0;
  let total = 0;
  const assigner = kind === "tumbling"
    ? TumblingEventTimeWindows.of<string>(WINDOW_MS)
    : SlidingEventTimeWindows.of<string>(WINDOW_MS, WINDOW_MS / 10);
  env.addSource(source(keyCount))
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<string>())
    .keyBy((k) => k, Serializers.string)
    .window(assigner)
    .aggregate(count, { serializer: Serializers.f64 })
    .addSink({
      invoke: (n: number) => {
        results++;
        total += n;
      },
    });
  const t = performance.now();
  await env.execute(`${kind} windows`);
  const secs = (performance.now() - t) / 1000;
  const expected = kind === "tumbling" ? N : N * 10;
  if (total !== expected) throw new Error(`${kind}: counted ${total} of ${expected}`);
  void results;
  return N / secs;
}

const backends: [string, () => StateBackend][] = ([
  ["heap", () => new HeapStateBackend()],
  ["lsm", () => new LsmStateBackend()],
] as [string, () => StateBackend][]).filter(([name]) => !values.backend || values.backend === name);
const kinds = (["tumbling", "sliding"] as const).filter((k) => !values.only || values.only === k);

console.log(
  `# bench/windows.ts: ${N.toLocaleString("en")} records, ${PER_MS} records per ms of event ` +
    `time, window ${WINDOW_MS} ms, median of ${RUNS} runs`,
);
console.log(machine());
const rows: (string | number)[][] = [];
for (const keyCount of KEY_COUNTS) {
  for (const kind of kinds) {
    for (const [name, backend] of backends) {
      const rates: number[] = [];
      for (let r = 0; r < RUNS; r++) rates.push(await run(kind, keyCount, backend));
      const desc = kind === "tumbling"
        ? `tumbling ${WINDOW_MS} ms, count per key`
        : `sliding ${WINDOW_MS} ms / ${WINDOW_MS / 10} ms, count per key`;
      rows.push([
        desc,
        keyCount.toLocaleString("en"),
        name,
        `${rate(median(rates))} records/s`,
        rates.map((x) => rate(x)).join(", "),
      ]);
    }
  }
}
console.log(
  table(["window aggregation", "keys", "backend", "throughput (1 subtask, median)", "runs"], rows),
);
