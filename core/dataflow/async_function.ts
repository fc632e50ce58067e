/**
 * What async I/O calls per record ({@linkcode AsyncFunction}) and how it
 * retries ({@linkcode AsyncRetryStrategies}); see `AsyncDataStream`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";
import type { RichFunction } from "./functions.ts";

/**
 * An async function with a life cycle (Flink's RichAsyncFunction):
 * `asyncInvoke` resolves to the record's results (an array, empty for none);
 * `timeout` gives the results of a record whose call ran out of time (without
 * it a timeout fails the job). Keyed state is not available: results arrive
 * after the record's call has returned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncDataStream, CollectSink, type RichAsyncFunction, StreamEnvironment } from "@weir/weir";
 * const slowOrFast: RichAsyncFunction<number, string> = {
 *   asyncInvoke: (n, signal) =>
 *     new Promise((resolve) => {
 *       if (n !== 2) return resolve([`ok ${n}`]);
 *       // Never answers in time; the abort signal fires at the timeout.
 *       signal.addEventListener("abort", () => resolve([]));
 *     }),
 *   timeout: (n) => [`timeout ${n}`],
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * AsyncDataStream.orderedWait(env.fromElements(1, 2, 3), slowOrFast, 50, 10).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["ok 1", "timeout 2", "ok 3"]);
 * ```
 */
export interface RichAsyncFunction<IN, OUT> extends RichFunction {
  /** Starts the call for `input`; `signal` aborts when it times out or the job stops. */
  asyncInvoke(input: IN, signal: AbortSignal): Promise<readonly OUT[]>;
  /** The results of a record whose call timed out (synchronous); throw to fail the job. */
  timeout?(input: IN): readonly OUT[];
}

/**
 * The function async I/O calls per record: a plain async function (a
 * `fetch`, a database lookup) resolving to the record's results, or a
 * {@linkcode RichAsyncFunction}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AsyncFunction, AsyncDataStream, CollectSink, StreamEnvironment } from "@weir/weir";
 * const prices = new Map([["apple", 3], ["pear", 5]]);
 * const lookup: AsyncFunction<string, string> = async (fruit) => {
 *   await new Promise((r) => setTimeout(r, 1)); // a round trip
 *   return [`${fruit}=${prices.get(fruit)}`];
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * AsyncDataStream.unorderedWait(env.fromElements("apple", "pear"), lookup, 1000, 10).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values.sort(), ["apple=3", "pear=5"]);
 * ```
 */
export type AsyncFunction<IN, OUT> =
  | ((input: IN, signal: AbortSignal) => Promise<readonly OUT[]>)
  | RichAsyncFunction<IN, OUT>;

/**
 * When and how often a record's async call is made again. The timeout
 * covers every attempt of a record, as in Flink. Usually made with
 * {@linkcode AsyncRetryStrategies}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AsyncRetryStrategy } from "@weir/weir";
 * // Up to 2 retries, 10 ms then 20 ms apart, on network errors only.
 * const retry: AsyncRetryStrategy<string> = {
 *   maxRetries: 2,
 *   delayMs: (attempts) => 10 * attempts,
 *   retryOnError: (e) => e instanceof TypeError,
 * };
 * assert.equal(retry.delayMs(2), 20);
 * ```
 */
export interface AsyncRetryStrategy<OUT = unknown> {
  /** Attempts after the first, at most. */
  readonly maxRetries: number;
  /**
   * ms to wait before the next attempt, after `attempts` attempts (1 after the first): a finite
   * number >= 0, else the job fails with a `ConfigError`.
   */
  delayMs(attempts: number): number;
  /** Retry when the results are these (default: never). */
  retryOnResult?(results: readonly OUT[]): boolean;
  /** Retry when the call failed with this error (default: always). */
  retryOnError?(error: unknown): boolean;
}

/**
 * Predicates of a retry strategy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncRetryStrategies, type RetryPredicates } from "@weir/weir";
 * const onEmpty: RetryPredicates<string> = { retryOnResult: (r) => r.length === 0 };
 * const retry = AsyncRetryStrategies.fixedDelay({ maxRetries: 3, delayMs: 5, ...onEmpty });
 * assert.equal(retry.retryOnResult?.([]), true);
 * ```
 */
export interface RetryPredicates<OUT> {
  /** Retry when the results are these (default: never). */
  readonly retryOnResult?: (results: readonly OUT[]) => boolean;
  /** Retry when the call failed with this error (default: always). */
  readonly retryOnError?: (error: unknown) => boolean;
}

const PREDICATES = { retryOnResult: true, retryOnError: true } as const;

function nonNegative(name: string, v: number): number {
  if (!(v >= 0) || !Number.isFinite(v)) {
    throw new ConfigError(`async retry ${name} must be a finite number >= 0, got ${v}`);
  }
  return v;
}

/**
 * Ready-made {@linkcode AsyncRetryStrategy}s (Flink's AsyncRetryStrategies).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncDataStream, AsyncRetryStrategies, CollectSink, StreamEnvironment } from "@weir/weir";
 * let calls = 0;
 * const flaky = (n: number) => ++calls % 2 === 1 ? Promise.reject(new Error("503")) : Promise.resolve([n]);
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * const retry = AsyncRetryStrategies.exponentialBackoff({ maxRetries: 3, initialDelayMs: 1, maxDelayMs: 10 });
 * AsyncDataStream.orderedWait(env.fromElements(1, 2), flaky, 1000, 1, retry).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, [1, 2]);
 * assert.equal(calls, 4);
 * ```
 */
export class AsyncRetryStrategies {
  private constructor() {}
  /** The same delay before every retry. */
  static fixedDelay<OUT = unknown>(
    opts: { readonly maxRetries: number; readonly delayMs: number } & RetryPredicates<OUT>,
  ): AsyncRetryStrategy<OUT> {
    checkOptionNames("AsyncRetryStrategies.fixedDelay", opts, {
      maxRetries: true,
      delayMs: true,
      ...PREDICATES,
    });
    const delay = nonNegative("delayMs", opts.delayMs);
    return { ...opts, delayMs: () => delay };
  }
  /** `initialDelayMs`, multiplied by `multiplier` (default 2) per retry, capped at `maxDelayMs`. */
  static exponentialBackoff<OUT = unknown>(
    opts: {
      readonly maxRetries: number;
      readonly initialDelayMs: number;
      readonly maxDelayMs: number;
      readonly multiplier?: number;
    } & RetryPredicates<OUT>,
  ): AsyncRetryStrategy<OUT> {
    checkOptionNames("AsyncRetryStrategies.exponentialBackoff", opts, {
      maxRetries: true,
      initialDelayMs: true,
      maxDelayMs: true,
      multiplier: true,
      ...PREDICATES,
    });
    const initial = nonNegative("initialDelayMs", opts.initialDelayMs);
    const max = nonNegative("maxDelayMs", opts.maxDelayMs);
    const multiplier = opts.multiplier ?? 2;
    if (!(multiplier >= 1) || !Number.isFinite(multiplier)) {
      throw new ConfigError(
        `async retry multiplier must be a finite number >= 1, got ${multiplier}`,
      );
    }
    const { maxRetries, retryOnResult, retryOnError } = opts;
    return {
      maxRetries,
      ...(retryOnResult ? { retryOnResult } : {}),
      ...(retryOnError ? { retryOnError } : {}),
      delayMs: (attempts) => Math.min(max, initial * multiplier ** (attempts - 1)),
    };
  }
}
