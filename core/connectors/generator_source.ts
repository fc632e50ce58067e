/**
 * A deterministic data generator: record `seq` is `generate(seq, random)`
 * with `random` seeded from `seed` and `seq`, so the output does not depend on
 * parallelism or on where a restored job resumes.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";
import type { PollStatus, Source, SourceContext, SourceOutput } from "./source.ts";
import type {
  EnumeratedSplitReader,
  SplitEnumerator,
  SplitEnumeratorContext,
} from "./split_enumerator.ts";
import {
  checkSequenceSplit,
  GeneratorSplitEnumerator,
  lowestSequenceSplit,
  type SequenceSplit,
} from "./_generator_split_enumerator.ts";

/**
 * Options of a {@linkcode GeneratorSource}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type GeneratorOptions, StreamEnvironment } from "@weir/weir";
 * const options: GeneratorOptions<string> = { count: 3, generate: (seq) => `event-${seq}` };
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<string>();
 * env.generate(options).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values, ["event-0", "event-1", "event-2"]);
 * ```
 */
export interface GeneratorOptions<T> {
  /** How many records (sequence numbers `0 .. count-1`); `undefined` = unbounded. */
  count?: number | undefined;
  /** At most this many records per second over all subtasks; `undefined` = as fast as possible. */
  ratePerSecond?: number | undefined;
  /** Seed of `random` (0). */
  seed?: number | undefined;
  /**
   * Makes record `seq`. `random()` returns floats in `[0, 1)` from a PRNG
   * seeded by `seed` and `seq`; it is valid only during this call.
   */
  generate: (seq: number, random: () => number) => T;
}

/** Every option's name, for `checkOptionNames`. */
const GENERATOR_OPTIONS: Record<keyof GeneratorOptions<unknown>, true> = {
  count: true,
  ratePerSecond: true,
  seed: true,
  generate: true,
};

/** The 32-bit finalizer of murmur3: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The initial PRNG state for `seq` (sequence numbers beyond 2^32 mix in their high bits). */
function generatorSeedState(seed: number, seq: number): number {
  const lo = seq >>> 0;
  const hi = Math.floor(seq / 0x1_0000_0000) >>> 0;
  let h = fmix32((seed | 0) ^ 0x9e3779b9);
  h = fmix32(h ^ lo);
  return fmix32(h ^ Math.imul(hi ^ 0x27d4eb2f, 0x165667b1));
}

/**
 * Generates records `generate(seq, random)`; subtask `i` of `p` produces the
 * sequence numbers `i, i+p, i+2p, ... < count`. That progression is a split
 * (`{ stride: p, next }`); the source's split enumerator (in the job's main
 * thread) hands the splits to the readers that ask, and the reader state is
 * each subtask's unfinished splits, so a restored job may run at another
 * parallelism: the enumerator cuts the splits (`{ stride, next }` into
 * `{ k·stride, next + j·stride }`) until each subtask gets an equal share,
 * split `next mod stride` going to subtask `(next mod stride) mod p'`, and a
 * subtask with several emits them merged in sequence order. A reader that has
 * read its splits (with `count`) ends: it does not take over another's, whose
 * records would come behind its watermark (late, for a job that takes event
 * time from them). A reader made outside a job (no enumerator to ask) reads
 * split `{ p, i }`.
 * With `ratePerSecond`, each subtask emits at most its share of the rate,
 * measured on the job's clock from its first poll (a token bucket holding one
 * second's worth), and reports `"idle"` when ahead of schedule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GeneratorSource } from "@weir/weir";
 * const src = new GeneratorSource({
 *   count: 3,
 *   seed: 7,
 *   generate: (seq, random) => ({ seq, dice: 1 + Math.floor(random() * 6) }),
 * });
 * const out: { seq: number; dice: number }[] = [];
 * const reader = src.createReader({ subtaskIndex: 0, parallelism: 1, now: () => 0 });
 * assert.ok(reader.poll({ collect: (v) => out.push(v) }, 10) === "end");
 * assert.ok(out.map((r) => r.seq).join() === "0,1,2");
 * assert.ok(out.every((r) => r.dice >= 1 && r.dice <= 6));
 * ```
 */
export class GeneratorSource<T> implements Source<T> {
  /** `"generator"`. */
  readonly name = "generator";
  readonly #opts: GeneratorOptions<T>;

  /** Checks the options; throws `ConfigError` naming a bad one. */
  constructor(options: GeneratorOptions<T>) {
    // A misspelt `count` would leave the source unbounded: a job that never ends.
    checkOptionNames("GeneratorSource", options, GENERATOR_OPTIONS);
    const { count, ratePerSecond, seed } = options;
    if (count !== undefined && (!Number.isSafeInteger(count) || count < 0)) {
      throw new ConfigError(`GeneratorSource count must be a non-negative integer, got ${count}`);
    }
    if (ratePerSecond !== undefined && !(ratePerSecond > 0 && Number.isFinite(ratePerSecond))) {
      throw new ConfigError(
        `GeneratorSource ratePerSecond must be a positive number, got ${ratePerSecond}`,
      );
    }
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new ConfigError(`GeneratorSource seed must be an integer, got ${seed}`);
    }
    if (typeof options.generate !== "function") {
      throw new ConfigError("GeneratorSource needs a generate(seq, random) function");
    }
    this.#opts = options;
  }

  /** Creates the reader of one subtask: it reads the splits the enumerator assigns. */
  createReader(ctx: SourceContext): EnumeratedSplitReader<T> {
    return new GeneratorReader(this.#opts, ctx);
  }

  /** The source's split enumerator: it hands the splits of the sequence to readers that ask. */
  createEnumerator(
    ctx: SplitEnumeratorContext<unknown>,
    restored: unknown,
  ): SplitEnumerator<unknown, unknown> {
    return new GeneratorSplitEnumerator(
      this.#opts.count ?? Infinity,
      ctx as SplitEnumeratorContext<SequenceSplit>,
      restored,
    ) as SplitEnumerator<unknown, unknown>;
  }
}

