/**
 * The state backend contract. A {@linkcode StateBackend} makes one
 * {@linkcode KeyedStateBackend} per keyed operator subtask; the heap and the
 * LSM backends implement it, so user code never changes with the backend.
 *
 * @module
 */
import type {
  AggregatingStateDescriptor,
  AnyStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "./descriptors.ts";
import type { KeyGroupRange } from "./key_group.ts";
import type { StateMeta } from "./state_keys.ts";
import type { SegmentBatch } from "../../statestore-as/segment_batch.ts";
import type { SegmentFs } from "../../statestore-as/segment_fs.ts";
import type { Serializer } from "./serializer.ts";
import type { StateQueryResult } from "./queryable.ts";
import type { TtlTimeProvider } from "./ttl.ts";
import type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  State,
  ValueState,
} from "./state.ts";

/**
 * The state object a descriptor yields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ListStateDescriptor, Serializers, type StateFor } from "@weir/weir";
 * const d = new ListStateDescriptor("seen", Serializers.string);
 * // StateFor maps a descriptor type to the state type a backend returns for it.
 * const seen: StateFor<typeof d> = (() => {
 *   let items: string[] = [];
 *   return {
 *     get: () => items, add: (v: string) => void items.push(v), update: (v: string[]) => void (items = v),
 *     addAll: (v: string[]) => void items.push(...v), clear: () => void (items = []),
 *   };
 * })();
 * seen.add("a");
 * assert.deepEqual([...seen.get()!], ["a"]);
 * ```
 */
export type StateFor<D> = D extends ValueStateDescriptor<infer T> ? ValueState<T>
  : D extends ListStateDescriptor<infer T> ? ListState<T>
  : D extends MapStateDescriptor<infer K, infer V> ? MapState<K, V>
  : D extends ReducingStateDescriptor<infer T> ? ReducingState<T>
  : D extends AggregatingStateDescriptor<infer IN, infer _ACC, infer OUT>
    ? AggregatingState<IN, OUT>
  : State;

/**
 * A state object the runtime can move between namespaces (windows use one
 * namespace per window).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, Serializers, ValueStateDescriptor } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "w", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * // One value per (key, window end): the namespace selects the window.
 * const sum = backend.state(new ValueStateDescriptor("sum", Serializers.f64, 0), Serializers.f64);
 * backend.setCurrentKey("k");
 * sum.setNamespace(1000);
 * sum.update(5);
 * sum.setNamespace(2000);
 * assert.equal(sum.value(), 0);
 * sum.setNamespace(1000);
 * assert.equal(sum.value(), 5);
 * ```
 */
export interface NamespacedState<N> {
  /** Scopes the following calls to namespace `ns`. */
  setNamespace(ns: N): void;
  /**
   * Optional (the heap backend has it): removes every key's value in
   * namespace `ns`, then calls `fn` with each key and stored value, in
   * insertion order. The window operator fires a whole window with it.
   */
  drainNamespace?(ns: N, fn: (key: unknown, value: unknown) => void): void;
}

/**
 * A segment file a snapshot references.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SegmentRef } from "@weir/weir";
 * const segments: SegmentRef[] = [{ name: "0001.seg", size: 100 }, { name: "0002.seg", size: 50 }];
 * assert.equal(segments.reduce((n, s) => n + s.size, 0), 150);
 * ```
 */
export interface SegmentRef {
  /** File name (globally unique). */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
}

/**
 * What a keyed snapshot of one subtask leaves: the state table and the
 * segments (in the layout of `state_keys.ts`) that hold the key groups.
 * Backends read each other's handles: a savepoint of the heap backend
 * restores into the LSM backend and back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   DenoCheckpointFs, HeapStateBackend, type KeyedStateHandle, Serializers, ValueStateDescriptor,
 * } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "count", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * backend.state(new ValueStateDescriptor("count", Serializers.f64, 0));
 * let n = 0;
 * const dir = Deno.makeTempDirSync();
 * const handle: KeyedStateHandle = await backend.snapshot(1, {
 *   fs: new DenoCheckpointFs(), dir, newSegmentName: () => `${++n}.seg`,
 * });
 * assert.equal(handle.backend, "heap");
 * assert.deepEqual(handle.states.map((s) => s.name), ["count"]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface KeyedStateHandle {
  /** The backend that wrote it (`"heap"`, `"lsm"`). */
  readonly backend: string;
  /** Key groups the subtask held. */
  readonly keyGroupRange: KeyGroupRange;
  /** State ids, names and types. */
  readonly states: readonly StateMeta[];
  /** Segments, newest first (a newer segment's entry wins over an older one's). */
  readonly segments: readonly SegmentRef[];
}

/**
 * Where a snapshot writes its segments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs, HeapStateBackend, Serializers, type SnapshotStorage } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * let n = 0;
 * const dir = Deno.makeTempDirSync();
 * const storage: SnapshotStorage = {
 *   fs: new DenoCheckpointFs(), dir, newSegmentName: () => `${++n}.seg`,
 * };
 * const handle = await backend.snapshot(1, storage);
 * assert.ok(handle.segments.every((s) => s.name.endsWith(".seg")));
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface SnapshotStorage {
  /** File system. */
  readonly fs: SegmentFs;
  /** Directory for new segments. */
  readonly dir: string;
  /** A new globally unique segment file name. */
  newSegmentName(): string;
}

