/**
 * The interval join operator (Flink's `IntervalJoinOperator`): a keyed
 * two-input operator that joins a left element at time `t` with every right
 * element of the same key whose time lies in `[t + lower, t + upper]`.
 *
 * Each side's elements are buffered in keyed list state (`[timestamp,
 * element, watermark at arrival]`; appended without reading, read with one lookup, never scanned),
 * so the buffers and their cleanup timers are checkpointed and restored by
 * either backend. A left element expires once the watermark reaches the last
 * time a right element could still match it (`t + upper`), a right element
 * once it reaches `t - lower`; an expired element never joins again. An
 * element behind the watermark on arrival is late: it goes to the side's
 * late-data output, or is dropped.
 *
 * Expired elements are removed by cleanup timers rounded up to a multiple of
 * the interval's length, so a busy key rewrites its buffer once per interval
 * rather than once per distinct timestamp; a buffer holds its elements at
 * most about twice as long as they can match.
 *
 * @module
 */
import { ConfigError, StateError } from "../errors.ts";
import { checkWholeMs } from "./_event_time_value.ts";
import { checkVoidResult } from "../runtime/_sync_call.ts";
import type { Collector } from "../dataflow/functions.ts";
import type { KeyedStateBackend, NamespacedState } from "../state/backend.ts";
import { ListStateDescriptor } from "../state/descriptors.ts";
import type { Serializer } from "../state/serializer.ts";
import { Serializers } from "../state/serializer.ts";
import { plainStateSerializer } from "../state/plain_serializer.ts";
import type { ListState } from "../state/state.ts";
import { StreamOperator } from "../runtime/operator.ts";
import { type KeySelector, runtimeContext } from "../runtime/operators.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import type { InternalTimerService, Timer } from "../runtime/timers.ts";
import type { ProcessJoinContext, ProcessJoinFunction } from "./join_functions.ts";

/** Everything an interval join operator is built from. */
export interface IntervalJoinSpec<L, R, O> {
  /** Key of left elements. */
  readonly leftKey: KeySelector<L>;
  /** Key of right elements. */
  readonly rightKey: KeySelector<R>;
  /** Lower bound of `right.ts - left.ts` (ms). */
  readonly lower: number;
  /** Upper bound of `right.ts - left.ts` (ms). */
  readonly upper: number;
  /** Whether `lower` itself is excluded. */
  readonly lowerExclusive?: boolean;
  /** Whether `upper` itself is excluded. */
  readonly upperExclusive?: boolean;
  /** Serializes buffered left elements (default `Serializers.plain`). */
  readonly leftSerializer?: Serializer<L>;
  /** Serializes buffered right elements (default `Serializers.plain`). */
  readonly rightSerializer?: Serializer<R>;
  /** Late left elements go here (else they are dropped). */
  readonly leftLateTag?: OutputTag<L>;
  /** Late right elements go here (else they are dropped). */
  readonly rightLateTag?: OutputTag<R>;
  /** Handles each pair. */
  readonly fn: ProcessJoinFunction<L, R, O>;
}

/** An element, its timestamp and the watermark when it arrived. */
type Entry = [timestamp: number, element: unknown, arrival: number];
type Buffer = ListState<Entry> & NamespacedState<undefined>;

const LEFT = 0;
const RIGHT = 1;

/** The interval join operator (see the module doc). */
export class IntervalJoinOperator<L, R, O> extends StreamOperator<O> {
  readonly #spec: IntervalJoinSpec<L, R, O>;
  /** Inclusive bounds in whole ms. */
  readonly #lower: number;
  readonly #upper: number;
  /** Cleanup timers are rounded up to a multiple of this (ms). */
  readonly #cleanupStep: number;
  readonly #fn: ProcessJoinFunction<L, R, O>;
  #backend!: KeyedStateBackend;
  #timers!: InternalTimerService<number>;
  readonly #buffers: Buffer[] = [];
  #watermark = -Infinity;
  #leftTs = 0;
  #rightTs = 0;
  #emitTs = 0;
  /** Elements dropped (or side-output) as late. */
  lateRecordsDropped = 0;
  readonly #ctx: ProcessJoinContext;
  readonly #out: Collector<O> = { collect: (v) => this.output.collect(v, this.#emitTs) };

  /**
   * Checks the bounds as given (`lower <= upper`, as Flink's operator); throws
   * `ConfigError` otherwise. Exclusive bounds may leave an empty interval
   * (`[0, 0]` with both exclusive): accepted, as in Flink, and joins nothing.
   */
  constructor(spec: IntervalJoinSpec<L, R, O>) {
    super();
    if (!Number.isFinite(spec.lower) || !Number.isFinite(spec.upper) || spec.lower > spec.upper) {
      throw new ConfigError(
        `Interval join bounds must be finite ms with lower <= upper, got [${spec.lower}, ${spec.upper}]`,
      );
    }
    checkWholeMs("Interval join lower bound", spec.lower);
    checkWholeMs("Interval join upper bound", spec.upper);
    this.#spec = spec;
    // Exclusive bounds become inclusive ones 1 ms inside, as in Flink.
    this.#lower = spec.lowerExclusive ? spec.lower + 1 : spec.lower;
    this.#upper = spec.upperExclusive ? spec.upper - 1 : spec.upper;
    this.#cleanupStep = Math.max(1, this.#upper - this.#lower);
    this.#fn = Object.create(spec.fn) as ProcessJoinFunction<L, R, O>;
    // deno-lint-ignore no-this-alias
    const self = this;
    this.#ctx = {
      leftTimestamp: () => self.#leftTs,
      rightTimestamp: () => self.#rightTs,
      timestamp: () => self.#emitTs,
      output: <X>(tag: OutputTag<X>, value: X) =>
        self.output.collectSide(tag.id, value, self.#emitTs),
    };
  }

