// deno-fmt-ignore-file
// Segment files (weir's one on-disk table format), the block cache and the
// segment writer.
//
// Segment file layout (all integers little-endian; files never change once
// written, the host writes them under a temporary name and renames):
//
//   +--------------------+  offset 0
//   | data block 0       |  entries sorted by key, prefix-compressed
//   | data block 1       |
//   | ...                |
//   | data block n-1     |
//   +--------------------+  indexOffset
//   | index block        |  u32 n | varint firstKeyLen | firstKey |
//   |                    |  n x (varint lastKeyLen | lastKey | u64 offset | u32 size | u32 crc32c)
//   +--------------------+  bloomOffset
//   | bloom block        |  u32 k | bit array (see "Bloom filters" below)
//   +--------------------+  fileSize - 56
//   | footer (56 bytes)  |  +0 u64 indexOffset | +8 u32 indexLen | +12 u32 indexCrc
//   |                    |  +16 u64 bloomOffset | +24 u32 bloomLen | +28 u32 bloomCrc
//   |                    |  +32 u32 entryCount | +36 u32 n (data blocks) | +40 u32 version |
//   |                    |  +44 u32 footerCrc (of +0..+44)
//   |                    |  +48 u64 magic "WEIRSEG1"
//   +--------------------+
//
// Data block:
//   entries: varint shared | varint unshared | varint valueLen | u8 kind |
//            key[shared..] (unshared bytes) | value
//   trailer: u32 restart offset x R | u32 R       (a restart every 16 entries: shared = 0)
// CRC32C of each data block sits in its index entry; the index and bloom
// CRCs sit in the footer, which has its own CRC. Blocks are numbered 0..n-1
// (data), n (index), n+1 (bloom); the footer is BLOCK_FOOTER.
//
// Bloom filters (10 bits per key), by format version:
//   1: k = 7 probes over the whole bit array, positions (h1 + i*h2) mod bits
//      from the key's 64-bit hash (h1 = low, h2 = high 32 bits | 1). Read only.
//   2: blocked: the bit array is 512-bit blocks (one cache line); the block
//      is (hi32(h) * blocks) >> 32, and k = 6 bits in it come from
//      a = lo32(h), then per probe a *= 0x9e3779b9, bit = a >> 23. One cache
//      line and no division per segment probed (v1 cost ~2 lines and 2
//      divisions on a miss, 7 of each on a hit).

import { hostEmit, hostRead } from "./host";
import {
  BLOCK_FOOTER,
  corrupt,
  D_CRC,
  D_FORMAT,
  D_MAGIC,
  D_TRUNCATED,
  D_VERSION,
  ERR_ARG,
  ERR_IO,
  NOT_FOUND,
} from "./status";
import {
  Buf,
  bufAppend,
  bufFree,
  bufReserve,
  cmpBytes,
  crc32c,
  getVarint,
  newBuf,
  putVarint,
  vOut,
} from "./util";

export const FOOTER_SIZE: u32 = 56;
export const MAGIC: u64 = 0x3147455352494557; // "WEIRSEG1"
export const VERSION: u32 = 2;
const RESTART_INTERVAL: u32 = 16;
const BLOOM_K: u32 = 6;

/**
 * An open segment (reader side): index and bloom stay in memory.
 * Layout: in field order (offsetof<Seg>()).
 */
// @ts-ignore: decorator
@unmanaged
export class Seg {
  file: u32;
  numBlocks: u32;
  index: usize;
  indexLen: u32;
  blockIdx: usize; // u32 offset (within index) of each block's entry
  bloom: usize; // the allocation holding the bloom block
  bloomBits: u32;
  bloomK: u32;
  bloomArr: usize; // bit array (v2: 64-byte aligned)
  bloomBlocks: u32; // v2: 512-bit blocks; 0 for a v1 filter
  fences: usize; // u64 per data block: first 8 bytes of its last key, big-endian, zero-padded
  entryCount: u32;
  firstKey: usize;
  firstKeyLen: u32;
  dataBytes: f64;
  scratch: usize; // footer scratch
  verified: usize; // bitset: data blocks whose CRC already matched once
}

