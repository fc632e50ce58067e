/**
 * Counts per key per tumbling event-time window:
 *
 *   deno run -A examples/tumbling_counts.ts --input FILE.jsonl --window-ms W \
 *     --out-of-orderness-ms D --output DIR [--allowed-lateness-ms L] [common flags]
 *
 * The narrowest permissions (docs/install.md; TMP is the temporary folder,
 * where the LSM backend keeps its working segments):
 *
 *   deno run --allow-read=FILE.jsonl,DIR,CKPT,TMP --allow-write=DIR,CKPT,TMP \
 *     examples/tumbling_counts.ts --input FILE.jsonl ... --checkpoint-dir CKPT
 *
 * Reads JSON lines `{"key": string, "ts": number}` through the replayable
 * file source (parallelism 1), stamps each record with `ts` and emits a
 * watermark after every record (highest ts so far − D − 1, Flink's bounded
 * out-of-orderness value), so the output is a function of the input. Counts
 * per key and window `[k·W, (k+1)·W)` and writes `key<TAB>windowStart<TAB>count`
 * through the exactly-once file sink at DIR. A record whose window's last
 * timestamp (start + W − 1, plus L) is at or below the watermark when it
 * arrives is late: its input line goes to `DIR/late/part-*`. With
 * `--allowed-lateness-ms L` windows stay open L ms after their end and late
 * records fire them again (an updated count line).
 *
 * @module
 */
import {
  type AggregateFunction,
  ConfigError,
  ExactlyOnceFileSink,
  OutputTag,
  type ProcessWindowFunction,
  runMain,
  SerializationError,
  Serializers,
  StreamEnvironment,
  type TimeWindow,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from "../mod.ts";

/** One input record with its line. */
export interface Event {
  /** The key. */
  readonly key: string;
  /** Event time. */
  readonly ts: number;
  /** The input line, for the late output. */
  readonly line: string;
}

/** Counts elements. */
export const count: AggregateFunction<Event, number, number> = {
  createAccumulator: () => 0,
  add: (_e, n) => n + 1,
  getResult: (n) => n,
  merge: (a, b) => a + b,
};

/** Formats `key<TAB>windowStart<TAB>count`. */
export const format: ProcessWindowFunction<number, string, string, TimeWindow> = {
  process(key, ctx, [n], out) {
    out.collect(`${key}\t${ctx.window.start}\t${n}`);
  },
};

function parse(line: string): Event | undefined {
  if (line.trim() === "") return undefined;
  let o: { key?: unknown; ts?: unknown } | null;
  try {
    o = JSON.parse(line);
  } catch {
    o = null;
  }
  if (typeof o?.key !== "string" || typeof o.ts !== "number") {
    // Bad data, not configuration: the job restarts, and stops when the same line fails again.
    throw new SerializationError(`Input line is not {"key": string, "ts": number}: ${line}`);
  }
  return { key: o.key, ts: o.ts, line };
}

function positive(name: string, v: unknown, min: number): number {
  if (v === undefined) throw new ConfigError(`--${name} is required (a number >= ${min})`);
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    throw new ConfigError(`--${name} must be a number >= ${min}, got "${v}"`);
  }
  return n;
}

/** Builds and runs the job with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    input: { type: "string" },
    output: { type: "string" },
    "window-ms": { type: "string" },
    "out-of-orderness-ms": { type: "string" },
    "allowed-lateness-ms": { type: "string" },
  });
  const input = values.input as string | undefined;
  const output = values.output as string | undefined;
  if (!input) throw new ConfigError("--input FILE.jsonl is required");
  if (!output) throw new ConfigError("--output DIR is required");
  const size = positive("window-ms", values["window-ms"], 1);
  const bound = positive("out-of-orderness-ms", values["out-of-orderness-ms"] ?? "0", 0);
  const lateness = positive("allowed-lateness-ms", values["allowed-lateness-ms"] ?? "0", 0);
  const late = new OutputTag<Event>("late");
  const counts = env.readTextFile(input).uid("lines").setParallelism(1)
    .flatMap<Event>((line: string, out) => {
      const e = parse(line);
      if (e) out.collect(e);
    }).uid("parse").setParallelism(1)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forBoundedOutOfOrderness<Event>(bound)
        .withTimestampAssigner((e) => e.ts)
        .withPerRecordWatermarks(), // a watermark after every record: deterministic output
      { uid: "watermarks", parallelism: 1 },
    )
    .keyBy((e) => e.key, Serializers.string)
    .window(TumblingEventTimeWindows.of<Event>(size))
    .allowedLateness(lateness)
    .sideOutputLateData(late)
    .aggregate(count, format, { serializer: Serializers.f64, uid: "count" });
  counts.addSink(new ExactlyOnceFileSink<string>({ dir: output }), { uid: "sink" });
  counts.getSideOutput(late).map((e) => e.line).uid("late-lines")
    .addSink(new ExactlyOnceFileSink<string>({ dir: `${output}/late` }), { uid: "late-sink" });
  await env.execute("tumbling counts");
}

if (import.meta.main) await runMain("tumbling_counts", main);
