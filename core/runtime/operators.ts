/**
 * The physical operators behind the DataStream API: each wraps a user
 * function, gives it its contexts, and passes timestamps along.
 *
 * @module
 */
import { ConfigError, StateError } from "../errors.ts";
import { ownFunction } from "./_own_function.ts";
import {
  checkVoidResult,
  describeValue,
  promiseReturnedError,
  returnsRecords,
  undefinedMappedError,
  undefinedPredicateError,
  valueReturnedError,
} from "./_sync_call.ts";
import type {
  BroadcastContext,
  BroadcastProcessFunction,
  CheckpointedFunction,
  Collector,
  CoProcessFunction,
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  MapFunction,
  OnTimerContext,
  ProcessFunction,
  ReadOnlyBroadcastContext,
  ReadOnlyBroadcastState,
  RichFunction,
  RuntimeContext,
  TimerService,
} from "../dataflow/functions.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import type { MapStateDescriptor, StateKind } from "../state/descriptors.ts";
import type { MapState } from "../state/state.ts";
import type { SinkFunction } from "../connectors/sink.ts";
import type { OutputTag } from "./output_tag.ts";
import { MetricGroup } from "./metric_group.ts";
import { type OperatorContext, StreamOperator } from "./operator.ts";
import type { InternalTimerService, TimeDomain, Timer } from "./timers.ts";

/**
 * Selects a record's key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type KeySelector, StreamEnvironment } from "@weir/weir";
 * type Click = { user: string; page: string };
 * const byUser: KeySelector<Click, string> = (c) => c.user;
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<string>();
 * env.fromElements<Click>({ user: "u1", page: "/" }, { user: "u1", page: "/a" })
 *   .keyBy(byUser)
 *   .map((c: Click) => `${c.user} ${c.page}`)
 *   .addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values, ["u1 /", "u1 /a"]);
 * ```
 */
export type KeySelector<T = unknown, K = unknown> = (value: T) => K;

/**
 * @internal Refuses a key selector that is not a function when the job is built: Flink's
 * `keyBy(0)` (a tuple position) or `keyBy("field")` would otherwise fail every record with
 * "keySelector is not a function".
 */
export function checkKeySelector(selector: unknown, method: string): void {
  if (typeof selector === "function") return;
  const got = typeof selector === "string" ? JSON.stringify(selector) : String(selector);
  const example = typeof selector === "number"
    ? `(t) => t[${selector}]`
    : typeof selector === "string"
    ? `(r) => r.${selector}`
    : "(r) => r.id";
  throw new ConfigError(
    `${method} takes a key selector function, got ${got}: Flink's positions and field names ` +
      `are functions here, e.g. ${example}`,
  );
}

type LifeCycle = RichFunction & CheckpointedFunction;

/** The RuntimeContext getter of each kind of state, and the descriptor it takes. */
const STATE_GETTERS: Record<StateKind, [getter: string, descriptor: string]> = {
  value: ["getState", "ValueStateDescriptor"],
  list: ["getListState", "ListStateDescriptor"],
  map: ["getMapState", "MapStateDescriptor"],
  reducing: ["getReducingState", "ReducingStateDescriptor"],
  aggregating: ["getAggregatingState", "AggregatingStateDescriptor"],
};

/**
 * `d`, when it describes state of `kind`; else a `StateError` naming the getter that should
 * have it: the backend would hand out state of the descriptor's own kind (`getListState` of a
 * ValueStateDescriptor gives a ValueState), whose first `add` is a TypeError.
 */
function ofKind<D>(getter: string, kind: StateKind, d: D): D {
  // By `kind`, not by class: descriptors of another copy of weir's module are descriptors too.
  const desc = d as { kind?: unknown; name?: unknown } | null | undefined;
  if (desc?.kind === kind) return d;
  const own = typeof desc?.kind === "string" && Object.hasOwn(STATE_GETTERS, desc.kind)
    ? STATE_GETTERS[desc.kind as StateKind]
    : undefined;
  throw new StateError(
    `${getter} needs a ${STATE_GETTERS[kind][1]}, got ` +
      (own !== undefined
        ? `the ${own[1]} "${String(desc!.name)}" (its state comes from ${own[0]})`
        : typeof d === "string"
        ? `the string ${JSON.stringify(d)}`
        : d === null || typeof d !== "object"
        ? String(d)
        : "an object that is no state descriptor"),
  );
}

