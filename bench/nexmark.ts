/**
 * Nexmark: every query over `--events` generated events (10M), on the heap
 * and the LSM backend, with exactly-once checkpoints every 10 s and a
 * discarding sink, each run in its own process. Prints per query and backend:
 * events/s (wall), CPU seconds (user + system of the process, workers
 * included), events per CPU-second (Nexmark's throughput per core), peak RSS,
 * beside Flink Nexmark's published per-core figure and this project's target.
 *
 * deno run -A bench/nexmark.ts [--events N] [--queries q0,q5] [--backends heap,lsm]
 *   [--parallelism P[,P...]] [--tps T] [--quick]
 *
 * With several parallelisms (`--parallelism 1,2`, parallelism above 1 on the
 * worker executor) each query and backend runs at each in turn, one table per
 * parallelism, and a last table gives each row's events/s and CPU seconds
 * against the first parallelism's.
 *
 * @module
 */
import { benchFlags, machine, rate, table } from "./_util.ts";
import { QUERIES } from "./nexmark/queries/mod.ts";

/** Flink Nexmark's published throughput per core (Flink 1.13, RocksDB), events/s. */
const FLINK_PER_CORE: Record<string, number> = {
  q0: 155.0e3,
  q1: 157.9e3,
  q2: 175.2e3,
  q3: 152.1e3,
  q4: 34.3e3,
  q5: 22.1e3,
  q7: 12.3e3,
  q8: 146.1e3,
  q9: 14.2e3,
  q10: 57.8e3,
  q11: 39.7e3,
  q12: 75.7e3,
  q13: 130.7e3,
  q14: 161.2e3,
  q15: 72.4e3,
  q16: 18.7e3,
  q17: 116.8e3,
  q18: 53.7e3,
  q19: 44.0e3,
  q20: 19.0e3,
  q21: 98.5e3,
  q22: 130.0e3,
};
const STATELESS_FAST = new Set(["q0", "q1", "q2", "q3", "q13", "q14", "q17", "q21", "q22"]);
const STATEFUL_3X = new Set(["q4", "q5", "q7", "q9", "q11", "q16", "q18", "q19", "q20"]);

/** The events per CPU-second a query must reach. */
export function target(query: string): number {
  const flink = FLINK_PER_CORE[query] ?? 0;
  if (STATELESS_FAST.has(query)) return Math.max(flink, 800e3);
  if (STATEFUL_3X.has(query)) return 3 * flink;
  return flink;
}

const values = benchFlags({
  events: { type: "string" },
  queries: { type: "string" },
  backends: { type: "string" },
  parallelism: { type: "string" },
  tps: { type: "string" },
  quick: { type: "boolean" },
  // bench/main.ts passes it to every benchmark; 10M events is already the full size.
  full: { type: "boolean" },
});
const events = Number(values.events ?? (values.quick ? 1_000_000 : 10_000_000));
const queries = values.queries?.split(",") ?? [...QUERIES.keys()];
const backends = values.backends?.split(",") ?? ["heap", "lsm"];
/** With several (`--parallelism 1,2`), each row runs at each in turn, and a table compares them. */
const parallelisms = (values.parallelism ?? "1").split(",");
for (const q of queries) {
  if (!QUERIES.has(q)) throw new Error(`bench/nexmark.ts: unknown query ${q}`);
}

interface Run {
  wallMs: number;
  userS: number;
  sysS: number;
  maxRssMb: number;
}

async function runOnce(query: string, backend: string, parallelism: string): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "weir-nexmark-bench-" });
  try {
    const args = [
      "run",
      "-A",
      // At 10M events/s of event time a run spans ~1 s while the watermark trails by 4 s:
      // the interval join of q4 keeps every bid, several GB on the heap backend.
      "--v8-flags=--max-old-space-size=16384",
      new URL("./nexmark/run_query.ts", import.meta.url).pathname,
      "--query",
      query,
      "--events",
      String(events),
      "--state-backend",
      backend,
      "--parallelism",
      parallelism,
      "--checkpoint-dir",
      `${dir}/checkpoints`,
      "--checkpoint-interval",
      "10000",
      "--mode",
      "exactly-once",
      ...(values.tps ? ["--tps", values.tps] : []),
    ];
    const out = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success) throw new Error(`${query} on ${backend} failed (${out.code}): ${text}`);
    return JSON.parse(text.split("\n").pop()!) as Run;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const rows = new Map(parallelisms.map((p) => [p, [] as (string | number)[][]]));
const compared: (string | number)[][] = [];
for (const q of queries) {
  for (const b of backends) {
    const runs: Run[] = [];
    for (const p of parallelisms) {
      const r = await runOnce(q, b, p);
      runs.push(r);
      const cpu = r.userS + r.sysS;
      const perCpu = events / cpu;
      const flink = FLINK_PER_CORE[q]!;
      rows.get(p)!.push([
        q,
        b,
        rate(events / (r.wallMs / 1000)),
        cpu.toFixed(1),
        rate(perCpu),
        rate(flink),
        (perCpu / flink).toFixed(1),
        rate(target(q)),
        perCpu >= target(q) ? "yes" : "no",
        r.maxRssMb.toFixed(0),
      ]);
      console.error(`nexmark ${q} ${b} parallelism ${p}: ${rate(perCpu)} events per CPU-second`);
    }
    const [first, ...others] = runs.map((r) => ({ wallMs: r.wallMs, cpu: r.userS + r.sysS }));
    compared.push([
      q,
      b,
      ...others.flatMap((r) => [
        `${(first!.wallMs / r.wallMs).toFixed(2)}×`,
        `${(r.cpu / first!.cpu).toFixed(2)}×`,
      ]),
    ]);
  }
}
const columns = [
  "query",
  "backend",
  "events/s",
  "CPU s",
  "events/CPU-s",
  "Flink per core",
  "× Flink",
  "target",
  "met",
  "peak RSS MB",
];
console.log(machine() + "\n");
for (const p of parallelisms) {
  console.log(
    `## Nexmark (${rate(events)} events, parallelism ${p}, exactly-once checkpoints every 10 s)\n`,
  );
  console.log(table(columns, rows.get(p)!) + "\n");
}
if (parallelisms.length > 1) {
  const [p1, ...others] = parallelisms;
  console.log(`## Parallelism ${others.join(", ")} against ${p1}, row by row (run in turn)\n`);
  console.log(table(
    [
      "query",
      "backend",
      ...others.flatMap((p) => [`events/s p${p} / p${p1}`, `CPU s p${p} / p${p1}`]),
    ],
    compared,
  ));
}
