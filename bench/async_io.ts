/**
 * Throughput of async I/O: one subtask looks every record up over HTTP on a
 * local server (a Web Worker running Deno.serve) that answers after 5 ms,
 * with 100 calls in flight (capacity 100), ordered and unordered. The ceiling
 * is capacity / latency = 20k records/s. For reference, the same with a lookup
 * that only waits 5 ms, no network: the operator's own cost. That wait is
 * made two ways: a `setTimeout` per call, and one shared timer for all calls
 * (`fixedDelay`; see bench/_fixed_delay.ts for why one timer per call makes
 * Deno's garbage collections pause far longer). Each lookup is also run by a
 * plain Deno loop without weir (`capacity` loops, each starting its next call
 * when one completes), in this same process: what the lookup itself allows
 * here (for HTTP: `fetch` and the server), the practical ceiling of its rows.
 * Median of `--runs` runs.
 *
 * deno run -A bench/async_io.ts [--records N] [--runs R] [--quick] [--latency MS] [--capacity C]
 *
 * @module
 */
import { AsyncDataStream, type Source, StreamEnvironment } from "../mod.ts";
import { benchFlags, machine, median, rate, table } from "./_util.ts";
import { fixedDelay } from "./_fixed_delay.ts";

const values = benchFlags({
  records: { type: "string" },
  runs: { type: "string" },
  quick: { type: "boolean" },
  // bench/main.ts passes --full to every bench; this one has no larger size.
  full: { type: "boolean" },
  latency: { type: "string" },
  capacity: { type: "string" },
});
const quick = values.quick ?? false;
const N = Number(values.records ?? (quick ? 20_000 : 100_000));
const RUNS = Number(values.runs ?? (quick ? 1 : 3));
const LATENCY_MS = Number(values.latency ?? 5);
const CAPACITY = Number(values.capacity ?? 100);

// The server runs on its own thread, so its work is not counted against the job's.
const worker = new Worker(new URL("./_async_io_server.ts", import.meta.url), { type: "module" });
const port = await new Promise<number>((resolve) => {
  worker.onmessage = (e) => resolve(e.data);
  worker.postMessage({ latencyMs: LATENCY_MS });
});
const base = `http://127.0.0.1:${port}/`;

const numbers: Source<number> = {
  name: "numbers",
  createReader() {
    let i = 0;
    return {
      poll(out, max) {
        for (let n = 0; n < max && i < N; n++) out.collect(i++);
        return i < N ? "more" : "end";
      },
      position: () => i,
      restore(p) {
        i = p as number;
      },
    };
  },
};

const httpLookup = async (n: number): Promise<number[]> => {
  const res = await fetch(base + n);
  return [Number(await res.text())];
};
const timerLookup = (n: number): Promise<number[]> =>
  new Promise((resolve) => setTimeout(() => resolve([n]), LATENCY_MS));
const delayed = fixedDelay(LATENCY_MS);
const sharedTimerLookup = (n: number): Promise<number[]> => delayed([n]);

async function run(ordered: boolean, lookup: (n: number) => Promise<number[]>): Promise<number> {
  const env = StreamEnvironment.create({ parallelism: 1 });
  let sum = 0;
  const wait = ordered ? AsyncDataStream.orderedWait : AsyncDataStream.unorderedWait;
  wait(env.addSource(numbers), lookup, 10_000, CAPACITY).addSink({
    invoke: (n: number) => {
      sum += n;
    },
  });
  const t = performance.now();
  await env.execute("async lookup");
  const secs = (performance.now() - t) / 1000;
  if (sum !== (N * (N - 1)) / 2) {
    throw new Error(`lookups summed to ${sum}, not ${N * (N - 1) / 2}`);
  }
  return N / secs;
}

/** A lookup without weir: `CAPACITY` loops share the records, each awaiting one call at a time. */
async function plainLoop(lookup: (n: number) => Promise<number[]>): Promise<number> {
  let next = 0;
  let sum = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: CAPACITY }, async () => {
    while (next < N) {
      for (const n of await lookup(next++)) sum += n;
    }
  }));
  const secs = (performance.now() - t) / 1000;
  if (sum !== (N * (N - 1)) / 2) {
    throw new Error(`lookups summed to ${sum}, not ${N * (N - 1) / 2}`);
  }
  return N / secs;
}

console.log(
  `# bench/async_io.ts: ${N.toLocaleString("en")} HTTP lookups, ${LATENCY_MS} ms latency, ` +
    `capacity ${CAPACITY}, 1 subtask, median of ${RUNS} runs`,
);
console.log(machine());
const rows: string[][] = [];
const lookups = [
  ["HTTP", httpLookup],
  ["setTimeout", timerLookup],
  ["shared timer", sharedTimerLookup],
] as const;
for (const [name, lookup] of lookups) {
  for (const ordered of [true, false]) {
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) rates.push(await run(ordered, lookup));
    rows.push([
      `${ordered ? "orderedWait" : "unorderedWait"}, ${name} lookup`,
      `${rate(median(rates))} records/s`,
      rates.map((x) => rate(x)).join(", "),
    ]);
  }
}
for (const [name, lookup] of lookups) {
  const plainRates: number[] = [];
  for (let r = 0; r < RUNS; r++) plainRates.push(await plainLoop(lookup));
  rows.push([
    `plain Deno loop without weir, ${name} lookup (ceiling of the ${name} rows)`,
    `${rate(median(plainRates))} records/s`,
    plainRates.map((x) => rate(x)).join(", "),
  ]);
}
console.log(table(["async I/O", "throughput per subtask (median)", "runs"], rows));
worker.terminate();
