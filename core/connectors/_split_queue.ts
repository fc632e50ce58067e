/**
 * The splits an enumerator has not assigned yet, handed to the readers that
 * ask: the shared core of the directory {@linkcode FileSource}'s and the
 * {@linkcode GeneratorSource}'s enumerators. A reader that has read its
 * splits asks again and takes over splits no reader has started, unless
 * `pick` keeps them for their own readers.
 *
 * @module
 */
import type { SplitEnumeratorContext } from "./split_enumerator.ts";

/** How a {@linkcode SplitQueue} serves requests. */
export interface SplitQueueOptions<S> {
  /**
   * More splits may be added later (a monitored directory): a reader asking
   * while none is left waits for them rather than ends.
   */
  more: boolean;
  /**
   * Removes from `left` (not empty) and returns the splits to give `subtask`;
   * none when none of them is for it. The first one by default.
   */
  pick?: (left: S[], subtask: number) => S[];
}

/**
 * Unassigned splits, handed out on request.
 *
 * @example Two readers, three splits; the reader that asks most reads most
 * ```ts
 * import assert from "node:assert/strict";
 * import { SplitQueue } from "./_split_queue.ts";
 * const got: string[] = [];
 * const queue = new SplitQueue<string>({
 *   parallelism: 2,
 *   registeredReaders: () => [0, 1],
 *   assignSplits: (subtask, splits) => splits.forEach((s) => got.push(`${subtask}:${s}`)),
 *   signalNoMoreSplits: (subtask) => void got.push(`${subtask}:end`),
 *   callPeriodically: () => {},
 *   callAsync: () => {},
 *   now: () => 0,
 * }, ["a", "b", "c"], { more: false });
 * for (const subtask of [0, 1, 0, 0]) queue.request(subtask);
 * assert.deepEqual(got, ["0:a", "1:b", "0:c", "0:end"]);
 * ```
 */
export class SplitQueue<S> {
  readonly #ctx: SplitEnumeratorContext<S>;
  readonly #left: S[];
  readonly #opts: SplitQueueOptions<S>;
  /** Readers that asked while nothing was left (`more`: served by the next `add`). */
  readonly #waiting = new Set<number>();

  /** A queue of `splits` (kept, not copied). */
  constructor(ctx: SplitEnumeratorContext<S>, splits: S[], options: SplitQueueOptions<S>) {
    this.#ctx = ctx;
    this.#left = splits;
    this.#opts = options;
  }

  /** The splits not assigned yet. */
  get left(): readonly S[] {
    return this.#left;
  }

  /** Assigns splits to `subtask`, or ends it (waits, with `more`) when none is left for it. */
  request(subtask: number): void {
    const left = this.#left;
    const pick = this.#opts.pick;
    const splits = left.length === 0 ? [] : pick ? pick(left, subtask) : [left.shift()!];
    if (splits.length > 0) {
      this.#waiting.delete(subtask);
      this.#ctx.assignSplits(subtask, splits);
    } else if (this.#opts.more) this.#waiting.add(subtask);
    else this.#ctx.signalNoMoreSplits(subtask);
  }

  /** Adds splits (new, or given back) and serves the readers waiting for one. */
  add(splits: readonly S[]): void {
    this.#left.push(...splits);
    for (const subtask of [...this.#waiting]) {
      if (this.#left.length === 0) break;
      this.request(subtask);
    }
  }
}
