/**
 * A source the test feeds by hand.
 *
 * @module
 */
import { ConfigError, StateError } from "../errors.ts";
import { checkEventTime } from "../time/_event_time_value.ts";
import { EMIT_WATERMARK, type WatermarkCarrier } from "../connectors/_source_watermark.ts";
import type {
  PollStatus,
  Source,
  SourceContext,
  SourceOutput,
  SourceReader,
} from "../connectors/source.ts";

/** A record, or (`watermark` set) a watermark pushed between records. */
type Item<T> =
  | { readonly value: T; readonly timestamp: number | undefined; readonly watermark?: undefined }
  | { readonly watermark: number };

/**
 * A {@linkcode Source} whose records the test pushes, for
 * {@linkcode JobTestDriver}: `push` and `pushWithTimestamp` append records,
 * `pushWatermark` appends a watermark (as a Flink test source's
 * `ctx.emitWatermark`), `end` ends the input (which, as for any bounded
 * source, ends event time and fires every pending event-time timer). It runs
 * with parallelism 1: a pushed watermark goes to every downstream subtask,
 * after the records pushed before it. Its position is the number of records
 * and watermarks read, so a restored job resumes after them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TestSource } from "@weir/weir/testing";
 * const src = new TestSource<string>();
 * src.push("a", "b");
 * const reader = src.createReader({ subtaskIndex: 0, parallelism: 1, now: () => 0 });
 * const got: string[] = [];
 * assert.equal(reader.poll({ collect: (v) => got.push(v) }, 10), "idle");
 * src.end();
 * assert.equal(reader.poll({ collect: (v) => got.push(v) }, 10), "end");
 * assert.deepEqual(got, ["a", "b"]);
 * ```
 */
export class TestSource<T> implements Source<T> {
  /** The source's name. */
  readonly name: string;
  /** One subtask reads everything, in push order. */
  readonly maxParallelism = 1;
  readonly #items: Item<T>[] = [];
  #read = 0;
  #watermark = -Infinity;
  #ended = false;
  #drained = false;

  /** Creates a source named `name` ("test"). */
  constructor(name = "test") {
    this.name = name;
  }

  /** Appends records without timestamps. */
  push(...values: T[]): void {
    this.#checkOpen();
    for (const value of values) this.#items.push({ value, timestamp: undefined });
  }

  /** Appends one record with event timestamp `timestamp`. */
  pushWithTimestamp(value: T, timestamp: number): void {
    this.#checkOpen();
    // Refused here, where the test gave it, not as a job failure downstream (or not at all).
    checkEventTime(timestamp, "TestSource.pushWithTimestamp", value);
    this.#items.push({ value, timestamp });
  }

  /**
   * Appends watermark `timestamp`: once the records pushed before it are read,
   * event time downstream advances to it, so event-time windows and timers at
   * or before it fire, and records pushed after it with a timestamp at or
   * below it are late. As in Flink, an `assignTimestampsAndWatermarks`
   * downstream drops it (its strategy owns event time there; only the end of
   * input passes). It needs the source added with `env.addSource` (under
   * `env.fromSource` the strategy's generators own event time: the job fails
   * when the reader reaches the watermark). NaN, a non-number, or a watermark
   * below one pushed before is a `ConfigError`; after `end`, a `StateError`.
   */
  pushWatermark(timestamp: number): void {
    this.#checkOpen();
    checkEventTime(timestamp, "TestSource.pushWatermark");
    if (timestamp < this.#watermark) {
      // Event time never goes back: downstream would ignore it, and the test would
      // expect what the job never does.
      throw new ConfigError(
        `TestSource "${this.name}": pushWatermark(${timestamp}) goes back from the watermark ` +
          `${this.#watermark} pushed before: watermarks must not decrease`,
      );
    }
    this.#watermark = timestamp;
    this.#items.push({ watermark: timestamp });
  }

  /** Ends the input once what was pushed is read; idempotent. */
  end(): void {
    this.#ended = true;
  }

  /** Whether `end` was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Whether a reader has read everything and reported the end. */
  get drained(): boolean {
    return this.#drained;
  }

  /** Records and watermarks pushed but not yet read by the job. */
  get pending(): number {
    return this.#items.length - this.#read;
  }

  #checkOpen(): void {
    if (this.#ended) throw new StateError(`TestSource "${this.name}" has ended: cannot push more`);
  }

  /** Creates the reader (one subtask). */
  createReader(_ctx: SourceContext): SourceReader<T> {
    const items = this.#items;
    return {
      poll: (out: SourceOutput<T> & WatermarkCarrier, max: number): PollStatus => {
        let n = 0;
        while (n < max && this.#read < items.length) {
          const it = items[this.#read]!;
          if (it.watermark !== undefined) {
            const emit = out[EMIT_WATERMARK];
            if (emit === undefined) {
              throw new ConfigError(
                `TestSource "${this.name}": pushWatermark needs the source added with ` +
                  `env.addSource; under env.fromSource its WatermarkStrategy makes the watermarks`,
              );
            }
            this.#read++;
            emit(it.watermark);
          } else {
            this.#read++;
            if (it.timestamp === undefined) out.collect(it.value);
            else out.collect(it.value, it.timestamp);
          }
          n++;
        }
        if (this.#read < items.length) return "more";
        if (!this.#ended) return "idle";
        this.#drained = true;
        return "end";
      },
      position: () => this.#read,
      restore: (position) => {
        this.#read = position as number;
      },
    };
  }
}