/** Builds the RuntimeContext a user function's `open` receives. */
export function runtimeContext(ctx: OperatorContext): RuntimeContext {
  // Harnesses give no group: metrics still work, nobody exports them.
  let fallback: MetricGroup | undefined;
  return {
    operatorUid: ctx.uid,
    taskName: ctx.name,
    subtaskIndex: ctx.subtaskIndex,
    parallelism: ctx.parallelism,
    maxParallelism: ctx.maxParallelism,
    getState: (d) => ctx.keyedBackend().state(ofKind("getState", "value", d)),
    getListState: (d) => ctx.keyedBackend().state(ofKind("getListState", "list", d)),
    getMapState: (d) => ctx.keyedBackend().state(ofKind("getMapState", "map", d)),
    getReducingState: (d) => ctx.keyedBackend().state(ofKind("getReducingState", "reducing", d)),
    getAggregatingState: (d) =>
      ctx.keyedBackend().state(ofKind("getAggregatingState", "aggregating", d)),
    getMetricGroup: () => ctx.metricGroup ?? (fallback ??= new MetricGroup()),
  };
}

/**
 * Emits with the timestamp of the record (or timer) being handled. Its
 * `collect` is compiled for it (see `ownFunction`): a method shared by the
 * collectors of a thread would pass every operator's records to its output
 * from one site, which V8 makes generic once it sees a few outputs.
 */
class TimestampedCollector<T> implements Collector<T> {
  timestamp: number | undefined = undefined;
  readonly collect: (value: T) => void;
  constructor(op: StreamOperator<T>) {
    this.collect = ownFunction(
      "collect",
      { op, collector: this },
      "value",
      "op.output.collect(value, collector.timestamp);",
    );
  }
}

/**
 * Gives each subtask its own instance of a function object: an object that
 * inherits the user's, so fields set with `this.x = ...` in `open` belong to
 * one subtask (JS cannot copy closures; Flink would deserialize a copy).
 */
function perSubtask<F>(fn: F): F {
  return (typeof fn === "object" && fn !== null ? Object.create(fn) : fn) as F;
}

/** An operator around a user function with a life cycle. */
abstract class UserFunctionOperator<OUT> extends StreamOperator<OUT> {
  protected readonly fn: LifeCycle;
  /** The keyed backend, when the operator is keyed (set in `open`). */
  protected backend: KeyedStateBackend | undefined;
  constructor(fn: unknown) {
    super();
    this.fn = (typeof fn === "function" ? {} : perSubtask(fn)) as LifeCycle;
  }
  override async open(): Promise<void> {
    this.fn.initializeState?.({
      operatorStateStore: this.ctx.operatorState,
      isRestored: this.ctx.isRestored,
    });
    await this.fn.open?.(runtimeContext(this.ctx));
  }
  override snapshotState(checkpointId: number, savepoint = false): void | Promise<void> {
    return this.fn.snapshotState?.({ checkpointId, ...(savepoint ? { savepoint } : {}) });
  }
  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await this.fn.notifyCheckpointComplete?.(checkpointId);
  }
  override async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    await this.fn.notifyCheckpointAborted?.(checkpointId);
  }
  override async close(): Promise<void> {
    await this.fn.close?.();
  }
  /**
   * The user call returned: keyed state used later (in async callbacks)
   * throws, and a returned promise or records (the methods are void, as Flink's: returned
   * records would be lost) fail the job.
   */
  protected endCall(result: unknown, method: string): void {
    this.backend?.endKeyedCall();
    if (result !== undefined) checkVoidResult(result, method, this.ctx.name);
  }
}

/**
 * The `processElement` of one operator around a user function, compiled for it alone, as a chain
 * link is (see `ownFunction`): a method shared by every operator of a kind in a thread calls each
 * one's user function and output from one site, which V8 makes generic once it sees a few. It runs
 * `before`, makes the record's key current (keyed streams), sets `r` to the user call `call`, ends
 * the keyed call, refuses a returned promise (naming `method`), and runs `after`; `bound` holds
 * what the code names besides `op` and `keySelector`.
 */
