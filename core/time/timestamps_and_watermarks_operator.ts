/**
 * The operator behind `assignTimestampsAndWatermarks`: sets each record's
 * timestamp and runs the strategy's watermark generator. Its task ticks it
 * (periodic emits, idleness) and sends its idle status downstream; behind a
 * network edge, where no input may arrive for a while, it wakes its task at
 * each periodic emit (as Flink's runs on a processing-time timer).
 *
 * @module
 */
import { StreamOperator } from "../runtime/operator.ts";
import { checkEventTime } from "./_event_time_value.ts";
import { ListStateDescriptor } from "../state/descriptors.ts";
import { Serializers } from "../state/serializer.ts";
import type { ListState } from "../state/state.ts";
import type {
  WatermarkGenerator,
  WatermarkOutput,
  WatermarkStrategy,
} from "./watermark_strategy.ts";

/**
 * Operator state (union: every subtask restores all of them): each subtask's
 * last watermark generated from input, so a restored job resumes event time
 * at the least of them.
 */
const WATERMARKS = new ListStateDescriptor<number>("watermarks", Serializers.f64);
/** The same in checkpoints of earlier versions: split, each subtask its own. Read when restored from one, then emptied. */
const OWN_WATERMARK = new ListStateDescriptor<number>("watermark", Serializers.f64);

/**
 * Assigns timestamps and generates watermarks. Watermarks from upstream are
 * dropped, except the final `+Infinity` at end of input. The last watermark
 * generated from input is checkpointed: a restored job emits it again before
 * its first record, so a record that was late before the crash is late after
 * it too, and a window that fired before the checkpoint does not fire again
 * for a replayed record (the generator's own view restarts with the replayed
 * records and cannot emit less). Flink keeps no watermark in checkpoints; weir
 * does for that reason. Every subtask resumes at the least watermark of all
 * subtasks, not at its own: a restored subtask may read input another one
 * read before (its splits are assigned again, maybe at another parallelism),
 * whose records its own watermark would make late. Behind a keyBy or a
 * windowAll, where windows are, that least one is what every consumer saw
 * anyway. The `+Infinity` of end of input (or of a stop with drain) is not
 * input's event time and is never stored: a restored job goes on from where
 * its input is, never from the end of time.
 */
export class TimestampsAndWatermarksOperator<T> extends StreamOperator<T> {
  readonly #strategy: WatermarkStrategy<T>;
  #generator!: WatermarkGenerator<T>;
  #interval = 0;
  #nextEmit = Infinity;
  #watermark = -Infinity;
  /** The last watermark generated from input (what a snapshot stores). */
  #generated = -Infinity;
  #idle = false;
  #saved: ListState<number> | undefined;
  /** A restored watermark not yet sent downstream. */
  #resend = false;
  /** When the scheduled wake-up of the task is due (NaN: none scheduled). */
  #wakeAt = NaN;
  #cancelWake: (() => void) | undefined;
  readonly #wmOutput: WatermarkOutput = {
    emitWatermark: (ts) => {
      checkEventTime(ts, "The watermark generator's emitWatermark");
      if (ts <= this.#watermark) return;
      this.#watermark = this.#generated = ts;
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
    this.#scheduleWake();
    const state = this.ctx.operatorState;
    this.#saved = state.getUnionListState(WATERMARKS);
    let saved = this.#saved.get() ?? [];
    if (saved.length === 0 && state.isRestored) {
      const own = state.getListState(OWN_WATERMARK);
      saved = own.get() ?? [];
      own.clear();
    }
    // +∞ came from snapshots of older versions taken after end of input: that input is done.
    const wm = Math.min(...saved.filter((w) => w < Infinity));
    if (wm > -Infinity && wm < Infinity) {
      this.#watermark = this.#generated = wm;
      this.#resend = true;
    }
  }

  /** Stores the last watermark generated from input. */
  override snapshotState(): void {
    this.#saved?.update([this.#generated]);
  }

  /** Sends a restored watermark downstream (once, before anything else). */
  #resendRestored(): void {
    this.#resend = false;
    if (this.#watermark < Infinity) this.output.emitWatermark(this.#watermark);
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
    if (this.#resend) this.#resendRestored();
    const ts = this.#strategy.timestampOf(value as T, timestamp);
    this.#idle = false;
    this.output.collect(value as T, ts);
    this.#generator.onEvent(value as T, ts, this.#wmOutput);
  }

  /** Called by the task between batches: periodic emission and idleness. */
  onProcessingTick(): void {
    if (this.#resend) this.#resendRestored();
    const now = this.ctx.clock.now();
    // An interval of 0 turns periodic emission off (as Flink's).
    if (this.#interval > 0 && now >= this.#nextEmit) {
      this.#nextEmit = now + this.#interval;
      this.#generator.onPeriodicEmit(this.#wmOutput);
    }
    this.#scheduleWake();
  }

  /**
   * Wakes the task (a mail; the task ticks after mails) when the next periodic emit is due: a
   * task that waits for input ticks only when some arrives, and an input that sends nothing
   * would never go idle.
   */
  #scheduleWake(): void {
    const mailbox = this.ctx.mailbox;
    if (mailbox === undefined || this.#nextEmit === Infinity || this.#wakeAt === this.#nextEmit) {
      return;
    }
    this.#cancelWake?.();
    this.#wakeAt = this.#nextEmit;
    this.#cancelWake = this.ctx.clock.schedule(this.#nextEmit, () => {
      this.#wakeAt = NaN;
      this.#cancelWake = undefined;
      mailbox.post(() => {});
    });
  }

  /** Cancels the scheduled wake-up. */
  override close(): void {
    this.#cancelWake?.();
    this.#cancelWake = undefined;
  }

  /** Only the final watermark passes: this operator owns event time downstream. */
  override processWatermark(timestamp: number): void {
    if (this.#resend) this.#resendRestored();
    if (timestamp === Infinity && this.#watermark < Infinity) {
      this.#watermark = Infinity;
      this.output.emitWatermark(Infinity);
    }
  }
}
