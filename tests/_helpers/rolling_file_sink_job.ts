/**
 * A crash-test job for the exactly-once file sink's rolling: reads FILE
 * (one record per line), rebalances it over the sink's subtasks and writes
 * every line to DIR, rolling parts within checkpoints by size and by age.
 * With `--bucketed`, a line `line-<i>-…` goes to the bucket
 * `<yyyy-MM-dd--HH-mm-ss>/k=<i % 3>` (a folder a second, three in each).
 *
 *   deno run -A tests/_helpers/crash.ts tests/_helpers/rolling_file_sink_job.ts \
 *     --input FILE --output DIR [--bucketed] [common flags]
 *
 * @module
 */
import {
  type BucketAssigner,
  ConfigError,
  DateTimeBucketAssigner,
  ExactlyOnceFileSink,
  runMain,
  StreamEnvironment,
} from "../../mod.ts";

/** Builds and runs the job with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    input: { type: "string" },
    output: { type: "string" },
    bucketed: { type: "boolean" },
  });
  const input = values.input as string | undefined;
  const output = values.output as string | undefined;
  if (!input || !output) throw new ConfigError("--input FILE and --output DIR are required");
  const secondly = new DateTimeBucketAssigner<string>("yyyy-MM-dd--HH-mm-ss");
  const bucketAssigner: BucketAssigner<string> = {
    getBucketId: (line, ctx) =>
      `${secondly.getBucketId(line, ctx)}/k=${Number(line.split("-")[1]) % 3}`,
  };
  env.readTextFile(input).uid("lines").rebalance()
    .addSink(
      new ExactlyOnceFileSink<string>({
        dir: output,
        // Parts of a few KiB: many roll between two checkpoints, by size and by age.
        rollingPolicy: { maxPartBytes: 4096, rolloverIntervalMs: 10 },
        ...(values.bucketed ? { bucketAssigner } : {}),
      }),
      { uid: "sink" },
    );
  await env.execute("rolling file sink");
}

if (import.meta.main) await runMain("rolling_file_sink_job", main);
