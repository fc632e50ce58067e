/**
 * The heap state backend: keyed state as JS Maps, one table per state and
 * namespace. Fastest for state that fits in memory.
 *
 * @module
 */
import { alreadyRegistered } from "../_registration.ts";
import { restoredStateMigration, stateMeta } from "../_state_migration.ts";
import { SerializationError, StateError } from "../../errors.ts";
import { noKeyError } from "../_no_key_error.ts";
import type {
  KeyedBackendOptions,
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  NamespacedState,
  RawSnapshotSource,
  SegmentRef,
  SnapshotStorage,
  StateBackend,
  StateFor,
} from "../backend.ts";
import type { AnyStateDescriptor } from "../descriptors.ts";
import { checkQueryable, readStateValue, type StateQueryResult } from "../queryable.ts";
import type { KeyGroupRange } from "../key_group.ts";
import { keyGroupOfBytes } from "../key_group.ts";
import { ByteReader, ByteWriter } from "../bytes.ts";
import { type Serializer, Serializers } from "../serializer.ts";
import { defaultValueOf, ownedCopy } from "../_owned_copy.ts";
import { latin1, latin1Bytes } from "../_latin1.ts";
import type { AggregateFunction } from "../state.ts";
import {
  appendListElement,
  checkListElement,
  decodeList,
  MAX_USER_STATE_ID,
  readStateKeyHeader,
  type StateMeta,
  writeStateKeyHeader,
} from "../state_keys.ts";
import { KeyTable } from "../_key_table.ts";
import { SegmentBatchWriter } from "../../../statestore-as/segment_batch_writer.ts";
import { SegmentBatch } from "../../../statestore-as/segment_batch.ts";
import { compareBytes } from "../../../statestore-as/_batch_entries.ts";
import { readHandleEntries } from "../lsm/handle_reader.ts";
import type { StateTtlConfig, TtlTimeProvider } from "../ttl.ts";
import { innerTtlConfig, liveStoredValue, ttlInnerDescriptor, wrapTtlState } from "../ttl_state.ts";

const NO_KEY: unique symbol = Symbol("no key");

/** How many objects a namespace interner remembers by identity (cleared when full). */
const IDENTITY_CACHE_SIZE = 1024;

/** Interned objects an interner may gain between sweeps, at least (see `Interner.retain`). */
const MIN_SWEEP_GROWTH = 1024;

/**
 * Maps a value to something a JS Map can key by with value semantics:
 * primitives stay as they are, arrays and objects become one interned
 * instance per distinct serialized form.
 *
 * Interned objects no state refers to any more (cleared or expired keys, purged
 * windows, removed map keys) would stay forever: when an interner has grown by
 * as many objects as its last sweep visited entries (at least
 * `MIN_SWEEP_GROWTH`), it calls `onGrown`, and the backend sweeps it before the
 * next record (`retain`), keeping the objects its states still hold. So the
 * sweeps cost O(1) per interned object, and primitive keys nothing.
 */
class Interner {
  readonly #serializer: Serializer<unknown>;
  readonly #byBytes = new Map<string, unknown>();
  readonly #writer = new ByteWriter();
  /**
   * Namespaces (windows) are immutable and the same objects come back again
   * and again: remembering them by identity skips serializing them.
   */
  readonly #byIdentity: Map<unknown, unknown> | undefined;
  readonly #onGrown: () => void;
  /** Interned objects from which on a sweep is due. */
  #sweepAt = MIN_SWEEP_GROWTH;

  constructor(serializer: Serializer<unknown>, onGrown: () => void, immutable = false) {
    this.#serializer = serializer;
    this.#onGrown = onGrown;
    this.#byIdentity = immutable ? new Map() : undefined;
  }

  /** Interned objects. */
  get size(): number {
    return this.#byBytes.size;
  }

  /** Whether it grew enough since the last sweep for the next one. */
  get due(): boolean {
    return this.#byBytes.size >= this.#sweepAt;
  }

