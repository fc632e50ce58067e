/**
 * The entries of a packed {@linkcode SegmentBatch} in key order, sorted in
 * JavaScript: the path for a batch too large for one block of the
 * WebAssembly store's allocator.
 *
 * @module
 */
import { StateError } from "../core/errors.ts";
import { BATCH_DELETE, type SegmentBatch } from "./segment_batch.ts";

/**
 * Largest batch (bytes) that {@linkcode writeSegmentBatch} sorts in
 * WebAssembly. The sort copies the batch into one allocation of the store's
 * memory, whose allocator gives at most 1 GiB per block and which also holds
 * two index arrays and the segment being built; above this the entries are
 * sorted here and streamed into the segment one at a time.
 */
export const WASM_SORT_MAX_BYTES = 512 << 20;

/**
 * `batch`'s entries sorted by key (bytewise), each a [key, value] view into
 * the batch (value `null` for a delete). Costs one array of entries and a
 * comparison sort on this thread. Throws a `StateError` when a key occurs
 * twice, as the WebAssembly sort does.
 */
export function sortedBatchEntries(batch: SegmentBatch): [Uint8Array, Uint8Array | null][] {
  const bytes = batch.bytes();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: [Uint8Array, Uint8Array | null][] = new Array(batch.count);
  let at = 0;
  for (let i = 0; i < batch.count; i++) {
    const keyLength = view.getUint32(at, true);
    const valueLength = view.getUint32(at + 4, true);
    const key = bytes.subarray(at + 8, at + 8 + keyLength);
    at += 8 + keyLength;
    if (valueLength === BATCH_DELETE) {
      entries[i] = [key, null];
    } else {
      entries[i] = [key, bytes.subarray(at, at + valueLength)];
      at += valueLength;
    }
  }
  if (at !== bytes.length) {
    throw new StateError(`a segment batch of ${batch.count} entries does not fill its bytes`);
  }
  entries.sort((a, b) => compareBytes(a[0], b[0]));
  for (let i = 1; i < entries.length; i++) {
    if (compareBytes(entries[i - 1]![0], entries[i]![0]) === 0) {
      throw new StateError(`writeSegmentBatch: a key occurs twice in the batch`);
    }
  }
  return entries;
}

/** Bytewise order of `a` and `b`: negative, 0 or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