/** A subtask's splits of the sequence, read merged in sequence order. */
class GeneratorReader<T> implements EnumeratedSplitReader<T> {
  readonly #generate: (seq: number, random: () => number) => T;
  readonly #count: number;
  readonly #seed: number;
  readonly #ctx: SourceContext;
  /** Assigned splits not yet finished. */
  #splits: SequenceSplit[] = [];
  /** A split request is on its way and not answered yet. */
  #requested = false;
  #noMoreSplits = false;
  // A token bucket per subtask: its share of the rate, holding at most one
  // second's worth, so a stalled job does not burst to catch up.
  readonly #perMs: number;
  readonly #capacity: number;
  #tokens = 0;
  #refilledAt = -1;
  // mulberry32, with its state reset per record; one closure for all records.
  #state = 0;
  readonly #random = (): number => {
    const state = this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  constructor(opts: GeneratorOptions<T>, ctx: SourceContext) {
    this.#generate = opts.generate;
    this.#count = opts.count ?? Infinity;
    this.#seed = opts.seed ?? 0;
    this.#ctx = ctx;
    if (!ctx.sendSplitRequest) {
      // Outside a job there is no enumerator to ask: the split of a first start.
      this.#splits = [{ stride: ctx.parallelism, next: ctx.subtaskIndex }];
      this.#noMoreSplits = true;
    }
    this.#perMs = opts.ratePerSecond === undefined
      ? Infinity
      : opts.ratePerSecond / ctx.parallelism / 1000;
    this.#capacity = Math.max(1, this.#perMs * 1000);
  }

  /** The unfinished splits with their next sequence numbers. */
  snapshotSplits(): unknown[] {
    return this.#splits.filter((s) => s.next < this.#count).map((s) => ({ ...s }));
  }

  /** Splits the enumerator assigned: merged with the ones being read, in sequence order. */
  addSplits(splits: unknown[]): void {
    this.#requested = false;
    this.#splits.push(...splits.map((s) => checkSequenceSplit(s, "GeneratorSource")));
  }

  /** The enumerator has nothing more for this reader: it ends when its splits are read. */
  notifyNoMoreSplits(): void {
    this.#requested = false;
    this.#noMoreSplits = true;
  }

  /**
   * Replaces the splits with `all` (not called in a job: the enumerator gets
   * a restored job's splits back and assigns them again).
   */
  restoreSplits(all: unknown[]): void {
    this.#splits = all.map((s) => checkSequenceSplit(s, "GeneratorSource"));
  }

  /** The next sequence number of a subtask with one split (null with several). */
  position(): unknown {
    return this.#splits.length === 1 ? this.#splits[0]!.next : null;
  }

  /** Not used: split readers restore through `restoreSplits`. */
  restore(): void {}

  /** The unfinished split with the lowest next number. */
  #lowest(): SequenceSplit | undefined {
    return lowestSequenceSplit(this.#splits, this.#count);
  }

  poll(out: SourceOutput<T>, max: number): PollStatus {
    let budget = max;
    if (this.#perMs !== Infinity) {
      const now = this.#ctx.now();
      if (this.#refilledAt < 0) this.#refilledAt = now;
      this.#tokens = Math.min(
        this.#capacity,
        this.#tokens + (now - this.#refilledAt) * this.#perMs,
      );
      this.#refilledAt = now;
      // The epsilon keeps 0.1 * 10 from flooring to 0.
      const allowed = Math.floor(this.#tokens + 1e-9);
      if (allowed <= 0) return this.#lowest() ? "idle" : this.#ask();
      if (allowed < budget) budget = allowed;
    }
    const count = this.#count;
    const seed = this.#seed;
    const generate = this.#generate;
    const random = this.#random;
    let n = 0;
    if (this.#splits.length === 1) {
      const split = this.#splits[0]!;
      const step = split.stride;
      let next = split.next;
      for (; n < budget && next < count; n++) {
        this.#state = generatorSeedState(seed, next) | 0;
        const value = generate(next, random);
        next += step;
        out.collect(value);
      }
      split.next = next;
    } else {
      for (let split = this.#lowest(); n < budget && split; n++, split = this.#lowest()) {
        const seq = split.next;
        this.#state = generatorSeedState(seed, seq) | 0;
        const value = generate(seq, random);
        split.next = seq + split.stride;
        out.collect(value);
      }
    }
    if (this.#perMs !== Infinity) this.#tokens = Math.max(0, this.#tokens - n);
    return this.#lowest() ? "more" : this.#ask();
  }

  /** No split left to read: ends, or asks the enumerator (for its splits, at a start). */
  #ask(): PollStatus {
    this.#splits = this.#splits.filter((s) => s.next < this.#count);
    if (this.#noMoreSplits) return "end";
    if (!this.#requested) {
      this.#requested = true;
      this.#ctx.sendSplitRequest!();
    }
    return "idle";
  }
}
