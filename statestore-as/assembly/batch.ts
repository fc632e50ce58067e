// deno-fmt-ignore-file
// A batch of unsorted entries written as one segment (the heap backend's
// snapshots): the host copies the batch into linear memory, batchSort puts
// it in key order, batchWrite feeds it to the segment writer. Sorting here
// rather than in JS: an array of [key, value] pairs sorted with a byte
// comparator calls back into JS per compare, and needs the pair objects.
//
// Batch layout (little-endian), entries back to back:
//   +0 u32 keyLen
//   +4 u32 valLen (DELETE: a delete, no value bytes)
//   +8 key bytes [keyLen], then value bytes [valLen]
//
// The batch is sorted with keySort (keysort.ts): items refer to entries by
// their offset in the batch.

import { ERR_ARG } from "./status";
import { hashKey, keepLoads } from "./util";
import { ITEM, itemRef, keySort, setItemRef } from "./keysort";
import { KIND_DEL, KIND_PUT } from "./memtable";
import { writerAdd } from "./segment";

export const DELETE: u32 = 0xffffffff;

let batch: usize = 0;
let batchLen: u32 = 0;
let count: u32 = 0;
let items: usize = 0;
let tmp: usize = 0;

/** Frees the last batch, allocates room for a new one; returns where the host writes it. */
export function batchAlloc(len: u32, n: u32): usize {
  batchFree();
  batch = heap.alloc(<usize> len);
  batchLen = len;
  count = n;
  items = heap.alloc(<usize> n * ITEM);
  tmp = heap.alloc(<usize> n * ITEM);
  return batch;
}

function batchFree(): void {
  if (batch == 0) return;
  heap.free(batch);
  heap.free(items);
  heap.free(tmp);
  batch = 0;
  items = 0;
  tmp = 0;
}

/**
 * Puts the batch in key order. Returns 0, or ERR_ARG when the entries do
 * not fill the batch exactly.
 */
export function batchSort(): i32 {
  let off: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    if (<u64> off + 8 > <u64> batchLen) return ERR_ARG;
    const kl: u32 = load<u32>(batch + off);
    const vl: u32 = load<u32>(batch + off, 4);
    const size: u64 = 8 + <u64> kl + (vl == DELETE ? 0 : <u64> vl);
    if (<u64> off + size > <u64> batchLen) return ERR_ARG;
    setItemRef(items, i, off);
    off += <u32> size;
  }
  if (off != batchLen) return ERR_ARG;
  keySort(items, tmp, count, batch, 8);
  return 0;
}

// In key order the entries sit at random places in the batch: a cache miss
// each. Every 8 entries batchWrite loads the next 8 entries' first bytes,
// back to back, so those misses overlap (as memCur does in iterator.ts).

/** Adds the sorted batch to the segment writer (writeBegin first). Returns 0 or the writer's error. */
export function batchWrite(): i32 {
  for (let i: u32 = 0; i < count; i++) {
    if ((i & 7) == 0) {
      let sum: u32 = 0;
      const end: u32 = min<u32>(i + 16, count);
      for (let j: u32 = i + 8; j < end; j++) sum += load<u8>(batch + <usize> itemRef(items, j));
      keepLoads(sum);
    }
    const e: usize = batch + <usize> itemRef(items, i);
    const kl: u32 = load<u32>(e);
    const vl: u32 = load<u32>(e, 4);
    const k: usize = e + 8;
    const st: i32 = vl == DELETE
      ? writerAdd(KIND_DEL, k, kl, 0, 0, hashKey(k, kl))
      : writerAdd(KIND_PUT, k, kl, k + kl, vl, hashKey(k, kl));
    if (st < 0) return st;
  }
  return 0;
}
