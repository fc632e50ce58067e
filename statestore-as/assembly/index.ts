// deno-fmt-ignore-file
// weir's LSM key-value store, compiled to WebAssembly. Flat exports only:
// the facade (statestore-as/mod.ts) writes keys and values into the scratch
// regions (keyPtr / valPtr), calls an export, and reads results from linear
// memory. Status codes are in status.ts.
//
// Runtime: `minimal` (TLSF allocator, no automatic GC). Nothing on a hot path
// allocates (memtable records are bump-allocated in an arena, blocks live in
// a fixed cache), so the runtime only serves heap.alloc/heap.free for
// long-lived buffers. Measured: a `--runtime stub` build gave the same
// memtable get/put and 4x-budget get throughput as `minimal` within
// run-to-run noise (facade micro-benchmarks, 200k 16-byte keys, two runs
// each); `stub` cannot free, and segments come and go, so `minimal` stays.
//
// Memory layout of linear memory: static data | TLSF heap holding
//   - crc table (16 KiB), scratch key / value regions (grown on demand)
//   - three memtables (active; frozen, which stays after it is written until
//     the next freeze; queued, frozen while the frozen one is still being
//     written): arena of `memtableBytes` each + index, allocated on first use
//   - block cache: cacheBytes / 4096 slots of 4 KiB, 2-way set associative
//   - per open segment: its index block and bloom filter
//   - iterators' block copies and the writer's buffers

import { ERR_ARG, ERR_BUSY, ERR_FULL, NOT_FOUND } from "./status";
import {
  KIND_DEL,
  KIND_MERGE,
  KIND_PUT,
  Mem,
  memFind,
  memNew,
  memPrefetch,
  memReset,
  memSort,
  memUsage,
  memWrite,
  recAt,
  REC_HDR,
  recKind,
} from "./memtable";
import {
  cacheInit,
  eKind,
  eVal,
  eValLen,
  openedSeg,
  Seg,
  segClose,
  segGet,
  segOpen,
  stats,
  wBlockTarget,
  writerAdd,
  writerBegin,
  writerEntries,
  writerFinish,
} from "./segment";
import {
  MIt,
  mitAddMem,
  mitAddSeg,
  mitNew,
  mitNext,
  mitReset,
  MODE_BOTTOM,
  MODE_RAW,
  MODE_USER,
} from "./iterator";
import { Buf, bufAppend, crcInit, eqBytes, getVarint, hashKey, keepLoads, newBuf, vOut } from "./util";

export { errBlock, errDetail, errFile } from "./status";
export { batchAlloc, batchSort, batchWrite } from "./batch";
export { prefetchSum } from "./util";

let kScr: Buf = newBuf(4096);
let vScr: Buf = newBuf(65536);
let active: Mem = changetype<Mem>(0);
let frozen: Mem = changetype<Mem>(0);
let hasFrozen: bool = false;
// After its segment is live the frozen memtable stays readable until the
// next freeze: reads of keys written since the last checkpoint (under a
// checkpoint per second, most hot keys) then cost a hash lookup, not a
// segment search. Its content equals the newest segment's, so only a put
// or a delete found there may answer; a merge operand is left to the
// segment (reading both would apply it twice). Scans and flushes never see it.
// Not kept when an expiry filter (TTL cleanup) ran at the flush.
let frozenWritten: bool = false;
// A memtable frozen while the frozen one is still being written (a
// checkpoint, or a full memtable, must not wait for that write): it is
// newer than `frozen` and becomes `frozen` when that one is released.
let queued: Mem = changetype<Mem>(0);
let hasQueued: bool = false;
let order: usize = 0; // u32 segment handles, newest first
let orderN: u32 = 0;
let res: Buf = newBuf(4096);
let ops: Buf = newBuf(4096);
let opEnds: Buf = newBuf(256);
let resPtrG: usize = 0;
// get copies values of up to RES_CAP bytes here, so the facade can hand out
// a view made once per length (a subarray per get, a new object, costs more
// than the copy). Keep RES_CAP equal to VIEW_MAX in lsm_store.ts.
const RES_CAP: u32 = 256;
const resScr: usize = heap.alloc(RES_CAP + 16);
let scanIt: MIt = changetype<MIt>(0);
let jobIt: MIt = changetype<MIt>(0);

