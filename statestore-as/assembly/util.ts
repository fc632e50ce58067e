// deno-fmt-ignore-file
// Byte helpers: key comparison, hashing, CRC32C, varints, growable buffers.
// All memory is unmanaged (heap.alloc/heap.free, TLSF of the `minimal`
// runtime); hot paths never allocate.

// Loads made only so that cache misses overlap (wasm has no prefetch
// instruction) add what they loaded here; prefetchSum reads it, so the
// optimizer keeps them.
let prefetched: u32 = 0;
/** Keeps loads made to overlap cache misses (see `prefetched`). */
// @ts-ignore: decorator
@inline
export function keepLoads(sum: u32): void {
  prefetched += sum;
}
/** The sum of the kept loads. */
export function prefetchSum(): u32 {
  return prefetched;
}

/** Unsigned lexicographic comparison of two byte strings: -1, 0 or 1. */
export function cmpBytes(a: usize, al: u32, b: usize, bl: u32): i32 {
  const n: u32 = al < bl ? al : bl;
  let i: u32 = 0;
  while (i + 8 <= n) {
    const x: u64 = bswap<u64>(load<u64>(a + i));
    const y: u64 = bswap<u64>(load<u64>(b + i));
    if (x != y) return x < y ? -1 : 1;
    i += 8;
  }
  while (i < n) {
    const x: u32 = load<u8>(a + i);
    const y: u32 = load<u8>(b + i);
    if (x != y) return x < y ? -1 : 1;
    i++;
  }
  return al == bl ? 0 : al < bl ? -1 : 1;
}

/** Equality of two byte strings of length n (u64 words, then bytes). */
// @ts-ignore: decorator
@inline
export function eqBytes(a: usize, b: usize, n: u32): bool {
  let i: u32 = 0;
  while (i + 8 <= n) {
    if (load<u64>(a + i) != load<u64>(b + i)) return false;
    i += 8;
  }
  while (i < n) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
    i++;
  }
  return true;
}

/**
 * Copies n bytes (non-overlapping). Short copies run inline: V8 lowers
 * memory.copy to a call into the runtime, which costs more than a few
 * word moves for keys and small values.
 */
// @ts-ignore: decorator
@inline
export function copySmall(dst: usize, src: usize, n: u32): void {
  if (n > 64) {
    memory.copy(dst, src, n);
    return;
  }
  let i: u32 = 0;
  while (i + 16 <= n) {
    v128.store(dst + i, v128.load(src + i));
    i += 16;
  }
  if (i + 8 <= n) {
    store<u64>(dst + i, load<u64>(src + i));
    i += 8;
  }
  while (i < n) {
    store<u8>(dst + i, load<u8>(src + i));
    i++;
  }
}

