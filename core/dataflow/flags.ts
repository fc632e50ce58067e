/**
 * The common job flags every weir job honours (listed in the README),
 * parsed with `node:util`'s `parseArgs`. A job adds its own flags next to
 * them; a wrong flag is a `ConfigError` that names it.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";

/**
 * The state backends a job can select with `--state-backend`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJobFlags, type StateBackendName } from "@weir/weir";
 * const name: StateBackendName | undefined = parseJobFlags(["--state-backend", "heap"]).flags.stateBackend;
 * assert.equal(name, "heap");
 * ```
 */
export type StateBackendName = "heap" | "lsm";

/**
 * The parsed common flags.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type JobFlags, parseJobFlags } from "@weir/weir";
 * const flags: JobFlags = parseJobFlags(["--parallelism", "4", "--checkpoint-dir", "/tmp/c"]).flags;
 * assert.equal(flags.parallelism, 4);
 * assert.equal(flags.checkpointDir, "/tmp/c");
 * ```
 */
export interface JobFlags {
  /** `--parallelism N` (unset: one subtask per core on workers; 1 under `deno test`). */
  parallelism?: number;
  /**
   * `--max-parallelism N`: the number of key groups (unset: Flink's default for the
   * parallelism, at least 128, and on a restore the snapshot's). A checkpoint restores only with
   * the number it was taken with.
   */
  maxParallelism?: number;
  /** `--state-backend lsm|heap`. */
  stateBackend?: StateBackendName;
  /** `--checkpoint-dir DIR` (or `--checkpoint-storage file:DIR`). */
  checkpointDir?: string;
  /** `--checkpoint-storage postgres://…|redis://…`: checkpoints go to that database. */
  checkpointStorage?: string;
  /** `--checkpoint-interval MS`. */
  checkpointInterval?: number;
  /** `--mode exactly-once|at-least-once`. */
  mode?: "exactly-once" | "at-least-once";
  /** `--restore latest|PATH`. */
  restore?: string;
  /** `--allow-non-restored-state`. */
  allowNonRestoredState?: boolean;
  /** `--retained-checkpoints N`: completed checkpoints kept (1). */
  retainedCheckpoints?: number;
  /**
   * `--allow-duplicate-output`: let `--restore latest` fall back past damaged
   * checkpoints whose exactly-once output was committed (it is emitted again).
   */
  allowDuplicateOutput?: boolean;
  /** `--admin-port PORT` (0: a free port); the admin API is off without it. */
  adminPort?: number;
  /** `--admin-host HOST` (127.0.0.1). */
  adminHost?: string;
  /** `--admin-token TOKEN`: bearer token the admin API requires. */
  adminToken?: string;
  /** `--admin-insecure`: serve a non-loopback `--admin-host` without a token. */
  adminInsecure?: boolean;
  /** `--savepoint-dir DIR`: a further directory admin savepoint requests may write into. */
  savepointDir?: string;
  /** `--print-plan`: print the physical plan as JSON and exit without running. */
  printPlan?: boolean;
  /**
   * `--executor inline|workers`: run subtasks on this thread or on Web Workers
   * (unset: workers at parallelism > 1, except under `deno test`).
   */
  executor?: "inline" | "workers";
}

/**
 * Job-specific flag definitions, as `parseArgs` takes them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FlagOptions, parseJobFlags } from "@weir/weir";
 * // A job's own flags, parsed alongside the common ones.
 * const options: FlagOptions = { input: { type: "string" }, verbose: { type: "boolean" } };
 * const { values } = parseJobFlags(["--input", "in.txt", "--verbose"], options);
 * assert.deepEqual([values["input"], values["verbose"]], ["in.txt", true]);
 * ```
 */
export type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/**
 * Values of job-specific flags.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FlagValues, parseJobFlags } from "@weir/weir";
 * const values: FlagValues = parseJobFlags(["--top", "3"], { top: { type: "string" } }).values;
 * assert.equal(Number(values["top"]), 3);
 * ```
 */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What parseArgs reads of a flag's options. */
const FLAG_CONFIG = { type: true, multiple: true, short: true, default: true } as const;

const COMMON: FlagOptions = {
  "parallelism": { type: "string" },
  "max-parallelism": { type: "string" },
  "state-backend": { type: "string" },
  "checkpoint-dir": { type: "string" },
  "checkpoint-storage": { type: "string" },
  "checkpoint-interval": { type: "string" },
  "mode": { type: "string" },
  "restore": { type: "string" },
  "allow-non-restored-state": { type: "boolean" },
  "retained-checkpoints": { type: "string" },
  "allow-duplicate-output": { type: "boolean" },
  "admin-port": { type: "string" },
  "admin-host": { type: "string" },
  "admin-token": { type: "string" },
  "admin-insecure": { type: "boolean" },
  "savepoint-dir": { type: "string" },
  "print-plan": { type: "boolean" },
  "executor": { type: "string" },
};

/** Where `--checkpoint-storage` puts checkpoints. */
export type CheckpointStorageSpec =
  | { readonly kind: "file"; readonly dir: string }
  | { readonly kind: "postgres" | "redis"; readonly url: string };