/** Sets budgets. memtableBytes per memtable; cacheBytes for the block cache. */
export function init(memtableBytes: u32, cacheBytes: u32, blockTarget: u32): void {
  crcInit();
  active = memNew(memtableBytes);
  frozen = memNew(memtableBytes);
  queued = memNew(memtableBytes);
  cacheInit(cacheBytes);
  order = heap.alloc(1024 * 4);
  scanIt = mitNew();
  jobIt = mitNew();
  wBlockTarget = blockTarget;
}

/**
 * Grows linear memory now so that `bytes` more can be allocated without
 * growing it later: each growth costs the embedder a full garbage collection
 * of its JS heap (V8), cheap while the store opens, not once the job runs.
 * The space goes back to the allocator as free blocks (chunks below the
 * allocator's largest block), untouched pages stay unbacked.
 */
export function reserveHeap(bytes: u32): void {
  const CHUNK: u32 = 256 << 20;
  const n: u32 = (bytes + CHUNK - 1) / CHUNK;
  if (n == 0) return;
  const ptrs: usize = heap.alloc(<usize> n << 2);
  let left: u32 = bytes;
  for (let i: u32 = 0; i < n; i++) {
    const size: u32 = left < CHUNK ? left : CHUNK;
    store<u32>(ptrs + (<usize> i << 2), <u32> heap.alloc(<usize> size));
    left -= size;
  }
  for (let i: u32 = 0; i < n; i++) heap.free(<usize> load<u32>(ptrs + (<usize> i << 2)));
  heap.free(ptrs);
}

export function keyPtr(): usize {
  return kScr.ptr;
}
export function valPtr(): usize {
  return vScr.ptr;
}
/** Grows the scratch regions to hold a key of kl and a value of vl bytes. */
export function reserve(kl: u32, vl: u32): void {
  kScr.len = 0;
  vScr.len = 0;
  if (kl > kScr.cap) {
    heap.free(kScr.ptr);
    kScr.ptr = heap.alloc(<usize> kl);
    kScr.cap = kl;
  }
  if (vl > vScr.cap) {
    heap.free(vScr.ptr);
    vScr.ptr = heap.alloc(<usize> vl);
    vScr.cap = vl;
  }
}

// ---- point operations -----------------------------------------------------------
export function put(kl: u32, vl: u32): i32 {
  const h: u64 = hashKey(kScr.ptr, kl);
  return memWrite(active, KIND_PUT, kScr.ptr, kl, vScr.ptr, vl, <u32> h) < 0 ? ERR_FULL : 0;
}
export function del(kl: u32): i32 {
  const h: u64 = hashKey(kScr.ptr, kl);
  return memWrite(active, KIND_DEL, kScr.ptr, kl, vScr.ptr, 0, <u32> h) < 0 ? ERR_FULL : 0;
}
export function merge(kl: u32, vl: u32): i32 {
  const h: u64 = hashKey(kScr.ptr, kl);
  return memWrite(active, KIND_MERGE, kScr.ptr, kl, vScr.ptr, vl, <u32> h) < 0 ? ERR_FULL : 0;
}

let nOps: u32 = 0;

/** Assembles base + operands (oldest first) into res. */
function assemble(base: usize, bl: u32): i32 {
  res.len = 0;
  bufAppend(res, base, bl);
  for (let j: i32 = <i32> nOps - 1; j >= 0; j--) {
    const start: u32 = j == 0 ? 0 : load<u32>(opEnds.ptr + (<usize> (j - 1) << 2));
    const end: u32 = load<u32>(opEnds.ptr + (<usize> j << 2));
    bufAppend(res, ops.ptr + start, end - start);
  }
  resPtrG = res.ptr;
  return <i32> res.len;
}

/** Applies one version of the key: returns >= 0 (a length) or NOT_FOUND when resolved, -100 to continue. */
// @ts-ignore: decorator
@inline
function step(kind: u32, v: usize, vl: u32): i32 {
  if (kind == KIND_PUT) {
    if (nOps == 0) {
      resPtrG = v;
      return <i32> vl;
    }
    return assemble(v, vl);
  }
  if (kind == KIND_DEL) return nOps == 0 ? NOT_FOUND : assemble(0, 0);
  bufAppend(ops, v, vl);
  storeOpEnd();
  return -100;
}

