/**
 * PostgreSQL's binary COPY format, for segment bytes: a `bytea` travels as
 * its bytes, where a statement's parameter or result carries it as hex text
 * (twice its size, encoded and decoded on both sides).
 *
 * Layout (all integers big-endian):
 * ```
 * header:  "PGCOPY\n\xff\r\n\0" | flags i32 = 0 | extension length i32 = 0
 * tuple:   field count i16 | per field: length i32 (-1: null) | that many bytes
 * trailer: i16 = -1
 * ```
 * Fields as the types' binary forms: `text` UTF-8, `int4` 4 bytes, `bytea`
 * the bytes themselves.
 *
 * @module
 */

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];
const HEADER_BYTES = SIGNATURE.length + 8;

/** The header every binary COPY stream starts with. */
export function copyHeader(): Uint8Array {
  return new Uint8Array([...SIGNATURE, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** The trailer that ends a binary COPY stream. */
export function copyTrailer(): Uint8Array {
  return new Uint8Array([0xff, 0xff]);
}

const encoder = new TextEncoder();

/**
 * Builds one tuple as pieces to write in order. A `bytea` field's bytes are
 * one piece by reference, not copied: a 16 MiB segment chunk goes to the
 * socket as it is.
 */
export class CopyTuple {
  readonly #pieces: Uint8Array[] = [];
  #small: number[] = [];

  /** Starts a tuple of `fields` fields. */
  constructor(fields: number) {
    this.#i16(fields);
  }

  /** A `text` field. */
  text(s: string): this {
    const bytes = encoder.encode(s);
    this.#i32(bytes.length);
    this.#small.push(...bytes);
    return this;
  }

  /** An `int4` field. */
  int4(n: number): this {
    this.#i32(4);
    this.#i32(n);
    return this;
  }

  /** A `bytea` field. */
  bytea(bytes: Uint8Array): this {
    this.#i32(bytes.length);
    this.#flush();
    this.#pieces.push(bytes);
    return this;
  }

  /** The tuple's bytes, in pieces. */
  pieces(): Uint8Array[] {
    this.#flush();
    return this.#pieces;
  }

  #flush(): void {
    if (this.#small.length > 0) this.#pieces.push(new Uint8Array(this.#small));
    this.#small = [];
  }

  #i16(n: number): void {
    this.#small.push((n >> 8) & 0xff, n & 0xff);
  }

  #i32(n: number): void {
    this.#small.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
}

/** A tuple read back: each field's bytes, null for a null. */
export type CopyFields = (Uint8Array | null)[];

/**
 * Parses a binary COPY stream fed in arbitrary pieces into tuples. Bytes of
 * an unfinished tuple are kept until the rest arrives (the server sends one
 * message per tuple, so they are rarely joined).
 */
export class CopyReader {
  #buf: Uint8Array = new Uint8Array(0);
  #headerRead = false;
  #ended = false;

  /** Takes the next piece of the stream; returns the tuples it completes. */
  push(piece: Uint8Array): CopyFields[] {
    if (this.#ended) throw new Error("binary COPY data after its trailer");
    this.#buf = this.#buf.length === 0 ? piece : concat(this.#buf, piece);
    const tuples: CopyFields[] = [];
    let at = 0;
    const view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
    if (!this.#headerRead) {
      if (this.#buf.length < HEADER_BYTES) return tuples;
      if (SIGNATURE.some((b, i) => this.#buf[i] !== b)) {
        throw new Error("not a binary COPY stream (bad signature)");
      }
      at = HEADER_BYTES + view.getInt32(SIGNATURE.length + 4);
      if (at > this.#buf.length) return tuples;
      this.#headerRead = true;
    }
    for (;;) {
      if (at + 2 > this.#buf.length) break;
      const count = view.getInt16(at);
      if (count === -1) {
        this.#ended = true;
        at += 2;
        break;
      }
      const fields: CopyFields = [];
      let p = at + 2;
      for (let f = 0; f < count && p !== -1; f++) {
        if (p + 4 > this.#buf.length) p = -1;
        else {
          const len = view.getInt32(p);
          p += 4;
          if (len === -1) fields.push(null);
          else if (p + len > this.#buf.length) p = -1;
          else {
            fields.push(this.#buf.subarray(p, p + len));
            p += len;
          }
        }
      }
      if (p === -1) break;
      tuples.push(fields);
      at = p;
    }
    this.#buf = this.#buf.subarray(at);
    return tuples;
  }

  /** Whether the trailer was read (a stream without it was cut short). */
  get ended(): boolean {
    return this.#ended;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Reads an `int4` field. */
export function readInt4(field: Uint8Array): number {
  return new DataView(field.buffer, field.byteOffset, 4).getInt32(0);
}
