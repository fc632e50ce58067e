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
import type { MetricGroup } from "../runtime/metric_group.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import type { TimeDomain } from "../runtime/timers.ts";

/**
 * Receives a function's output records.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Collector } from "@weir/weir";
 * const got: string[] = [];
 * const out: Collector<string> = { collect: (v) => got.push(v) };
 * "a b".split(" ").forEach((w) => out.collect(w));
 * assert.deepEqual(got, ["a", "b"]);
 * ```
 */
export interface Collector<T> {
  /** Emits a record (with the input record's timestamp). */
  collect(value: T): void;
}

/**
 * What a user function that emits through a collector returns: nothing, and
 * in particular not a promise. User functions are synchronous (keyed state
 * and timers belong to the record being processed only during the call), so
 * TypeScript rejects an `async` function here; the runtime also fails the job
 * at the first call that returns a promise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KeyedProcessFunction } from "@weir/weir";
 * import { KeyedProcessFunctionHarness } from "@weir/weir/testing";
 * const echo: KeyedProcessFunction<string, string, string> = {
 *   processElement(v, _ctx, out) {
 *     out.collect(v);
 *   },
 * };
 * const h = await KeyedProcessFunctionHarness.create(echo, (v: string) => v);
 * h.processElement("a");
 * assert.deepEqual(h.output(), ["a"]);
 * const wrong: KeyedProcessFunction<string, string, string> = {
 *   // @ts-expect-error: an async function returns a promise, not SyncVoid
 *   async processElement(v, _ctx, out) {
 *     out.collect(v);
 *   },
 * };
 * void wrong;
 * ```
 */
export type SyncVoid = void | undefined;

/**
 * What a function sees of its place in the job, and where it gets keyed state.
 * Keyed state is available only in functions applied to a keyed stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type RuntimeContext, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * const sink = new CollectSink<string>();
 * class Tag {
 *   prefix = "";
 *   open(ctx: RuntimeContext) {
 *     this.prefix = `${ctx.operatorUid}#${ctx.subtaskIndex}/${ctx.parallelism}`;
 *   }
 *   map(n: number) { return `${this.prefix}:${n}`; }
 * }
 * env.fromElements(1).map(new Tag()).uid("tag").addSink(sink);
 * await env.execute();
 * assert.match(sink.values[0]!, /^tag#[01]\/2:1$/);
 * ```
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
  /** This subtask's user-defined metrics (counters, gauges, histograms), exported in `/metrics`. */
  getMetricGroup(): MetricGroup;
}

/**
 * A function with a life cycle.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RichFunction, StreamEnvironment } from "@weir/weir";
 * const events: string[] = [];
 * const lifecycle: RichFunction & { filter(n: number): boolean } = {
 *   open() { events.push("open"); },
 *   filter: (n) => n > 1,
 *   close() { events.push("close"); },
 * };
 * const env = StreamEnvironment.create();
 * env.fromElements(1, 2).filter(lifecycle);
 * await env.execute();
 * assert.deepEqual(events, ["open", "close"]);
 * ```
 */
export interface RichFunction {
  /** Called once per subtask before the first record; declare state here. */
  open?(ctx: RuntimeContext): void | Promise<void>;
  /**
   * Called once when the subtask stops. An error it throws after the input ended fails the job
   * (which restarts as its restart strategy says), as in Flink; after a failure or a cancel it is
   * dropped.
   */
  close?(): void | Promise<void>;
}

/**
 * What `initializeState` receives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FunctionInitializationContext, ListStateDescriptor, Serializers, StreamEnvironment } from "@weir/weir";
 * const restored: boolean[] = [];
 * const env = StreamEnvironment.create();
 * env.fromElements(1).map({
 *   initializeState(ctx: FunctionInitializationContext) {
 *     restored.push(ctx.isRestored);
 *     ctx.operatorStateStore.getListState(new ListStateDescriptor("buffer", Serializers.f64));
 *   },
 *   map: (n: number) => n,
 * });
 * await env.execute();
 * assert.deepEqual(restored, [false]);
 * ```
 */
