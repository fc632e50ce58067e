/**
 * The `weir` command line: `deno task weir <command>` or
 * `deno run -A jsr:@weir/weir/cli <command>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCli } from "@weir/weir/cli";
 * const lines: string[] = [];
 * const code = await runCli(["--version"], { out: (l) => lines.push(l), err: () => {} });
 * assert.ok(code === 0 && lines[0]!.startsWith("weir "));
 * ```
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };

/** Where the CLI writes. */
export interface CliIo {
  /** Standard output, one line per call. */
  out(line: string): void;
  /** Standard error, one line per call. */
  err(line: string): void;
}

const USAGE = `weir ${denoJson.version}: a Deno-first stateful stream processor

Usage: weir <command> [options]

Commands:
  version        print the version

Options:
  -h, --help     show this help
  --version      print the version`;

/**
 * Runs the CLI with `args`; returns the exit code (0 ok, 2 bad usage).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCli } from "@weir/weir/cli";
 * const errors: string[] = [];
 * const code = await runCli(["nope"], { out: () => {}, err: (l) => errors.push(l) });
 * assert.ok(code === 2 && errors[0]!.includes("nope"));
 * ```
 */
export function runCli(args: string[], io: CliIo): Promise<number> {
  const [command] = args;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    io.out(USAGE);
    return Promise.resolve(command === undefined ? 2 : 0);
  }
  if (command === "--version" || command === "version") {
    io.out(`weir ${denoJson.version}`);
    return Promise.resolve(0);
  }
  io.err(`weir: unknown command "${command}" (see weir --help)`);
  return Promise.resolve(2);
}

if (import.meta.main) {
  const code = await runCli(Deno.args, {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
  });
  Deno.exit(code);
}
