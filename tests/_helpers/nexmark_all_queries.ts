/**
 * Every Nexmark query in one job: one source feeds every query, each writing
 * through its own exactly-once file sink under `dir/qN`, with checkpoints
 * every 300 ms, and the events go to `dir/events.jsonl`.
 * tests/nexmark_test.ts runs it in the test process (the inline executor)
 * and as this script, which runs it on the worker executor, where records
 * cross workers in the queries' serializers:
 *
 *   deno run -A tests/_helpers/nexmark_all_queries.ts --dir D --backend heap|lsm
 *     --parallelism P --seed S
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  ExactlyOnceFileSink,
  type ExecutorKind,
  HeapStateBackend,
  LsmStateBackend,
  type StateBackend,
  StreamEnvironment,
} from "../../mod.ts";
import { NexmarkStreams } from "../../bench/nexmark/generator.ts";
import { QUERIES } from "../../bench/nexmark/queries/mod.ts";
import type { Row } from "../../bench/nexmark/query.ts";
import { JsonLinesFileSink } from "../../bench/nexmark/sinks.ts";

/** Events of the job. */
export const EVENTS = 100_000;
/** 2000 events per second of event time: 50 s, so windows of 10 s fire several times. */
const TPS = 2000;

/** Runs the job into `dir`. */
export async function runAllQueries(
  dir: string,
  backend: StateBackend,
  parallelism: number,
  seed: number,
  executor: ExecutorKind = "inline",
): Promise<void> {
  const env = StreamEnvironment.create({
    parallelism,
    executor,
    stateBackend: backend,
    checkpoint: { dir: `${dir}/checkpoints`, intervalMs: 300 },
  });
  const streams = new NexmarkStreams(env, { events: EVENTS, seed, config: { tps: TPS } });
  for (const q of QUERIES.values()) {
    q.build(streams).addSink(new ExactlyOnceFileSink<Row>({ dir: `${dir}/${q.name}` }), {
      uid: `sink-${q.name}`,
    });
  }
  streams.events.addSink(new JsonLinesFileSink(`${dir}/events.jsonl`), {
    uid: "dump",
    parallelism: 1,
  });
  await env.execute("nexmark all queries");
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      dir: { type: "string" },
      backend: { type: "string" },
      parallelism: { type: "string" },
      seed: { type: "string" },
    },
  });
  const backend = values.backend === "lsm" ? new LsmStateBackend() : new HeapStateBackend();
  const [parallelism, seed] = [Number(values.parallelism), Number(values.seed)];
  await runAllQueries(values.dir!, backend, parallelism, seed, "workers");
}
