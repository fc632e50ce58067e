/**
 * Sources over in-memory data: arrays (parallel, resumable by index at any
 * parallelism), iterables and async iterables (one subtask; resumable only by
 * skipping what was read before, when the iterable replays the same items).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { ConfigError } from "../errors.ts";
import {
  checkSequenceSplit,
  divideSequenceSplit,
  lowestSequenceSplit,
  type SequenceSplit,
} from "./_generator_split_enumerator.ts";
import type {
  PollStatus,
  Source,
  SourceContext,
  SourceOutput,
  SourceReader,
  SplitReader,
} from "./source.ts";

/**
 * Reads an array; subtask `i` of `p` reads indices `i, i+p, i+2p, ...`. That
 * progression is its split (`{ stride: p, next }`, as the generator's), and
 * the reader state is each subtask's unfinished splits, kept with every
 * subtask's (union state), so a restored job may run the source at another
 * parallelism: the splits left are cut until there are at least as many as
 * subtasks (`{ stride, next }` into `{ k·stride, next + j·stride }`), and
 * subtask `i` of `p` takes every `p`-th of them by their next index, read
 * merged in index order. Flink's `fromData` rescales alike.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArraySource } from "@weir/weir";
 * const src = new ArraySource(["a", "b", "c"]);
 * const out: string[] = [];
 * const reader = src.createReader({ subtaskIndex: 0, parallelism: 1, now: () => 0 });
 * reader.poll({ collect: (v) => out.push(v) }, 10);
 * assert.ok(out.join() === "a,b,c");
 * ```
 */
export class ArraySource<T> implements Source<T> {
  /** `"array"`. */
  readonly name = "array";
  #items: readonly T[];

  /** Reads `items`. */
  constructor(items: readonly T[]) {
    this.#items = items;
  }

  /** The items read. */
  get items(): readonly T[] {
    return this.#items;
  }

  /**
   * @internal In a worker of the worker executor: reads the main thread's
   * items instead of those the script built here (see `_collection_items.ts`).
   */
  adopt(items: readonly T[]): void {
    this.#items = items;
  }

  /** Creates the reader of one subtask. */
  createReader(ctx: SourceContext): SplitReader<T> {
    return new ArrayReader(this.#items, ctx);
  }
}

/** One subtask's splits of an array's indices (see {@linkcode ArraySource}). */
class ArrayReader<T> implements SplitReader<T> {
  readonly #items: readonly T[];
  readonly #ctx: SourceContext;
  /** Unfinished splits; a fresh start's is `{ p, i }`. */
  #splits: SequenceSplit[];

  constructor(items: readonly T[], ctx: SourceContext) {
    this.#items = items;
    this.#ctx = ctx;
    this.#splits = [{ stride: ctx.parallelism, next: ctx.subtaskIndex }];
  }

  /**
   * A restored job's splits of every subtask: cut until there are as many as subtasks, then
   * every `p`-th by next index, from this subtask's index on (each index read by one subtask).
   */
  restoreSplits(all: unknown[]): void {
    const n = this.#items.length;
    const left = all.map((s) => checkSequenceSplit(s, "fromCollection")).filter((s) => s.next < n);
    const { subtaskIndex, parallelism } = this.#ctx;
    const k = Math.ceil(parallelism / Math.max(1, left.length));
    this.#splits = left.flatMap((s) => divideSequenceSplit(s, k))
      .filter((s) => s.next < n)
      .sort((a, b) => a.next - b.next)
      .filter((_, j) => j % parallelism === subtaskIndex);
  }

  /**
   * The items this subtask emitted, from a checkpoint of a weir whose array source kept one
   * position per subtask (the job then runs at the parallelism it had, as the restore checks).
   */
  restore(position: unknown): void {
    if (typeof position !== "number" || !Number.isSafeInteger(position) || position < 0) {
      throw new ConfigError(`fromCollection cannot resume at position ${String(position)}`);
    }
    const { subtaskIndex, parallelism } = this.#ctx;
    this.#splits = [{ stride: parallelism, next: subtaskIndex + position * parallelism }];
  }

  /** The unfinished splits with their next index. */
  snapshotSplits(): unknown[] {
    return this.#splits.filter((s) => s.next < this.#items.length).map((s) => ({ ...s }));
  }

  /** Split readers have no single position. */
  position(): unknown {
    return null;
  }

