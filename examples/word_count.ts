/**
 * Word count, exactly once:
 *
 *   deno run -A examples/word_count.ts --input FILE --output DIR
 *     [--input-encoding utf-8|utf-8-fatal|latin1|bytes] [common flags]
 *
 * Reads FILE through the replayable file source, splits lines on whitespace,
 * keys by word, keeps a count in ValueState, and for every word read emits
 * `word<TAB>count` to the exactly-once file sink at DIR (committed files are
 * `DIR/part-*`). With `--checkpoint-dir` the job checkpoints, takes a final
 * checkpoint at end of input, commits and exits 0; after a crash,
 * `--restore latest` resumes from the latest completed checkpoint.
 * `--input` may also name a directory: its files are read (each a split the
 * source's enumerator assigns to a subtask that asks for work; see docs/sources.md).
 *
 * `--input-encoding` (see `FileSourceEncoding`): `utf-8` (default) replaces
 * invalid sequences with U+FFFD, counts them and logs one warning line;
 * `utf-8-fatal` fails on the first one, naming its line; `latin1` reads every
 * byte as the character of the same code; `bytes` splits lines on ASCII
 * whitespace bytes and shows each word's bytes as Latin-1 characters (so
 * different byte sequences stay different words in every mode but `utf-8`).
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
  type DataStream,
  ExactlyOnceFileSink,
  FileSource,
  fileSourceEncoding,
  type JobResult,
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

/** ASCII whitespace bytes: space, \t, \n, \v, \f, \r. */
function isSpaceByte(b: number): boolean {
  return b === 32 || (b >= 9 && b <= 13);
}

/** The words of a line of bytes, each shown as Latin-1 characters (one per byte). */
export function bytesWords(line: Uint8Array, out: Collector<string>): void {
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || isSpaceByte(line[i]!)) {
      if (start >= 0) {
        let w = "";
        for (let j = start; j < i; j += 8192) {
          w += String.fromCharCode(...line.subarray(j, Math.min(i, j + 8192)));
        }
        out.collect(w);
      }
      start = -1;
    } else if (start < 0) start = i;
  }
}

/** The words of `input` read in `encoding` (`--input-encoding`). */
function words(env: StreamEnvironment, input: string, encoding: string | undefined) {
  const e = fileSourceEncoding(encoding);
  if (e === "bytes") {
    return env.addSource(new FileSource<Uint8Array>({ path: input, encoding: e }), {
      name: `File Source: ${input}`,
    }).uid("lines").flatMap(bytesWords).uid("split");
  }
  const lines: DataStream<string> = env.readTextFile(input, { encoding: e });
  return lines.uid("lines").flatMap((line: string, out) => {
    for (const w of line.split(/\s+/)) if (w !== "") out.collect(w);
  }).uid("split");
}

/** Builds and runs the job with `args`; its result (a benchmark reads the start-up time). */
export async function main(args: string[]): Promise<JobResult> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    input: { type: "string" },
    output: { type: "string" },
    "input-encoding": { type: "string" },
  });
  const input = values.input as string | undefined;
  const output = values.output as string | undefined;
  if (!input) throw new ConfigError("--input FILE is required");
  if (!output) throw new ConfigError("--output DIR is required");
  words(env, input, values["input-encoding"] as string | undefined)
    .keyBy((w) => w, Serializers.string)
    .process(new CountWords()).uid("count")
    .addSink(new ExactlyOnceFileSink<string>({ dir: output }), { uid: "sink" });
  return await env.execute("word count");
}

if (import.meta.main) await runMain("word_count", main);
