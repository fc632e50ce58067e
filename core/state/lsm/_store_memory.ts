/**
 * How much memory the LSM store of one keyed backend takes: its memtables (the
 * store reserves three: the active one, a frozen one being written and one
 * queued behind it) and its block cache. The keyed backends of a job share
 * `memoryBytes`, as Flink's managed memory: each takes its share, up to the
 * sizes one store takes alone, never under the least a store accepts.
 *
 * The share matters at high parallelism: every keyed operator subtask has a
 * store of its own, so a job has (keyed operators) × (parallelism) of them in
 * one process. Besides the memory a full memtable holds, each store's open
 * grows its WebAssembly memory by three memtables, and V8 answers that much
 * more memory outside its heap with a full garbage collection of the thread's
 * JS heap: smaller stores open without one.
 *
 * @module
 */
import type { LsmStateBackendOptions } from "./lsm_backend.ts";

/** Bytes of a memtable when one store has its budget to itself. */
export const DEFAULT_MEMTABLE_BYTES = 64 << 20;
/** Bytes of a block cache when one store has its budget to itself. */
export const DEFAULT_BLOCK_CACHE_BYTES = 16 << 20;
/** Bytes all the stores of a job share unless `memoryBytes` says. */
export const DEFAULT_MEMORY_BYTES = 2 ** 31;
/** The least memtable and block cache a store accepts; sizes are multiples of it. */
const LEAST_BYTES = 64 << 10;
/** What one store takes at the default sizes. */
const FULL_STORE_BYTES = 3 * DEFAULT_MEMTABLE_BYTES + DEFAULT_BLOCK_CACHE_BYTES;

/** A store's memtable and block cache sizes. */
export interface StoreMemory {
  /** Bytes per memtable. */
  readonly memtableBytes: number;
  /** Bytes of the block cache. */
  readonly blockCacheBytes: number;
}

/**
 * The sizes of a store that takes `share` (0 to 1) of the budget: the
 * defaults scaled down alike when the share holds less than one store at
 * the defaults. `memtableBytes` or `blockCacheBytes` given in `options` win.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { storeMemory } from "./_store_memory.ts";
 * // Two keyed subtasks share 2 GiB: each store takes the defaults.
 * assert.deepEqual(storeMemory({}, 1 / 2), { memtableBytes: 64 << 20, blockCacheBytes: 16 << 20 });
 * // 200 of them: about 10 MiB each, in the same proportions.
 * assert.deepEqual(storeMemory({}, 1 / 200), { memtableBytes: 3200 << 10, blockCacheBytes: 768 << 10 });
 * ```
 */
export function storeMemory(options: LsmStateBackendOptions, share: number): StoreMemory {
  const budget = (options.memoryBytes ?? DEFAULT_MEMORY_BYTES) * share;
  const scale = Math.min(1, budget / FULL_STORE_BYTES);
  const sized = (bytes: number) =>
    Math.max(LEAST_BYTES, Math.floor(bytes * scale / LEAST_BYTES) * LEAST_BYTES);
  return {
    memtableBytes: options.memtableBytes ?? sized(DEFAULT_MEMTABLE_BYTES),
    blockCacheBytes: options.blockCacheBytes ?? sized(DEFAULT_BLOCK_CACHE_BYTES),
  };
}
