/**
 * Watermarks generated inside a source reader, per split (Flink's FLIP-27
 * `SourceOutput` per split): each split has its own watermark generator, the
 * reader's watermark is the minimum over its active splits, a split idle for
 * the strategy's idleness timeout stops holding it back, and watermark
 * alignment groups pause readers that run ahead.
 *
 * @module
 */
import type {
  WatermarkGenerator,
  WatermarkOutput,
  WatermarkStrategy,
} from "../time/watermark_strategy.ts";

/** One split's generator and where its watermark stands. */
interface SplitState<T> {
  readonly generator: WatermarkGenerator<T>;
  readonly output: WatermarkOutput;
  watermark: number;
  idle: boolean;
}

/**
 * The per-split watermarks of one reader. `onRecord` stamps a record of a
 * split and shows it to that split's generator; `tick` runs the periodic
 * emission (every `watermarkIntervalMs` of the clock, or after every record
 * with an interval of 0); `watermark` is the minimum over the splits that are
 * neither idle nor released, and never goes back; `idle` says that no split
 * holds it (all idle or released). A split seen for the first time holds the
 * watermark at -∞ until its generator emits.
 *
 * @example Two splits: the slower one holds the watermark until it goes idle
 * ```ts
 * import assert from "node:assert/strict";
 * import { SplitWatermarks, WatermarkStrategy } from "@weir/weir";
 * let now = 0;
 * const strategy = WatermarkStrategy.forMonotonousTimestamps<number>()
 *   .withTimestampAssigner((n) => n)
 *   .withWatermarkInterval(0)
 *   .withIdleness(1_000);
 * const w = new SplitWatermarks(strategy, () => now);
 * w.addSplit("a");
 * w.addSplit("b");
 * w.onRecord("a", 100, undefined);
 * w.onRecord("b", 40, undefined);
 * w.onRecord("a", 200, undefined);
 * assert.equal(w.watermark, 39);
 * now = 1_000; // "b" has been silent for the idleness timeout
 * w.onRecord("a", 300, undefined);
 * w.tick();
 * assert.equal(w.watermark, 299);
 * ```
 */
export class SplitWatermarks<T> {
  readonly #strategy: WatermarkStrategy<T>;
  readonly #clock: () => number;
  readonly #splits = new Map<string, SplitState<T>>();
  readonly #interval: number;
  #nextEmit: number;
  #watermark = -Infinity;
  #idle = true;

  /** Generates watermarks per `strategy`; `clock` is processing time (the job's clock). */
  constructor(strategy: WatermarkStrategy<T>, clock: () => number) {
    this.#strategy = strategy;
    this.#clock = clock;
    this.#interval = strategy.watermarkIntervalMs;
    this.#nextEmit = clock() + this.#interval;
  }

  #split(id: string): SplitState<T> {
    let s = this.#splits.get(id);
    if (s) return s;
    const state: SplitState<T> = {
      generator: this.#strategy.createWatermarkGenerator({ currentProcessingTime: this.#clock }),
      watermark: -Infinity,
      idle: false,
      output: {
        emitWatermark: (ts) => {
          if (ts > state.watermark) state.watermark = ts;
          state.idle = false;
        },
        markIdle: () => void (state.idle = true),
        markActive: () => void (state.idle = false),
      },
    };
    this.#splits.set(id, s = state);
    this.#update();
    return s;
  }

  /**
   * Split `split` joins this reader (Flink: a split added to the reader): it
   * holds the watermark at -∞ until its generator emits.
   */
  addSplit(split: string): void {
    this.#split(split);
  }

  /** Stamps a record of split `split` (the strategy's timestamp) and lets its generator see it. */
  onRecord(split: string, value: T, recordTimestamp: number | undefined): number {
    const s = this.#split(split);
    const ts = this.#strategy.timestampOf(value, recordTimestamp);
    s.idle = false;
    s.generator.onEvent(value, ts, s.output);
    if (this.#interval === 0) s.generator.onPeriodicEmit(s.output);
    this.#update();
    return ts;
  }

  /** Split `split` is finished: it no longer holds the watermark back. */
  release(split: string): void {
    this.#splits.delete(split);
    this.#update();
  }

  /** Periodic emission and idleness, when the interval is due. */
  tick(): void {
    const now = this.#clock();
    if (this.#interval > 0 && now < this.#nextEmit) return;
    this.#nextEmit = now + this.#interval;
    for (const s of this.#splits.values()) s.generator.onPeriodicEmit(s.output);
    this.#update();
  }

  #update(): void {
    let min = Infinity;
    for (const s of this.#splits.values()) if (!s.idle && s.watermark < min) min = s.watermark;
    this.#idle = min === Infinity;
    if (!this.#idle && min > this.#watermark) this.#watermark = min;
  }

  /** The reader's watermark: the minimum over active splits (-∞ before any). */
  get watermark(): number {
    return this.#watermark;
  }

  /** Whether no split holds the watermark (every split idle or released, or none yet). */
  get idle(): boolean {
    return this.#idle;
  }

  /** The splits that are neither idle nor released, with their watermarks. */
  activeSplits(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, s] of this.#splits) if (!s.idle) out.set(id, s.watermark);
    return out;
  }
}

/**
 * The readers of one watermark alignment group (see
 * `WatermarkStrategy.withWatermarkAlignment`): each reports its watermark (an
 * idle or finished reader reports +∞ or leaves); a reader may read while its
 * watermark is at most the group's lowest plus `maxDriftMs`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WatermarkAlignmentGroup } from "@weir/weir";
 * const g = new WatermarkAlignmentGroup(100);
 * g.report("clicks/0", 1_000);
 * g.report("views/0", 5_000);
 * assert.equal(g.maxAllowedWatermark(), 1_100);
 * g.report("clicks/0", Infinity); // idle
 * assert.equal(g.maxAllowedWatermark(), 5_100);
 * ```
 */
export class WatermarkAlignmentGroup {
  readonly #maxDrift: number;
  readonly #members = new Map<string, number>();

  /** A group whose readers may run `maxDriftMs` ahead of its lowest watermark. */
  constructor(maxDriftMs: number) {
    this.#maxDrift = maxDriftMs;
  }

  /** Reader `member`'s current watermark (+∞ when idle). */
  report(member: string, watermark: number): void {
    this.#members.set(member, watermark);
  }

  /** Reader `member` ended: it no longer holds the group back. */
  leave(member: string): void {
    this.#members.delete(member);
  }

  /** The highest watermark a reader may have and go on reading (+∞: no limit). */
  maxAllowedWatermark(): number {
    let min = Infinity;
    for (const w of this.#members.values()) if (w < min) min = w;
    return min + this.#maxDrift;
  }
}
