/**
 * A job for the admin API tests: an unbounded generator of words keyed by
 * word and counted in ValueState "count" (operator uid "count"). Common
 * flags apply (`--admin-port`, `--checkpoint-dir`, ...); `--rate N` sets
 * records per second; `--collect` brings the words back to the script
 * (`executeAndCollect`) instead.
 *
 * @module
 */
import {
  type Collector,
  type Counter,
  type Histogram,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  runMain,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../../mod.ts";

/** Counts per word; user-defined metrics: a counter, a histogram and a gauge. */
export class CountWords implements KeyedProcessFunction<string, string, string> {
  count!: ValueState<number>;
  counted!: Counter;
  wordLength!: Histogram;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64));
    const metrics = ctx.getMetricGroup();
    this.counted = metrics.counter("words_counted");
    this.wordLength = metrics.histogram("word_length");
    metrics.gauge("subtask", () => ctx.subtaskIndex);
  }
  processElement(word: string, _ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    this.counted.inc();
    this.wordLength.update(word.length);
    const n = (this.count.value() ?? 0) + 1;
    this.count.update(n);
    out.collect(`${word}\t${n}`);
  }
}

/** Builds the job on `env`: words `w0`..`w9`. */
export function buildAdminJob(env: StreamEnvironment, ratePerSecond: number): void {
  env.generate({ ratePerSecond, generate: (seq) => `w${seq % 10}` }).uid("words")
    .keyBy((w) => w, Serializers.string)
    .process(new CountWords()).uid("count")
    .addSink({ invoke() {} }, { uid: "sink" });
}

if (import.meta.main) {
  // As a job script runs: its exit status and last line tell how the job ended.
  await runMain("admin_job", async (args) => {
    const { env, values } = StreamEnvironment.fromArgs(args, {
      rate: { type: "string" },
      collect: { type: "boolean" },
    });
    if (values.collect) {
      // The records come back to the script instead (executeAndCollect).
      const words = env.generate({
        ratePerSecond: Number(values.rate ?? "2000"),
        generate: (seq) => `w${seq % 10}`,
      });
      await words.executeAndCollect({ jobName: "admin test job" });
      return;
    }
    buildAdminJob(env, Number(values.rate ?? "2000"));
    await env.execute("admin test job");
  });
}