// ---- statistics (read by the facade through statsPtr) ----------------------
// Layout (f64 each): 0 cacheHits | 1 cacheMisses | 2 blockReads | 3 bytesRead |
// 4 bytesWritten | 5 bloomNegatives | 6 bloomChecks | 7 entriesWritten
export const stats: usize = heap.alloc(8 * 8);
memory.fill(stats, 0, 64);

// @ts-ignore: decorator
@inline
function bump(i: u32, by: f64): void {
  store<f64>(stats + (<usize> i << 3), load<f64>(stats + (<usize> i << 3)) + by);
}

// ---- block cache: 2-way set associative, fixed 4 KiB slots -----------------
// Slot metadata (16 bytes): +0 u32 file | +4 u32 block | +8 u32 len (0 = empty) | +12 u32 stamp
export const SLOT: u32 = 4096;
let cacheSets: u32 = 0;
let cacheMeta: usize = 0;
let cacheData: usize = 0;
let cacheClock: u32 = 0;

export function cacheInit(bytes: u32): void {
  let slots: u32 = bytes / SLOT;
  if (slots < 2) slots = 2;
  cacheSets = slots >> 1;
  cacheMeta = heap.alloc(<usize> cacheSets * 2 * 16);
  memory.fill(cacheMeta, 0, <usize> cacheSets * 2 * 16);
  cacheData = heap.alloc(<usize> cacheSets * 2 * SLOT);
}

// @ts-ignore: decorator
@inline
function setOf(file: u32, block: u32): u32 {
  let h: u32 = file * 0x9e3779b1 ^ block * 0x85ebca6b;
  h ^= h >>> 15;
  h *= 0x2c1b3c6d;
  h ^= h >>> 12;
  return h % cacheSets;
}

// Result of a block load.
export let blkPtr: usize = 0;
export let blkLen: u32 = 0;
let big: Buf = newBuf(8192); // blocks larger than a slot, uncached

/** Reads and verifies block `b` of segment `s` from disk into dst (cap >= size). */
function readVerified(s: Seg, b: u32, dst: usize): i32 {
  const e: usize = s.index + <usize> unchecked(load<u32>(s.blockIdx + (<usize> b << 2)));
  const off: f64 = <f64> load<u64>(e);
  const size: u32 = load<u32>(e, 8);
  const crc: u32 = load<u32>(e, 12);
  const n: i32 = hostRead(s.file, off, dst, size);
  if (n < 0) return ERR_IO;
  bump(2, 1);
  bump(3, <f64> size);
  if (<u32> n != size) return corrupt(s.file, <i32> b, D_TRUNCATED);
  // A block's CRC is checked on its first read in this process; segment
  // files are immutable, so a re-read after eviction from the block cache
  // (served by the OS page cache) is trusted like a cached block is.
  // Checking a block's CRC32C costs more than reading it from the page cache.
  const vw: usize = s.verified + (<usize> b >>> 3);
  const bit: u32 = <u32> 1 << (b & 7);
  if ((<u32> load<u8>(vw) & bit) == 0) {
    if (crc32c(dst, size) != crc) return corrupt(s.file, <i32> b, D_CRC);
    store<u8>(vw, <u8> (<u32> load<u8>(vw) | bit));
  }
  if (size < 4) return corrupt(s.file, <i32> b, D_FORMAT);
  const r: u32 = load<u32>(dst + size - 4);
  if (r == 0 || <u64> r * 4 + 4 > <u64> size) return corrupt(s.file, <i32> b, D_FORMAT);
  return 0;
}

// @ts-ignore: decorator
@inline
function blockSize(s: Seg, b: u32): u32 {
  return load<u32>(s.index + <usize> load<u32>(s.blockIdx + (<usize> b << 2)), 8);
}

