/**
 * The LSM state backend: keyed state in the WebAssembly LSM store
 * (`statestore-as`), in the canonical layout of `state_keys.ts`. State can
 * exceed memory, snapshots are incremental (a checkpoint freezes the
 * memtable and hard-links the new segments) and restore opens segments
 * lazily.
 *
 * @module
 */
import { alreadyRegistered } from "../_registration.ts";
import { restoredStateMigration, stateMeta } from "../_state_migration.ts";
import { CheckpointError, ConfigError, StateError } from "../../errors.ts";
import { checkOptionNames, shownValue } from "../../_options.ts";
import { noKeyError } from "../_no_key_error.ts";
import type {
  KeyedBackendOptions,
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  NamespacedState,
  SegmentRef,
  SnapshotStorage,
  StateBackend,
  StateFor,
} from "../backend.ts";
import type { AnyStateDescriptor } from "../descriptors.ts";
import { keyGroupOfBytes, type KeyGroupRange, UNKNOWN_KEY_GROUP } from "../key_group.ts";
import { ByteReader, ByteWriter } from "../bytes.ts";
import { type Serializer, Serializers } from "../serializer.ts";
import { type ValueCopies, valueCopies } from "../_value_copies.ts";
import { defaultValueOf } from "../_owned_copy.ts";
import type { AggregateFunction } from "../state.ts";
import {
  appendListElement,
  checkListElement,
  decodeList,
  putStateKeyHeader,
  type StateMeta,
} from "../state_keys.ts";
import { LsmStore, writeSegment } from "../../../statestore-as/lsm_store.ts";
import {
  DenoSegmentFs,
  type SegmentFs,
  writeThroughTemp,
} from "../../../statestore-as/segment_fs.ts";
import { readHandleEntries } from "./handle_reader.ts";
import { makeWorkDir } from "./_work_dirs.ts";
import { storeMemory } from "./_store_memory.ts";
import { checkQueryable, readStateValue, type StateQueryResult } from "../queryable.ts";
import type { TtlTimeProvider } from "../ttl.ts";
import { innerTtlConfig, ttlInnerDescriptor, wrapTtlState } from "../ttl_state.ts";
import type { ExpiryRule } from "../../../statestore-as/lsm_store.ts";
import { KeyTable } from "../_key_table.ts";

const SYSTEM_TIME: TtlTimeProvider = { now: () => Date.now() };

const NO_KEY: unique symbol = Symbol("no key");
/** The current key cannot index the value cache (an object key). */
const NO_CACHE: unique symbol = Symbol("no cache");
/** `#keyLen` when no key is current, and when the current key is not serialized yet. */
const NO_KEY_LEN = -1;
const KEY_STALE = -2;
const EMPTY = new Uint8Array(0);
/** Values above this go through `put` with copies; the scratch region holds 64 KiB. */
const MAX_SCRATCH_VALUE = 65536;
/** Writes between checks for segments that compaction made obsolete. */
const OBSOLETE_CHECK_WRITES = 1 << 16;
/**
 * Records the value cache is bypassed for after a fill that paid less than it
 * cost, in cache capacities: doubled after each further such fill, up to the
 * maximum, so a probe costs under 1% once keys have cycled for a while. A
 * cache that pays again is back after at most BYPASS_MAX capacities of
 * records (33.5M with the default 131,072 entries: seconds at these rates).
 */
const BYPASS_MIN = 16;
const BYPASS_MAX = 256;

// Big-endian f64 decoding without allocating a reader per value.
const F64_VIEW = new DataView(new ArrayBuffer(8));
const F64_BYTES = new Uint8Array(F64_VIEW.buffer);

