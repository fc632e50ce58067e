/**
 * The default serializer for records that cross a thread: any plain,
 * JSON-like value (numbers, strings, booleans, null, undefined, arrays, plain
 * objects, bigint, Uint8Array, Date), without a schema. Each value starts
 * with a one-byte tag:
 *
 * ```
 * 0 undefined | 1 null | 2 false | 3 true
 * 4 int   zigzag varint (integers below 2^52 in magnitude; -0 is a float)
 * 5 f64   8 bytes BE
 * 6 string  varint length | UTF-8
 * 7 array   varint length | values
 * 8 object  varint count | (string key | value)*
 * 9 bigint  sign byte | varint n | n magnitude bytes BE
 * 10 bytes  varint length | bytes
 * 11 date   f64 ms since epoch
 * ```
 *
 * Class instances, functions, symbols, Maps and Sets are refused: their
 * prototype would be lost on the other side, so the value would not be the
 * one the user sent. A user gives a serializer of their own for those.
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import type { ByteReader, ByteWriter } from "./bytes.ts";
import type { Serializer } from "./serializer.ts";

const enum Tag {
  Undefined = 0,
  Null = 1,
  False = 2,
  True = 3,
  Int = 4,
  F64 = 5,
  String = 6,
  Array = 7,
  Object = 8,
  BigInt = 9,
  Bytes = 10,
  Date = 11,
}

/** Integers below this in magnitude zigzag-encode to at most 2^53 - 1, still exact. */
const INT_LIMIT = 2 ** 52;
/** Nesting deeper than this is refused: a cycle would otherwise overflow the stack. */
const MAX_DEPTH = 256;

function refuse(what: string): never {
  throw new SerializationError(
    `The default record serializer cannot carry ${what}: only plain values (numbers, strings, ` +
      `booleans, null, undefined, arrays, plain objects, bigint, Uint8Array, Date) cross threads ` +
      `without a serializer; give one for this stream`,
  );
}

function writeValue(v: unknown, out: ByteWriter, depth: number): void {
  switch (typeof v) {
    case "string":
      out.writeU8(Tag.String);
      out.writeString(v);
      return;
    case "number":
      if (Number.isInteger(v) && Math.abs(v) < INT_LIMIT && !Object.is(v, -0)) {
        out.writeU8(Tag.Int);
        // Zigzag keeps small negative numbers short; below INT_LIMIT it stays exact.
        out.writeVarUint(v >= 0 ? v * 2 : -v * 2 - 1);
      } else {
        out.writeU8(Tag.F64);
        out.writeF64(v);
      }
      return;
    case "boolean":
      out.writeU8(v ? Tag.True : Tag.False);
      return;
    case "undefined":
      out.writeU8(Tag.Undefined);
      return;
    case "bigint":
      out.writeU8(Tag.BigInt);
      writeBigInt(v, out);
      return;
    case "object":
      break;
    default:
      refuse(`a ${typeof v}`);
  }
  if (v === null) {
    out.writeU8(Tag.Null);
    return;
  }
  if (depth >= MAX_DEPTH) refuse(`values nested deeper than ${MAX_DEPTH} (a cycle?)`);
  if (Array.isArray(v)) {
    out.writeU8(Tag.Array);
    out.writeVarUint(v.length);
    for (let i = 0; i < v.length; i++) writeValue(v[i], out, depth + 1);
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(v);
    out.writeU8(Tag.Object);
    out.writeVarUint(keys.length);
    for (const k of keys) {
      out.writeString(k);
      writeValue((v as Record<string, unknown>)[k], out, depth + 1);
    }
    return;
  }
  if (v instanceof Uint8Array && proto === Uint8Array.prototype) {
    out.writeU8(Tag.Bytes);
    out.writeBytes(v);
    return;
  }
  if (v instanceof Date && proto === Date.prototype) {
    out.writeU8(Tag.Date);
    out.writeF64(v.getTime());
    return;
  }
  refuse(`an instance of ${(v as { constructor?: { name?: string } }).constructor?.name ?? "?"}`);
}

function writeBigInt(v: bigint, out: ByteWriter): void {
  const neg = v < 0n;
  let mag = neg ? -v : v;
  const bytes: number[] = [];
  while (mag > 0n) {
    bytes.push(Number(mag & 0xffn));
    mag >>= 8n;
  }
  out.writeU8(neg ? 1 : 0);
  out.writeVarUint(bytes.length);
  for (let i = bytes.length - 1; i >= 0; i--) out.writeU8(bytes[i]!);
}

function readValue(r: ByteReader): unknown {
  const tag = r.readU8();
  switch (tag) {
    case Tag.String:
      return r.readString();
    case Tag.Int: {
      const z = r.readVarUint();
      return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    }
    case Tag.F64:
      return r.readF64();
    case Tag.True:
      return true;
    case Tag.False:
      return false;
    case Tag.Null:
      return null;
    case Tag.Undefined:
      return undefined;
    case Tag.Array: {
      const n = r.readVarUint();
      const a = new Array(n);
      for (let i = 0; i < n; i++) a[i] = readValue(r);
      return a;
    }
    case Tag.Object: {
      const n = r.readVarUint();
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = r.readString();
        o[k] = readValue(r);
      }
      return o;
    }
    case Tag.BigInt: {
      const neg = r.readU8() === 1;
      const n = r.readVarUint();
      let mag = 0n;
      for (let i = 0; i < n; i++) mag = (mag << 8n) | BigInt(r.readU8());
      return neg ? -mag : mag;
    }
    case Tag.Bytes:
      return r.readBytes();
    case Tag.Date:
      return new Date(r.readF64());
    default:
      throw new SerializationError(
        `Cannot deserialize a plain value: unknown tag ${tag} at offset ${r.pos - 1}`,
      );
  }
}

/**
 * Serializes any plain value (see the module doc); refuses class instances,
 * functions and symbols with an error that says to give a serializer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserialize, serialize, Serializers } from "@weir/weir";
 * const v = { user: "ann", n: 3, at: new Date(0), tags: ["a"], big: 2n ** 70n };
 * assert.deepEqual(deserialize(Serializers.plain, serialize(Serializers.plain, v)), v);
 * assert.throws(() => serialize(Serializers.plain, new Map()), /instance of Map/);
 * ```
 */
export const plainSerializer: Serializer<unknown> = {
  id: "plain",
  version: 1,
  write: (v, out) => writeValue(v, out, 0),
  read: readValue,
};
