/**
 * The user function interfaces, as in Flink's DataStream API. Functions are
 * plain objects or class instances; `open` receives a
 * {@linkcode RuntimeContext} to declare state, and the runtime owns that state.
 *
 * @module
 */
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../state/descriptors.ts";
import type { OperatorStateStore } from "../state/operator_state.ts";
import type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from "../state/state.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import type { TimeDomain } from "../runtime/timers.ts";

/** Receives a function's output records. */
export interface Collector<T> {
  /** Emits a record (with the input record's timestamp). */
  collect(value: T): void;
}

/**
 * What a function sees of its place in the job, and where it gets keyed state.
 * Keyed state is available only in functions applied to a keyed stream.
 */
export interface RuntimeContext {
  /** The operator's uid. */
  readonly operatorUid: string;
  /** The operator's name. */
  readonly taskName: string;
  /** This subtask's index. */
  readonly subtaskIndex: number;
  /** The operator's parallelism. */
  readonly parallelism: number;
  /** The number of key groups. */
  readonly maxParallelism: number;
  /** Keyed value state. */
  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  /** Keyed list state. */
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  /** Keyed map state. */
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  /** Keyed reducing state. */
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  /** Keyed aggregating state. */
  getAggregatingState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT>;
}

/** A function with a life cycle. */
export interface RichFunction {
  /** Called once per subtask before the first record; declare state here. */
  open?(ctx: RuntimeContext): void | Promise<void>;
  /** Called once when the subtask stops. */
  close?(): void | Promise<void>;
}

/** What `initializeState` receives. */
export interface FunctionInitializationContext {
  /** Operator (non-keyed) state of this subtask. */
  readonly operatorStateStore: OperatorStateStore;
  /** Whether state was restored from a checkpoint or savepoint. */
  readonly isRestored: boolean;
}

/** What `snapshotState` receives. */
export interface FunctionSnapshotContext {
  /** The checkpoint being taken. */
  readonly checkpointId: number;
}

/**
 * A function with operator state, as Flink's `CheckpointedFunction`:
 * `initializeState` runs before `open` (restoring state), `snapshotState` at
 * every checkpoint barrier.
 */
export interface CheckpointedFunction extends CheckpointListener {
  /** Registers (and restores) operator state. */
  initializeState?(ctx: FunctionInitializationContext): void;
  /** Brings operator state up to date for checkpoint `ctx.checkpointId`. */
  snapshotState?(ctx: FunctionSnapshotContext): void;
}

/**
 * Told when a checkpoint completed, as Flink's `CheckpointListener`: the
 * moment a two-phase-commit sink commits what it pre-committed.
 */
export interface CheckpointListener {
  /** Checkpoint `checkpointId` (and every earlier one) is complete. */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
}

/** A map function: a plain function, or an object with `map` and a life cycle. */
export type MapFunction<I, O> =
  | ((value: I) => O)
  | (RichFunction & CheckpointedFunction & { map(value: I): O });

/** A filter: keeps records for which it returns true. */
export type FilterFunction<I> =
  | ((value: I) => boolean)
  | (RichFunction & CheckpointedFunction & { filter(value: I): boolean });

/** A flatMap function: emits zero or more records per input. */
export type FlatMapFunction<I, O> =
  | ((value: I, out: Collector<O>) => void)
  | (RichFunction & CheckpointedFunction & { flatMap(value: I, out: Collector<O>): void });

/** Registers and deletes timers; reads both clocks. */
export interface TimerService {
  /** Current processing time (the job's clock). */
  currentProcessingTime(): number;
  /** Current event time (the operator's watermark). */
  currentWatermark(): number;
  /** Calls `onTimer` for the current key once processing time reaches `time`. */
  registerProcessingTimeTimer(time: number): void;
  /** Calls `onTimer` for the current key once the watermark reaches `time`. */
  registerEventTimeTimer(time: number): void;
  /** Deletes a processing-time timer of the current key. */
  deleteProcessingTimeTimer(time: number): void;
  /** Deletes an event-time timer of the current key. */
  deleteEventTimeTimer(time: number): void;
}

/** What a process function knows about the record at hand. */
export interface ProcessContext {
  /** The record's timestamp, if it has one. */
  timestamp(): number | undefined;
  /** Emits to a side output. */
  output<X>(tag: OutputTag<X>, value: X): void;
  /** Current processing time. */
  currentProcessingTime(): number;
  /** Current watermark. */
  currentWatermark(): number;
}

/** The context of a keyed process function. */
export interface KeyedProcessContext<K> extends ProcessContext {
  /** The current key. */
  getCurrentKey(): K;
  /** Timers for the current key. */
  timerService(): TimerService;
}

/** The context of `onTimer`. */
export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  /** Which clock fired the timer. */
  timeDomain(): TimeDomain;
}

/**
 * A low-level function over a non-keyed stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProcessFunction } from "@weir/weir";
 * const evens: ProcessFunction<number, number> = {
 *   processElement(v, _ctx, out) { if (v % 2 === 0) out.collect(v); },
 * };
 * assert.ok(typeof evens.processElement === "function");
 * ```
 */
