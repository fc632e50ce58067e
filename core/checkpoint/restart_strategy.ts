/**
 * Restart strategies, as Flink's: what to do when a job fails. Pure: a
 * decision from the failure history and the clock.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";

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
  const tracker = new RestartTracker(strategy);
  for (const at of failures) tracker.record(at);
  return tracker.decide(now, random);
}

/**
 * What a restart strategy needs of the failures so far, in memory that does
 * not grow with them (as Flink's strategies: a count, the failures of one
 * interval, the current backoff): a job that restarts for months keeps a
 * few numbers. {@linkcode decideRestart} over every failure decides the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RestartTracker } from "./restart_strategy.ts";
 * const t = new RestartTracker({ kind: "fixed-delay", attempts: 1, delayMs: 5 });
 * t.record(0);
 * assert.deepEqual(t.decide(0), { restart: true, delayMs: 5 });
 * t.record(1);
 * assert.equal(t.decide(1).restart, false);
 * ```
 */
export class RestartTracker {
  readonly #strategy: RestartStrategy;
  /** Failures so far. */
  #count = 0;
  /** failure-rate: the newest failure times, no more than can decide (one over the maximum). */
  readonly #recent: number[] = [];
  /** exponential-delay: restarts since the backoff last reset, and the previous failure. */
  #attempt = 0;
  #previous = 0;

  /** A tracker of `strategy` with no failures yet. */
  constructor(strategy: RestartStrategy) {
    this.#strategy = strategy;
  }

  /** Records a failure at `at` (ms; failures in time order). */
  record(at: number): void {
    const s = this.#strategy;
    if (s.kind === "failure-rate") {
      this.#recent.push(at);
      // More than the maximum within an interval stops the job however many more there are.
      if (this.#recent.length > s.maxFailuresPerInterval + 1) this.#recent.shift();
    } else if (s.kind === "exponential-delay" && this.#count > 0) {
      // As Flink's (with `attempts-before-reset-backoff`): a failure later than the threshold
      // after the previous restart (the previous failure and its backoff) starts the backoff
      // again, and the attempts count since then only. The previous backoff is taken without
      // its jitter, which is not kept.
      const previous = Math.max(
        s.initialBackoffMs,
        Math.min(s.maxBackoffMs, backoffOf(s, this.#attempt)),
      );
      if (at - this.#previous >= s.resetBackoffThresholdMs + previous) this.#attempt = 0;
      else this.#attempt++;
    }
    this.#previous = at;
    this.#count++;
  }

  /** Whether to restart after the latest recorded failure, at `now`. */
  decide(now: number, random: () => number = Math.random): RestartDecision {
    const strategy = this.#strategy;
    switch (strategy.kind) {
      case "none":
        return { restart: false, reason: "the restart strategy is none" };
      case "fixed-delay":
        return this.#count <= strategy.attempts
          ? { restart: true, delayMs: strategy.delayMs }
          : { restart: false, reason: `fixed-delay allows ${strategy.attempts} restarts` };
      case "failure-rate": {
        const recent = this.#recent.filter((t) => t > now - strategy.intervalMs).length;
        return recent <= strategy.maxFailuresPerInterval
          ? { restart: true, delayMs: strategy.delayMs }
          : {
            restart: false,
            reason:
              `${recent} failures within ${strategy.intervalMs} ms exceed ${strategy.maxFailuresPerInterval}`,
          };
      }
      case "exponential-delay": {
        const attempt = this.#attempt;
        if (attempt >= strategy.attempts) {
          return {
            restart: false,
            reason:
              `exponential-delay allows ${strategy.attempts} restarts before its backoff resets`,
          };
        }
        const { initialBackoffMs: initial, maxBackoffMs: max } = strategy;
        // Jitter on the uncapped backoff, then the cap: at the cap the delay is the cap.
        const base = backoffOf(strategy, attempt);
        const jitter = Number.isFinite(base)
          ? base * strategy.jitterFactor * (random() * 2 - 1)
          : 0;
        return {
          restart: true,
          delayMs: Math.max(initial, Math.min(max, Math.round(base + jitter))),
        };
      }
    }
  }
}

/** The uncapped backoff of restart `attempt` since the last reset. */
function backoffOf(
  s: Extract<RestartStrategy, { kind: "exponential-delay" }>,
  attempt: number,
): number {
  return s.initialBackoffMs * s.backoffMultiplier ** attempt;
}

/** Each kind's parameters: another name (a misspelt `delay`) would leave a parameter unset. */
const RESTART_PARAMETERS: Readonly<Record<string, Readonly<Record<string, true>>>> = {
  "none": { kind: true },
  "fixed-delay": { kind: true, attempts: true, delayMs: true },
  "failure-rate": { kind: true, maxFailuresPerInterval: true, intervalMs: true, delayMs: true },
  "exponential-delay": {
    kind: true,
    initialBackoffMs: true,
    maxBackoffMs: true,
    backoffMultiplier: true,
    resetBackoffThresholdMs: true,
    jitterFactor: true,
    attempts: true,
  },
};

/**
 * Checks a strategy's parameters; throws `ConfigError` naming a bad one, or one the kind does not
 * have (`{ kind: "none", attempts: 3 }`, a misspelt `delayMS`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "@weir/weir";
 * import { checkRestartStrategy } from "./restart_strategy.ts";
 * checkRestartStrategy({ kind: "fixed-delay", attempts: 3, delayMs: 10 });
 * assert.throws(
 *   () => checkRestartStrategy({ kind: "fixed-delay", attempts: 3, delayMs: -1 }),
 *   (e) => e instanceof ConfigError && /delayMs must be a number ≥ 0, got -1$/.test(e.message),
 * );
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
  if (typeof s.kind === "string" && Object.hasOwn(RESTART_PARAMETERS, s.kind)) {
    checkOptionNames(`Restart strategy ${s.kind}`, s, RESTART_PARAMETERS[s.kind]!);
  }
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
