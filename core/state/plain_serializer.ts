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
 * 14 sparse array  varint length | values, tag 15 for each hole
 * ```
 *
 * A hole stays a hole, as a record passed within a worker keeps it, so a
 * record does not change when it crosses workers. Only an array with a hole
 * is tag 14 (the writer turns tag 7 into 14 at its first hole), so the reader
 * of a dense array looks for none. Version 1 had no tags 14 and 15 (it wrote
 * a hole as undefined); its bytes read the same in version 2.
 *
 * In a channel frame's batch of records (see `core/runtime/channel_codec.ts`),
 * plain objects are written by shape instead of tag 8, so a batch carries each
 * list of field names once, and decoding builds objects of one shape with one
 * compiled literal (no property-name strings to decode and intern per record):
 *
 * ```
 * 12 new shape   varint n | n strings (the keys) | n values   (the batch's next shape id)
 * 13 known shape varint id | values in that shape's key order
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
import { COMPATIBLE_AS_IS, resolveByVersion } from "./serializer_schema.ts";

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
  NewShape = 12,
  KnownShape = 13,
  SparseArray = 14,
  Hole = 15,
}

/** Integers below this in magnitude zigzag-encode to at most 2^53 - 1, still exact. */
const INT_LIMIT = 2 ** 52;
/** Nesting deeper than this is refused: a cycle would otherwise overflow the stack. */
const MAX_DEPTH = 256;

function refuse(what: string): never {
  throw new SerializationError(
    `The default serializer cannot carry ${what}: only plain values (numbers, strings, ` +
      `booleans, null, undefined, arrays, plain objects, bigint, Uint8Array, Date) cross threads ` +
      `or stay in state without a serializer; give one for this stream`,
  );
}

/** Shapes linearly searched before the by-name index: a batch rarely has more. */
const LINEAR_SHAPES = 8;

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Keys above which an object's shape is not compiled (built or written key by key). */
const MAX_COMPILED_KEYS = 64;
/** Compiled shapes a reader keeps, and the writers' cache (cleared when full: stays bounded). */
const MAX_CACHED_SHAPES = 1024;

/** Writes the values of an object of one shape, in key order, with `write`. */
type FieldsWriter = (
  v: Record<string, unknown>,
  out: ByteWriter,
  depth: number,
  shapes: ShapeTable,
  write: typeof writeValue,
) => void;

/** Compiled field writers by shape, shared by every batch of the thread. */
const fieldsWriters = new Map<string, FieldsWriter>();

/**
 * The writer of a shape's values. Compiled: a read of each key by its constant name is an inline
 * cache of its own in V8, where one `v[keys[i]]` in a loop sees every key and goes megamorphic
 * (a generic lookup per key and record). Keys enter the code only as JSON string literals.
 */
function fieldsWriter(keys: readonly string[], name: string): FieldsWriter {
  let w = fieldsWriters.get(name);
  if (w !== undefined) return w;
  if (keys.length > MAX_COMPILED_KEYS) {
    w = (v, out, depth, shapes, write) => {
      for (let i = 0; i < keys.length; i++) write(v[keys[i]!], out, depth, shapes);
    };
  } else {
    const body = keys.map((k) => `write(v[${JSON.stringify(k)}], out, depth, shapes);`);
    w = new Function("v", "out", "depth", "shapes", "write", body.join("\n")) as FieldsWriter;
  }
  if (fieldsWriters.size >= MAX_CACHED_SHAPES) fieldsWriters.clear();
  fieldsWriters.set(name, w);
  return w;
}

/**
 * The object shapes (key lists) one batch has written so far: the first
 * object of a shape writes its keys, later ones only the shape's id.
 */
export class ShapeTable {
  readonly #shapes: string[][] = [];
  readonly #writers: FieldsWriter[] = [];
  readonly #byKeys = new Map<string, number>();
  #last = -1;

  /** Forgets every shape (a new batch). */
  reset(): void {
    this.#shapes.length = 0;
    this.#writers.length = 0;
    this.#byKeys.clear();
    this.#last = -1;
  }

