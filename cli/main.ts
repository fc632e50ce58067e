/**
 * The `weir` command line: `deno task weir <command>` or
 * `deno run -A jsr:@weir/weir/cli <command>`.
 *
 * ```
 * weir checkpoints list DIR            checkpoints and savepoints of a directory
 * weir checkpoints inspect PATH        operators, states, key groups, segments
 * weir checkpoints gc DIR|URL [--delete] delete what nothing references
 * weir state get PATH --operator UID --state NAME --key K
 * weir state dump PATH --operator UID (--state NAME | --timers) [--format jsonl|csv]
 * weir savepoint --url URL --job ID [--stop [--drain]]
 * weir jobs list --url URL             the jobs a running admin API serves
 * weir cancel --url URL --job ID       cancel a job (no savepoint)
 * weir ui --checkpoint-dir DIR         the dashboard of an ended job, read-only
 * ```
 * Exit codes: 0 ok, 1 failed (a missing or damaged checkpoint, a key
 * without value, an unreachable admin API), 2 bad usage.
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
import { exitStatusOf } from "../core/exit_status.ts";
import { UsageError } from "./args.ts";
import type { CliIo, Command } from "./command.ts";
import { checkpointsGc, checkpointsInspect, checkpointsList } from "./commands/checkpoints.ts";
import { cancel, jobsList } from "./commands/jobs.ts";
import { savepoint } from "./commands/savepoint.ts";
import { stateDump, stateGet } from "./commands/state.ts";
import { ui } from "./commands/ui.ts";
import { withDatabaseSnapshots } from "./database_snapshots.ts";

export type { CliIo, Command } from "./command.ts";

const COMMANDS: readonly Command[] = [
  checkpointsList,
  checkpointsInspect,
  checkpointsGc,
  stateGet,
  stateDump,
  savepoint,
  jobsList,
  cancel,
  ui,
];

function listing(commands: readonly Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n");
}

const USAGE = `weir ${denoJson.version}: a Deno-first stateful stream processor

Usage: weir <command> [options]

Commands:
${listing(COMMANDS)}
  ${"version".padEnd(Math.max(...COMMANDS.map((c) => c.name.length)))}  print the version

Run "weir <command> --help" for a command's options.

Options:
  -h, --help     show this help
  --version      print the version

Exit codes: 0 ok, 1 failed, 2 bad usage.`;

function groupUsage(group: string): string {
  return `Usage: weir ${group} <command> [options]

Commands:
${listing(COMMANDS.filter((c) => c.name.startsWith(`${group} `)))}

Run "weir ${group} <command> --help" for a command's options.`;
}

/** Finds the command `args` names; the rest are its arguments. */
function find(args: string[]): { command: Command; rest: string[] } | undefined {
  for (const c of COMMANDS) {
    const words = c.name.split(" ");
    if (words.every((w, i) => args[i] === w)) return { command: c, rest: args.slice(words.length) };
  }
  return undefined;
}

/**
 * Runs the CLI with `args`; returns the exit code (0 ok, 1 failed, 2 bad
 * usage). Bad usage prints one line to `err`.
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
export async function runCli(args: string[], io: CliIo): Promise<number> {
  const [first] = args;
  if (first === undefined) {
    io.err(USAGE);
    return 2;
  }
  if (first === "-h" || first === "--help") {
    io.out(USAGE);
    return 0;
  }
  if (first === "--version" || first === "version") {
    io.out(`weir ${denoJson.version}`);
    return 0;
  }
  if (first === "help") {
    if (args.length === 1) {
      io.out(USAGE);
      return 0;
    }
    return runCli([...args.slice(1), "--help"], io);
  }
  const found = find(args);
  const groups = new Set(
    COMMANDS.filter((c) => c.name.includes(" ")).map((c) => c.name.split(" ")[0]!),
  );
  if (!found) {
    if (groups.has(first)) {
      const sub = args[1];
      if (sub === "-h" || sub === "--help") {
        io.out(groupUsage(first));
        return 0;
      }
      io.err(
        sub === undefined
          ? `weir ${first}: missing command (see weir ${first} --help)`
          : `weir ${first}: unknown command "${sub}" (see weir ${first} --help)`,
      );
      return 2;
    }
    io.err(`weir: unknown command "${first}" (see weir --help)`);
    return 2;
  }
  try {
    return await withDatabaseSnapshots(
      found.command.name,
      found.rest,
      (rest) => found.command.run(rest, io),
    );
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`weir ${e.command}: ${e.message} (see weir ${e.command} --help)`);
      return 2;
    }
    // weir's, file system and other runtime errors: one readable line, no stack.
    const { code, message } = exitStatusOf(e);
    io.err(`weir: ${message}`);
    return code;
  }
}

/**
 * `deno task weir` runs in the repository; its task passes the caller's
 * directory (`INIT_CWD`) as `WEIR_CALLER_CWD` so relative paths on the
 * command line mean what the caller meant.
 */
function enterCallerDirectory(): void {
  const env = { name: "env", variable: "WEIR_CALLER_CWD" } as const;
  if (Deno.permissions.querySync(env).state !== "granted") return;
  const dir = Deno.env.get("WEIR_CALLER_CWD");
  if (dir) Deno.chdir(dir);
}

if (import.meta.main) {
  enterCallerDirectory();
  const code = await runCli(Deno.args, {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
  });
  Deno.exit(code);
}