  /** Creates the buffers and the cleanup timers (restored ones on restore). */
  override async open(): Promise<void> {
    this.#backend = this.ctx.keyedBackend();
    // As a same-worker edge passes them: plain values come back as they were.
    const plain = plainStateSerializer<unknown>(
      `operator "${this.ctx.name}"`,
      "leftSerializer / rightSerializer in the join's options",
    );
    const sides = [
      ["left-buffer", this.#spec.leftSerializer],
      ["right-buffer", this.#spec.rightSerializer],
    ] as const;
    for (const [name, ser] of sides) {
      const entry = Serializers.tuple(
        Serializers.f64,
        (ser ?? plain) as Serializer<unknown>,
        Serializers.f64,
      );
      this.#buffers.push(
        this.#backend.state(new ListStateDescriptor<Entry>(name, entry)) as Buffer,
      );
    }
    this.#timers = this.ctx.timerService<number>(
      { onTimer: (t) => this.#cleanup(t) },
      Serializers.f64,
    );
    await this.#fn.open?.(runtimeContext(this.ctx));
  }

  /** The operator's timers (tests read them). */
  timerService(): InternalTimerService<number> {
    return this.#timers;
  }

  /** Buffers the element and joins it with the other side's buffered elements. */
  processElement(
    value: unknown,
    ts: number | undefined,
    input: number,
    keyGroup?: number,
    keyHash?: number,
  ): void {
    if (ts === undefined) {
      throw new StateError(
        "Interval join needs event timestamps: assign them with assignTimestampsAndWatermarks",
      );
    }
    // As Flink refuses Long.MIN_VALUE: ±Infinity is no point in time to measure an interval from
    // (it would join only records at the same infinity, and never be late).
    if (ts === Infinity || ts === -Infinity) {
      throw new ConfigError(
        `A record with timestamp ${ts} reached an interval join: it needs finite timestamps ` +
          "(-Infinity is Flink's Long.MIN_VALUE, no timestamp)",
      );
    }
    const left = input === LEFT;
    if (ts < this.#watermark) {
      this.lateRecordsDropped++;
      const tag = left ? this.#spec.leftLateTag : this.#spec.rightLateTag;
      if (tag) this.output.collectSide(tag.id, value, ts);
      return;
    }
    this.#backend.setCurrentKey(
      left ? this.#spec.leftKey(value as L) : this.#spec.rightKey(value as R),
      keyGroup,
      keyHash,
    );
    this.#buffers[left ? LEFT : RIGHT]!.add([ts, value, this.#watermark]);
    // Bounds on the other side's timestamps.
    const from = left ? ts + this.#lower : ts - this.#upper;
    const to = left ? ts + this.#upper : ts - this.#lower;
    const others = this.#buffers[left ? RIGHT : LEFT]!.get();
    if (others !== undefined) {
      for (const [other, e, arrival] of others) {
        if (other < from || other > to || this.#expired(!left, other, arrival)) continue;
        this.#leftTs = left ? ts : other;
        this.#rightTs = left ? other : ts;
        this.#emitTs = ts > other ? ts : other;
        const r: unknown = left
          ? this.#fn.processElement(value as L, e as R, this.#ctx, this.#out)
          : this.#fn.processElement(e as L, value as R, this.#ctx, this.#out);
        // processElement is void, as Flink's: a promise or returned records fail the job.
        if (r !== undefined) checkVoidResult(r, "processElement", this.ctx.name);
      }
    }
    const step = this.#cleanupStep;
    this.#timers.registerEventTimeTimer(input, Math.ceil(this.#expiry(left, ts) / step) * step);
  }

  /** When the watermark reaches this, an element of the side at `ts` can no longer match. */
  #expiry(left: boolean, ts: number): number {
    if (left) return this.#upper > 0 ? ts + this.#upper : ts;
    return this.#lower <= 0 ? ts - this.#lower : ts;
  }

  /**
   * Whether an element was dropped in Flink's operator, which removes it at
   * the first watermark (after its arrival) that reaches its expiry: an
   * element exactly at the watermark still joins until the next one.
   */
  #expired(left: boolean, ts: number, arrival: number): boolean {
    return this.#watermark > arrival && this.#expiry(left, ts) <= this.#watermark;
  }

  /** Removes the side's expired elements. */
  #cleanup(timer: Timer<number>): void {
    const left = timer.namespace === LEFT;
    const buffer = this.#buffers[left ? LEFT : RIGHT]!;
    const entries = buffer.get();
    if (entries === undefined) return;
    const live = entries.filter(([ts, , arrival]) => !this.#expired(left, ts, arrival));
    if (live.length === 0) buffer.clear();
    else if (live.length < entries.length) buffer.update(live);
  }

  /** Drops buffered elements the watermark made unmatchable, then forwards it. */
  override processWatermark(timestamp: number): void {
    this.#watermark = timestamp;
    this.#timers.advanceWatermark(timestamp);
    this.output.emitWatermark(timestamp);
  }

  /** Closes the function. */
  override async close(): Promise<void> {
    this.#timers?.dispose();
    await this.#fn.close?.();
  }
}
