/**
 * The heap state backend: keyed state as JS Maps, one table per state and
 * namespace. Fastest for state that fits in memory.
 *
 * @module
 */
import { StateError } from "../../errors.ts";
import type {
  KeyedBackendOptions,
  KeyedStateBackend,
  NamespacedState,
  StateBackend,
  StateFor,
} from "../backend.ts";
import type { AnyStateDescriptor } from "../descriptors.ts";
import type { KeyGroupRange } from "../key_group.ts";
import { ByteWriter } from "../bytes.ts";
import type { Serializer } from "../serializer.ts";
import type { AggregateFunction } from "../state.ts";

const NO_KEY: unique symbol = Symbol("no key");

/**
 * Maps a value to something a JS Map can key by with value semantics:
 * primitives stay as they are, arrays and objects become one interned
 * instance per distinct serialized form.
 */
class Interner {
  readonly #serializer: Serializer<unknown>;
  readonly #byBytes = new Map<string, unknown>();
  readonly #writer = new ByteWriter();

  constructor(serializer: Serializer<unknown>) {
    this.#serializer = serializer;
  }

  intern(v: unknown): unknown {
    if (typeof v !== "object" || v === null) return v;
    this.#writer.reset();
    this.#serializer.write(v, this.#writer);
    const id = latin1(this.#writer.bytes());
    const known = this.#byBytes.get(id);
    if (known !== undefined) return known;
    this.#byBytes.set(id, v);
    return v;
  }
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode(...b.subarray(i, i + 4096));
  }
  return s;
}

type Table = Map<unknown, unknown>;

/** One state: a table per namespace, each mapping key → value. */
class HeapStateBase<N> {
  protected readonly backend: HeapKeyedStateBackend;
  readonly #namespaces = new Map<unknown, Table>();
  readonly #nsInterner: Interner | undefined;
  #ns: unknown = undefined;
  protected table: Table | undefined;

  constructor(backend: HeapKeyedStateBackend, nsSerializer: Serializer<N> | undefined) {
    this.backend = backend;
    this.#nsInterner = nsSerializer && new Interner(nsSerializer as Serializer<unknown>);
    this.table = undefined;
  }

  setNamespace(ns: N): void {
    const key = this.#nsInterner ? this.#nsInterner.intern(ns) : ns;
    this.#ns = key;
    this.table = this.#namespaces.get(key);
  }

  protected writableTable(): Table {
    let t = this.table;
    if (t === undefined) {
      t = new Map();
      this.#namespaces.set(this.#ns, t);
      this.table = t;
    }
    return t;
  }

  protected getRaw(): unknown {
    return this.table?.get(this.backend.keyForState());
  }

  protected setRaw(v: unknown): void {
    this.writableTable().set(this.backend.keyForState(), v);
  }

  clear(): void {
    const t = this.table;
    if (t === undefined) return;
    t.delete(this.backend.keyForState());
    if (t.size === 0) {
      this.#namespaces.delete(this.#ns);
      this.table = undefined;
    }
  }

  *allKeys(): Iterable<unknown> {
    const seen = new Set<unknown>();
    for (const t of this.#namespaces.values()) {
      for (const k of t.keys()) {
        if (!seen.has(k)) {
          seen.add(k);
          yield k;
        }
      }
    }
  }
}

class HeapValueState<T, N> extends HeapStateBase<N> {
  readonly #default: T | undefined;
  constructor(
    b: HeapKeyedStateBackend,
    ns: Serializer<N> | undefined,
    defaultValue: T | undefined,
  ) {
    super(b, ns);
    this.#default = defaultValue;
  }
  value(): T | undefined {
    const v = this.getRaw() as T | undefined;
    return v === undefined ? this.#default : v;
  }
  update(v: T | undefined): void {
    if (v === undefined) this.clear();
    else this.setRaw(v);
  }
}