// @ts-ignore: decorator
@inline
function fmix64(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

/** 64-bit hash of a key (murmur3-style mixing over 8-byte words). */
export function hashKey(p: usize, n: u32): u64 {
  let h: u64 = 0x9e3779b97f4a7c15 ^ (<u64> n * 0xc2b2ae3d27d4eb4f);
  let i: u32 = 0;
  while (i + 8 <= n) {
    let k: u64 = load<u64>(p + i);
    k *= 0x87c37b91114253d5;
    k = rotl<u64>(k, 31);
    k *= 0x4cf5ad432745937f;
    h ^= k;
    h = rotl<u64>(h, 27) * 5 + 0x52dce729;
    i += 8;
  }
  let t: u64 = 0;
  let s: u64 = 0;
  while (i < n) {
    t |= (<u64> load<u8>(p + i)) << s;
    s += 8;
    i++;
  }
  h ^= fmix64(t ^ 0x165667b19e3779f9);
  return fmix64(h);
}

// CRC32C (Castagnoli), slicing-by-16. Table: 16 x 256 u32 = 16 KiB.
// Lookups use the table base in a local and the load's constant offset for
// the slice number: an address recomputed from a global for every lookup
// (as an earlier slicing-by-8 version did) made each byte cost more.
let crcTable: usize = 0;

export function crcInit(): void {
  if (crcTable != 0) return;
  crcTable = heap.alloc(16 * 256 * 4);
  for (let i: u32 = 0; i < 256; i++) {
    let c: u32 = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    store<u32>(crcTable + (<usize> i << 2), c);
  }
  for (let i: u32 = 0; i < 256; i++) {
    let c: u32 = load<u32>(crcTable + (<usize> i << 2));
    for (let t: u32 = 1; t < 16; t++) {
      c = (c >>> 8) ^ load<u32>(crcTable + (<usize> (c & 255) << 2));
      store<u32>(crcTable + ((<usize> t * 256 + i) << 2), c);
    }
  }
}

// @ts-ignore: decorator
@inline
function ix(x: u32): usize {
  return <usize> (x & 255) << 2;
}

// Byte `k` of x as a table offset in one shift and one mask.
// @ts-ignore: decorator
@inline
function ixb(x: u32, k: u32): usize {
  return k == 0 ? <usize> ((x << 2) & 0x3fc) : <usize> ((x >>> (k * 8 - 2)) & 0x3fc);
}

/** CRC32C of `n` bytes at `p`. */
export function crc32c(p: usize, n: u32): u32 {
  const T: usize = crcTable;
  let crc: u32 = 0xffffffff;
  const end: usize = p + n;
  while (p + 16 <= end) {
    const a: u32 = load<u32>(p) ^ crc;
    const b: u32 = load<u32>(p, 4);
    const c: u32 = load<u32>(p, 8);
    const d: u32 = load<u32>(p, 12);
    crc = load<u32>(T + ixb(a, 0), 15 << 10) ^ load<u32>(T + ixb(a, 1), 14 << 10) ^
      load<u32>(T + ixb(a, 2), 13 << 10) ^ load<u32>(T + ixb(a, 3), 12 << 10) ^
      load<u32>(T + ixb(b, 0), 11 << 10) ^ load<u32>(T + ixb(b, 1), 10 << 10) ^
      load<u32>(T + ixb(b, 2), 9 << 10) ^ load<u32>(T + ixb(b, 3), 8 << 10) ^
      load<u32>(T + ixb(c, 0), 7 << 10) ^ load<u32>(T + ixb(c, 1), 6 << 10) ^
      load<u32>(T + ixb(c, 2), 5 << 10) ^ load<u32>(T + ixb(c, 3), 4 << 10) ^
      load<u32>(T + ixb(d, 0), 3 << 10) ^ load<u32>(T + ixb(d, 1), 2 << 10) ^
      load<u32>(T + ixb(d, 2), 1 << 10) ^ load<u32>(T + ixb(d, 3));
    p += 16;
  }
  while (p < end) {
    crc = load<u32>(T + ix(crc ^ load<u8>(p))) ^ (crc >>> 8);
    p++;
  }
  return ~crc;
}

/** Writes a LEB128 varint at p; returns bytes written (1..5). */
export function putVarint(p: usize, v: u32): u32 {
  let n: u32 = 0;
  while (v >= 0x80) {
    store<u8>(p + n, <u8> (v | 0x80));
    v >>>= 7;
    n++;
  }
  store<u8>(p + n, <u8> v);
  return n + 1;
}

// Varint decoding writes the value here and returns the new position, or 0
// when the varint runs past `end` (a damaged block; callers report it).
export let vOut: u32 = 0;

export function getVarint(p: usize, end: usize): usize {
  let v: u32 = 0;
  let shift: u32 = 0;
  while (p < end && shift < 35) {
    const b: u32 = load<u8>(p);
    p++;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      vOut = v;
      return p;
    }
    shift += 7;
  }
  return 0;
}

/**
 * A growable byte buffer (unmanaged).
 *
 * Layout (12 bytes): +0 ptr usize | +4 len u32 | +8 cap u32
 */
// @ts-ignore: decorator
@unmanaged
export class Buf {
  ptr: usize;
  len: u32;
  cap: u32;
}

export function newBuf(cap: u32): Buf {
  const b = changetype<Buf>(heap.alloc(offsetof<Buf>()));
  b.ptr = heap.alloc(<usize> cap);
  b.len = 0;
  b.cap = cap;
  return b;
}

/** Makes room for `extra` more bytes after len. */
export function bufReserve(b: Buf, extra: u32): void {
  const need: u32 = b.len + extra;
  if (need <= b.cap) return;
  let c: u32 = b.cap * 2;
  if (c < need) c = need;
  b.ptr = heap.realloc(b.ptr, <usize> c);
  b.cap = c;
}

export function bufAppend(b: Buf, p: usize, n: u32): void {
  bufReserve(b, n);
  copySmall(b.ptr + b.len, p, n);
  b.len += n;
}

export function bufFree(b: Buf): void {
  heap.free(b.ptr);
  heap.free(changetype<usize>(b));
}
