import assert from "node:assert/strict";
import { SerializationError } from "../errors.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";

function roundTripString(s: string, capacity = 64): string {
  const w = new ByteWriter(capacity);
  w.writeString(s);
  w.writeU8(0xab); // a sentinel: the length prefix must say exactly where the string ends
  const r = new ByteReader(w.bytes());
  const back = r.readString();
  assert.equal(r.readU8(), 0xab);
  assert.equal(r.remaining(), 0);
  return back;
}

/** What `writeString(s)` writes: the length prefix, then the bytes. */
function stringBytes(s: string): Uint8Array {
  const w = new ByteWriter();
  w.writeString(s);
  return w.toBytes();
}

Deno.test("ByteWriter.writeString: ASCII and non-ASCII around the varint boundaries", () => {
  for (
    const n of [0, 1, 15, 16, 17, 63, 64, 65, 126, 127, 128, 129, 255, 16383, 16384, 16385, 100_000]
  ) {
    const ascii = "x".repeat(n);
    assert.equal(roundTripString(ascii), ascii, `ascii length ${n}`);
    const accented = "é".repeat(n); // 2 UTF-8 bytes per char
    assert.equal(roundTripString(accented), accented, `2-byte length ${n}`);
    const mixed = "a".repeat(Math.max(0, n - 1)) + (n > 0 ? "€" : "");
    assert.equal(roundTripString(mixed), mixed, `mixed length ${n}`);
  }
});

Deno.test("ByteReader.readString: every length up to 64, each char of each string, ASCII or not", () => {
  // Short ASCII strings are read a char a byte, longer ones and the rest decoded as UTF-8.
  const chars = ["\u007f", "\u0080", "é", "€", "𝄞", "\ud800", "\u0000"];
  for (let n = 0; n <= 64; n++) {
    const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 7) % 95)))
      .join("");
    assert.equal(roundTripString(ascii), ascii, `ascii length ${n}`);
    for (const c of chars) {
      for (let at = 0; at < n; at++) {
        const s = ascii.slice(0, at) + c + ascii.slice(at + 1);
        assert.equal(roundTripString(s), s, `${JSON.stringify(c)} at ${at} of ${n}`);
      }
    }
  }
});

Deno.test("ByteWriter.writeString: the length prefix is the UTF-8 byte length", () => {
  for (const [s, bytes] of [["", 0], ["abc", 3], ["é", 2], ["€", 3], ["😀", 4]] as const) {
    const w = new ByteWriter();
    w.writeString(s);
    assert.equal(w.length, 1 + bytes, s);
    assert.equal(w.bytes()[0], bytes);
  }
  // 128 ASCII characters need a two-byte varint (0x80 0x01).
  const w = new ByteWriter();
  w.writeString("a".repeat(128));
  assert.deepEqual([...w.bytes().subarray(0, 2)], [0x80, 0x01]);
  assert.equal(w.length, 130);
  // 127 characters of 2 bytes each = 254 bytes: the short path falls back, prefix is 2 bytes.
  const w2 = new ByteWriter();
  w2.writeString("é".repeat(127));
  assert.equal(w2.length, 2 + 254);
});

Deno.test("ByteWriter.writeString: unicode edge cases", () => {
  const cases = [
    "😀🎉", // astral characters (surrogate pairs)
    "e\u0301", // combining mark: kept as two code points, not normalized
    "\u0000nul\u0000",
    "日本語テキスト",
    "\uFEFFbom", // a leading BOM is content, not a marker
    "\uFEFF" + "x".repeat(200),
    "a😀".repeat(200),
  ];
  for (const s of cases) assert.equal(roundTripString(s), s);
  // Combining sequences are not normalized: "é" precomposed and decomposed stay distinct.
  assert.notEqual(roundTripString("\u00e9"), roundTripString("e\u0301"));
});

Deno.test("ByteWriter.writeString: lone surrogates come back as they were (WTF-8), others as UTF-8", () => {
  const cases = [
    "a\uD800b",
    "\uDC00",
    "x".repeat(300) + "\uD83D", // the first half of 😀, cut off
    "\uDE00" + "😀", // the second half alone, then a whole pair
    "\uDBFF\uDBFF\uDFFF", // a high half alone before a pair
    "é\uD800\uFFFD", // and a real U+FFFD
  ];
  for (const s of cases) assert.equal(roundTripString(s), s);
  // Two keys that differ in their lone surrogate stay two keys.
  assert.notDeepEqual(stringBytes("k\uD800"), stringBytes("k\uDBFF"));
  // A lone surrogate takes the 3 bytes of its code unit; the rest is UTF-8, as TextEncoder's.
  assert.deepEqual(stringBytes("é\uD800"), new Uint8Array([5, 0xc3, 0xa9, 0xed, 0xa0, 0x80]));
  for (const s of ["héllo", "😀🎉", "日本語", "a😀".repeat(100)]) {
    assert.deepEqual(stringBytes(s).subarray(s.length < 40 ? 1 : 2), new TextEncoder().encode(s));
  }
});

