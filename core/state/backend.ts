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

/** The state object a descriptor yields. */
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
 */
export interface NamespacedState<N> {
  /** Scopes the following calls to namespace `ns`. */
  setNamespace(ns: N): void;
}

/** A segment file a snapshot references. */
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

/** Where a snapshot writes its segments. */
export interface SnapshotStorage {
  /** File system. */
  readonly fs: SegmentFs;
  /** Directory for new segments. */
  readonly dir: string;
  /** A new globally unique segment file name. */
  newSegmentName(): string;
}

/** What a keyed backend restores from. */
export interface KeyedRestore {
  /** Handles of every old subtask whose key groups overlap this one's. */
  readonly handles: readonly KeyedStateHandle[];
  /** File system. */
  readonly fs: SegmentFs;
  /** The path of a segment named in a handle. */
  segmentPath(name: string): string;
}

/** Options every keyed backend is created with. */
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
}

/**
 * Keyed state of one operator subtask. The runtime sets the current key before
 * each call into user code; state objects read it.
 */
export interface KeyedStateBackend {
  /** The key groups this backend holds. */
  readonly keyGroupRange: KeyGroupRange;
  /** Makes `key` current for every state object of this backend. */
  setCurrentKey(key: unknown): void;
  /** The current key; throws `StateError` outside a keyed context. */
  currentKey(): unknown;
  /** Forgets the current key: state access now throws until a key is set. */
  clearCurrentKey(): void;
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
