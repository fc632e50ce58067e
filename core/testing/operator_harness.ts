/**
 * A synchronous harness around one real physical operator (as Flink's
 * operator test harnesses): it builds the operator's context itself (heap
 * keyed backend, {@linkcode InternalTimerService}, operator state, a
 * {@linkcode ManualClock}), feeds records and watermarks directly, records
 * what the operator emits, and runs the mails that processing-time timers post
 * when the test moves the clock.
 *
 * @module
 */
import { ConfigError, StateError } from "../errors.ts";
import { checkOptionNames, shownValue } from "../_options.ts";
import type {
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  StateBackend,
} from "../state/backend.ts";
import {
  type AggregatingStateDescriptor,
  type AnyStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  type ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../state/descriptors.ts";
import { HeapStateBackend } from "../state/heap/heap_backend.ts";
import { keyGroupRangeForSubtask, subtaskForKeyGroup } from "../state/key_group.ts";
import { keyGrouper } from "../runtime/outputs.ts";
import {
  type OperatorStateSnapshot,
  OperatorStateStore,
  redistributeOperatorState,
} from "../state/operator_state.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from "../state/state.ts";
import { ManualClock } from "../runtime/clock.ts";
import type { OperatorContext, Output, StreamOperator } from "../runtime/operator.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import { InternalTimerService, type TimeDomain, type TimerTarget } from "../runtime/timers.ts";
import { checkEventTime } from "../time/_event_time_value.ts";
import type { SegmentFile, SegmentFs } from "../../statestore-as/segment_fs.ts";

/**
 * Options every harness takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ProcessFunction } from "@weir/weir";
 * import { type HarnessOptions, ManualClock, ProcessFunctionHarness } from "@weir/weir/testing";
 * const stamp: ProcessFunction<string, string> = {
 *   processElement: (v, ctx, out) => out.collect(`${v}@${ctx.currentProcessingTime()}`),
 * };
 * const options: HarnessOptions = { clock: new ManualClock(500), uid: "stamp" };
 * const h = await ProcessFunctionHarness.create(stamp, options);
 * h.processElement("a");
 * assert.deepEqual(h.output(), ["a@500"]);
 * ```
 */
export interface HarnessOptions {
  /** The clock to drive (a new `ManualClock(startTime)` when absent). */
  clock?: ManualClock;
  /** Processing time at the start when no `clock` is given (0). */
  startTime?: number;
  /** Keyed state backend (a new heap backend). */
  stateBackend?: StateBackend;
  /** Number of key groups (128). */
  maxParallelism?: number;
  /** Operator name, as errors and `RuntimeContext.taskName` show it ("harness"). */
  name?: string;
  /** Operator uid ("harness"). */
  uid?: string;
  /**
   * Operator state to restore, as a checkpoint holds it for this subtask
   * (what {@linkcode OperatorHarness.snapshotOperatorState} returned); none:
   * a first start. `restore` also redistributes several subtasks' state.
   */
  operatorState?: OperatorStateSnapshot;
  /**
   * What {@linkcode OperatorHarness.snapshot} took, of one harness or of
   * several (the old subtasks, at another parallelism): the operator opens
   * restored from it, as Flink's `initializeState(snapshot)`. Operator state
   * is redistributed as on a job's restore, keyed state and timers are those
   * of this subtask's key groups.
   */
  restore?: HarnessSnapshot | readonly HarnessSnapshot[];
  /** The operator's parallelism (1), as Flink's harness's `numSubtasks`. */
  parallelism?: number;
  /** Which subtask the harness runs (0): its key groups and share of operator state. */
  subtaskIndex?: number;
}

/**
 * What {@linkcode OperatorHarness.snapshot} takes: the operator's state as a
 * checkpoint would hold it for the subtask (as Flink's harness's
 * `snapshot()`), for another harness's `restore` option. It is plain data,
 * held in memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeyedProcessFunction, Serializers, ValueStateDescriptor } from "@weir/weir";
 * import { type HarnessSnapshot, KeyedProcessFunctionHarness } from "@weir/weir/testing";
 * const last = new ValueStateDescriptor("last", Serializers.string);
 * const fn: KeyedProcessFunction<string, string, never> = {
 *   processElement(v, ctx) {
 *     ctx.timerService().registerEventTimeTimer(10);
 *     this.last!.update(v);
 *   },
 *   open(ctx) { this.last = ctx.getState(last); },
 * } as KeyedProcessFunction<string, string, never> & { last?: import("@weir/weir").ValueState<string> };
 * const h = await KeyedProcessFunctionHarness.create(fn, (s: string) => s[0]!);
 * h.processElement("ab");
 * const snap: HarnessSnapshot = await h.snapshot();
 * await h.close();
 * const restored = await KeyedProcessFunctionHarness.create(fn, (s: string) => s[0]!, { restore: snap });
 * assert.equal(restored.state(last, "a"), "ab");
 * assert.equal(restored.pendingTimers("event-time").length, 1);
 * ```
 */
export interface HarnessSnapshot {
  /** The operator state. */
  readonly operatorState: OperatorStateSnapshot;
  /** The keyed state and timers (undefined: the operator is not keyed). */
  readonly keyedState: KeyedStateHandle | undefined;
  /** The keyed state's segment files, by path (`snapshot/` and the handle's segment name). */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** Numbers each harness's folder of in-memory segment files. */
let harnessDirs = 0;

/** Segment files in a `Map`: harness snapshots need no file system (nor permissions). */
class MemorySegmentFs implements SegmentFs {
  readonly files: Map<string, Uint8Array>;
  constructor(files: Map<string, Uint8Array>) {
    this.files = files;
  }
  readAt(path: string, offset: number, dest: Uint8Array): number {
    const data = this.files.get(path);
    if (data === undefined) throw new StateError(`No segment file ${path} in the harness snapshot`);
    const n = Math.max(0, Math.min(dest.length, data.length - offset));
    dest.set(data.subarray(offset, offset + n));
    return n;
  }
  size(path: string): number | undefined {
    return this.files.get(path)?.length;
  }
  create(path: string): SegmentFile {
    const files = this.files;
    files.set(path, new Uint8Array(0));
    return {
      write(data: Uint8Array): void {
        const old = files.get(path)!;
        const joined = new Uint8Array(old.length + data.length);
        joined.set(old);
        joined.set(data, old.length);
        files.set(path, joined);
      },
      sync(): void {},
      close(): void {},
    };
  }
  rename(from: string, to: string): void {
    const data = this.files.get(from);
    if (data === undefined) throw new StateError(`No segment file ${from} to rename`);
    this.files.delete(from);
    this.files.set(to, data);
  }
  remove(path: string): void {
    this.files.delete(path);
  }
  mkdirp(_path: string): void {}
}

/**
 * Options of a harness whose operator is keyed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeyedProcessFunction, Serializers } from "@weir/weir";
 * import { type KeyedHarnessOptions, KeyedProcessFunctionHarness } from "@weir/weir/testing";
 * const echo: KeyedProcessFunction<number, number, number> = {
 *   processElement: (v, _ctx, out) => out.collect(v),
 * };
 * const options: KeyedHarnessOptions<number> = { keySerializer: Serializers.f64, maxParallelism: 16 };
 * const h = await KeyedProcessFunctionHarness.create(echo, (n: number) => n % 2, options);
 * h.processElement(3);
 * assert.deepEqual(h.output(), [3]);
 * ```
 */
export interface KeyedHarnessOptions<K> extends HarnessOptions {
  /** Serializes keys for state and timers (`Serializers.key`). */
  keySerializer?: Serializer<K>;
}

/** Every harness option's name, for `checkOptionNames` (`keyed`: `forOperator`'s). */
const HARNESS_OPTIONS: Record<keyof KeyedHarnessOptions<unknown> | "keyed", true> = {
  clock: true,
  startTime: true,
  stateBackend: true,
  maxParallelism: true,
  name: true,
  uid: true,
  operatorState: true,
  restore: true,
  parallelism: true,
  subtaskIndex: true,
  keySerializer: true,
  keyed: true,
};

/**
 * A record with the timestamp it was emitted with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ProcessFunction } from "@weir/weir";
 * import { ProcessFunctionHarness, type TimestampedValue } from "@weir/weir/testing";
 * const id: ProcessFunction<string, string> = { processElement: (v, _ctx, out) => out.collect(v) };
 * const h = await ProcessFunctionHarness.create(id);
 * h.processElement("a", 42);
 * const got: TimestampedValue<string>[] = h.outputWithTimestamps();
 * assert.deepEqual(got, [{ value: "a", timestamp: 42 }]);
 * ```
 */
export interface TimestampedValue<T> {
  /** The record. */
  readonly value: T;
  /** Its timestamp, if it has one. */
  readonly timestamp: number | undefined;
}

/**
 * A watermark the operator forwarded, as {@linkcode OperatorHarness.outputWithWatermarks}
 * lists it among the records.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EmittedWatermark, ProcessFunctionHarness } from "@weir/weir/testing";
 * const h = await ProcessFunctionHarness.create<string, string>({
 *   processElement: (v, _ctx, out) => out.collect(v),
 * });
 * h.processWatermark(10);
 * const mark: EmittedWatermark = { watermark: 10 };
 * assert.deepEqual(h.outputWithWatermarks(), [mark]);
 * ```
 */
export interface EmittedWatermark {
  /** The watermark's time. */
  readonly watermark: number;
}

/**
 * One element of the main output as {@linkcode OperatorHarness.outputWithWatermarks}
 * lists them (Flink's harness's `getOutput()` queue): a record with its
 * timestamp, or a watermark (`"watermark" in e` tells them apart).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type OutputElement, ProcessFunctionHarness } from "@weir/weir/testing";
 * const h = await ProcessFunctionHarness.create<string, string>({
 *   processElement: (v, _ctx, out) => out.collect(v),
 * });
 * h.processElement("a", 1);
 * h.processWatermark(5);
 * const all: OutputElement<string>[] = h.outputWithWatermarks();
 * assert.deepEqual(all.filter((e) => "watermark" in e), [{ watermark: 5 }]);
 * ```
 */
export type OutputElement<T> = TimestampedValue<T> | EmittedWatermark;

/**
 * A timer that has not fired yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeyedProcessFunction, ManualClock } from "@weir/weir";
 * import { KeyedProcessFunctionHarness, type PendingTimer } from "@weir/weir/testing";
 * const fn: KeyedProcessFunction<string, string, string> = {
 *   processElement(_v, ctx) { ctx.timerService().registerProcessingTimeTimer(1000); },
 * };
 * const h = await KeyedProcessFunctionHarness.create(fn, (s: string) => s, { clock: new ManualClock(0) });
 * h.processElement("k");
 * const timers: PendingTimer[] = h.pendingTimers("processing-time");
 * assert.deepEqual(timers.map((t) => [t.timestamp, t.key]), [[1000, "k"]]);
 * ```
 */
export interface PendingTimer {
  /** When it fires. */
  readonly timestamp: number;
  /** The key it fires for. */
  readonly key: unknown;
  /** Its namespace (`undefined` for process functions; a window for window operators). */
  readonly namespace: unknown;
}

/**
 * What reading a keyed state gives, per descriptor type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeyedProcessFunction, ListStateDescriptor, Serializers } from "@weir/weir";
 * import { KeyedProcessFunctionHarness, type StateValue } from "@weir/weir/testing";
 * const seenDesc = new ListStateDescriptor("seen", Serializers.string);
 * const fn: KeyedProcessFunction<string, string, never> = {
 *   processElement(v, _ctx) { this.seen!.add(v); },
 *   open(ctx) { this.seen = ctx.getListState(seenDesc); },
 * } as KeyedProcessFunction<string, string, never> & { seen?: import("@weir/weir").ListState<string> };
 * const h = await KeyedProcessFunctionHarness.create(fn, (s: string) => s[0]!);
 * h.processElement("ab");
 * h.processElement("ac");
 * const seen: StateValue<typeof seenDesc> = h.state(seenDesc, "a");
 * assert.deepEqual(seen, ["ab", "ac"]);
 * ```
 */
export type StateValue<D> = D extends ValueStateDescriptor<infer T> ? T | undefined
  : D extends ListStateDescriptor<infer T> ? T[]
  : D extends MapStateDescriptor<infer K, infer V> ? Map<K, V>
  : D extends ReducingStateDescriptor<infer T> ? T | undefined
  : D extends AggregatingStateDescriptor<infer _IN, infer _ACC, infer OUT> ? OUT | undefined
  : unknown;

/** Most mail rounds one clock move may take before the harness assumes a timer loop. */
const MAX_MAIL_ROUNDS = 100_000;

/**
 * Drives any {@linkcode StreamOperator} synchronously. The process function
 * harnesses ({@linkcode KeyedProcessFunctionHarness} and friends) are this
 * class with typed inputs; use it directly for other operators.
 *
 * Processing-time timers fire only when the harness moves its clock
 * (`setProcessingTime`, `advanceProcessingTime`; `advanceProcessingTime(0)`
 * fires timers that are already due), as in Flink's harnesses. Event-time
 * timers fire inside `processWatermark`.
 *
 * @example Every harness is an OperatorHarness
 * ```ts
 * import assert from "node:assert/strict";
 * import { OperatorHarness, ProcessFunctionHarness } from "@weir/weir/testing";
 * const h = await ProcessFunctionHarness.create<number, number>({
 *   processElement(v, _ctx, out) { out.collect(v); out.collect(v); },
 * });
 * assert.ok(h instanceof OperatorHarness);
 * h.processElement(7, 100);
 * h.processWatermark(100);
 * assert.ok(h.output().join() === "7,7");
 * assert.ok(h.outputWithTimestamps()[0]!.timestamp === 100);
 * assert.ok(h.watermarks().join() === "100");
 * await h.close();
 * ```
 */
export class OperatorHarness<OUT> {
  /** The operator under test. */
  readonly operator: StreamOperator<OUT>;
  /** The clock the operator reads and schedules processing-time timers on. */
  readonly clock: ManualClock;
  /** The context the harness built for the operator. */
  readonly context: OperatorContext;
  readonly #records: TimestampedValue<OUT>[] = [];
  readonly #side = new Map<string, TimestampedValue<unknown>[]>();
  readonly #watermarks: number[] = [];
  /** Records and watermarks in emission order (Flink's `getOutput()`). */
  readonly #elements: OutputElement<OUT>[] = [];
  /** Each input's last watermark (`processInputWatermark`), and the operator's. */
  readonly #inputWatermarks = [-Infinity, -Infinity];
  #combinedWatermark = -Infinity;
  readonly #mails: (() => void)[] = [];
  readonly #timerServices: InternalTimerService<unknown>[] = [];
  #backend: KeyedStateBackend | undefined;
  /** The keyed backend's snapshot files (a delta snapshot refers to earlier ones). */
  readonly #fs = new MemorySegmentFs(new Map());
  readonly #dir = `harness-${++harnessDirs}`;
  #opened = false;
  #closed = false;

  /** Sets the operator up; call `open()` before feeding it (the `create` functions do). */
  protected constructor(
    operator: StreamOperator<OUT>,
    options: KeyedHarnessOptions<unknown> & { keyed?: boolean },
  ) {
    // A misspelt `operatorState` would test a first start instead of the restore it means.
    checkOptionNames(new.target.name, options, HARNESS_OPTIONS);
    this.operator = operator;
    this.clock = options.clock ?? new ManualClock(options.startTime ?? 0);
    const uid = options.uid ?? "harness";
    const name = options.name ?? "harness";
    const maxParallelism = options.maxParallelism ?? 128;
    const stateBackend = options.stateBackend ?? new HeapStateBackend();
    const keySerializer = options.keyed ? (options.keySerializer ?? Serializers.key) : undefined;
    const parallelism = options.parallelism ?? 1;
    const subtaskIndex = options.subtaskIndex ?? 0;
    if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
      throw new ConfigError(
        `${new.target.name}: parallelism must be an integer from 1 to maxParallelism ` +
          `(${maxParallelism}), got ${parallelism}`,
      );
    }
    if (!Number.isInteger(subtaskIndex) || subtaskIndex < 0 || subtaskIndex >= parallelism) {
      throw new ConfigError(
        `${new.target.name}: subtaskIndex must be an integer from 0 to parallelism - 1 ` +
          `(${parallelism - 1}), got ${subtaskIndex}`,
      );
    }
    const snapshots = options.restore === undefined
      ? undefined
      : Array.isArray(options.restore)
      ? options.restore as readonly HarnessSnapshot[]
      : [options.restore as HarnessSnapshot];
    if (snapshots !== undefined && options.operatorState !== undefined) {
      throw new ConfigError(
        `${new.target.name}: give restore or operatorState, not both (restore holds operator state)`,
      );
    }
    const operatorState = snapshots === undefined ? options.operatorState : (
      redistributeOperatorState(snapshots.map((s) => s.operatorState), parallelism)[subtaskIndex]
    );
    let keyedRestore: KeyedRestore | undefined;
    const handles = (snapshots ?? []).flatMap((s) => s.keyedState ? [s.keyedState] : []);
    if (handles.length > 0) {
      const files = new Map<string, Uint8Array>();
      for (const s of snapshots!) for (const [path, data] of s.files) files.set(path, data);
      // One folder: the segments of a handle (a delta chain) are read as one store.
      keyedRestore = {
        handles,
        fs: new MemorySegmentFs(files),
        segmentPath: (name) => `snapshot/${name}`,
      };
    }
    const clock = this.clock;
    const keyedBackend = (): KeyedStateBackend => {
      if (!keySerializer) {
        throw new StateError(
          `Keyed state is only available on a keyed stream: the operator in harness "${name}" ` +
            `is not keyed (give the harness a key selector)`,
        );
      }
      if (this.#backend) return this.#backend;
      const keyGroupRange = keyGroupRangeForSubtask(maxParallelism, parallelism, subtaskIndex);
      const backend = this.#backend = stateBackend.createKeyedBackend({
        operatorUid: uid,
        subtaskIndex,
        keySerializer,
        maxParallelism,
        keyGroupRange,
        // As in Job: TTL reads the clock the test drives, not the wall clock.
        ttlTimeProvider: clock,
        ...(keyedRestore ? { restore: keyedRestore } : {}),
      });
      if (parallelism > 1) {
        // A job never sends this subtask another's key; state kept under one here would be lost
        // (not restored) at the next restore, silently. Flink's harness refuses it too.
        const group = keyGrouper(keySerializer, maxParallelism);
        const hash = new Int32Array(1);
        const set = backend.setCurrentKey.bind(backend);
        backend.setCurrentKey = (key, keyGroup, keyHash) => {
          const g = keyGroup ?? group(key, hash);
          if (g < keyGroupRange.start || g > keyGroupRange.end) {
            throw new StateError(
              `Key ${shownValue(key)} is in key group ${g}, which subtask ` +
                `${subtaskForKeyGroup(g, maxParallelism, parallelism)} of ${parallelism} holds, ` +
                `not this harness's subtask ${subtaskIndex} (key groups ${keyGroupRange.start}` +
                `-${keyGroupRange.end})`,
            );
          }
          set(key, keyGroup, keyHash);
        };
      }
      return backend;
    };
    const mails = this.#mails;
    const services = this.#timerServices;
    this.context = {
      uid,
      name,
      subtaskIndex,
      parallelism,
      maxParallelism,
      clock,
      stateBackend,
      operatorState: new OperatorStateStore(uid, operatorState),
      isRestored: operatorState !== undefined,
      keySerializer,
      keyedBackend,
      timerService<N>(target: TimerTarget<N>, ns?: Serializer<N>): InternalTimerService<N> {
        const backend = keyedBackend();
        // As in Job: the clock posts a mail; the harness runs mails when it moves time.
        const service = new InternalTimerService<N>(
          {
            now: () => clock.now(),
            scheduleProcessingTime: (at, fire) => clock.schedule(at, () => mails.push(fire)),
            setCurrentKey: (k) => backend.setCurrentKey(k),
            currentKey: () => backend.currentKey(),
            backend,
            maxParallelism,
          },
          target,
          keySerializer!,
          ns,
        );
        services.push(service as InternalTimerService<unknown>);
        return service;
      },
    };
    const records = this.#records;
    const side = this.#side;
    const watermarks = this.#watermarks;
    const elements = this.#elements;
    const output: Output<OUT> = {
      collect: (value, timestamp) => {
        const record = { value, timestamp };
        records.push(record);
        elements.push(record);
      },
      collectSide: (tagId, value, timestamp) => {
        let list = side.get(tagId);
        if (!list) side.set(tagId, list = []);
        list.push({ value, timestamp });
      },
      emitWatermark: (timestamp) => {
        watermarks.push(timestamp);
        elements.push({ watermark: timestamp });
      },
    };
    operator.setup(this.context, output);
  }

  /**
   * Wraps `operator` and opens it. Give `keySerializer` (or `keyed: true`) for
   * an operator that uses keyed state or timers.
   */
  static async forOperator<OUT, K = unknown>(
    operator: StreamOperator<OUT>,
    options: KeyedHarnessOptions<K> & { keyed?: boolean } = {},
  ): Promise<OperatorHarness<OUT>> {
    const h = new OperatorHarness<OUT>(operator, {
      ...(options as KeyedHarnessOptions<unknown>),
      keyed: options.keyed ?? options.keySerializer !== undefined,
    });
    await h.open();
    return h;
  }

  /** Opens the operator (and its user function); idempotent. */
  async open(): Promise<void> {
    if (this.#opened) return;
    this.#opened = true;
    await this.operator.open();
  }

  #check(): void {
    if (!this.#opened) throw new StateError("The harness is not open: call open() first");
    if (this.#closed) throw new StateError("The harness is closed");
  }

  /** Feeds one record to input `input` (0, or 1 for a two-input operator's second input). */
  processElement(value: unknown, timestamp?: number, input = 0): void {
    this.#check();
    // A NaN timestamp (a Date.parse that failed) would reach ctx.timestamp() and timers unnoticed.
    if (timestamp !== undefined) checkEventTime(timestamp, "processElement's timestamp", value);
    this.#runMails();
    this.operator.processElement(value, timestamp, input);
  }

  /** Feeds a watermark: event-time timers at or before it fire, in timestamp order. */
  processWatermark(timestamp: number): void {
    this.#check();
    // A NaN watermark fires no timer and becomes currentWatermark(): refuse it, as the runtime does.
    checkEventTime(timestamp, "processWatermark");
    this.#inputWatermarks.fill(timestamp);
    this.#advanceWatermark(timestamp);
  }

  #advanceWatermark(timestamp: number): void {
    this.#combinedWatermark = timestamp;
    this.#runMails();
    this.operator.processWatermark(timestamp);
  }

  /**
   * Feeds a watermark to input `input` (0 or 1) of a two-input operator: the
   * operator sees the smaller of its inputs' watermarks, when that advances
   * (as Flink's `processWatermark1/2`, and as a job's task combines them).
   * `call` names the harness method in the error a bad time gives.
   */
  protected processInputWatermark(
    input: 0 | 1,
    timestamp: number,
    call = `processWatermark${input + 1}`,
  ): void {
    this.#check();
    checkEventTime(timestamp, call);
    this.#inputWatermarks[input] = timestamp;
    const combined = Math.min(this.#inputWatermarks[0]!, this.#inputWatermarks[1]!);
    if (combined > this.#combinedWatermark) this.#advanceWatermark(combined);
  }

  /** Current processing time. */
  get processingTime(): number {
    return this.clock.now();
  }

  /** Moves processing time to `t` and fires the timers that became due, in order. */
  setProcessingTime(t: number): void {
    this.#check();
    this.clock.set(t);
    for (let round = 0; this.#mails.length > 0; round++) {
      if (round >= MAX_MAIL_ROUNDS) {
        throw new StateError(
          `Processing-time timers keep firing at ${t}: more than ${MAX_MAIL_ROUNDS} rounds ` +
            `(does onTimer register a timer at or before the current time?)`,
        );
      }
      this.#runMails();
      // Timers registered by the timers that just fired may already be due.
      this.clock.set(t);
    }
  }

  /** Moves processing time forward by `ms` and fires the timers that became due. */
  advanceProcessingTime(ms: number): void {
    this.setProcessingTime(this.clock.now() + ms);
  }

  #runMails(): void {
    while (this.#mails.length > 0) this.#mails.shift()!();
  }

  /** Values emitted on the main output so far, in order. */
  output(): OUT[] {
    return this.#records.map((r) => r.value);
  }

  /** Records emitted on the main output so far, with their timestamps. */
  outputWithTimestamps(): TimestampedValue<OUT>[] {
    return this.#records.slice();
  }

  /**
   * Records and watermarks of the main output so far, in the order the
   * operator emitted them (as Flink's harness's `getOutput()`): a test can
   * assert where a watermark falls among the records, e.g. after the results
   * of the timers it fired. Records are `{ value, timestamp }`, watermarks
   * `{ watermark }`.
   */
  outputWithWatermarks(): OutputElement<OUT>[] {
    return this.#elements.slice();
  }

  /** Values emitted to side output `tag` so far. */
  sideOutput<X>(tag: OutputTag<X>): X[] {
    return (this.#side.get(tag.id) ?? []).map((r) => r.value as X);
  }

  /** Records emitted to side output `tag` so far, with their timestamps. */
  sideOutputWithTimestamps<X>(tag: OutputTag<X>): TimestampedValue<X>[] {
    return (this.#side.get(tag.id) ?? []).slice() as TimestampedValue<X>[];
  }

  /** Watermarks the operator forwarded so far. */
  watermarks(): number[] {
    return this.#watermarks.slice();
  }

  /** Forgets the main and side outputs and watermarks seen so far. */
  clearOutput(): void {
    this.#records.length = 0;
    this.#side.clear();
    this.#watermarks.length = 0;
    this.#elements.length = 0;
  }

  /** The keyed backend (throws `StateError` when the operator is not keyed). */
  keyedBackend(): KeyedStateBackend {
    return this.context.keyedBackend();
  }

  /**
   * Reads keyed state `descriptor` for `key` without disturbing the operator's
   * current key: a value, a list (`[]` when empty), a `Map`, or a
   * reducing/aggregating result.
   */
  state<D extends AnyStateDescriptor>(descriptor: D, key: unknown): StateValue<D> {
    return this.withKey(key, () => {
      const s = this.keyedBackend().state(descriptor);
      if (descriptor instanceof ValueStateDescriptor) {
        return (s as ValueState<unknown>).value();
      }
      if (descriptor instanceof ListStateDescriptor) {
        return (s as ListState<unknown>).get() ?? [];
      }
      if (descriptor instanceof MapStateDescriptor) {
        return new Map((s as MapState<unknown, unknown>).entries());
      }
      return (s as ReducingState<unknown> | AggregatingState<unknown, unknown>).get();
    }) as StateValue<D>;
  }

  /** Keys that have a value in state `descriptor`. */
  keys(descriptor: AnyStateDescriptor): unknown[] {
    return [...this.keyedBackend().keys(descriptor.name)];
  }

  /**
   * Runs `fn` with `key` current (to read or seed keyed state), then restores
   * the operator's current key.
   */
  withKey<R>(key: unknown, fn: () => R): R {
    const backend = this.keyedBackend();
    let had = false;
    let previous: unknown;
    try {
      previous = backend.currentKey();
      had = true;
    } catch (e) {
      if (!(e instanceof StateError)) throw e;
    }
    backend.setCurrentKey(key);
    try {
      return fn();
    } finally {
      if (had) backend.setCurrentKey(previous);
      else backend.clearCurrentKey();
    }
  }

  /** Timers of `domain` that have not fired, in firing order (timestamp, then registration). */
  pendingTimers(domain: TimeDomain): PendingTimer[] {
    const all = this.#timerServices.flatMap((s) => s.pending(domain));
    return all.map(({ timestamp, key, namespace }) => ({ timestamp, key, namespace }))
      .sort((a, b) => a.timestamp - b.timestamp);
  }

  /**
   * Snapshots the operator's operator state, as checkpoint `checkpointId`
   * would: give it to another harness's `operatorState` to restore it.
   */
  async snapshotOperatorState(checkpointId = 1): Promise<OperatorStateSnapshot> {
    this.#check();
    await this.operator.snapshotState(checkpointId);
    return this.context.operatorState.snapshot();
  }

  /**
   * Snapshots the operator as checkpoint `checkpointId` would, operator
   * state, keyed state and timers (as Flink's harness's `snapshot()`): give
   * it to another harness's `restore` option to open the operator restored.
   */
  async snapshot(checkpointId = 1): Promise<HarnessSnapshot> {
    const operatorState = await this.snapshotOperatorState(checkpointId);
    const dir = this.#dir;
    // Unique names: the snapshots of several harnesses (subtasks) restore together.
    const keyedState = this.#backend === undefined ? undefined : await this.#backend.snapshot(
      checkpointId,
      { fs: this.#fs, dir, newSegmentName: () => `${crypto.randomUUID()}.seg` },
    );
    const files = new Map<string, Uint8Array>();
    for (const seg of keyedState?.segments ?? []) {
      files.set(`snapshot/${seg.name}`, this.#fs.files.get(`${dir}/${seg.name}`)!);
    }
    return { operatorState, keyedState, files };
  }

  /** Signals end of input: the operator emits what it buffers. */
  async finish(): Promise<void> {
    this.#check();
    this.#runMails();
    await this.operator.finish();
  }

  /** Closes the operator and releases its state and timers; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#timerServices) s.dispose();
    try {
      if (this.#opened) await this.operator.close();
    } finally {
      this.#backend?.dispose();
    }
  }
}