/** Loads block b through the cache; sets blkPtr/blkLen. */
export function loadBlock(s: Seg, b: u32): i32 {
  const set: u32 = setOf(s.file, b);
  const m0: usize = cacheMeta + (<usize> set << 5);
  const m1: usize = m0 + 16;
  cacheClock++;
  if (load<u32>(m0, 8) != 0 && load<u32>(m0) == s.file && load<u32>(m0, 4) == b) {
    store<u32>(m0, cacheClock, 12);
    bump(0, 1);
    blkPtr = cacheData + (<usize> set * 2) * SLOT;
    blkLen = load<u32>(m0, 8);
    return 0;
  }
  if (load<u32>(m1, 8) != 0 && load<u32>(m1) == s.file && load<u32>(m1, 4) == b) {
    store<u32>(m1, cacheClock, 12);
    bump(0, 1);
    blkPtr = cacheData + (<usize> set * 2 + 1) * SLOT;
    blkLen = load<u32>(m1, 8);
    return 0;
  }
  bump(1, 1);
  const size: u32 = blockSize(s, b);
  if (size > SLOT) {
    big.len = 0;
    bufReserve(big, size);
    const st: i32 = readVerified(s, b, big.ptr);
    if (st < 0) return st;
    blkPtr = big.ptr;
    blkLen = size;
    return 0;
  }
  // victim: empty or least recently used way
  const way: u32 = load<u32>(m0, 8) == 0
    ? 0
    : load<u32>(m1, 8) == 0
    ? 1
    : load<u32>(m0, 12) <= load<u32>(m1, 12)
    ? 0
    : 1;
  const m: usize = way == 0 ? m0 : m1;
  const dst: usize = cacheData + (<usize> set * 2 + way) * SLOT;
  store<u32>(m, 0, 8); // invalid while loading
  const st: i32 = readVerified(s, b, dst);
  if (st < 0) return st;
  store<u32>(m, s.file);
  store<u32>(m, b, 4);
  store<u32>(m, size, 8);
  store<u32>(m, cacheClock, 12);
  blkPtr = dst;
  blkLen = size;
  return 0;
}

// ---- opening ----------------------------------------------------------------
export let openedSeg: usize = 0;

function freeSeg(s: Seg): void {
  if (s.index != 0) heap.free(s.index);
  if (s.blockIdx != 0) heap.free(s.blockIdx);
  if (s.bloom != 0) heap.free(s.bloom);
  if (s.scratch != 0) heap.free(s.scratch);
  if (s.fences != 0) heap.free(s.fences);
  if (s.verified != 0) heap.free(s.verified);
  heap.free(changetype<usize>(s));
}

export function segClose(s: Seg): void {
  freeSeg(s);
}

/** Opens segment file `file` of `size` bytes: reads footer, index and bloom. */
export function segOpen(file: u32, size: f64): i32 {
  const s = changetype<Seg>(heap.alloc(offsetof<Seg>()));
  memory.fill(changetype<usize>(s), 0, offsetof<Seg>());
  s.file = file;
  const st: i32 = segOpenInner(s, size);
  if (st < 0) {
    freeSeg(s);
    return st;
  }
  openedSeg = changetype<usize>(s);
  return 0;
}

