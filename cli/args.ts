/**
 * Flag parsing for the CLI commands on `node:util` `parseArgs`, with bad
 * usage reported as a one-line {@linkcode UsageError} (exit code 2).
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Bad usage: the CLI prints the message on one line and exits with 2. */
export class UsageError extends Error {
  /** The command whose help to point at (`"checkpoints list"`). */
  readonly command: string;
  /** Creates a usage error for `command`. */
  constructor(message: string, command: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A flag a command takes. */
export interface FlagSpec {
  /** `string` flags take a value; `boolean` flags do not. */
  readonly type: "string" | "boolean";
  /** One-letter alias. */
  readonly short?: string;
}

/** Parsed flags and positionals. */
export interface Parsed {
  /** Flag values by name. */
  readonly values: Record<string, string | boolean | undefined>;
  /** Positional arguments. */
  readonly positionals: string[];
  /** Whether `--help` / `-h` was given. */
  readonly help: boolean;
}

/**
 * Parses `args` strictly: an unknown flag, a missing value, a flag that takes a value given
 * twice or a wrong number of positionals throws a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCommand } from "./args.ts";
 * const p = parseCommand(["DIR", "--json"], "checkpoints list", { json: { type: "boolean" } }, ["DIR"]);
 * assert.ok(p.values.json === true && p.positionals[0] === "DIR");
 * assert.throws(() => parseCommand(["--nope"], "x", {}, []), /--nope/);
 * ```
 */
export function parseCommand(
  args: string[],
  command: string,
  flags: Record<string, FlagSpec>,
  positionals: string[],
): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...flags, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (e) {
    const message = String(e instanceof Error ? e.message : e);
    // A value starting with "-" (`--keep -1`) reads as another flag: say how to give it.
    const ambiguous = /^Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
    if (ambiguous) {
      const flag = ambiguous[1]!;
      const value = args[args.indexOf(flag) + 1] ?? "";
      throw new UsageError(
        `${flag} ${value}: a value that starts with "-" goes as ${flag}=${value}`,
        command,
      );
    }
    // node's messages are multi-line with hints; keep the first line.
    const first = message.split("\n")[0]!;
    throw new UsageError(first.replace(/\. To specify a positional.*$/, ""), command);
  }
  // parseArgs keeps the last value of a flag given twice (`--keep 3 --keep 1`): refuse it.
  const given = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== "option" || flags[t.name]?.type !== "string") continue;
    if (given.has(t.name)) {
      throw new UsageError(`--${t.name} is given more than once: give it once`, command);
    }
    given.add(t.name);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const help = values.help === true;
  if (!help) {
    if (parsed.positionals.length < positionals.length) {
      throw new UsageError(
        `missing ${positionals.slice(parsed.positionals.length).join(" ")}`,
        command,
      );
    }
    if (parsed.positionals.length > positionals.length) {
      throw new UsageError(
        `unexpected argument "${parsed.positionals[positionals.length]}"`,
        command,
      );
    }
  }
  return { values, positionals: parsed.positionals, help };
}

/**
 * A required string flag's value, or a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireFlag } from "./args.ts";
 * assert.equal(requireFlag({ values: { url: "http://x" }, positionals: [], help: false }, "url", "savepoint"), "http://x");
 * ```
 */
export function requireFlag(p: Parsed, name: string, command: string): string {
  const v = p.values[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is required`, command);
  return v;
}

/**
 * The required `--job` id: 32 hexadecimal digits (Flink's job id, as `weir jobs list`
 * prints it and the admin API takes it), in lower case (Flink's CLI takes either case), or a
 * {@linkcode UsageError}, before any request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobIdFlag } from "./args.ts";
 * const id = "0123456789abcdef0123456789abcdef";
 * assert.equal(jobIdFlag({ values: { job: id }, positionals: [], help: false }, "cancel"), id);
 * const upper = { values: { job: id.toUpperCase() }, positionals: [], help: false };
 * assert.equal(jobIdFlag(upper, "cancel"), id);
 * assert.throws(() => jobIdFlag({ values: { job: "xyz" }, positionals: [], help: false }, "cancel"), /--job must be/);
 * ```
 */
export function jobIdFlag(p: Parsed, command: string): string {
  const job = requireFlag(p, "job", command);
  if (!/^[0-9a-f]{32}$/i.test(job)) {
    throw new UsageError(
      `--job must be a job id, 32 hexadecimal digits (see weir jobs list), got "${job}"`,
      command,
    );
  }
  return job.toLowerCase();
}

/**
 * The required `--url` of a running job's admin API, without a trailing
 * slash; a value that is not an http(s) URL is a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adminUrlFlag } from "./args.ts";
 * const p = { values: { url: "http://127.0.0.1:8081/" }, positionals: [], help: false };
 * assert.equal(adminUrlFlag(p, "jobs list"), "http://127.0.0.1:8081");
 * assert.throws(() => adminUrlFlag({ ...p, values: { url: "notaurl" } }, "jobs list"), /--url must be/);
 * ```
 */
export function adminUrlFlag(p: Parsed, command: string): string {
  const url = requireFlag(p, "url", command);
  if (!/^https?:\/\//.test(url) || !URL.canParse(url)) {
    throw new UsageError(
      `--url must be the admin API's URL, such as http://127.0.0.1:8081, got "${url}"`,
      command,
    );
  }
  return url.replace(/\/+$/, "");
}

/**
 * An optional number flag of at least `min` (0 unless given), or a {@linkcode UsageError}
 * that states the accepted range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { numberFlag } from "./args.ts";
 * assert.equal(numberFlag({ values: { keep: "3" }, positionals: [], help: false }, "keep", "gc", true), 3);
 * assert.throws(
 *   () => numberFlag({ values: { keep: "0" }, positionals: [], help: false }, "keep", "gc", true, 1),
 *   /--keep must be an integer of at least 1, got "0"/,
 * );
 * ```
 */
export function numberFlag(
  p: Parsed,
  name: string,
  command: string,
  integer: boolean,
  min = 0,
): number | undefined {
  const v = p.values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (
    typeof v !== "string" || v.trim() === "" || !(n >= min) || (integer && !Number.isInteger(n))
  ) {
    const kind = integer ? "integer" : "number";
    throw new UsageError(
      min === 0
        ? `--${name} must be a non-negative ${kind}, got "${v}"`
        : `--${name} must be ${integer ? "an" : "a"} ${kind} of at least ${min}, got "${v}"`,
      command,
    );
  }
  return n;
}
