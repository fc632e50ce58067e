// deno-fmt-ignore-file
// The memtable: records bump-allocated in one arena, a hash index (open
// addressing, linear probing) for point lookups, and an array of entry
// indices sorted lazily (for scans and at flush). It never frees single
// records: the whole arena is reset when the frozen memtable has been written.
//
// Record layout in the arena (at arena + off):
//   +0  u32 keyLen
//   +4  u32 valLen
//   +8  u32 valCap     (bytes reserved for the value; merges append in place)
//   +12 u32 kind | entry index << 2   (kind: KIND_PUT | KIND_DEL | KIND_MERGE)
//   +16 key bytes [keyLen], then value bytes [valCap]
//
// Records start at multiples of 8 (sizes are rounded up).
//
// Hash table slot (u32, 0 = empty): tag | (record offset / 8 + 1). The low
// ptrBits bits hold the offset (enough for the budget), the bits above hold
// the same bits of the key's hash, so probing past another key's slot rarely
// touches its record. The slot points at the record itself, so a get touches
// the slot and the record only. 4-byte slots (they were 8, hash | offset)
// halve the table: 8 MiB at 1M keys, which stays in L3 more of the time
// (bench/lsm_store.ts, random getScratch+valueView at 1M 16-byte keys with
// 8-byte values: 2.7 -> 3.1M ops/s, medians of 3 runs; 100-byte values,
// three cache lines per record, stayed at 2.7M).
// Growing rehashes the keys from the records, in arena order.
// entries: u32 record offset per entry index; sorted: u32 entry indices in key order
// (new entries sorted by keySort, then merged into the run sorted before).

import { cmpBytes, copySmall, eqBytes, hashKey } from "./util";
import { ITEM, itemRef, keySort, setItemRef } from "./keysort";

export const KIND_PUT: u32 = 1;
export const KIND_DEL: u32 = 2;
export const KIND_MERGE: u32 = 3;

export const REC_HDR: u32 = 16;

/** Layout: see field order; 15 x 4 bytes. */
// @ts-ignore: decorator
@unmanaged
export class Mem {
  arena: usize;
  arenaCap: u32;
  arenaUsed: u32;
  entries: usize;
  count: u32;
  entriesCap: u32;
  table: usize;
  tableMask: u32;
  sorted: usize;
  sortedCount: u32;
  sortedCap: u32;
  budget: u32;
  tmp: usize;
  tmpCap: u32;
  tagMask: u32;
}

export function memNew(budget: u32): Mem {
  const m = changetype<Mem>(heap.alloc(offsetof<Mem>()));
  memory.fill(changetype<usize>(m), 0, offsetof<Mem>());
  m.budget = budget;
  m.arenaCap = budget;
  m.arena = 0;
  m.entriesCap = 1024;
  m.entries = heap.alloc(<usize> m.entriesCap << 2);
  // Offsets stay below the budget (or are 0: one record larger than it).
  const ptrBits: u32 = 32 - clz<u32>((budget >>> 3) + 1);
  m.tagMask = ptrBits >= 32 ? 0 : ~((<u32> 1 << ptrBits) - 1);
  m.tableMask = 2047;
  m.table = heap.alloc(<usize> (m.tableMask + 1) << 2);
  memory.fill(m.table, 0, <usize> (m.tableMask + 1) << 2);
  return m;
}

/** Bytes the memtable occupies (arena use + index structures). */
export function memUsage(m: Mem): u32 {
  return m.arenaUsed + (m.entriesCap << 2) + ((m.tableMask + 1) << 2) + (m.sortedCap << 2);
}

export function memReset(m: Mem): void {
  m.arenaUsed = 0;
  m.count = 0;
  m.sortedCount = 0;
  memory.fill(m.table, 0, <usize> (m.tableMask + 1) << 2);
}

// @ts-ignore: decorator
@inline
export function recAt(m: Mem, idx: u32): usize {
  return m.arena + <usize> load<u32>(m.entries + (<usize> idx << 2));
}

/** Kind of the record at r. */
// @ts-ignore: decorator
@inline
export function recKind(r: usize): u32 {
  return load<u32>(r, 12) & 3;
}

// Table slot of the last memFind hit (memWrite updates it on relocation).
let foundSlot: usize = 0;

/** Record pointer of key, or 0. */
// @ts-ignore: decorator
@inline
export function memFind(m: Mem, k: usize, kl: u32, h: u32): usize {
  const table: usize = m.table;
  const mask: u32 = m.tableMask;
  const arena: usize = m.arena;
  const tagMask: u32 = m.tagMask;
  const tag: u32 = h & tagMask;
  let i: u32 = h & mask;
  while (true) {
    const slot: usize = table + (<usize> i << 2);
    const e: u32 = load<u32>(slot);
    if (e == 0) return 0;
    if ((e & tagMask) == tag) {
      const r: usize = arena + (<usize> ((e & ~tagMask) - 1) << 3);
      if (load<u32>(r) == kl && eqBytes(r + REC_HDR, k, kl)) {
        foundSlot = slot;
        return r;
      }
    }
    i = (i + 1) & mask;
  }
  return 0;
}