export interface FunctionInitializationContext {
  /** Operator (non-keyed) state of this subtask. */
  readonly operatorStateStore: OperatorStateStore;
  /** Whether state was restored from a checkpoint or savepoint. */
  readonly isRestored: boolean;
}

/**
 * What `snapshotState` receives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FunctionSnapshotContext } from "@weir/weir";
 * const snapshots: number[] = [];
 * const fn = { snapshotState(ctx: FunctionSnapshotContext) { snapshots.push(ctx.checkpointId); } };
 * fn.snapshotState({ checkpointId: 3 });
 * assert.deepEqual(snapshots, [3]);
 * ```
 */
export interface FunctionSnapshotContext {
  /** The checkpoint being taken. */
  readonly checkpointId: number;
  /**
   * Set for a savepoint: its completion commits nothing (the next checkpoint
   * does), and what it holds must outlast a fall-back to an earlier checkpoint.
   */
  readonly savepoint?: boolean;
}

/**
 * A function with operator state, as Flink's `CheckpointedFunction`:
 * `initializeState` runs before `open` (restoring state), `snapshotState` at
 * every checkpoint barrier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type CheckpointedFunction, CollectSink, type ListState, ListStateDescriptor, Serializers,
 *   StreamEnvironment,
 * } from "@weir/weir";
 * // Keeps a running total in operator state; it survives restarts and restores.
 * const totalDesc = new ListStateDescriptor("total", Serializers.f64);
 * const summer: CheckpointedFunction & { total: number; state?: ListState<number>; map(n: number): number } = {
 *   total: 0,
 *   initializeState(ctx) {
 *     this.state = ctx.operatorStateStore.getListState(totalDesc);
 *     for (const t of this.state.get()) this.total += t;
 *   },
 *   snapshotState() { this.state!.update([this.total]); },
 *   map(n) { return (this.total += n); },
 * };
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir } });
 * const sink = new CollectSink<number>();
 * env.fromElements(1, 2, 3).map(summer).uid("sum").addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values, [1, 3, 6]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface CheckpointedFunction extends CheckpointListener {
  /** Registers (and restores) operator state. */
  initializeState?(ctx: FunctionInitializationContext): void;
  /**
   * Brings operator state up to date for checkpoint `ctx.checkpointId`. The
   * state is taken when this returns; a returned promise is the asynchronous
   * part (a flush, an fsync, a network round trip): the barrier goes on and
   * records keep flowing meanwhile, and the checkpoint completes only once it
   * resolves (a rejection declines the checkpoint).
   */
  snapshotState?(ctx: FunctionSnapshotContext): void | Promise<void>;
}

/**
 * Told when a checkpoint completed, as Flink's `CheckpointListener`: the
 * moment a two-phase-commit sink commits what it pre-committed; and when one
 * was aborted ({@linkcode CheckpointListener.notifyCheckpointAborted}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointListener, StreamEnvironment } from "@weir/weir";
 * const completed: number[] = [];
 * const fn: CheckpointListener & { map(s: string): string } = {
 *   notifyCheckpointComplete(id) { completed.push(id); },
 *   map: (s) => s,
 * };
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir } });
 * env.fromElements("a").map(fn);
 * await env.execute();
 * // The final checkpoint at end of input completes.
 * assert.ok(completed.length >= 1);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface CheckpointListener {
  /** Checkpoint `checkpointId` (and every earlier one) is complete. */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  /**
   * Checkpoint `checkpointId` was aborted, as Flink's
   * `CheckpointListener.notifyCheckpointAborted`: a task declined it (its
   * snapshot failed, or a newer checkpoint overtook it), it timed out, its
   * manifest could not be written, or a task failure aborted it. A function
   * may drop what it prepared only for that checkpoint. It is a hint: it may
   * not come (a task that already ended, or is failing, does not hear it),
   * and what was pre-committed for it is still committed by the next
   * completed checkpoint (two-phase-commit sinks keep their transactions).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { type FunctionSnapshotContext, StreamEnvironment } from "@weir/weir";
   * const aborted: number[] = [];
   * const fn = {
   *   // The first checkpoint's snapshot fails: a task declines it, and it is aborted.
   *   snapshotState(ctx: FunctionSnapshotContext) {
   *     if (ctx.checkpointId === 1) return Promise.reject(new Error("disk full"));
   *   },
   *   notifyCheckpointAborted(id: number) { aborted.push(id); },
   *   map: (n: number) => n,
   * };
   * const dir = Deno.makeTempDirSync();
   * const env = StreamEnvironment.create({ checkpoint: { dir, tolerableFailures: 1 } });
   * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).map(fn);
   * const client = env.executeAsync("listener");
   * await assert.rejects(client.triggerCheckpoint(), /disk full/);
   * while (aborted.length === 0) await new Promise((r) => setTimeout(r, 5));
   * client.cancel();
   * await client.done.catch(() => {});
   * assert.deepEqual(aborted, [1]);
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
}

/**
 * A map function: a plain function, or an object with `map` and a life cycle.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type MapFunction, StreamEnvironment } from "@weir/weir";
 * const length: MapFunction<string, number> = (s) => s.length;
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<number>();
 * env.fromElements("ab", "c").map(length).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values, [2, 1]);
 * ```
 */
