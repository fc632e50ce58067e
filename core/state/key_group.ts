/**
 * Key groups: the unit of keyed state. A key's serialized bytes are hashed
 * (murmur3, 32 bit) into one of `maxParallelism` key groups, and subtask `i`
 * of an operator with parallelism `p` owns a contiguous range of them, as in
 * Flink (`KeyGroupRangeAssignment`). Rescaling moves whole key groups.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { FNV_OFFSET, FNV_PRIME } from "./_key_table.ts";

/**
 * Largest supported `maxParallelism` (key group ids fit in 2 bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, StreamEnvironment, UPPER_BOUND_MAX_PARALLELISM } from "@weir/weir";
 * assert.equal(UPPER_BOUND_MAX_PARALLELISM, 32768);
 * assert.throws(
 *   () => StreamEnvironment.create({ maxParallelism: UPPER_BOUND_MAX_PARALLELISM + 1 }),
 *   ConfigError,
 * );
 * ```
 */
export const UPPER_BOUND_MAX_PARALLELISM = 32768;

/**
 * MurmurHash3 (x86, 32 bit) of `bytes[0, length)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { murmur3 } from "./key_group.ts";
 * assert.ok(murmur3(new TextEncoder().encode("hello")) === 0x248bfa47);
 * ```
 */
export function murmur3(bytes: Uint8Array, length = bytes.length, seed = 0): number {
  return bytesKeyGroup(bytes, length, seed, 0);
}

/** {@linkcode murmur3} of `bytes[0, length)`, as {@linkcode hashOrGroup} returns it. */
function bytesKeyGroup(
  bytes: Uint8Array,
  length: number,
  seed: number,
  maxParallelism: number,
): number {
  let h = seed | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = mixBlock(h, k);
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    h ^= scramble(k);
  }
  return hashOrGroup(finalize(h, length), maxParallelism);
}

