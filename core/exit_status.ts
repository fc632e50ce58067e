/**
 * How a process built on weir ends when something fails: one line naming
 * the problem and a documented exit code. Job scripts (through `runMain`)
 * and the `weir` CLI both use it.
 *
 * | code | meaning                                                                                   |
 * | ---- | ----------------------------------------------------------------------------------------- |
 * | 0    | ok                                                                                        |
 * | 1    | failed: the job failed for good or was cancelled, a checkpoint is missing or damaged, ... |
 * | 2    | bad usage or configuration: a wrong flag, a missing input file, ...                       |
 *
 * @module
 */
import { ConfigError, WeirError } from "./errors.ts";

/** Exit code: everything went well. */
export const EXIT_OK = 0;
/** Exit code: the work failed (a job failed for good or was cancelled, a damaged checkpoint, ...). */
export const EXIT_FAILED = 1;
/** Exit code: bad usage or configuration (a wrong flag, a missing input, ...). */
export const EXIT_USAGE = 2;

/**
 * What to print and which code to exit with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, type ExitStatus, exitStatusOf } from "@weir/weir";
 * const status: ExitStatus = exitStatusOf(new CheckpointError("chk-3 is damaged"));
 * assert.deepEqual(status, { code: 1, message: "chk-3 is damaged" });
 * ```
 */
export interface ExitStatus {
  /** The exit code: {@linkcode EXIT_FAILED} or {@linkcode EXIT_USAGE}. */
  readonly code: number;
  /** One line that names the problem. */
  readonly message: string;
}

/**
 * The one-line message and exit code for an error: a `ConfigError` is bad
 * usage (2), any other error a failure (1). Errors weir did not throw on
 * purpose keep their class name in the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, exitStatusOf, JobFailedError } from "@weir/weir";
 * assert.deepEqual(exitStatusOf(new ConfigError("--input FILE is required")), {
 *   code: 2,
 *   message: "--input FILE is required",
 * });
 * assert.equal(exitStatusOf(new JobFailedError("Job failed:\n  bad line")).message, "Job failed: bad line");
 * assert.equal(exitStatusOf(new TypeError("x is undefined")).message, "TypeError: x is undefined");
 * ```
 */
export function exitStatusOf(error: unknown): ExitStatus {
  const text = error instanceof WeirError
    ? error.message
    : error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
  return {
    code: error instanceof ConfigError ? EXIT_USAGE : EXIT_FAILED,
    message: text.replace(/\s*\n\s*/g, " ").trim(),
  };
}
