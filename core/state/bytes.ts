/**
 * Growable byte writer and cursor reader that every serializer writes to and
 * reads from. Hot paths reuse one writer (`reset()`) instead of allocating.
 *
 * @module
 */
import { SerializationError } from "../errors.ts";

/*
 * Strings are written as WTF-8: UTF-8, except that a lone surrogate (half of a
 * pair, as slicing a string between the halves leaves) takes the three bytes
 * UTF-8's pattern gives its value (ED A0-BF 80-BF), where TextEncoder writes
 * U+FFFD. So every JavaScript string comes back as it was
 * written (a state key, a record between workers), as Java's strings do in
 * Flink's serializers. A well-formed string's bytes are its UTF-8.
 */
const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: it is part of the string, not a marker.
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** `s`'s WTF-8 bytes into `buf` from `at` (room for 3 bytes a code unit); the bytes written. */
function encodeWtf8(s: string, buf: Uint8Array, at: number): number {
  let p = at;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[p++] = c;
      continue;
    }
    if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 0x3f);
      continue;
    }
    const next = c >= 0xd800 && c < 0xdc00 ? s.charCodeAt(i + 1) : NaN;
    if (next >= 0xdc00 && next < 0xe000) {
      c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      i++;
      buf[p++] = 0xf0 | (c >> 18);
      buf[p++] = 0x80 | ((c >> 12) & 0x3f);
    } else buf[p++] = 0xe0 | (c >> 12);
    buf[p++] = 0x80 | ((c >> 6) & 0x3f);
    buf[p++] = 0x80 | (c & 0x3f);
  }
  return p - at;
}

/**
 * `bytes` as a string. TextDecoder reads a lone surrogate's bytes as U+FFFD:
 * only a string holding that char is decoded again (one made of chars below
 * U+0100 cannot hold it, and V8 answers at once).
 */
function decodeWtf8(bytes: Uint8Array): string {
  const s = decoder.decode(bytes);
  return s.indexOf("\uFFFD") < 0 ? s : decodeSurrogates(bytes);
}

/**
 * Decodes WTF-8: the runs between lone surrogates with TextDecoder, each
 * ED A0-BF xx as its surrogate. ED is never a continuation byte, so every
 * ED found starts a sequence.
 */
function decodeSurrogates(bytes: Uint8Array): string {
  let s = "";
  let from = 0;
  for (let i = 0; i + 2 < bytes.length; i++) {
    const b1 = bytes[i + 1]!;
    if (bytes[i] !== 0xed || b1 < 0xa0 || b1 > 0xbf) continue;
    s += decoder.decode(bytes.subarray(from, i)) +
      String.fromCharCode(0xd000 | ((b1 & 0x3f) << 6) | (bytes[i + 2]! & 0x3f));
    i += 2;
    from = i + 1;
  }
  return s + decoder.decode(bytes.subarray(from));
}

/**
 * A growable byte buffer. `bytes()` views the written bytes without copying;
 * the view is valid until the next write or `reset()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteReader, ByteWriter } from "@weir/weir";
 * const w = new ByteWriter();
 * w.writeString("héllo");
 * w.writeF64(-0);
 * const r = new ByteReader(w.bytes());
 * assert.ok(r.readString() === "héllo" && Object.is(r.readF64(), -0));
 * ```
 */
export class ByteWriter {
  /** The backing buffer; bytes `[0, length)` are written. */
  buf: Uint8Array;
  /** Number of bytes written. */
  length = 0;
  #view: DataView;

  /** Creates a writer with an initial capacity in bytes. */
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
    this.#view = new DataView(this.buf.buffer);
  }

  /** Forgets the written bytes and keeps the buffer. */
  reset(): void {
    this.length = 0;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** A view of the written bytes (no copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** A copy of the written bytes. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  /** Writes one byte. */
  writeU8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  /** Writes a 16-bit unsigned integer, big-endian (sorts bytewise). */
  writeU16(v: number): void {
    this.ensure(2);
    this.#view.setUint16(this.length, v);
    this.length += 2;
  }

  /** Writes a 32-bit unsigned integer, big-endian. */
  writeU32(v: number): void {
    this.ensure(4);
    this.#view.setUint32(this.length, v);
    this.length += 4;
  }

  /** Writes an unsigned integer below 2^53 as a LEB128 varint. */
  writeVarUint(v: number): void {
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  /** Writes a 64-bit float, big-endian. */
  writeF64(v: number): void {
    this.ensure(8);
    this.#view.setFloat64(this.length, v);
    this.length += 8;
  }

  /** Writes a signed 64-bit integer, big-endian. */
  writeI64(v: bigint): void {
    this.ensure(8);
    this.#view.setBigInt64(this.length, v);
    this.length += 8;
  }

  /** Writes raw bytes with no length prefix. */
  writeRaw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Writes bytes prefixed by their length. */
  writeBytes(b: Uint8Array): void {
    this.writeVarUint(b.length);
    this.writeRaw(b);
  }

  /**
   * Writes a string as UTF-8 (WTF-8 where it holds a lone surrogate: see the
   * top of this module) prefixed by its byte length. Short ASCII strings take
   * a hand-written loop: TextEncoder costs more than the copy for them (up to
   * about 64 characters).
   */
  writeString(s: string): void {
    const n = s.length;
    if (n < 64) {
      this.ensure(1 + n * 3);
      const start = this.length + 1;
      let p = start;
      const buf = this.buf;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          p = -1;
          break;
        }
        buf[p++] = c;
      }
      if (p >= 0) {
        buf[this.length] = n;
        this.length = p;
        return;
      }
    }
    this.ensure(5 + n * 3);
    // Reserve a 5-byte-max varint: encode first, then shift if the prefix is shorter.
    const at = this.length;
    const written = s.isWellFormed()
      ? encoder.encodeInto(s, this.buf.subarray(at + 5)).written
      : encodeWtf8(s, this.buf, at + 5);
    let prefix = 1;
    for (let v = written; v >= 0x80; v = Math.floor(v / 0x80)) prefix++;
    if (prefix !== 5) this.buf.copyWithin(at + prefix, at + 5, at + 5 + written);
    this.writeVarUint(written);
    this.length = at + prefix + written;
  }
}