export type MapFunction<I, O> =
  | ((value: I) => O)
  | (RichFunction & CheckpointedFunction & { map(value: I): O });

/**
 * A filter: keeps records for which it returns true.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type FilterFunction, StreamEnvironment } from "@weir/weir";
 * const even: FilterFunction<number> = { filter: (n) => n % 2 === 0 };
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<number>();
 * env.fromElements(1, 2, 3, 4).filter(even).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values, [2, 4]);
 * ```
 */
export type FilterFunction<I> =
  | ((value: I) => boolean)
  | (RichFunction & CheckpointedFunction & { filter(value: I): boolean });

/**
 * A flatMap function: emits zero or more records per input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type FlatMapFunction, StreamEnvironment } from "@weir/weir";
 * const words: FlatMapFunction<string, string> = (line, out) => line.split(" ").forEach((w) => out.collect(w));
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<string>();
 * env.fromElements("a b", "c").flatMap(words).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values, ["a", "b", "c"]);
 * ```
 */
export type FlatMapFunction<I, O> =
  | ((value: I, out: Collector<O>) => SyncVoid)
  | (RichFunction & CheckpointedFunction & { flatMap(value: I, out: Collector<O>): SyncVoid });

/**
 * Registers and deletes timers; reads both clocks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeyedProcessFunction, ManualClock, type TimerService } from "@weir/weir";
 * import { KeyedProcessFunctionHarness } from "@weir/weir/testing";
 * // Fires 1 s (processing time) after each record.
 * const fn: KeyedProcessFunction<string, string, string> = {
 *   processElement(_v, ctx) {
 *     const timers: TimerService = ctx.timerService();
 *     timers.registerProcessingTimeTimer(timers.currentProcessingTime() + 1000);
 *   },
 *   onTimer(t, ctx, out) { out.collect(`${ctx.getCurrentKey()}@${t}`); },
 * };
 * const h = await KeyedProcessFunctionHarness.create(fn, (s: string) => s, { clock: new ManualClock(0) });
 * h.processElement("a");
 * h.setProcessingTime(1000);
 * assert.deepEqual(h.output(), ["a@1000"]);
 * ```
 */
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

/**
 * What a process function knows about the record at hand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, OutputTag, type ProcessContext, StreamEnvironment } from "@weir/weir";
 * const odd = new OutputTag<number>("odd");
 * const env = StreamEnvironment.create();
 * const evens = new CollectSink<number>();
 * const odds = new CollectSink<number>();
 * const split = env.fromElements(1, 2, 3).process({
 *   processElement(n: number, ctx: ProcessContext, out) {
 *     if (n % 2 === 0) out.collect(n);
 *     else ctx.output(odd, n);
 *   },
 * });
 * split.addSink(evens);
 * split.getSideOutput(odd).addSink(odds);
 * await env.execute();
 * assert.deepEqual([evens.values, odds.values], [[2], [1, 3]]);
 * ```
 */
