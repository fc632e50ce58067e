/**
 * A deterministic data generator: record `seq` is `generate(seq, random)`
 * with `random` seeded from `seed` and `seq`, so the output does not depend on
 * parallelism or on where a restored job resumes.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { PollStatus, Source, SourceContext, SourceOutput, SplitReader } from "./source.ts";

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
 * (`{ stride: p, next }`), and the reader state is the subtask's splits, so a
 * restored job may run at another parallelism: split `next mod stride` goes to
 * subtask `(next mod stride) mod p'`, and a subtask with several emits them in
 * sequence order. (A job restored at a higher parallelism than its first
 * start's leaves the extra subtasks without splits.) With `ratePerSecond`, each subtask emits at
 * most its share of the rate, measured on the job's clock from its first
 * poll (a token bucket holding one second's worth), and reports `"idle"` when
 * ahead of schedule.
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

  /** Creates the reader of one subtask. */
  createReader(ctx: SourceContext): SplitReader<T> {
    return new GeneratorReader(this.#opts, ctx);
  }
}

/**
 * A split of the sequence: the numbers `next, next + stride, … < count`. The
 * job's first start makes one split per subtask (`stride` = parallelism), so
 * subtask `i` produces `i, i+p, …` as it always did.
 */
interface SequenceSplit {
  stride: number;
  next: number;
}

function checkSplit(raw: unknown): SequenceSplit {
  const s = raw as Partial<SequenceSplit> | null;
  if (
    typeof s !== "object" || s === null || !Number.isSafeInteger(s.stride) ||
    (s.stride as number) < 1 || !Number.isSafeInteger(s.next) || (s.next as number) < 0
  ) {
    throw new ConfigError(
      `GeneratorSource cannot resume: a checkpointed split is not a sequence split: ${
        JSON.stringify(raw)
      }`,
    );
  }
  return { stride: s.stride!, next: s.next! };
}

/** A subtask's splits of the sequence, read in sequence order. */
class GeneratorReader<T> implements SplitReader<T> {
  readonly #generate: (seq: number, random: () => number) => T;
  readonly #count: number;
  readonly #seed: number;
  readonly #ctx: SourceContext;
  /** Owned splits, finished ones included (their ends are known to the checkpoint). */
  #splits: SequenceSplit[];
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
    this.#splits = [{ stride: ctx.parallelism, next: ctx.subtaskIndex }];
    this.#perMs = opts.ratePerSecond === undefined
      ? Infinity
      : opts.ratePerSecond / ctx.parallelism / 1000;
    this.#capacity = Math.max(1, this.#perMs * 1000);
  }

  /** The owned splits with their next sequence numbers. */
  snapshotSplits(): unknown[] {
    return this.#splits.map((s) => ({ ...s }));
  }

  /** Keeps the splits this subtask owns: split `next mod stride` goes to `(next mod stride) mod p`. */
  restoreSplits(all: unknown[]): void {
    const splits = all.map(checkSplit);
    // Nothing checkpointed for this source (it is new in the job): start afresh.
    if (splits.length === 0) return;
    const { subtaskIndex, parallelism } = this.#ctx;
    this.#splits = splits.filter((s) => (s.next % s.stride) % parallelism === subtaskIndex);
    this.#tokens = 0;
    this.#refilledAt = -1;
  }

  /** The next sequence number of a subtask with one split (null with several). */
  position(): unknown {
    return this.#splits.length === 1 ? this.#splits[0]!.next : null;
  }

  /** Not used: split readers restore through `restoreSplits`. */
  restore(): void {}

  /** The unfinished split with the lowest next number. */
  #lowest(): SequenceSplit | undefined {
    let low: SequenceSplit | undefined;
    for (const s of this.#splits) {
      if (s.next < this.#count && (!low || s.next < low.next)) low = s;
    }
    return low;
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
      if (allowed <= 0) return this.#lowest() ? "idle" : "end";
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
    return this.#lowest() ? "more" : "end";
  }
}
