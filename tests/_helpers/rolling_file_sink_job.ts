/**
 * A crash-test job for the exactly-once file sink's rolling: reads FILE
 * (one record per line), rebalances it over the sink's subtasks and writes
 * every line to DIR, rolling parts within checkpoints by size and by age.
 *
 *   deno run -A tests/_helpers/crash.ts tests/_helpers/rolling_file_sink_job.ts \
 *     --input FILE --output DIR [common flags]
 *
 * @module
 */
import { ConfigError, ExactlyOnceFileSink, runMain, StreamEnvironment } from "../../mod.ts";

/** Builds and runs the job with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    input: { type: "string" },
    output: { type: "string" },
  });
  const input = values.input as string | undefined;
  const output = values.output as string | undefined;
  if (!input || !output) throw new ConfigError("--input FILE and --output DIR are required");
  env.readTextFile(input).uid("lines").rebalance()
    .addSink(
      new ExactlyOnceFileSink<string>({
        dir: output,
        // Parts of a few KiB: many roll between two checkpoints, by size and by age.
        rollingPolicy: { maxPartBytes: 4096, rolloverIntervalMs: 10 },
      }),
      { uid: "sink" },
    );
  await env.execute("rolling file sink");
}

if (import.meta.main) await runMain("rolling_file_sink_job", main);
