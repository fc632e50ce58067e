/**
 * The executor and parallelism a job gets when its config leaves them open.
 *
 * As Flink's local environment, a job started as a script gets one subtask
 * per core, run on the worker executor. A job started inside `deno test`
 * keeps a single inline subtask: the worker executor's workers import
 * the main module again, and under the test runner that is the test file,
 * not the job (and the test driver's runs must stay deterministic).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { ExecutorKind } from "../runtime/job.ts";
import { workerIndex } from "../runtime/_worker_role.ts";

/**
 * The largest default parallelism: the largest whose default max parallelism
 * is still 128, Flink's lower bound. Flink takes a restored savepoint's max
 * parallelism when none is configured; weir cannot change a checkpoint's key
 * groups, so the default parallelism must not change them from one machine to
 * another: a checkpoint taken without `--parallelism` on a 96-core machine
 * then restores on a 2-core one, and the other way round.
 */
export const DEFAULT_PARALLELISM_CAP = 85;

/** What the machine and the way the process was started allow. */
export interface ExecutionSite {
  /** `navigator.hardwareConcurrency`. */
  readonly cores: number;
  /** Whether workers can import the main module as the job (a script, not under `deno test`). */
  readonly workersPossible: boolean;
  /**
   * When workers are not possible only for want of read permission: the paths
   * they would need to read (the script, weir's folder), comma-separated.
   */
  readonly unreadable?: string | undefined;
}

/**
 * Whether this process runs under `deno test`. Outside it, `Deno.test` is a
 * no-op (`noopTest`); if Deno renamed it, jobs would run inline by default,
 * as they did before workers were the default.
 */
export function underTestRunner(): boolean {
  return Deno.test.name !== "noopTest";
}

/**
 * Whether workers can import `url` (the main module, weir's folder) again: a
 * file or folder that `readable` says they may read (a worker needs read
 * permission for its modules, the main thread does not) or a URL; not the
 * code of `deno eval`, standard input or the REPL.
 */
export function importableByWorkers(
  url: string,
  readable: (path: string) => boolean = canRead,
): boolean {
  if (/\/\$deno\$[a-z]+\.m?ts$/.test(url)) return false;
  if (url.startsWith("file:")) return readable(fileURLToPath(url));
  return /^https?:/.test(url);
}

function canRead(path: string): boolean {
  return Deno.permissions.querySync({ name: "read", path }).state === "granted";
}

/**
 * This thread's execution site. In a worker of the worker executor (which has
 * no `Deno.mainModule`) workers are possible by definition: it must resolve
 * the defaults as the main thread that started it did.
 */
export function currentSite(): ExecutionSite {
  const cores = navigator.hardwareConcurrency;
  if (workerIndex !== undefined) return { cores, workersPossible: true };
  const mainModule = Deno.mainModule as string | undefined;
  // Under `deno test`, `deno eval`, standard input or the REPL there is no job script to import.
  const anyPath = () => true;
  if (underTestRunner() || mainModule === undefined || !importableByWorkers(mainModule, anyPath)) {
    return { cores, workersPossible: false };
  }
  const unreadable = [mainModule, WEIR_ROOT].filter((url) => !importableByWorkers(url));
  return unreadable.length === 0
    ? { cores, workersPossible: true }
    : { cores, workersPossible: false, unreadable: unreadable.map((u) => fileURLToPath(u)).join() };
}

/** weir's own folder (or URL): workers import it too, so they need to read it. */
const WEIR_ROOT = new URL("../../", import.meta.url).href;

/**
 * The parallelism and executor for what `given` leaves open: an explicit
 * value always wins. Without a parallelism, a job that may run on workers gets
 * one subtask per core (at most {@linkcode DEFAULT_PARALLELISM_CAP}), an
 * inline one 1; without an executor, a job at parallelism > 1 runs on workers
 * where workers are possible, inline otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultExecution } from "./_default_execution.ts";
 * const script = { cores: 8, workersPossible: true };
 * assert.deepEqual(defaultExecution({}, script), { parallelism: 8, executor: "workers" });
 * assert.deepEqual(defaultExecution({ parallelism: 1 }, script), { parallelism: 1, executor: "inline" });
 * const test = { cores: 8, workersPossible: false };
 * assert.deepEqual(defaultExecution({}, test), { parallelism: 1, executor: "inline" });
 * ```
 */
export function defaultExecution(
  given: {
    readonly parallelism?: number | undefined;
    readonly executor?: ExecutorKind | undefined;
  },
  site: ExecutionSite,
): { parallelism: number; executor: ExecutorKind } {
  const onWorkers = given.executor === "workers" ||
    (given.executor === undefined && site.workersPossible);
  const parallelism = given.parallelism ??
    (onWorkers ? Math.min(Math.max(site.cores, 1), DEFAULT_PARALLELISM_CAP) : 1);
  const executor = given.executor ??
    (site.workersPossible && parallelism > 1 ? "workers" : "inline");
  return { parallelism, executor };
}
