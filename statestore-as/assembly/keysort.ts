// deno-fmt-ignore-file
// Sorting records by key: the memtable at flush and the heap backend's
// snapshot batches. A comparison sort over record pointers touches two
// records per compare, scattered over memory (two cache misses a compare);
// this sort compares integers in a sequential item array instead.
//
// A record: u32 keyLen at base + ref, its key bytes at base + ref + keyAt.
//
// Sort items, 24 bytes each, one per record:
//   +0  u64 key bytes [depth, depth + 8), big-endian, zero-padded
//   +8  u64 key bytes [depth + 8, depth + 16), the same
//   +16 u32 key bytes left at depth, capped at 17 (a key sorts before its
//           extensions: "ab" < "ab\0"; 17 = the key goes on past 16 bytes)
//   +20 u32 ref: the record's offset from base
// MSD by 16-byte chunks: sort a range by (chunks, left) with integer
// compares, then sort each run of equal chunks whose keys go on by the next
// 16 bytes. Each level reads every key of its range once; the first level
// reads the records in the order given (arena order for the memtable), so
// keys that differ in their first 16 bytes cost one sequential pass over
// the records plus a merge sort of the items. Runs still tied at MAX_DEPTH
// fall back to byte compares.

import { cmpBytes } from "./util";

export const ITEM: usize = 24;
const MAX_DEPTH: u32 = 64;
const MORE: u32 = 17;

let base: usize = 0;
let keyAt: usize = 0;
let items: usize = 0;
let tmp: usize = 0;

// @ts-ignore: decorator
@inline
function bigEndian(k: usize, left: u32): u64 {
  if (left >= 8) return bswap<u64>(load<u64>(k));
  let c: u64 = 0;
  for (let i: u32 = 0; i < left; i++) c |= (<u64> load<u8>(k + i)) << (56 - (i << 3));
  return c;
}

// @ts-ignore: decorator
@inline
function fill(item: usize, depth: u32): void {
  const r: usize = base + <usize> load<u32>(item, 20);
  const kl: u32 = load<u32>(r);
  const k: usize = r + keyAt + depth;
  const left: u32 = kl > depth ? kl - depth : 0;
  store<u64>(item, bigEndian(k, left));
  store<u64>(item, left > 8 ? bigEndian(k + 8, left - 8) : 0, 8);
  store<u32>(item, left > 16 ? MORE : left, 16);
}

// @ts-ignore: decorator
@inline
function less(a: usize, b: usize): bool {
  const a0: u64 = load<u64>(a);
  const b0: u64 = load<u64>(b);
  if (a0 != b0) return a0 < b0;
  const a1: u64 = load<u64>(a, 8);
  const b1: u64 = load<u64>(b, 8);
  if (a1 != b1) return a1 < b1;
  return load<u32>(a, 16) < load<u32>(b, 16);
}

// @ts-ignore: decorator
@inline
function sameChunks(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8) &&
    load<u32>(a, 16) == load<u32>(b, 16);
}

// @ts-ignore: decorator
@inline
function copyItem(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst, load<u64>(src, 8), 8);
  store<u64>(dst, load<u64>(src, 16), 16);
}

function keyLess(a: usize, b: usize): bool {
  const ra: usize = base + <usize> load<u32>(a, 20);
  const rb: usize = base + <usize> load<u32>(b, 20);
  return cmpBytes(ra + keyAt, load<u32>(ra), rb + keyAt, load<u32>(rb)) < 0;
}

/** Stable merge sort of items [lo, hi) by (chunks, left), or by whole keys when byKey. */
function sortItems(lo: u32, hi: u32, byKey: bool): void {
  const n: u32 = hi - lo;
  const first: usize = items + <usize> lo * ITEM;
  // Insertion sort of runs of 16 (tmp holds the item moved), then bottom-up merges through tmp.
  const RUN: u32 = 16;
  for (let s: u32 = 0; s < n; s += RUN) {
    const e: u32 = s + RUN < n ? s + RUN : n;
    for (let i: u32 = s + 1; i < e; i++) {
      copyItem(tmp, first + <usize> i * ITEM);
      let j: u32 = i;
      while (j > s) {
        const p: usize = first + <usize> (j - 1) * ITEM;
        if (!(byKey ? keyLess(tmp, p) : less(tmp, p))) break;
        copyItem(p + ITEM, p);
        j--;
      }
      copyItem(first + <usize> j * ITEM, tmp);
    }
  }
  let src: usize = first;
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
  if (src != first) memory.copy(first, src, <usize> n * ITEM);
}