// @ts-ignore: decorator
@inline
function insertSlot(m: Mem, off: u32, h: u32): void {
  const mask: u32 = m.tableMask;
  let i: u32 = h & mask;
  while (load<u32>(m.table + (<usize> i << 2)) != 0) i = (i + 1) & mask;
  store<u32>(m.table + (<usize> i << 2), (h & m.tagMask) | ((off >>> 3) + 1));
}

function grow(m: Mem): void {
  const mask: u32 = (m.tableMask << 1) | 1;
  heap.free(m.table);
  m.table = heap.alloc(<usize> (mask + 1) << 2);
  memory.fill(m.table, 0, <usize> (mask + 1) << 2);
  m.tableMask = mask;
  for (let i: u32 = 0; i < m.count; i++) {
    const off: u32 = load<u32>(m.entries + (<usize> i << 2));
    const r: usize = m.arena + <usize> off;
    insertSlot(m, off, <u32> hashKey(r + REC_HDR, load<u32>(r)));
  }
}

/** Allocates a record; returns its offset or -1 when the memtable is full. */
function allocRec(m: Mem, kl: u32, cap: u32): i64 {
  const size: u32 = (REC_HDR + kl + cap + 7) & ~7;
  // Index structures may grow by doubling: count them before they do.
  let extra: u32 = 0;
  if (m.count + 1 > m.entriesCap) extra += m.entriesCap << 2;
  if ((m.count + 1) * 2 > m.tableMask + 1) extra += (m.tableMask + 1) << 2;
  if (<u64> memUsage(m) + size + extra > <u64> m.budget && m.count > 0) return -1;
  if (m.arena == 0) m.arena = heap.alloc(<usize> m.arenaCap);
  if (<u64> m.arenaUsed + size > <u64> m.arenaCap) {
    if (m.count > 0) return -1;
    // A single record larger than the budget: grow the arena for it.
    m.arena = heap.realloc(m.arena, <usize> size);
    m.arenaCap = size;
  }
  const off: u32 = m.arenaUsed;
  m.arenaUsed += size;
  return <i64> off;
}

function addEntry(m: Mem, off: u32, h: u32, idx: u32): void {
  if (m.count == m.entriesCap) {
    m.entriesCap <<= 1;
    m.entries = heap.realloc(m.entries, <usize> m.entriesCap << 2);
  }
  if ((m.count + 1) * 2 > m.tableMask + 1) grow(m);
  m.count++;
  store<u32>(m.entries + (<usize> idx << 2), off);
  insertSlot(m, off, h);
}

/**
 * Applies a put / delete / merge. Returns 0, or -1 when the memtable is full
 * (nothing was changed).
 */
export function memWrite(m: Mem, kind: u32, k: usize, kl: u32, v: usize, vl: u32, h: u32): i32 {
  const r: usize = memFind(m, k, kl, h);
  if (r == 0) {
    const o: i64 = allocRec(m, kl, vl);
    if (o < 0) return -1;
    const nr: usize = m.arena + <usize> o;
    const idx: u32 = m.count;
    store<u32>(nr, kl);
    store<u32>(nr, vl, 4);
    store<u32>(nr, vl, 8);
    store<u32>(nr, kind | (idx << 2), 12);
    copySmall(nr + REC_HDR, k, kl);
    copySmall(nr + REC_HDR + kl, v, vl);
    addEntry(m, <u32> o, h, idx);
    return 0;
  }
  const slot: usize = foundSlot;
  const idx: u32 = load<u32>(r, 12) >>> 2;
  const oldKind: u32 = load<u32>(r, 12) & 3;
  const oldLen: u32 = load<u32>(r, 4);
  const cap: u32 = load<u32>(r, 8);
  let newKind: u32 = kind;
  let keep: u32 = 0; // bytes of the old value kept in front
  if (kind == KIND_MERGE) {
    if (oldKind == KIND_DEL) newKind = KIND_PUT; // delete then append = value of the operand
    else {
      newKind = oldKind;
      keep = oldLen;
    }
  }
  const total: u32 = keep + vl;
  if (total <= cap) {
    copySmall(r + REC_HDR + kl + keep, v, vl);
    store<u32>(r, total, 4);
    store<u32>(r, newKind | (idx << 2), 12);
    return 0;
  }
  // Relocate with room to grow (appends double the capacity).
  let ncap: u32 = total;
  if (kind == KIND_MERGE) ncap = total < 16 ? 32 : total * 2;
  const o: i64 = allocRec(m, kl, ncap);
  if (o < 0) {
    if (ncap == total) return -1;
    return -1;
  }
  // The arena never moves once it holds records (allocRec grows it only when empty).
  const nr: usize = m.arena + <usize> o;
  store<u32>(nr, kl);
  store<u32>(nr, total, 4);
  store<u32>(nr, ncap, 8);
  store<u32>(nr, newKind | (idx << 2), 12);
  copySmall(nr + REC_HDR, r + REC_HDR, kl + keep);
  copySmall(nr + REC_HDR + kl + keep, v, vl);
  store<u32>(m.entries + (<usize> idx << 2), <u32> o);
  store<u32>(slot, (load<u32>(slot) & m.tagMask) | ((<u32> o >>> 3) + 1));
  return 0;
}