function storeOpEnd(): void {
  if (opEnds.cap < (nOps + 1) << 2) {
    opEnds.ptr = heap.realloc(opEnds.ptr, <usize> (nOps + 1) << 3);
    opEnds.cap = (nOps + 1) << 3;
  }
  store<u32>(opEnds.ptr + (<usize> nOps << 2), ops.len);
  nOps++;
}

// @ts-ignore: decorator
@inline
function memStep(m: Mem, k: usize, kl: u32, h: u32): i32 {
  const r: usize = memFind(m, k, kl, h);
  if (r == 0) return -100;
  return step(recKind(r), r + REC_HDR + kl, load<u32>(r, 4));
}

/**
 * Point lookup of the key in the key scratch. Returns the value length (the
 * value is at resPtr(), valid until the next call), NOT_FOUND, or an error.
 * Values of 1..RES_CAP bytes are at resScratch().
 */
export function get(kl: u32): i32 {
  const n: i32 = lookup(kl);
  if (n > 0 && <u32> n <= RES_CAP) {
    const src: usize = resPtrG;
    // 16 bytes at a time, rounded up: resScr has room for it, and reading
    // past the value stays inside memory (checked).
    const end: usize = (<usize> n + 15) & ~15;
    if (src + end <= (<usize> memory.size() << 16)) {
      for (let i: usize = 0; i < end; i += 16) v128.store(resScr + i, v128.load(src + i));
    } else {
      memory.copy(resScr, src, <usize> n);
    }
    resPtrG = resScr;
  }
  return n;
}

function lookup(kl: u32): i32 {
  return lookupHashed(kScr.ptr, kl, hashKey(kScr.ptr, kl));
}

/** Point lookup of the key at k (its hash h): as get, without the copy. */
function lookupHashed(k: usize, kl: u32, h: u64): i32 {
  nOps = 0;
  ops.len = 0;
  let r: i32 = memStep(active, k, kl, <u32> h);
  if (r != -100) return r;
  if (hasQueued) {
    r = memStep(queued, k, kl, <u32> h);
    if (r != -100) return r;
  }
  if (hasFrozen) {
    r = memStep(frozen, k, kl, <u32> h);
    if (r != -100) return r;
  } else if (frozenWritten) {
    const w: usize = memFind(frozen, k, kl, <u32> h);
    if (w != 0 && recKind(w) != KIND_MERGE) return step(recKind(w), w + REC_HDR + kl, load<u32>(w, 4));
  }
  for (let i: u32 = 0; i < orderN; i++) {
    const s: Seg = changetype<Seg>(unchecked(load<u32>(order + (<usize> i << 2))));
    const st: i32 = segGet(s, k, kl, h);
    if (st == NOT_FOUND) continue;
    if (st < 0) return st;
    r = step(eKind, eVal, eValLen);
    if (r != -100) return r;
  }
  return nOps == 0 ? NOT_FOUND : assemble(0, 0);
}

// ---- batched point lookups -----------------------------------------------------
// A random get over a large memtable waits on two cache misses in a row (the
// hash slot, then the record). getBatch looks up many keys in passes so that
// the misses of different keys overlap: all hashes and first slots, then all
// records' first lines, then the comparisons and value copies.
//
//   key scratch:   key 0 | key 1 | ... (back to back, lengths in batchKeyLens)
//   batchKeyLens:  u32 x BATCH   (in)
//   batchOutLens:  i32 x BATCH   (out: value length, or NOT_FOUND)
//   batchOutOffs:  u32 x BATCH   (out: offset of the value in batchValues)
//   bRec:          usize x BATCH (the record the key's first slot points at, or 0)
//   bHash:         u64 x BATCH
const BATCH: u32 = 64;
const bKeyLen: usize = heap.alloc(BATCH << 2);
const bOutLen: usize = heap.alloc(BATCH << 2);
const bOutOff: usize = heap.alloc(BATCH << 2);
const bRec: usize = heap.alloc(BATCH << 2);
const bHash: usize = heap.alloc(BATCH << 3);
let bVal: Buf = newBuf(16384);
// Sink of the loads that only bring records into the cache.
let touched: u32 = 0;

