/**
 * The keyed state API user functions see, as in Flink: every state object is
 * scoped to the current key (and, inside windows, the current namespace).
 * Access is synchronous.
 *
 * @module
 */

/**
 * Something that can be cleared for the current key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type State, ValueStateDescriptor, Serializers, HeapStateBackend } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const v = backend.state(new ValueStateDescriptor("v", Serializers.f64));
 * backend.setCurrentKey("k");
 * v.update(1);
 * const s: State = v;
 * s.clear(); // every state can be cleared for the current key
 * assert.equal(v.value(), undefined);
 * ```
 */
export interface State {
  /** Removes the value for the current key and namespace. */
  clear(): void;
}

/**
 * A single value per key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, Serializers, type ValueState, ValueStateDescriptor } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const count: ValueState<number> = backend.state(
 *   new ValueStateDescriptor("count", Serializers.f64, 0),
 * );
 * backend.setCurrentKey("a");
 * count.update(count.value()! + 1);
 * count.update(count.value()! + 1);
 * backend.setCurrentKey("b");
 * assert.equal(count.value(), 0); // the default: "b" has no value yet
 * backend.setCurrentKey("a");
 * assert.equal(count.value(), 2);
 * ```
 */
export interface ValueState<T> extends State {
  /** The value for the current key, or the descriptor's default (or `undefined`). */
  value(): T | undefined;
  /** Sets the value for the current key; `undefined` or `null` clears it (as in Flink). */
  update(value: T | undefined | null): void;
}

/**
 * Something values can be added to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AppendingState, HeapStateBackend, ReducingStateDescriptor, Serializers } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const total: AppendingState<number, number> = backend.state(
 *   new ReducingStateDescriptor("total", (a: number, b: number) => a + b, Serializers.f64),
 * );
 * backend.setCurrentKey("k");
 * total.add(2);
 * total.add(3);
 * assert.equal(total.get(), 5);
 * ```
 */
export interface AppendingState<IN, OUT> extends State {
  /** The current result, or `undefined` when nothing was added. */
  get(): OUT | undefined;
  /** Adds a value. */
  add(value: IN): void;
}

/**
 * A list of values per key. `add` appends without reading the list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, type ListState, ListStateDescriptor, Serializers } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const seen: ListState<string> = backend.state(new ListStateDescriptor("seen", Serializers.string));
 * backend.setCurrentKey("user-1");
 * seen.add("home");
 * seen.addAll(["cart", "checkout"]);
 * assert.deepEqual(seen.get(), ["home", "cart", "checkout"]);
 * seen.update(["home"]);
 * assert.deepEqual(seen.get(), ["home"]);
 * ```
 */
export interface ListState<T> extends AppendingState<T, T[]> {
  /**
   * A copy of the list: `[]` when there is none, as Flink's `ListState.get()` gives user code an
   * empty iterable, so that `for (const v of list.get())` never fails on an empty list.
   */
  get(): T[];
  /**
   * Appends all values. A `null` or `undefined` element (here, in `add` or `update`) throws a
   * `StateError` naming the state, and nothing is added, as Flink rejects null elements.
   */
  addAll(values: Iterable<T>): void;
  /** Replaces the list. */
  update(values: Iterable<T>): void;
}

/**
 * A map per key; iteration is in unspecified order on the heap backend and in
 * serialized-key order on the LSM backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, type MapState, MapStateDescriptor, Serializers } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const visits: MapState<string, number> = backend.state(
 *   new MapStateDescriptor("visits", Serializers.string, Serializers.f64),
 * );
 * backend.setCurrentKey("user-1");
 * for (const page of ["home", "cart", "home"]) visits.put(page, (visits.get(page) ?? 0) + 1);
 * assert.equal(visits.get("home"), 2);
 * assert.deepEqual([...visits.keys()].sort(), ["cart", "home"]);
 * ```
 */
export interface MapState<K, V> extends State {
  /** The value for `key`, or `undefined`. */
  get(key: K): V | undefined;
  /** Sets the value for `key`. */
  put(key: K, value: V): void;
  /** Sets every entry. */
  putAll(entries: Iterable<readonly [K, V]> | Map<K, V>): void;
  /** Removes `key`. */
  remove(key: K): void;
  /** Whether `key` has a value. */
  contains(key: K): boolean;
  /** All entries. */
  entries(): IterableIterator<[K, V]>;
  /** All keys. */
  keys(): IterableIterator<K>;
  /** All values. */
  values(): IterableIterator<V>;
  /** Whether the map is empty. */
  isEmpty(): boolean;
}

/**
 * A value per key combined with a reduce function on every `add`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, type ReducingState, ReducingStateDescriptor, Serializers } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const max: ReducingState<number> = backend.state(
 *   new ReducingStateDescriptor("max", (a: number, b: number) => Math.max(a, b), Serializers.f64),
 * );
 * backend.setCurrentKey("sensor-1");
 * for (const v of [3, 9, 4]) max.add(v);
 * assert.equal(max.get(), 9);
 * ```
 */
export type ReducingState<T> = AppendingState<T, T>;

/**
 * A value per key aggregated by an {@linkcode AggregateFunction}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type AggregateFunction, type AggregatingState, AggregatingStateDescriptor, HeapStateBackend,
 *   Serializers,
 * } from "@weir/weir";
 * const average: AggregateFunction<number, [number, number], number> = {
 *   createAccumulator: () => [0, 0],
 *   add: (v, [sum, n]) => [sum + v, n + 1],
 *   getResult: ([sum, n]) => sum / n,
 *   merge: ([s1, n1], [s2, n2]) => [s1 + s2, n1 + n2],
 * };
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const avg: AggregatingState<number, number> = backend.state(
 *   new AggregatingStateDescriptor("avg", average, Serializers.tuple(Serializers.f64, Serializers.f64)),
 * );
 * backend.setCurrentKey("sensor-1");
 * for (const v of [10, 20, 60]) avg.add(v);
 * assert.equal(avg.get(), 30);
 * ```
 */
export type AggregatingState<IN, OUT> = AppendingState<IN, OUT>;

/**
 * Incremental aggregation with an accumulator, as in Flink.
 *
 * @example An average
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AggregateFunction } from "@weir/weir";
 * const average: AggregateFunction<number, [number, number], number> = {
 *   createAccumulator: () => [0, 0],
 *   add: (v, [sum, n]) => [sum + v, n + 1],
 *   getResult: ([sum, n]) => sum / n,
 *   merge: ([a, b], [c, d]) => [a + c, b + d],
 * };
 * assert.ok(average.getResult(average.add(4, average.createAccumulator())) === 4);
 * ```
 */
export interface AggregateFunction<IN, ACC, OUT> {
  /** A fresh accumulator. */
  createAccumulator(): ACC;
  /** Adds a value; may mutate and return `acc`. */
  add(value: IN, acc: ACC): ACC;
  /** The result for an accumulator. */
  getResult(acc: ACC): OUT;
  /** Merges two accumulators (session windows need it). */
  merge?(a: ACC, b: ACC): ACC;
}
