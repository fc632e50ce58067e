/**
 * The entry point helper of job scripts.
 *
 * @module
 */
import { WeirError } from "../errors.ts";
import { exitStatusOf } from "../exit_status.ts";

/**
 * Runs a job script's `main(Deno.args)` (what it resolves to is ignored).
 * A weir error (a wrong or missing flag, a missing input file, a snapshot
 * that cannot be restored, a job that failed for good, a job cancelled through
 * the admin API: `name: Job "…" was cancelled`) is printed as one
 * line `name: message` and the process exits with a documented code (see
 * `exitStatusOf`): 2 for a `ConfigError` (bad usage or configuration), 1 for
 * any other. Any other error is a bug and propagates with its stack trace.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, runMain, StreamEnvironment } from "@weir/weir";
 * // A script calls `if (import.meta.main) await runMain("my_job", main)`: main gets Deno.args.
 * const out = new CollectSink<number>();
 * async function main(args: string[]) {
 *   const { env } = StreamEnvironment.fromArgs(args, {}, { executor: "inline" });
 *   env.fromElements(1, 2, 3).map((n) => n * env.config.parallelism).addSink(out);
 *   await env.execute("my job");
 * }
 * await runMain("my_job", main, ["--parallelism", "2"]);
 * assert.deepEqual(out.values.toSorted(), [2, 4, 6]);
 * // Only weir errors become an exit code: any other is a bug and reaches the caller.
 * await assert.rejects(runMain("my_job", () => Promise.reject(new TypeError("bug")), []), TypeError);
 * ```
 */
export async function runMain(
  name: string,
  main: (args: string[]) => Promise<unknown>,
  args: string[] = Deno.args,
): Promise<void> {
  try {
    await main(args);
  } catch (e) {
    if (!(e instanceof WeirError)) throw e;
    const { code, message } = exitStatusOf(e);
    console.error(`${name}: ${message}`);
    Deno.exit(code);
  }
}