export function batchMax(): u32 {
  return BATCH;
}
export function batchKeyLens(): usize {
  return bKeyLen;
}
export function batchOutLens(): usize {
  return bOutLen;
}
export function batchOutOffsets(): usize {
  return bOutOff;
}
/** Where the last getBatch left the values (moves when it grows). */
export function batchValues(): usize {
  return bVal.ptr;
}

/**
 * Looks up the n (<= BATCH) keys in the key scratch. Returns 0, with each
 * key's value length (or NOT_FOUND) and value offset in the out arrays, or
 * the first error status.
 */
export function getBatch(n: u32): i32 {
  if (n > BATCH) return ERR_ARG;
  const m: Mem = active;
  const table: usize = m.table;
  const mask: u32 = m.tableMask;
  const tagMask: u32 = m.tagMask;
  const arena: usize = m.arena;
  // Pass 1: hashes and first slots (independent loads).
  let k: usize = kScr.ptr;
  for (let i: u32 = 0; i < n; i++) {
    const kl: u32 = load<u32>(bKeyLen + (<usize> i << 2));
    const h: u64 = hashKey(k, kl);
    store<u64>(bHash + (<usize> i << 3), h);
    const e: u32 = load<u32>(table + (<usize> (<u32> h & mask) << 2));
    let r: usize = 0;
    if (e != 0 && (e & tagMask) == (<u32> h & tagMask)) {
      r = arena + (<usize> ((e & ~tagMask) - 1) << 3);
    }
    store<usize>(bRec + (<usize> i << 2), r);
    k += kl;
  }
  // Pass 2: the records' first lines (independent loads).
  let t: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const r: usize = load<usize>(bRec + (<usize> i << 2));
    if (r != 0) t += load<u32>(r);
  }
  touched = t;
  // Pass 3: a put found at the first slot is the answer; anything else
  // (a longer probe, merges, deletes, older memtables, segments) takes the
  // full lookup. Values are copied at once: a full lookup's result lives in
  // buffers the next lookup reuses.
  bVal.len = 0;
  k = kScr.ptr;
  for (let i: u32 = 0; i < n; i++) {
    const kl: u32 = load<u32>(bKeyLen + (<usize> i << 2));
    const r: usize = load<usize>(bRec + (<usize> i << 2));
    let len: i32;
    let v: usize;
    if (r != 0 && load<u32>(r) == kl && recKind(r) == KIND_PUT && eqBytes(r + REC_HDR, k, kl)) {
      v = r + REC_HDR + kl;
      len = <i32> load<u32>(r, 4);
    } else {
      len = lookupHashed(k, kl, load<u64>(bHash + (<usize> i << 3)));
      if (len < NOT_FOUND) return len;
      v = resPtrG;
    }
    store<i32>(bOutLen + (<usize> i << 2), len);
    store<u32>(bOutOff + (<usize> i << 2), bVal.len);
    if (len > 0) bufAppend(bVal, v, <u32> len);
    k += kl;
  }
  return 0;
}

export function resPtr(): usize {
  return resPtrG;
}
/** Where get leaves values of 1..resScratchCap() bytes (fixed for the instance). */
export function resScratch(): usize {
  return resScr;
}
export function resScratchCap(): u32 {
  return RES_CAP;
}

// ---- memtables -------------------------------------------------------------------
export function memBytes(): u32 {
  return memUsage(active);
}
export function memEntries(): u32 {
  return active.count;
}
export function frozenBytes(): u32 {
  return (hasFrozen ? memUsage(frozen) : 0) + (hasQueued ? memUsage(queued) : 0);
}
export function frozenEntries(): u32 {
  return hasFrozen ? frozen.count : 0;
}
/** Entries of the memtable queued behind the frozen one (0 if none). */
export function queuedEntries(): u32 {
  return hasQueued ? queued.count : 0;
}

/**
 * Freezes the active memtable in O(1) (swaps it with an empty spare): as
 * the frozen memtable, or queued behind it while it is being written.
 * ERR_BUSY when both places are taken.
 */