// Large ranges first go into buckets by 16 bits of their keys (one counting
// pass, one scatter), so the merge sort works on buckets that fit in the
// cache instead of making ~log2(n/16) passes over the whole range in
// memory. The bits are the 16 from the highest bit where the range's keys
// differ (in the first chunk, or the second when the first is the same
// throughout): constant leading bytes (key group, state id) do not waste
// the buckets.
const RADIX_MIN: u32 = 4096;
const BUCKETS: u32 = 1 << 16;
let counts: usize = 0;

/** Sorts items [lo, hi) by (chunks, left): buckets by 16 bits, then merge sorts per bucket. */
function sortChunks(lo: u32, hi: u32): void {
  const n: u32 = hi - lo;
  const first: usize = items + <usize> lo * ITEM;
  if (n < RADIX_MIN) return sortItems(lo, hi, false);
  // The first chunk that differs somewhere in the range (the one before is equal throughout).
  let chunk: usize = 0;
  let diff: u64 = 0;
  for (; chunk <= 8 && diff == 0; chunk += 8) {
    const c: u64 = load<u64>(first + chunk);
    for (let i: u32 = 1; i < n; i++) diff |= load<u64>(first + <usize> i * ITEM + chunk) ^ c;
  }
  chunk -= 8;
  if (diff == 0) return sortItems(lo, hi, false);
  const top: i32 = 63 - <i32> clz<u64>(diff);
  const shift: u64 = <u64> (top >= 15 ? top - 15 : 0);
  if (counts == 0) counts = heap.alloc(<usize> BUCKETS << 2);
  memory.fill(counts, 0, <usize> BUCKETS << 2);
  for (let i: u32 = 0; i < n; i++) {
    const d: usize = <usize> ((load<u64>(first + <usize> i * ITEM + chunk) >> shift) & 0xffff);
    store<u32>(counts + (d << 2), load<u32>(counts + (d << 2)) + 1);
  }
  // Counts become each bucket's start; the scatter moves the starts to the ends.
  let at: u32 = 0;
  for (let d: usize = 0; d < <usize> BUCKETS; d++) {
    const c: u32 = load<u32>(counts + (d << 2));
    store<u32>(counts + (d << 2), at);
    at += c;
  }
  for (let i: u32 = 0; i < n; i++) {
    const src: usize = first + <usize> i * ITEM;
    const d: usize = <usize> ((load<u64>(src + chunk) >> shift) & 0xffff);
    const to: u32 = load<u32>(counts + (d << 2));
    store<u32>(counts + (d << 2), to + 1);
    copyItem(tmp + <usize> to * ITEM, src);
  }
  memory.copy(first, tmp, <usize> n * ITEM);
  // Each bucket's range: [previous end, its end). sortItems uses tmp from 0.
  let start: u32 = 0;
  for (let d: usize = 0; d < <usize> BUCKETS; d++) {
    const end: u32 = load<u32>(counts + (d << 2));
    if (end - start > 1) sortItems(lo + start, lo + end, false);
    start = end;
  }
}

function sortLevel(lo: u32, hi: u32, depth: u32): void {
  if (depth >= MAX_DEPTH) {
    sortItems(lo, hi, true);
    return;
  }
  for (let i: u32 = lo; i < hi; i++) fill(items + <usize> i * ITEM, depth);
  sortChunks(lo, hi);
  // Runs of equal chunks whose keys go on: order them by what follows.
  let s: u32 = lo;
  while (s < hi) {
    const a: usize = items + <usize> s * ITEM;
    let e: u32 = s + 1;
    while (e < hi && sameChunks(a, items + <usize> e * ITEM)) e++;
    if (e - s > 1 && load<u32>(a, 16) == MORE) sortLevel(s, e, depth + 16);
    s = e;
  }
}

/**
 * Sorts `n` items (ITEM bytes each, ref at +20 set by the caller) by the
 * keys of their records. `scratch` holds n items too (the merges' other
 * half); both are the caller's, so it can free or keep them.
 */
export function keySort(
  sortItemsAt: usize,
  scratch: usize,
  n: u32,
  recordBase: usize,
  keyOffset: usize,
): void {
  if (n < 2) return;
  items = sortItemsAt;
  tmp = scratch;
  base = recordBase;
  keyAt = keyOffset;
  sortLevel(0, n, 0);
}

/** The ref of item i (after keySort: the i-th record in key order). */
// @ts-ignore: decorator
@inline
export function itemRef(sortItemsAt: usize, i: u32): u32 {
  return load<u32>(sortItemsAt + <usize> i * ITEM, 20);
}

/** Sets the ref of item i (before keySort). */
// @ts-ignore: decorator
@inline
export function setItemRef(sortItemsAt: usize, i: u32, ref: u32): void {
  store<u32>(sortItemsAt + <usize> i * ITEM, ref, 20);
}
