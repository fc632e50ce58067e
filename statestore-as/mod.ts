/**
 * weir's state store: an LSM key-value store written in AssemblyScript and
 * compiled to WebAssembly, with a synchronous typed facade.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LsmStore } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const s = LsmStore.open({ dir });
 * s.put(new Uint8Array([1]), new Uint8Array([2]));
 * assert.ok(s.get(new Uint8Array([1]))![0] === 2);
 * s.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @module
 */
export {
  LsmStore,
  type LsmStoreOptions,
  type LsmStoreStats,
  type PendingCheckpoint,
  readSegment,
  readSegmentKeys,
  readSegmentRawRecords,
  type ScanRange,
  segmentFileName,
  type SegmentInfo,
  writeSegment,
  writeSegmentBatch,
} from "./lsm_store.ts";
export { SegmentBatch } from "./segment_batch.ts";
export {
  SegmentBatchWriter,
  writeSegmentBatchAsync,
  type WriteSegmentBatchOptions,
} from "./segment_batch_writer.ts";
export { DenoSegmentFs, type SegmentFile, type SegmentFs } from "./segment_fs.ts";
