/**
 * The operator behind `assignTimestampsAndWatermarks`: sets each record's
 * timestamp and runs the strategy's watermark generator. Chained behind a
 * source, the source task ticks it (periodic emits, idleness) and sends its
 * idle status downstream.
 *
 * @module
 */
import { StreamOperator } from "../runtime/operator.ts";
import type {
  WatermarkGenerator,
  WatermarkOutput,
  WatermarkStrategy,
} from "./watermark_strategy.ts";

/**
 * Assigns timestamps and generates watermarks. Watermarks from upstream are
 * dropped, except the final `+Infinity` at end of input.
 */
export class TimestampsAndWatermarksOperator<T> extends StreamOperator<T> {
  readonly #strategy: WatermarkStrategy<T>;
  #generator!: WatermarkGenerator<T>;
  #interval = 0;
  #nextEmit = Infinity;
  #watermark = -Infinity;
  #idle = false;
  readonly #wmOutput: WatermarkOutput = {
    emitWatermark: (ts) => {
      if (ts <= this.#watermark) return;
      this.#watermark = ts;
      this.#idle = false;
      this.output.emitWatermark(ts);
    },
    markIdle: () => void (this.#idle = true),
    markActive: () => void (this.#idle = false),
  };

  /** Creates the operator for `strategy`. */
  constructor(strategy: WatermarkStrategy<T>) {
    super();
    this.#strategy = strategy;
  }

  /** Creates the generator. */
  override open(): void {
    const clock = this.ctx.clock;
    this.#generator = this.#strategy.createWatermarkGenerator({
      currentProcessingTime: () => clock.now(),
    });
    this.#interval = this.#strategy.watermarkIntervalMs;
    if (this.#interval > 0) this.#nextEmit = clock.now() + this.#interval;
  }

  /** Whether the generator marked this input idle (the task forwards it). */
  get sourceIdle(): boolean {
    return this.#idle;
  }

  /** The last watermark emitted. */
  get currentWatermark(): number {
    return this.#watermark;
  }

  /** Stamps the record, emits it, and lets the generator see it. */
  processElement(value: unknown, timestamp: number | undefined): void {
    const ts = this.#strategy.timestampOf(value as T, timestamp);
    this.#idle = false;
    this.output.collect(value as T, ts);
    this.#generator.onEvent(value as T, ts, this.#wmOutput);
    if (this.#interval === 0) this.#generator.onPeriodicEmit(this.#wmOutput);
  }

  /** Called by the task between batches: periodic emission and idleness. */
  onProcessingTick(): void {
    const now = this.ctx.clock.now();
    if (this.#interval === 0) {
      this.#generator.onPeriodicEmit(this.#wmOutput);
    } else if (now >= this.#nextEmit) {
      this.#nextEmit = now + this.#interval;
      this.#generator.onPeriodicEmit(this.#wmOutput);
    }
  }

  /** Only the final watermark passes: this operator owns event time downstream. */
  override processWatermark(timestamp: number): void {
    if (timestamp === Infinity && this.#watermark < Infinity) {
      this.#watermark = Infinity;
      this.output.emitWatermark(Infinity);
    }
  }
}