export function freeze(): i32 {
  if (hasFrozen) {
    if (hasQueued) return ERR_BUSY;
    const q: Mem = queued;
    queued = active;
    active = q;
    memReset(active);
    hasQueued = true;
    return 0;
  }
  const t: Mem = frozen;
  frozen = active;
  active = t;
  memReset(active);
  hasFrozen = true;
  frozenWritten = false;
  return 0;
}

// ---- flushing on another instance (a worker) ---------------------------------------------
// The frozen memtable's records and entry offsets are copied out as they are
// (arena bytes [0, arenaUsed), u32 offsets x count); another instance adopts
// them as its frozen memtable and runs jobFlush. Records hold their entry
// index, and flush reads only the arena and the offsets, never the hash table.

/** Address of the frozen memtable's arena (0 if none). */
export function frozenArena(): usize {
  return hasFrozen ? frozen.arena : 0;
}
/** Bytes used in the frozen memtable's arena. */
export function frozenArenaUsed(): u32 {
  return hasFrozen ? frozen.arenaUsed : 0;
}
/** Address of the frozen memtable's entry offsets (u32 x frozenEntries()). */
export function frozenOffsets(): usize {
  return frozen.entries;
}

/**
 * Makes the frozen memtable an empty shell of `used` arena bytes and `count`
 * entries for the host to fill (arena at frozenArena(), offsets at
 * frozenOffsets()). Returns 0, or ERR_BUSY while a frozen memtable exists.
 */
export function adoptFrozen(used: u32, count: u32): i32 {
  if (hasFrozen) return ERR_BUSY;
  const m: Mem = frozen;
  if (m.arena != 0) heap.free(m.arena);
  m.arena = heap.alloc(<usize> max<u32>(used, 8));
  m.arenaCap = used;
  m.arenaUsed = used;
  if (m.entriesCap < count) {
    heap.free(m.entries);
    m.entries = heap.alloc(<usize> count << 2);
    m.entriesCap = count;
  }
  m.count = count;
  m.sortedCount = 0;
  hasFrozen = true;
  frozenWritten = false;
  return 0;
}

/**
 * Marks the frozen memtable written once its segment is live: it stays
 * readable, unless a queued memtable takes its place (to be written next).
 */
export function releaseFrozen(): void {
  if (!hasFrozen) return;
  if (hasQueued) {
    const t: Mem = frozen;
    frozen = queued;
    queued = t;
    memReset(queued);
    hasQueued = false;
    frozenWritten = false;
    return;
  }
  hasFrozen = false;
  // A flush under an expiry filter may have written deletes for expired
  // entries: the segment no longer equals the memtable.
  if (fltN == 0) frozenWritten = true;
  else memReset(frozen);
}

// ---- segments ----------------------------------------------------------------------
/** Opens a segment; returns a handle (> 0) or a negative status. */
export function openSegment(file: u32, size: f64): i32 {
  const st: i32 = segOpen(file, size);
  if (st < 0) return st;
  return <i32> openedSeg;
}
export function closeSegment(h: u32): void {
  segClose(changetype<Seg>(h));
}
export function segmentEntries(h: u32): u32 {
  return changetype<Seg>(h).entryCount;
}
export function segmentBlocks(h: u32): u32 {
  return changetype<Seg>(h).numBlocks;
}

/** Sets the read order: n handles (u32, newest first) from the key scratch. */
export function setOrder(n: u32): i32 {
  if (n > 1000) return ERR_ARG;
  memory.copy(order, kScr.ptr, <usize> n << 2);
  orderN = n;
  return 0;
}

// ---- background jobs: flush and compaction -------------------------------------------
// ---- expired-entry filter (flushes and compactions) ----------------------------------
// Generic: keys whose bytes [fltOff, fltOff + fltTagLen) match a rule's tag
// hold values led by an 8-byte big-endian timestamp (ms). A rule gives a TTL
// and a layout: 1 = the value starts with the timestamp; 2 = the value is a
// run of (varint length, bytes) elements, each starting with one. An entry
// (element) is expired when timestamp + ttl <= now. Expired entries are
// dropped (a delete is written instead when older segments may hold the key),
// expired elements are cut out of their value. Values that do not parse are
// kept as they are.
let fltN: u32 = 0;
let fltRules: usize = 0; // fltN x 16 bytes: tag u32 | layout u32 | ttl f64 (little-endian)
let fltOff: u32 = 0;
let fltTagLen: u32 = 0;
let fltNow: f64 = 0;
let fltBuf: Buf = newBuf(256);
let jobBottom: bool = false;

