/**
 * A batch of unsorted entries for {@linkcode writeSegmentBatch}.
 *
 * @module
 */

/** The value length that marks a delete in the batch layout. */
export const BATCH_DELETE = 0xffffffff;

/**
 * Entries in any order, to be written as one segment by
 * {@linkcode writeSegmentBatch} (which sorts them in WebAssembly). Entries
 * are packed into one growing buffer, no object per entry:
 *
 *   u32 keyLength | u32 valueLength (0xffffffff: a delete) | key | value
 *
 * (little-endian). Keys must be distinct.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SegmentBatch } from "./segment_batch.ts";
 * const b = new SegmentBatch();
 * b.put(new Uint8Array([2]), new Uint8Array([20]));
 * b.delete(new Uint8Array([1]));
 * assert.ok(b.count === 2 && b.byteLength === 8 + 1 + 1 + 8 + 1);
 * ```
 */
export class SegmentBatch {
  #buf: Uint8Array;
  #view: DataView;
  #length = 0;
  #count = 0;
  /** Bytes of the batch whose buffer this one reuses, still intact from `#length` on (see `addKept`). */
  #kept = 0;

  /**
   * Creates an empty batch with `capacity` bytes reserved, or packing into
   * `capacity` when it is a buffer (one a finished batch handed back: its
   * pages are already mapped, which a fresh buffer of many MiB pays for).
   */
  constructor(capacity: number | ArrayBuffer = 64 << 10) {
    this.#buf = new Uint8Array(capacity as number);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Entries added. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of the packed entries. */
  get byteLength(): number {
    return this.#length;
  }

  /** The packed entries (a view, valid until the next add). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#length);
  }

  /**
   * A batch over packed entries (as `bytes()` returned them), without a
   * copy: the other side of a batch sent to a worker.
   */
  static fromBytes(bytes: Uint8Array, count: number): SegmentBatch {
    const b = new SegmentBatch(0);
    b.#buf = bytes;
    b.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    b.#length = bytes.length;
    b.#count = count;
    return b;
  }

  /**
   * An empty batch in `buffer`, which holds the `keptLength` bytes of an
   * earlier batch: {@linkcode SegmentBatch.addKept} keeps their keys.
   */
  static reusing(buffer: ArrayBuffer, keptLength: number): SegmentBatch {
    const b = new SegmentBatch(buffer);
    b.#kept = keptLength;
    return b;
  }

  /**
   * Adds the earlier batch's next entry (see {@linkcode SegmentBatch.reusing})
   * with the first `valueLength` bytes of `value` as its value, when that
   * entry is a put of a value just as long: its key bytes stay where they
   * are. Returns false, adding nothing, otherwise. The caller knows the key
   * is the same (a full snapshot of unchanged keys, in the same order).
   */
  addKept(value: Uint8Array, valueLength: number): boolean {
    const at = this.#length;
    if (at + 8 > this.#kept) return false;
    const keyLength = this.#view.getUint32(at, true);
    // A delete's length (BATCH_DELETE) never equals a value's.
    if (this.#view.getUint32(at + 4, true) !== valueLength) return false;
    const end = at + 8 + keyLength + valueLength;
    if (end > this.#kept) return false;
    copy(this.#buf, end - valueLength, value, valueLength);
    this.#length = end;
    this.#count++;
    return true;
  }

  /** Adds a put of `key` → `value`. */
  put(key: Uint8Array, value: Uint8Array): void {
    this.add(key, key.length, value, value.length);
  }

  /** Adds a delete of `key` (a tombstone over older segments). */
  delete(key: Uint8Array): void {
    this.add(key, key.length, null, 0);
  }

  /**
   * Adds the first `keyLength` bytes of `key` with the first `valueLength`
   * bytes of `value` (`null`: a delete). Takes a writer's buffer and length
   * as they are, without a view per entry.
   */
  add(key: Uint8Array, keyLength: number, value: Uint8Array | null, valueLength: number): void {
    const valueBytes = value === null ? 0 : valueLength;
    this.#kept = 0; // the earlier batch's bytes from here on get overwritten
    const need = this.#length + 8 + keyLength + valueBytes;
    if (need > this.#buf.length) this.#grow(need);
    const buf = this.#buf;
    let at = this.#length;
    this.#view.setUint32(at, keyLength, true);
    this.#view.setUint32(at + 4, value === null ? BATCH_DELETE : valueLength, true);
    at += 8;
    at = copy(buf, at, key, keyLength);
    if (value !== null) at = copy(buf, at, value, valueLength);
    this.#length = at;
    this.#count++;
  }

  #grow(need: number): void {
    let cap = Math.max(64, this.#buf.length * 2);
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

/** Copies `n` bytes of `src` to `dst` at `at`; short copies in a loop (a subarray costs more). */
function copy(dst: Uint8Array, at: number, src: Uint8Array, n: number): number {
  if (n <= 32) {
    for (let i = 0; i < n; i++) dst[at + i] = src[i]!;
  } else dst.set(src.subarray(0, n), at);
  return at + n;
}
