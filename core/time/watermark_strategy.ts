/**
 * Watermark strategies: how a stream's records get their event timestamps and
 * how event time (the watermark) advances. A {@linkcode WatermarkStrategy}
 * combines a timestamp assigner, a {@linkcode WatermarkGenerator} (periodic,
 * punctuated, or both), the periodic emit interval and an idle timeout.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkEventTime, checkWholeMs } from "./_event_time_value.ts";
import { shownValue } from "../_options.ts";
import { describeValue } from "../runtime/_sync_call.ts";

/**
 * Where a generator emits watermarks and reports idleness.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BoundedOutOfOrdernessWatermarks, type WatermarkOutput } from "@weir/weir";
 * const emitted: number[] = [];
 * const output: WatermarkOutput = {
 *   emitWatermark: (t) => void emitted.push(t), markIdle() {}, markActive() {},
 * };
 * const gen = new BoundedOutOfOrdernessWatermarks<string>(5);
 * gen.onEvent("a", 100);
 * gen.onPeriodicEmit(output);
 * assert.deepEqual(emitted, [94]);
 * ```
 */
export interface WatermarkOutput {
  /** Emits a watermark; one not above the last emitted one is ignored. */
  emitWatermark(timestamp: number): void;
  /** This input produces no records for now: it stops holding back event time downstream. */
  markIdle(): void;
  /** This input produces records again. */
  markActive(): void;
}

/**
 * Generates watermarks from the records it sees (`onEvent`, where punctuated
 * generators emit) and periodically (`onPeriodicEmit`, every
 * {@linkcode WatermarkStrategy.withWatermarkInterval} ms, where periodic
 * generators emit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type WatermarkGenerator, WatermarkStrategy } from "@weir/weir";
 * // Emits a watermark right at each record that carries an end-of-batch marker.
 * const punctuated: WatermarkGenerator<{ ts: number; last: boolean }> = {
 *   onEvent(e, ts, out) { if (e.last) out.emitWatermark(ts); },
 *   onPeriodicEmit() {},
 * };
 * const strategy = WatermarkStrategy.forGenerator(() => punctuated)
 *   .withTimestampAssigner((e) => e.ts);
 * assert.equal(strategy.timestampOf({ ts: 7, last: true }, undefined), 7);
 * ```
 */
export interface WatermarkGenerator<T> {
  /** Called for every record, with its (assigned) timestamp. */
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void;
  /** Called periodically. */
  onPeriodicEmit(output: WatermarkOutput): void;
}

/**
 * What a generator factory gets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type WatermarkGeneratorContext, WatermarkStrategy } from "@weir/weir";
 * const ctx: WatermarkGeneratorContext = { currentProcessingTime: () => 0 };
 * const gen = WatermarkStrategy.forMonotonousTimestamps<number>().createWatermarkGenerator(ctx);
 * const seen: number[] = [];
 * gen.onEvent(1, 50, { emitWatermark: (t) => void seen.push(t), markIdle() {}, markActive() {} });
 * gen.onPeriodicEmit({ emitWatermark: (t) => void seen.push(t), markIdle() {}, markActive() {} });
 * assert.deepEqual(seen, [49]);
 * ```
 */
export interface WatermarkGeneratorContext {
  /** Current processing time of the job's clock. */
  currentProcessingTime(): number;
}

/**
 * Extracts a record's event timestamp; `recordTimestamp` is the one it carries, if any.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type TimestampAssigner, WatermarkStrategy } from "@weir/weir";
 * type Reading = { at: string };
 * const fromIso: TimestampAssigner<Reading> = (r) => Date.parse(r.at);
 * const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Reading>(1000)
 *   .withTimestampAssigner(fromIso);
 * assert.equal(strategy.timestampOf({ at: "1970-01-01T00:00:01Z" }, undefined), 1000);
 * ```
 */
export type TimestampAssigner<T> = (element: T, recordTimestamp: number | undefined) => number;

