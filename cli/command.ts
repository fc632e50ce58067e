/**
 * What every CLI command is: a name, help text and a run function over
 * {@linkcode CliIo}, so commands run in-process in tests.
 *
 * @module
 */

/**
 * Where the CLI writes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CliIo, runCli } from "@weir/weir/cli";
 * // Capture what a command prints instead of writing to the terminal.
 * const out: string[] = [];
 * const io: CliIo = { out: (l) => out.push(l), err: (l) => out.push(l) };
 * const dir = Deno.makeTempDirSync();
 * const code = await runCli(["checkpoints", "list", dir], io);
 * assert.equal(code, 0);
 * assert.deepEqual(out, [`No checkpoints or savepoints in ${dir}`]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface CliIo {
  /** Standard output, one line per call. */
  out(line: string): void;
  /** Standard error, one line per call. */
  err(line: string): void;
}

/**
 * One command (`checkpoints list`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Command } from "./command.ts";
 * const hello: Command = {
 *   name: "hello",
 *   summary: "say hello",
 *   help: "Usage: weir hello",
 *   run: (_args, io) => {
 *     io.out("hello");
 *     return Promise.resolve(0);
 *   },
 * };
 * assert.equal(await hello.run([], { out: () => {}, err: () => {} }), 0);
 * ```
 */
export interface Command {
  /** The words that name it, space-separated. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Runs it; resolves to the exit code. Throws `UsageError` for bad usage. */
  run(args: string[], io: CliIo): Promise<number>;
}