Deno.test("ByteWriter grows from a tiny capacity and keeps earlier bytes", () => {
  const w = new ByteWriter(1);
  w.writeU8(7);
  w.writeString("é".repeat(1000));
  w.writeF64(1.25);
  w.writeBytes(new Uint8Array(5000).fill(3));
  const r = new ByteReader(w.bytes());
  assert.equal(r.readU8(), 7);
  assert.equal(r.readString(), "é".repeat(1000));
  assert.equal(r.readF64(), 1.25);
  assert.deepEqual(r.readBytes(), new Uint8Array(5000).fill(3));
  assert.equal(r.remaining(), 0);
});

Deno.test("ByteWriter/ByteReader: fixed-width numbers and varints", () => {
  const w = new ByteWriter(2);
  const varints = [0, 1, 127, 128, 16383, 16384, 2 ** 32, 2 ** 53 - 1];
  w.writeU16(0xbeef);
  w.writeU32(0xdeadbeef);
  for (const v of varints) w.writeVarUint(v);
  for (const f of [NaN, -0, 0, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE]) {
    w.writeF64(f);
  }
  w.writeI64(-(2n ** 63n));
  w.writeI64(2n ** 63n - 1n);
  const r = new ByteReader(w.bytes());
  assert.equal(r.readU16(), 0xbeef);
  assert.equal(r.readU32(), 0xdeadbeef);
  for (const v of varints) assert.equal(r.readVarUint(), v);
  for (const f of [NaN, -0, 0, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE]) {
    assert.ok(Object.is(r.readF64(), f), String(f));
  }
  assert.equal(r.readI64(), -(2n ** 63n));
  assert.equal(r.readI64(), 2n ** 63n - 1n);
  assert.equal(r.remaining(), 0);
});

Deno.test("ByteWriter: big-endian U16 sorts bytewise", () => {
  const enc = (v: number) => {
    const w = new ByteWriter();
    w.writeU16(v);
    return [...w.bytes()];
  };
  assert.deepEqual(enc(0x0102), [1, 2]);
  assert.deepEqual(enc(255), [0, 255]);
});

Deno.test("ByteWriter: bytes() is a view, toBytes() a copy, reset() keeps the buffer", () => {
  const w = new ByteWriter();
  w.writeU8(1);
  const copy = w.toBytes();
  const view = w.bytes();
  w.reset();
  w.writeU8(2);
  assert.equal(copy[0], 1);
  assert.equal(view[0], 2);
  assert.equal(w.length, 1);
});

Deno.test("ByteReader: reading past the end throws SerializationError", () => {
  const reads: [string, (r: ByteReader) => unknown][] = [
    ["u8", (r) => r.readU8()],
    ["u16", (r) => r.readU16()],
    ["u32", (r) => r.readU32()],
    ["f64", (r) => r.readF64()],
    ["i64", (r) => r.readI64()],
    ["raw", (r) => r.readRaw(1)],
    ["varint", (r) => r.readVarUint()],
  ];
  for (const [what, read] of reads) {
    assert.throws(() => read(new ByteReader(new Uint8Array(0))), SerializationError, what);
  }
  // A string whose prefix promises more bytes than there are.
  assert.throws(
    () => new ByteReader(new Uint8Array([5, 0x61, 0x62])).readString(),
    (e: unknown) => e instanceof SerializationError && /needs 5 more bytes/.test(e.message),
  );
  // A varint that never ends.
  assert.throws(
    () => new ByteReader(new Uint8Array(9).fill(0x80)).readVarUint(),
    SerializationError,
  );
});

Deno.test("ByteReader: reads a subarray view with a byteOffset correctly", () => {
  const w = new ByteWriter();
  w.writeU8(99);
  w.writeU32(0x01020304);
  w.writeString("hello");
  const all = w.toBytes();
  const r = new ByteReader(all.subarray(1));
  assert.equal(r.readU32(), 0x01020304);
  assert.equal(r.readString(), "hello");
  assert.equal(r.remaining(), 0);
});
