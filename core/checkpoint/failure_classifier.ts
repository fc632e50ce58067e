/**
 * Failure classification: whether a failed attempt is worth another one.
 * Pure: a decision from the failures so far, the restart strategy and the
 * clock. A configuration error, or the same failure again and again from the
 * same restored snapshot, cannot succeed however often the job restarts, so
 * it ends the job; anything else is left to the restart strategy.
 *
 * @module
 */
import { type RestartDecision, type RestartStrategy, RestartTracker } from "./restart_strategy.ts";

/**
 * One failed attempt as the classifier sees it (and as `JobClient.failures`
 * lists the restart history).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AttemptFailure } from "@weir/weir";
 * const f: AttemptFailure = {
 *   at: 1000, signature: "task map (1/2): boom", restoredFrom: undefined, configError: false,
 * };
 * assert.equal(f.configError, false);
 * ```
 */
export interface AttemptFailure {
  /** When it failed (ms). */
  readonly at: number;
  /** What failed: the task and the error message (same failure, same signature). */
  readonly signature: string;
  /** The task that failed, when one did (not for a failure of the job as a whole). */
  readonly taskName?: string;
  /** The thread it failed on (`main` or `weir-worker/<i>`), when known. */
  readonly taskManagerId?: string;
  /**
   * The name of the error that failed it (`Error`, `TypeError`, a weir error's), when it was
   * one: as Flink's exception history names the failure's exception class.
   */
  readonly errorName?: string;
  /** That error's stack trace, as it was thrown (in its worker, on the worker executor). */
  readonly stack?: string;
  /** The snapshot (checkpoint or savepoint folder) the attempt restored, or undefined. */
  readonly restoredFrom: string | undefined;
  /**
   * A `ConfigError` (or an `IncompatibleStateError`: the job's state does not
   * fit the snapshot) caused it: a restart cannot fix it.
   */
  readonly configError: boolean;
}

/**
 * What {@linkcode classifyFailure} compares of two failures: the message,
 * with the names of segment files (new in every attempt: a random run id)
 * and of the LSM backend's working folders (`weir-lsm-<random>`, one per
 * keyed backend) made alike, so that writing a segment failing again the
 * same way is the same failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failureSignature } from "./failure_classifier.ts";
 * assert.equal(
 *   failureSignature("writing segment /tmp/weir-lsm-0f3a/c6bd6921-00000001.seg failed: No space"),
 *   failureSignature("writing segment /tmp/weir-lsm-77b1/76931e0d-00000001.seg failed: No space"),
 * );
 * assert.notEqual(failureSignature("task a: boom"), failureSignature("task b: boom"));
 * ```
 */
export function failureSignature(message: string): string {
  return message.replace(/\.?h?[0-9a-f]{8}-\d{8}\.seg(\.tmp)?/g, "<segment>")
    .replace(/weir-lsm-[0-9A-Za-z]+/g, "weir-lsm-<folder>");
}

/** How failures are judged. */
export interface FailurePolicy {
  /** What to do with failures that may be transient. */
  readonly strategy: RestartStrategy;
  /**
   * The same failure this many times in a row, each from an attempt that
   * restored the same snapshot (or none), is deterministic: the job stops.
   */
  readonly repeatedFailureLimit: number;
}

/** The default of {@linkcode FailurePolicy.repeatedFailureLimit}. */
export const DEFAULT_REPEATED_FAILURE_LIMIT = 3;

/**
 * Decides whether to restart after the last of `failures` (in order, this
 * one last). `failures` may be only the newest ones (as many as
 * `repeatedFailureLimit`, at least) when `restarts` has recorded every one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifyFailure } from "./failure_classifier.ts";
 * const policy = {
 *   strategy: { kind: "fixed-delay", attempts: 100, delayMs: 0 },
 *   repeatedFailureLimit: 2,
 * } as const;
 * const f = { at: 0, signature: "parse: bad line", restoredFrom: "chk-4", configError: false };
 * assert.equal(classifyFailure([f], policy, 0).restart, true);
 * assert.equal(classifyFailure([f, f], policy, 0).restart, false);
 * ```
 */
export function classifyFailure(
  failures: readonly AttemptFailure[],
  policy: FailurePolicy,
  now: number,
  random: () => number = Math.random,
  restarts: RestartTracker = trackerOf(policy.strategy, failures),
): RestartDecision {
  const last = failures.at(-1);
  if (!last) throw new RangeError("classifyFailure needs at least one failure");
  if (last.configError) {
    return { restart: false, reason: "a configuration error is not fixed by a restart" };
  }
  let repeats = 0;
  const signature = failureSignature(last.signature);
  for (let i = failures.length - 1; i >= 0; i--) {
    const f = failures[i]!;
    if (failureSignature(f.signature) !== signature || f.restoredFrom !== last.restoredFrom) break;
    repeats++;
  }
  if (repeats >= policy.repeatedFailureLimit) {
    const from = last.restoredFrom === undefined
      ? "starting without a checkpoint"
      : `restoring ${last.restoredFrom}`;
    return {
      restart: false,
      reason: `the same failure happened ${repeats} times in a row, each after ${from}; ` +
        `it is deterministic`,
    };
  }
  return restarts.decide(now, random);
}

function trackerOf(strategy: RestartStrategy, failures: readonly AttemptFailure[]): RestartTracker {
  const t = new RestartTracker(strategy);
  for (const f of failures) t.record(f.at);
  return t;
}