  /**
   * Writes the tag and shape of an object with `keys`; returns the writer of its values, which
   * follow.
   */
  write(keys: string[], out: ByteWriter): FieldsWriter {
    const shapes = this.#shapes;
    let id = this.#last;
    if (id < 0 || !sameKeys(shapes[id]!, keys)) {
      id = -1;
      if (shapes.length <= LINEAR_SHAPES) {
        for (let i = 0; i < shapes.length; i++) {
          if (sameKeys(shapes[i]!, keys)) {
            id = i;
            break;
          }
        }
      } else id = this.#byKeys.get(JSON.stringify(keys)) ?? -1;
    }
    if (id >= 0) {
      this.#last = id;
      out.writeU8(Tag.KnownShape);
      out.writeVarUint(id);
      return this.#writers[id]!;
    }
    const name = JSON.stringify(keys);
    const writer = fieldsWriter(keys, name);
    this.#last = shapes.length;
    shapes.push(keys);
    this.#writers.push(writer);
    this.#byKeys.set(name, this.#last);
    out.writeU8(Tag.NewShape);
    out.writeVarUint(keys.length);
    for (let i = 0; i < keys.length; i++) out.writeString(keys[i]!);
    return writer;
  }
}

/**
 * Appends `v` to a batch: as the plain serializer writes it, but objects by
 * shape (tags 12 and 13) in `shapes`. A value it cannot carry is refused as
 * {@linkcode plainSerializer} refuses it.
 */
export function writeBatchValue(v: unknown, out: ByteWriter, shapes: ShapeTable): void {
  writeValue(v, out, 0, shapes);
}

