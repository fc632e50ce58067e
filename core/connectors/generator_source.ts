/**
 * A deterministic data generator: record `seq` is `generate(seq, random)`
 * with `random` seeded from `seed` and `seq`, so the output does not depend on
 * parallelism or on where a restored job resumes.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { PollStatus, Source, SourceContext, SourceOutput, SourceReader } from "./source.ts";

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
 * sequence numbers `i, i+p, i+2p, ... < count`. The position is this
 * subtask's next sequence number. With `ratePerSecond`, each subtask emits at
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
  createReader(ctx: SourceContext): SourceReader<T> {
    const { generate, ratePerSecond } = this.#opts;
    const count = this.#opts.count ?? Infinity;
    const seed = this.#opts.seed ?? 0;
    const step = ctx.parallelism;
    // A token bucket per subtask: its share of the rate, holding at most one
    // second's worth, so a stalled job does not burst to catch up.
    const perMs = ratePerSecond === undefined ? Infinity : ratePerSecond / step / 1000;
    const capacity = Math.max(1, perMs * 1000);
    let tokens = 0;
    let refilledAt = -1;
    let next = ctx.subtaskIndex;
    // mulberry32, with its state reset per record; one closure for all records.
    let state = 0;
    const random = (): number => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return {
      poll(out: SourceOutput<T>, max: number): PollStatus {
        if (next >= count) return "end";
        let budget = max;
        if (perMs !== Infinity) {
          const now = ctx.now();
          if (refilledAt < 0) refilledAt = now;
          tokens = Math.min(capacity, tokens + (now - refilledAt) * perMs);
          refilledAt = now;
          // The epsilon keeps 0.1 * 10 from flooring to 0.
          const allowed = Math.floor(tokens + 1e-9);
          if (allowed <= 0) return "idle";
          if (allowed < budget) budget = allowed;
        }
        let n = 0;
        for (; n < budget && next < count; n++) {
          state = generatorSeedState(seed, next) | 0;
          const value = generate(next, random);
          next += step;
          out.collect(value);
        }
        if (perMs !== Infinity) tokens = Math.max(0, tokens - n);
        return next < count ? "more" : "end";
      },
      position: () => next,
      restore(position) {
        if (
          typeof position !== "number" || !Number.isSafeInteger(position) ||
          position % step !== ctx.subtaskIndex % step
        ) {
          throw new ConfigError(
            `GeneratorSource subtask ${ctx.subtaskIndex} of ${step} cannot resume at position ${
              String(position)
            }`,
          );
        }
        next = position;
        tokens = 0;
        refilledAt = -1;
      },
    };
  }
}
