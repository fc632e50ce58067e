/**
 * What `env.fromSource(source, strategy, name)` runs: the source's readers
 * wrapped so each split's records feed that split's watermark generator
 * ({@linkcode SplitWatermarks}), readers ahead of their alignment group paused,
 * and an operator chained after the source that emits the reader's watermark
 * and idleness downstream between batches.
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
import { SplitWatermarks, WatermarkAlignmentGroup } from "./split_watermarks.ts";
import {
  type EnumeratedSplitReader,
  isEnumeratedSplitReader,
  type SplitEnumerator,
  type SplitEnumeratorContext,
} from "./split_enumerator.ts";

/** The watermarks of one `fromSource` call's readers, by subtask index (same thread as the operator). */
export type ReaderWatermarks<T> = Map<number, SplitWatermarks<T>>;

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
  readonly #groups: Map<string, WatermarkAlignmentGroup>;
  readonly #id: string;

  /**
   * Reads `inner` with `strategy`'s watermarks per split; `readers` is shared
   * with the {@linkcode SourceWatermarksOperator}; `groups` are the job's
   * alignment groups by name; `id` names this source in its group.
   */
  constructor(
    inner: Source<T>,
    strategy: WatermarkStrategy<T>,
    readers: ReaderWatermarks<T>,
    groups: Map<string, WatermarkAlignmentGroup>,
    id: string,
  ) {
    this.#inner = inner;
    this.name = inner.name;
    if (inner.maxParallelism !== undefined) this.maxParallelism = inner.maxParallelism;
    this.#strategy = strategy;
    this.#readers = readers;
    this.#groups = groups;
    this.#id = id;
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
  createReader(ctx: SourceContext): SourceReader<T> {
    const reader = this.#inner.createReader(ctx);
    const watermarks = new SplitWatermarks(this.#strategy, () => ctx.now());
    this.#readers.set(ctx.subtaskIndex, watermarks);
    const alignment = this.#strategy.alignment;
    let group: WatermarkAlignmentGroup | undefined;
    if (alignment) {
      group = this.#groups.get(alignment.group);
      if (!group) {
        this.#groups.set(
          alignment.group,
          group = new WatermarkAlignmentGroup(alignment.maxDriftMs),
        );
      }
    }
    const member = `${this.#id}/${ctx.subtaskIndex}`;
    let nextReport = -Infinity;
    let maxAllowed = Infinity;
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
        watermarks.release(id);
      },
    };
    const wrapped: SourceReader<T> = {
      poll(out: SourceOutput<T>, max: number): PollStatus | Promise<PollStatus> {
        downstream = out;
        if (group) {
          const now = ctx.now();
          if (now >= nextReport) {
            group.report(member, watermarks.idle ? Infinity : watermarks.watermark);
            maxAllowed = group.maxAllowedWatermark();
            nextReport = now + alignment!.updateIntervalMs;
          }
          // Ahead of the group: read nothing until the others catch up (reader-level alignment).
          if (!watermarks.idle && watermarks.watermark > maxAllowed) return "idle";
        }
        const status = reader.poll(whole, max);
        if (!group) return status;
        const leaveAtEnd = (s: PollStatus) => {
          if (s === "end") group.leave(member);
          return s;
        };
        return typeof status === "string" ? leaveAtEnd(status) : status.then(leaveAtEnd);
      },
      position: () => reader.position(),
      restore: (p) => reader.restore(p),
      close: () => {
        group?.leave(member);
        return reader.close?.();
      },
    };
    if (reader.counters) wrapped.counters = () => reader.counters!();
    if (!isSplitReader(reader)) return wrapped;
    const split: SplitReader<T> = {
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
    const enumerated: EnumeratedSplitReader<T> = {
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