function copyInto(dst: Uint8Array, at: number, src: Uint8Array, len: number): void {
  if (len < 32) { for (let i = 0; i < len; i++) dst[at + i] = src[i]!; }
  else dst.set(src.subarray(0, len), at);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function randomHex(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Default `cacheEntries`: the value cache of an operator over all its key groups. */
const DEFAULT_CACHE_ENTRIES = 1 << 17;

/**
 * The value cache capacity of a backend holding `range`: its share of
 * `entries` (at least 1; 0 stays 0). Each subtask sees only the keys of its
 * key groups, so a share caches as many of them as the whole capacity does
 * at parallelism 1; a whole capacity per subtask would multiply the cache's
 * memory, and the work of a fill that does not pay (keys that never repeat
 * in it), by the parallelism.
 */
function cacheShare(entries: number, range: KeyGroupRange, maxParallelism: number): number {
  if (entries <= 0) return 0;
  const groups = range.end - range.start + 1;
  if (groups >= maxParallelism) return entries;
  return Math.max(1, Math.round(entries * groups / maxParallelism));
}

/** Decodes values of one serializer; f64 skips the reader. */
class Codec<T> {
  readonly ser: Serializer<T>;
  readonly #f64: boolean;
  constructor(ser: Serializer<T>) {
    this.ser = ser;
    this.#f64 = (ser as Serializer<unknown>) === Serializers.f64;
  }
  /** Decodes `view` (a view into store memory: copied before a generic read). */
  read(view: Uint8Array): T {
    if (this.#f64 && view.length === 8) {
      for (let i = 0; i < 8; i++) F64_BYTES[i] = view[i]!;
      return F64_VIEW.getFloat64(0) as T;
    }
    return this.ser.read(new ByteReader(view.slice()));
  }
}

/** What every LSM state shares: its id, namespace bytes and store access. */
class LsmState<N> {
  protected readonly b: LsmKeyedStateBackend;
  /** The state id in store keys. */
  readonly id: number;
  readonly #nsSer: Serializer<N> | undefined;
  #ns = new ByteWriter(16);
  #nsSpare = new ByteWriter(16);
  #nsSet: boolean;
  /** Reused writer for values. */
  protected readonly vw = new ByteWriter();

  constructor(b: LsmKeyedStateBackend, id: number, nsSer: Serializer<N> | undefined) {
    this.b = b;
    this.id = id;
    this.#nsSer = nsSer;
    this.#nsSet = nsSer === undefined;
  }

  setNamespace(ns: N): void {
    if (this.#nsSer === undefined) return;
    const w = this.#nsSpare;
    w.reset();
    this.#nsSer.write(ns, w);
    this.#nsSpare = this.#ns;
    this.#ns = w;
    this.#nsSet = true;
  }

  #checkNs(): void {
    if (!this.#nsSet) {
      throw new StateError(
        `State with id ${this.id} has a namespace serializer: call setNamespace() before using it`,
      );
    }
  }

  /** Looks the state's entry up (with a map's user key as `tail`): value length or -1. */
  protected lookup(tail: Uint8Array = EMPTY, tailLen = 0): number {
    this.#checkNs();
    const b = this.b;
    const kl = b.scratchKey(this.id, this.#ns.buf, this.#ns.length, tail, tailLen);
    return b.store.getScratch(kl);
  }

  /** A view of the value found by the last lookup. */
  protected view(n: number): Uint8Array {
    return this.b.store.valueView(n);
  }

  /** Puts (or merges) the bytes in `w`. */
  protected write(w: ByteWriter, merge: boolean, tail: Uint8Array = EMPTY, tailLen = 0): void {
    this.#checkNs();
    const b = this.b;
    const vl = w.length;
    if (vl > MAX_SCRATCH_VALUE) {
      const key = b.fullKey(this.id, this.#ns.buf, this.#ns.length, tail, tailLen);
      if (merge) b.store.merge(key, w.toBytes());
      else b.store.put(key, w.toBytes());
    } else {
      const kl = b.scratchKey(this.id, this.#ns.buf, this.#ns.length, tail, tailLen);
      copyInto(b.store.valueScratch(vl), 0, w.buf, vl);
      if (merge) b.store.mergeScratch(kl, vl);
      else b.store.putScratch(kl, vl);
    }
    b.wrote();
  }

  /** Deletes the entry. */
  protected del(tail: Uint8Array = EMPTY, tailLen = 0): void {
    this.#checkNs();
    const b = this.b;
    b.store.deleteScratch(b.scratchKey(this.id, this.#ns.buf, this.#ns.length, tail, tailLen));
    b.wrote();
  }

  /** The key prefix of the current key and namespace (map entries extend it). */
  protected prefix(): Uint8Array {
    this.#checkNs();
    return this.b.fullKey(this.id, this.#ns.buf, this.#ns.length, EMPTY, 0);
  }

  clear(): void {
    this.del();
  }
}

/**
 * A cached value: `ABSENT` marks a key without a value (a pending delete when
 * dirty); `units` is what it was counted as in the cache's capacity; `kg` is
 * the key's group, so a flush does not hash the key again.
 */
interface CacheEntry {
  v: unknown;
  dirty: boolean;
  units: number;
  readonly kg: number;
}

const ABSENT: unique symbol = Symbol("absent");

/** Whether `v` can change after it is handed out (a cached one is handed out as a copy). */
function isObject(v: unknown): boolean {
  return (typeof v === "object" && v !== null) || typeof v === "function";
}

/**
 * Value, reducing and aggregating state: one entry per key and namespace.
 * Without namespaces, values of primitive keys are kept in a bounded
 * write-back cache (a read-modify-write per record then costs no store call
 * while the key is cached); the backend flushes it before snapshots and
 * scans, and when it is full. Primitive values are cached as they are;
 * object values only when the serializer can `copy` them: the cache keeps a
 * copy and hands out copies, so a value read or written behaves as one that
 * went through the store (a change to it is not state until `update`). An
 * update is copied over the key's cached copy where the serializer can
 * (`_value_copies.ts`), and a cached copy needs no checks when copied out.
 */
class LsmSingleValueState<T, N> extends LsmState<N> {
  protected readonly codec: Codec<T>;
  #cache: KeyTable<CacheEntry> | undefined;
  /** The serializer, when it can copy values: object values are cached too. */
  readonly #copier: Serializer<T> | undefined;
  /** Its cheaper copies, for values the cache copied before. */
  readonly #copies: ValueCopies<T> | undefined;
  /** Estimated serialized size of this state's object values: what their cache entries weigh. */
  #objectBytes = 0;
  #objectStores = 0;
  readonly #kw = new ByteWriter();
  // The entry of the last cached key: update() after value() skips the lookup.
  #memoKey: unknown = NO_CACHE;
  #memoEntry: CacheEntry | undefined;

  constructor(
    b: LsmKeyedStateBackend,
    id: number,
    ns: Serializer<N> | undefined,
    ser: Serializer<T>,
  ) {
    super(b, id, ns);
    this.codec = new Codec(ser);
    this.#cache = ns === undefined && b.cacheCapacity > 0 ? new KeyTable<CacheEntry>() : undefined;
    this.#copier = ser.copy === undefined ? undefined : ser;
    this.#copies = ser.copy === undefined ? undefined : valueCopies(ser);
  }

  #load(): T | undefined {
    const n = this.lookup();
    if (n < 0) return undefined;
    const v = this.codec.read(this.view(n));
    if (isObject(v)) this.#sized(n);
    return v;
  }

  #store(v: T): void {
    this.vw.reset();
    this.codec.ser.write(v, this.vw);
    this.write(this.vw, false);
  }

  /** Folds one object value's serialized size into the estimate. */
  #sized(bytes: number): void {
    const est = this.#objectBytes;
    this.#objectBytes = est === 0 ? bytes : est + (bytes - est) / 8;
  }

  /** Cache units of a new entry holding `v`: 1, plus 1 per 64 estimated bytes of an object. */
  #units(v: unknown): number {
    return isObject(v) ? 1 + (this.#objectBytes >>> 6) : 1;
  }

  /** The current key's value. */
  protected read(): T | undefined {
    const cache = this.#cache;
    const ck = this.b.cacheKey(this.id);
    if (cache === undefined || ck === NO_CACHE) return this.#load();
    const e = ck === this.#memoKey ? this.#memoEntry : cache.get(ck, this.b.keyHash);
    if (e !== undefined) {
      this.#memoKey = ck;
      this.#memoEntry = e;
      this.b.cacheHits++;
      const v = e.v;
      if (v === ABSENT) return undefined;
      return isObject(v) ? this.#copies!.ofCopy(v as T) : v as T;
    }
    const v = this.#load();
    const object = isObject(v);
    if (!object || this.#copier !== undefined) {
      // A decoded object is the caller's: the cache keeps a copy.
      const cv = v === undefined ? ABSENT : object ? this.#copies!.ofCopy(v!) : v;
      const ne = { v: cv, dirty: false, units: this.#units(cv), kg: this.b.keyGroup() };
      cache.set(ck, ne, this.b.keyHash);
      this.#memoKey = ck;
      this.#memoEntry = ne;
      this.b.cached(ne.units, 1);
    }
    return v;
  }

  /** The current key's stored value, without a value state's default (queries). */
  peek(): T | undefined {
    return this.read();
  }

  /**
   * What the cache keeps for `v` (a copy, which fails where serializing
   * would, written over `was`, the entry's old value, where it can be), or
   * `NO_CACHE` when it cannot keep it (an object that the serializer cannot
   * copy).
   */
  #cacheable(v: T | undefined, was: unknown): unknown {
    if (v === undefined) return ABSENT;
    const copier = this.#copier;
    if (copier !== undefined) {
      // The cache never hands out its own values: nothing else holds `was`.
      const cv = isObject(was) ? this.#copies!.over(v, was as T) : copier.copy!(v);
      // Now and then the size of an object value, for its cache weight.
      if (isObject(cv) && (this.#objectStores++ & 15) === 0) {
        this.vw.reset();
        this.codec.ser.write(cv, this.vw);
        this.#sized(this.vw.length);
      }
      return cv;
    }
    if (isObject(v)) return NO_CACHE;
    // Serialize now so a bad value fails here, not at a later flush.
    this.vw.reset();
    this.codec.ser.write(v, this.vw);
    return v;
  }

  /** Sets the current key's value (`undefined` deletes it). */
  protected store(v: T | undefined): void {
    const cache = this.#cache;
    const ck = this.b.cacheKey(this.id);
    if (cache !== undefined && ck !== NO_CACHE) {
      const e = ck === this.#memoKey ? this.#memoEntry : cache.get(ck, this.b.keyHash);
      const cv = this.#cacheable(v, e?.v);
      if (cv !== NO_CACHE) {
        const units = this.#units(cv);
        if (e !== undefined) {
          e.v = cv;
          e.dirty = true;
          // An entry that grew (an object where there was none, or a larger estimate) counts more.
          if (units > e.units) {
            const more = units - e.units;
            e.units = units;
            this.b.cached(more, 0);
          }
        } else {
          // A key that cannot be serialized fails now, not at a flush.
          const ne = { v: cv, dirty: true, units, kg: this.b.keyGroup() };
          cache.set(ck, ne, this.b.keyHash);
          this.#memoKey = ck;
          this.#memoEntry = ne;
          this.b.cached(units, 1);
        }
        return;
      }
      cache.delete(ck, this.b.keyHash);
      this.#memoKey = NO_CACHE;
    }
    if (v === undefined) this.del();
    else this.#store(v);
  }

  override clear(): void {
    this.store(undefined);
  }

  /** Writes dirty cached entries to the store; `drop` empties the cache. */
  flushCache(drop: boolean): void {
    const cache = this.#cache;
    if (cache === undefined || cache.size === 0) return;
    for (const [k, e] of cache) {
      if (!e.dirty) continue;
      e.dirty = false;
      if (e.v === ABSENT) {
        this.b.writeFor(k, e.kg, this.id, this.#kw, undefined);
      } else {
        this.vw.reset();
        this.codec.ser.write(e.v as T, this.vw);
        if (isObject(e.v)) this.#sized(this.vw.length);
        this.b.writeFor(k, e.kg, this.id, this.#kw, this.vw);
      }
    }
    if (drop) {
      this.#cache = new KeyTable<CacheEntry>();
      this.#memoKey = NO_CACHE;
      this.#memoEntry = undefined;
    }
  }
}

class LsmValueState<T, N> extends LsmSingleValueState<T, N> {
  readonly #default: () => T | undefined;
  constructor(
    b: LsmKeyedStateBackend,
    id: number,
    ns: Serializer<N> | undefined,
    ser: Serializer<T>,
    defaultValue: T | undefined,
  ) {
    super(b, id, ns, ser);
    this.#default = defaultValueOf(ser, defaultValue);
  }
  value(): T | undefined {
    const v = this.read();
    return v === undefined ? this.#default() : v;
  }
  update(v: T | undefined): void {
    // null clears too, as in Flink.
    this.store(v ?? undefined);
  }
}
class LsmListState<T, N> extends LsmState<N> {
  readonly #ser: Serializer<T>;
  readonly #el = new ByteWriter();
  readonly #name: string;
  constructor(
    b: LsmKeyedStateBackend,
    id: number,
    ns: Serializer<N> | undefined,
    ser: Serializer<T>,
    name: string,
  ) {
    super(b, id, ns);
    this.#ser = ser;
    this.#name = name;
  }
  get(): T[] {
    const n = this.lookup();
    return n <= 0 ? [] : decodeList(this.#ser, this.view(n).slice());
  }
  /** Appends with a merge record: the list is never read. */
  add(v: T): void {
    checkListElement(v, this.#name);
    this.vw.reset();
    appendListElement(this.#ser, v, this.vw, this.#el);
    this.write(this.vw, true);
  }
  addAll(values: Iterable<T>): void {
    this.vw.reset();
    for (const v of values) {
      checkListElement(v, this.#name);
      appendListElement(this.#ser, v, this.vw, this.#el);
    }
    if (this.vw.length > 0) this.write(this.vw, true);
  }
  update(values: Iterable<T>): void {
    this.vw.reset();
    for (const v of values) {
      checkListElement(v, this.#name);
      appendListElement(this.#ser, v, this.vw, this.#el);
    }
    if (this.vw.length === 0) this.clear();
    else this.write(this.vw, false);
  }
}

class LsmMapState<K, V, N> extends LsmState<N> {
  readonly #keySer: Serializer<K>;
  readonly #values: Codec<V>;
  readonly #uk = new ByteWriter();
  constructor(
    b: LsmKeyedStateBackend,
    id: number,
    ns: Serializer<N> | undefined,
    keySer: Serializer<K>,
    valueSer: Serializer<V>,
  ) {
    super(b, id, ns);
    this.#keySer = keySer;
    this.#values = new Codec(valueSer);
  }
  #userKey(k: K): ByteWriter {
    this.#uk.reset();
    // -0 is the user key 0, as it is a key 0 (Serializers.f64 would keep its sign).
    this.#keySer.write((k === 0 ? 0 : k) as K, this.#uk);
    return this.#uk;
  }
  get(key: K): V | undefined {
    const uk = this.#userKey(key);
    const n = this.lookup(uk.buf, uk.length);
    return n < 0 ? undefined : this.#values.read(this.view(n));
  }
  put(key: K, value: V): void {
    const uk = this.#userKey(key);
    this.vw.reset();
    this.#values.ser.write(value, this.vw);
    this.write(this.vw, false, uk.buf, uk.length);
  }
  putAll(entries: Iterable<readonly [K, V]> | Map<K, V>): void {
    for (const [k, v] of entries) this.put(k, v);
  }
  remove(key: K): void {
    const uk = this.#userKey(key);
    this.del(uk.buf, uk.length);
  }
  contains(key: K): boolean {
    const uk = this.#userKey(key);
    return this.lookup(uk.buf, uk.length) >= 0;
  }
  /** The entries of the current key and namespace, read now (a snapshot). */
  #entries(): [K, V][] {
    const p = this.prefix();
    const out: [K, V][] = [];
    for (const [k, v] of this.b.store.scan({ prefix: p })) {
      const uk = this.#keySer.read(new ByteReader(k.subarray(p.length)));
      out.push([uk, this.#values.ser.read(new ByteReader(v))]);
    }
    return out;
  }
  entries(): IterableIterator<[K, V]> {
    return this.#entries().values();
  }
  keys(): IterableIterator<K> {
    return this.#entries().map(([k]) => k).values();
  }
  values(): IterableIterator<V> {
    return this.#entries().map(([, v]) => v).values();
  }
  isEmpty(): boolean {
    for (const _ of this.b.store.scan({ prefix: this.prefix() })) return false;
    return true;
  }
  override clear(): void {
    const keys = [...this.b.store.scan({ prefix: this.prefix() })].map(([k]) => k);
    for (const k of keys) this.b.store.delete(k);
    this.b.wrote();
  }
}

class LsmReducingState<T, N> extends LsmSingleValueState<T, N> {
  readonly #reduce: (a: T, b: T) => T;
  constructor(
    b: LsmKeyedStateBackend,
    id: number,
    ns: Serializer<N> | undefined,
    ser: Serializer<T>,
    reduce: (a: T, b: T) => T,
  ) {
    super(b, id, ns, ser);
    this.#reduce = reduce;
  }
  get(): T | undefined {
    return this.read();
  }
  add(v: T): void {
    const cur = this.read();
    this.store(cur === undefined ? v : this.#reduce(cur, v));
  }
}

class LsmAggregatingState<IN, ACC, OUT, N> extends LsmSingleValueState<ACC, N> {
  readonly #fn: AggregateFunction<IN, ACC, OUT>;
  constructor(
    b: LsmKeyedStateBackend,
    id: number,
    ns: Serializer<N> | undefined,
    ser: Serializer<ACC>,
    fn: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(b, id, ns, ser);
    this.#fn = fn;
  }
  get(): OUT | undefined {
    const acc = this.read();
    return acc === undefined ? undefined : this.#fn.getResult(acc);
  }
  add(v: IN): void {
    const acc = this.read();
    this.store(this.#fn.add(v, acc === undefined ? this.#fn.createAccumulator() : acc));
  }
}

interface Registered {
  meta: StateMeta;
  state: LsmState<unknown>;
}

/**
 * Options of {@linkcode LsmStateBackend}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LsmStateBackend, type LsmStateBackendOptions, StreamEnvironment } from "@weir/weir";
 * // The stores of all keyed subtasks share 512 MiB (2 GiB by default).
 * const options: LsmStateBackendOptions = { memoryBytes: 512 << 20 };
 * const env = StreamEnvironment.create({ stateBackend: new LsmStateBackend(options) });
 * assert.equal(env.config.stateBackend.name, "lsm");
 * // A bad budget is named when the backend is made.
 * assert.throws(() => new LsmStateBackend({ memoryBytes: -1 }), /memoryBytes must be a positive integer/);
 * ```
 */
export interface LsmStateBackendOptions {
  /**
   * Folder under which each keyed backend without a `workDir` gets its own
   * subfolder of segments (removed on dispose). Default: a temporary folder.
   * Subfolders left by a process that died (`kill -9`) are removed when a
   * later process on the same host makes its first one there (Linux).
   */
  readonly dir?: string;
  /**
   * Bytes that the stores of all keyed operator subtasks of a job share, as
   * Flink's managed memory (default 2 GiB): memtables (each store reserves
   * three) and block caches. A store takes an equal share, at most 64 MiB
   * memtables and a 16 MiB block cache: at parallelism 2 a job of up to four
   * keyed operators takes those, at higher parallelism its stores take less
   * (e.g. 200 of them about 10 MiB each), never under 64 KiB memtables and
   * block caches. Jobs in one process each take their own.
   */
  readonly memoryBytes?: number;
  /**
   * Bytes per memtable of each keyed backend (64 KiB .. 512 MiB), whatever
   * its share of `memoryBytes`. Default: its share.
   */
  readonly memtableBytes?: number;
  /**
   * Bytes of each keyed backend's block cache (64 KiB .. 512 MiB), whatever
   * its share of `memoryBytes`. Default: its share.
   */
  readonly blockCacheBytes?: number;
  /**
   * Capacity of the write-back cache of value, reducing and aggregating
   * state (primitive keys, no namespace) of an operator over all its key
   * groups; 0 disables it. Each keyed backend gets the share of its key
   * groups (at least 1): the subtasks of an operator together cache as much
   * at any parallelism, as each sees only its share of the keys. A
   * primitive value counts 1; an object value (cached when its serializer
   * has `copy`) counts 1 plus 1 per 64 bytes of its estimated serialized
   * size. Default 131072. When a fill of the cache sees fewer hits than
   * entries (keys cycle through more state than it holds), the next 16 to
   * 256 fills' worth of records bypass it.
   */
  readonly cacheEntries?: number;
}

/** Every option's name, for `checkOptionNames`. */
const LSM_OPTIONS: Record<keyof LsmStateBackendOptions, true> = {
  dir: true,
  memoryBytes: true,
  memtableBytes: true,
  blockCacheBytes: true,
  cacheEntries: true,
};

/**
 * Keyed state of one operator subtask in an LSM store.
 *
 * Segments live in the store's folder: `options.workDir` when given (kept on
 * dispose, the segment files removed), else a fresh folder removed on
 * dispose. Snapshots hard-link new segments into the checkpoint's folder
 * (copies when linking fails); restore links the handles' segments into the
 * store's folder and opens them lazily.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LsmStateBackend, Serializers, ValueStateDescriptor } from "@weir/weir";
 * const backend = new LsmStateBackend({ memtableBytes: 1 << 20 }).createKeyedBackend({
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
 * backend.dispose();
 * ```
 */
export class LsmKeyedStateBackend implements KeyedStateBackend {
  /** The key groups this backend holds. */
  readonly keyGroupRange: KeyGroupRange;
  /** @internal The store (state objects use it directly). */
  store: LsmStore;
  readonly #keySer: Serializer<unknown>;
  readonly #maxParallelism: number;
  readonly #operator: string;
  readonly #dir: string;
  /** The folder to remove on dispose (when the backend made it). */
  readonly #ownDir: string | undefined;
  readonly #states = new Map<string, Registered>();
  /** State names by id, for errors (kept after dispose: a late callback's error names its state). */
  readonly #stateNames = new Map<number, string>();
  /** Restored states not registered yet: their entries stay in the store and in snapshots. */
  readonly #pending = new Map<string, StateMeta>();
  #nextStateId = 1;
  // The current key, serialized once per setCurrentKey.
  #key: unknown = NO_KEY;
  /** Whether the key was dropped by `endKeyedCall` (not cleared or never set): the error says so. */
  #callEnded = false;
  /** The key `endKeyedCall` dropped and its bytes' state: the same key set again reuses them. */
  #endedKey: unknown = NO_KEY;
  #endedKeyLen = NO_KEY_LEN;
  #cacheKey: unknown = NO_CACHE;
  /** @internal The current key's table hash, when `setCurrentKey` was given it; else the caches hash the key. */
  keyHash: number | undefined = undefined;
  /** Units (`cacheEntries`) and entries the value caches hold. */
  #cached = 0;
  #cachedEntries = 0;
  /** @internal Reads the value cache answered since it was last emptied. */
  cacheHits = 0;
  /** Records left that bypass the value cache (it did not pay: keys rarely repeat). */
  #bypassLeft = 0;
  #bypassFills = BYPASS_MIN;
  readonly #single: LsmSingleValueState<unknown, unknown>[] = [];
  /** @internal Entries the value cache holds before it is flushed and emptied. */
  readonly cacheCapacity: number;
  #cur = new ByteWriter(64);
  #spare = new ByteWriter(64);
  #keyLen = NO_KEY_LEN;
  #kg = 0;
  #writes = 0;
  #inflight = 0;
  #obsolete: string[] = [];
  #disposed = false;
  /** Run first in every snapshot (the timer services write their new timers). */
  readonly #snapshotHooks: (() => void)[] = [];
  readonly #time: TtlTimeProvider;
  /** Decorated TTL states by name, with the descriptor and namespace serializer they were made for. */
  readonly #ttlStates = new Map<
    string,
    { descriptor: AnyStateDescriptor; namespace: unknown; state: unknown }
  >();
  /** Compaction-filter rules of the TTL states. */
  readonly #expiryRules: ExpiryRule[] = [];

  /** Creates a backend; restores from `options.restore` when given. */
  constructor(options: KeyedBackendOptions, config: LsmStateBackendOptions = {}) {
    this.keyGroupRange = options.keyGroupRange;
    this.#keySer = options.keySerializer;
    this.#maxParallelism = options.maxParallelism;
    this.#operator = options.operatorUid;
    this.cacheCapacity = cacheShare(
      config.cacheEntries ?? DEFAULT_CACHE_ENTRIES,
      options.keyGroupRange,
      options.maxParallelism,
    );
    this.#time = options.ttlTimeProvider ?? SYSTEM_TIME;
    if (options.workDir !== undefined) {
      this.#dir = options.workDir.replace(/\/+$/, "");
      Deno.mkdirSync(this.#dir, { recursive: true });
    } else if (config.dir !== undefined) {
      Deno.mkdirSync(config.dir, { recursive: true });
      this.#dir = makeWorkDir(
        config.dir,
        `${options.operatorUid.replace(/[^\w.-]/g, "_")}-${options.subtaskIndex}-`,
      );
      this.#ownDir = this.#dir;
    } else {
      this.#dir = makeWorkDir(undefined, "weir-lsm-");
      this.#ownDir = this.#dir;
    }
    try {
      const segments = options.restore ? this.#restore(options.restore) : [];
      this.store = LsmStore.open({
        dir: this.#dir,
        segments,
        ...storeMemory(config, options.memoryShare ?? 1),
        deleteObsoleteSegments: false,
      });
    } catch (e) {
      if (this.#ownDir) Deno.removeSync(this.#ownDir, { recursive: true });
      throw e;
    }
  }

  /**
   * Checks the handles' state tables and brings their segments into the
   * store's folder; returns the segment names to open, newest first.
   * A handle inside this subtask's key groups is linked as it is; a handle
   * reaching beyond them (scaling out) has the entries of this subtask's key
   * groups written into one new segment, so no segment of this store (and
   * no later snapshot) holds another subtask's key groups.
   */
  #restore(restore: KeyedRestore): string[] {
    const idOf = new Map<string, number>();
    const nameOf = new Map<number, string>();
    for (const handle of restore.handles) {
      for (const meta of handle.states) {
        const p = this.#pending.get(meta.name);
        if (p && p.typeId !== meta.typeId) {
          throw new StateError(
            `Cannot restore state "${meta.name}" of operator "${this.#operator}": ` +
              `snapshots disagree on its type (${p.typeId} vs ${meta.typeId})`,
          );
        }
        const known = idOf.get(meta.name);
        const other = nameOf.get(meta.id);
        if (
          (known !== undefined && known !== meta.id) || (other !== undefined && other !== meta.name)
        ) {
          throw new StateError(
            `Cannot restore operator "${this.#operator}": snapshots disagree on state ids ` +
              `(state "${meta.name}" has id ${
                known ?? meta.id
              } and ${meta.id}, id ${meta.id} names ` +
              `"${other ?? meta.name}" and "${meta.name}")`,
          );
        }
        idOf.set(meta.name, meta.id);
        nameOf.set(meta.id, meta.name);
        if (!p) this.#pending.set(meta.name, meta);
        this.#nextStateId = Math.max(this.#nextStateId, meta.id + 1);
      }
    }
    const { start, end } = this.keyGroupRange;
    const names: string[] = [];
    const seen = new Set<string>();
    for (const handle of restore.handles) {
      const r = handle.keyGroupRange;
      if (r.end < start || r.start > end) continue;
      if (r.start >= start && r.end <= end) {
        for (const seg of handle.segments) {
          if (seen.has(seg.name)) continue;
          seen.add(seg.name);
          this.#import(restore, seg.name);
          names.push(seg.name);
        }
        continue;
      }
      const range = { start: Math.max(start, r.start), end: Math.min(end, r.end) };
      const name = `${randomHex()}-restored.seg`;
      const info = writeSegment(
        new DenoSegmentFs(),
        `${this.#dir}/${name}`,
        readHandleEntries(restore, handle, range),
      );
      if (info.entries > 0) names.push(name);
      else Deno.removeSync(`${this.#dir}/${name}`);
    }
    return names;
  }

  /** Hard-links (or copies) a restored segment into the store's folder. */
  #import(restore: KeyedRestore, name: string): void {
    const src = restore.segmentPath(name);
    const dst = `${this.#dir}/${name}`;
    if (exists(dst)) return; // names are unique and segments immutable
    const size = restore.fs.size(src);
    if (size === undefined) {
      throw new CheckpointError(
        `Cannot restore operator "${this.#operator}": segment ${name} is missing (${src})`,
      );
    }
    if (restore.fs instanceof DenoSegmentFs) {
      try {
        Deno.linkSync(src, dst);
        return;
      } catch { /* another device: copy */ }
    }
    const buf = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const n = restore.fs.readAt(src, at, buf.subarray(at));
      if (n <= 0) break;
      at += n;
    }
    const tmp = `${this.#dir}/.${name}.tmp`;
    Deno.writeFileSync(tmp, buf.subarray(0, at));
    Deno.renameSync(tmp, dst);
  }

  /**
   * Makes `key` current: serialized once, when first needed; its key group is
   * `keyGroup` when the router gave one, else hashed from those bytes; the
   * value caches find it by `keyHash` when the router gave it.
   */
  setCurrentKey(key: unknown, keyGroup: number = UNKNOWN_KEY_GROUP, keyHash?: number): void {
    if (key === 0) key = 0; // -0 is the key 0, as === says: one state whichever comes first
    if (key === this.#key && typeof key !== "object") return;
    if (key === this.#endedKey && typeof key !== "object") {
      // The key of the call that just ended: its bytes (`#cur`) are still current.
      this.#key = key;
      this.#keyLen = this.#endedKeyLen;
      return;
    }
    this.#endedKey = NO_KEY; // `#cur` is about to hold another key's bytes
    const t = typeof key;
    if (t === "string" || t === "number" || t === "bigint" || t === "boolean") {
      // Serialized on first use: a cached value's key needs no bytes.
      this.#key = key;
      this.#keyLen = KEY_STALE;
      this.#kg = keyGroup;
      this.keyHash = keyHash;
      if (this.#bypassLeft > 0) {
        this.#bypassLeft--;
        this.#cacheKey = NO_CACHE;
      } else this.#cacheKey = key;
      return;
    }
    const w = this.#spare;
    w.reset();
    this.#keySer.write(key, w); // throws before anything changes
    this.#spare = this.#cur;
    this.#cur = w;
    this.#keyLen = w.length;
    this.#kg = keyGroup !== UNKNOWN_KEY_GROUP ? keyGroup : this.#groupOf(w);
    this.#key = key;
    this.#cacheKey = NO_CACHE;
  }

  /** @internal Serializes the current key if it is not yet; returns its length. */
  keyBytes(stateId?: number): number {
    const kl = this.#keyLen;
    if (kl >= 0) return kl;
    if (kl === NO_KEY_LEN) throw this.#noKey(stateId);
    const w = this.#cur;
    w.reset();
    this.#keySer.write(this.#key, w);
    if (this.#kg === UNKNOWN_KEY_GROUP) this.#kg = this.#groupOf(w);
    return this.#keyLen = w.length;
  }

  /** The key group of the key serialized in `w`. */
  #groupOf(w: ByteWriter): number {
    return keyGroupOfBytes(w.buf, this.#maxParallelism, w.length);
  }

  /** @internal The current key's group (the key is serialized if it is not yet). */
  keyGroup(): number {
    this.keyBytes();
    return this.#kg;
  }

  /** The current key. */
  currentKey(): unknown {
    if (this.#key === NO_KEY) throw this.#noKey();
    return this.#key;
  }

  /** Forgets the current key. */
  clearCurrentKey(): void {
    this.#key = NO_KEY;
    this.#keyLen = NO_KEY_LEN;
    this.#cacheKey = NO_CACHE;
    this.#callEnded = false;
    this.#endedKey = NO_KEY;
  }

  /** Ends the user call the current key was set for: state access throws until the next key. */
  endKeyedCall(): void {
    if (this.#key === NO_KEY) return;
    this.#endedKey = this.#key;
    this.#endedKeyLen = this.#keyLen;
    this.#key = NO_KEY;
    this.#keyLen = NO_KEY_LEN;
    this.#callEnded = true;
  }

  /** @internal The current key as a cache index (checked), or `NO_CACHE`. */
  cacheKey(stateId?: number): unknown {
    if (this.#keyLen === NO_KEY_LEN) throw this.#noKey(stateId);
    return this.#cacheKey;
  }

  /**
   * @internal Counts `units` more in the value caches (see `cacheEntries`),
   * of `newEntries` (0 or 1) new entries; a full cache is flushed and emptied.
   * A miss costs more than an uncached access (a map entry and a later
   * flush), a hit much less: a fill with fewer hits than entries did not pay,
   * so the next records bypass the cache (keys cycling through more state
   * than it holds never repeat in it).
   */
  cached(units: number, newEntries: number): void {
    this.#cachedEntries += newEntries;
    if ((this.#cached += units) < this.cacheCapacity) return;
    const entries = this.#cachedEntries;
    this.#flushCaches(true);
    if (this.cacheHits >= entries) {
      this.#bypassFills = BYPASS_MIN;
    } else {
      this.#bypassLeft = this.#bypassFills * this.cacheCapacity;
      this.#bypassFills = Math.min(BYPASS_MAX, this.#bypassFills * 2);
      this.#cacheKey = NO_CACHE; // the current key too
    }
    this.cacheHits = 0;
  }

  /** Writes every dirty cached value to the store; `drop` empties the caches. */
  #flushCaches(drop: boolean): void {
    for (const s of this.#single) s.flushCache(drop);
    if (drop) this.#cached = this.#cachedEntries = 0;
  }

  /**
   * @internal Puts `value` (or deletes, when undefined) under state `id` of
   * `key` of key group `kg`, which need not be current (cache flushes).
   */
  writeFor(
    key: unknown,
    kg: number,
    id: number,
    kw: ByteWriter,
    value: ByteWriter | undefined,
  ): void {
    kw.reset();
    this.#keySer.write(key, kw);
    const kl = kw.length;
    const vl = value?.length ?? 0;
    if (vl > MAX_SCRATCH_VALUE) {
      const k = new Uint8Array(4 + kl);
      putStateKeyHeader(k, kg, id);
      k.set(kw.buf.subarray(0, kl), 4);
      this.store.put(k, value!.buf.subarray(0, vl));
    } else {
      const k = this.store.keyScratch(4 + kl);
      putStateKeyHeader(k, kg, id);
      copyInto(k, 4, kw.buf, kl);
      if (value === undefined) this.store.deleteScratch(4 + kl);
      else {
        copyInto(this.store.valueScratch(vl), 0, value.buf, vl);
        this.store.putScratch(4 + kl, vl);
      }
    }
    this.wrote();
  }

  #noKey(stateId?: number): StateError {
    const name = stateId === undefined ? undefined : this.#stateNames.get(stateId);
    return noKeyError(this.#operator, name, this.#callEnded);
  }

  /**
   * @internal Writes `keyGroup | stateId | key | ns | tail` into the store's
   * key scratch; returns its length.
   */
  scratchKey(id: number, ns: Uint8Array, nsLen: number, tail: Uint8Array, tailLen: number): number {
    const kl = this.keyBytes(id);
    const n = 4 + kl + nsLen + tailLen;
    const ks = this.store.keyScratch(n);
    putStateKeyHeader(ks, this.#kg, id);
    copyInto(ks, 4, this.#cur.buf, kl);
    if (nsLen > 0) copyInto(ks, 4 + kl, ns, nsLen);
    if (tailLen > 0) copyInto(ks, 4 + kl + nsLen, tail, tailLen);
    return n;
  }

  /** @internal The same key as a fresh array. */
  fullKey(
    id: number,
    ns: Uint8Array,
    nsLen: number,
    tail: Uint8Array,
    tailLen: number,
  ): Uint8Array {
    const kl = this.keyBytes(id);
    const k = new Uint8Array(4 + kl + nsLen + tailLen);
    putStateKeyHeader(k, this.#kg, id);
    k.set(this.#cur.buf.subarray(0, kl), 4);
    k.set(ns.subarray(0, nsLen), 4 + kl);
    k.set(tail.subarray(0, tailLen), 4 + kl + nsLen);
    return k;
  }

  /** @internal Counts a write; now and then removes segments compaction replaced. */
  wrote(): void {
    if (++this.#writes >= OBSOLETE_CHECK_WRITES) {
      this.#writes = 0;
      this.#collectObsolete();
    }
  }

  /** Deletes replaced segments unless a snapshot in flight may still link them. */
  #collectObsolete(): void {
    for (const n of this.store.takeObsoleteSegments()) this.#obsolete.push(n);
    if (this.#inflight > 0 || this.#obsolete.length === 0) return;
    for (const n of this.#obsolete) {
      try {
        Deno.removeSync(`${this.#dir}/${n}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    this.#obsolete = [];
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
    const pending = this.#pending.get(d.name);
    const meta = stateMeta(pending?.id ?? this.#nextStateId++, d, ns);
    const migrate = pending && restoredStateMigration(pending, d, ns, this.#operator);
    if (migrate) this.#migrateStored(meta.id, migrate);
    let state: LsmState<unknown>;
    switch (d.kind) {
      case "value":
        state = new LsmValueState(this, meta.id, ns, d.serializer, d.defaultValue);
        break;
      case "list":
        state = new LsmListState(this, meta.id, ns, d.elementSerializer, d.name);
        break;
      case "map":
        state = new LsmMapState(this, meta.id, ns, d.keySerializer, d.valueSerializer);
        break;
      case "reducing":
        state = new LsmReducingState(this, meta.id, ns, d.serializer, d.reduce);
        break;
      case "aggregating":
        state = new LsmAggregatingState(
          this,
          meta.id,
          ns,
          d.accumulatorSerializer,
          d.aggregateFunction,
        );
        break;
    }
    this.#pending.delete(d.name);
    this.#states.set(d.name, { meta, state });
    this.#stateNames.set(meta.id, d.name);
    if (state instanceof LsmSingleValueState) this.#single.push(state);
    const ttl = innerTtlConfig(d);
    if (ttl?.cleanup.compactionFilter) {
      // Values of this state id carry their timestamp (layout in core/state/ttl.ts).
      this.#expiryRules.push({
        tag: new Uint8Array([meta.id >>> 8, meta.id & 0xff]),
        ttlMs: ttl.ttlMs,
        layout: d.kind === "list" ? "list" : "value",
      });
      const time = this.#time;
      this.store.setExpiryFilter({
        keyOffset: 2,
        rules: this.#expiryRules,
        now: () => Math.floor(time.now()),
      });
    }
    return state as unknown as StateFor<D> & NamespacedState<N>;
  }

  /**
   * Rewrites every stored value of state `id` in this subtask's key groups.
   * Restore opens segments without reading them, so a schema migration is
   * the one restore step that reads a state: done once, when the state is
   * registered, and only for a state whose schema changed. The new values
   * shadow the old ones in the segments the restore linked, so every later
   * read and snapshot sees the new encoding only.
   */
  #migrateStored(id: number, migrate: (value: Uint8Array) => Uint8Array): void {
    const prefix = new Uint8Array(4);
    prefix[2] = id >>> 8;
    prefix[3] = id & 0xff;
    for (let kg = this.keyGroupRange.start; kg <= this.keyGroupRange.end; kg++) {
      prefix[0] = kg >>> 8;
      prefix[1] = kg & 0xff;
      // Read the key group first: a scan may or may not see writes made during it.
      const entries = [...this.store.scan({ prefix })];
      for (const [k, v] of entries) this.store.put(k, migrate(v));
    }
    this.wrote();
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
    const inner = this.state(ttlInnerDescriptor(d, this.#time), namespaceSerializer);
    const state = wrapTtlState(d, inner as NamespacedState<unknown>, this.#time);
    this.#ttlStates.set(d.name, { descriptor: d, namespace: namespaceSerializer, state });
    return state as StateFor<D> & NamespacedState<N>;
  }

  /**
   * Freezes the memtable now (O(1)); the promise writes it as a segment and
   * links every live segment missing from `storage.dir` there.
   */
  snapshot(_checkpointId: number, storage: SnapshotStorage): Promise<KeyedStateHandle> {
    for (const hook of this.#snapshotHooks) hook();
    const states = [...[...this.#states.values()].map((r) => r.meta), ...this.#pending.values()];
    const keyGroupRange = this.keyGroupRange;
    this.#flushCaches(false);
    this.#collectObsolete();
    const pending = this.store.checkpoint();
    this.#inflight++;
    const run = async (): Promise<KeyedStateHandle> => {
      try {
        const infos = await pending.segments;
        // Synchronous from here: no compaction can remove a listed file meanwhile.
        storage.fs.mkdirp(storage.dir);
        const segments: SegmentRef[] = [];
        for (const s of infos) {
          this.#export(s.name, storage);
          segments.push({ name: s.name, size: s.size });
        }
        return { backend: "lsm", keyGroupRange, states, segments };
      } finally {
        this.#inflight--;
        if (!this.#disposed) this.#collectObsolete();
      }
    };
    return run();
  }

  /** Makes segment `name` exist in `storage.dir`: a hard link, else a copy. */
  #export(name: string, storage: SnapshotStorage): void {
    const dst = `${storage.dir}/${name}`;
    if (storage.fs.size(dst) !== undefined) return; // linked by an earlier checkpoint
    const src = `${this.#dir}/${name}`;
    if (storage.fs instanceof DenoSegmentFs) {
      try {
        Deno.linkSync(src, dst);
        return;
      } catch { /* another device or no hard links: copy */ }
    }
    copyThrough(storage.fs, src, `${storage.dir}/.${name}.tmp`, dst);
  }

  /** Names of the live segments (in the store's folder and, once snapshotted, in the checkpoint's). */
  liveSegments(): string[] {
    return this.store.stats().segments.map((s) => s.name);
  }

  /** Resolves when the store's flushes and compactions caught up with the writes (see `LsmStore.writeStall`). */
  writeStall(): Promise<void> | undefined {
    return this.store.writeStall();
  }

  /** ms the store's writes waited for flushes and compactions (`LsmStore` stats). */
  writeStallMs(): number {
    return this.store.stats().writeStallMs;
  }

  /** Runs `flush` first in every snapshot, before the memtable is frozen. */
  onSnapshot(flush: () => void): void {
    this.#snapshotHooks.push(flush);
  }

  /** Stores a raw entry. */
  rawPut(key: Uint8Array, value: Uint8Array): void {
    this.store.put(key, value);
    this.wrote();
  }

  /** Deletes a raw entry. */
  rawDelete(key: Uint8Array): void {
    this.store.delete(key);
    this.wrote();
  }

  /** Raw entries in `[start, end)`, ascending. */
  rawScan(start: Uint8Array, end: Uint8Array): Iterable<[Uint8Array, Uint8Array]> {
    return [...this.store.scan({ start, end })];
  }

  /** Every key with a value in state `name`: a prefix scan per owned key group. */
  *keys(name: string): Iterable<unknown> {
    const s = this.#states.get(name);
    if (!s) return;
    this.#flushCaches(false);
    const id = s.meta.id;
    const prefix = new Uint8Array(4);
    prefix[2] = id >>> 8;
    prefix[3] = id & 0xff;
    for (let kg = this.keyGroupRange.start; kg <= this.keyGroupRange.end; kg++) {
      prefix[0] = kg >>> 8;
      prefix[1] = kg & 0xff;
      // One key group at a time, read before yielding: callers may write meanwhile.
      const keys: unknown[] = [];
      let prev: Uint8Array | undefined;
      for (const [k] of this.store.scan({ prefix })) {
        const r = new ByteReader(k);
        r.pos = 4;
        const key = this.#keySer.read(r);
        const bytes = k.subarray(4, r.pos);
        // A key's entries (namespaces, map entries) are adjacent: its encoding is self-delimiting.
        if (prev !== undefined && sameBytes(prev, bytes)) continue;
        prev = bytes;
        keys.push(key);
      }
      yield* keys;
    }
  }

  /** Reads state `name` for `key`, keeping the current key (queryable state). */
  queryState(name: string, key: unknown): StateQueryResult {
    const s = this.#states.get(name);
    if (!s) return { found: false };
    checkQueryable(s.meta, this.#operator);
    const prev = this.#key;
    const callEnded = this.#callEnded;
    this.setCurrentKey(key);
    try {
      const st = s.state;
      if (st instanceof LsmSingleValueState && st.peek() === undefined) return { found: false };
      const value = readStateValue(s.meta.kind, st);
      return value === undefined ? { found: false } : { found: true, value };
    } finally {
      if (prev === NO_KEY) {
        this.clearCurrentKey();
        this.#callEnded = callEnded;
      } else this.setCurrentKey(prev);
    }
  }

  /** Names of the registered states. */
  stateNames(): string[] {
    return [...this.#states.keys()];
  }

  /** Closes the store and removes its files (the folder too when the backend made it). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#states.clear();
    this.#ttlStates.clear();
    let live: string[] = [];
    try {
      live = this.store.close({ discard: true }).map((s) => s.name);
    } finally {
      if (this.#ownDir) {
        Deno.removeSync(this.#ownDir, { recursive: true });
      } else {
        const obsolete = [...this.#obsolete, ...this.store.takeObsoleteSegments()];
        for (const n of [...live, ...obsolete]) {
          try {
            Deno.removeSync(`${this.#dir}/${n}`);
          } catch { /* already gone */ }
        }
      }
    }
  }
}

/** Copies a file into `fs` through a temporary name. */
function copyThrough(fs: SegmentFs, src: string, tmp: string, dst: string): void {
  const data = Deno.readFileSync(src);
  try {
    writeThroughTemp(fs, tmp, dst, data);
  } catch (e) {
    // The error of a failed write (a full disk) names no file.
    throw new StateError(
      `writing segment ${dst} failed: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}

/**
 * The LSM state backend: `--state-backend lsm`. Each keyed operator subtask
 * gets an LSM store of its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LsmStateBackend } from "@weir/weir";
 * const backend = new LsmStateBackend({ memtableBytes: 8 << 20, blockCacheBytes: 8 << 20 });
 * assert.ok(backend.name === "lsm");
 * ```
 */
export class LsmStateBackend implements StateBackend {
  /** Always `"lsm"`. */
  readonly name = "lsm";
  readonly #options: LsmStateBackendOptions;

  /** Creates the backend; `options` apply to every keyed backend it makes. */
  constructor(options: LsmStateBackendOptions = {}) {
    checkOptionNames("LsmStateBackend", options, LSM_OPTIONS);
    const memory = options.memoryBytes;
    if (memory !== undefined && (!Number.isSafeInteger(memory) || memory < 1)) {
      throw new ConfigError(
        `LsmStateBackend: memoryBytes must be a positive integer (bytes), got ${
          shownValue(memory)
        }`,
      );
    }
    this.#options = { ...options };
  }

  /** Creates the keyed backend of one operator subtask. */
  createKeyedBackend(options: KeyedBackendOptions): LsmKeyedStateBackend {
    return new LsmKeyedStateBackend(options, this.#options);
  }
}