function segOpenInner(s: Seg, size: f64): i32 {
  const file: u32 = s.file;
  if (size < <f64> FOOTER_SIZE) return corrupt(file, BLOCK_FOOTER, D_TRUNCATED);
  const f: usize = heap.alloc(FOOTER_SIZE);
  s.scratch = f;
  const n: i32 = hostRead(file, size - <f64> FOOTER_SIZE, f, FOOTER_SIZE);
  if (n < 0) return ERR_IO;
  if (<u32> n != FOOTER_SIZE) return corrupt(file, BLOCK_FOOTER, D_TRUNCATED);
  if (load<u64>(f, 48) != MAGIC) return corrupt(file, BLOCK_FOOTER, D_MAGIC);
  if (crc32c(f, 44) != load<u32>(f, 44)) return corrupt(file, BLOCK_FOOTER, D_CRC);
  const version: u32 = load<u32>(f, 40);
  if (version != 1 && version != VERSION) return corrupt(file, BLOCK_FOOTER, D_VERSION);
  const indexOff: f64 = <f64> load<u64>(f);
  const indexLen: u32 = load<u32>(f, 8);
  const bloomOff: f64 = <f64> load<u64>(f, 16);
  const bloomLen: u32 = load<u32>(f, 24);
  s.entryCount = load<u32>(f, 32);
  const nb: u32 = load<u32>(f, 36);
  const idxBlock: i32 = <i32> nb;
  const footerAt: f64 = size - <f64> FOOTER_SIZE;
  if (indexOff + <f64> indexLen > footerAt || bloomOff + <f64> bloomLen > footerAt) {
    return corrupt(file, BLOCK_FOOTER, D_TRUNCATED);
  }
  if (indexLen < 5) return corrupt(file, BLOCK_FOOTER, D_FORMAT);
  // index
  s.index = heap.alloc(<usize> indexLen);
  s.indexLen = indexLen;
  const ni: i32 = hostRead(file, indexOff, s.index, indexLen);
  if (ni < 0) return ERR_IO;
  if (<u32> ni != indexLen) return corrupt(file, idxBlock, D_TRUNCATED);
  if (crc32c(s.index, indexLen) != load<u32>(f, 12)) return corrupt(file, idxBlock, D_CRC);
  if (load<u32>(s.index) != nb || <u64> nb * 17 > <u64> indexLen) {
    return corrupt(file, idxBlock, D_FORMAT);
  }
  s.numBlocks = nb;
  s.blockIdx = heap.alloc(<usize> (nb == 0 ? 1 : nb) << 2);
  s.verified = heap.alloc((<usize> nb >>> 3) + 1);
  memory.fill(s.verified, 0, (<usize> nb >>> 3) + 1);
  const end: usize = s.index + indexLen;
  let p: usize = getVarint(s.index + 4, end);
  if (p == 0 || p + vOut > end) return corrupt(file, idxBlock, D_FORMAT);
  s.firstKey = p;
  s.firstKeyLen = vOut;
  p += vOut;
  let dataEnd: f64 = 0;
  for (let b: u32 = 0; b < nb; b++) {
    p = getVarint(p, end);
    if (p == 0 || p + vOut + 16 > end) return corrupt(file, idxBlock, D_FORMAT);
    p += vOut;
    store<u32>(s.blockIdx + (<usize> b << 2), <u32> (p - s.index));
    const bo: f64 = <f64> load<u64>(p);
    const bs: u32 = load<u32>(p, 8);
    if (bo != dataEnd || bo + <f64> bs > indexOff) return corrupt(file, idxBlock, D_FORMAT);
    dataEnd = bo + <f64> bs;
    p += 16;
  }
  s.dataBytes = dataEnd;
  // Fences: block search compares u64 prefixes first (no varint decoding,
  // one dense array), and whole keys only on equal prefixes.
  s.fences = heap.alloc(<usize> (nb == 0 ? 1 : nb) << 3);
  for (let b: u32 = 0; b < nb; b++) {
    const kp: usize = keyOfBlock(s, b, end);
    store<u64>(s.fences + (<usize> b << 3), prefix8(kp, <u32> (s.index + <usize> load<u32>(s.blockIdx + (<usize> b << 2)) - kp)));
  }
  // Block index entries are stored as offset of (u64 offset | u32 size | u32 crc).
  // bloom
  if (bloomLen < 12) return corrupt(file, <i32> nb + 1, D_FORMAT);
  // Read so that the bit array (after the u32 k) starts on a 64-byte line.
  const raw: usize = heap.alloc(<usize> bloomLen + 64);
  s.bloom = raw;
  const bl: usize = ((raw + 4 + 63) & ~<usize> 63) - 4;
  const nbl: i32 = hostRead(file, bloomOff, bl, bloomLen);
  if (nbl < 0) return ERR_IO;
  if (<u32> nbl != bloomLen) return corrupt(file, <i32> nb + 1, D_TRUNCATED);
  if (crc32c(bl, bloomLen) != load<u32>(f, 28)) return corrupt(file, <i32> nb + 1, D_CRC);
  s.bloomK = load<u32>(bl);
  s.bloomBits = (bloomLen - 4) << 3;
  s.bloomArr = bl + 4;
  if (s.bloomK == 0 || s.bloomK > 30) return corrupt(file, <i32> nb + 1, D_FORMAT);
  if (version >= 2) {
    if (((bloomLen - 4) & 63) != 0) return corrupt(file, <i32> nb + 1, D_FORMAT);
    s.bloomBlocks = (bloomLen - 4) >>> 6;
  }
  return 0;
}

/** The first 8 bytes of a key as a big-endian u64 (zero-padded): orders like the key. */
// @ts-ignore: decorator
@inline
export function prefix8(k: usize, kl: u32): u64 {
  if (kl >= 8) return bswap<u64>(load<u64>(k));
  let x: u64 = 0;
  for (let i: u32 = 0; i < 8; i++) {
    x = (x << 8) | (i < kl ? <u64> load<u8>(k + i) : 0);
  }
  return x;
}