/** The parameters a database URL takes: the job's name in the database. */
const STORAGE_URL_PARAMS = { job: true } as const;

/**
 * Parses `--checkpoint-storage file:DIR | postgres://… | redis://…`
 * (`redis:` alone: the server in `REDIS_URL`). Errors never repeat the value,
 * which may hold a password. A database URL's query parameters are `params`' (`job`; the
 * CLI's snapshot readers add `checkpoint` and `savepoint`): another name is a `ConfigError`
 * with the nearest one, as a misspelt option is (the stores drop the query, so `?jbo=wc`
 * would keep the checkpoints under the job's own name without a word).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCheckpointStorage } from "./flags.ts";
 * assert.deepEqual(parseCheckpointStorage("file:/tmp/c"), { kind: "file", dir: "/tmp/c" });
 * assert.equal(parseCheckpointStorage("postgres://u@h/db").kind, "postgres");
 * ```
 */
export function parseCheckpointStorage(
  spec: string,
  params: Readonly<Record<string, true>> = STORAGE_URL_PARAMS,
): CheckpointStorageSpec {
  if (spec.startsWith("file:")) {
    const dir = spec.slice("file:".length).replace(/^\/\/(?=\/)/, "");
    if (dir === "") throw new ConfigError("--checkpoint-storage file:DIR must name a directory");
    return { kind: "file", dir };
  }
  const scheme = /^([a-z]+):/.exec(spec)?.[1];
  if (scheme === "postgres" || scheme === "postgresql") {
    return { kind: "postgres", url: databaseUrl(spec, params) };
  }
  if (scheme === "redis" || scheme === "rediss") {
    let url = spec;
    if (/^rediss?:(\/\/)?$/.test(spec)) {
      url = Deno.env.get("REDIS_URL") ?? "";
      if (url === "") throw new ConfigError("--checkpoint-storage redis: needs REDIS_URL set");
    }
    return { kind: "redis", url: databaseUrl(url, params) };
  }
  throw new ConfigError(
    `--checkpoint-storage must be file:DIR, postgres://… or redis://…, got a value starting "${
      scheme ?? spec.slice(0, 8)
    }"`,
  );
}

/**
 * `url` when it parses as a URL whose query parameters are `params`'; else a ConfigError that
 * does not show it (it may hold a password).
 */
function databaseUrl(url: string, params: Readonly<Record<string, true>>): string {
  if (!URL.canParse(url)) {
    throw new ConfigError(
      `--checkpoint-storage is not a valid URL (scheme://user:password@host:port/path?job=NAME)`,
    );
  }
  const search = new URL(url).searchParams;
  const names = Object.fromEntries([...search.keys()].map((k) => [k, true]));
  checkOptionNames("The checkpoint storage URL's parameters", names, params);
  for (const name of Object.keys(names)) {
    // `?job=` would keep the checkpoints under an empty name, `?job=a&job=b` under the first.
    const values = search.getAll(name);
    if (values.length > 1 || values[0] === "") {
      throw new ConfigError(
        `The checkpoint storage URL's parameter ${name} must be given once, with a value`,
      );
    }
  }
  return url;
}

function positiveInt(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(`--${flag} must be a positive integer, got "${raw}"`);
  }
  return n;
}

function parseAdminFlags(v: FlagValues, flags: JobFlags): void {
  const port = v["admin-port"] as string | undefined;
  if (port !== undefined) {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n > 65535) {
      throw new ConfigError(
        `--admin-port must be a port number 0..65535 (0: any free port), got "${port}"`,
      );
    }
    flags.adminPort = n;
  }
  const host = v["admin-host"] as string | undefined;
  if (host !== undefined) {
    if (host === "") throw new ConfigError("--admin-host must name an interface");
    if (port === undefined) throw new ConfigError("--admin-host needs --admin-port");
    flags.adminHost = host;
  }
  const token = v["admin-token"] as string | undefined;
  if (token !== undefined) {
    if (token === "") throw new ConfigError("--admin-token must not be empty");
    if (port === undefined) throw new ConfigError("--admin-token needs --admin-port");
    flags.adminToken = token;
  }
  if (v["admin-insecure"] === true) {
    if (port === undefined) throw new ConfigError("--admin-insecure needs --admin-port");
    flags.adminInsecure = true;
  }
  const savepointDir = v["savepoint-dir"] as string | undefined;
  if (savepointDir !== undefined) {
    if (savepointDir === "") throw new ConfigError("--savepoint-dir must name a directory");
    if (port === undefined) throw new ConfigError("--savepoint-dir needs --admin-port");
    flags.savepointDir = savepointDir;
  }
}

/**
 * Parses the common flags plus a job's own `options` from `args`. A flag's options are
 * `parseArgs`' (`type`, `multiple`, `short`, `default`); another name is a `ConfigError`. A
 * flag that takes a value, and is not `multiple`, given twice is a `ConfigError` naming it
 * (`parseArgs` would keep the last value).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJobFlags } from "@weir/weir";
 * const { flags, values } = parseJobFlags(
 *   ["--parallelism", "2", "--input", "words.txt"],
 *   { input: { type: "string" } },
 * );
 * assert.ok(flags.parallelism === 2 && values.input === "words.txt");
 * ```
 */