/** Murmur3's scrambling of one 4-byte block `k` (also of the tail). */
function scramble(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

/** Folds one full 4-byte block `k` into the running hash `h`. */
function mixBlock(h: number, k: number): number {
  h ^= scramble(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Murmur3's final avalanche of `h` over `length` bytes, as an unsigned 32-bit number. */
function finalize(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The key group among `maxParallelism` of a key whose hash is `hash`, or with
 * `maxParallelism` 0 the hash itself. The hashing functions end here, not in
 * a caller's `keyGroupOfHash(hash)`: a key group is a small integer, which a
 * caller in another function receives unboxed, where an unsigned 32-bit hash
 * of 2^31 or more (half of them) comes back as a heap number (V8's small
 * integers are signed), an allocation a key.
 */
function hashOrGroup(hash: number, maxParallelism: number): number {
  if (maxParallelism === 0) return hash;
  const mask = maxParallelism - 1;
  // A power of two (the default 128) takes the hash's low bits: the same number as
  // keyGroupOfHash, without its two integer divisions.
  return (maxParallelism & mask) === 0 ? hash & mask : keyGroupOfHash(hash, maxParallelism);
}

/** Where `asciiKeyGroup` puts the string hash when its caller does not want it. */
const STRING_HASH = new Int32Array(1);

/**
 * The key group among `maxParallelism` of `prefixLength` (0 to 2) bytes `p0`,
 * `p1` followed by the ASCII string `s` (one byte per char), without writing
 * the bytes out; with `maxParallelism` 0, their {@linkcode murmur3} hash
 * itself (see {@linkcode hashOrGroup}). -1 when `s` has a char above 0x7f
 * (use its UTF-8 bytes instead). Otherwise `stringHash[0]` gets the key
 * tables' hash of `s` (`stringKeyHash`), computed in the same pass over the
 * chars: a keyed channel sends it with the record, and the receiving backend
 * does not hash the key again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { asciiKeyGroup, keyGroupOf, murmur3 } from "./key_group.ts";
 * import { stringKeyHash } from "./_key_table.ts";
 * const bytes = new Uint8Array([1, 6, ...new TextEncoder().encode("user-1")]);
 * assert.equal(asciiKeyGroup("user-1", 0, 2, 1, 6), murmur3(bytes));
 * const stringHash = new Int32Array(1);
 * assert.equal(asciiKeyGroup("user-1", 128, 2, 1, 6, stringHash), keyGroupOf(bytes, 128));
 * assert.equal(stringHash[0], stringKeyHash("user-1"));
 * assert.equal(asciiKeyGroup("user-1", 100, 2, 1, 6), keyGroupOf(bytes, 100));
 * assert.equal(asciiKeyGroup("é", 128, 0, 0, 0), -1);
 * ```
 */
export function asciiKeyGroup(
  s: string,
  maxParallelism: number,
  prefixLength: number,
  p0: number,
  p1: number,
  stringHash: Int32Array = STRING_HASH,
): number {
  const length = s.length;
  let h = 0;
  // FNV-1a, beside murmur3: its chain of multiplies overlaps murmur's.
  let f = FNV_OFFSET;
  let k = prefixLength === 0 ? 0 : prefixLength === 1 ? p0 : p0 | (p1 << 8);
  // Every char's bits or-ed together, checked once: a branch a string, not a char.
  let bits = 0;
  let i = 0;
  // The prefix's block, completed with the first chars, when the bytes fill it.
  if (prefixLength === 2 && length >= 2) {
    const c0 = s.charCodeAt(0), c1 = s.charCodeAt(1);
    bits = c0 | c1;
    f = Math.imul(Math.imul(f ^ c0, FNV_PRIME) ^ c1, FNV_PRIME);
    h = mixBlock(h, k | (c0 << 16) | (c1 << 24));
    k = 0;
    i = 2;
  } else if (prefixLength === 1 && length >= 3) {
    const c0 = s.charCodeAt(0), c1 = s.charCodeAt(1), c2 = s.charCodeAt(2);
    bits = c0 | c1 | c2;
    f = Math.imul(Math.imul(Math.imul(f ^ c0, FNV_PRIME) ^ c1, FNV_PRIME) ^ c2, FNV_PRIME);
    h = mixBlock(h, k | (c0 << 8) | (c1 << 16) | (c2 << 24));
    k = 0;
    i = 3;
  }
  // Four chars a block, unrolled: one loop branch a block, not a char.
  for (; i + 4 <= length; i += 4) {
    const c0 = s.charCodeAt(i), c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2), c3 = s.charCodeAt(i + 3);
    bits |= c0 | c1 | c2 | c3;
    f = Math.imul(Math.imul(f ^ c0, FNV_PRIME) ^ c1, FNV_PRIME);
    f = Math.imul(Math.imul(f ^ c2, FNV_PRIME) ^ c3, FNV_PRIME);
    h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
  }
  // The tail: the chars left, after the prefix's bytes when no block took them.
  const tail = (prefixLength + length) & 3;
  for (let shift = 8 * (tail - (length - i)); i < length; i++, shift += 8) {
    const c = s.charCodeAt(i);
    bits |= c;
    f = Math.imul(f ^ c, FNV_PRIME);
    k |= c << shift;
  }
  if (bits >= 0x80) return -1;
  stringHash[0] = f;
  if (tail !== 0) h ^= scramble(k);
  return hashOrGroup(finalize(h, prefixLength + length), maxParallelism);
}

/** Where a number's serialized bytes are written, to be read back as murmur3's blocks. */
const NUMBER_BYTES = new DataView(new ArrayBuffer(12));

/**
 * The key group among `maxParallelism` of the bytes `Serializers.f64` writes for `v` (8,
 * big-endian), preceded by byte `tag` unless it is -1 (`Serializers.key` writes a number as tag 2
 * and those 8 bytes), without a writer or a loop over the bytes; with `maxParallelism` 0, their
 * {@linkcode murmur3} hash itself (see {@linkcode hashOrGroup}). A little-endian read of
 * big-endian bytes is murmur3's block of them, on any platform.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWriter, keyGroupOf, Serializers } from "@weir/weir";
 * import { f64KeyGroup } from "./key_group.ts";
 * const w = new ByteWriter();
 * Serializers.f64.write(1234.5, w);
 * assert.equal(f64KeyGroup(1234.5, 128, -1), keyGroupOf(w.bytes(), 128));
 * w.reset();
 * Serializers.key.write(1234.5, w);
 * assert.equal(f64KeyGroup(1234.5, 100, 2), keyGroupOf(w.bytes(), 100));
 * ```
 */
export function f64KeyGroup(v: number, maxParallelism: number, tag: number): number {
  const view = NUMBER_BYTES;
  if (tag < 0) {
    view.setFloat64(0, v);
    const h = mixBlock(mixBlock(0, view.getInt32(0, true)), view.getInt32(4, true));
    return hashOrGroup(finalize(h, 8), maxParallelism);
  }
  view.setUint8(0, tag);
  view.setFloat64(1, v);
  const h = mixBlock(mixBlock(0, view.getInt32(0, true)), view.getInt32(4, true)) ^
    scramble(view.getUint8(8));
  return hashOrGroup(finalize(h, 9), maxParallelism);
}

/**
 * The key group among `maxParallelism` of the 4 bytes `Serializers.i32` writes for `v` (an
 * integer of 32 bits), as {@linkcode f64KeyGroup} does for `Serializers.f64`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWriter, keyGroupOf, Serializers } from "@weir/weir";
 * import { i32KeyGroup } from "./key_group.ts";
 * const w = new ByteWriter();
 * Serializers.i32.write(-7, w);
 * assert.equal(i32KeyGroup(-7, 128), keyGroupOf(w.bytes(), 128));
 * ```
 */
export function i32KeyGroup(v: number, maxParallelism: number): number {
  NUMBER_BYTES.setInt32(0, v);
  return hashOrGroup(finalize(mixBlock(0, NUMBER_BYTES.getInt32(0, true)), 4), maxParallelism);
}

/**
 * A record's key group where nobody has computed it yet (no keyed channel
 * routed the record): whoever needs it hashes the key.
 */
export const UNKNOWN_KEY_GROUP = -1;

/**
 * The key group of a serialized key (of its first `length` bytes). A `maxParallelism`
 * outside 1..{@linkcode UPPER_BOUND_MAX_PARALLELISM} or a `length` beyond the bytes is a
 * `ConfigError` naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyGroupOf } from "@weir/weir";
 * const g = keyGroupOf(new TextEncoder().encode("user-1"), 128);
 * assert.ok(g >= 0 && g < 128);
 * ```
 */
export function keyGroupOf(keyBytes: Uint8Array, maxParallelism: number, length?: number): number {
  checkMaxParallelism("keyGroupOf", maxParallelism);
  if (length !== undefined) checkIntIn("keyGroupOf", "length", length, 0, keyBytes.length);
  return bytesKeyGroup(keyBytes, length ?? keyBytes.length, 0, maxParallelism);
}

/**
 * {@linkcode keyGroupOf} without its argument checks, for the per-record paths: their
 * `maxParallelism` is the job's, checked once, and `length` their writer's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyGroupOf, keyGroupOfBytes } from "./key_group.ts";
 * const bytes = new TextEncoder().encode("user-1");
 * assert.equal(keyGroupOfBytes(bytes, 128, bytes.length), keyGroupOf(bytes, 128));
 * ```
 */
export function keyGroupOfBytes(
  keyBytes: Uint8Array,
  maxParallelism: number,
  length: number,
): number {
  return bytesKeyGroup(keyBytes, length, 0, maxParallelism);
}

/**
 * Throws a ConfigError naming `fn`'s argument `name` unless `value` is an integer in `lo..hi`:
 * the public helpers would otherwise answer NaN, -1 or a group out of range.
 */
function checkIntIn(fn: string, name: string, value: number, lo: number, hi: number): void {
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new ConfigError(`${fn}: ${name} must be an integer in ${lo}..${hi}, got ${value}`);
  }
}

/** {@linkcode checkIntIn} for a max parallelism (the number of key groups). */
function checkMaxParallelism(fn: string, maxParallelism: number): void {
  checkIntIn(fn, "maxParallelism", maxParallelism, 1, UPPER_BOUND_MAX_PARALLELISM);
}

/**
 * The key group of a key whose {@linkcode murmur3} hash is `hash`:
 * `hash % maxParallelism`, computed on 16-bit halves so every step stays a
 * small integer. (`%` of a number of 2^31 or more, as half of all hashes are,
 * is a floating-point remainder, many times slower than an integer one.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyGroupOfHash } from "./key_group.ts";
 * assert.equal(keyGroupOfHash(0xffffffff, 128), 0xffffffff % 128);
 * ```
 */
export function keyGroupOfHash(hash: number, maxParallelism: number): number {
  // Below 2^31 at every step, as maxParallelism is at most 2^15.
  return (((hash >>> 16) % maxParallelism) * 0x10000 + (hash & 0xffff)) % maxParallelism;
}

/**
 * The subtask that owns `keyGroup` (Flink's
 * `computeOperatorIndexForKeyGroup`). An argument out of range (`keyGroup` not below
 * `maxParallelism`, a `parallelism` above it) is a `ConfigError` naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { subtaskForKeyGroup } from "@weir/weir";
 * assert.ok(subtaskForKeyGroup(127, 128, 2) === 1);
 * ```
 */
export function subtaskForKeyGroup(
  keyGroup: number,
  maxParallelism: number,
  parallelism: number,
): number {
  // Cold (a channel table is built once): checked here, not per record.
  checkMaxParallelism("subtaskForKeyGroup", maxParallelism);
  checkIntIn("subtaskForKeyGroup", "parallelism", parallelism, 1, maxParallelism);
  checkIntIn("subtaskForKeyGroup", "keyGroup", keyGroup, 0, maxParallelism - 1);
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/**
 * An inclusive range of key groups `[start, end]`; empty when `end < start`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyGroupRangeForSubtask } from "@weir/weir";
 * const r = keyGroupRangeForSubtask(128, 2, 1);
 * assert.ok(r.start === 64 && r.end === 127);
 * ```
 */
export interface KeyGroupRange {
  /** First key group in the range. */
  readonly start: number;
  /** Last key group in the range (inclusive). */
  readonly end: number;
}

/**
 * The key groups subtask `index` of `parallelism` owns (Flink's
 * `computeKeyGroupRangeForOperatorIndex`). An argument out of range (a `parallelism` above
 * `maxParallelism`, an `index` not below `parallelism`) is a `ConfigError` naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyGroupRangeForSubtask } from "@weir/weir";
 * assert.ok(keyGroupRangeForSubtask(128, 1, 0).end === 127);
 * ```
 */
export function keyGroupRangeForSubtask(
  maxParallelism: number,
  parallelism: number,
  index: number,
): KeyGroupRange {
  checkMaxParallelism("keyGroupRangeForSubtask", maxParallelism);
  checkIntIn("keyGroupRangeForSubtask", "parallelism", parallelism, 1, maxParallelism);
  checkIntIn("keyGroupRangeForSubtask", "index", index, 0, parallelism - 1);
  return {
    start: Math.floor((index * maxParallelism + parallelism - 1) / parallelism),
    end: Math.floor(((index + 1) * maxParallelism - 1) / parallelism),
  };
}

/**
 * Flink's default max parallelism for an operator: `1.5 × parallelism`
 * rounded up to a power of two, at least 128 and at most 32768. A `parallelism` that is not
 * an integer in 1..32768 is a `ConfigError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultMaxParallelism } from "@weir/weir";
 * assert.ok(defaultMaxParallelism(4) === 128 && defaultMaxParallelism(200) === 512);
 * ```
 */
export function defaultMaxParallelism(parallelism: number): number {
  checkIntIn("defaultMaxParallelism", "parallelism", parallelism, 1, UPPER_BOUND_MAX_PARALLELISM);
  const want = parallelism + Math.floor(parallelism / 2);
  let p = 1;
  while (p < want) p *= 2;
  return Math.min(Math.max(p, 128), UPPER_BOUND_MAX_PARALLELISM);
}

/**
 * Checks a parallelism / max parallelism pair and throws a `ConfigError`
 * naming the problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "@weir/weir";
 * import { checkParallelism } from "./key_group.ts";
 * checkParallelism(2, 128, "count");
 * assert.throws(
 *   () => checkParallelism(200, 128, "count"),
 *   (e) => e instanceof ConfigError && /parallelism 200 exceeds maxParallelism 128/.test(e.message),
 * );
 * ```
 */
export function checkParallelism(
  parallelism: number,
  maxParallelism: number,
  operator: string,
): void {
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new ConfigError(
      `Operator "${operator}": parallelism must be a positive integer, got ${parallelism}`,
    );
  }
  if (
    !Number.isInteger(maxParallelism) || maxParallelism < 1 ||
    maxParallelism > UPPER_BOUND_MAX_PARALLELISM
  ) {
    throw new ConfigError(
      `Operator "${operator}": maxParallelism must be an integer in 1..${UPPER_BOUND_MAX_PARALLELISM}, got ${maxParallelism}`,
    );
  }
  if (parallelism > maxParallelism) {
    throw new ConfigError(
      `Operator "${operator}": parallelism ${parallelism} exceeds maxParallelism ${maxParallelism}`,
    );
  }
}