export interface ProcessContext {
  /** The record's timestamp, if it has one. */
  timestamp(): number | undefined;
  /** Emits to a side output. */
  output<X>(tag: OutputTag<X>, value: X): void;
  /** Current processing time. */
  currentProcessingTime(): number;
  /** Current watermark. */
  currentWatermark(): number;
  /**
   * Reads both clocks; registers and deletes timers on a keyed stream only.
   * As in Flink's `ProcessFunction.Context`, it exists on a non-keyed stream
   * too, where registering or deleting a timer throws a `StateError` (timers
   * are per key: `keyBy` first and use a `KeyedProcessFunction`).
   */
  timerService(): TimerService;
}

/**
 * The context of a keyed process function.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type Collector, type KeyedProcessContext, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<string>();
 * env.fromElements("apple", "avocado", "banana").keyBy((s) => s[0]!).process({
 *   processElement(s: string, ctx: KeyedProcessContext<string>, out: Collector<string>) {
 *     out.collect(`${ctx.getCurrentKey()}:${s}`);
 *   },
 * }).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values.toSorted(), ["a:apple", "a:avocado", "b:banana"]);
 * ```
 */
export interface KeyedProcessContext<K> extends ProcessContext {
  /** The current key. */
  getCurrentKey(): K;
  /** Timers for the current key. */
  timerService(): TimerService;
}

/**
 * The context of `onTimer`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeyedProcessFunction, ManualClock, type OnTimerContext } from "@weir/weir";
 * import { KeyedProcessFunctionHarness } from "@weir/weir/testing";
 * const fn: KeyedProcessFunction<string, string, string> = {
 *   processElement(_v, ctx) { ctx.timerService().registerProcessingTimeTimer(50); },
 *   onTimer(_t, ctx: OnTimerContext<string>, out) { out.collect(`${ctx.getCurrentKey()} ${ctx.timeDomain()}`); },
 * };
 * const h = await KeyedProcessFunctionHarness.create(fn, (s: string) => s, { clock: new ManualClock(0) });
 * h.processElement("k");
 * h.setProcessingTime(50);
 * assert.deepEqual(h.output(), ["k processing-time"]);
 * ```
 */
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
 * import { ProcessFunctionHarness } from "@weir/weir/testing";
 * const evens: ProcessFunction<number, number> = {
 *   processElement(v, _ctx, out) { if (v % 2 === 0) out.collect(v); },
 * };
 * const h = await ProcessFunctionHarness.create(evens);
 * for (const v of [1, 2, 3, 4]) h.processElement(v);
 * assert.deepEqual(h.output(), [2, 4]);
 * await h.close();
 * ```
 */
export interface ProcessFunction<I, O> extends RichFunction, CheckpointedFunction {
  /** Handles one record. */
  processElement(value: I, ctx: ProcessContext, out: Collector<O>): SyncVoid;
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
 * import { KeyedProcessFunctionHarness, ManualClock } from "@weir/weir/testing";
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
 * const h = await KeyedProcessFunctionHarness.create(new Count(), (w: string) => w, {
 *   clock: new ManualClock(0),
 * });
 * h.processElement("a");
 * h.processElement("a");
 * h.setProcessingTime(60_000);
 * assert.deepEqual(h.output(), [["a", 2]]);
 * await h.close();
 * ```
 */
export interface KeyedProcessFunction<K, I, O> extends RichFunction, CheckpointedFunction {
  /** Handles one record; its key is current. */
  processElement(value: I, ctx: KeyedProcessContext<K>, out: Collector<O>): SyncVoid;
  /** A timer fired; its key is current. */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): SyncVoid;
}

/**
 * A function over two connected streams (keyed or not).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CoProcessFunction } from "@weir/weir";
 * import { CoProcessFunctionHarness } from "@weir/weir/testing";
 * const merge: CoProcessFunction<number, string, string> = {
 *   processElement1(v, _c, out) { out.collect(String(v)); },
 *   processElement2(v, _c, out) { out.collect(v); },
 * };
 * const h = await CoProcessFunctionHarness.create(merge);
 * h.processElement1(7);
 * h.processElement2("seven");
 * assert.deepEqual(h.output(), ["7", "seven"]);
 * await h.close();
 * ```
 */