function compiledEntry(
  op: UserFunctionOperator<unknown>,
  method: string,
  keySelector: KeySelector | undefined,
  bound: Record<string, unknown>,
  code: { before: string; call: string; after: string },
): StreamOperator["processElement"] {
  return ownFunction(
    method,
    {
      op,
      keySelector,
      checkVoidResult,
      promiseReturnedError,
      returnsRecords,
      undefinedMappedError,
      undefinedPredicateError,
      valueReturnedError,
      ...bound,
    },
    "value, timestamp, input, keyGroup, keyHash",
    `
      ${code.before}
      const backend = op.backend;
      if (keySelector !== undefined) backend.setCurrentKey(keySelector(value), keyGroup, keyHash);
      const r = ${code.call};
      if (backend !== undefined) backend.endKeyedCall();
      if (r instanceof Promise) throw promiseReturnedError(r, "${method}", op.ctx.name);
      ${code.after}
    `,
  );
}

/** What the compiled `processElement` of a map, filter or flatMap does with the result `r`. */
const SIMPLE_BODIES = {
  // undefined is a missing return: it would go on as a record nothing can use.
  map: 'if (r === undefined) throw undefinedMappedError("map", op.ctx.name);\n' +
    "op.output.collect(r, timestamp);",
  // undefined is a missing return, not false: it would drop every record silently.
  filter: "if (r) op.output.collect(value, timestamp);\n" +
    'else if (r === undefined) throw undefinedPredicateError("filter", op.ctx.name);',
  // What a flatMap returns is never emitted: returned records would be lost (see valueReturnedError).
  flatMap: 'if (returnsRecords(r)) throw valueReturnedError(r, "flatMap", op.ctx.name);',
} as const;

/**
 * Base of map, filter and flatMap: applied to a keyed stream they get a key
 * selector, and make each record's key current so rich functions can use
 * keyed state. Each instance's `processElement` is compiled for it (see `compiledEntry`).
 */
abstract class SimpleOperator<OUT> extends UserFunctionOperator<OUT> {
  readonly #keySelector: KeySelector | undefined;
  /**
   * `fnOf` gives the user function to call (bound to `target`, this subtask's function object)
   * and, for flatMap, the collector it emits into.
   */
  constructor(
    fn: unknown,
    keySelector: KeySelector | undefined,
    kind: keyof typeof SIMPLE_BODIES,
    fnOf: (target: LifeCycle, self: StreamOperator<unknown>) => {
      apply: (value: never, out: never) => unknown;
      out?: TimestampedCollector<unknown>;
    },
  ) {
    super(fn);
    this.#keySelector = keySelector;
    const { apply, out } = fnOf(this.fn, this as StreamOperator<unknown>);
    // flatMap's function emits through its collector, which carries the record's timestamp.
    this.processElement = compiledEntry(this, kind, keySelector, { fn: apply, out }, {
      before: out === undefined ? "" : "out.timestamp = timestamp;",
      call: out === undefined ? "fn(value)" : "fn(value, out)",
      after: SIMPLE_BODIES[kind],
    });
  }
  override open(): Promise<void> {
    if (this.#keySelector) this.backend = this.ctx.keyedBackend();
    return super.open();
  }
  /** The instance's compiled entry (set in the constructor). */
  declare processElement: StreamOperator["processElement"];
}

/** `map`. */
export class MapOperator<I, O> extends SimpleOperator<O> {
  constructor(fn: MapFunction<I, O>, keySelector?: KeySelector) {
    super(fn, keySelector, "map", (target) => ({
      apply: typeof fn === "function" ? fn : fn.map.bind(target),
    }));
  }
}

/** `filter`. */
export class FilterOperator<I> extends SimpleOperator<I> {
  constructor(fn: FilterFunction<I>, keySelector?: KeySelector) {
    super(fn, keySelector, "filter", (target) => ({
      apply: typeof fn === "function" ? fn : fn.filter.bind(target),
    }));
  }
}

/** `flatMap`. */
export class FlatMapOperator<I, O> extends SimpleOperator<O> {
  constructor(fn: FlatMapFunction<I, O>, keySelector?: KeySelector) {
    super(fn, keySelector, "flatMap", (target, self) => ({
      apply: typeof fn === "function" ? fn : fn.flatMap.bind(target),
      out: new TimestampedCollector(self),
    }));
  }
}

/**
 * The shared machinery of operators that run process functions: contexts,
 * side outputs, and (when keyed) the key, keyed state and timers.
 */
abstract class ProcessOperatorBase<OUT> extends UserFunctionOperator<OUT> {
  protected readonly out: TimestampedCollector<OUT> = new TimestampedCollector<OUT>(this);
  protected readonly keySelectors: readonly (KeySelector | undefined)[];
  protected timers: InternalTimerService<undefined> | undefined;
  protected domain: TimeDomain = "event-time";
  protected readonly context: OnTimerContext<unknown>;