/**
 * Flink's bounded out-of-orderness generator: the watermark is the highest
 * timestamp seen so far minus the bound minus 1 (a record at exactly the
 * watermark is late). Emits periodically.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BoundedOutOfOrdernessWatermarks } from "@weir/weir";
 * const gen = new BoundedOutOfOrdernessWatermarks<string>(10);
 * const marks: number[] = [];
 * const out = { emitWatermark: (t: number) => void marks.push(t), markIdle() {}, markActive() {} };
 * gen.onEvent("a", 100);
 * gen.onEvent("b", 90); // out of order, within the bound
 * gen.onPeriodicEmit(out);
 * assert.deepEqual(marks, [89]);
 * ```
 */
export class BoundedOutOfOrdernessWatermarks<T> implements WatermarkGenerator<T> {
  readonly #bound: number;
  #max: number;

  /** `maxOutOfOrdernessMs` ≥ 0. */
  constructor(maxOutOfOrdernessMs: number) {
    if (!(maxOutOfOrdernessMs >= 0)) {
      throw new ConfigError(`Out-of-orderness bound must be >= 0 ms, got ${maxOutOfOrdernessMs}`);
    }
    checkWholeMs("Out-of-orderness bound", maxOutOfOrdernessMs);
    this.#bound = maxOutOfOrdernessMs;
    // Starts so that the first watermark (before any record) is -Infinity.
    this.#max = -Infinity;
  }