/** Blocked bloom (v2): the bits of one 512-bit block. */
// @ts-ignore: decorator
@inline
function bloomBlockOf(h: u64, blocks: u32): u32 {
  return <u32> (((h >> 32) * <u64> blocks) >> 32);
}

// @ts-ignore: decorator
@inline
export function bloomMay(s: Seg, h: u64): bool {
  const nb: u32 = s.bloomBlocks;
  if (nb != 0) {
    const line: usize = s.bloomArr + (<usize> bloomBlockOf(h, nb) << 6);
    let a: u32 = <u32> h;
    for (let i: u32 = 0; i < s.bloomK; i++) {
      a *= 0x9e3779b9;
      const pos: u32 = a >>> 23;
      if ((load<u8>(line + (pos >>> 3)) & (1 << (pos & 7))) == 0) return false;
    }
    return true;
  }
  const m: u32 = s.bloomBits;
  const h1: u32 = <u32> h;
  const h2: u32 = <u32> (h >> 32) | 1;
  const bits: usize = s.bloomArr;
  for (let i: u32 = 0; i < s.bloomK; i++) {
    const pos: u32 = (h1 + i * h2) % m;
    if ((load<u8>(bits + (pos >>> 3)) & (1 << (pos & 7))) == 0) return false;
  }
  return true;
}

