/**
 * State with time to live, for every backend: as Flink's TTL state, a TTL
 * state object decorates an ordinary state whose values carry their
 * last-access timestamp ({@linkcode TtlValue}), so both backends store the
 * layout described in `ttl.ts`. Reads check expiry and clean expired entries
 * up; backends add background cleanup (heap: incremental and in full
 * snapshots; LSM: a compaction filter).
 *
 * @module
 */
import {
  AggregatingStateDescriptor,
  type AnyStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "./descriptors.ts";
import type { NamespacedState, StateFor } from "./backend.ts";
import type {
  AggregateFunction,
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from "./state.ts";
import { defaultValueOf } from "./_owned_copy.ts";
import { checkListElement } from "./state_keys.ts";
import { type StateTtlConfig, ttlSerializer, type TtlTimeProvider, type TtlValue } from "./ttl.ts";

/** TTL configs of the inner descriptors made here (the backends look them up). */
const innerConfigs = new WeakMap<object, StateTtlConfig>();

/**
 * The TTL config of a descriptor made by {@linkcode ttlInnerDescriptor}, or
 * undefined for any other descriptor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, ValueStateDescriptor } from "@weir/weir";
 * import { innerTtlConfig } from "./ttl_state.ts";
 * assert.equal(innerTtlConfig(new ValueStateDescriptor("v", Serializers.f64)), undefined);
 * ```
 */
export function innerTtlConfig(d: AnyStateDescriptor): StateTtlConfig | undefined {
  return innerConfigs.get(d);
}

function stamp(time: TtlTimeProvider): number {
  return Math.max(0, Math.floor(time.now()));
}

/** Applies a marker to an aggregate's accumulator: refreshes its timestamp. */
const TOUCH: unique symbol = Symbol("ttl touch");

/**
 * The descriptor a backend registers for a descriptor with TTL: same name and
 * kind, values wrapped in {@linkcode TtlValue} (serialized by
 * {@linkcode ttlSerializer}), type id that of `d` (with `+ttl`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock, Serializers, StateTtlConfig, ValueStateDescriptor } from "@weir/weir";
 * import { ttlInnerDescriptor } from "./ttl_state.ts";
 * const d = new ValueStateDescriptor("v", Serializers.f64);
 * d.enableTimeToLive(StateTtlConfig.newBuilder(10).build());
 * const inner = ttlInnerDescriptor(d, new ManualClock());
 * assert.equal(inner.typeId(), "value<f64>+ttl");
 * ```
 */
export function ttlInnerDescriptor(
  d: AnyStateDescriptor,
  time: TtlTimeProvider,
): AnyStateDescriptor {
  const config = d.ttlConfig;
  if (!config) throw new TypeError(`State "${d.name}" has no TTL`);
  // As Flink's getUnexpired: with ReturnExpiredIfNotCleanedUp an expired accumulator not yet
  // cleaned up is still the one an add builds on.
  const returnExpired = config.stateVisibility === "ReturnExpiredIfNotCleanedUp";
  const expired = (e: TtlValue<unknown>) => !returnExpired && config.isExpired(e.ts, stamp(time));
  let inner: AnyStateDescriptor;
  switch (d.kind) {
    case "value":
      inner = new ValueStateDescriptor(d.name, ttlSerializer(d.serializer));
      break;
    case "list":
      inner = new ListStateDescriptor(d.name, ttlSerializer(d.elementSerializer));
      break;
    case "map":
      inner = new MapStateDescriptor(d.name, d.keySerializer, ttlSerializer(d.valueSerializer));
      break;
    case "reducing": {
      const reduce = d.reduce;
      inner = new ReducingStateDescriptor(
        d.name,
        (a: TtlValue<unknown>, b: TtlValue<unknown>) =>
          expired(a) ? b : { v: reduce(a.v, b.v), ts: b.ts },
        ttlSerializer(d.serializer),
      );
      break;
    }
    case "aggregating": {
      const fn = d.aggregateFunction as AggregateFunction<unknown, unknown, unknown>;
      const wrapped: AggregateFunction<unknown, TtlValue<unknown>, TtlValue<unknown>> = {
        createAccumulator: () => ({ v: fn.createAccumulator(), ts: stamp(time) }),
        add: (v, acc) => {
          if (v === TOUCH) return { v: acc.v, ts: stamp(time) };
          return { v: fn.add(v, expired(acc) ? fn.createAccumulator() : acc.v), ts: stamp(time) };
        },
        getResult: (acc) => acc,
        ...(fn.merge
          ? {
            merge: (a: TtlValue<unknown>, b: TtlValue<unknown>) => ({
              v: fn.merge!(a.v, b.v),
              ts: Math.max(a.ts, b.ts),
            }),
          }
          : {}),
      };
      inner = new AggregatingStateDescriptor(
        d.name,
        wrapped,
        ttlSerializer(d.accumulatorSerializer),
      );
      break;
    }
  }
  const typeId = d.typeId();
  inner.typeId = () => typeId;
  innerConfigs.set(inner, config);
  return inner;
}

/**
 * What is left of a stored value of a TTL state at `now`, as the heap backend
 * holds it (a {@linkcode TtlValue}, an array of them for list state, a Map of
 * them for map state): the value itself when nothing expired, a filtered copy
 * when some elements or entries expired, undefined when all did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StateTtlConfig } from "@weir/weir";
 * import { liveStoredValue } from "./ttl_state.ts";
 * const ttl = StateTtlConfig.newBuilder(10).build();
 * const list = [{ v: "old", ts: 0 }, { v: "new", ts: 5 }];
 * assert.deepEqual(liveStoredValue("list", list, ttl, 12), [{ v: "new", ts: 5 }]);
 * assert.equal(liveStoredValue("value", { v: 1, ts: 0 }, ttl, 10), undefined);
 * ```
 */
export function liveStoredValue(
  kind: AnyStateDescriptor["kind"],
  stored: unknown,
  config: StateTtlConfig,
  now: number,
): unknown {
  switch (kind) {
    case "list": {
      const list = stored as TtlValue<unknown>[];
      const live = list.filter((e) => !config.isExpired(e.ts, now));
      return live.length === list.length ? list : live.length === 0 ? undefined : live;
    }
    case "map": {
      const map = stored as Map<unknown, TtlValue<unknown>>;
      let live: Map<unknown, TtlValue<unknown>> | undefined;
      for (const [k, e] of map) {
        if (!config.isExpired(e.ts, now)) continue;
        live ??= new Map(map);
        live.delete(k);
      }
      return live === undefined ? map : live.size === 0 ? undefined : live;
    }
    default:
      return config.isExpired((stored as TtlValue<unknown>).ts, now) ? undefined : stored;
  }
}

/** Shared by the TTL decorators. */
class TtlBase<S extends NamespacedState<unknown>> {
  protected readonly inner: S;
  protected readonly config: StateTtlConfig;
  readonly #time: TtlTimeProvider;
  readonly #onAccess: (() => void) | undefined;
  protected readonly readUpdates: boolean;
  protected readonly returnExpired: boolean;

  constructor(
    inner: S,
    config: StateTtlConfig,
    time: TtlTimeProvider,
    onAccess: (() => void) | undefined,
  ) {
    this.inner = inner;
    this.config = config;
    this.#time = time;
    this.#onAccess = onAccess;
    this.readUpdates = config.updateType === "OnReadAndWrite";
    this.returnExpired = config.stateVisibility === "ReturnExpiredIfNotCleanedUp";
  }

  /** The current time (ms); runs the backend's per-access cleanup first. */
  protected access(): number {
    this.#onAccess?.();
    return stamp(this.#time);
  }

  protected expired(e: TtlValue<unknown>, now: number): boolean {
    return this.config.isExpired(e.ts, now);
  }

  setNamespace(ns: unknown): void {
    this.inner.setNamespace(ns);
  }
}

type Inner<S> = S & NamespacedState<unknown>;

class TtlValueState<T> extends TtlBase<Inner<ValueState<TtlValue<T>>>> implements ValueState<T> {
  readonly #default: () => T | undefined;
  constructor(
    inner: Inner<ValueState<TtlValue<T>>>,
    config: StateTtlConfig,
    time: TtlTimeProvider,
    onAccess: (() => void) | undefined,
    defaultValue: () => T | undefined,
  ) {
    super(inner, config, time, onAccess);
    this.#default = defaultValue;
  }
  value(): T | undefined {
    const now = this.access();
    const e = this.inner.value();
    if (e === undefined) return this.#default();
    if (this.expired(e, now)) {
      this.inner.clear(); // cleanup on read
      return this.returnExpired ? e.v : this.#default();
    }
    if (this.readUpdates && e.ts !== now) this.inner.update({ v: e.v, ts: now });
    return e.v;
  }
  update(value: T | undefined): void {
    const now = this.access();
    // null clears too, as in Flink.
    if (value == null) this.inner.clear();
    else this.inner.update({ v: value, ts: now });
  }
  clear(): void {
    this.access();
    this.inner.clear();
  }
}

class TtlListState<T> extends TtlBase<Inner<ListState<TtlValue<T>>>> implements ListState<T> {
  readonly #name: string;
  constructor(
    inner: Inner<ListState<TtlValue<T>>>,
    config: StateTtlConfig,
    time: TtlTimeProvider,
    onAccess: (() => void) | undefined,
    name: string,
  ) {
    super(inner, config, time, onAccess);
    this.#name = name;
  }
  /** `values` stamped `now`; a null element throws (the inner state sees only stamped ones). */
  #stamped(values: Iterable<T>, now: number): TtlValue<T>[] {
    return [...values].map((v) => {
      checkListElement(v, this.#name);
      return { v, ts: now };
    });
  }
  get(): T[] {
    const now = this.access();
    const list = this.inner.get();
    if (list.length === 0) return [];
    const live = list.filter((e) => !this.expired(e, now));
    const out = (this.returnExpired ? list : live).map((e) => e.v);
    if (this.readUpdates) {
      if (live.some((e) => e.ts !== now) || live.length < list.length) {
        this.inner.update(live.map((e) => ({ v: e.v, ts: now })));
      }
    } else if (live.length < list.length) {
      this.inner.update(live); // cleanup on read
    }
    return out;
  }
  add(value: T): void {
    checkListElement(value, this.#name);
    this.inner.add({ v: value, ts: this.access() });
  }
  addAll(values: Iterable<T>): void {
    this.inner.addAll(this.#stamped(values, this.access()));
  }
  update(values: Iterable<T>): void {
    this.inner.update(this.#stamped(values, this.access()));
  }
  clear(): void {
    this.access();
    this.inner.clear();
  }
}

class TtlMapState<K, V> extends TtlBase<Inner<MapState<K, TtlValue<V>>>> implements MapState<K, V> {
  /** Bumped by every change made outside an iteration: iterations re-read what may have changed. */
  #version = 0;
  /** The live entry of `key` (refreshed on read when configured), after cleanup on read. */
  #entry(key: K, now: number): TtlValue<V> | undefined {
    const e = this.inner.get(key);
    if (e === undefined) return undefined;
    if (this.expired(e, now)) {
      this.inner.remove(key);
      this.#version++;
      return this.returnExpired ? e : undefined;
    }
    if (this.readUpdates && e.ts !== now) this.inner.put(key, { v: e.v, ts: now });
    return e;
  }
  get(key: K): V | undefined {
    return this.#entry(key, this.access())?.v;
  }
  put(key: K, value: V): void {
    this.inner.put(key, { v: value, ts: this.access() });
    this.#version++;
  }
  putAll(entries: Iterable<readonly [K, V]> | Map<K, V>): void {
    const now = this.access();
    for (const [k, v] of entries) this.inner.put(k, { v, ts: now });
    this.#version++;
  }
  remove(key: K): void {
    this.access();
    this.inner.remove(key);
    this.#version++;
  }
  contains(key: K): boolean {
    return this.#entry(key, this.access()) !== undefined;
  }
  /**
   * The visible entries, lazily as Flink's iterator: each entry is checked (and refreshed when
   * configured, or removed when expired) as it is reached, so `isEmpty` or a loop that stops
   * early does not keep the rest of the map alive. The stored entries are read now, for the
   * current key.
   */
  #all(): IterableIterator<[K, V]> {
    const now = this.access();
    return this.#walk([...this.inner.entries()], now, this.#version);
  }
  *#walk(raw: [K, TtlValue<V>][], now: number, version: number): IterableIterator<[K, V]> {
    for (const [k, stored] of raw) {
      // Changed since read (by the loop's body): the current entry, or none if it went away.
      const e = this.#version === version ? stored : this.inner.get(k);
      if (e === undefined) continue;
      if (this.expired(e, now)) {
        this.inner.remove(k);
        if (this.returnExpired) yield [k, e.v];
        continue;
      }
      if (this.readUpdates && e.ts !== now) this.inner.put(k, { v: e.v, ts: now });
      yield [k, e.v];
    }
  }
  entries(): IterableIterator<[K, V]> {
    return this.#all();
  }
  *#keys(it: IterableIterator<[K, V]>): IterableIterator<K> {
    for (const [k] of it) yield k;
  }
  *#values(it: IterableIterator<[K, V]>): IterableIterator<V> {
    for (const [, v] of it) yield v;
  }
  keys(): IterableIterator<K> {
    return this.#keys(this.#all());
  }
  values(): IterableIterator<V> {
    return this.#values(this.#all());
  }
  isEmpty(): boolean {
    return this.#all().next().done === true;
  }
  clear(): void {
    this.access();
    this.inner.clear();
    this.#version++;
  }
}

class TtlReducingState<T> extends TtlBase<Inner<ReducingState<TtlValue<T>>>>
  implements ReducingState<T> {
  get(): T | undefined {
    const now = this.access();
    const e = this.inner.get();
    if (e === undefined) return undefined;
    if (this.expired(e, now)) {
      this.inner.clear();
      return this.returnExpired ? e.v : undefined;
    }
    if (this.readUpdates && e.ts !== now) {
      // No update() on reducing state: a cleared state takes the added value as it is.
      this.inner.clear();
      this.inner.add({ v: e.v, ts: now });
    }
    return e.v;
  }
  add(value: T): void {
    this.inner.add({ v: value, ts: this.access() });
  }
  clear(): void {
    this.access();
    this.inner.clear();
  }
}

class TtlAggregatingState<IN, ACC, OUT>
  extends TtlBase<Inner<AggregatingState<IN | typeof TOUCH, TtlValue<ACC>>>>
  implements AggregatingState<IN, OUT> {
  readonly #fn: AggregateFunction<IN, ACC, OUT>;
  constructor(
    inner: Inner<AggregatingState<IN | typeof TOUCH, TtlValue<ACC>>>,
    config: StateTtlConfig,
    time: TtlTimeProvider,
    onAccess: (() => void) | undefined,
    fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(inner, config, time, onAccess);
    this.#fn = fn;
  }
  get(): OUT | undefined {
    const now = this.access();
    const e = this.inner.get();
    if (e === undefined) return undefined;
    if (this.expired(e, now)) {
      this.inner.clear();
      return this.returnExpired ? this.#fn.getResult(e.v) : undefined;
    }
    if (this.readUpdates && e.ts !== now) this.inner.add(TOUCH);
    return this.#fn.getResult(e.v);
  }
  add(value: IN): void {
    this.access();
    this.inner.add(value);
  }
  clear(): void {
    this.access();
    this.inner.clear();
  }
}

/**
 * Wraps `inner` (the state a backend made for {@linkcode ttlInnerDescriptor}
 * of `d`) in the TTL state object user code sees. `onAccess` runs before
 * every access (the heap backend's incremental cleanup).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, ManualClock, Serializers, StateTtlConfig, ValueStateDescriptor } from "@weir/weir";
 * const clock = new ManualClock();
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op",
 *   subtaskIndex: 0,
 *   keySerializer: Serializers.key,
 *   maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 *   ttlTimeProvider: clock,
 * });
 * const d = new ValueStateDescriptor("v", Serializers.string);
 * d.enableTimeToLive(StateTtlConfig.newBuilder(100).build());
 * const v = backend.state(d); // wrapTtlState runs inside
 * backend.setCurrentKey("k");
 * v.update("x");
 * clock.advance(100);
 * assert.equal(v.value(), undefined);
 * ```
 */
export function wrapTtlState<D extends AnyStateDescriptor>(
  d: D,
  inner: NamespacedState<unknown>,
  time: TtlTimeProvider,
  onAccess?: () => void,
): StateFor<D> & NamespacedState<unknown> {
  const config = d.ttlConfig;
  if (!config) throw new TypeError(`State "${d.name}" has no TTL`);
  // deno-lint-ignore no-explicit-any
  const i = inner as any;
  let s: unknown;
  switch (d.kind) {
    case "value":
      s = new TtlValueState(
        i,
        config,
        time,
        onAccess,
        defaultValueOf(d.serializer, d.defaultValue),
      );
      break;
    case "list":
      s = new TtlListState(i, config, time, onAccess, d.name);
      break;
    case "map":
      s = new TtlMapState(i, config, time, onAccess);
      break;
    case "reducing":
      s = new TtlReducingState(i, config, time, onAccess);
      break;
    case "aggregating":
      s = new TtlAggregatingState(i, config, time, onAccess, d.aggregateFunction);
      break;
  }
  return s as StateFor<D> & NamespacedState<unknown>;
}
