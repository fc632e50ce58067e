/**
 * Watermarks generated inside a source reader, per split (Flink's FLIP-27
 * `SourceOutput` per split): each split has its own watermark generator, the
 * reader's watermark is the minimum over its active splits, a split idle for
 * the strategy's idleness timeout stops holding it back, and watermark
 * alignment pauses the splits that run ahead of their group (Flink 1.17's
 * split-level alignment): the pure rules are here, the messages between readers
 * and the main thread in `_watermarked_source.ts` and `runtime/_watermark_alignment.ts`.
 *
 * @module
 */
import { checkEventTime } from "../time/_event_time_value.ts";
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
  /** Paused by alignment (itself; its whole reader is `readerPaused`). */
  paused: boolean;
  readonly activity: ActivityClock;
  /** The split's idleness clock (processing time less the time it stood still). */
  readonly now: () => number;
  /** Records seen, and how many the last due tick had seen. */
  records: number;
  recordsAtTick: number;
  /**
   * On `now`: when the split was added, or the last due tick that found records new since the one
   * before (as Flink's idleness timer counts records, no clock read a record).
   */
  lastActive: number;
}

/** A split's clock for idleness: it stands still while the split is paused. */
interface ActivityClock {
  /** When it stopped, or undefined while it runs. */
  stoppedAt: number | undefined;
  /** ms it stood still so far. */
  stoppedMs: number;
}