export interface ProcessFunction<I, O> extends RichFunction, CheckpointedFunction {
  /** Handles one record. */
  processElement(value: I, ctx: ProcessContext, out: Collector<O>): void;
}

/**
 * A low-level function over a keyed stream: keyed state and timers.
 *
 * @example Count per key and report after a minute of processing time
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type KeyedProcessFunction, type RuntimeContext, type ValueState,
 *   Serializers, ValueStateDescriptor,
 * } from "@weir/weir";
 * class Count implements KeyedProcessFunction<string, string, [string, number]> {
 *   count!: ValueState<number>;
 *   open(ctx: RuntimeContext) {
 *     this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
 *   }
 *   processElement(_v: string, ctx: import("@weir/weir").KeyedProcessContext<string>) {
 *     this.count.update(this.count.value()! + 1);
 *     ctx.timerService().registerProcessingTimeTimer(ctx.currentProcessingTime() + 60_000);
 *   }
 *   onTimer(_t: number, ctx: import("@weir/weir").OnTimerContext<string>, out: import("@weir/weir").Collector<[string, number]>) {
 *     out.collect([ctx.getCurrentKey(), this.count.value()!]);
 *   }
 * }
 * assert.ok(new Count() instanceof Count);
 * ```
 */
export interface KeyedProcessFunction<K, I, O> extends RichFunction, CheckpointedFunction {
  /** Handles one record; its key is current. */
  processElement(value: I, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  /** A timer fired; its key is current. */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

/**
 * A function over two connected streams (keyed or not).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CoProcessFunction } from "@weir/weir";
 * const merge: CoProcessFunction<number, string, string> = {
 *   processElement1(v, _c, out) { out.collect(String(v)); },
 *   processElement2(v, _c, out) { out.collect(v); },
 * };
 * assert.ok(typeof merge.processElement2 === "function");
 * ```
 */
export interface CoProcessFunction<I1, I2, O> extends RichFunction, CheckpointedFunction {
  /** Handles a record of the first input. */
  processElement1(value: I1, ctx: KeyedProcessContext<unknown>, out: Collector<O>): void;
  /** Handles a record of the second input. */
  processElement2(value: I2, ctx: KeyedProcessContext<unknown>, out: Collector<O>): void;
  /** A timer fired (keyed inputs only). */
  onTimer?(timestamp: number, ctx: OnTimerContext<unknown>, out: Collector<O>): void;
}

/** Read-only view of broadcast state. */
export interface ReadOnlyBroadcastState<K, V> {
  /** The value for `key`. */
  get(key: K): V | undefined;
  /** Whether `key` has a value. */
  contains(key: K): boolean;
  /** All entries. */
  entries(): IterableIterator<[K, V]>;
}

/** Context of `processElement` in a broadcast process function. */
export interface ReadOnlyBroadcastContext<K> extends KeyedProcessContext<K> {
  /** Broadcast state, read-only on the non-broadcast side. */
  getBroadcastState<BK, BV>(descriptor: MapStateDescriptor<BK, BV>): ReadOnlyBroadcastState<BK, BV>;
}

/** Context of `processBroadcastElement`. */
export interface BroadcastContext extends ProcessContext {
  /** Broadcast state, writable on the broadcast side. */
  getBroadcastState<BK, BV>(descriptor: MapStateDescriptor<BK, BV>): MapState<BK, BV>;
  /** Runs `fn` for every key that has state `descriptor` on this subtask (keyed streams only). */
  applyToKeyedState<S>(
    descriptor:
      | ValueStateDescriptor<S>
      | ListStateDescriptor<S>
      | MapStateDescriptor<unknown, unknown>,
    fn: (key: unknown, state: ValueState<S> | ListState<S> | MapState<unknown, unknown>) => void,
  ): void;
}

/**
 * Connects a (keyed or non-keyed) stream with a broadcast stream: every
 * subtask sees every broadcast record and keeps the same broadcast state.
 *
 * @example Rules broadcast to all subtasks
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BroadcastProcessFunction, MapStateDescriptor, Serializers } from "@weir/weir";
 * const rules = new MapStateDescriptor("rules", Serializers.string, Serializers.f64);
 * const fn: BroadcastProcessFunction<[string, number], [string, number], string> = {
 *   processElement([k, v], ctx, out) {
 *     const limit = ctx.getBroadcastState(rules).get(k);
 *     if (limit !== undefined && v > limit) out.collect(k);
 *   },
 *   processBroadcastElement([k, limit], ctx) { ctx.getBroadcastState(rules).put(k, limit); },
 * };
 * assert.ok(typeof fn.processElement === "function");
 * ```
 */
export interface BroadcastProcessFunction<I, B, O> extends RichFunction, CheckpointedFunction {
  /** Handles a record of the main input. */
  processElement(value: I, ctx: ReadOnlyBroadcastContext<unknown>, out: Collector<O>): void;
  /** Handles a broadcast record. */
  processBroadcastElement(value: B, ctx: BroadcastContext, out: Collector<O>): void;
  /** A timer fired (keyed main input only). */
  onTimer?(timestamp: number, ctx: OnTimerContext<unknown>, out: Collector<O>): void;
}
