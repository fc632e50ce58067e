// deno-fmt-ignore-file
// A batch of unsorted entries written as one segment (the heap backend's
// snapshots): the host copies the batch into linear memory, batchSort puts
// it in key order, batchWrite feeds it to the segment writer. Sorting here
// rather than in JS: an array of [key, value] pairs sorted with a byte
// comparator costs ~0.3 s per million entries in Deno, plus the objects.
//
// Batch layout (little-endian), entries back to back:
//   +0 u32 keyLen
//   +4 u32 valLen (DELETE: a delete, no value bytes)
//   +8 key bytes [keyLen], then value bytes [valLen]
//
// Sort items, 16 bytes each, one per entry:
//   +0  u64 the 8 key bytes at the current depth, big-endian, zero-padded
//   +8  u32 key bytes left at that depth, capped at 9 (a key sorts before
//           its extensions: "ab" < "ab\0")
//   +12 u32 the entry's offset in the batch
// MSD by 8-byte chunks: sort a range by (chunk, left) with integer compares
// over the sequential item array, then sort each run of equal chunks whose
// keys go on by their next chunk. Each level reads every key of its range
// once. Cost: O(n log n) integer compares per level; levels = shared key
// prefix / 8 + 1. Runs still tied at MAX_DEPTH fall back to byte compares.

import { ERR_ARG } from "./status";
import { cmpBytes, hashKey } from "./util";
import { KIND_DEL, KIND_PUT } from "./memtable";
import { writerAdd } from "./segment";

export const DELETE: u32 = 0xffffffff;
const ITEM: usize = 16;
const MAX_DEPTH: u32 = 64;

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

// @ts-ignore: decorator
@inline
function chunk(item: usize, depth: u32): void {
  const e: usize = batch + <usize> load<u32>(item, 12);
  const kl: u32 = load<u32>(e);
  const k: usize = e + 8 + depth;
  const left: u32 = kl > depth ? kl - depth : 0;
  let c: u64 = 0;
  if (left >= 8) c = bswap<u64>(load<u64>(k));
  else {
    for (let i: u32 = 0; i < left; i++) c |= (<u64> load<u8>(k + i)) << (56 - (i << 3));
  }
  store<u64>(item, c);
  store<u32>(item, left > 9 ? 9 : left, 8);
}

// @ts-ignore: decorator
@inline
function less(a: usize, b: usize): bool {
  const ca: u64 = load<u64>(a);
  const cb: u64 = load<u64>(b);
  if (ca != cb) return ca < cb;
  return load<u32>(a, 8) < load<u32>(b, 8);
}

// @ts-ignore: decorator
@inline
function sameChunk(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u32>(a, 8) == load<u32>(b, 8);
}

// @ts-ignore: decorator
@inline
function copyItem(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst, load<u64>(src, 8), 8);
}

function keyLess(a: usize, b: usize): bool {
  const ea: usize = batch + <usize> load<u32>(a, 12);
  const eb: usize = batch + <usize> load<u32>(b, 12);
  return cmpBytes(ea + 8, load<u32>(ea), eb + 8, load<u32>(eb)) < 0;
}

/** Stable merge sort of items [lo, hi) by (chunk, left), or by whole keys when byKey. */
function sortItems(lo: u32, hi: u32, byKey: bool): void {
  const n: u32 = hi - lo;
  const base: usize = items + <usize> lo * ITEM;
  // Insertion sort of runs of 16, then bottom-up merges through tmp.
  const RUN: u32 = 16;
  for (let s: u32 = 0; s < n; s += RUN) {
    const e: u32 = s + RUN < n ? s + RUN : n;
    for (let i: u32 = s + 1; i < e; i++) {
      const x0: u64 = load<u64>(base + <usize> i * ITEM);
      const x1: u64 = load<u64>(base + <usize> i * ITEM, 8);
      store<u64>(tmp, x0);
      store<u64>(tmp, x1, 8);
      let j: u32 = i;
      while (j > s) {
        const p: usize = base + <usize> (j - 1) * ITEM;
        if (!(byKey ? keyLess(tmp, p) : less(tmp, p))) break;
        copyItem(p + ITEM, p);
        j--;
      }
      store<u64>(base + <usize> j * ITEM, x0);
      store<u64>(base + <usize> j * ITEM, x1, 8);
    }
  }
  let src: usize = base;
  let dst: usize = tmp;
  for (let w: u32 = RUN; w < n; w <<= 1) {
    for (let s: u32 = 0; s < n; s += w << 1) {
      const mid: u32 = s + w < n ? s + w : n;
      const end: u32 = s + (w << 1) < n ? s + (w << 1) : n;
      let i: u32 = s, j: u32 = mid, k: u32 = s;
      while (i < mid && j < end) {
        const a: usize = src + <usize> i * ITEM;
        const b: usize = src + <usize> j * ITEM;
        if (byKey ? keyLess(b, a) : less(b, a)) {
          copyItem(dst + <usize> k * ITEM, b);
          j++;
        } else {
          copyItem(dst + <usize> k * ITEM, a);
          i++;
        }
        k++;
      }
      if (i < mid) memory.copy(dst + <usize> k * ITEM, src + <usize> i * ITEM, <usize> (mid - i) * ITEM);
      if (j < end) memory.copy(dst + <usize> k * ITEM, src + <usize> j * ITEM, <usize> (end - j) * ITEM);
    }
    const t: usize = src;
    src = dst;
    dst = t;
  }
  if (src != base) memory.copy(base, src, <usize> n * ITEM);
}

function sortLevel(lo: u32, hi: u32, depth: u32): void {
  if (depth >= MAX_DEPTH) {
    sortItems(lo, hi, true);
    return;
  }
  for (let i: u32 = lo; i < hi; i++) chunk(items + <usize> i * ITEM, depth);
  sortItems(lo, hi, false);
  // Runs of equal chunks whose keys go on: order them by what follows.
  let s: u32 = lo;
  while (s < hi) {
    const a: usize = items + <usize> s * ITEM;
    let e: u32 = s + 1;
    while (e < hi && sameChunk(a, items + <usize> e * ITEM)) e++;
    if (e - s > 1 && load<u32>(a, 8) == 9) sortLevel(s, e, depth + 8);
    s = e;
  }
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
    store<u32>(items + <usize> i * ITEM, off, 12);
    off += <u32> size;
  }
  if (off != batchLen) return ERR_ARG;
  if (count > 1) sortLevel(0, count, 0);
  return 0;
}

/** Adds the sorted batch to the segment writer (writeBegin first). Returns 0 or the writer's error. */
export function batchWrite(): i32 {
  for (let i: u32 = 0; i < count; i++) {
    const e: usize = batch + <usize> load<u32>(items + <usize> i * ITEM, 12);
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