/**
 * The per-split watermarks of one reader. `onRecord` stamps a record of a
 * split and shows it to that split's generator; `tick` runs the periodic
 * emission (every `watermarkIntervalMs` of the clock; never with an interval
 * of 0); `watermark` is the minimum over the splits that are
 * neither idle nor released, and never goes back; `idle` says that no split
 * holds it (all idle or released). A split seen for the first time holds the
 * watermark at -∞ until its generator emits. A split paused by watermark
 * alignment (`pause`) keeps holding the watermark: its idleness is measured on
 * a clock that stands still while it is paused, since it has no records because
 * it was told to wait, not because its input is quiet (Flink's
 * `PausableRelativeClock`).
 *
 * @example Two splits: the slower one holds the watermark until it goes idle
 * ```ts
 * import assert from "node:assert/strict";
 * import { SplitWatermarks, WatermarkStrategy } from "@weir/weir";
 * let now = 0;
 * const strategy = WatermarkStrategy.forMonotonousTimestamps<number>()
 *   .withTimestampAssigner((n) => n)
 *   .withPerRecordWatermarks()
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
  readonly #onSplitWatermark: ((split: string, watermark: number) => void) | undefined;
  #watermark = -Infinity;
  #idle = true;
  #readerPaused = false;

  /**
   * Generates watermarks per `strategy`; `clock` is processing time (the
   * job's clock); `onSplitWatermark` hears each advance of a split's watermark.
   */
  constructor(
    strategy: WatermarkStrategy<T>,
    clock: () => number,
    onSplitWatermark?: (split: string, watermark: number) => void,
  ) {
    this.#strategy = strategy;
    this.#clock = clock;
    this.#interval = strategy.watermarkIntervalMs;
    this.#nextEmit = clock() + this.#interval;
    this.#onSplitWatermark = onSplitWatermark;
  }

  #split(id: string): SplitState<T> {
    let s = this.#splits.get(id);
    if (s) return s;
    const activity: ActivityClock = {
      stoppedAt: this.#readerPaused ? this.#clock() : undefined,
      stoppedMs: 0,
    };
    const currentProcessingTime = () => {
      const now = this.#clock();
      return now - activity.stoppedMs -
        (activity.stoppedAt === undefined ? 0 : now - activity.stoppedAt);
    };
    const state: SplitState<T> = {
      generator: this.#strategy.createWatermarkGenerator({ currentProcessingTime }),
      watermark: -Infinity,
      idle: false,
      paused: false,
      activity,
      now: currentProcessingTime,
      records: 0,
      recordsAtTick: 0,
      lastActive: currentProcessingTime(),
      output: {
        emitWatermark: (ts) => {
          checkEventTime(ts, "The watermark generator's emitWatermark");
          state.idle = false;
          if (ts <= state.watermark) return;
          state.watermark = ts;
          this.#onSplitWatermark?.(id, ts);
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
    s.records++;
    s.generator.onEvent(value, ts, s.output);
    this.#update();
    return ts;
  }

  /** Split `split` is finished: it no longer holds the watermark back. */
  release(split: string): void {
    this.#splits.delete(split);
    this.#update();
  }

  /**
   * Split `split` is paused (`true`) or resumed by watermark alignment: its
   * idleness clock stands still while it is paused.
   */
  setSplitPaused(split: string, paused: boolean): void {
    const s = this.#splits.get(split);
    if (!s) return;
    s.paused = paused;
    this.#stopClock(s, paused || this.#readerPaused);
  }

  /** The whole reader is paused by watermark alignment (`true`) or resumed. */
  setReaderPaused(paused: boolean): void {
    if (paused === this.#readerPaused) return;
    this.#readerPaused = paused;
    for (const s of this.#splits.values()) this.#stopClock(s, paused || s.paused);
  }

  #stopClock(s: SplitState<T>, stop: boolean): void {
    const a = s.activity;
    if (stop && a.stoppedAt === undefined) a.stoppedAt = this.#clock();
    else if (!stop && a.stoppedAt !== undefined) {
      a.stoppedMs += this.#clock() - a.stoppedAt;
      a.stoppedAt = undefined;
    }
  }

  /** Periodic emission and idleness, when the interval is due. */
  tick(): void {
    const now = this.#clock();
    // An interval of 0 turns periodic emission off (as Flink's).
    if (this.#interval === 0 || now < this.#nextEmit) return;
    this.#nextEmit = now + this.#interval;
    const silenced: SplitState<T>[] = [];
    for (const s of this.#splits.values()) {
      if (s.records !== s.recordsAtTick) {
        s.recordsAtTick = s.records;
        s.lastActive = s.now();
      }
      const wasIdle = s.idle;
      s.generator.onPeriodicEmit(s.output);
      if (!wasIdle && s.idle) silenced.push(s);
    }
    if (silenced.length > 1) {
      // Splits that go idle at one tick fell silent at different times: they stop holding the
      // watermark in that order, longest silent first (together when silent as long). Else a
      // partition without records and one whose records all came in the first interval would go
      // idle together, and the watermark of those records would never get out (Flink's idleness
      // timer, started at its first check without records, times the empty one out a check
      // earlier).
      const silence = (s: SplitState<T>) => s.now() - s.lastActive;
      for (const s of silenced) s.idle = false;
      silenced.sort((a, b) => silence(b) - silence(a));
      for (let i = 0; i < silenced.length; i++) {
        silenced[i]!.idle = true;
        const next = silenced[i + 1];
        if (next === undefined || silence(next) < silence(silenced[i]!)) this.#update();
      }
    }
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

  /** Every split not released (idle ones too), with its watermark. */
  splits(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, s] of this.#splits) out.set(id, s.watermark);
    return out;
  }
}

/**
 * Which splits to pause and which to resume when a reader learns (or a split
 * reaches) the highest watermark its alignment group allows (Flink's
 * `SourceOperator.checkSplitWatermarkAlignment`): a split whose watermark is
 * above `maxAllowed` pauses, a paused split at or below it resumes. A split
 * without a watermark yet (-∞) never pauses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitsToPauseOrResume } from "@weir/weir";
 * const splits = new Map([["slow", 100], ["fast", 900], ["caught-up", 150]]);
 * const { pause, resume } = splitsToPauseOrResume(splits, new Set(["caught-up"]), 200);
 * assert.deepEqual(pause, ["fast"]);
 * assert.deepEqual(resume, ["caught-up"]);
 * ```
 */
export function splitsToPauseOrResume(
  splits: ReadonlyMap<string, number>,
  paused: ReadonlySet<string>,
  maxAllowed: number,
): { pause: string[]; resume: string[] } {
  const pause: string[] = [];
  const resume: string[] = [];
  for (const [id, watermark] of splits) {
    if (watermark > maxAllowed) {
      if (!paused.has(id)) pause.push(id);
    } else if (paused.has(id)) resume.push(id);
  }
  return { pause, resume };
}

/**
 * The readers of one watermark alignment group, over every source that names
 * it and every subtask of them (kept in the job's main thread): each reports
 * its watermark (+∞ when idle or finished; a reader with no watermark yet does
 * not report, so it does not hold the group back). A reader of a source with
 * `maxDriftMs` may read while its watermark is at most the group's lowest
 * plus `maxDriftMs`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WatermarkAlignmentGroup } from "@weir/weir";
 * const g = new WatermarkAlignmentGroup();
 * g.report("clicks/0", 1_000);
 * g.report("views/0", 5_000);
 * assert.equal(g.maxAllowedWatermark(100), 1_100);
 * g.report("clicks/0", Infinity); // idle
 * assert.equal(g.maxAllowedWatermark(100), 5_100);
 * ```
 */
export class WatermarkAlignmentGroup {
  readonly #members = new Map<string, number>();

  /** Reader `member`'s current watermark (+∞ when idle). */
  report(member: string, watermark: number): void {
    this.#members.set(member, watermark);
  }

  /** Reader `member` ended: it no longer holds the group back. */
  leave(member: string): void {
    this.#members.delete(member);
  }

  /** The lowest watermark reported (+∞: none holds the group). */
  lowestWatermark(): number {
    let min = Infinity;
    for (const w of this.#members.values()) if (w < min) min = w;
    return min;
  }

  /** The highest watermark a reader allowed `maxDriftMs` may have and go on reading (+∞: no limit). */
  maxAllowedWatermark(maxDriftMs: number): number {
    return this.lowestWatermark() + maxDriftMs;
  }
}