export interface CoProcessFunction<I1, I2, O> extends RichFunction, CheckpointedFunction {
  /** Handles a record of the first input. */
  processElement1(value: I1, ctx: KeyedProcessContext<unknown>, out: Collector<O>): SyncVoid;
  /** Handles a record of the second input. */
  processElement2(value: I2, ctx: KeyedProcessContext<unknown>, out: Collector<O>): SyncVoid;
  /** A timer fired (keyed inputs only). */
  onTimer?(timestamp: number, ctx: OnTimerContext<unknown>, out: Collector<O>): SyncVoid;
}

/**
 * Maps the records of two connected streams to one output type: `map1` for
 * the first input, `map2` for the second (Flink's `CoMapFunction`). Keyed
 * connected streams give it keyed state through the `RuntimeContext` that `open` receives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type CoMapFunction, StreamEnvironment } from "@weir/weir";
 * const label: CoMapFunction<number, string, string> = {
 *   map1: (n) => `n:${n}`,
 *   map2: (s) => `s:${s}`,
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromElements(1).connect(env.fromElements("x")).map(label).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values.sort(), ["n:1", "s:x"]);
 * ```
 */
export interface CoMapFunction<I1, I2, O> extends RichFunction, CheckpointedFunction {
  /** Maps a record of the first input. */
  map1(value: I1): O;
  /** Maps a record of the second input. */
  map2(value: I2): O;
}

/**
 * Emits zero or more records per record of either of two connected streams
 * (Flink's `CoFlatMapFunction`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type CoFlatMapFunction, StreamEnvironment } from "@weir/weir";
 * const split: CoFlatMapFunction<string, number, string> = {
 *   flatMap1: (line, out) => line.split(" ").forEach((w) => out.collect(w)),
 *   flatMap2: (n, out) => out.collect(String(n)),
 * };
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromElements("a b").connect(env.fromElements(7)).flatMap(split).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values.sort(), ["7", "a", "b"]);
 * ```
 */
export interface CoFlatMapFunction<I1, I2, O> extends RichFunction, CheckpointedFunction {
  /** Handles a record of the first input. */
  flatMap1(value: I1, out: Collector<O>): SyncVoid;
  /** Handles a record of the second input. */
  flatMap2(value: I2, out: Collector<O>): SyncVoid;
}

/**
 * Read-only view of broadcast state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReadOnlyBroadcastState } from "@weir/weir";
 * const m = new Map([["a", 1]]);
 * const view: ReadOnlyBroadcastState<string, number> = {
 *   get: (k) => m.get(k),
 *   contains: (k) => m.has(k),
 *   entries: () => m.entries(),
 * };
 * assert.equal(view.get("a"), 1);
 * assert.deepEqual([...view.entries()], [["a", 1]]);
 * ```
 */
export interface ReadOnlyBroadcastState<K, V> {
  /** The value for `key`. */
  get(key: K): V | undefined;
  /** Whether `key` has a value. */
  contains(key: K): boolean;
  /** All entries. */
  entries(): IterableIterator<[K, V]>;
}

/**
 * Context of `processElement` in a broadcast process function.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MapStateDescriptor, type ReadOnlyBroadcastContext, Serializers } from "@weir/weir";
 * import { BroadcastProcessFunctionHarness } from "@weir/weir/testing";
 * const limits = new MapStateDescriptor("limits", Serializers.string, Serializers.f64);
 * let writable: boolean | undefined;
 * const h = await BroadcastProcessFunctionHarness.create<number, [string, number], number>({
 *   // The main input reads the broadcast state but cannot change it.
 *   processElement(n, ctx: ReadOnlyBroadcastContext<unknown>, out) {
 *     const state = ctx.getBroadcastState(limits);
 *     writable = "put" in state;
 *     if (n <= (state.get("max") ?? Infinity)) out.collect(n);
 *   },
 *   processBroadcastElement([k, v], ctx) { ctx.getBroadcastState(limits).put(k, v); },
 * });
 * h.processBroadcastElement(["max", 5]);
 * h.processElement(3);
 * h.processElement(9);
 * assert.deepEqual(h.output(), [3]);
 * assert.equal(writable, false);
 * ```
 */
