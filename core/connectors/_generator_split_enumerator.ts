/**
 * The split enumerator of {@linkcode GeneratorSource}: its splits are
 * arithmetic progressions of sequence numbers, handed to the readers that ask
 * (`_split_queue.ts`). A restored job's splits are cut so that every reader
 * of the new parallelism gets an equal share.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { SplitQueue } from "./_split_queue.ts";
import type { SplitEnumerator, SplitEnumeratorContext } from "./split_enumerator.ts";

/**
 * A split of the sequence: the numbers `next, next + stride, … < count`. The
 * job's first start makes one split per subtask (`stride` = parallelism),
 * so subtask `i` produces `i, i+p, …`.
 */
export interface SequenceSplit {
  /** The step between the split's numbers. */
  stride: number;
  /** Its next number. */
  next: number;
}

/**
 * Checks a split read from a checkpoint or a message; throws `ConfigError` naming it and
 * `source` (the source whose split it is).
 */
export function checkSequenceSplit(raw: unknown, source: string): SequenceSplit {
  const s = raw as Partial<SequenceSplit> | null;
  if (
    typeof s !== "object" || s === null || !Number.isSafeInteger(s.stride) ||
    (s.stride as number) < 1 || !Number.isSafeInteger(s.next) || (s.next as number) < 0
  ) {
    throw new ConfigError(
      `${source} cannot resume: a checkpointed split is not a sequence split: ${
        JSON.stringify(raw)
      }`,
    );
  }
  return { stride: s.stride!, next: s.next! };
}

/** The subtask a split belongs to at `parallelism` (at a first start: split `i` to subtask `i`). */
export const sequenceSplitHome = (s: SequenceSplit, parallelism: number): number =>
  (s.next % s.stride) % parallelism;

/**
 * The split with the lowest next number below `end` (the one a reader of several, merging them in
 * order, reads from next), or undefined when every split is read to `end`.
 */
export function lowestSequenceSplit(
  splits: readonly SequenceSplit[],
  end: number,
): SequenceSplit | undefined {
  let low: SequenceSplit | undefined;
  for (const s of splits) if (s.next < end && (!low || s.next < low.next)) low = s;
  return low;
}

/**
 * Cuts each split into `k`: `{ stride, next }` becomes `{ stride·k, next + j·stride }`
 * for `j < k`, which together hold the same numbers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { divideSequenceSplit } from "./_generator_split_enumerator.ts";
 * assert.deepEqual(divideSequenceSplit({ stride: 2, next: 5 }, 3), [
 *   { stride: 6, next: 5 }, { stride: 6, next: 7 }, { stride: 6, next: 9 },
 * ]);
 * ```
 */
export function divideSequenceSplit(s: SequenceSplit, k: number): SequenceSplit[] {
  return Array.from(
    { length: k },
    (_, j) => ({ stride: s.stride * k, next: s.next + j * s.stride }),
  );
}

const gcd = (a: number, b: number): number => b === 0 ? a : gcd(b, a % b);

/** At most this many splits after a restore's cut (beyond it, splits are not cut). */
const MAX_SPLITS = 4096;

/**
 * Hands the generator's splits to the readers that ask: a reader gets the
 * splits whose home it is ({@linkcode sequenceSplitHome}) all at once, so it
 * emits them merged in sequence order; a reader without any (one that has
 * read its own) ends. It never takes over another reader's split, as a
 * directory's reader takes over files: the sequence is event time for a job
 * that stamps records from it, and a split taken over by a reader that ran
 * ahead (the other one's Web Worker still starting) would come after that
 * reader's watermark, its records late and dropped, while the ended owner
 * no longer holds event time back. Its state is the splits not assigned yet.
 *
 * @example Restored at parallelism 3 from two splits of a first start at 2
 * ```ts
 * import assert from "node:assert/strict";
 * import { GeneratorSplitEnumerator } from "./_generator_split_enumerator.ts";
 * const got: string[] = [];
 * const e = new GeneratorSplitEnumerator(12, {
 *   parallelism: 3,
 *   registeredReaders: () => [0, 1, 2],
 *   assignSplits: (r, splits) => got.push(`${r}: ${splits.map((s) => `${s.next}+${s.stride}k`)}`),
 *   signalNoMoreSplits: () => {},
 *   callPeriodically: () => {},
 *   callAsync: () => {},
 *   now: () => 0,
 * }, []);
 * e.addSplitsBack([{ stride: 2, next: 4 }, { stride: 2, next: 7 }], -1);
 * e.start();
 * for (const subtask of [0, 1, 2]) e.handleSplitRequest(subtask);
 * assert.deepEqual(got, ["0: 6+6k,9+6k", "1: 4+6k,7+6k", "2: 8+6k,11+6k"]);
 * ```
 */
