/**
 * Sources over in-memory data: arrays (parallel, resumable by index),
 * iterables and async iterables (one subtask; resumable only by skipping what
 * was read before, when the iterable replays the same items).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { PollStatus, Source, SourceContext, SourceOutput, SourceReader } from "./source.ts";

/**
 * Reads an array; subtask `i` of `p` reads indices `i, i+p, i+2p, ...`. The
 * position is the count of items this subtask emitted.
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
  createReader(ctx: SourceContext): SourceReader<T> {
    const items = this.#items;
    const step = ctx.parallelism;
    let emitted = 0;
    return {
      poll(out: SourceOutput<T>, max: number): PollStatus {
        let i = ctx.subtaskIndex + emitted * step;
        for (let n = 0; n < max && i < items.length; n++, i += step) {
          out.collect(items[i]!);
          emitted++;
        }
        return i < items.length ? "more" : "end";
      },
      position: () => emitted,
      restore(position) {
        emitted = position as number;
      },
    };
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
 * iterable that yields the same items again. An async iterable may be a live
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

  /** Reads `iterable`. */
  constructor(iterable: Iterable<T> | AsyncIterable<T>) {
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

  /** Creates the reader. */
  createReader(): SourceReader<T> {
    const src = this.#iterable;
    let read = 0;
    let skip = 0;
    if (Symbol.asyncIterator in src) {
      const it = src[Symbol.asyncIterator]();
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
    const it = src[Symbol.iterator]();
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
