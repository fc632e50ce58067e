/**
 * Runs one Nexmark query:
 *
 *   deno run -A examples/nexmark.ts --query qN --events N [--rate R] [--seed S] [--tps T]
 *     [--dump FILE] [--output DIR] [common flags]
 *
 * Generates `N` Nexmark events (unbounded without `--events`; `--rate R`
 * events per second of wall-clock time, unlimited without it; `--tps T`
 * events per second of event time, 10M as Flink Nexmark's suite) from seed
 * `S` (0), runs query `qN` (q0–q5, q7–q9, q11–q22; see bench/nexmark/queries/)
 * and writes its result rows as JSON lines through the exactly-once file
 * sink at `DIR` (committed files `DIR/part-*`; without `--output` the rows
 * are discarded). A row's fields are the columns of Flink Nexmark's query,
 * times as epoch milliseconds. Updating queries (q4, q9, q15–q19) write a
 * new row whenever a key's result changes. `--dump FILE` writes the events
 * the run generated as JSON lines in the shape of Flink Nexmark's source
 * table (`{"event_type", "person", "auction", "bid"}`).
 *
 * @module
 */
import { ConfigError, ExactlyOnceFileSink, runMain, StreamEnvironment } from "../mod.ts";
import { NexmarkStreams } from "../bench/nexmark/generator.ts";
import { QUERIES } from "../bench/nexmark/queries/mod.ts";
import type { Row } from "../bench/nexmark/query.ts";
import { DiscardingSink, JsonLinesFileSink } from "../bench/nexmark/sinks.ts";

function count(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(`--${name} must be an integer >= ${min}, got ${v}`);
  }
  return n;
}

/** Builds and runs the job with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    query: { type: "string" },
    events: { type: "string" },
    rate: { type: "string" },
    seed: { type: "string" },
    tps: { type: "string" },
    dump: { type: "string" },
    output: { type: "string" },
  });
  const name = values.query as string | undefined;
  const query = name === undefined ? undefined : QUERIES.get(name);
  if (!query) {
    throw new ConfigError(
      `--query must be one of ${[...QUERIES.keys()].join(", ")}, got ${name ?? "nothing"}`,
    );
  }
  const streams = new NexmarkStreams(env, {
    events: count("events", values.events, 0),
    rate: count("rate", values.rate, 1),
    seed: count("seed", values.seed, 0),
    config: { ...(values.tps !== undefined ? { tps: count("tps", values.tps, 1)! } : {}) },
  });
  const rows = query.build(streams);
  const output = values.output as string | undefined;
  if (output) rows.addSink(new ExactlyOnceFileSink<Row>({ dir: output }), { uid: "sink" });
  else rows.addSink(new DiscardingSink<Row>(), { uid: "sink", name: "Discard" });
  const dump = values.dump as string | undefined;
  if (dump) {
    streams.events.addSink(new JsonLinesFileSink(dump), {
      uid: "dump",
      name: "Dump",
      parallelism: 1,
    });
  }
  await env.execute(`nexmark ${query.name}`);
}

if (import.meta.main) await runMain("nexmark", main);
