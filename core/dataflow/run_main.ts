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
 * import { runMain, StreamEnvironment } from "@weir/weir";
 * if (import.meta.main) {
 *   await runMain("my_job", async (args) => {
 *     const { env } = StreamEnvironment.fromArgs(args);
 *     env.fromElements(1, 2, 3).print();
 *     await env.execute("my job");
 *   });
 * }
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
