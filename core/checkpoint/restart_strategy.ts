/**
 * Restart strategies, as Flink's: what to do when a job fails. Pure: a
 * decision from the failure history and the clock.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * A restart strategy and its Flink parameters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RestartStrategy, StreamEnvironment } from "@weir/weir";
 * const restartStrategy: RestartStrategy = { kind: "fixed-delay", attempts: 3, delayMs: 100 };
 * const env = StreamEnvironment.create({ restartStrategy });
 * assert.deepEqual(env.config.restartStrategy, restartStrategy);
 * ```
 */
export type RestartStrategy =
  | { readonly kind: "none" }
  | { readonly kind: "fixed-delay"; readonly attempts: number; readonly delayMs: number }
  | {
    readonly kind: "failure-rate";
    readonly maxFailuresPerInterval: number;
    readonly intervalMs: number;
    readonly delayMs: number;
  }
  | {
    readonly kind: "exponential-delay";
    readonly initialBackoffMs: number;
    readonly maxBackoffMs: number;
    readonly backoffMultiplier: number;
    readonly resetBackoffThresholdMs: number;
    readonly jitterFactor: number;
    /** Restarts allowed since the backoff last reset (Flink's `attempts-before-reset-backoff`). */
    readonly attempts: number;
  };

/** The decision. */
export type RestartDecision =
  | { readonly restart: true; readonly delayMs: number }
  | { readonly restart: false; readonly reason: string };

/**
 * Decides whether to restart after a failure at `now`. `failures` are the
 * times of every failure so far, this one last.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decideRestart } from "./restart_strategy.ts";
 * const s = { kind: "fixed-delay", attempts: 2, delayMs: 100 } as const;
 * assert.ok(decideRestart(s, [0], 0).restart === true);
 * assert.ok(decideRestart(s, [0, 1, 2], 2).restart === false);
 * ```
 */
export function decideRestart(
  strategy: RestartStrategy,
  failures: readonly number[],
  now: number,
  random: () => number = Math.random,
): RestartDecision {
  const n = failures.length;
  switch (strategy.kind) {
    case "none":
      return { restart: false, reason: "the restart strategy is none" };
    case "fixed-delay":
      return n <= strategy.attempts
        ? { restart: true, delayMs: strategy.delayMs }
        : { restart: false, reason: `fixed-delay allows ${strategy.attempts} restarts` };
    case "failure-rate": {
      const recent = failures.filter((t) => t > now - strategy.intervalMs).length;
      return recent <= strategy.maxFailuresPerInterval
        ? { restart: true, delayMs: strategy.delayMs }
        : {
          restart: false,
          reason:
            `${recent} failures within ${strategy.intervalMs} ms exceed ${strategy.maxFailuresPerInterval}`,
        };
    }
    case "exponential-delay": {
      // As Flink's (with `attempts-before-reset-backoff`): a failure later than the threshold
      // after the previous restart (the previous failure and its backoff) starts the backoff
      // again, and the attempts count since then only. The previous backoff is taken without
      // its jitter, which is not kept.
      const { initialBackoffMs: initial, maxBackoffMs: max, backoffMultiplier: factor } = strategy;
      const backoff = (attempt: number) => initial * factor ** attempt;
      let attempt = 0;
      for (let i = 1; i < n; i++) {
        const previous = Math.max(initial, Math.min(max, backoff(attempt)));
        if (failures[i]! - failures[i - 1]! >= strategy.resetBackoffThresholdMs + previous) {
          attempt = 0;
        } else attempt++;
      }
      if (attempt >= strategy.attempts) {
        return {
          restart: false,
          reason:
            `exponential-delay allows ${strategy.attempts} restarts before its backoff resets`,
        };
      }
      // Jitter on the uncapped backoff, then the cap: at the cap the delay is the cap.
      const base = backoff(attempt);
      const jitter = Number.isFinite(base) ? base * strategy.jitterFactor * (random() * 2 - 1) : 0;
      return {
        restart: true,
        delayMs: Math.max(initial, Math.min(max, Math.round(base + jitter))),
      };
    }
  }
}

/**
 * Checks a strategy's parameters; throws `ConfigError` naming a bad one.
 *
 * @example
 * ```ts
 * import { checkRestartStrategy } from "./restart_strategy.ts";
 * checkRestartStrategy({ kind: "fixed-delay", attempts: 3, delayMs: 10 });
 * ```
 */
export function checkRestartStrategy(s: RestartStrategy): void {
  const nonNegative = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v >= 0)) {
      throw new ConfigError(`Restart strategy ${s.kind}: ${name} must be a number ≥ 0, got ${v}`);
    }
  };
  const unknown = () =>
    new ConfigError(
      `restartStrategy must be { kind: "none" | "fixed-delay" | "failure-rate" | ` +
        `"exponential-delay", ... }, got ${JSON.stringify(s)}`,
    );
  if (typeof s !== "object" || s === null) throw unknown();
  switch (s.kind) {
    case "none":
      return;
    case "fixed-delay":
      nonNegative("attempts", s.attempts);
      nonNegative("delayMs", s.delayMs);
      return;
    case "failure-rate":
      nonNegative("maxFailuresPerInterval", s.maxFailuresPerInterval);
      nonNegative("intervalMs", s.intervalMs);
      nonNegative("delayMs", s.delayMs);
      return;
    case "exponential-delay":
      nonNegative("initialBackoffMs", s.initialBackoffMs);
      nonNegative("maxBackoffMs", s.maxBackoffMs);
      nonNegative("resetBackoffThresholdMs", s.resetBackoffThresholdMs);
      nonNegative("attempts", s.attempts);
      if (!(s.backoffMultiplier >= 1)) {
        throw new ConfigError(`Restart strategy exponential-delay: backoffMultiplier must be ≥ 1`);
      }
      if (!(s.jitterFactor >= 0 && s.jitterFactor <= 1)) {
        throw new ConfigError(`Restart strategy exponential-delay: jitterFactor must be in 0..1`);
      }
      return;
  }
  throw unknown();
}

/**
 * Flink's exponential-delay defaults: 1 s doubling to 60 s, ±10 % jitter, reset
 * after 1 h without failures, unlimited attempts. Failures no restart can fix
 * still end the job (see `classifyFailure` in `failure_classifier.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_EXPONENTIAL_DELAY, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create({ checkpoint: { dir: "/tmp/ckpt" } });
 * // With checkpointing and no strategy given, failed jobs restart with these defaults.
 * assert.deepEqual(env.config.restartStrategy, DEFAULT_EXPONENTIAL_DELAY);
 * ```
 */
export const DEFAULT_EXPONENTIAL_DELAY: RestartStrategy = {
  kind: "exponential-delay",
  initialBackoffMs: 1000,
  maxBackoffMs: 60_000,
  backoffMultiplier: 2,
  resetBackoffThresholdMs: 3_600_000,
  jitterFactor: 0.1,
  attempts: Number.MAX_SAFE_INTEGER,
};