export function parseJobFlags(
  args: string[],
  options: FlagOptions = {},
): { flags: JobFlags; values: FlagValues } {
  for (const [name, config] of Object.entries(options)) {
    if (name in COMMON) throw new ConfigError(`Job flag --${name} clashes with a common flag`);
    // parseArgs ignores a name it does not know: a misspelt `multiple` keeps the last value only.
    checkOptionNames(`Job flag --${name}`, config, FLAG_CONFIG);
  }
  const all = { ...COMMON, ...options };
  // `--parallelism -1`: parseArgs takes a value that starts with "-" for a flag, and says the
  // argument is ambiguous; joined, the value reaches the checks that name what is wrong with it.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!, next = args[i + 1];
    const takesValue = a.startsWith("--") && all[a.slice(2)]?.type === "string";
    if (takesValue && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${a}=${next}`);
      i++;
    } else joined.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options: all, strict: true, tokens: true });
  } catch (e) {
    throw new ConfigError(`Bad job flags: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
  // parseArgs keeps the last value of a flag given twice: `--parallelism 2 --parallelism 3` would
  // drop the 2 without a word. The error leaves out the values (a token or a password URL).
  const given = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== "option" || all[t.name]?.type !== "string" || all[t.name]?.multiple) continue;
    if (given.has(t.name)) {
      throw new ConfigError(
        `Job flag --${t.name} is given more than once: it takes one value, give it once`,
      );
    }
    given.add(t.name);
  }
  const v = parsed.values as FlagValues;
  const flags: JobFlags = {};
  const parallelism = positiveInt("parallelism", v["parallelism"] as string | undefined);
  if (parallelism !== undefined) flags.parallelism = parallelism;
  const maxParallelism = positiveInt("max-parallelism", v["max-parallelism"] as string | undefined);
  if (maxParallelism !== undefined) flags.maxParallelism = maxParallelism;
  const backend = v["state-backend"] as string | undefined;
  if (backend !== undefined) {
    if (backend !== "heap" && backend !== "lsm") {
      throw new ConfigError(`--state-backend must be lsm or heap, got "${backend}"`);
    }
    flags.stateBackend = backend;
  }
  let dir = v["checkpoint-dir"] as string | undefined;
  if (dir !== undefined) {
    if (dir === "") throw new ConfigError("--checkpoint-dir must name a directory");
    flags.checkpointDir = dir;
  }
  const storage = v["checkpoint-storage"] as string | undefined;
  if (storage !== undefined) {
    const where = parseCheckpointStorage(storage);
    if (where.kind === "file") {
      if (dir !== undefined) {
        throw new ConfigError(
          "Give --checkpoint-dir DIR or --checkpoint-storage file:DIR, not both",
        );
      }
      flags.checkpointDir = where.dir;
    } else {
      // With a database, --checkpoint-dir (optional) names the local working copy.
      flags.checkpointStorage = storage;
    }
    dir ??= storage;
  }
  const interval = positiveInt(
    "checkpoint-interval",
    v["checkpoint-interval"] as string | undefined,
  );
  if (interval !== undefined) {
    if (dir === undefined) throw new ConfigError("--checkpoint-interval needs --checkpoint-dir");
    flags.checkpointInterval = interval;
  }
  const mode = v["mode"] as string | undefined;
  if (mode !== undefined) {
    if (mode !== "exactly-once" && mode !== "at-least-once") {
      throw new ConfigError(`--mode must be exactly-once or at-least-once, got "${mode}"`);
    }
    if (dir === undefined) throw new ConfigError("--mode needs --checkpoint-dir");
    flags.mode = mode;
  }
  const restore = v["restore"] as string | undefined;
  if (restore !== undefined) {
    if (restore === "") throw new ConfigError("--restore must be latest or a path");
    if (restore === "latest" && dir === undefined) {
      throw new ConfigError("--restore latest needs --checkpoint-dir");
    }
    flags.restore = restore;
  }
  if (v["allow-non-restored-state"] === true) flags.allowNonRestoredState = true;
  if (v["print-plan"] === true) flags.printPlan = true;
  const executor = v["executor"] as string | undefined;
  if (executor !== undefined) {
    if (executor !== "inline" && executor !== "workers") {
      throw new ConfigError(`--executor must be inline or workers, got "${executor}"`);
    }
    flags.executor = executor;
  }
  const retained = positiveInt(
    "retained-checkpoints",
    v["retained-checkpoints"] as string | undefined,
  );
  if (retained !== undefined) {
    if (dir === undefined) throw new ConfigError("--retained-checkpoints needs --checkpoint-dir");
    flags.retainedCheckpoints = retained;
  }
  if (v["allow-duplicate-output"] === true) {
    if (dir === undefined) throw new ConfigError("--allow-duplicate-output needs --checkpoint-dir");
    flags.allowDuplicateOutput = true;
  }
  parseAdminFlags(v, flags);
  const values: FlagValues = {};
  for (const name of Object.keys(options)) values[name] = v[name];
  return { flags, values };
}