// @ts-ignore: decorator
@inline
function cmpIdx(m: Mem, a: u32, b: u32): i32 {
  const ra: usize = recAt(m, a);
  const rb: usize = recAt(m, b);
  return cmpBytes(ra + REC_HDR, load<u32>(ra), rb + REC_HDR, load<u32>(rb));
}

function mergeRuns(m: Mem, a: usize, t: usize, lo: u32, mid: u32, hi: u32): void {
  if (mid == lo || mid == hi) return;
  if (cmpIdx(m, load<u32>(a + (<usize> (mid - 1) << 2)), load<u32>(a + (<usize> mid << 2))) <= 0) {
    return;
  }
  memory.copy(t + (<usize> lo << 2), a + (<usize> lo << 2), <usize> (hi - lo) << 2);
  let i: u32 = lo, j: u32 = mid, k: u32 = lo;
  while (i < mid && j < hi) {
    const x: u32 = load<u32>(t + (<usize> i << 2));
    const y: u32 = load<u32>(t + (<usize> j << 2));
    if (cmpIdx(m, y, x) < 0) {
      store<u32>(a + (<usize> k << 2), y);
      j++;
    } else {
      store<u32>(a + (<usize> k << 2), x);
      i++;
    }
    k++;
  }
  while (i < mid) {
    store<u32>(a + (<usize> k << 2), load<u32>(t + (<usize> i << 2)));
    k++;
    i++;
  }
  while (j < hi) {
    store<u32>(a + (<usize> k << 2), load<u32>(t + (<usize> j << 2)));
    k++;
    j++;
  }
}

/**
 * Brings `sorted` up to date: entries added since the last sort are sorted
 * and merged into the sorted run (O(k log k + n) after k new keys).
 */
export function memSort(m: Mem): void {
  const n: u32 = m.count;
  const s: u32 = m.sortedCount;
  if (s == n) return;
  if (m.sortedCap < n) {
    let c: u32 = m.sortedCap == 0 ? 1024 : m.sortedCap;
    while (c < n) c <<= 1;
    m.sorted = m.sorted == 0 ? heap.alloc(<usize> c << 2) : heap.realloc(m.sorted, <usize> c << 2);
    m.sortedCap = c;
  }
  if (m.tmpCap < n) {
    if (m.tmp != 0) heap.free(m.tmp);
    m.tmp = heap.alloc(<usize> m.sortedCap << 2);
    m.tmpCap = m.sortedCap;
  }
  // The new entries, sorted by keySort (scratch: 2 x ITEM bytes per entry, freed after).
  const k: u32 = n - s;
  const items: usize = heap.alloc(<usize> k * ITEM);
  const scratch: usize = heap.alloc(<usize> k * ITEM);
  for (let i: u32 = 0; i < k; i++) setItemRef(items, i, load<u32>(m.entries + (<usize> (s + i) << 2)));
  keySort(items, scratch, k, m.arena, REC_HDR);
  for (let i: u32 = 0; i < k; i++) {
    const r: usize = m.arena + <usize> itemRef(items, i);
    store<u32>(m.sorted + (<usize> (s + i) << 2), load<u32>(r, 12) >>> 2);
  }
  heap.free(scratch);
  heap.free(items);
  mergeRuns(m, m.sorted, m.tmp, 0, s, n);
  m.sortedCount = n;
}

/**
 * Loads the records at sorted positions [pos + 8, pos + 16) and the entry
 * slots of [pos + 16, pos + 24) (clamped to end), back to back: walking the
 * memtable in key order, each record is a cache miss; called every 8
 * positions, it makes the next group's misses overlap instead of waiting
 * for each (wasm has no prefetch instruction). Returns a sum of the loaded
 * bytes, which the caller must keep (so the loads stay).
 */
export function memPrefetch(m: Mem, pos: u32, end: u32): u32 {
  const sorted: usize = m.sorted;
  let sum: u32 = 0;
  const recEnd: u32 = min<u32>(pos + 16, end);
  for (let p: u32 = pos + 8; p < recEnd; p++) {
    sum += load<u8>(recAt(m, load<u32>(sorted + (<usize> p << 2))));
  }
  const slotEnd: u32 = min<u32>(pos + 24, end);
  for (let p: u32 = pos + 16; p < slotEnd; p++) {
    sum += load<u32>(m.entries + (<usize> load<u32>(sorted + (<usize> p << 2)) << 2));
  }
  return sum;
}

/** First position in `sorted` whose key is >= k (memSort first). */
export function memLowerBound(m: Mem, k: usize, kl: u32): u32 {
  let lo: u32 = 0;
  let hi: u32 = m.sortedCount;
  while (lo < hi) {
    const mid: u32 = (lo + hi) >>> 1;
    const r: usize = recAt(m, load<u32>(m.sorted + (<usize> mid << 2)));
    if (cmpBytes(r + REC_HDR, load<u32>(r), k, kl) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