function writeValue(
  v: unknown,
  out: ByteWriter,
  depth: number,
  shapes?: ShapeTable,
): void {
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
    const tagAt = out.length;
    out.writeU8(Tag.Array);
    out.writeVarUint(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      // Only an undefined element can be a hole: a dense array pays one comparison.
      if (x === undefined && !(i in v)) {
        out.buf[tagAt] = Tag.SparseArray;
        out.writeU8(Tag.Hole);
      } else writeValue(x, out, depth + 1, shapes);
    }
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(v);
    if (shapes !== undefined) {
      shapes.write(keys, out)(v as Record<string, unknown>, out, depth + 1, shapes, writeValue);
      return;
    }
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
    case Tag.SparseArray: {
      const n = r.readVarUint();
      const a = new Array(n);
      for (let i = 0; i < n; i++) {
        if (r.buf[r.pos] === Tag.Hole) r.pos++; // `new Array(n)` starts as holes
        else a[i] = readValue(r);
      }
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

/** Builds an object of one shape, reading its values in key order. */
type ShapeBuilder = (read: () => unknown) => Record<string, unknown>;

function compileShape(keys: readonly string[]): ShapeBuilder {
  if (keys.length > MAX_COMPILED_KEYS || new Set(keys).size !== keys.length) {
    return (read) => {
      const o: Record<string, unknown> = {};
      for (const k of keys) Object.defineProperty(o, k, propertyOf(read()));
      return o;
    };
  }
  // A literal with the keys in order: every object of the shape gets one hidden
  // class. Values are read left to right, as the writer wrote them. A computed
  // "__proto__" defines an own property (a literal one would set the prototype).
  const props = keys.map((k) =>
    `${k === "__proto__" ? '["__proto__"]' : JSON.stringify(k)}: read()`
  );
  return new Function("read", `return { ${props.join(", ")} };`) as ShapeBuilder;
}

function propertyOf(value: unknown): PropertyDescriptor {
  return { value, writable: true, enumerable: true, configurable: true };
}

/**
 * Reads the values {@linkcode writeBatchValue} wrote into one batch. Keep one
 * per channel: it remembers compiled shapes from batch to batch; call
 * `startBatch` before each batch's values.
 */
export class BatchValueReader {
  readonly #compiled = new Map<string, ShapeBuilder>();
  readonly #shapes: ShapeBuilder[] = [];
  #r: ByteReader | undefined;
  readonly #readNested = () => this.#value(this.#r!);

  /** Starts a batch in `r`: its shapes are new. */
  startBatch(r: ByteReader): void {
    this.#r = r;
    this.#shapes.length = 0;
  }

  /** Reads the next value of the batch. */
  read(): unknown {
    return this.#value(this.#r!);
  }

  #varUint(r: ByteReader): number {
    const b = r.buf[r.pos];
    if (b !== undefined && b < 0x80) {
      r.pos++;
      return b;
    }
    return r.readVarUint();
  }

  #shape(keys: string[]): ShapeBuilder {
    const name = JSON.stringify(keys);
    let build = this.#compiled.get(name);
    if (build === undefined) {
      if (this.#compiled.size >= MAX_CACHED_SHAPES) this.#compiled.clear();
      this.#compiled.set(name, build = compileShape(keys));
    }
    return build;
  }

  #value(r: ByteReader): unknown {
    const tag = r.buf[r.pos++];
    switch (tag) {
      case Tag.String:
        return r.readString();
      case Tag.Int: {
        const z = this.#varUint(r);
        return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      }
      case Tag.True:
        return true;
      case Tag.False:
        return false;
      case Tag.Null:
        return null;
      case Tag.Undefined:
        return undefined;
      case Tag.Array: {
        const n = this.#varUint(r);
        if (n > r.remaining()) break;
        const a = new Array(n);
        for (let i = 0; i < n; i++) a[i] = this.#value(r);
        return a;
      }
      case Tag.SparseArray: {
        const n = this.#varUint(r);
        if (n > r.remaining()) break;
        const a = new Array(n);
        for (let i = 0; i < n; i++) {
          if (r.buf[r.pos] === Tag.Hole) r.pos++;
          else a[i] = this.#value(r);
        }
        return a;
      }
      case Tag.NewShape: {
        const n = this.#varUint(r);
        if (n > r.remaining()) break;
        const keys = new Array<string>(n);
        for (let i = 0; i < n; i++) keys[i] = r.readString();
        const build = this.#shape(keys);
        this.#shapes.push(build);
        return build(this.#readNested);
      }
      case Tag.KnownShape: {
        const build = this.#shapes[this.#varUint(r)];
        if (build === undefined) break;
        return build(this.#readNested);
      }
    }
    // The rarer kinds, and errors, as the plain serializer reads them.
    r.pos--;
    return readValue(r);
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
  version: 2,
  write: (v, out) => writeValue(v, out, 0),
  read: readValue,
  // Version 2 only added the sparse array and hole tags: version 1's bytes read as they are.
  // Bytes of `json` (weir's default for the state it keeps of user values before `plain`: window
  // contents, reduce, joins) are read as JSON and rewritten, so an older savepoint restores.
  resolveSchemaCompatibility: (old) =>
    old.id === "plain" && old.version === 1
      ? COMPATIBLE_AS_IS
      : old.id === "json" && (old.version ?? 1) === 1
      ? { type: "compatibleAfterMigration", readOld: readJson }
      : resolveByVersion(plainSerializer, old),
};

/** Reads a value `Serializers.json` wrote (a length-prefixed JSON text). */
function readJson(r: ByteReader): unknown {
  return JSON.parse(r.readString());
}

/**
 * {@linkcode plainSerializer} for state weir keeps of a user's values when they gave no
 * serializer (window contents, a reduce's value, a join's buffers): the same encoding (id
 * `plain`), and a value it refuses names `where` the value is kept and how to give a serializer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWriter } from "./bytes.ts";
 * import { plainStateSerializer } from "./plain_serializer.ts";
 * const s = plainStateSerializer('operator "Window(Reduce)"', ".reduce(fn, { serializer })");
 * assert.equal(s.id, "plain");
 * const map = () => s.write(new Map(), new ByteWriter());
 * assert.throws(map, /kept in state by operator "Window\(Reduce\)"/);
 * ```
 */
export function plainStateSerializer<T>(where: string, give: string): Serializer<T> {
  return {
    ...plainSerializer,
    write(v, out) {
      try {
        writeValue(v, out, 0);
      } catch (e) {
        if (!(e instanceof SerializationError)) throw e;
        throw new SerializationError(
          `${e.message} (the value is kept in state by ${where}: give it a serializer ` +
            `with ${give})`,
          { cause: e },
        );
      }
    },
  } as Serializer<T>;
}
