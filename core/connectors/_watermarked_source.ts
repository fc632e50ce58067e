/**
 * What `env.fromSource(source, strategy, name)` runs: the source's readers
 * wrapped so each split's records feed that split's watermark generator
 * ({@linkcode SplitWatermarks}), splits ahead of their alignment group paused,
 * and an operator chained after the source that emits the reader's watermark
 * and idleness downstream between batches.
 *
 * Watermark alignment (Flink 1.17+): every update interval a reader reports
 * its watermark to its group in the job's main thread (`ctx.reportWatermark`;
 * the group spans every subtask of every source naming it, on any worker) and
 * is answered with the highest watermark it may have (`alignWatermarks`). A
 * split whose watermark goes above it is paused at once
 * (`pauseOrResumeSplits`), and resumed when an answer allows it again; a
 * reader whose own watermark is above it reads nothing (the fallback for
 * readers that cannot pause single splits).
 *
 * @module
 */
import { StreamOperator } from "../runtime/operator.ts";
import type { WatermarkStrategy } from "../time/watermark_strategy.ts";
import {
  isSplitReader,
  type PollStatus,
  type Source,
  type SourceContext,
  type SourceOutput,
  type SourceReader,
  type SplitReader,
} from "./source.ts";
import { splitsToPauseOrResume, SplitWatermarks } from "./split_watermarks.ts";
import {
  type EnumeratedSplitReader,
  isEnumeratedSplitReader,
  type SplitEnumerator,
  type SplitEnumeratorContext,
} from "./split_enumerator.ts";

/** The watermarks of one `fromSource` call's readers, by subtask index (same thread as the operator). */
export type ReaderWatermarks<T> = Map<number, SplitWatermarks<T>>;

/** A reader of a `fromSource` source: it hears its alignment group's answers. */
export interface AlignedReader {
  /** The highest watermark this reader's splits may have and go on reading. */
  alignWatermarks(maxAllowedWatermark: number): void;
}

/** Whether `reader` hears alignment answers ({@linkcode AlignedReader}). */
export function isAlignedReader(reader: unknown): reader is AlignedReader {
  return typeof (reader as Partial<AlignedReader>).alignWatermarks === "function";
}

/** The split of records a reader emits without naming one. */
const WHOLE_READER = "";

/** Wraps `source`'s readers; see the module doc. */
export class WatermarkedSource<T> implements Source<T> {
  /** The wrapped source's name. */
  readonly name: string;
  /** The wrapped source's. */
  readonly maxParallelism?: number;
  readonly #inner: Source<T>;
  readonly #strategy: WatermarkStrategy<T>;
  readonly #readers: ReaderWatermarks<T>;

  /**
   * Reads `inner` with `strategy`'s watermarks per split; `readers` is shared
   * with the {@linkcode SourceWatermarksOperator}.
   */
  constructor(inner: Source<T>, strategy: WatermarkStrategy<T>, readers: ReaderWatermarks<T>) {
    this.#inner = inner;
    this.name = inner.name;
    if (inner.maxParallelism !== undefined) this.maxParallelism = inner.maxParallelism;
    this.#strategy = strategy;
    this.#readers = readers;
  }

  /** The source it wraps (the job test driver finds a `TestSource` through it). */
  get inner(): Source<T> {
    return this.#inner;
  }

  /** The wrapped source's check. */
  check(): void {
    this.#inner.check?.();
  }

  /** The wrapped source's split enumerator, if it has one. */
  createEnumerator(
    ctx: SplitEnumeratorContext<unknown>,
    restored: unknown,
  ): SplitEnumerator<unknown, unknown> | undefined {
    return this.#inner.createEnumerator?.(ctx, restored);
  }