class HeapListState<T, N> extends HeapStateBase<N> {
  get(): T[] | undefined {
    const v = this.getRaw() as T[] | undefined;
    return v === undefined ? undefined : v.slice();
  }
  add(v: T): void {
    const list = this.getRaw() as T[] | undefined;
    if (list === undefined) this.setRaw([v]);
    else list.push(v);
  }
  addAll(values: Iterable<T>): void {
    for (const v of values) this.add(v);
  }
  update(values: Iterable<T>): void {
    const list = [...values];
    if (list.length === 0) this.clear();
    else this.setRaw(list);
  }
}

class HeapMapState<K, V, N> extends HeapStateBase<N> {
  readonly #userKeys: Interner;
  constructor(b: HeapKeyedStateBackend, ns: Serializer<N> | undefined, keySer: Serializer<K>) {
    super(b, ns);
    this.#userKeys = new Interner(keySer as Serializer<unknown>);
  }
  #map(): Map<K, V> | undefined {
    return this.getRaw() as Map<K, V> | undefined;
  }
  get(key: K): V | undefined {
    return this.#map()?.get(this.#userKeys.intern(key) as K);
  }
  put(key: K, value: V): void {
    let m = this.#map();
    if (m === undefined) {
      m = new Map();
      this.setRaw(m);
    }
    m.set(this.#userKeys.intern(key) as K, value);
  }
  putAll(entries: Iterable<readonly [K, V]> | Map<K, V>): void {
    for (const [k, v] of entries) this.put(k, v);
  }
  remove(key: K): void {
    const m = this.#map();
    if (m === undefined) return;
    m.delete(this.#userKeys.intern(key) as K);
    if (m.size === 0) this.clear();
  }
  contains(key: K): boolean {
    return this.#map()?.has(this.#userKeys.intern(key) as K) ?? false;
  }
  entries(): IterableIterator<[K, V]> {
    return new Map(this.#map() ?? []).entries();
  }
  keys(): IterableIterator<K> {
    return [...(this.#map()?.keys() ?? [])].values();
  }
  values(): IterableIterator<V> {
    return [...(this.#map()?.values() ?? [])].values();
  }
  isEmpty(): boolean {
    return (this.#map()?.size ?? 0) === 0;
  }
}

class HeapReducingState<T, N> extends HeapStateBase<N> {
  readonly #reduce: (a: T, b: T) => T;
  constructor(b: HeapKeyedStateBackend, ns: Serializer<N> | undefined, reduce: (a: T, b: T) => T) {
    super(b, ns);
    this.#reduce = reduce;
  }
  get(): T | undefined {
    return this.getRaw() as T | undefined;
  }
  add(v: T): void {
    const cur = this.getRaw() as T | undefined;
    this.setRaw(cur === undefined ? v : this.#reduce(cur, v));
  }
}

class HeapAggregatingState<IN, ACC, OUT, N> extends HeapStateBase<N> {
  readonly #fn: AggregateFunction<IN, ACC, OUT>;
  constructor(
    b: HeapKeyedStateBackend,
    ns: Serializer<N> | undefined,
    fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(b, ns);
    this.#fn = fn;
  }
  get(): OUT | undefined {
    const acc = this.getRaw() as ACC | undefined;
    return acc === undefined ? undefined : this.#fn.getResult(acc);
  }
  add(v: IN): void {
    const acc = this.getRaw() as ACC | undefined;
    this.setRaw(this.#fn.add(v, acc === undefined ? this.#fn.createAccumulator() : acc));
  }
}

interface Registered {
  typeId: string;
  state: HeapStateBase<unknown>;
}

/**
 * Keyed state of one operator subtask on the JS heap.
 *
 * @example
 * ```ts
 * import { HeapStateBackend, Serializers, ValueStateDescriptor } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "count",
 *   subtaskIndex: 0,
 *   keySerializer: Serializers.key,
 *   maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const count = backend.state(new ValueStateDescriptor("count", Serializers.f64, 0));
 * backend.setCurrentKey("a");
 * count.update(count.value()! + 1);
 * console.assert(count.value() === 1);
 * ```
 */
export class HeapKeyedStateBackend implements KeyedStateBackend {
  /** The key groups this backend holds. */
  readonly keyGroupRange: KeyGroupRange;
  readonly #keys: Interner;
  readonly #states = new Map<string, Registered>();
  #key: unknown = NO_KEY;
  #operator: string;

  /** Creates an empty backend. */
  constructor(options: KeyedBackendOptions) {
    this.keyGroupRange = options.keyGroupRange;
    this.#keys = new Interner(options.keySerializer);
    this.#operator = options.operatorUid;
  }

  /** Makes `key` current. */
  setCurrentKey(key: unknown): void {
    this.#key = typeof key === "object" && key !== null ? this.#keys.intern(key) : key;
  }

  /** The current key. */
  currentKey(): unknown {
    return this.keyForState();
  }

  /** Forgets the current key. */
  clearCurrentKey(): void {
    this.#key = NO_KEY;
  }

  /** @internal The current key, checked. */
  keyForState(): unknown {
    const k = this.#key;
    if (k === NO_KEY) {
      throw new StateError(
        `Keyed state of operator "${this.#operator}" accessed outside a keyed context: ` +
          `use keyed state only in functions applied to a keyed stream (after keyBy), ` +
          `and only in the subtask whose open() created it (keep state in \`this\` fields, ` +
          `not in variables shared by subtasks)`,
      );
    }
    return k;
  }

  /** Returns the state object for `descriptor`. */
  state<D extends AnyStateDescriptor, N = undefined>(
    d: D,
    namespaceSerializer?: Serializer<N>,
  ): StateFor<D> & NamespacedState<N> {
    const known = this.#states.get(d.name);
    const typeId = d.typeId();
    if (known) {
      if (known.typeId !== typeId) {
        throw new StateError(
          `State "${d.name}" of operator "${this.#operator}" is registered as ${known.typeId}; ` +
            `cannot register it again as ${typeId}`,
        );
      }
      return known.state as unknown as StateFor<D> & NamespacedState<N>;
    }
    const ns = namespaceSerializer as Serializer<unknown> | undefined;
    let state: HeapStateBase<unknown>;
    switch (d.kind) {
      case "value":
        state = new HeapValueState(this, ns, d.defaultValue);
        break;
      case "list":
        state = new HeapListState(this, ns);
        break;
      case "map":
        state = new HeapMapState(this, ns, d.keySerializer);
        break;
      case "reducing":
        state = new HeapReducingState(this, ns, d.reduce);
        break;
      case "aggregating":
        state = new HeapAggregatingState(this, ns, d.aggregateFunction);
        break;
    }
    state.setNamespace(undefined);
    this.#states.set(d.name, { typeId, state });
    return state as unknown as StateFor<D> & NamespacedState<N>;
  }

  /** Every key with a value in state `name`. */
  keys(name: string): Iterable<unknown> {
    const s = this.#states.get(name);
    return s ? s.state.allKeys() : [];
  }

  /** Names of the registered states. */
  stateNames(): string[] {
    return [...this.#states.keys()];
  }

  /** Drops all state. */
  dispose(): void {
    this.#states.clear();
  }
}

/**
 * The heap state backend: `--state-backend heap`.
 *
 * @example
 * ```ts
 * import { HeapStateBackend } from "@weir/weir";
 * console.assert(new HeapStateBackend().name === "heap");
 * ```
 */
export class HeapStateBackend implements StateBackend {
  /** Always `"heap"`. */
  readonly name = "heap";
  /** Creates the keyed backend of one operator subtask. */
  createKeyedBackend(options: KeyedBackendOptions): HeapKeyedStateBackend {
    return new HeapKeyedStateBackend(options);
  }
}