  poll(out: SourceOutput<T>, max: number): PollStatus {
    const items = this.#items, n = items.length;
    if (this.#splits.length === 1) {
      const split = this.#splits[0]!;
      const step = split.stride;
      let i = split.next;
      for (let emitted = 0; emitted < max && i < n; emitted++, i += step) out.collect(items[i]!);
      split.next = i;
      return i < n ? "more" : "end";
    }
    // Several splits (restored at a lower parallelism): merged in index order.
    for (let emitted = 0; emitted < max; emitted++) {
      const low = lowestSequenceSplit(this.#splits, n);
      if (!low) return "end";
      out.collect(items[low.next]!);
      low.next += low.stride;
    }
    return lowestSequenceSplit(this.#splits, n) ? "more" : "end";
  }
}

const TURN_ENDED = Symbol("turn ended");

/** `p`'s result if it settles within the current microtasks, else {@linkcode TURN_ENDED}. */
function settledNow<R>(p: Promise<R>): Promise<R | typeof TURN_ENDED> {
  return Promise.race([
    p,
    new Promise<typeof TURN_ENDED>((r) => setImmediate(() => r(TURN_ENDED))),
  ]);
}

/**
 * Reads a sync or async iterable with one subtask. The position is the number
 * of items read; restoring skips that many, which is exact only for an
 * iterable that yields the same items again. A one-shot iterator (a generator
 * object) cannot be read again: a job restarted in the same process fails
 * with a `ConfigError` rather than lose the items. An async iterable may be a live
 * stream: a poll emits the items that are ready and returns at the first one
 * that is not (`"idle"` if none was), so what was read goes downstream at once
 * and checkpoints do not wait for the next item.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IterableSource } from "@weir/weir";
 * async function* numbers() { yield 1; yield 2; }
 * const reader = new IterableSource(numbers()).createReader();
 * const out: number[] = [];
 * while ((await reader.poll({ collect: (v) => out.push(v) }, 10)) !== "end");
 * assert.ok(out.join() === "1,2");
 * ```
 */
export class IterableSource<T> implements Source<T> {
  /** `"iterable"`. */
  readonly name = "iterable";
  /** One subtask only. */
  readonly maxParallelism = 1;
  #iterable: Iterable<T> | AsyncIterable<T>;
  /** A reader has taken the iterable's one iterator (a generator object is its own). */
  #oneShotTaken = false;

  /** Reads `iterable`; anything else is a `ConfigError` naming what it got. */
  constructor(iterable: Iterable<T> | AsyncIterable<T>) {
    checkIterable("IterableSource", iterable);
    this.#iterable = iterable;
  }

  /** The iterable read. */
  get iterable(): Iterable<T> | AsyncIterable<T> {
    return this.#iterable;
  }

  /**
   * @internal In a worker of the worker executor: reads the main thread's
   * items instead of the collection the script built here (see `_collection_items.ts`).
   */
  adopt(items: readonly T[]): void {
    this.#iterable = items;
  }

  /**
   * `it`, the iterator of `src`; a `ConfigError` when `src` is its own iterator (a generator
   * object) and a reader of an earlier attempt in this process took it: the items it yielded are
   * gone, so a restarted job would go on where that reader stopped and then skip its position's
   * count of items more, losing both without a word.
   */
  #take<I>(it: I, src: unknown): I {
    if ((it as unknown) !== src) return it;
    if (this.#oneShotTaken) {
      throw new ConfigError(
        "fromCollection cannot read its iterator again after a restart: it is a one-shot " +
          "iterator (a generator object), and the items it yielded are gone. Pass an array, or " +
          "an iterable whose [Symbol.iterator]() (or [Symbol.asyncIterator]()) starts over, such " +
          "as { [Symbol.iterator]: generatorFunction }",
      );
    }
    this.#oneShotTaken = true;
    return it;
  }

  /** Creates the reader; throws `ConfigError` when a one-shot iterator was read before. */
  createReader(): SourceReader<T> {
    const src = this.#iterable;
    let read = 0;
    let skip = 0;
    if (Symbol.asyncIterator in src) {
      const it = this.#take(src[Symbol.asyncIterator](), src);
      // The `next()` in flight: kept across polls, so a poll never waits on a live stream.
      let pending: Promise<IteratorResult<T>> | undefined;
      return {
        async poll(out, max) {
          // Items that are ready within the current macrotask are read; the first one that
          // is not ends the poll, so records already read go downstream (through a keyBy)
          // and barriers reach the task while the iterable waits for more.
          let turnEnded = false;
          const turn = new Promise<typeof TURN_ENDED>((r) =>
            setImmediate(() => {
              turnEnded = true;
              r(TURN_ENDED);
            })
          );
          for (let n = 0; n < max;) {
            pending ??= it.next();
            const r = turnEnded ? await settledNow(pending) : await Promise.race([pending, turn]);
            if (r === TURN_ENDED) return n > 0 ? "more" : "idle";
            pending = undefined;
            if (r.done) return "end";
            if (skip > 0) skip--;
            else {
              out.collect(r.value);
              read++;
              n++;
            }
          }
          return "more";
        },
        position: () => read,
        restore(p) {
          read = skip = p as number;
        },
        async close() {
          await it.return?.();
        },
      };
    }
    const it = this.#take(src[Symbol.iterator](), src);
    return {
      poll(out, max) {
        for (let n = 0; n < max; n++) {
          const r = it.next();
          if (r.done) return "end";
          if (skip > 0) skip--;
          else {
            out.collect(r.value);
            read++;
          }
        }
        return "more";
      },
      position: () => read,
      restore(p) {
        read = skip = p as number;
      },
      close() {
        it.return?.();
      },
    };
  }
}

/**
 * Throws a `ConfigError` unless `items` is an object that is iterable or async iterable (the
 * reader would fail at its first poll with a TypeError: `in` on a string or a number). A string
 * is refused too, as Flink's `fromCollection` takes no String: one record is `fromElements(s)`.
 */
export function checkIterable(call: string, items: unknown): void {
  if (
    typeof items === "object" && items !== null &&
    (Symbol.iterator in items || Symbol.asyncIterator in items)
  ) return;
  const got = typeof items === "string"
    ? `the string ${JSON.stringify(items.slice(0, 40))} (for one string record: fromElements(s))`
    : items === null || items === undefined
    ? String(items)
    : typeof items === "object"
    ? "an object that is not iterable"
    : `the ${typeof items} ${String(items)}`;
  throw new ConfigError(`${call} needs an array, an iterable or an async iterable, got ${got}`);
}
