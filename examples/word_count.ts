/**
 * Word count (the DESIGN.md contract):
 *
 *   deno run -A examples/word_count.ts --input FILE --output DIR [common flags]
 *
 * Reads FILE through the replayable file source, splits lines on whitespace,
 * keys by word, keeps a count in ValueState, and for every word read emits
 * `word<TAB>count` to the exactly-once file sink at DIR (committed files are
 * `DIR/part-*`). With `--checkpoint-dir` the job checkpoints, takes a final
 * checkpoint at end of input, commits and exits 0; after a crash,
 * `--restore latest` resumes from the latest completed checkpoint.
 *
 * The narrowest permissions (docs/install.md): read FILE; read and write DIR,
 * the checkpoint folder CKPT and TMP, the temporary folder ($TMPDIR, else
 * /tmp) where the LSM backend keeps its working segments:
 *
 *   deno run --allow-read=FILE,DIR,CKPT,TMP --allow-write=DIR,CKPT,TMP examples/word_count.ts \
 *     --input FILE --output DIR --checkpoint-dir CKPT [common flags]
 *
 * @module
 */
import {
  type Collector,
  ConfigError,
  ExactlyOnceFileSink,
  type KeyedProcessFunction,
  runMain,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";

/** Counts words; emits `word<TAB>count` for every occurrence. */
export class CountWords implements KeyedProcessFunction<string, string, string> {
  /** The count of the current word. */
  count!: ValueState<number>;

  /** Declares the state. */
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }

  /** Bumps and emits the count. */
  processElement(word: string, _ctx: unknown, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(`${word}\t${n}`);
  }
}

/** Builds and runs the job with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    input: { type: "string" },
    output: { type: "string" },
  });
  const input = values.input as string | undefined;
  const output = values.output as string | undefined;
  if (!input) throw new ConfigError("--input FILE is required");
  if (!output) throw new ConfigError("--output DIR is required");
  env.readTextFile(input).uid("lines")
    .flatMap((line: string, out) => {
      for (const w of line.split(/\s+/)) if (w !== "") out.collect(w);
    }).uid("split")
    .keyBy((w) => w, Serializers.string)
    .process(new CountWords()).uid("count")
    .addSink(new ExactlyOnceFileSink<string>({ dir: output }), { uid: "sink" });
  await env.execute("word count");
}

if (import.meta.main) await runMain("word_count", main);