// Where a reader puts 8 bytes to read them as a number. A reader has no DataView of its
// own: one is made per record on hot paths (restore, decoding rows, records between
// workers), and making a DataView of a small array makes the engine give the array a
// buffer of its own, which costs more than the read.
const EIGHT = new DataView(new ArrayBuffer(8));
const EIGHT_BYTES = new Uint8Array(EIGHT.buffer);

/**
 * Longest substring V8 copies (12 chars): a longer one is a slice that keeps the whole string it
 * was cut from alive as long as it lives (a state key, say). Readers that decode a whole batch's
 * bytes once cut out strings up to this length and read longer ones on their own.
 */
export const MAX_COPIED_SUBSTRING = 12;

/**
 * Below this many bytes, {@linkcode charsAt} reads an ASCII string faster than a `TextDecoder`
 * call (a view and an op).
 */
export const MAX_CHARS_AT = 48;

/** Reads `n` bytes from `at` as chars, one a byte: one flat string, made in one call. */
type CharsReader = (bytes: Uint8Array, at: number) => string;
const charsReaders: CharsReader[] = [];

/**
 * The `n` bytes of `bytes` from `at` as a string of a char a byte (each byte its char code), for
 * `n` below {@linkcode MAX_CHARS_AT}: one `String.fromCharCode` call with `n` arguments, compiled
 * once per length (appending a char at a time makes a tree of strings to flatten).
 */
export function charsAt(bytes: Uint8Array, at: number, n: number): string {
  let f = charsReaders[n];
  if (f === undefined) {
    const args = Array.from({ length: n }, (_, k) => `b[at + ${k}]`).join(", ");
    f = charsReaders[n] = new Function(
      "b",
      "at",
      `return String.fromCharCode(${args});`,
    ) as CharsReader;
  }
  return f(bytes, at);
}

/**
 * Reads what a {@linkcode ByteWriter} wrote. Reading past the end throws a
 * `SerializationError` instead of returning garbage.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteReader } from "@weir/weir";
 * const r = new ByteReader(new Uint8Array([3, 0x61, 0x62, 0x63]));
 * assert.ok(r.readString() === "abc" && r.remaining() === 0);
 * ```
 */
export class ByteReader {
  /** The bytes being read. */
  readonly buf: Uint8Array;
  /** Read position. */
  pos: number;
  readonly #end: number;

  /** Reads `buf` from its start. */
  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.pos = 0;
    this.#end = buf.length;
  }

  /** Bytes left to read. */
  remaining(): number {
    return this.#end - this.pos;
  }

  #need(n: number): void {
    if (this.pos + n > this.#end) {
      throw new SerializationError(
        `Cannot deserialize: needs ${n} more bytes at offset ${this.pos}, only ${
          this.#end - this.pos
        } left`,
      );
    }
  }

  /** Reads one byte. */
  readU8(): number {
    this.#need(1);
    return this.buf[this.pos++]!;
  }

  /** Reads a big-endian 16-bit unsigned integer. */
  readU16(): number {
    this.#need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  /** Reads a big-endian 32-bit unsigned integer. */
  readU32(): number {
    this.#need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  /** Reads a LEB128 varint. */
  readVarUint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.readU8();
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    throw new SerializationError(`Cannot deserialize: varint too long at offset ${this.pos}`);
  }

  /** Reads a big-endian 64-bit float. */
  readF64(): number {
    this.#eight();
    return EIGHT.getFloat64(0);
  }

  /** Reads a big-endian signed 64-bit integer. */
  readI64(): bigint {
    this.#eight();
    return EIGHT.getBigInt64(0);
  }

  /** Copies the next 8 bytes to {@linkcode EIGHT}. */
  #eight(): void {
    this.#need(8);
    const b = this.buf;
    const p = this.pos;
    for (let i = 0; i < 8; i++) EIGHT_BYTES[i] = b[p + i]!;
    this.pos = p + 8;
  }

  /** Reads `n` raw bytes as a view (no copy). */
  readRaw(n: number): Uint8Array {
    this.#need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Reads length-prefixed bytes as a copy. */
  readBytes(): Uint8Array {
    return this.readRaw(this.readVarUint()).slice();
  }

  /** Reads a length-prefixed UTF-8 (WTF-8) string. */
  readString(): string {
    const n = this.readVarUint();
    this.#need(n);
    const start = this.pos;
    this.pos += n;
    if (n < MAX_CHARS_AT) {
      const buf = this.buf;
      let bits = 0;
      for (let i = start; i < start + n; i++) bits |= buf[i]!;
      if (bits < 0x80) return charsAt(buf, start, n);
    }
    return decodeWtf8(this.buf.subarray(start, start + n));
  }
}
