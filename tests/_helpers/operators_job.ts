/**
 * A job of many kinds of edges and operators, for the worker executor's
 * tests (run as a main module: the executor's workers import it again):
 *
 *   deno run -A tests/_helpers/operators_job.ts [common flags]
 *
 * A generator of 4,000 numbers feeds a side output, every partitioning
 * (rebalance, shuffle, rescale, global, broadcast, a custom partitioner),
 * a union, keyed sums and reductions, two keyed connected streams and
 * event-time windows; each branch ends in a CollectSink. Prints one JSON line:
 * each sink's records, sorted. Whatever the parallelism and the executor, the
 * records are the same: only their order across subtasks may differ.
 *
 * @module
 */
import {
  type CoFlatMapFunction,
  CollectSink,
  OutputTag,
  type ProcessFunction,
  runMain,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from "../../mod.ts";

async function main(args: string[]): Promise<void> {
  const { env } = StreamEnvironment.fromArgs(args);
  const sinks: Record<string, CollectSink<unknown>> = {};
  const sink = (name: string) => (sinks[name] = new CollectSink<unknown>());
  const nums = env.generate({ count: 4000, generate: (n: number) => n }).uid("nums");
  const odd = new OutputTag<string>("odd");
  const split: ProcessFunction<number, number> = {
    processElement(n, ctx, out) {
      if (n % 2) ctx.output(odd, `o${n}`);
      else out.collect(n);
    },
  };
  const evens = nums.process(split).uid("split");
  const odds = evens.getSideOutput(odd);
  odds.map((s) => s.toUpperCase()).uid("upper").addSink(sink("side output")).uid("side-sink");
  evens.rebalance().map((n) => n + 1).uid("rebalanced").addSink(sink("rebalance")).uid("r-sink");
  evens.shuffle().filter((n) => n % 3 === 0).uid("shuffled").addSink(sink("shuffle")).uid("s-sink");
  evens.rescale().map((n) => -n).uid("rescaled").addSink(sink("rescale")).uid("sc-sink");
  evens.global().map((n) => n * 10).uid("global").addSink(sink("global")).uid("g-sink");
  // Every record to each of two subtasks, whatever the job's parallelism.
  evens.broadcast().map((n) => n).uid("broadcast").setParallelism(2)
    .addSink(sink("broadcast")).uid("b-sink");
  evens.partitionCustom((k: number, parts: number) => k % parts, (n) => n >> 1)
    .map((n) => [n, n % 3]).uid("custom").addSink(sink("custom")).uid("c-sink");
  nums.map((n) => `u${n % 7}`).uid("sevens").union(evens.map((n) => `e${n % 5}`).uid("fives"))
    .keyBy((s) => s).map((s) => s).uid("union").addSink(sink("union")).uid("u-sink");
  const words = nums.map((n) => ({ w: `w${n % 13}`, c: 1 })).uid("words");
  words.keyBy((x) => x.w).sum("c").uid("sum").addSink(sink("sum")).uid("sum-sink");
  words.keyBy((x) => x.w).reduce((a, b) => ({ w: a.w, c: a.c + b.c })).uid("reduce")
    .addSink(sink("reduce")).uid("reduce-sink");
  const both: CoFlatMapFunction<number, string, string> = {
    flatMap1: (n, out) => {
      if (n % 100 === 0) out.collect(`n${n}`);
    },
    flatMap2: (s, out) => out.collect(`s${s}`),
  };
  evens.keyBy((n) => n % 10).connect(odds.keyBy((s) => Number(s.slice(1)) % 10))
    .flatMap(both).uid("connected").addSink(sink("connect")).uid("co-sink");
  nums.assignTimestampsAndWatermarks(
    WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n),
  ).uid("times").keyBy((n) => n % 4).window(TumblingEventTimeWindows.of(1000))
    .reduce((a, b) => a + b).uid("windows").addSink(sink("windows")).uid("w-sink");
  await env.execute("operators");
  const out: Record<string, string[]> = {};
  for (const [name, s] of Object.entries(sinks)) {
    out[name] = s.values.map((v) => JSON.stringify(v)).sort();
  }
  console.log(JSON.stringify(out));
}

if (import.meta.main) await runMain("operators_job", main);