  /** Tracks the highest timestamp. */
  onEvent(_event: T, timestamp: number): void {
    if (timestamp > this.#max) this.#max = timestamp;
  }

  /** Emits `max - bound - 1`. */
  onPeriodicEmit(output: WatermarkOutput): void {
    output.emitWatermark(this.#max - this.#bound - 1);
  }
}

/**
 * Wraps a generator: when no record arrived for `timeoutMs` of processing
 * time, the input is marked idle instead of emitting (so it stops holding
 * back the watermark downstream), after emitting the watermark of records
 * that came since the last periodic emit; the next record makes it active
 * again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BoundedOutOfOrdernessWatermarks, WatermarksWithIdleness } from "@weir/weir";
 * let now = 0;
 * const gen = new WatermarksWithIdleness(new BoundedOutOfOrdernessWatermarks<string>(0), 1000, {
 *   currentProcessingTime: () => now,
 * });
 * const events: string[] = [];
 * const out = {
 *   emitWatermark: (t: number) => void events.push(`wm ${t}`),
 *   markIdle: () => void events.push("idle"),
 *   markActive: () => void events.push("active"),
 * };
 * gen.onEvent("a", 10, out);
 * gen.onPeriodicEmit(out);
 * now = 5000; // no record for 5 s
 * gen.onPeriodicEmit(out);
 * assert.deepEqual(events, ["wm 9", "idle"]);
 * gen.onEvent("b", 20, out); // active again
 * now = 9000; // the next periodic emit comes after the timeout: the watermark goes out first
 * gen.onPeriodicEmit(out);
 * assert.deepEqual(events.slice(2), ["active", "wm 19", "idle"]);
 * ```
 */
export class WatermarksWithIdleness<T> implements WatermarkGenerator<T> {
  readonly #inner: WatermarkGenerator<T>;
  readonly #timeoutMs: number;
  readonly #ctx: WatermarkGeneratorContext;
  #lastActivity: number;
  /** Records arrived since the last periodic emit. */
  #eventsSinceEmit = false;
  #idle = false;

  /** Wraps `inner`. */
  constructor(inner: WatermarkGenerator<T>, timeoutMs: number, ctx: WatermarkGeneratorContext) {
    this.#inner = inner;
    this.#timeoutMs = timeoutMs;
    this.#ctx = ctx;
    this.#lastActivity = ctx.currentProcessingTime();
  }

  /** Records activity and passes the record on. */
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void {
    this.#lastActivity = this.#ctx.currentProcessingTime();
    this.#eventsSinceEmit = true;
    if (this.#idle) {
      this.#idle = false;
      output.markActive();
    }
    this.#inner.onEvent(event, timestamp, output);
  }

  /**
   * Marks idle after the timeout; otherwise lets the inner generator emit. Records since the
   * last emit get their watermark out first (as Flink's idleness timer emits on its first check
   * after activity), else their windows would wait for the input's next record.
   */
  onPeriodicEmit(output: WatermarkOutput): void {
    const eventsSinceEmit = this.#eventsSinceEmit;
    this.#eventsSinceEmit = false;
    if (this.#ctx.currentProcessingTime() - this.#lastActivity >= this.#timeoutMs) {
      if (eventsSinceEmit) this.#inner.onPeriodicEmit(output);
      if (!this.#idle) {
        this.#idle = true;
        output.markIdle();
      }
      return;
    }
    this.#inner.onPeriodicEmit(output);
  }
}

/**
 * Flink's default periodic watermark interval.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_WATERMARK_INTERVAL_MS, WatermarkStrategy } from "@weir/weir";
 * const strategy = WatermarkStrategy.forMonotonousTimestamps<number>();
 * assert.equal(strategy.watermarkIntervalMs, DEFAULT_WATERMARK_INTERVAL_MS);
 * assert.equal(strategy.withWatermarkInterval(50).watermarkIntervalMs, 50);
 * ```
 */
export const DEFAULT_WATERMARK_INTERVAL_MS = 200;

/**
 * A watermark alignment group (`WatermarkStrategy.withWatermarkAlignment`):
 * the sources read with `env.fromSource` in group `group` pause a split (or,
 * for a reader that cannot pause single splits, the reader) whose watermark is
 * more than `maxDriftMs` ahead of the group's lowest, as last reported; readers
 * report to the job's main thread every `updateIntervalMs` of processing time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type WatermarkAlignment, WatermarkStrategy } from "@weir/weir";
 * const s = WatermarkStrategy.forMonotonousTimestamps<number>()
 *   .withWatermarkAlignment("clicks-and-views", 30_000);
 * const a: WatermarkAlignment | undefined = s.alignment;
 * assert.deepEqual(a, { group: "clicks-and-views", maxDriftMs: 30_000, updateIntervalMs: 1_000 });
 * ```
 */
export interface WatermarkAlignment {
  /** The group's name: sources with the same name are aligned with each other. */
  readonly group: string;
  /** How far (ms of event time) a reader may run ahead of the group's lowest watermark. */
  readonly maxDriftMs: number;
  /** ms of processing time between a reader's reports to its group (1000). */
  readonly updateIntervalMs: number;
}

interface StrategySpec<T> {
  readonly generator: ((ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>) | null;
  readonly assigner: TimestampAssigner<T> | undefined;
  readonly idleTimeoutMs: number | undefined;
  readonly intervalMs: number;
  /** The generator's periodic watermark is also asked for right after each record. */
  readonly perRecord?: boolean;
  readonly alignment?: WatermarkAlignment;
}

/**
 * How a stream gets timestamps and watermarks (`assignTimestampsAndWatermarks`).
 *
 * @example Bounded out-of-orderness, a timestamp field, a watermark after every record
 * ```ts
 * import assert from "node:assert/strict";
 * import { WatermarkStrategy } from "@weir/weir";
 * const s = WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(5)
 *   .withTimestampAssigner((e) => e.ts)
 *   .withPerRecordWatermarks();
 * const marks: number[] = [];
 * const gen = s.createWatermarkGenerator({ currentProcessingTime: () => 0 });
 * const out = { emitWatermark: (t: number) => void marks.push(t), markIdle() {}, markActive() {} };
 * gen.onEvent({ ts: 100 }, s.timestampOf({ ts: 100 }, undefined), out);
 * assert.deepEqual(marks, [94]);
 * ```
 */
export class WatermarkStrategy<T> {
  readonly #spec: StrategySpec<T>;

  private constructor(spec: StrategySpec<T>) {
    this.#spec = spec;
  }

  /** Timestamps never decrease: the watermark is the highest timestamp minus 1. */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return WatermarkStrategy.forBoundedOutOfOrderness<T>(0);
  }

  /** Records arrive at most `maxOutOfOrdernessMs` late: watermark = highest − bound − 1. */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    new BoundedOutOfOrdernessWatermarks(maxOutOfOrdernessMs); // validates the bound now
    return new WatermarkStrategy<T>({
      generator: () => new BoundedOutOfOrdernessWatermarks<T>(maxOutOfOrdernessMs),
      assigner: undefined,
      idleTimeoutMs: undefined,
      intervalMs: DEFAULT_WATERMARK_INTERVAL_MS,
    });
  }

  /** A custom generator (periodic, punctuated, or both). */
  static forGenerator<T>(
    factory: (ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>,
  ): WatermarkStrategy<T> {
    // Unchecked code may pass a generator itself (one object for every subtask), which would
    // otherwise fail only when the job runs, with "make is not a function".
    if (typeof factory !== "function") {
      const generator = typeof factory === "object" && factory !== null &&
        typeof (factory as Partial<WatermarkGenerator<T>>).onEvent === "function";
      throw new ConfigError(
        `WatermarkStrategy.forGenerator takes a factory (ctx) => WatermarkGenerator, as Flink's ` +
          `WatermarkGeneratorSupplier, got ${describeValue(factory)}` +
          (generator ? ": pass () => new YourGenerator(), one per subtask" : ""),
      );
    }
    return new WatermarkStrategy<T>({
      generator: factory,
      assigner: undefined,
      idleTimeoutMs: undefined,
      intervalMs: DEFAULT_WATERMARK_INTERVAL_MS,
    });
  }

  /** Timestamps only: event time never advances (until the final watermark at end of input). */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>({
      generator: null,
      assigner: undefined,
      idleTimeoutMs: undefined,
      intervalMs: DEFAULT_WATERMARK_INTERVAL_MS,
    });
  }

  /** Takes each record's timestamp from `assigner` instead of the timestamp it carries. */
  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    // Unchecked code may pass a field name (`"ts"`): it would fail every record.
    if (typeof assigner !== "function") {
      throw new ConfigError(
        `withTimestampAssigner takes a function (element, recordTimestamp) => timestamp, got ` +
          `${shownValue(assigner)}${
            typeof assigner === "string" ? `: e.g. (e) => e.${assigner}` : ""
          }`,
      );
    }
    return new WatermarkStrategy<T>({ ...this.#spec, assigner });
  }

  /** Marks the input idle after `timeoutMs` of processing time without records. */
  withIdleness(timeoutMs: number): WatermarkStrategy<T> {
    if (!(timeoutMs > 0)) throw new ConfigError(`Idle timeout must be > 0 ms, got ${timeoutMs}`);
    checkWholeMs("Idle timeout", timeoutMs);
    return new WatermarkStrategy<T>({ ...this.#spec, idleTimeoutMs: timeoutMs });
  }

  /**
   * Calls the generator's `onPeriodicEmit` every `ms` of processing time
   * (default 200). `0` turns periodic emission off, as Flink's
   * `setAutoWatermarkInterval(0)`: `onPeriodicEmit` is never called (so idleness
   * is never detected either); watermarks a generator emits in `onEvent`
   * (punctuated) still flow, and end of input still emits the final `+Infinity`.
   * A negative, fractional or NaN interval is a `ConfigError`.
   */
  withWatermarkInterval(ms: number): WatermarkStrategy<T> {
    if (!(ms >= 0)) throw new ConfigError(`Watermark interval must be >= 0 ms, got ${ms}`);
    checkWholeMs("Watermark interval", ms);
    return new WatermarkStrategy<T>({ ...this.#spec, intervalMs: ms });
  }

  /**
   * Also asks the generator for its periodic watermark right after each record
   * (`onPeriodicEmit` after `onEvent`, as a punctuated generator emits), which
   * makes the watermarks a pure function of the input: deterministic jobs and
   * tests. Periodic emission (and idleness) goes on at the interval.
   */
  withPerRecordWatermarks(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>({ ...this.#spec, perRecord: true });
  }

  /**
   * Aligns the watermarks of the sources read with `env.fromSource` in
   * `group` (Flink 1.17's watermark alignment), over all their subtasks on
   * any executor: a split whose watermark is more than `maxDriftMs` ahead of
   * the group's lowest is paused until the others catch up (a reader that
   * cannot pause single splits pauses as a whole). Readers report every
   * `updateIntervalMs`; idle and finished splits and readers do not hold the
   * group back.
   */
  withWatermarkAlignment(
    group: string,
    maxDriftMs: number,
    updateIntervalMs = 1_000,
  ): WatermarkStrategy<T> {
    if (!group) throw new ConfigError("A watermark alignment group needs a name");
    if (!(maxDriftMs >= 0)) {
      throw new ConfigError(`Watermark alignment max drift must be >= 0 ms, got ${maxDriftMs}`);
    }
    if (!(updateIntervalMs > 0)) {
      throw new ConfigError(
        `Watermark alignment update interval must be > 0 ms, got ${updateIntervalMs}`,
      );
    }
    checkWholeMs("Watermark alignment max drift", maxDriftMs);
    checkWholeMs("Watermark alignment update interval", updateIntervalMs);
    return new WatermarkStrategy<T>({
      ...this.#spec,
      alignment: { group, maxDriftMs, updateIntervalMs },
    });
  }

  /** The watermark alignment group, if any (only `env.fromSource` applies it). */
  get alignment(): WatermarkAlignment | undefined {
    return this.#spec.alignment;
  }

  /** The periodic emit interval (0: no periodic emission). */
  get watermarkIntervalMs(): number {
    return this.#spec.intervalMs;
  }

  /** The idle timeout, if any. */
  get idleTimeoutMs(): number | undefined {
    return this.#spec.idleTimeoutMs;
  }

  /** The timestamp of a record: the assigner's, else the one it carries. */
  timestampOf(element: T, recordTimestamp: number | undefined): number {
    const a = this.#spec.assigner;
    if (a) {
      const ts = a(element, recordTimestamp);
      if (typeof ts !== "number" || ts !== ts) {
        checkEventTime(ts, "The timestamp assigner", element);
      }
      return ts;
    }
    if (recordTimestamp === undefined) {
      throw new ConfigError(
        "A record has no timestamp: give the watermark strategy a timestamp assigner " +
          "(withTimestampAssigner) or use a source that sets timestamps",
      );
    }
    return recordTimestamp;
  }

  /** Creates the generator of one subtask (per-record emission and idleness included). */
  createWatermarkGenerator(ctx: WatermarkGeneratorContext): WatermarkGenerator<T> {
    const make = this.#spec.generator;
    let inner: WatermarkGenerator<T> = make ? make(ctx) : { onEvent() {}, onPeriodicEmit() {} };
    if (make) checkGenerator(inner);
    if (this.#spec.perRecord) {
      const gen = inner;
      inner = {
        onEvent(event, timestamp, output) {
          gen.onEvent(event, timestamp, output);
          gen.onPeriodicEmit(output);
        },
        onPeriodicEmit: (output) => gen.onPeriodicEmit(output),
      };
    }
    const idle = this.#spec.idleTimeoutMs;
    return idle === undefined ? inner : new WatermarksWithIdleness(inner, idle, ctx);
  }
}

/** A factory's generator needs both methods, as Flink's interface has (an empty one is fine). */
function checkGenerator(generator: unknown): void {
  const missing = ["onEvent", "onPeriodicEmit"].filter((m) =>
    typeof generator !== "object" || generator === null ||
    typeof (generator as Record<string, unknown>)[m] !== "function"
  );
  if (missing.length === 0) return;
  throw new ConfigError(
    `The watermark generator factory given to WatermarkStrategy.forGenerator returned ${
      typeof generator === "object" && generator !== null
        ? `an object without ${missing.map((m) => `${m}()`).join(" and ")}`
        : describeValue(generator)
    }: a WatermarkGenerator needs onEvent(event, timestamp, output) and ` +
      `onPeriodicEmit(output) (either may do nothing)`,
  );
}

/**
 * @internal Checks, when the job is built, that `strategy` is a {@linkcode WatermarkStrategy}
 * (made by its static methods): another object, such as one implementing Flink's
 * `WatermarkStrategy` interface by hand, would fail only when the job runs.
 */
export function checkWatermarkStrategy(call: string, strategy: unknown): void {
  if (strategy instanceof WatermarkStrategy) return;
  throw new ConfigError(
    `${call} needs a WatermarkStrategy (WatermarkStrategy.forBoundedOutOfOrderness(ms), ` +
      `forMonotonousTimestamps(), forGenerator((ctx) => generator), noWatermarks()), got ${
        describeValue(strategy)
      }`,
  );
}
