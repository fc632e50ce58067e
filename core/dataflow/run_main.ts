/**
 * The entry point helper of job scripts.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * Runs a job script's `main(Deno.args)`: a `ConfigError` (a wrong or missing
 * flag) is printed as one line `name: message` and exits with code 2, as a
 * command line tool does for bad usage; any other error propagates.
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
  main: (args: string[]) => Promise<void>,
  args: string[] = Deno.args,
): Promise<void> {
  try {
    await main(args);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`${name}: ${e.message}`);
    Deno.exit(2);
  }
}