/** First block whose last key >= k, or numBlocks. */
export function findBlock(s: Seg, k: usize, kl: u32): u32 {
  let lo: u32 = 0;
  let hi: u32 = s.numBlocks;
  const end: usize = s.index + s.indexLen;
  const kp8: u64 = prefix8(k, kl);
  const fences: usize = s.fences;
  while (lo < hi) {
    const mid: u32 = (lo + hi) >>> 1;
    const f: u64 = load<u64>(fences + (<usize> mid << 3));
    let c: i32;
    if (f != kp8) c = f < kp8 ? -1 : 1;
    else {
      const e: usize = s.index + <usize> unchecked(load<u32>(s.blockIdx + (<usize> mid << 2)));
      // The last key ends where the block's (offset, size, crc) entry starts.
      const kp: usize = keyOfBlock(s, mid, end);
      c = cmpBytes(kp, <u32> (e - kp), k, kl);
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Start of block b's last key: the entry of block b begins right after the
// previous entry (or after the first key for b = 0); the varint length there
// is skipped.
// @ts-ignore: decorator
@inline
function keyOfBlock(s: Seg, b: u32, end: usize): usize {
  const start: usize = b == 0
    ? s.firstKey + s.firstKeyLen
    : s.index + <usize> unchecked(load<u32>(s.blockIdx + (<usize> (b - 1) << 2))) + 16;
  return getVarint(start, end);
}

// ---- block parsing -----------------------------------------------------------
// A cursor over one block: key rebuilt in kbuf.
// Entry decoded by parseEntry: sets eKind/eVal/eValLen/ePos; key in the Buf.
export let eKind: u32 = 0;
export let eVal: usize = 0;
export let eValLen: u32 = 0;

/** Decodes the entry at p (< dataEnd) into key buffer kb; returns next p or 0 if damaged. */
export function parseEntry(p: usize, dataEnd: usize, kb: Buf): usize {
  p = getVarint(p, dataEnd);
  if (p == 0) return 0;
  const shared: u32 = vOut;
  p = getVarint(p, dataEnd);
  if (p == 0) return 0;
  const unshared: u32 = vOut;
  p = getVarint(p, dataEnd);
  if (p == 0) return 0;
  const vl: u32 = vOut;
  if (shared > kb.len || <u64> p + 1 + unshared + vl > <u64> dataEnd) return 0;
  eKind = load<u8>(p);
  p++;
  kb.len = shared;
  bufAppend(kb, p, unshared);
  p += unshared;
  eVal = p;
  eValLen = vl;
  return p + vl;
}

/**
 * Positions at the first entry with key >= k inside block (ptr,len).
 * Returns 1 found-equal, 0 positioned at a greater key, 2 past end; <0 damaged.
 * The entry is left in kb/eKind/eVal and the following position in bNext.
 */
export let bNext: usize = 0;
export function blockSeek(ptr: usize, len: u32, k: usize, kl: u32, kb: Buf): i32 {
  const r: u32 = load<u32>(ptr + len - 4);
  const rs: usize = ptr + len - 4 - (<usize> r << 2);
  const dataEnd: usize = rs;
  // binary search restarts: last restart whose key <= k
  let lo: u32 = 0;
  let hi: u32 = r;
  while (hi - lo > 1) {
    const mid: u32 = (lo + hi) >>> 1;
    const at: usize = ptr + <usize> load<u32>(rs + (<usize> mid << 2));
    if (at >= dataEnd) return -1;
    let q: usize = getVarint(at, dataEnd); // shared (0)
    if (q == 0) return -1;
    q = getVarint(q, dataEnd);
    if (q == 0) return -1;
    const ul: u32 = vOut;
    q = getVarint(q, dataEnd);
    if (q == 0 || q + 1 + ul > dataEnd) return -1;
    if (cmpBytes(q + 1, ul, k, kl) <= 0) lo = mid;
    else hi = mid;
  }
  let p: usize = ptr + <usize> load<u32>(rs + (<usize> lo << 2));
  kb.len = 0;
  while (p < dataEnd) {
    p = parseEntry(p, dataEnd, kb);
    if (p == 0) return -1;
    const c: i32 = cmpBytes(kb.ptr, kb.len, k, kl);
    if (c >= 0) {
      bNext = p;
      return c == 0 ? 1 : 0;
    }
  }
  bNext = p;
  return 2;
}

// ---- point lookup ------------------------------------------------------------
let gkey: Buf = newBuf(256);

/** Looks k up in s: 1 found (eKind/eVal/eValLen), NOT_FOUND, or an error. */
export function segGet(s: Seg, k: usize, kl: u32, h: u64): i32 {
  bump(6, 1);
  if (!bloomMay(s, h)) {
    bump(5, 1);
    return NOT_FOUND;
  }
  const b: u32 = findBlock(s, k, kl);
  if (b >= s.numBlocks) return NOT_FOUND;
  const st: i32 = loadBlock(s, b);
  if (st < 0) return st;
  const r: i32 = blockSeek(blkPtr, blkLen, k, kl, gkey);
  if (r < 0) return corrupt(s.file, <i32> b, D_FORMAT);
  return r == 1 ? 1 : NOT_FOUND;
}

// ---- segment iterator ----------------------------------------------------------
// Layout: see fields. Owns a copy of its current block (cache slots may be
// evicted by other sources while it is positioned).
// @ts-ignore: decorator
@unmanaged
export class SegIt {
  seg: Seg;
  block: u32;
  buf: Buf;
  pos: usize; // absolute pointer of next entry
  dataEnd: usize;
  key: Buf;
  kind: u32;
  val: usize;
  valLen: u32;
  valid: u32;
}

export function segItNew(): SegIt {
  const it = changetype<SegIt>(heap.alloc(offsetof<SegIt>()));
  memory.fill(changetype<usize>(it), 0, offsetof<SegIt>());
  it.buf = newBuf(SLOT);
  it.key = newBuf(64);
  return it;
}

export function segItFree(it: SegIt): void {
  bufFree(it.buf);
  bufFree(it.key);
  heap.free(changetype<usize>(it));
}

function itLoad(it: SegIt, b: u32): i32 {
  const s: Seg = it.seg;
  const st: i32 = loadBlock(s, b);
  if (st < 0) return st;
  it.buf.len = 0;
  bufAppend(it.buf, blkPtr, blkLen);
  it.block = b;
  const r: u32 = load<u32>(it.buf.ptr + blkLen - 4);
  it.dataEnd = it.buf.ptr + blkLen - 4 - (<usize> r << 2);
  it.pos = it.buf.ptr;
  it.key.len = 0;
  return 0;
}

/** Moves to the next entry: 1 positioned, 0 exhausted, < 0 error. */
export function segItNext(it: SegIt): i32 {
  while (it.pos >= it.dataEnd) {
    const nb: u32 = it.block + 1;
    if (nb >= it.seg.numBlocks) {
      it.valid = 0;
      return 0;
    }
    const st: i32 = itLoad(it, nb);
    if (st < 0) return st;
  }
  const p: usize = parseEntry(it.pos, it.dataEnd, it.key);
  if (p == 0) return corrupt(it.seg.file, <i32> it.block, D_FORMAT);
  it.pos = p;
  it.kind = eKind;
  it.val = eVal;
  it.valLen = eValLen;
  it.valid = 1;
  return 1;
}

/** Positions at the first entry >= k: 1 positioned, 0 exhausted, < 0 error. */
export function segItSeek(it: SegIt, s: Seg, k: usize, kl: u32): i32 {
  it.seg = s;
  it.valid = 0;
  const b: u32 = findBlock(s, k, kl);
  if (b >= s.numBlocks) return 0;
  const st: i32 = itLoad(it, b);
  if (st < 0) return st;
  const r: i32 = blockSeek(it.buf.ptr, it.buf.len, k, kl, it.key);
  if (r < 0) return corrupt(s.file, <i32> b, D_FORMAT);
  if (r == 2) {
    it.pos = it.dataEnd;
    return segItNext(it);
  }
  it.pos = bNext;
  it.kind = eKind;
  it.val = eVal;
  it.valLen = eValLen;
  it.valid = 1;
  return 1;
}

// ---- writer --------------------------------------------------------------------
let wBlock: Buf = newBuf(8192);
let wRestarts: Buf = newBuf(256);
let wLast: Buf = newBuf(256);
let wFirst: Buf = newBuf(256);
let wIndex: Buf = newBuf(4096);
let wHashes: Buf = newBuf(8192);
let wTmp: Buf = newBuf(64);
let wInBlock: u32 = 0;
let wBlocks: u32 = 0;
let wEntries: u32 = 0;
let wOffset: f64 = 0;
export let wBlockTarget: u32 = 4096;

export function writerBegin(): void {
  wBlock.len = 0;
  wRestarts.len = 0;
  wLast.len = 0;
  wFirst.len = 0;
  wIndex.len = 0;
  wHashes.len = 0;
  wInBlock = 0;
  wBlocks = 0;
  wEntries = 0;
  wOffset = 0;
}

function emit(p: usize, n: u32): i32 {
  if (n == 0) return 0;
  const st: i32 = hostEmit(p, n);
  if (st < 0) return ERR_IO;
  bump(4, <f64> n);
  wOffset += <f64> n;
  return 0;
}

function finishBlock(): i32 {
  const r: u32 = wRestarts.len >> 2;
  bufAppend(wBlock, wRestarts.ptr, wRestarts.len);
  bufReserve(wBlock, 4);
  store<u32>(wBlock.ptr + wBlock.len, r);
  wBlock.len += 4;
  const crc: u32 = crc32c(wBlock.ptr, wBlock.len);
  const off: f64 = wOffset;
  const size: u32 = wBlock.len;
  const st: i32 = emit(wBlock.ptr, size);
  if (st < 0) return st;
  bufReserve(wIndex, 5 + wLast.len + 16);
  let q: usize = wIndex.ptr + wIndex.len;
  q += putVarint(q, wLast.len);
  memory.copy(q, wLast.ptr, wLast.len);
  q += wLast.len;
  store<u64>(q, <u64> off);
  store<u32>(q, size, 8);
  store<u32>(q, crc, 12);
  wIndex.len = <u32> (q + 16 - wIndex.ptr);
  wBlocks++;
  wBlock.len = 0;
  wRestarts.len = 0;
  wInBlock = 0;
  return 0;
}

/** Appends one entry (keys strictly ascending). */
export function writerAdd(kind: u32, k: usize, kl: u32, v: usize, vl: u32, h: u64): i32 {
  if (wEntries > 0 && cmpBytes(k, kl, wLast.ptr, wLast.len) <= 0) return ERR_ARG;
  if (wEntries == 0) bufAppend(wFirst, k, kl);
  // would this entry overflow the block? (entry <= 16 + kl + vl bytes, trailer grows by 4)
  if (wInBlock > 0 && wBlock.len + 16 + kl + vl + wRestarts.len + 8 > wBlockTarget) {
    const st: i32 = finishBlock();
    if (st < 0) return st;
  }
  let shared: u32 = 0;
  if (wInBlock % RESTART_INTERVAL == 0) {
    bufReserve(wRestarts, 4);
    store<u32>(wRestarts.ptr + wRestarts.len, wBlock.len);
    wRestarts.len += 4;
  } else {
    const n: u32 = kl < wLast.len ? kl : wLast.len;
    while (shared < n && load<u8>(k + shared) == load<u8>(wLast.ptr + shared)) shared++;
  }
  bufReserve(wBlock, 16 + kl + vl);
  let q: usize = wBlock.ptr + wBlock.len;
  q += putVarint(q, shared);
  q += putVarint(q, kl - shared);
  q += putVarint(q, vl);
  store<u8>(q, <u8> kind);
  q++;
  memory.copy(q, k + shared, kl - shared);
  q += kl - shared;
  memory.copy(q, v, vl);
  q += vl;
  wBlock.len = <u32> (q - wBlock.ptr);
  wLast.len = 0;
  bufAppend(wLast, k, kl);
  bufReserve(wHashes, 8);
  store<u64>(wHashes.ptr + wHashes.len, h);
  wHashes.len += 8;
  wInBlock++;
  wEntries++;
  bump(7, 1);
  return 0;
}

/** Writes the last block, index, bloom and footer. */
export function writerFinish(): i32 {
  if (wInBlock > 0) {
    const st: i32 = finishBlock();
    if (st < 0) return st;
  }
  // index block: u32 n | varint firstKeyLen | firstKey | entries
  wTmp.len = 0;
  bufReserve(wTmp, 9 + wFirst.len + wIndex.len);
  store<u32>(wTmp.ptr, wBlocks);
  let q: usize = wTmp.ptr + 4;
  q += putVarint(q, wFirst.len);
  memory.copy(q, wFirst.ptr, wFirst.len);
  q += wFirst.len;
  memory.copy(q, wIndex.ptr, wIndex.len);
  q += wIndex.len;
  const indexLen: u32 = <u32> (q - wTmp.ptr);
  const indexOff: f64 = wOffset;
  const indexCrc: u32 = crc32c(wTmp.ptr, indexLen);
  let st: i32 = emit(wTmp.ptr, indexLen);
  if (st < 0) return st;
  // bloom block (blocked, see "Bloom filters" above)
  const blocks: u32 = (wEntries * 10 + 511) >>> 9 > 0 ? (wEntries * 10 + 511) >>> 9 : 1;
  const bloomLen: u32 = 4 + (blocks << 6);
  wTmp.len = 0;
  bufReserve(wTmp, bloomLen);
  memory.fill(wTmp.ptr, 0, bloomLen);
  store<u32>(wTmp.ptr, BLOOM_K);
  const bp: usize = wTmp.ptr + 4;
  for (let i: u32 = 0; i < wEntries; i++) {
    const h: u64 = load<u64>(wHashes.ptr + (<usize> i << 3));
    const line: usize = bp + (<usize> bloomBlockOf(h, blocks) << 6);
    let a: u32 = <u32> h;
    for (let j: u32 = 0; j < BLOOM_K; j++) {
      a *= 0x9e3779b9;
      const pos: u32 = a >>> 23;
      store<u8>(line + (pos >>> 3), <u8> (<u32> load<u8>(line + (pos >>> 3)) | (<u32> 1 << (pos & 7))));
    }
  }
  const bloomOff: f64 = wOffset;
  const bloomCrc: u32 = crc32c(wTmp.ptr, bloomLen);
  st = emit(wTmp.ptr, bloomLen);
  if (st < 0) return st;
  // footer
  wTmp.len = 0;
  bufReserve(wTmp, FOOTER_SIZE);
  const f: usize = wTmp.ptr;
  store<u64>(f, <u64> indexOff);
  store<u32>(f, indexLen, 8);
  store<u32>(f, indexCrc, 12);
  store<u64>(f, <u64> bloomOff, 16);
  store<u32>(f, bloomLen, 24);
  store<u32>(f, bloomCrc, 28);
  store<u32>(f, wEntries, 32);
  store<u32>(f, wBlocks, 36);
  store<u32>(f, VERSION, 40);
  store<u32>(f, crc32c(f, 44), 44);
  store<u64>(f, MAGIC, 48);
  return emit(f, FOOTER_SIZE);
}

export function writerEntries(): u32 {
  return wEntries;
}