  /**
   * Forgets the interned objects `live` does not hold; `visited` is how many
   * entries finding them took, which the interner may grow by before the next sweep.
   */
  retain(live: Set<unknown>, visited: number): void {
    for (const [id, v] of this.#byBytes) if (!live.has(v)) this.#byBytes.delete(id);
    // It may map objects to forgotten ones.
    this.#byIdentity?.clear();
    this.#sweepAt = this.#byBytes.size + Math.max(MIN_SWEEP_GROWTH, visited);
  }

  intern(v: unknown): unknown {
    if (typeof v !== "object" || v === null) return v;
    const seen = this.#byIdentity;
    if (seen !== undefined) {
      const hit = seen.get(v);
      if (hit !== undefined) return hit;
    }
    this.#writer.reset();
    this.#serializer.write(v, this.#writer);
    const id = latin1(this.#writer.bytes());
    let known = this.#byBytes.get(id);
    if (known === undefined) {
      this.#byBytes.set(id, known = v);
      if (this.#byBytes.size >= this.#sweepAt) this.#onGrown();
    }
    if (seen !== undefined) {
      if (seen.size >= IDENTITY_CACHE_SIZE) seen.clear();
      seen.set(v, known);
    }
    return known;
  }

  /**
   * Like `intern`, but primitives a key cannot usually be (a function, a
   * symbol, null, undefined) are first checked by the serializer, which throws
   * a SerializationError naming the problem; the common primitives stay free.
   */
  internChecked(v: unknown): unknown {
    switch (typeof v) {
      case "number":
        // Serializers.i32 keys that are no 32-bit integer fail here, as the LSM backend and the
        // routing of a parallel job would fail them, not only when a snapshot writes them.
        if (this.#serializer !== Serializers.i32 || ((v as number) | 0) === v) return v;
        break;
      case "string":
      case "bigint":
      case "boolean":
        return v;
      case "object":
        if (v !== null) return this.intern(v);
    }
    this.#writer.reset();
    this.#serializer.write(v, this.#writer);
    return v;
  }
}

type Table = KeyTable;

/** One state: a table per namespace, each mapping key → value. */
class HeapStateBase<N> {
  protected readonly backend: HeapKeyedStateBackend;
  /** The state's name (errors show it). */
  name = "";
  readonly #namespaces = new Map<unknown, Table>();
  readonly #nsInterner: Interner | undefined;
  /** The namespace serializer, or undefined for state without namespaces. */
  readonly nsSerializer: Serializer<unknown> | undefined;
  #ns: unknown = undefined;
  /** The namespace last passed to setNamespace (interned to `#ns`). */
  #nsObject: unknown = undefined;
  protected table: Table | undefined;
  /** Where `encode` serializes values (snapshots). */
  protected readonly valueScratch: ByteWriter = new ByteWriter();
  /** Where TTL incremental cleanup continues. */
  #cursor: Iterator<[unknown, Table, unknown]> | undefined;
  /**
   * Keys changed since the last snapshot, by namespace: what an incremental
   * snapshot writes. Undefined until the first snapshot (a job without
   * checkpoints pays nothing).
   */
  #dirty: Map<unknown, Set<unknown>> | undefined;
  /** `#dirty`'s set of the current namespace, once looked up. */
  #dirtyCur: Set<unknown> | undefined;

  constructor(backend: HeapKeyedStateBackend, nsSerializer: Serializer<N> | undefined) {
    this.backend = backend;
    this.nsSerializer = nsSerializer as Serializer<unknown> | undefined;
    this.#nsInterner = nsSerializer &&
      new Interner(nsSerializer as Serializer<unknown>, backend.internerGrown, true);
    this.table = undefined;
  }

  /**
   * Adds the object keys this state refers to (its entries and change sets) to
   * `live`; returns the entries visited.
   */
  liveKeys(live: Set<unknown>): number {
    let n = 0;
    for (const t of this.#namespaces.values()) {
      n += t.size;
      for (const k of t.keys()) if (typeof k === "object") live.add(k);
    }
    if (this.#dirty !== undefined) {
      for (const keys of this.#dirty.values()) {
        n += keys.size;
        for (const k of keys) if (typeof k === "object") live.add(k);
      }
    }
    return n;
  }

  /**
   * Adds the namespaces this state refers to besides its tables and change
   * sets to `live` (map state: its user key change sets); returns the entries visited.
   */
  protected liveNamespaces(live: Set<unknown>): number {
    void live;
    return 0;
  }

  /** Sweeps this state's interners that are due (see `Interner`). */
  sweepInterned(): void {
    // The cleanup cursor may hold a namespace or key of a removed table.
    this.#cursor = undefined;
    const interner = this.#nsInterner;
    if (interner === undefined || !interner.due) return;
    const live = new Set<unknown>([this.#ns]);
    for (const ns of this.#namespaces.keys()) live.add(ns);
    if (this.#dirty !== undefined) { for (const ns of this.#dirty.keys()) live.add(ns); }
    const n = this.#namespaces.size + (this.#dirty?.size ?? 0) + this.liveNamespaces(live);
    interner.retain(live, n);
  }

  /** @internal Interned objects of this state (tests). */
  internedCount(): number {
    return this.#nsInterner?.size ?? 0;
  }

  /** Calls `fn` with every (namespace, key, stored value); no object per entry, unlike a generator. */
  forEachStored(fn: (ns: unknown, key: unknown, stored: unknown) => void): void {
    for (const [ns, t] of this.#namespaces) t.forEach((v, k) => fn(ns, k, v));
  }

  /** Stored (namespace, key) entries. */
  storedCount(): number {
    let n = 0;
    for (const t of this.#namespaces.values()) n += t.size;
    return n;
  }

  /** The stored value of (namespace, key), namespace as interned. */
  storedValue(ns: unknown, key: unknown): unknown {
    return this.#namespaces.get(ns)?.get(key);
  }

  /**
   * Returns the keys changed since the last call (by namespace) and starts
   * a new change set; the first call starts tracking and returns undefined.
   */
  takeDirty(): Map<unknown, Set<unknown>> | undefined {
    const d = this.#dirty;
    this.#dirty = new Map();
    this.#dirtyCur = undefined;
    return d;
  }

  /** Stops tracking changes until the next `takeDirty` (the next snapshot is full). */
  stopTracking(): void {
    this.#dirty = undefined;
    this.#dirtyCur = undefined;
  }

  /** Records a change of `key` in the current namespace. */
  protected markDirty(key: unknown): void {
    if (this.#dirty === undefined) return;
    let cur = this.#dirtyCur;
    if (cur === undefined) {
      cur = this.#dirty.get(this.#ns);
      if (cur === undefined) this.#dirty.set(this.#ns, cur = new Set());
      this.#dirtyCur = cur;
    }
    this.backend.trackChange(cur, key);
  }

  /** Records a change of (namespace, key), any namespace; `old` is the value it replaces. */
  #markDirtyAt(ns: unknown, key: unknown, old: unknown): void {
    if (this.#dirty === undefined) return;
    let set = this.#dirty.get(ns);
    if (set === undefined) {
      this.#dirty.set(ns, set = new Set());
      if (ns === this.#ns) this.#dirtyCur = set;
    }
    this.replaced(ns, key, old);
    this.backend.trackChange(set, key);
  }

  /** Whether changes are tracked (a snapshot was taken). */
  protected get tracking(): boolean {
    return this.#dirty !== undefined;
  }

  /** The current namespace, interned. */
  protected get nsKey(): unknown {
    return this.#ns;
  }

  /**
   * Called (while tracking) when the stored value `old` of (namespace, key)
   * is removed or replaced as a whole: map state records its user keys.
   */
  protected replaced(ns: unknown, key: unknown, old: unknown): void {
    void ns, key, old;
  }

  /**
   * Adds the store entries of a changed (namespace, key) whose stored value
   * is now `value` (undefined: removed): puts and deletes. `prefix` holds
   * the key up to and including the namespace.
   */
  encodeChange(
    prefix: ByteWriter,
    ns: unknown,
    key: unknown,
    value: unknown,
    out: SegmentBatch,
  ): void {
    void ns, key;
    if (value === undefined) out.add(prefix.buf, prefix.length, null, 0);
    else this.encode(prefix, value, out);
  }

  /**
   * TTL incremental cleanup: checks `n` stored values, continuing where the
   * last call stopped (wrapping around at the end), and replaces each by
   * `live(value)` (removed when undefined).
   */
  cleanupSome(n: number, live: (stored: unknown) => unknown): void {
    for (let i = 0; i < n; i++) {
      this.#cursor ??= this.#walk();
      let r = this.#cursor.next();
      if (r.done) {
        this.#cursor = this.#walk();
        r = this.#cursor.next();
        if (r.done) return; // no entries at all
      }
      const [ns, t, k] = r.value;
      const v = t.get(k);
      if (v === undefined) continue;
      const kept = live(v);
      if (kept === v) continue;
      this.#markDirtyAt(ns, k, v);
      if (kept !== undefined) {
        t.set(k, kept);
        continue;
      }
      t.delete(k);
      if (t.size === 0 && this.#namespaces.get(ns) === t) {
        this.#namespaces.delete(ns);
        if (this.table === t) this.table = undefined;
      }
    }
  }

  *#walk(): Iterator<[unknown, Table, unknown]> {
    for (const [ns, t] of this.#namespaces) for (const k of t.keys()) yield [ns, t, k];
  }

  /** Stores a restored value under (namespace, key). */
  restoreValue(ns: unknown, key: unknown, value: unknown): void {
    const nsKey = this.#nsInterner ? this.#nsInterner.intern(ns) : ns;
    let t = this.#namespaces.get(nsKey);
    if (!t) this.#namespaces.set(nsKey, t = new KeyTable());
    t.set(key, value);
    if (nsKey === this.#ns) this.table = t;
  }

  /**
   * Adds the store entries of one stored value to `out`: `prefix` holds the key up to
   * and including the namespace. Overridden per kind.
   */
  encode(prefix: ByteWriter, value: unknown, out: SegmentBatch): void {
    void prefix, value, out;
    throw new StateError("encode is defined per state kind");
  }

  /** Folds one store entry (its key read up to the user key) into the stored value. */
  decode(existing: unknown, rest: ByteReader, value: Uint8Array): unknown {
    void existing, rest, value;
    throw new StateError("decode is defined per state kind");
  }

  /** The stored value of `key` in the current namespace, without checks (queries). */
  peek(key: unknown): unknown {
    return this.table?.get(key);
  }

  setNamespace(ns: N): void {
    // The same namespace again (windows are immutable): `table` is kept current for it.
    if (ns === this.#nsObject && typeof ns === "object" && ns !== null) return;
    const key = this.#nsInterner ? this.#nsInterner.intern(ns) : ns;
    this.#nsObject = ns;
    if (key !== this.#ns) this.#dirtyCur = undefined;
    this.#ns = key;
    this.table = this.#namespaces.get(key);
  }

  /** Removes namespace `ns`, then calls `fn` with each of its keys and stored values, in insertion order (see `KeyTable`). */
  drainNamespace(ns: N, fn: (key: unknown, value: unknown) => void): void {
    const nsKey = this.#nsInterner ? this.#nsInterner.intern(ns) : ns;
    const t = this.#namespaces.get(nsKey);
    if (t === undefined) return;
    this.#namespaces.delete(nsKey);
    if (this.table === t) this.table = undefined;
    if (this.#dirty !== undefined) { for (const [k, v] of t) this.#markDirtyAt(nsKey, k, v); }
    for (const [k, v] of t) fn(k, v);
  }

  protected writableTable(): Table {
    let t = this.table;
    if (t === undefined) {
      t = new KeyTable();
      this.#namespaces.set(this.#ns, t);
      this.table = t;
    }
    return t;
  }

  protected getRaw(): unknown {
    // Check the key first: with no table yet, `table?.get(...)` would skip the check.
    const key = this.backend.keyForState(this);
    return this.table?.get(key, this.backend.keyHash);
  }

  protected setRaw(v: unknown): void {
    const key = this.backend.keyForState(this);
    this.writableTable().set(key, v, this.backend.keyHash);
    if (this.#dirty !== undefined) this.markDirty(key);
  }

  clear(): void {
    const key = this.backend.keyForState(this);
    const t = this.table;
    if (t === undefined) return;
    const hash = this.backend.keyHash;
    if (this.#dirty !== undefined) {
      const old = t.get(key, hash);
      if (old === undefined) return;
      this.markDirty(key);
      this.replaced(this.#ns, key, old);
    }
    t.delete(key, hash);
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

/** Value, reducing and aggregating state: one stored value, one entry. */
class SingleValueCodec<N> extends HeapStateBase<N> {
  readonly #serializer: Serializer<unknown>;
  constructor(b: HeapKeyedStateBackend, ns: Serializer<N> | undefined, ser: Serializer<unknown>) {
    super(b, ns);
    this.#serializer = ser;
  }
  override encode(prefix: ByteWriter, value: unknown, out: SegmentBatch) {
    const v = this.valueScratch;
    v.reset();
    this.#serializer.write(value, v);
    out.add(prefix.buf, prefix.length, v.buf, v.length);
  }
  override decode(_existing: unknown, _rest: ByteReader, value: Uint8Array): unknown {
    return this.#serializer.read(new ByteReader(value));
  }
  /** Writes `value` as the kept next entry's value (see `SegmentBatch.addKept`); false when it cannot. */
  encodeKept(value: unknown, out: SegmentBatch): boolean {
    const v = this.valueScratch;
    v.reset();
    this.#serializer.write(value, v);
    return out.addKept(v.buf, v.length);
  }
}

class HeapValueState<T, N> extends SingleValueCodec<N> {
  readonly #default: () => T | undefined;
  constructor(
    b: HeapKeyedStateBackend,
    ns: Serializer<N> | undefined,
    ser: Serializer<T>,
    defaultValue: T | undefined,
  ) {
    super(b, ns, ser as Serializer<unknown>);
    this.#default = defaultValueOf(ser, defaultValue);
  }
  value(): T | undefined {
    const v = this.getRaw() as T | undefined;
    return v === undefined ? this.#default() : v;
  }
  update(v: T | undefined): void {
    // null clears too, as in Flink.
    if (v == null) this.clear();
    else this.setRaw(v);
  }
}

class HeapListState<T, N> extends HeapStateBase<N> {
  readonly #ser: Serializer<T>;
  constructor(b: HeapKeyedStateBackend, ns: Serializer<N> | undefined, ser: Serializer<T>) {
    super(b, ns);
    this.#ser = ser;
  }
  override encode(prefix: ByteWriter, value: unknown, out: SegmentBatch) {
    const v = this.valueScratch;
    v.reset();
    for (const el of value as T[]) appendListElement(this.#ser, el, v);
    out.add(prefix.buf, prefix.length, v.buf, v.length);
  }
  override decode(_existing: unknown, _rest: ByteReader, value: Uint8Array): unknown {
    return decodeList(this.#ser, value);
  }
  get(): T[] {
    const v = this.getRaw() as T[] | undefined;
    return v === undefined ? [] : v.slice();
  }
  add(v: T): void {
    checkListElement(v, this.name);
    const list = this.getRaw() as T[] | undefined;
    if (list === undefined) this.setRaw([v]);
    else {
      list.push(v);
      if (this.tracking) this.markDirty(this.backend.keyForState(this));
    }
  }
  addAll(values: Iterable<T>): void {
    // All or none, as on the LSM backend: a null element throws before any is added.
    const list = [...values];
    for (const v of list) checkListElement(v, this.name);
    for (const v of list) this.add(v);
  }
  update(values: Iterable<T>): void {
    const list = [...values];
    for (const v of list) checkListElement(v, this.name);
    if (list.length === 0) this.clear();
    else this.setRaw(list);
  }
}

class HeapMapState<K, V, N> extends HeapStateBase<N> {
  readonly #userKeys: Interner;
  readonly #keySer: Serializer<K>;
  readonly #valueSer: Serializer<V>;
  /** User keys changed since the last snapshot, by namespace and key (while tracking). */
  #dirtyUserKeys = new Map<unknown, Map<unknown, Set<unknown>>>();
  /** `#dirtyUserKeys` as the last `takeDirty` took it: what `encodeChange` writes. */
  #takenUserKeys = new Map<unknown, Map<unknown, Set<unknown>>>();
  constructor(
    b: HeapKeyedStateBackend,
    ns: Serializer<N> | undefined,
    keySer: Serializer<K>,
    valueSer: Serializer<V>,
  ) {
    super(b, ns);
    this.#userKeys = new Interner(keySer as Serializer<unknown>, b.internerGrown);
    this.#keySer = keySer;
    this.#valueSer = valueSer;
  }
  override encode(prefix: ByteWriter, value: unknown, out: SegmentBatch) {
    const at = prefix.length;
    const v = this.valueScratch;
    for (const [mk, mv] of value as Map<K, V>) {
      prefix.length = at;
      this.#keySer.write(mk, prefix);
      v.reset();
      this.#valueSer.write(mv, v);
      out.add(prefix.buf, prefix.length, v.buf, v.length);
    }
    prefix.length = at;
  }
  override takeDirty(): Map<unknown, Set<unknown>> | undefined {
    this.#takenUserKeys = this.#dirtyUserKeys;
    this.#dirtyUserKeys = new Map();
    return super.takeDirty();
  }
  override stopTracking(): void {
    super.stopTracking();
    this.#dirtyUserKeys = new Map();
  }
  #markUserKey(ns: unknown, key: unknown, userKey: unknown): void {
    let byKey = this.#dirtyUserKeys.get(ns);
    if (byKey === undefined) this.#dirtyUserKeys.set(ns, byKey = new Map());
    let set = byKey.get(key);
    if (set === undefined) byKey.set(key, set = new Set());
    set.add(userKey);
  }
  /** A changed map entry: mark the key and the user key. */
  #changed(userKey: unknown): void {
    const key = this.backend.keyForState(this);
    this.markDirty(key);
    this.#markUserKey(this.nsKey, key, userKey);
  }
  override liveKeys(live: Set<unknown>): number {
    let n = super.liveKeys(live);
    for (const changed of [this.#dirtyUserKeys, this.#takenUserKeys]) {
      for (const byKey of changed.values()) {
        n += byKey.size;
        for (const k of byKey.keys()) if (typeof k === "object") live.add(k);
      }
    }
    return n;
  }
  protected override liveNamespaces(live: Set<unknown>): number {
    for (const ns of this.#dirtyUserKeys.keys()) live.add(ns);
    for (const ns of this.#takenUserKeys.keys()) live.add(ns);
    return this.#dirtyUserKeys.size + this.#takenUserKeys.size;
  }
  override sweepInterned(): void {
    super.sweepInterned();
    if (!this.#userKeys.due) return;
    const live = new Set<unknown>();
    let n = 0;
    const add = (userKeys: Iterable<unknown>) => {
      for (const uk of userKeys) {
        n++;
        if (typeof uk === "object") live.add(uk);
      }
    };
    this.forEachStored((_ns, _key, m) => add((m as Map<unknown, unknown>).keys()));
    for (const changed of [this.#dirtyUserKeys, this.#takenUserKeys]) {
      for (const byKey of changed.values()) for (const set of byKey.values()) add(set);
    }
    this.#userKeys.retain(live, n);
  }
  override internedCount(): number {
    return super.internedCount() + this.#userKeys.size;
  }
  protected override replaced(ns: unknown, key: unknown, old: unknown): void {
    if (old === undefined) return;
    for (const uk of (old as Map<unknown, unknown>).keys()) this.#markUserKey(ns, key, uk);
  }
  override encodeChange(
    prefix: ByteWriter,
    ns: unknown,
    key: unknown,
    value: unknown,
    out: SegmentBatch,
  ): void {
    const userKeys = this.#takenUserKeys.get(ns)?.get(key);
    if (userKeys === undefined) return;
    const m = value as Map<K, V> | undefined;
    const at = prefix.length;
    const v = this.valueScratch;
    for (const uk of userKeys) {
      prefix.length = at;
      this.#keySer.write(uk as K, prefix);
      const mv = m?.get(uk as K);
      if (mv === undefined && !m?.has(uk as K)) {
        out.add(prefix.buf, prefix.length, null, 0);
        continue;
      }
      v.reset();
      this.#valueSer.write(mv as V, v);
      out.add(prefix.buf, prefix.length, v.buf, v.length);
    }
    prefix.length = at;
  }
  override decode(existing: unknown, rest: ByteReader, value: Uint8Array): unknown {
    const m = (existing as Map<K, V> | undefined) ?? new Map<K, V>();
    const k = this.#userKeys.intern(this.#keySer.read(rest)) as K;
    m.set(k, this.#valueSer.read(new ByteReader(value)));
    return m;
  }
  #map(): Map<K, V> | undefined {
    return this.getRaw() as Map<K, V> | undefined;
  }
  get(key: K): V | undefined {
    return this.#map()?.get(this.#userKeys.internChecked(key) as K);
  }
  put(key: K, value: V): void {
    let m = this.#map();
    if (m === undefined) {
      m = new Map();
      this.setRaw(m);
    }
    const uk = this.#userKeys.internChecked(key) as K;
    m.set(uk, value);
    if (this.tracking) this.#changed(uk);
  }
  putAll(entries: Iterable<readonly [K, V]> | Map<K, V>): void {
    for (const [k, v] of entries) this.put(k, v);
  }
  remove(key: K): void {
    const m = this.#map();
    if (m === undefined) return;
    const uk = this.#userKeys.internChecked(key) as K;
    if (!m.delete(uk)) return;
    if (this.tracking) this.#changed(uk);
    if (m.size === 0) this.clear();
  }
  contains(key: K): boolean {
    return this.#map()?.has(this.#userKeys.internChecked(key) as K) ?? false;
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

class HeapReducingState<T, N> extends SingleValueCodec<N> {
  readonly #reduce: (a: T, b: T) => T;
  readonly #ser: Serializer<T>;
  constructor(
    b: HeapKeyedStateBackend,
    ns: Serializer<N> | undefined,
    ser: Serializer<T>,
    reduce: (a: T, b: T) => T,
  ) {
    super(b, ns, ser as Serializer<unknown>);
    this.#reduce = reduce;
    this.#ser = ser;
  }
  get(): T | undefined {
    return this.getRaw() as T | undefined;
  }
  add(v: T): void {
    const cur = this.getRaw() as T | undefined;
    // The first value is kept as a copy: the reduce function may update it in place.
    this.setRaw(cur === undefined ? ownedCopy(this.#ser, v) : this.#reduce(cur, v));
  }
}

class HeapAggregatingState<IN, ACC, OUT, N> extends SingleValueCodec<N> {
  readonly #fn: AggregateFunction<IN, ACC, OUT>;
  constructor(
    b: HeapKeyedStateBackend,
    ns: Serializer<N> | undefined,
    ser: Serializer<ACC>,
    fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(b, ns, ser as Serializer<unknown>);
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
  meta: StateMeta;
  state: HeapStateBase<unknown>;
  /** The state's TTL, if any. */
  ttl: StateTtlConfig | undefined;
}

/** A descriptor with TTL and the decorated state made for it. */
interface TtlRegistered {
  descriptor: AnyStateDescriptor;
  /** The namespace serializer it was registered with (another one is refused). */
  namespace: unknown;
  state: unknown;
}

const SYSTEM_TIME: TtlTimeProvider = { now: () => Date.now() };

/** Restored entries of a state not registered yet, kept as bytes until it is. */
interface PendingRestore {
  meta: StateMeta;
  entries: [Uint8Array, Uint8Array][];
}

/**
 * A full snapshot's batch and where its entries came from: the key of each
 * entry of a single-value state without namespaces (else NOT_KEPT), and
 * each such state's entries, [first, end) by state id.
 */
interface LastFull {
  batch: SegmentBatch;
  keys: unknown[];
  ranges: Map<number, [number, number]>;
}
const NOT_KEPT = Symbol("not kept");

/** Most segments a snapshot chain (a full snapshot and its deltas) has before a full snapshot. */
const MAX_CHAIN_SEGMENTS = 8;
/** Most snapshot intervals change tracking pauses for after churn (see `#pauseTracking`). */
const MAX_TRACKING_PAUSE = 8;

/**
 * The segments the last snapshot left: the base of the next incremental
 * snapshot (a delta segment on top of them).
 */
interface SnapshotChain {
  /** Segments, newest first; the last one is the full snapshot. */
  readonly segments: readonly SegmentRef[];
  /** The full snapshot's size in bytes. */
  readonly fullBytes: number;
  /** The delta segments' total size in bytes. */
  readonly deltaBytes: number;
  /** Entries of the full snapshot (unknown for a restored chain). */
  readonly fullEntries: number | undefined;
  /** The number of the snapshot that left it (restored: 0). */
  readonly seq: number;
}

function chainOf(
  segments: readonly SegmentRef[],
  seq: number,
  fullEntries: number | undefined,
): SnapshotChain {
  const fullBytes = segments.length === 0 ? 0 : segments[segments.length - 1]!.size;
  let deltaBytes = 0;
  for (let i = 0; i < segments.length - 1; i++) deltaBytes += segments[i]!.size;
  return { segments, fullBytes, deltaBytes, fullEntries, seq };
}

/**
 * Changed keys above which the snapshot after `chain` is full: its deltas
 * would outgrow the full snapshot, or the delta would hold more than an
 * eighth of the state. Past that, tracking (a Set entry per changed key)
 * costs the job's thread more than the full snapshot saves: a full one of
 * unchanged keys writes only values (`SegmentBatch.addKept`). 0 when it is
 * full anyway.
 */
function trackLimit(chain: SnapshotChain | undefined): number {
  if (chain === undefined || chain.segments.length >= MAX_CHAIN_SEGMENTS) return 0;
  const n = chain.fullEntries;
  if (n === undefined || n === 0) return Infinity;
  const budget = chain.fullBytes - chain.deltaBytes;
  return Math.floor(Math.min(budget / (chain.fullBytes / n), n / 8));
}

/**
 * Keyed state of one operator subtask on the JS heap.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
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
 * assert.ok(count.value() === 1);
 * ```
 */
export class HeapKeyedStateBackend implements KeyedStateBackend {
  /** The key groups this backend holds. */
  readonly keyGroupRange: KeyGroupRange;
  readonly #keys: Interner;
  readonly #keySerializer: Serializer<unknown>;
  readonly #maxParallelism: number;
  readonly #states = new Map<string, Registered>();
  readonly #pending = new Map<string, PendingRestore>();
  /** Raw entries (timers), by latin1 of the store key. */
  readonly #rawById = new Map<string, [Uint8Array, Uint8Array]>();
  /**
   * Restored raw entries not yet in `#rawById`: a source takes its own
   * (`takeRawEntries`) without a string per entry; the rest join the map on first use.
   */
  #restoredRaw: [Uint8Array, Uint8Array][] = [];
  /** What took raw entries over: every snapshot writes what they capture. */
  readonly #sources: RawSnapshotSource[] = [];
  /** `#raw` sorted by key, built by a scan and dropped by a change (restores scan once per key group). */
  #rawSorted: [Uint8Array, Uint8Array][] | undefined;
  /** Raw keys (latin1) changed since the last snapshot; undefined until the first snapshot. */
  #rawDirty: Set<string> | undefined;
  /** Keys changed since the last snapshot, while tracking. */
  #changedKeys = 0;
  /** Changed keys above which the next snapshot is full: tracking stops there. */
  #trackLimit = Infinity;
  /** Whether tracking stopped at the limit since the last snapshot (most keys changed). */
  #churned = false;
  /** Intervals tracking pauses for after the next churned one (0, then 2, 4, 8). */
  #trackingBackoff = 0;
  /** Snapshot intervals left without tracking. */
  #pausedIntervals = 0;
  /** What the last snapshot (or the restore) left: the next snapshot may be a delta on it. */
  #chain: SnapshotChain | undefined;
  /** Snapshots started; a chain from an earlier one means the last one has not finished. */
  #snapshots = 0;
  /** Sorts and writes large snapshots on one worker, kept from snapshot to snapshot. */
  #batchWriter = new SegmentBatchWriter();
  /** Bytes of the last full snapshot's batch (sizes the next one). */
  #lastFullBytes = 0;
  /** The last full snapshot's batch, for the next full one to keep its keys (see #fullEntries). */
  #lastFull: LastFull | undefined;
  #nextStateId = 1;
  #key: unknown = NO_KEY;
  /** @internal The current key's table hash, when `setCurrentKey` was given it; else the tables hash the key. */
  keyHash: number | undefined = undefined;
  /** Whether the key was dropped by `endKeyedCall` (not cleared or never set): the error says so. */
  #callEnded = false;
  #operator: string;
  readonly #time: TtlTimeProvider;
  readonly #ttlStates = new Map<string, TtlRegistered>();
  /** TTL incremental cleanups that run for every record (on setCurrentKey). */
  readonly #perRecord: (() => void)[] = [];
  /** Run first in every snapshot (the timer services write their new timers). */
  readonly #snapshotHooks: (() => void)[] = [];
  /** Whether an interner grew enough for a sweep (done before the next key). */
  #sweepDue = false;
  /** @internal Called by an interner that grew enough for a sweep. */
  readonly internerGrown = (): void => {
    this.#sweepDue = true;
  };

  /** Creates a backend, restored from `options.restore` when given. */
  constructor(options: KeyedBackendOptions) {
    this.keyGroupRange = options.keyGroupRange;
    this.#keys = new Interner(options.keySerializer, this.internerGrown);
    this.#keySerializer = options.keySerializer;
    this.#maxParallelism = options.maxParallelism;
    this.#operator = options.operatorUid;
    this.#time = options.ttlTimeProvider ?? SYSTEM_TIME;
    if (options.restore) this.#restore(options.restore);
  }

  /** The restored handle is the chain base when it is one heap handle of exactly these key groups. */
  #restoredChain(restore: KeyedRestore): SnapshotChain | undefined {
    if (restore.handles.length !== 1) return undefined;
    const h = restore.handles[0]!;
    const r = h.keyGroupRange;
    if (h.backend !== "heap" || r.start !== this.keyGroupRange.start) return undefined;
    if (r.end !== this.keyGroupRange.end) return undefined;
    return chainOf(h.segments, 0, undefined);
  }

  /** Raw entries (timers), by latin1 of the store key, restored ones included. */
  get #raw(): Map<string, [Uint8Array, Uint8Array]> {
    const restored = this.#restoredRaw;
    if (restored.length > 0) {
      this.#restoredRaw = [];
      for (const e of restored) this.#rawById.set(latin1(e[0]), e);
      this.#rawSorted = undefined;
    }
    return this.#rawById;
  }

  /** Reads the restored segments; keeps entries of this subtask's key groups. */
  #restore(restore: KeyedRestore): void {
    this.#chain = this.#restoredChain(restore);
    // The state equals the chain: track changes from now on, for a delta on it.
    if (this.#chain !== undefined) this.#rawDirty = new Set();
    const { start, end } = this.keyGroupRange;
    const byId = new Map<number, PendingRestore>();
    const seen = new Set<string>();
    // A handle's entries are distinct: only several handles can repeat a key.
    const dedup = restore.handles.length > 1;
    for (const handle of restore.handles) {
      for (const meta of handle.states) {
        let p = this.#pending.get(meta.name);
        if (p && p.meta.typeId !== meta.typeId) {
          throw new StateError(
            `Cannot restore state "${meta.name}" of operator "${this.#operator}": ` +
              `snapshots disagree on its type (${p.meta.typeId} vs ${meta.typeId})`,
          );
        }
        if (!p) this.#pending.set(meta.name, p = { meta, entries: [] });
        byId.set(meta.id, p);
        this.#nextStateId = Math.max(this.#nextStateId, meta.id + 1);
      }
      // The handle's segments read as one (newer entries shadow older ones,
      // deletes hide, list appends join their base): LSM-written handles need it.
      for (const [k, v] of readHandleEntries(restore, handle, this.keyGroupRange)) {
        const kg = (k[0]! << 8) | k[1]!;
        if (kg < start || kg > end) continue;
        if (dedup) {
          const id = latin1(k);
          if (seen.has(id)) continue;
          seen.add(id);
        }
        const stateId = (k[2]! << 8) | k[3]!;
        if (stateId > MAX_USER_STATE_ID) {
          this.#restoredRaw.push([k, v]);
          continue;
        }
        const p = byId.get(stateId);
        if (!p) {
          throw new StateError(
            `Cannot restore operator "${this.#operator}": a segment of its snapshot holds state id ` +
              `${stateId}, which the snapshot's state table does not name`,
          );
        }
        p.entries.push([k, v]);
      }
    }
  }

  /**
   * Makes `key` current; `keyHash` is its table hash when the caller has it (see
   * `KeyedStateBackend`). The key group is not needed until a snapshot.
   */
  setCurrentKey(key: unknown, _keyGroup?: number, keyHash?: number): void {
    // Between records: no interned object is held outside the states then.
    if (this.#sweepDue) this.#sweepInterned();
    // -0 is the key 0, as === says: its bytes in a snapshot are 0's.
    this.#key = this.#keys.internChecked(key === 0 ? 0 : key);
    this.keyHash = keyHash;
    for (const f of this.#perRecord) f();
  }

  /** Forgets the interned keys, namespaces and map keys no state refers to any more. */
  #sweepInterned(): void {
    this.#sweepDue = false;
    if (this.#keys.due) {
      const live = new Set<unknown>();
      if (typeof this.#key === "object") live.add(this.#key);
      let n = 0;
      for (const { state } of this.#states.values()) n += state.liveKeys(live);
      this.#keys.retain(live, n);
    }
    for (const { state } of this.#states.values()) state.sweepInterned();
  }

  /** @internal Interned objects: keys, namespaces and map keys (tests). */
  internedCount(): number {
    let n = this.#keys.size;
    for (const { state } of this.#states.values()) n += state.internedCount();
    return n;
  }

  /** The current key. */
  currentKey(): unknown {
    return this.keyForState();
  }

  /** Forgets the current key. */
  clearCurrentKey(): void {
    this.#key = NO_KEY;
    this.#callEnded = false;
  }

  /** Ends the user call the current key was set for: state access throws until the next key. */
  endKeyedCall(): void {
    if (this.#key === NO_KEY) return;
    this.#key = NO_KEY;
    this.#callEnded = true;
  }

  /** @internal The current key, checked (`state` names the state in the error). */
  keyForState(state?: HeapStateBase<unknown>): unknown {
    const k = this.#key;
    if (k === NO_KEY) throw noKeyError(this.#operator, state?.name, this.#callEnded);
    return k;
  }

  /** Returns the state object for `descriptor`. */
  state<D extends AnyStateDescriptor, N = undefined>(
    d: D,
    namespaceSerializer?: Serializer<N>,
  ): StateFor<D> & NamespacedState<N> {
    if (d.ttlConfig) return this.#ttlState(d, namespaceSerializer);
    const known = alreadyRegistered(
      this.#states.get(d.name),
      d,
      this.#operator,
      namespaceSerializer as Serializer<unknown> | undefined,
    );
    if (known) return known as unknown as StateFor<D> & NamespacedState<N>;
    const ns = namespaceSerializer as Serializer<unknown> | undefined;
    let state: HeapStateBase<unknown>;
    switch (d.kind) {
      case "value":
        state = new HeapValueState(this, ns, d.serializer, d.defaultValue);
        break;
      case "list":
        state = new HeapListState(this, ns, d.elementSerializer);
        break;
      case "map":
        state = new HeapMapState(this, ns, d.keySerializer, d.valueSerializer);
        break;
      case "reducing":
        state = new HeapReducingState(this, ns, d.serializer, d.reduce);
        break;
      case "aggregating":
        state = new HeapAggregatingState(this, ns, d.accumulatorSerializer, d.aggregateFunction);
        break;
    }
    state.name = d.name;
    const pending = this.#pending.get(d.name);
    const meta = stateMeta(pending?.meta.id ?? this.#nextStateId++, d, ns);
    if (pending) {
      const migrate = restoredStateMigration(pending.meta, d, ns, this.#operator);
      this.#pending.delete(d.name);
      if (migrate) {
        // Migrated while loading. The restored segments hold the old bytes,
        // so the next snapshot is full rather than a delta on them.
        for (const e of pending.entries) e[1] = migrate(e[1]);
        this.#chain = undefined;
      }
      this.#load(state, pending.entries);
    }
    state.setNamespace(undefined);
    // Tracking: changes after the last snapshot go into the next delta.
    if (this.#rawDirty !== undefined) state.takeDirty();
    this.#states.set(d.name, { meta, state, ttl: innerTtlConfig(d) });
    return state as unknown as StateFor<D> & NamespacedState<N>;
  }

  /** A TTL state: the decorated state over the registered inner one. */
  #ttlState<D extends AnyStateDescriptor, N>(
    d: D,
    namespaceSerializer: Serializer<N> | undefined,
  ): StateFor<D> & NamespacedState<N> {
    const cached = this.#ttlStates.get(d.name);
    if (cached?.descriptor === d && cached.namespace === namespaceSerializer) {
      return cached.state as StateFor<D> & NamespacedState<N>;
    }
    const config = d.ttlConfig!;
    const registered = this.#states.has(d.name);
    const inner = this.state(ttlInnerDescriptor(d, this.#time), namespaceSerializer);
    const cleanup = config.cleanup.incremental;
    let onAccess: (() => void) | undefined;
    if (cleanup) {
      const base = inner as unknown as HeapStateBase<unknown>;
      const time = this.#time;
      const kind = d.kind;
      const live = (v: unknown) => liveStoredValue(kind, v, config, Math.floor(time.now()));
      onAccess = () => base.cleanupSome(cleanup.cleanupSize, live);
      if (cleanup.runForEveryRecord && !registered) this.#perRecord.push(onAccess);
    }
    const state = wrapTtlState(d, inner as NamespacedState<unknown>, this.#time, onAccess);
    this.#ttlStates.set(d.name, { descriptor: d, namespace: namespaceSerializer, state });
    return state as StateFor<D> & NamespacedState<N>;
  }

  #load(state: HeapStateBase<unknown>, entries: [Uint8Array, Uint8Array][]): void {
    const tables = new Map<unknown, Map<unknown, unknown>>();
    for (const [k, v] of entries) {
      const { rest } = readStateKeyHeader(k);
      const key = this.#keys.intern(this.#keySerializer.read(rest));
      const ns = state.nsSerializer ? state.nsSerializer.read(rest) : undefined;
      let t = tables.get(ns);
      if (!t) tables.set(ns, t = new Map());
      t.set(key, state.decode(t.get(key), rest, v));
    }
    for (const [ns, t] of tables) for (const [k, v] of t) state.restoreValue(ns, k, v);
  }

  /**
   * Copies the state into sorted store entries (the synchronous part), then
   * writes one segment. Incremental: while the last snapshot's chain is
   * short and its deltas small, only the entries changed since the last
   * snapshot are written (puts and deletes), on top of the chain's
   * segments; otherwise the full state, starting a new chain. A state with
   * TTL cleanup in full snapshots makes every snapshot full.
   */
  snapshot(_checkpointId: number, storage: SnapshotStorage): Promise<KeyedStateHandle> {
    for (const hook of this.#snapshotHooks) hook();
    let sourceEntries = 0, sourceChanges = 0;
    for (const s of this.#sources) {
      sourceEntries += s.count();
      sourceChanges += s.changes();
    }
    const seq = ++this.#snapshots;
    const states: StateMeta[] = [];
    for (const { meta } of this.#states.values()) states.push(meta);
    for (const p of this.#pending.values()) states.push(p.meta);
    // Every snapshot starts a new change set: a full one covers all changes.
    const dirty = [...this.#states.values()].map((r) => r.state.takeDirty());
    const rawDirty = this.#rawDirty;
    this.#rawDirty = new Set();
    this.#changedKeys = 0;
    // Cleanup in full snapshots drops expired entries from every snapshot: deltas cannot.
    let fullCleanup = false;
    for (const { ttl } of this.#states.values()) fullCleanup ||= ttl?.cleanup.fullSnapshot === true;
    const chain = fullCleanup ? undefined : this.#usableChain(seq, storage);
    let entries: SegmentBatch | undefined;
    const tracked = chain !== undefined && rawDirty !== undefined && !dirty.includes(undefined);
    if (tracked) {
      entries = this.#deltaEntries(
        dirty as Map<unknown, Set<unknown>>[],
        rawDirty,
        chain,
        sourceChanges,
      );
    }
    const base = entries === undefined ? undefined : chain;
    entries ??= this.#fullEntries();
    // The sources' entries as they are now: only references are copied here,
    // the asynchronous part serializes them.
    const captured = this.#sources.map((s) => s.capture(base === undefined));
    // Until this snapshot is written (and its chain known), the limit its chain will likely have.
    this.#trackLimit = base === undefined
      ? Math.floor((entries.count + sourceEntries) / 2)
      : trackLimit(base);
    // Churn: tracking hit its limit, or the changes outgrew a delta's budget.
    this.#pauseTracking(base !== undefined, this.#churned || (tracked && base === undefined));
    this.#churned = false;
    const name = storage.newSegmentName();
    const keyGroupRange = this.keyGroupRange;
    // The asynchronous part, once the synchronous part has returned: large
    // batches are sorted and formatted on a worker thread.
    const write = () => {
      for (const add of captured) add(entries);
      if (base === undefined && captured.length > 0) this.#lastFullBytes = entries.byteLength;
      return entries.count === 0
        ? undefined
        : this.#batchWriter.write(storage.fs, `${storage.dir}/${name}`, entries);
    };
    return Promise.resolve().then(write).then((info) => {
      const written: SegmentRef[] = info ? [{ name: info.name, size: info.size }] : [];
      const segments = base === undefined ? written : [...written, ...base.segments];
      if (seq === this.#snapshots) {
        this.#chain = base === undefined ? chainOf(segments, seq, entries.count) : {
          segments,
          fullBytes: base.fullBytes,
          deltaBytes: base.deltaBytes + (written[0]?.size ?? 0),
          fullEntries: base.fullEntries,
          seq,
        };
        this.#trackLimit = trackLimit(this.#chain);
        if (this.#changedKeys > this.#trackLimit) this.#churn();
      }
      return { backend: "heap", keyGroupRange, states, segments };
    }, (e) => {
      // The changes this snapshot took are lost to deltas: the next one is full.
      this.#chain = undefined;
      if (seq === this.#snapshots) this.#stopTracking();
      throw e;
    });
  }

  /** @internal Adds `key` to a change set; a newly changed key counts towards the tracking limit. */
  trackChange<K>(changed: Set<K>, key: K): void {
    const n = changed.size;
    changed.add(key);
    if (changed.size !== n && ++this.#changedKeys > this.#trackLimit) this.#churn();
  }

  /**
   * Changes passed the tracking limit: the next snapshot is full, tracking
   * stops. Churn, unless the limit was 0 (the chain is full anyway).
   */
  #churn(): void {
    if (this.#trackLimit > 0) this.#churned = true;
    this.#stopTracking();
  }

  /**
   * Decides whether the interval after this snapshot tracks changes. Under
   * steady churn (most keys change between snapshots) every snapshot is full
   * and tracking only costs: a `Set` entry for each of half the keys. So
   * after a churned interval tracking pauses for 2, then 4 and 8 intervals
   * while churn goes on (the snapshots then are full, as they would be
   * anyway); a delta resets the backoff.
   */
  #pauseTracking(delta: boolean, churned: boolean): void {
    if (delta) this.#trackingBackoff = 0;
    else if (churned) {
      this.#trackingBackoff = Math.min(MAX_TRACKING_PAUSE, Math.max(2, this.#trackingBackoff * 2));
      this.#pausedIntervals = this.#trackingBackoff;
    }
    if (this.#pausedIntervals === 0) return;
    this.#pausedIntervals--;
    this.#stopTracking();
  }

  /** The next snapshot is full: stop tracking changes until it is taken. */
  #stopTracking(): void {
    for (const r of this.#states.values()) r.state.stopTracking();
    this.#rawDirty = undefined;
    this.#trackLimit = Infinity;
  }

  /** The chain the snapshot numbered `seq` may add a delta to, if any. */
  #usableChain(seq: number, storage: SnapshotStorage): SnapshotChain | undefined {
    const chain = this.#chain;
    // The previous snapshot must have finished writing (its segments are the base).
    if (chain === undefined || chain.seq !== seq - 1 && !(chain.seq === 0 && seq === 1)) {
      return undefined;
    }
    if (chain.segments.length >= MAX_CHAIN_SEGMENTS) return undefined;
    // The new handle lists the chain's segments beside the new one: they must be there.
    for (const s of chain.segments) {
      if (storage.fs.size(`${storage.dir}/${s.name}`) === undefined) return undefined;
    }
    return chain;
  }

  /**
   * The changed entries, or undefined when a full snapshot is cheaper (the
   * chain's deltas and this one would outgrow its full snapshot).
   */
  #deltaEntries(
    dirty: Map<unknown, Set<unknown>>[],
    rawDirty: Set<string>,
    chain: SnapshotChain,
    sourceChanges: number,
  ): SegmentBatch | undefined {
    const budget = chain.fullBytes - chain.deltaBytes;
    // Most keys changed (the usual case under uniform churn): skip straight to a full snapshot.
    // The sources' changes count here only (their bytes come in the asynchronous part).
    let changed = rawDirty.size + sourceChanges;
    for (const d of dirty) for (const keys of d.values()) changed += keys.size;
    if (changed > trackLimit(chain)) return undefined;
    const entries = new SegmentBatch();
    for (const id of rawDirty) {
      const e = this.#raw.get(id);
      if (e !== undefined) entries.put(e[0], e[1]);
      else entries.delete(latin1Bytes(id));
      if (entries.byteLength >= budget) return undefined;
    }
    const keyBytes = new ByteWriter();
    const prefix = new ByteWriter();
    let i = 0;
    for (const { meta, state } of this.#states.values()) {
      const changed = dirty[i++]!;
      const over = this.#namingState(meta.name, () => {
        for (const [ns, keys] of changed) {
          for (const key of keys) {
            this.#prefix(prefix, keyBytes, meta.id, state, ns, key);
            state.encodeChange(prefix, ns, key, state.storedValue(ns, key), entries);
            if (entries.byteLength >= budget) return true;
          }
        }
        return false;
      });
      if (over) return undefined;
    }
    return entries;
  }

  /**
   * Runs `write` (a snapshot writing state `name`); a value its serializer cannot write fails
   * naming the state and operator. The heap backend keeps the objects it is given, so such a
   * value (a null in a `Serializers.f64` map) first fails here, at a checkpoint, long after the
   * write that the LSM backend would have refused.
   */
  #namingState<R>(name: string, write: () => R): R {
    try {
      return write();
    } catch (e) {
      if (!(e instanceof SerializationError)) throw e;
      throw new SerializationError(
        `State "${name}" of operator "${this.#operator}" holds a value its serializer cannot ` +
          `write: ${e.message}`,
        { cause: e },
      );
    }
  }

  /** Writes the store key of (state, namespace, key) into `prefix`. */
  #prefix(
    prefix: ByteWriter,
    keyBytes: ByteWriter,
    stateId: number,
    state: HeapStateBase<unknown>,
    ns: unknown,
    key: unknown,
  ): void {
    keyBytes.reset();
    this.#keySerializer.write(key, keyBytes);
    const n = keyBytes.length;
    const kg = keyGroupOfBytes(keyBytes.buf, this.#maxParallelism, n);
    prefix.reset();
    writeStateKeyHeader(prefix, kg, stateId);
    // A loop, not writeRaw(bytes()): no view per key.
    prefix.ensure(n);
    const dst = prefix.buf, src = keyBytes.buf, at = prefix.length;
    for (let i = 0; i < n; i++) dst[at + i] = src[i]!;
    prefix.length = at + n;
    if (state.nsSerializer) state.nsSerializer.write(ns, prefix);
  }

  /** Entries of every state and raw entries (timers). */
  #storedCount(): number {
    // Not the sources' entries: the asynchronous part grows the batch for them.
    let n = this.#raw.size;
    for (const { state } of this.#states.values()) n += state.storedCount();
    return n;
  }

  /** Every entry of the state (a full snapshot). */
  #fullEntries(): SegmentBatch {
    // The last full snapshot's buffer, when back from the worker: while the
    // keys come in the same order (a steady key set), each entry's key bytes
    // are already in place and only its value is written (no key to
    // serialize, hash and copy). The first entry that differs (a new or
    // removed key, a value of another length) ends that: from there on every
    // entry is written whole.
    const last = this.#lastFull;
    this.#lastFull = undefined;
    const entries = (last && this.#batchWriter.reuse(last.batch)) ??
      // Sized like the last one (or, the first time, at ~48 bytes an entry):
      // growing a large batch copies it.
      this.#batchWriter.batch(
        Math.max(64 << 10, this.#lastFullBytes * 1.1 || this.#storedCount() * 48),
      );
    // Updated in place: entry i's key is only read before entry i is written.
    const keys: unknown[] = last?.keys ?? [];
    const ranges = new Map<number, [number, number]>();
    const keyBytes = new ByteWriter();
    const prefix = new ByteWriter();
    const now = Math.floor(this.#time.now());
    for (const { meta, state, ttl } of this.#states.values()) {
      const prune = ttl?.cleanup.fullSnapshot ? ttl : undefined;
      const kind = meta.kind as never;
      const first = entries.count;
      if (state instanceof SingleValueCodec && !state.nsSerializer && !prune) {
        // Keys kept from the last batch: this state's entries started at the same place there.
        const was = last?.ranges.get(meta.id);
        const end = was?.[0] === first ? was[1] : 0;
        this.#namingState(meta.name, () =>
          state.forEachStored((ns, key, value) => {
            const i = entries.count;
            if (i >= end || keys[i] !== key || !state.encodeKept(value, entries)) {
              this.#prefix(prefix, keyBytes, meta.id, state, ns, key);
              state.encode(prefix, value, entries);
              keys[i] = key;
            }
          }));
        ranges.set(meta.id, [first, entries.count]);
        continue;
      }
      this.#namingState(meta.name, () =>
        state.forEachStored((ns, key, stored) => {
          // Cleanup in full snapshots: expired values and elements are not written.
          const value = prune ? liveStoredValue(kind, stored, prune, now) : stored;
          if (value === undefined) return;
          this.#prefix(prefix, keyBytes, meta.id, state, ns, key);
          state.encode(prefix, value, entries);
        }));
      for (let i = first; i < entries.count; i++) keys[i] = NOT_KEPT;
    }
    keys.length = entries.count;
    this.#lastFull = { batch: entries, keys, ranges };
    for (const p of this.#pending.values()) {
      for (const [k, v] of p.entries) entries.put(k, v);
    }
    for (const [k, v] of this.#raw.values()) entries.put(k, v);
    this.#lastFullBytes = entries.byteLength;
    return entries;
  }

  /** Names of the segments the next snapshot may build on (checkpoint GC keeps them). */
  liveSegments(): string[] {
    return this.#chain?.segments.map((s) => s.name) ?? [];
  }

  /** Runs `flush` first in every snapshot. */
  onSnapshot(flush: () => void): void {
    this.#snapshotHooks.push(flush);
  }

  /** Hands the raw entries of `stateIds` over to `source` (see `KeyedStateBackend`). */
  takeRawEntries(
    stateIds: readonly number[],
    source: RawSnapshotSource,
  ): Iterable<[Uint8Array, Uint8Array]> {
    const ids = new Set(stateIds);
    const of = (k: Uint8Array) => (k[2]! << 8) | k[3]!;
    const taken: [Uint8Array, Uint8Array][] = [], kept: [Uint8Array, Uint8Array][] = [];
    for (const e of this.#restoredRaw) (ids.has(of(e[0])) ? taken : kept).push(e);
    this.#restoredRaw = kept;
    for (const [id, e] of this.#rawById) {
      if (!ids.has(of(e[0]))) continue;
      this.#rawById.delete(id);
      this.#rawSorted = undefined;
      taken.push(e);
    }
    this.#sources.push(source);
    return taken;
  }

  /** Stores a raw entry. */
  rawPut(key: Uint8Array, value: Uint8Array): void {
    const id = latin1(key);
    this.#raw.set(id, [key.slice(), value.slice()]);
    this.#rawSorted = undefined;
    this.#rawChanged(id);
  }

  /** Deletes a raw entry. */
  rawDelete(key: Uint8Array): void {
    const id = latin1(key);
    if (this.#raw.delete(id)) {
      this.#rawSorted = undefined;
      this.#rawChanged(id);
    }
  }

  #rawChanged(id: string): void {
    if (this.#rawDirty !== undefined) this.trackChange(this.#rawDirty, id);
  }

  /** Raw entries in `[start, end)`, ascending. */
  rawScan(start: Uint8Array, end: Uint8Array): Iterable<[Uint8Array, Uint8Array]> {
    const sorted = this.#rawSorted ??= [...this.#raw.values()].sort((a, b) =>
      compareBytes(a[0], b[0])
    );
    let lo = 0, hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(sorted[mid]![0], start) < 0) lo = mid + 1;
      else hi = mid;
    }
    const out: [Uint8Array, Uint8Array][] = [];
    for (let i = lo; i < sorted.length && compareBytes(sorted[i]![0], end) < 0; i++) {
      out.push(sorted[i]!);
    }
    return out;
  }

  /** Every key with a value in state `name`. */
  keys(name: string): Iterable<unknown> {
    const s = this.#states.get(name);
    return s ? s.state.allKeys() : [];
  }

  /** Reads state `name` for `key`, keeping the current key (queryable state). */
  queryState(name: string, key: unknown): StateQueryResult {
    const s = this.#states.get(name);
    if (!s) return { found: false };
    checkQueryable(s.meta, this.#operator);
    const k = this.#keys.internChecked(key);
    if (s.state.peek(k) === undefined) return { found: false };
    const prev = this.#key, prevHash = this.keyHash;
    this.#key = k;
    this.keyHash = undefined; // the current key's, not this one's
    try {
      const value = readStateValue(s.meta.kind, s.state);
      return value === undefined ? { found: false } : { found: true, value };
    } finally {
      this.#key = prev;
      this.keyHash = prevHash;
    }
  }

  /** Names of the registered states. */
  stateNames(): string[] {
    return [...this.#states.keys()];
  }

  /** Drops all state. */
  dispose(): void {
    this.#states.clear();
    this.#ttlStates.clear();
    this.#perRecord.length = 0;
    this.#snapshotHooks.length = 0;
    this.#sources.length = 0;
    this.#lastFull = undefined;
    this.#batchWriter.close();
  }
}

/**
 * The heap state backend: `--state-backend heap`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend } from "@weir/weir";
 * assert.ok(new HeapStateBackend().name === "heap");
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