  /** The wrapped source's reader of `ctx`'s subtask, with watermarks per split. */
  createReader(ctx: SourceContext): SourceReader<T> & AlignedReader {
    const reader = this.#inner.createReader(ctx);
    const alignment = this.#strategy.alignment;
    const reportWatermark = ctx.reportWatermark;
    const aligned = alignment !== undefined && reportWatermark !== undefined;
    const report = (watermark: number) =>
      reportWatermark!(alignment!.group, alignment!.maxDriftMs, watermark);
    const splitPausing = aligned && typeof reader.pauseOrResumeSplits === "function";
    let maxAllowed = Infinity;
    const paused = new Set<string>();
    const pauseOrResume = (pause: string[], resume: string[]) => {
      if (pause.length === 0 && resume.length === 0) return;
      for (const id of pause) {
        paused.add(id);
        watermarks.setSplitPaused(id, true);
      }
      for (const id of resume) {
        paused.delete(id);
        watermarks.setSplitPaused(id, false);
      }
      reader.pauseOrResumeSplits!(pause, resume);
    };
    // A split is paused as soon as its watermark passes the limit (Flink's
    // updateCurrentSplitWatermark), even in the middle of the reader's poll.
    const onSplitWatermark = splitPausing
      ? (id: string, watermark: number) => {
        if (watermark > maxAllowed && id !== WHOLE_READER && !paused.has(id)) {
          pauseOrResume([id], []);
        }
      }
      : undefined;
    const watermarks = new SplitWatermarks(this.#strategy, () => ctx.now(), onSplitWatermark);
    this.#readers.set(ctx.subtaskIndex, watermarks);
    let nextReport = -Infinity;
    // Outputs per split, made once: a split's records go through them on every poll.
    let downstream: SourceOutput<T> = { collect() {} };
    const outputs = new Map<string, SourceOutput<T>>();
    const splitOutput = (id: string): SourceOutput<T> => {
      let o = outputs.get(id);
      if (!o) {
        watermarks.addSplit(id);
        outputs.set(
          id,
          o = {
            collect: (v, ts) => downstream.collect(v, watermarks.onRecord(id, v, ts)),
          },
        );
      }
      return o;
    };
    const whole: SourceOutput<T> = {
      collect: (v, ts) => downstream.collect(v, watermarks.onRecord(WHOLE_READER, v, ts)),
      forSplit: splitOutput,
      releaseSplit: (id) => {
        outputs.delete(id);
        paused.delete(id);
        watermarks.release(id);
      },
    };
    const wrapped: SourceReader<T> & AlignedReader = {
      poll(out: SourceOutput<T>, max: number): PollStatus | Promise<PollStatus> {
        downstream = out;
        if (aligned) {
          const now = ctx.now();
          // A reader without a watermark yet does not report: it holds nobody back.
          if (now >= nextReport && watermarks.watermark > -Infinity) {
            nextReport = now + alignment.updateIntervalMs;
            report(watermarks.idle ? Infinity : watermarks.watermark);
          }
          // Every split ahead of the group (or the reader cannot pause single splits):
          // read nothing until the others catch up.
          const ahead = !watermarks.idle && watermarks.watermark > maxAllowed;
          watermarks.setReaderPaused(ahead);
          if (ahead) return "idle";
        }
        const status = reader.poll(whole, max);
        if (!aligned) return status;
        // A finished reader holds the group back no more.
        const leaveAtEnd = (s: PollStatus) => {
          if (s === "end") report(Infinity);
          return s;
        };
        return typeof status === "string" ? leaveAtEnd(status) : status.then(leaveAtEnd);
      },
      alignWatermarks(maxAllowedWatermark: number): void {
        maxAllowed = maxAllowedWatermark;
        if (!splitPausing) return;
        const splits = watermarks.splits();
        splits.delete(WHOLE_READER);
        const { pause, resume } = splitsToPauseOrResume(splits, paused, maxAllowed);
        pauseOrResume(pause, resume);
      },
      position: () => reader.position(),
      restore: (p) => reader.restore(p),
      close: () => reader.close?.(),
    };
    if (reader.counters) wrapped.counters = () => reader.counters!();
    if (!isSplitReader(reader)) return wrapped;
    const split: SplitReader<T> & AlignedReader = {
      ...wrapped,
      snapshotSplits: (id) => reader.snapshotSplits(id),
      restoreSplits: (all) => reader.restoreSplits(all),
    };
    if (reader.notifyCheckpointComplete) {
      split.notifyCheckpointComplete = (id) => reader.notifyCheckpointComplete!(id);
    }
    if (reader.notifyCheckpointAborted) {
      split.notifyCheckpointAborted = (id) => reader.notifyCheckpointAborted!(id);
    }
    if (reader.splitInfo) split.splitInfo = () => reader.splitInfo!();
    if (!isEnumeratedSplitReader(reader)) return split;
    const enumerated: EnumeratedSplitReader<T> & AlignedReader = {
      ...split,
      addSplits: (splits) => reader.addSplits(splits),
      notifyNoMoreSplits: () => reader.notifyNoMoreSplits(),
    };
    return enumerated;
  }
}

/**
 * Chained after a {@linkcode WatermarkedSource}: passes records on and, when
 * the task ticks it between batches, emits its subtask's reader watermark
 * when it advanced and reports the reader idle when no split holds it.
 */
export class SourceWatermarksOperator<T> extends StreamOperator<T> {
  readonly #readers: ReaderWatermarks<T>;
  #watermarks: SplitWatermarks<T> | undefined;
  #emitted = -Infinity;
  #idle = false;

  /** Emits the watermarks of `readers` (the reader of this operator's subtask). */
  constructor(readers: ReaderWatermarks<T>) {
    super();
    this.#readers = readers;
  }

  /** Passes the record on (the reader stamped it). */
  processElement(value: unknown, timestamp: number | undefined): void {
    this.output.collect(value as T, timestamp);
  }

  /** Periodic emission and idleness (the task's tick between batches). */
  onProcessingTick(): void {
    const w = this.#watermarks ??= this.#readers.get(this.ctx.subtaskIndex);
    if (!w) return;
    w.tick();
    this.#idle = w.idle;
    if (w.watermark > this.#emitted) {
      this.#emitted = w.watermark;
      this.output.emitWatermark(w.watermark);
    }
  }

  /** Whether no split holds the reader's watermark (the task tells downstream). */
  get sourceIdle(): boolean {
    return this.#idle;
  }

  /** Only the final watermark (end of input) passes: the reader owns event time. */
  override processWatermark(timestamp: number): void {
    if (timestamp === Infinity && this.#emitted < Infinity) {
      this.#emitted = Infinity;
      this.output.emitWatermark(Infinity);
    }
  }
}
