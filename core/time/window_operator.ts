/**
 * The window operator: assigns each element of a keyed stream to windows,
 * keeps window contents in keyed state with the window as namespace
 * (pre-aggregated for reduce and aggregate), asks the trigger when to fire,
 * and cleans a window up at its end plus the allowed lateness. Its timers
 * (trigger and cleanup timers) live in the state backend like the contents,
 * so a restored job fires windows exactly as the uncrashed one would.
 *
 * @module
 */
import { ownedCopy } from "../state/_owned_copy.ts";
import { ConfigError } from "../errors.ts";
import { checkWholeMs } from "./_event_time_value.ts";
import type { Collector } from "../dataflow/functions.ts";
import type { KeyedStateBackend, NamespacedState, StateFor } from "../state/backend.ts";
import {
  type AnyStateDescriptor,
  ListStateDescriptor,
  type ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../state/descriptors.ts";
import type { Serializer } from "../state/serializer.ts";
import { Serializers } from "../state/serializer.ts";
import { plainStateSerializer } from "../state/plain_serializer.ts";
import { withContents } from "../state/_state_migration.ts";
import {
  COMPATIBLE_AS_IS,
  incompatible,
  resolveSchemaCompatibility,
  type SchemaCompatibility,
  schemaFromId,
} from "../state/serializer_schema.ts";
import type { AggregateFunction, ListState, ValueState } from "../state/state.ts";
import { StreamOperator } from "../runtime/operator.ts";
import { type KeySelector, runtimeContext } from "../runtime/operators.ts";
import {
  checkVoidResult,
  describeValue,
  promiseReturnedError,
  undefinedReturnedError,
} from "../runtime/_sync_call.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import type { InternalTimerService, TimeDomain, Timer } from "../runtime/timers.ts";
import type { Evictor, EvictorContext, TimestampedValue } from "./evictors.ts";
import {
  EventTimeTrigger,
  isFire,
  isPurge,
  type OnMergeContext,
  type Trigger,
  type TriggerResult,
} from "./triggers.ts";
import { TimeWindow, type Window } from "./window.ts";
import type { WindowAssigner } from "./window_assigners.ts";
import type {
  KeyedStateStore,
  ProcessWindowContext,
  ProcessWindowFunction,
  ReduceFunction,
} from "./window_functions.ts";

/** How a window keeps its contents. */
export type WindowContentsSpec<IN> =
  /** Reduce as elements arrive. */
  | {
    readonly kind: "reduce";
    readonly reduce: ReduceFunction<IN>;
    readonly serializer: Serializer<IN>;
  }
  /** Aggregate into an accumulator as elements arrive. */
  | {
    readonly kind: "aggregate";
    // deno-lint-ignore no-explicit-any
    readonly aggregate: AggregateFunction<IN, any, unknown>;
    // deno-lint-ignore no-explicit-any
    readonly accumulatorSerializer: Serializer<any>;
  }
  /** Keep every element (process functions, evictors). */
  | { readonly kind: "list"; readonly serializer: Serializer<IN> };

/** Everything a window operator is built from. */
export interface WindowOperatorSpec<IN, OUT, K, W extends Window> {
  /** Selects the key. */
  readonly keySelector: KeySelector<IN, K>;
  /** Assigns windows. */
  readonly assigner: WindowAssigner<IN, W>;
  /** When windows fire (default: the assigner's). */
  readonly trigger?: Trigger<IN, W>;
  /** Removes elements around firings (contents are then kept as a list). */
  readonly evictor?: Evictor<IN, W>;
  /** Event-time windows keep state this long after their end; late elements fire them again. */
  readonly allowedLateness?: number;
  /** Elements dropped as late go here. */
  readonly lateDataTag?: OutputTag<IN>;
  /** How contents are kept. */
  readonly contents: WindowContentsSpec<IN>;
  /** Evaluates a fired window; without one the (pre-aggregated) result is emitted. */
  // deno-lint-ignore no-explicit-any
  readonly process?: ProcessWindowFunction<any, OUT, K, W>;
}

const CONTENTS = "window-contents";

function timestampedSerializer<T>(inner: Serializer<T>): Serializer<TimestampedValue<T>> {
  const id = `timestamped<${inner.id}>`;
  return {
    id,
    version: 1,
    // The element's serializer decides, so that its own migrations apply (json elements of
    // older snapshots are read by plain). A snapshot records this id only: the old element's
    // schema is the one its id names.
    resolveSchemaCompatibility(old) {
      if (old.id === id) return COMPATIBLE_AS_IS;
      if (!old.id.startsWith("timestamped<") || !old.id.endsWith(">")) {
        return incompatible(`"${old.id}" cannot be read as "${id}"`);
      }
      const c = resolveSchemaCompatibility(inner, schemaFromId(old.id.slice(12, -1)));
      if (c.type !== "compatibleAfterMigration") return c as SchemaCompatibility<never>;
      return {
        type: "compatibleAfterMigration",
        readOld(r) {
          const value = c.readOld(r);
          return { value, timestamp: r.readU8() === 0 ? undefined : r.readF64() };
        },
      };
    },
    write(v, out) {
      inner.write(v.value, out);
      if (v.timestamp === undefined) out.writeU8(0);
      else {
        out.writeU8(1);
        out.writeF64(v.timestamp);
      }
    },
    read(r) {
      const value = inner.read(r);
      return { value, timestamp: r.readU8() === 0 ? undefined : r.readF64() };
    },
  };
}

function perSubtask<F>(fn: F): F {
  return (typeof fn === "object" && fn !== null ? Object.create(fn) : fn) as F;
}

type Contents =
  & (ValueState<unknown> | ListState<TimestampedValue<unknown>>)
  & NamespacedState<unknown>;

/** The window operator (see the module doc). */
export class WindowOperator<IN, OUT, K, W extends Window> extends StreamOperator<OUT> {
  readonly #spec: WindowOperatorSpec<IN, OUT, K, W>;
  readonly #assigner: WindowAssigner<IN, W>;
  readonly #trigger: Trigger<IN, W>;
  readonly #lateness: number;
  readonly #merging: boolean;
  /** The default event-time trigger: re-registering its timers can be skipped. */
  readonly #fastTrigger: boolean;
  readonly #process: ProcessWindowFunction<unknown, OUT, K, W> | undefined;
  #backend!: KeyedStateBackend;
  #timers!: InternalTimerService<W>;
  #contents!: Contents;
  #windowSet: (ValueState<W[]> & NamespacedState<undefined>) | undefined;
  #watermark = -Infinity;
  #emitTimestamp: number | undefined = undefined;
  /** Elements dropped (or side-output) as late. */
  lateRecordsDropped = 0;
  readonly #collector: Collector<OUT> = {
    collect: (v) => this.output.collect(v, this.#emitTimestamp),
  };
  readonly #triggerStates = new Map<string, NamespacedState<W>>();
  readonly #windowStates = new Map<string, NamespacedState<W>>();
  #window!: W;
  #mergedWindows: W[] = [];
  readonly #tctx: OnMergeContext;
  readonly #pctx: ProcessWindowContext<W>;
  readonly #ectx: EvictorContext;
  /**
   * Non-merging assigners: one instance per time window (by start), so the
   * state backend and the timers recognize a window by identity instead of
   * serializing it for every element.
   */
  readonly #canonical = new Map<number, TimeWindow>();
  /** Windows fire through `drainNamespace` (see open). */
  #drain = false;
  #drainTimestamp = 0;
  readonly #emitDrained = (_key: unknown, acc: unknown): void => {
    const c = this.#spec.contents;
    const v = c.kind === "aggregate" ? c.aggregate.getResult(acc) : acc;
    this.output.collect(v as OUT, this.#drainTimestamp);
  };

  /** Creates the operator. */
  constructor(spec: WindowOperatorSpec<IN, OUT, K, W>) {
    super();
    this.#spec = spec;
    this.#assigner = spec.assigner;
    this.#trigger = spec.trigger ?? spec.assigner.defaultTrigger();
    this.#lateness = spec.allowedLateness ?? 0;
    if (!(this.#lateness >= 0)) {
      throw new ConfigError(`Allowed lateness must be >= 0 ms, got ${this.#lateness}`);
    }
    checkWholeMs("Allowed lateness", this.#lateness, true);
    this.#merging = typeof spec.assigner.mergeWindows === "function";
    if (this.#merging) {
      if (!(this.#trigger.canMerge?.() ?? false)) {
        throw new ConfigError(
          "A merging window assigner (sessions) needs a trigger that can merge",
        );
      }
      if (spec.contents.kind === "aggregate" && !spec.contents.aggregate.merge) {
        throw new ConfigError(
          "Session windows merge accumulators: the AggregateFunction needs a merge method",
        );
      }
    }
    // Exactly EventTimeTrigger (a subclass may do more) on event time, contents pre-aggregated.
    this.#fastTrigger = Object.getPrototypeOf(this.#trigger) === EventTimeTrigger.prototype &&
      spec.assigner.isEventTime && spec.evictor === undefined && spec.contents.kind !== "list";
    this.#process = spec.process ? perSubtask(spec.process) : undefined;
    // deno-lint-ignore no-this-alias
    const self = this;
    this.#tctx = {
      currentWatermark: () => self.#watermark,
      currentProcessingTime: () => self.ctx.clock.now(),
      registerEventTimeTimer: (t) => self.#timers.registerEventTimeTimer(self.#window, t),
      deleteEventTimeTimer: (t) => self.#timers.deleteEventTimeTimer(self.#window, t),
      registerProcessingTimeTimer: (t) => self.#timers.registerProcessingTimeTimer(self.#window, t),
      deleteProcessingTimeTimer: (t) => self.#timers.deleteProcessingTimeTimer(self.#window, t),
      getPartitionedState: <D extends AnyStateDescriptor>(d: D) =>
        self.#scoped(self.#triggerStates, d, self.#window) as StateFor<D>,
      mergePartitionedState<T>(d: ReducingStateDescriptor<T>): void {
        const target = self.#window;
        const s = self.#scoped(self.#triggerStates, d, target) as
          & StateFor<typeof d>
          & NamespacedState<W>;
        const values: T[] = [];
        for (const m of self.#mergedWindows) {
          s.setNamespace(m);
          const v = s.get();
          if (v !== undefined) values.push(v);
          s.clear();
        }
        s.setNamespace(target);
        for (const v of values) s.add(v);
      },
    };
    const windowStore: KeyedStateStore = {
      getState: <D extends AnyStateDescriptor>(d: D) => {
        // As Flink: when windows merge, nothing merges per-window state, and a merged-away
        // window's would be lost and never cleared.
        if (self.#merging) {
          throw new ConfigError(
            `Operator "${self.ctx.name}": per-window state (windowState(), "${d.name}") is not ` +
              "allowed with merging windows (sessions); keep it in globalState() by key",
          );
        }
        return self.#scoped(self.#windowStates, d, self.#window) as StateFor<D>;
      },
    };
    const globalStore: KeyedStateStore = {
      getState: <D extends AnyStateDescriptor>(d: D) => self.#backend.state(d) as StateFor<D>,
    };
    this.#pctx = {
      get window() {
        return self.#window;
      },
      currentProcessingTime: () => self.ctx.clock.now(),
      currentWatermark: () => self.#watermark,
      windowState: () => windowStore,
      globalState: () => globalStore,
      output: <X>(tag: OutputTag<X>, value: X) =>
        self.output.collectSide(tag.id, value, self.#emitTimestamp),
    };
    this.#ectx = {
      currentWatermark: () => self.#watermark,
      currentProcessingTime: () => self.ctx.clock.now(),
    };
  }

  #scoped(cache: Map<string, NamespacedState<W>>, d: AnyStateDescriptor, w: W): unknown {
    let s = cache.get(d.name);
    if (!s) {
      s = this.#backend.state(d, this.#assigner.windowSerializer) as NamespacedState<W>;
      cache.set(d.name, s);
    }
    s.setNamespace(w);
    return s;
  }

  /** Creates the window state and timer service (restored ones on restore). */
  override async open(): Promise<void> {
    this.#backend = this.ctx.keyedBackend();
    const ws = this.#assigner.windowSerializer;
    const c = this.#spec.contents;
    if (c.kind === "list" || this.#spec.evictor) {
      // An aggregate's elements (kept for an evictor) have no serializer of the user's.
      const ser = c.kind === "aggregate"
        ? plainStateSerializer(
          `operator "${this.ctx.name}"`,
          "reduce or process and { serializer } (with an evictor, aggregate keeps the elements)",
        )
        : c.serializer;
      this.#contents = this.#backend.state(
        new ListStateDescriptor(CONTENTS, timestampedSerializer(ser as Serializer<unknown>)),
        ws,
      ) as unknown as Contents;
    } else {
      const ser = c.kind === "reduce" ? c.serializer : c.accumulatorSerializer;
      // A reduced value and an accumulator are one value state of one name: the mark tells them
      // apart, so a savepoint of one does not restore into the other under the same uid.
      const d = new ValueStateDescriptor<unknown>(CONTENTS, ser as Serializer<unknown>);
      this.#contents = this.#backend.state(withContents(d, c.kind), ws) as unknown as Contents;
    }
    if (this.#merging) {
      this.#windowSet = this.#backend.state(
        new ValueStateDescriptor<W[]>("window-set", Serializers.array(ws)),
      );
    }
    this.#timers = this.ctx.timerService<W>({ onTimer: (t, d) => this.#onTimer(t, d) }, ws);
    // A window fires for all keys at once: the default trigger, no lateness, no
    // merging, pre-aggregated contents emitted as they are, and a backend that
    // can hand over a namespace (the heap).
    this.#drain = this.#fastTrigger && this.#lateness === 0 && !this.#merging &&
      !this.#process && typeof this.#contents.drainNamespace === "function";
    await this.#process?.open?.(runtimeContext(this.ctx));
  }

  /** The operator's timers (tests read them). */
  timerService(): InternalTimerService<W> {
    return this.#timers;
  }

  #cleanupTime(w: W): number {
    const max = w.maxTimestamp();
    return this.#assigner.isEventTime ? max + this.#lateness : max;
  }

  #isLate(w: W): boolean {
    return this.#assigner.isEventTime && this.#cleanupTime(w) <= this.#watermark;
  }

  #registerCleanup(w: W): void {
    const t = this.#cleanupTime(w);
    if (t === Infinity) return; // global windows are never cleaned
    if (this.#assigner.isEventTime) this.#timers.registerEventTimeTimer(w, t);
    else this.#timers.registerProcessingTimeTimer(w, t);
  }

  #deleteCleanup(w: W): void {
    const t = this.#cleanupTime(w);
    if (t === Infinity) return;
    if (this.#assigner.isEventTime) this.#timers.deleteEventTimeTimer(w, t);
    else this.#timers.deleteProcessingTimeTimer(w, t);
  }

  /** Adds to the current window's contents; returns whether it had contents before. */
  #add(value: IN, ts: number | undefined): boolean {
    const c = this.#spec.contents;
    if (c.kind === "list" || this.#spec.evictor) {
      (this.#contents as ListState<TimestampedValue<unknown>>).add({ value, timestamp: ts });
      return false;
    }
    const s = this.#contents as ValueState<unknown>;
    const prev = s.value();
    let next: unknown;
    // A window's first element is kept as a copy: the reduce function may update it in place,
    // and the element itself is also in other windows (sliding) and other branches.
    if (c.kind === "reduce") {
      next = prev === undefined ? ownedCopy(c.serializer, value) : c.reduce(prev as IN, value);
    } else {
      const a = c.aggregate;
      next = a.add(value, prev === undefined ? a.createAccumulator() : prev);
    }
    if (next instanceof Promise) {
      throw promiseReturnedError(next, c.kind === "reduce" ? "reduce" : "add", this.ctx.name);
    }
    if (next === undefined) throw this.#undefinedResult(c.kind === "reduce" ? "reduce" : "add");
    s.update(next);
    return prev !== undefined;
  }

  /** A reduce, add or merge returned undefined (see `undefinedReturnedError`). */
  #undefinedResult(method: string): ConfigError {
    const what = method === "reduce" ? "value" : "accumulator";
    return undefinedReturnedError(method, `window operator "${this.ctx.name}"`, what);
  }

  /** Handles one element. */
  processElement(
    value: unknown,
    timestamp: number | undefined,
    _input: number,
    keyGroup?: number,
    keyHash?: number,
  ): void {
    const v = value as IN;
    this.#backend.setCurrentKey(this.#spec.keySelector(v), keyGroup, keyHash);
    const assigned = this.#assigner.assignWindows(v, timestamp, this.#tctx);
    const windows = this.#merging ? this.#mergeIn(assigned) : assigned;
    let skipped = true;
    for (let i = 0; i < windows.length; i++) {
      const w = this.#merging ? windows[i]! : this.#canonicalOf(windows[i]!);
      if (this.#isLate(w)) continue;
      skipped = false;
      this.#window = w;
      this.#contents.setNamespace(w);
      const existed = this.#add(v, timestamp);
      if (this.#fastTrigger) {
        // EventTimeTrigger.onElement inlined: its timer is registered with the window's first element.
        const max = w.maxTimestamp();
        if (max <= this.#watermark) this.#fire(w);
        else if (!existed) {
          // Without lateness the window's end is also its cleanup time, and the
          // (key, window) has no pending timer: its contents are new, and every
          // timer of it went at its cleanup. A duplicate could only come from
          // contents that became undefined; it would fire on cleared contents,
          // a no-op.
          // (Merging windows delete the timers of merged-away windows: those need the index.)
          if (this.#lateness === 0 && !this.#merging) {
            this.#timers.registerNewEventTimeTimer(w, max);
          } else this.#timers.registerEventTimeTimer(w, max);
        }
        // A merged session's contents existed (moved in from the windows it merged), but its
        // cleanup time is its own: without this timer it would live, and absorb records, for ever.
        if ((!existed || this.#merging) && this.#lateness !== 0) this.#registerCleanup(w);
        continue;
      }
      const r = this.#trigger.onElement(v, timestamp, w, this.#tctx);
      if (r !== "CONTINUE") this.#act(w, r, "onElement");
      this.#registerCleanup(w);
    }
    // Flink's test, on the whole millisecond: a window ends at maxTimestamp() = end - 1, so one at
    // 9.5 in [0, 10) is late once 9 is, and goes to the late data instead of vanishing.
    if (
      skipped && this.#assigner.isEventTime && timestamp !== undefined &&
      Math.floor(timestamp) + this.#lateness <= this.#watermark
    ) {
      this.lateRecordsDropped++;
      const tag = this.#spec.lateDataTag;
      if (tag) this.output.collectSide(tag.id, value, timestamp);
    }
    this.#backend.endKeyedCall();
  }

  #canonicalOf(w: W): W {
    if (!(w instanceof TimeWindow)) return w;
    const known = this.#canonical.get(w.start);
    if (known !== undefined) return known.end === w.end ? known as unknown as W : w;
    if (this.#canonical.size >= 1024) this.#canonical.clear();
    this.#canonical.set(w.start, w);
    return w;
  }

  /**
   * Session windows: adds each new window to the key's window set, merging
   * overlapping ones (contents, trigger state and timers move to the result);
   * returns the windows the element goes to.
   */
  #mergeIn(assigned: W[]): W[] {
    const setState = this.#windowSet!;
    let set = [...(setState.value() ?? [])];
    const out: W[] = [];
    let changed = false;
    for (const w of assigned) {
      const merges: [W, W[]][] = [];
      this.#assigner.mergeWindows!([...set, w], (result, merged) => merges.push([result, merged]));
      let actual = w;
      for (const [result, merged] of merges) {
        if (merged.includes(w)) actual = result;
        const olds = merged.filter((m) => m !== w);
        set = set.filter((s) => !olds.includes(s));
        this.#mergeWindows(result, olds);
        set.push(result);
        changed = true;
      }
      if (actual === w) {
        if (this.#isLate(w)) continue; // a new late window is never added
        set.push(w);
        changed = true;
      }
      out.push(actual);
    }
    if (changed) setState.update(set);
    return out;
  }

  /**
   * Tells the trigger, then moves the contents of `olds` into `result`. The trigger merges first,
   * as Flink's does: its state in the old windows (a count, a next firing time) goes into the
   * result's before clearing the old windows drops it.
   */
  #mergeWindows(result: W, olds: W[]): void {
    const c = this.#spec.contents;
    const moved = olds.filter((o) => !windowEquals(o, result));
    this.#window = result;
    this.#mergedWindows = moved;
    this.#trigger.onMerge?.(result, this.#tctx);
    this.#mergedWindows = [];
    const values: unknown[] = [];
    for (const o of moved) {
      this.#window = o;
      this.#trigger.clear(o, this.#tctx);
      this.#deleteCleanup(o);
      this.#contents.setNamespace(o);
      const v = c.kind === "list" || this.#spec.evictor
        ? (this.#contents as ListState<unknown>).get()
        : (this.#contents as ValueState<unknown>).value();
      if (v !== undefined) values.push(v);
      this.#contents.clear();
    }
    this.#contents.setNamespace(result);
    if (c.kind === "list" || this.#spec.evictor) {
      const list = this.#contents as ListState<unknown>;
      for (const v of values) list.addAll(v as unknown[]);
    } else {
      const s = this.#contents as ValueState<unknown>;
      let acc = s.value();
      for (const v of values) {
        if (acc === undefined) acc = v;
        else if (c.kind === "reduce") acc = c.reduce(acc as IN, v as IN);
        else acc = c.aggregate.merge!(acc, v);
        if (acc === undefined) {
          throw this.#undefinedResult(c.kind === "reduce" ? "reduce" : "merge");
        }
      }
      s.update(acc);
    }
    this.#window = result;
  }

  /**
   * Fires and/or purges `w` as the trigger's `method` said with `r` (not CONTINUE). Anything
   * else than a TriggerResult (undefined from a missing return, "fire", a promise) fails the
   * job: read as CONTINUE, the window would never fire, without a word.
   */
  #act(w: W, r: TriggerResult, method: string): void {
    const fire = isFire(r), purge = isPurge(r);
    if (!fire && !purge) {
      const what: unknown = r;
      if (what instanceof Promise) {
        throw promiseReturnedError(what, `Trigger ${method}`, this.ctx.name);
      }
      throw new ConfigError(
        `Trigger ${method} of operator "${this.ctx.name}" returned ${describeValue(what)}: a ` +
          `trigger returns a TriggerResult, "CONTINUE", "FIRE", "PURGE" or "FIRE_AND_PURGE"`,
      );
    }
    if (fire) this.#fire(w);
    if (purge) {
      this.#contents.setNamespace(w);
      this.#contents.clear();
    }
  }

  /** Evaluates window `w` of the current key. */
  #fire(w: W): void {
    this.#contents.setNamespace(w);
    const c = this.#spec.contents;
    let input: unknown[];
    let elements: TimestampedValue<unknown>[] | undefined;
    if (c.kind === "list" || this.#spec.evictor) {
      elements = (this.#contents as ListState<TimestampedValue<unknown>>).get();
      if (elements === undefined || elements.length === 0) return;
      const ev = this.#spec.evictor;
      ev?.evictBefore(elements as TimestampedValue<IN>[], elements.length, w, this.#ectx);
      const values = elements.map((e) => e.value);
      if (c.kind === "reduce") {
        input = values.length ? [values.reduce((a, b) => c.reduce(a as IN, b as IN))] : [];
      } else if (c.kind === "aggregate") {
        let acc = c.aggregate.createAccumulator();
        for (const x of values) acc = c.aggregate.add(x as IN, acc);
        input = [c.aggregate.getResult(acc)];
      } else input = values;
    } else {
      const acc = (this.#contents as ValueState<unknown>).value();
      if (acc === undefined) return;
      const result = c.kind === "aggregate" ? c.aggregate.getResult(acc) : acc;
      if (!this.#process) {
        this.#emitTimestamp = w.maxTimestamp();
        this.output.collect(result as OUT, this.#emitTimestamp);
        return;
      }
      input = [result];
    }
    this.#emitTimestamp = w.maxTimestamp();
    this.#window = w;
    if (this.#process) {
      const key = this.#backend.currentKey() as K;
      const r: unknown = this.#process.process(key, this.#pctx, input, this.#collector);
      // process is void, as Flink's: a promise or returned records fail the job.
      if (r !== undefined) checkVoidResult(r, "process", this.ctx.name);
    } else {
      for (const x of input) this.output.collect(x as OUT, this.#emitTimestamp);
    }
    if (elements && this.#spec.evictor) {
      this.#spec.evictor.evictAfter(
        elements as TimestampedValue<IN>[],
        elements.length,
        w,
        this.#ectx,
      );
      this.#contents.setNamespace(w);
      const list = this.#contents as ListState<TimestampedValue<unknown>>;
      if (elements.length === 0) list.clear();
      else list.update(elements);
    }
  }

  #onTimer(timer: Timer<W>, domain: TimeDomain): void {
    this.#handleTimer(timer, domain);
    this.#backend.endKeyedCall();
  }

  #handleTimer(timer: Timer<W>, domain: TimeDomain): void {
    const w = timer.namespace;
    if (this.#drain && domain === "event-time" && timer.timestamp === w.maxTimestamp()) {
      // The window's first timer emits every key's result and drops the
      // window's contents; the other keys' timers (same timestamp, fired in
      // this same watermark advance) then find nothing.
      this.#drainTimestamp = timer.timestamp;
      this.#contents.drainNamespace!(w, this.#emitDrained);
      return;
    }
    if (this.#merging && !(this.#windowSet!.value() ?? []).some((x) => windowEquals(x, w))) {
      return; // merged away (its timers were deleted; a stale one is ignored)
    }
    this.#window = w;
    const r = domain === "event-time"
      ? this.#trigger.onEventTime(timer.timestamp, w, this.#tctx)
      : this.#trigger.onProcessingTime(timer.timestamp, w, this.#tctx);
    if (r !== "CONTINUE") {
      this.#act(w, r, domain === "event-time" ? "onEventTime" : "onProcessingTime");
    }
    const eventTime = this.#assigner.isEventTime;
    if ((domain === "event-time") === eventTime && timer.timestamp === this.#cleanupTime(w)) {
      this.#clearAll(w);
    }
  }

  /** Drops everything of window `w`: contents, trigger state and timers, window state. */
  #clearAll(w: W): void {
    this.#window = w;
    this.#contents.setNamespace(w);
    this.#contents.clear();
    // EventTimeTrigger's one timer (at the window's end) has fired by the cleanup time.
    if (!this.#fastTrigger) this.#trigger.clear(w, this.#tctx);
    this.#process?.clear?.(this.#pctx);
    if (this.#merging) {
      const set = (this.#windowSet!.value() ?? []).filter((x) => !windowEquals(x, w));
      this.#windowSet!.update(set.length ? set : undefined);
    }
  }

  /** Fires event-time timers up to the watermark, then forwards it. */
  override processWatermark(timestamp: number): void {
    this.#watermark = timestamp;
    this.#timers.advanceWatermark(timestamp);
    this.output.emitWatermark(timestamp);
  }

  /** Stops processing-time callbacks and closes the function. */
  override async close(): Promise<void> {
    this.#timers?.dispose();
    await this.#process?.close?.();
  }
}

function windowEquals(a: Window, b: Window): boolean {
  if (a === b) return true;
  const eq = (a as { equals?: (o: unknown) => boolean }).equals;
  return typeof eq === "function" ? eq.call(a, b) : false;
}