export interface ReadOnlyBroadcastContext<K> extends KeyedProcessContext<K> {
  /** Broadcast state, read-only on the non-broadcast side. */
  getBroadcastState<BK, BV>(descriptor: MapStateDescriptor<BK, BV>): ReadOnlyBroadcastState<BK, BV>;
}

/**
 * Context of `processBroadcastElement`. It has no `timerService()`, as Flink's:
 * a broadcast element has no key to set timers for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BroadcastProcessFunctionHarness } from "@weir/weir/testing";
 * import { type BroadcastContext, MapStateDescriptor, Serializers } from "@weir/weir";
 * const limits = new MapStateDescriptor("limits", Serializers.string, Serializers.f64);
 * const h = await BroadcastProcessFunctionHarness.create<number, [string, number], number>({
 *   processElement(n, ctx, out) {
 *     if (n <= (ctx.getBroadcastState(limits).get("max") ?? Infinity)) out.collect(n);
 *   },
 *   // The broadcast side may write the broadcast state.
 *   processBroadcastElement([k, v], ctx: BroadcastContext) { ctx.getBroadcastState(limits).put(k, v); },
 * });
 * h.processBroadcastElement(["max", 5]);
 * h.processElement(3);
 * h.processElement(9);
 * assert.deepEqual(h.output(), [3]);
 * ```
 */
export interface BroadcastContext extends Omit<ProcessContext, "timerService"> {
  /** Broadcast state, writable on the broadcast side. */
  getBroadcastState<BK, BV>(descriptor: MapStateDescriptor<BK, BV>): MapState<BK, BV>;
  /** Runs `fn` for every key that has state `descriptor` on this subtask (keyed streams only). */
  applyToKeyedState<S>(
    descriptor:
      | ValueStateDescriptor<S>
      | ListStateDescriptor<S>
      | MapStateDescriptor<unknown, unknown>,
    fn: (
      key: unknown,
      state: ValueState<S> | ListState<S> | MapState<unknown, unknown>,
    ) => SyncVoid,
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
 * import { BroadcastProcessFunctionHarness } from "@weir/weir/testing";
 * const rules = new MapStateDescriptor("rules", Serializers.string, Serializers.f64);
 * const fn: BroadcastProcessFunction<[string, number], [string, number], string> = {
 *   processElement([k, v], ctx, out) {
 *     const limit = ctx.getBroadcastState(rules).get(k);
 *     if (limit !== undefined && v > limit) out.collect(k);
 *   },
 *   processBroadcastElement([k, limit], ctx) { ctx.getBroadcastState(rules).put(k, limit); },
 * };
 * const h = await BroadcastProcessFunctionHarness.create(fn);
 * h.processBroadcastElement(["cpu", 90]);
 * h.processElement(["cpu", 95]);
 * h.processElement(["disk", 95]);
 * assert.deepEqual(h.output(), ["cpu"]);
 * await h.close();
 * ```
 */
export interface BroadcastProcessFunction<I, B, O> extends RichFunction, CheckpointedFunction {
  /** Handles a record of the main input. */
  processElement(value: I, ctx: ReadOnlyBroadcastContext<unknown>, out: Collector<O>): SyncVoid;
  /** Handles a broadcast record. */
  processBroadcastElement(value: B, ctx: BroadcastContext, out: Collector<O>): SyncVoid;
  /**
   * A timer fired (keyed main input only). As in Flink, its context reads the
   * broadcast state too.
   */
  onTimer?(
    timestamp: number,
    ctx: OnTimerContext<unknown> & ReadOnlyBroadcastContext<unknown>,
    out: Collector<O>,
  ): SyncVoid;
}