/** Sets n filter rules (16 bytes each, in the key scratch); n = 0 removes the filter. */
export function filterSet(n: u32, off: u32, tagLen: u32): i32 {
  if (n > 0 && (tagLen < 1 || tagLen > 4 || n > 4096)) return ERR_ARG;
  if (fltRules != 0) heap.free(fltRules);
  fltRules = 0;
  if (n > 0) {
    fltRules = heap.alloc(<usize> n << 4);
    memory.copy(fltRules, kScr.ptr, <usize> n << 4);
  }
  fltN = n;
  fltOff = off;
  fltTagLen = tagLen;
  // Compactions under the filter may drop what the written memtable still holds.
  if (n > 0 && frozenWritten) {
    frozenWritten = false;
    memReset(frozen);
  }
  return 0;
}

/** The filter's current time (ms); the facade sets it before each job step. */
export function filterNow(now: f64): void {
  fltNow = now;
}

// @ts-ignore: decorator
@inline
function expiredAt(p: usize, ttl: f64): bool {
  return <f64> bswap<u64>(load<u64>(p)) + ttl <= fltNow;
}

/** 0 keep, 1 drop, 2 keep the filtered value in fltBuf. */
function filterList(v: usize, vl: u32, ttl: f64): u32 {
  const end: usize = v + vl;
  let p: usize = v;
  let dropped = false;
  let kept: u32 = 0;
  fltBuf.len = 0;
  while (p < end) {
    const q: usize = getVarint(p, end);
    if (q == 0) return 0;
    const len: u32 = vOut;
    if (len < 8 || q + len > end) return 0;
    if (expiredAt(q, ttl)) dropped = true;
    else {
      bufAppend(fltBuf, p, <u32> (q + len - p));
      kept++;
    }
    p = q + len;
  }
  if (!dropped) return 0;
  return kept == 0 ? 1 : 2;
}

function filterEntry(k: usize, kl: u32, v: usize, vl: u32): u32 {
  if (kl < fltOff + fltTagLen) return 0;
  let tag: u32 = 0;
  for (let i: u32 = 0; i < fltTagLen; i++) tag = (tag << 8) | <u32> load<u8>(k + fltOff + i);
  for (let r: u32 = 0; r < fltN; r++) {
    const p: usize = fltRules + (<usize> r << 4);
    if (load<u32>(p) != tag) continue;
    const ttl: f64 = load<f64>(p, 8);
    if (load<u32>(p, 4) == 2) return filterList(v, vl, ttl);
    return vl >= 8 && expiredAt(v, ttl) ? 1 : 0;
  }
  return 0;
}

// A flush walks the frozen memtable's sorted entries itself (jobPos): with
// one source there is nothing to merge, and the merging iterator's
// compares and key and value copies would be pure overhead.
let jobFlushing: bool = false;
let jobPos: u32 = 0;

/** Starts writing the frozen memtable as a segment. */
export function jobFlush(): i32 {
  if (!hasFrozen) return ERR_ARG;
  jobBottom = false;
  memSort(frozen);
  jobFlushing = true;
  jobPos = 0;
  writerBegin();
  return 0;
}

/** Writes up to max entries of the frozen memtable in key order: as jobStep. */
function flushStep(max: u32): i32 {
  const m: Mem = frozen;
  const n: u32 = m.sortedCount;
  const stop: u32 = n - jobPos > max ? jobPos + max : n;
  for (; jobPos < stop; jobPos++) {
    if ((jobPos & 7) == 0) keepLoads(memPrefetch(m, jobPos, n));
    const r: usize = recAt(m, load<u32>(m.sorted + (<usize> jobPos << 2)));
    const kl: u32 = load<u32>(r);
    const k: usize = r + REC_HDR;
    const st: i32 = jobAdd(recKind(r), k, kl, k + kl, load<u32>(r, 4));
    if (st < 0) return st;
  }
  if (jobPos < n) return 1;
  jobFlushing = false;
  const st: i32 = writerFinish();
  return st < 0 ? st : 0;
}