export class GeneratorSplitEnumerator implements SplitEnumerator<SequenceSplit, SequenceSplit[]> {
  readonly #count: number;
  readonly #ctx: SplitEnumeratorContext<SequenceSplit>;
  readonly #unassigned: SplitQueue<SequenceSplit>;
  /** Restored: from enumerator state, or from splits given back before `start`. */
  #restored: boolean;
  #started = false;

  /** Resumes from `restored` state (undefined: a first start); `count` may be Infinity. */
  constructor(count: number, ctx: SplitEnumeratorContext<SequenceSplit>, restored: unknown) {
    this.#count = count;
    this.#ctx = ctx;
    if (restored !== undefined && !Array.isArray(restored)) {
      throw new ConfigError(
        `GeneratorSource cannot resume: the checkpointed enumerator state is not a list of splits: ${
          JSON.stringify(restored)
        }`,
      );
    }
    this.#restored = restored !== undefined;
    const splits = (restored ?? []).map((s) => checkSequenceSplit(s, "GeneratorSource"));
    this.#unassigned = new SplitQueue(ctx, splits, {
      more: false,
      pick: (left, subtask) => this.#pick(left, subtask),
    });
  }

  /**
   * A first start makes one split per subtask. A restored job's splits (its
   * state and the readers' unfinished splits) are cut so that their number is
   * a multiple of the parallelism: every reader's share is equal.
   */
  start(): void {
    this.#started = true;
    const left = this.#unassigned.left as SequenceSplit[];
    const p = this.#ctx.parallelism;
    if (!this.#restored && left.length === 0) {
      left.push(...Array.from({ length: p }, (_, i) => ({ stride: p, next: i })));
      return;
    }
    const n = left.length;
    if (n === 0) return;
    const k = p / gcd(n, p);
    if (k === 1 || n * k > MAX_SPLITS) return;
    const cut = left.flatMap((s) => divideSequenceSplit(s, k)).filter((s) => s.next < this.#count);
    left.splice(0, n, ...cut);
  }

  /** Nothing to do: readers ask when they need splits. */
  addReader(_subtask: number): void {}

  /** Assigns the reader's splits, or ends it when none of them is left. */
  handleSplitRequest(subtask: number): void {
    this.#unassigned.request(subtask);
  }

  /** A restored job's unfinished splits (before `start`, which cuts them), or a failed reader's. */
  addSplitsBack(splits: SequenceSplit[], _subtask: number): void {
    const back = splits.map((s) => checkSequenceSplit(s, "GeneratorSource")).filter((s) =>
      s.next < this.#count
    );
    if (this.#started) {
      this.#unassigned.add(back);
      return;
    }
    (this.#unassigned.left as SequenceSplit[]).push(...back);
    // Without enumerator state (a checkpoint of a version without an enumerator) the
    // splits given back, finished ones included, say this is not a first start.
    if (splits.length > 0) this.#restored = true;
  }

  /** The splits not assigned yet. */
  snapshotState(): SequenceSplit[] {
    return this.#unassigned.left.map((s) => ({ ...s }));
  }

  #pick(left: SequenceSplit[], subtask: number): SequenceSplit[] {
    const p = this.#ctx.parallelism;
    const mine: SequenceSplit[] = [], others: SequenceSplit[] = [];
    for (const s of left) (sequenceSplitHome(s, p) === subtask ? mine : others).push(s);
    left.splice(0, left.length, ...others);
    return mine;
  }
}