  constructor(fn: unknown, keySelectors: readonly (KeySelector | undefined)[]) {
    super(fn);
    this.keySelectors = keySelectors;
    // deno-lint-ignore no-this-alias
    const self = this;
    const timerService: TimerService = {
      currentProcessingTime: () => self.ctx.clock.now(),
      currentWatermark: () => self.#watermark,
      registerProcessingTimeTimer: (t) => self.#timers().registerProcessingTimeTimer(undefined, t),
      registerEventTimeTimer: (t) => self.#timers().registerEventTimeTimer(undefined, t),
      deleteProcessingTimeTimer: (t) => self.#timers().deleteProcessingTimeTimer(undefined, t),
      deleteEventTimeTimer: (t) => self.#timers().deleteEventTimeTimer(undefined, t),
    };
    this.context = {
      timestamp: () => self.#timerTime ?? self.out.timestamp,
      output: <X>(tag: OutputTag<X>, value: X) =>
        self.output.collectSide(tag.id, value, self.#timerTime ?? self.out.timestamp),
      currentProcessingTime: () => self.ctx.clock.now(),
      currentWatermark: () => self.#watermark,
      getCurrentKey: () => self.#backend().currentKey(),
      timerService: () => timerService,
      timeDomain: () => self.domain,
    };
  }

  #watermark = -Infinity;
  /** While `onTimer` runs, the timer's time: `ctx.timestamp()` and side outputs give it. */
  #timerTime: number | undefined;

  #backend(): KeyedStateBackend {
    if (!this.backend) {
      throw new StateError(
        `Operator "${this.ctx.name}" is not keyed: keys and timers need a keyed stream (keyBy)`,
      );
    }
    return this.backend;
  }

  #timers(): InternalTimerService<undefined> {
    this.#backend();
    return this.timers!;
  }

  override async open(): Promise<void> {
    if (this.keySelectors.some((k) => k !== undefined)) {
      this.backend = this.ctx.keyedBackend();
      this.timers = this.ctx.timerService<undefined>({
        onTimer: (t, d) => this.#onTimer(t, d),
      });
    }
    await super.open();
  }

  /**
   * Calls `onTimer`, as Flink's keyed process operators do: what it emits carries an event-time
   * timer's time and no timestamp after a processing-time timer (a wall-clock time is no event
   * time: an event-time window downstream refuses such a record as it refuses any without one);
   * `ctx.timestamp()` and side outputs give the timer's time in both.
   */
  #onTimer(timer: Timer<undefined>, domain: TimeDomain): void {
    this.domain = domain;
    this.out.timestamp = domain === "event-time" ? timer.timestamp : undefined;
    this.#timerTime = timer.timestamp;
    try {
      this.endCall(this.onTimer(timer.timestamp), "onTimer");
    } finally {
      this.#timerTime = undefined;
    }
  }

  /** A timer fired; its key is current. Returns what the user's onTimer returned. */
  protected onTimer(_timestamp: number): unknown {
    return undefined;
  }

  protected enter(
    value: unknown,
    ts: number | undefined,
    input: number,
    keyGroup: number | undefined,
    keyHash: number | undefined,
  ): void {
    this.out.timestamp = ts;
    const select = this.keySelectors[input];
    if (select) this.backend!.setCurrentKey(select(value), keyGroup, keyHash);
  }

  override processWatermark(timestamp: number): void {
    this.#watermark = timestamp;
    this.timers?.advanceWatermark(timestamp);
    this.output.emitWatermark(timestamp);
  }

  /** Pending timers, for the test harness. */
  timerService(): InternalTimerService<undefined> | undefined {
    return this.timers;
  }

  override close(): Promise<void> {
    this.timers?.dispose();
    return super.close();
  }
}

/**
 * `process` on a stream, keyed or not. Each instance's `processElement` is
 * compiled for it (see `compiledEntry`): it calls the function's
 * `processElement` with the context and the collector.
 */