/**
 * What a keyed backend restores from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   DenoCheckpointFs, HeapStateBackend, type KeyedRestore, Serializers, ValueStateDescriptor,
 * } from "@weir/weir";
 * const desc = new ValueStateDescriptor("v", Serializers.f64, 0);
 * const options = {
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * };
 * const fs = new DenoCheckpointFs();
 * const dir = Deno.makeTempDirSync();
 * const before = new HeapStateBackend().createKeyedBackend(options);
 * before.setCurrentKey("k");
 * before.state(desc).update(42);
 * let n = 0;
 * const handle = await before.snapshot(1, { fs, dir, newSegmentName: () => `${++n}.seg` });
 * const restore: KeyedRestore = { handles: [handle], fs, segmentPath: (name) => `${dir}/${name}` };
 * const after = new HeapStateBackend().createKeyedBackend({ ...options, restore });
 * after.setCurrentKey("k");
 * assert.equal(after.state(desc).value(), 42);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface KeyedRestore {
  /** Handles of every old subtask whose key groups overlap this one's. */
  readonly handles: readonly KeyedStateHandle[];
  /** File system. */
  readonly fs: SegmentFs;
  /** The path of a segment named in a handle. */
  segmentPath(name: string): string;
}

/**
 * Options every keyed backend is created with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, type KeyedBackendOptions, keyGroupRangeForSubtask, Serializers } from "@weir/weir";
 * // Subtask 1 of 2 holds the upper half of 128 key groups.
 * const options: KeyedBackendOptions = {
 *   operatorUid: "counter", subtaskIndex: 1, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: keyGroupRangeForSubtask(128, 2, 1),
 * };
 * const backend = new HeapStateBackend().createKeyedBackend(options);
 * assert.deepEqual(backend.keyGroupRange, { start: 64, end: 127 });
 * ```
 */
export interface KeyedBackendOptions {
  /** The operator's uid. */
  readonly operatorUid: string;
  /** Which subtask this backend serves. */
  readonly subtaskIndex: number;
  /** Serializes the stream's keys. */
  readonly keySerializer: Serializer<unknown>;
  /** Number of key groups. */
  readonly maxParallelism: number;
  /** The key groups this subtask owns. */
  readonly keyGroupRange: KeyGroupRange;
  /** A private working directory the backend may use (the LSM backend's segments). */
  readonly workDir?: string;
  /** Snapshots to restore from. */
  readonly restore?: KeyedRestore;
  /**
   * Processing time for state TTL (the job passes its clock); default
   * `Date.now()`.
   */
  readonly ttlTimeProvider?: TtlTimeProvider;
  /**
   * The share (0 to 1) of the state backend's memory this keyed backend may
   * take: the runtime gives each keyed operator subtask of a job an equal
   * one, as Flink divides managed memory among operators. Default 1.
   */
  readonly memoryShare?: number;
}

/**
 * Keyed state of one operator subtask. The runtime sets the current key before
 * each call into user code; state objects read it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeyedStateBackend, LsmStateBackend, Serializers, ValueStateDescriptor } from "@weir/weir";
 * const backend: KeyedStateBackend = new LsmStateBackend().createKeyedBackend({
 *   operatorUid: "count", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const count = backend.state(new ValueStateDescriptor("count", Serializers.f64, 0));
 * for (const key of ["a", "b", "a"]) {
 *   backend.setCurrentKey(key);
 *   count.update(count.value()! + 1);
 * }
 * assert.deepEqual([...backend.keys("count")].toSorted(), ["a", "b"]);
 * backend.setCurrentKey("a");
 * assert.equal(count.value(), 2);
 * backend.dispose();
 * ```
 */