/** Starts compacting n segments (handles in key scratch, newest first). */
export function jobCompact(n: u32, bottom: u32): i32 {
  jobFlushing = false;
  mitReset(jobIt, bottom ? MODE_BOTTOM : MODE_RAW);
  jobBottom = bottom != 0;
  writerBegin();
  for (let i: u32 = 0; i < n; i++) {
    const s: Seg = changetype<Seg>(load<u32>(kScr.ptr + (<usize> i << 2)));
    const st: i32 = mitAddSeg(jobIt, s, 0, 0);
    if (st < 0) return st;
  }
  return 0;
}

/** Runs up to max entries of the current job: 1 more to do, 0 done, < 0 error. */
export function jobStep(max: u32): i32 {
  if (jobFlushing) return flushStep(max);
  for (let i: u32 = 0; i < max; i++) {
    const r: i32 = mitNext(jobIt);
    if (r < 0) return r;
    if (r == 0) {
      const st: i32 = writerFinish();
      return st < 0 ? st : 0;
    }
    const st: i32 = jobAdd(jobIt.kind, jobIt.key.ptr, jobIt.key.len, jobIt.val.ptr, jobIt.val.len);
    if (st < 0) return st;
  }
  return 1;
}

/** Writes one entry of a job, through the expiry filter: 0, or the writer's error. */
function jobAdd(kind: u32, k: usize, kl: u32, vp: usize, vl: u32): i32 {
  if (fltN > 0 && kind != KIND_DEL) {
    const f: u32 = filterEntry(k, kl, vp, vl);
    if (f == 1) {
      // An expired append adds nothing; at the bottom no older version remains.
      if (kind == KIND_MERGE || jobBottom) return 0;
      kind = KIND_DEL;
      vl = 0;
    } else if (f == 2) {
      vp = fltBuf.ptr;
      vl = fltBuf.len;
    }
  }
  return writerAdd(kind, k, kl, vp, vl, hashKey(k, kl));
}

export function jobEntries(): u32 {
  return writerEntries();
}

// ---- standalone segment writing (writeSegment) ------------------------------------------
export function writeBegin(): void {
  writerBegin();
}
/** Adds the key/value in the scratch regions with kind (1 put, 2 delete, 3 merge). */
export function writeAdd(kind: u32, kl: u32, vl: u32): i32 {
  if (kind != KIND_PUT && kind != KIND_DEL && kind != KIND_MERGE) return ERR_ARG;
  return writerAdd(kind, kScr.ptr, kl, vScr.ptr, vl, hashKey(kScr.ptr, kl));
}
export function writeFinish(): i32 {
  return writerFinish();
}

// ---- scans ----------------------------------------------------------------------------
/**
 * Opens the scan iterator over memtables and segments at the first key >=
 * start (key scratch, kl bytes); when hasEnd, stops before the end key (value
 * scratch, el bytes). raw = 1 keeps deletes and unresolved merges.
 */
export function iterOpen(kl: u32, el: u32, hasEnd: u32, raw: u32): i32 {
  mitReset(scanIt, raw ? MODE_RAW : MODE_USER);
  scanIt.end.len = 0;
  if (hasEnd) {
    bufAppend(scanIt.end, vScr.ptr, el);
    scanIt.hasEnd = 1;
  }
  const k: usize = kScr.ptr;
  mitAddMem(scanIt, active, k, kl);
  if (hasQueued) mitAddMem(scanIt, queued, k, kl);
  if (hasFrozen) mitAddMem(scanIt, frozen, k, kl);
  for (let i: u32 = 0; i < orderN; i++) {
    const st: i32 = mitAddSeg(scanIt, changetype<Seg>(load<u32>(order + (<usize> i << 2))), k, kl);
    if (st < 0) return st;
  }
  return 0;
}
export function iterNext(): i32 {
  return mitNext(scanIt);
}
export function iterKey(): usize {
  return scanIt.key.ptr;
}
export function iterKeyLen(): u32 {
  return scanIt.key.len;
}
export function iterVal(): usize {
  return scanIt.val.ptr;
}
export function iterValLen(): u32 {
  return scanIt.val.len;
}
export function iterKind(): u32 {
  return scanIt.kind;
}

/** Counters (f64 each): see segment.ts `stats`. */
export function statsPtr(): usize {
  return stats;
}