export class ProcessOperator<I, O> extends ProcessOperatorBase<O> {
  readonly #process: KeyedProcessFunction<unknown, I, O> | ProcessFunction<I, O>;
  constructor(
    fn: KeyedProcessFunction<unknown, I, O> | ProcessFunction<I, O>,
    keySelector?: KeySelector,
  ) {
    super(fn, [keySelector]);
    this.#process = this.fn as typeof fn;
    this.processElement = compiledEntry(
      this,
      "processElement",
      keySelector,
      { process: this.#process, context: this.context, out: this.out },
      {
        before: "out.timestamp = timestamp;",
        call: "process.processElement(value, context, out)",
        // processElement is void, as Flink's: returned records would be lost.
        after: 'if (r !== undefined) checkVoidResult(r, "processElement", op.ctx.name);',
      },
    );
  }
  /** The instance's compiled entry (set in the constructor). */
  declare processElement: StreamOperator["processElement"];
  protected override onTimer(timestamp: number): unknown {
    return (this.#process as KeyedProcessFunction<unknown, I, O>).onTimer?.(
      timestamp,
      this.context,
      this.out,
    );
  }
}

/** `connect(...).process(CoProcessFunction)`. */
export class CoProcessOperator<I1, I2, O> extends ProcessOperatorBase<O> {
  readonly #process: CoProcessFunction<I1, I2, O>;
  constructor(
    fn: CoProcessFunction<I1, I2, O>,
    keySelectors: [KeySelector | undefined, KeySelector | undefined],
  ) {
    super(fn, keySelectors);
    this.#process = this.fn as typeof fn;
  }
  processElement(
    value: unknown,
    ts: number | undefined,
    input: number,
    keyGroup?: number,
    keyHash?: number,
  ): void {
    this.enter(value, ts, input, keyGroup, keyHash);
    if (input === 0) {
      this.endCall(
        this.#process.processElement1(value as I1, this.context, this.out),
        "processElement1",
      );
    } else {
      this.endCall(
        this.#process.processElement2(value as I2, this.context, this.out),
        "processElement2",
      );
    }
  }
  protected override onTimer(timestamp: number): unknown {
    return this.#process.onTimer?.(timestamp, this.context, this.out);
  }
}

/** `connect(broadcastStream).process(BroadcastProcessFunction)`; input 1 is the broadcast side. */
export class BroadcastProcessOperator<I, B, O> extends ProcessOperatorBase<O> {
  readonly #process: BroadcastProcessFunction<I, B, O>;
  readonly #readOnly: ReadOnlyBroadcastContext<unknown> & OnTimerContext<unknown>;
  readonly #writable: BroadcastContext;
  /** The descriptors given to `broadcast(...)`; undefined (test harnesses): any state. */
  readonly #descriptors: readonly MapStateDescriptor<unknown, unknown>[] | undefined;
  /** Per name, the broadcast states `broadcast(...)` declared, and their read-only views. */
  readonly #states = new Map<
    string,
    {
      descriptor: MapStateDescriptor<unknown, unknown>;
      state: MapState<unknown, unknown>;
      readOnly: ReadOnlyBroadcastState<unknown, unknown>;
    }
  >();