export interface KeyedStateBackend {
  /** The key groups this backend holds. */
  readonly keyGroupRange: KeyGroupRange;
  /**
   * Makes `key` current for every state object of this backend. `keyGroup`
   * is the key's group when the caller has it already (the channel that
   * routed the record hashed the same key with the same key serializer): a
   * backend that files state by key group uses it rather than hashing the
   * key again. A wrong one files the key's state in the wrong group.
   * `keyHash`, likewise, is a string key's hash in the backend's key tables
   * (`tableHash`: `stringKeyHash` of a string of up to 64 chars, ignored for
   * other keys), which the channel computed beside its key group; a wrong one
   * loses the key's state.
   */
  setCurrentKey(key: unknown, keyGroup?: number, keyHash?: number): void;
  /** The current key; throws `StateError` outside a keyed context. */
  currentKey(): unknown;
  /** Forgets the current key: state access now throws until a key is set. */
  clearCurrentKey(): void;
  /**
   * Ends the synchronous user call the current key was set for (the runtime
   * calls it when `processElement`, `onTimer`, a window function, ... returns).
   * State access then throws a `StateError` naming the state and the operator
   * until the next `setCurrentKey`: a callback that runs later (a timer of
   * `setTimeout`, code after an `await`) would otherwise use whichever key is
   * current by then.
   */
  endKeyedCall(): void;
  /**
   * Returns the state object for `descriptor`, created on first use. A second
   * call with the same name and a different type throws `StateError`.
   */
  state<D extends AnyStateDescriptor, N = undefined>(
    descriptor: D,
    namespaceSerializer?: Serializer<N>,
  ): StateFor<D> & NamespacedState<N>;
  /** Every key that has a value in state `name` (in any namespace). */
  keys(name: string): Iterable<unknown>;
  /** Names of the registered states. */
  stateNames(): string[];
  /**
   * Reads state `name` for `key` without changing the current key (queryable
   * state). Run it on the owning task between batches, never concurrently
   * with processing. Unknown state or key: `found: false`.
   */
  queryState?(name: string, key: unknown): StateQueryResult;
  /**
   * Takes a snapshot: the synchronous part runs now (the heap backend copies
   * its state to bytes, the LSM backend freezes its memtable); the returned
   * promise is the asynchronous part that writes segments.
   */
  snapshot(checkpointId: number, storage: SnapshotStorage): Promise<KeyedStateHandle>;
  /**
   * Registers `flush`, run first in every snapshot's synchronous part: the
   * timer service writes its new timers' raw entries then instead of on every
   * registration. A backend without it gets every timer written through.
   */
  onSnapshot?(flush: () => void): void;
  /**
   * Hands the raw entries of `stateIds` (timers) over to `source`: returns
   * the restored ones (in no particular order) and keeps none of them. Every
   * snapshot then writes what `source` captures in its synchronous part (a
   * copy of references), serialized in the asynchronous part. A backend
   * without it keeps such entries itself (`rawPut`, `onSnapshot`).
   */
  takeRawEntries?(
    stateIds: readonly number[],
    source: RawSnapshotSource,
  ): Iterable<[Uint8Array, Uint8Array]>;
  /**
   * Resolves when the background work the backend's writes wait for has
   * caught up (the LSM backend's flushes and compactions); undefined when
   * writes need not wait. The task awaits it between batches, so a write
   * stall becomes backpressure on the job's sources.
   */
  writeStall?(): Promise<void> | undefined;
  /** ms writes have waited for background work so far (write stalls). */
  writeStallMs?(): number;
  /** Stores raw bytes under a store key (timers use reserved state ids). */
  rawPut(key: Uint8Array, value: Uint8Array): void;
  /** Deletes a raw store key. */
  rawDelete(key: Uint8Array): void;
  /** Raw entries with keys in `[start, end)`, ascending. */
  rawScan(start: Uint8Array, end: Uint8Array): Iterable<[Uint8Array, Uint8Array]>;
  /** Releases memory and files. */
  dispose(): void;
}

/**
 * Raw entries a backend's snapshots write on behalf of their owner (the timer
 * service), which keeps them in its own structures.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs, HeapStateBackend, type RawSnapshotSource, Serializers } from "@weir/weir";
 * const options = {
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * };
 * const entry = new Uint8Array([0, 1, 0xff, 0xf1, 7]); // key group 1, a reserved state id
 * const source: RawSnapshotSource = {
 *   count: () => 1,
 *   changes: () => 1,
 *   capture: () => (out) => out.put(entry, new Uint8Array([42])),
 * };
 * const fs = new DenoCheckpointFs();
 * const dir = Deno.makeTempDirSync();
 * const before = new HeapStateBackend().createKeyedBackend(options);
 * before.takeRawEntries([0xfff1], source);
 * const handle = await before.snapshot(1, { fs, dir, newSegmentName: () => "1.seg" });
 * const restore = { handles: [handle], fs, segmentPath: (name: string) => `${dir}/${name}` };
 * const after = new HeapStateBackend().createKeyedBackend({ ...options, restore });
 * const restored = [...after.takeRawEntries([0xfff1], source)];
 * assert.deepEqual(restored, [[entry, new Uint8Array([42])]]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface RawSnapshotSource {
  /** Entries held: what a full snapshot writes. */
  count(): number;
  /** Puts and deletes since the last capture: what a delta writes. */
  changes(): number;
  /**
   * The synchronous part of a snapshot: captures every entry (`full`) or the
   * changes since the last capture, without serializing them, and returns the
   * asynchronous part, which adds them to `out`. Changes after the capture do
   * not reach `out`.
   */
  capture(full: boolean): (out: SegmentBatch) => void;
}

/**
 * Makes keyed backends. Select one per job: `--state-backend heap|lsm`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, type StateBackend } from "@weir/weir";
 * const backend: StateBackend = new HeapStateBackend();
 * assert.ok(backend.name === "heap");
 * ```
 */
export interface StateBackend {
  /** `"heap"`, `"lsm"`, ... */
  readonly name: string;
  /** Creates the keyed backend of one operator subtask. */
  createKeyedBackend(options: KeyedBackendOptions): KeyedStateBackend;
}