  constructor(
    fn: BroadcastProcessFunction<I, B, O>,
    keySelector: KeySelector | undefined,
    descriptors?: readonly MapStateDescriptor<unknown, unknown>[],
  ) {
    super(fn, [keySelector, undefined]);
    this.#process = this.fn as typeof fn;
    this.#descriptors = descriptors;
    // deno-lint-ignore no-this-alias
    const self = this;
    this.#readOnly = {
      ...this.context,
      getBroadcastState<BK, BV>(d: MapStateDescriptor<BK, BV>): ReadOnlyBroadcastState<BK, BV> {
        return self.#state(d).readOnly as ReadOnlyBroadcastState<BK, BV>;
      },
    };
    this.#writable = {
      timestamp: this.context.timestamp,
      output: this.context.output,
      currentProcessingTime: this.context.currentProcessingTime,
      currentWatermark: this.context.currentWatermark,
      getBroadcastState: <BK, BV>(d: MapStateDescriptor<BK, BV>) =>
        self.#state(d).state as MapState<BK, BV>,
      applyToKeyedState(d, fn) {
        // Checked before any key: with no keys yet, a wrong argument would pass unnoticed.
        if (typeof fn !== "function") {
          throw new ConfigError(
            `Operator "${self.ctx.name}": applyToKeyedState takes a function (key, state) => void, ` +
              `as Flink's KeyedStateFunction.process, got ${describeValue(fn)}`,
          );
        }
        const backend = self.ctx.keyedBackend();
        const state = backend.state(d);
        for (const key of [...backend.keys(d.name)]) {
          backend.setCurrentKey(key);
          const result: unknown = fn(key, state);
          backend.endKeyedCall();
          if (result instanceof Promise) {
            throw promiseReturnedError(result, "applyToKeyedState's function", self.ctx.name);
          }
        }
      },
    };
  }

  override open(): Promise<void> {
    for (const d of this.#descriptors ?? []) this.#register(d);
    return super.open();
  }

  #register(d: MapStateDescriptor<unknown, unknown>) {
    const state = this.ctx.operatorState.getBroadcastState(d);
    const readOnly = {
      get: (k: unknown) => state.get(k),
      contains: (k: unknown) => state.contains(k),
      entries: () => state.entries(),
    };
    const entry = { descriptor: d, state, readOnly };
    this.#states.set(d.name, entry);
    return entry;
  }

  /**
   * The broadcast state of `d`, as Flink's: only one given to `broadcast(...)`, so that a
   * descriptor with a typo fails instead of reading an empty state.
   */
  #state(d: MapStateDescriptor<unknown, unknown>) {
    const known = this.#states.get(d.name);
    if (
      known !== undefined && (known.descriptor === d || known.descriptor.typeId() === d.typeId())
    ) {
      return known;
    }
    if (this.#descriptors === undefined) return this.#register(d);
    const names = this.#descriptors.map((x) => `"${x.name}"`).join(", ");
    throw new StateError(
      known !== undefined
        ? `Operator "${this.ctx.name}": broadcast state "${d.name}" is declared as ` +
          `${known.descriptor.typeId()}, not ${d.typeId()}`
        : `Operator "${this.ctx.name}": broadcast state "${d.name}" does not exist; the ` +
          `broadcast(...) call declares ${names || "none"}. Check the descriptor's name, or ` +
          `give the descriptor to broadcast(...)`,
    );
  }

  processElement(
    value: unknown,
    ts: number | undefined,
    input: number,
    keyGroup?: number,
    keyHash?: number,
  ): void {
    if (input === 0) {
      this.enter(value, ts, 0, keyGroup, keyHash);
      this.endCall(
        this.#process.processElement(value as I, this.#readOnly, this.out),
        "processElement",
      );
    } else {
      this.out.timestamp = ts;
      this.backend?.clearCurrentKey();
      this.endCall(
        this.#process.processBroadcastElement(value as B, this.#writable, this.out),
        "processBroadcastElement",
      );
    }
  }
  protected override onTimer(timestamp: number): unknown {
    return this.#process.onTimer?.(timestamp, this.#readOnly, this.out);
  }
}

/** A sink at the end of a chain. */
export class SinkOperator<T> extends StreamOperator<never> {
  readonly sink: SinkFunction<T>;
  constructor(sink: SinkFunction<T>) {
    super();
    this.sink = perSubtask(sink);
  }
  override async open(): Promise<void> {
    this.sink.initializeState?.({
      operatorStateStore: this.ctx.operatorState,
      isRestored: this.ctx.isRestored,
    });
    await this.sink.open?.({
      subtaskIndex: this.ctx.subtaskIndex,
      parallelism: this.ctx.parallelism,
      operatorUid: this.ctx.uid,
      ...(this.ctx.log ? { log: this.ctx.log } : {}),
    });
  }
  override snapshotState(checkpointId: number, savepoint = false): void | Promise<void> {
    return this.sink.snapshotState?.({ checkpointId, ...(savepoint ? { savepoint } : {}) });
  }
  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await this.sink.notifyCheckpointComplete?.(checkpointId);
  }
  override async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    await this.sink.notifyCheckpointAborted?.(checkpointId);
  }
  processElement(value: unknown, ts: number | undefined): void {
    const result: unknown = this.sink.invoke(value as T, ts);
    if (result instanceof Promise) throw promiseReturnedError(result, "invoke", this.ctx.name);
  }
  override processWatermark(): void {}
  override async finish(): Promise<void> {
    await this.sink.flush?.();
    await this.sink.finish?.();
  }
  override async close(): Promise<void> {
    await this.sink.close?.();
  }
}
