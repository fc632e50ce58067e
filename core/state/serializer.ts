/**
 * The serializer contract and weir's built-in serializers. State stores see
 * bytes only; every state descriptor names the serializer of its values and
 * every serializer has an id and a version. Snapshots record each state's
 * serializer schemas (`serializer_schema.ts`); on restore the new serializer
 * reads old bytes as they are, migrates them, or refuses with a clear error
 * (docs/state.md, "Schema evolution").
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";
import { plainSerializer } from "./plain_serializer.ts";
import { registerValueCopies, valueCopies } from "./_value_copies.ts";
import {
  COMPATIBLE_AS_IS,
  incompatible,
  resolveByVersion,
  resolveSchemaCompatibility,
  type SchemaCompatibility,
  schemaOf,
  type SerializerSchema,
} from "./serializer_schema.ts";

/**
 * Turns values of type `T` into bytes and back.
 *
 * @example A serializer for a small record
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteReader, ByteWriter, type Serializer } from "@weir/weir";
 * const point: Serializer<{ x: number; y: number }> = {
 *   id: "point",
 *   version: 1,
 *   write(v, out) { out.writeF64(v.x); out.writeF64(v.y); },
 *   read(input) { return { x: input.readF64(), y: input.readF64() }; },
 * };
 * const w = new ByteWriter();
 * point.write({ x: 1, y: 2 }, w);
 * assert.ok(point.read(new ByteReader(w.bytes())).y === 2);
 * ```
 */
export interface Serializer<T> {
  /** Names the encoding, e.g. `"string"` or `"array<f64>"`; snapshots record it with `version`. */
  readonly id: string;
  /**
   * Bumped when the encoding changes (with a step in `migrations`, so state
   * written by the old version still restores).
   */
  readonly version: number;
  /** Appends the encoding of `value` to `out`. */
  write(value: T, out: ByteWriter): void;
  /** Reads one value from `input`. */
  read(input: ByteReader): T;
  /**
   * Optional (Flink's `TypeSerializer.copy`): a copy of `value` equal to what
   * `read` returns for what `write` writes, sharing nothing mutable with
   * `value`, and throwing where `write` throws. State backends that keep
   * decoded values (the LSM backend's value cache) use it to hand out and
   * keep values without the byte round trip. Every built-in serializer has
   * it but `json`, `key` and `plain`; a composite has it when its parts do.
   */
  copy?(value: T): T;
  /**
   * Optional: rewrites one value's encoding of version `n` (the key) as
   * version `n + 1`, reading exactly that value from `input`. On restore,
   * state written by an older version passes through each step up to the
   * current version.
   */
  readonly migrations?: Readonly<Record<number, (input: ByteReader, out: ByteWriter) => void>>;
  /**
   * Optional: the schema snapshots record for this serializer; default
   * `{ id, version }`. Composites record their nested serializers' schemas.
   */
  snapshotSchema?(): SerializerSchema;
  /**
   * Optional (Flink's `resolveSchemaCompatibility`): how this serializer
   * reads bytes written under `old`; default: by id, version and
   * `migrations` (`resolveByVersion`).
   */
  resolveSchemaCompatibility?(old: SerializerSchema): SchemaCompatibility<T>;
}

/**
 * The value type a serializer handles.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserialize, type SerializedType, serialize, Serializers } from "@weir/weir";
 * const point = Serializers.tuple(Serializers.f64, Serializers.f64);
 * const p: SerializedType<typeof point> = [1, 2];
 * assert.deepEqual(deserialize(point, serialize(point, p)), [1, 2]);
 * ```
 */
export type SerializedType<S> = S extends Serializer<infer T> ? T : never;

const shared = new ByteWriter(256);

/**
 * Serializes one value to a fresh byte array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserialize, serialize, Serializers } from "@weir/weir";
 * const bytes = serialize(Serializers.string, "hi");
 * assert.ok(deserialize(Serializers.string, bytes) === "hi");
 * ```
 */
export function serialize<T>(serializer: Serializer<T>, value: T): Uint8Array {
  shared.reset();
  serializer.write(value, shared);
  return shared.toBytes();
}

/**
 * Deserializes one value and checks that all bytes were used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserialize, serialize, Serializers } from "@weir/weir";
 * assert.ok(deserialize(Serializers.f64, serialize(Serializers.f64, 1.5)) === 1.5);
 * ```
 */
export function deserialize<T>(serializer: Serializer<T>, bytes: Uint8Array): T {
  const r = new ByteReader(bytes);
  const v = serializer.read(r);
  if (r.remaining() !== 0) {
    throw new SerializationError(
      `Cannot deserialize with "${serializer.id}": ${r.remaining()} bytes left over`,
    );
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return v.constructor?.name ?? "object";
  return typeof v;
}

function expect(ok: boolean, id: string, v: unknown): void {
  if (!ok) throw new SerializationError(`Serializer "${id}" cannot serialize a ${describe(v)}`);
}

const f64: Serializer<number> = {
  id: "f64",
  version: 1,
  write(v, out) {
    expect(typeof v === "number", "f64", v);
    out.writeF64(v);
  },
  read: (r) => r.readF64(),
  copy(v) {
    expect(typeof v === "number", "f64", v);
    return v;
  },
  // Widening: every i32 is exactly an f64.
  resolveSchemaCompatibility: (old) =>
    old.id === "i32"
      ? { type: "compatibleAfterMigration", readOld: (r) => r.readU32() | 0 }
      : resolveByVersion(f64, old),
};

/** An i32's check: a number that is not a 32-bit integer is named, with the range. */
function expectI32(v: number): void {
  if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) return;
  expect(typeof v === "number", "i32", v);
  throw new SerializationError(
    `Serializer "i32" cannot serialize ${v}: it takes integers from -2147483648 to 2147483647 ` +
      `(Serializers.f64 takes any number)`,
  );
}

const i32: Serializer<number> = {
  id: "i32",
  version: 1,
  write(v, out) {
    expectI32(v);
    out.writeU32(v >>> 0);
  },
  read: (r) => r.readU32() | 0,
  copy(v) {
    expectI32(v);
    return v | 0; // -0 reads back as 0
  },
};

const bigint: Serializer<bigint> = {
  id: "bigint",
  version: 1,
  // Sign byte then magnitude bytes, so any size survives (not only 64 bits).
  write(v, out) {
    expect(typeof v === "bigint", "bigint", v);
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
  },
  read(r) {
    const neg = r.readU8() === 1;
    const n = r.readVarUint();
    let mag = 0n;
    for (let i = 0; i < n; i++) mag = (mag << 8n) | BigInt(r.readU8());
    return neg ? -mag : mag;
  },
  copy(v) {
    expect(typeof v === "bigint", "bigint", v);
    return v;
  },
};

const boolean: Serializer<boolean> = {
  id: "boolean",
  version: 1,
  write(v, out) {
    expect(typeof v === "boolean", "boolean", v);
    out.writeU8(v ? 1 : 0);
  },
  read: (r) => r.readU8() === 1,
  copy(v) {
    expect(typeof v === "boolean", "boolean", v);
    return v;
  },
};

const string: Serializer<string> = {
  id: "string",
  version: 1,
  write(v, out) {
    expect(typeof v === "string", "string", v);
    out.writeString(v);
  },
  read: (r) => r.readString(),
  copy(v) {
    expect(typeof v === "string", "string", v);
    return v; // read gives it back as written, lone surrogates too (WTF-8: bytes.ts)
  },
};

const bytes: Serializer<Uint8Array> = {
  id: "bytes",
  version: 1,
  write(v, out) {
    expect(v instanceof Uint8Array, "bytes", v);
    out.writeBytes(v);
  },
  read: (r) => r.readBytes(),
  copy(v) {
    expect(v instanceof Uint8Array, "bytes", v);
    return new Uint8Array(v); // a plain Uint8Array, as read returns, even for a subclass
  },
};

// A copy of an immutable value is the value: nothing to check twice.
for (const p of [f64, i32, bigint, boolean, string] as Serializer<unknown>[]) {
  registerValueCopies(p, { over: (v) => p.copy!(v), ofCopy: (v) => v });
}
registerValueCopies(bytes, { over: (v) => bytes.copy!(v), ofCopy: (v) => v.slice() });

const json: Serializer<unknown> = {
  id: "json",
  version: 1,
  write(v, out) {
    let text: string | undefined;
    try {
      text = JSON.stringify(v);
    } catch (e) {
      throw new SerializationError(`Serializer "json" cannot serialize value: ${e}`, { cause: e });
    }
    if (text === undefined) expect(false, "json", v);
    out.writeString(text!);
  },
  read: (r) => JSON.parse(r.readString()),
};

const enum KeyTag {
  String = 1,
  Number = 2,
  BigInt = 3,
  True = 4,
  False = 5,
  Array = 6,
  Object = 7,
}

function writeKey(v: unknown, out: ByteWriter): void {
  switch (typeof v) {
    case "string":
      out.writeU8(KeyTag.String);
      out.writeString(v);
      return;
    case "number":
      out.writeU8(KeyTag.Number);
      // -0 and 0 are one key, as === says.
      out.writeF64(v === 0 ? 0 : v);
      return;
    case "bigint":
      out.writeU8(KeyTag.BigInt);
      bigint.write(v, out);
      return;
    case "boolean":
      out.writeU8(v ? KeyTag.True : KeyTag.False);
      return;
    case "object":
      if (Array.isArray(v)) {
        out.writeU8(KeyTag.Array);
        out.writeVarUint(v.length);
        for (const e of v) writeKey(e, out);
        return;
      }
      if (v !== null && Object.getPrototypeOf(v) === Object.prototype) {
        const names = Object.keys(v).sort();
        out.writeU8(KeyTag.Object);
        out.writeVarUint(names.length);
        for (const n of names) {
          out.writeString(n);
          writeKey((v as Record<string, unknown>)[n], out);
        }
        return;
      }
  }
  throw new SerializationError(
    `Cannot serialize key of type ${describe(v)}: keys must be strings, numbers, bigints, ` +
      `booleans, or arrays and plain objects of those`,
  );
}

function readKey(r: ByteReader): unknown {
  const tag = r.readU8();
  switch (tag) {
    case KeyTag.String:
      return r.readString();
    case KeyTag.Number:
      return r.readF64();
    case KeyTag.BigInt:
      return bigint.read(r);
    case KeyTag.True:
      return true;
    case KeyTag.False:
      return false;
    case KeyTag.Array: {
      const n = r.readVarUint();
      const a: unknown[] = [];
      for (let i = 0; i < n; i++) a.push(readKey(r));
      return a;
    }
    case KeyTag.Object: {
      const n = r.readVarUint();
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) o[r.readString()] = readKey(r);
      return o;
    }
  }
  throw new SerializationError(`Cannot deserialize key: unknown tag ${tag}`);
}

const key: Serializer<unknown> = { id: "key", version: 1, write: writeKey, read: readKey };

/** A field's default for records that gain it, set by `withDefault`. */
const fieldDefaults = new WeakMap<Serializer<unknown>, { value: unknown }>();

/**
 * The composite rule: `old` must be a `kind` composite; `nested` resolves
 * each new part against the old parts. As is when every part is, else a
 * migration built by `read` from the per-part readers.
 */
function resolveParts<T>(
  kind: string,
  id: string,
  old: SerializerSchema,
  parts: readonly Serializer<unknown>[],
  read: (readers: ((r: ByteReader) => unknown)[], r: ByteReader) => T,
): SchemaCompatibility<T> {
  if (!old.id.startsWith(`${kind}<`) || old.nested?.length !== parts.length) {
    return incompatible(`"${old.id}" cannot be read as "${id}"`);
  }
  let asIs = true;
  const readers: ((r: ByteReader) => unknown)[] = [];
  for (let i = 0; i < parts.length; i++) {
    const c = resolveSchemaCompatibility(parts[i]!, old.nested[i]!);
    if (c.type === "incompatible") return c;
    if (c.type === "compatibleAfterMigration") {
      asIs = false;
      readers.push(c.readOld);
    } else readers.push((r) => parts[i]!.read(r));
  }
  return asIs
    ? COMPATIBLE_AS_IS
    : { type: "compatibleAfterMigration", readOld: (r) => read(readers, r) };
}

function array<T>(element: Serializer<T>): Serializer<T[]> {
  const id = `array<${element.id}>`;
  const s: Serializer<T[]> = {
    id,
    version: 1,
    write(v, out) {
      expect(Array.isArray(v), id, v);
      out.writeVarUint(v.length);
      for (const e of v) element.write(e, out);
    },
    read(r) {
      const n = r.readVarUint();
      const a = new Array<T>(n);
      for (let i = 0; i < n; i++) a[i] = element.read(r);
      return a;
    },
    snapshotSchema: () => ({ id, version: 1, nested: [schemaOf(element as Serializer<unknown>)] }),
    resolveSchemaCompatibility: (old) =>
      resolveParts("array", id, old, [element as Serializer<unknown>], ([el], r) => {
        const n = r.readVarUint();
        const a = new Array<T>(n);
        for (let i = 0; i < n; i++) a[i] = el!(r) as T;
        return a;
      }),
  };
  if ((element as Serializer<unknown>) === f64) {
    // Numbers copy as they are: check them, then let the engine copy the array.
    const check = (v: T[]) => {
      expect(Array.isArray(v), id, v);
      const n = v.length;
      for (let i = 0; i < n; i++) {
        const e = v[i];
        if (typeof e !== "number") expect(false, "f64", e);
      }
    };
    const copy = (v: T[]) => {
      check(v);
      return v.constructor === Array ? v.slice() : Array.from(v);
    };
    s.copy = copy;
    registerValueCopies(s, {
      over(v, target) {
        if (!Array.isArray(target) || target === v) return copy(v);
        check(v);
        const n = v.length;
        const had = target.length;
        if (had > n) target.length = n;
        const kept = had < n ? had : n;
        for (let i = 0; i < kept; i++) target[i] = v[i]!;
        // Pushed, not assigned past the end: the array stays packed.
        for (let i = kept; i < n; i++) target.push(v[i]!);
        return target;
      },
      ofCopy: (v) => v.slice(),
    });
  } else if (element.copy) {
    s.copy = (v) => {
      expect(Array.isArray(v), id, v);
      const n = v.length;
      const a = new Array<T>(n);
      for (let i = 0; i < n; i++) a[i] = element.copy!(v[i]!);
      return a;
    };
    const el = valueCopies(element);
    registerValueCopies(s, {
      over: (v) => s.copy!(v),
      ofCopy(v) {
        const n = v.length;
        const a = new Array<T>(n);
        for (let i = 0; i < n; i++) a[i] = el.ofCopy(v[i]!);
        return a;
      },
    });
  }
  return s;
}

function tuple<T extends unknown[]>(
  ...fields: { [K in keyof T]: Serializer<T[K]> }
): Serializer<T> {
  const fs = fields as Serializer<unknown>[];
  const id = `tuple<${fs.map((f) => f.id).join(",")}>`;
  const s: Serializer<T> = {
    id,
    version: 1,
    write(v, out) {
      expect(Array.isArray(v) && v.length === fs.length, id, v);
      for (let i = 0; i < fs.length; i++) fs[i]!.write(v[i], out);
    },
    read(r) {
      const a = new Array(fs.length);
      for (let i = 0; i < fs.length; i++) a[i] = fs[i]!.read(r);
      return a as T;
    },
    snapshotSchema: () => ({ id, version: 1, nested: fs.map(schemaOf) }),
    resolveSchemaCompatibility: (old) =>
      resolveParts("tuple", id, old, fs, (readers, r) => readers.map((read) => read(r)) as T),
  };
  if (fs.every((f) => f.copy)) {
    s.copy = (v) => {
      expect(Array.isArray(v) && v.length === fs.length, id, v);
      const a = new Array(fs.length);
      for (let i = 0; i < fs.length; i++) a[i] = fs[i]!.copy!(v[i]);
      return a as T;
    };
    const parts = fs.map(valueCopies);
    const fresh = new Array<unknown>(fs.length);
    registerValueCopies(s, {
      over(v, target) {
        if (!Array.isArray(target) || target === v) return s.copy!(v);
        expect(Array.isArray(v) && v.length === fs.length, id, v);
        // Every field first: a field that throws leaves the target as it was.
        for (let i = 0; i < fs.length; i++) fresh[i] = fs[i]!.copy!(v[i]);
        for (let i = 0; i < fs.length; i++) target[i] = fresh[i];
        fresh.fill(undefined);
        return target;
      },
      ofCopy(v) {
        const a = new Array(fs.length);
        for (let i = 0; i < fs.length; i++) a[i] = parts[i]!.ofCopy(v[i]);
        return a as T;
      },
    });
  }
  return s;
}

/**
 * A serializer that reads bytes written under `schema` when it names
 * built-ins only (a removed record field's bytes must be skipped), else
 * undefined.
 */
function serializerForSchema(schema: SerializerSchema): Serializer<unknown> | undefined {
  const n = schema.nested ?? [];
  const all = () => {
    const out = n.map(serializerForSchema);
    return out.every((s) => s !== undefined) ? out as Serializer<unknown>[] : undefined;
  };
  const lt = schema.id.indexOf("<");
  const name = lt < 0 ? schema.id : schema.id.slice(0, lt);
  switch (name) {
    case "array":
    case "optional": {
      const el = n.length === 1 ? serializerForSchema(n[0]!) : undefined;
      if (!el) return undefined;
      return (name === "array" ? array(el) : optional(el)) as Serializer<unknown>;
    }
    case "tuple": {
      const fs = all();
      return fs && tuple(...fs) as Serializer<unknown>;
    }
    case "record": {
      const fs = all();
      const names = schema.fields;
      if (!fs || names?.length !== fs.length) return undefined;
      return record(Object.fromEntries(names.map((f, i) => [f, fs[i]!]))) as Serializer<unknown>;
    }
  }
  const leaf = (Serializers as Record<string, unknown>)[schema.id];
  return leaf !== undefined && typeof leaf === "object" &&
      (leaf as Serializer<unknown>).id === schema.id
    ? leaf as Serializer<unknown>
    : undefined;
}

/**
 * A function over a record's fields, compiled once per serializer from `body`, which names field
 * `i`'s parts as `fs[i]`. Each field is read and written by a constant name (`field`), so each
 * access has an inline cache of its own in V8: one `v[names[i]]` in a loop sees every field's
 * name, goes megamorphic and looks each field up generically, record after record. Names enter
 * the code only as JSON string literals.
 */
function compileFields<F>(params: string, body: string, fs: readonly unknown[]): F {
  return new Function("fs", `"use strict"; return function (${params}) {\n${body}\n};`)(fs) as F;
}

/** `o`'s property `name`, as code. */
function field(o: string, name: string): string {
  return `${o}[${JSON.stringify(name)}]`;
}

/**
 * Code that computes each field's `value(i, name)` in name order (the encoding's) and returns one
 * object literal with the fields in `declared` order: V8 makes a literal in one allocation with its
 * final hidden class, and an object built in the order its producer builds it (the order a user
 * declares the record's fields in, as a rule) shares that producer's hidden class, so code that
 * reads both kinds stays monomorphic.
 */
function buildObject(
  names: readonly string[],
  declared: readonly string[],
  value: (i: number, name: string) => string,
): string {
  const values = names.map((n, i) => `const f${i} = ${value(i, n)};`);
  // `__proto__: v` in a literal would set the prototype; a computed key defines the property.
  const key = (n: string) => n === "__proto__" ? `["__proto__"]` : JSON.stringify(n);
  const props = declared.map((n) => `${key(n)}: f${names.indexOf(n)}`);
  return `${values.join("\n")}\nreturn { ${props.join(", ")} };`;
}

function record<T extends Record<string, unknown>>(
  fields: { [K in keyof T]: Serializer<T[K]> },
): Serializer<T> {
  const declared = Object.keys(fields);
  const names = [...declared].sort();
  const fs = names.map((n) => (fields as Record<string, Serializer<unknown>>)[n]!);
  const id = `record<${names.map((n, i) => `${n}:${fs[i]!.id}`).join(",")}>`;
  const writeFields = compileFields<(v: T, out: ByteWriter) => void>(
    "v, out",
    names.map((n, i) => `fs[${i}].write(${field("v", n)}, out);`).join("\n"),
    fs,
  );
  const s: Serializer<T> = {
    id,
    version: 1,
    write(v, out) {
      expect(typeof v === "object" && v !== null, id, v);
      writeFields(v, out);
    },
    read: compileFields<(r: ByteReader) => T>(
      "r",
      buildObject(names, declared, (i) => `fs[${i}].read(r)`),
      fs,
    ),
    snapshotSchema: () => ({ id, version: 1, fields: names, nested: fs.map(schemaOf) }),
    resolveSchemaCompatibility: (old) => resolveRecord<T>(id, names, declared, fs, old),
  };
  if (fs.every((f) => f.copy)) {
    const copyFields = compileFields<(v: T) => T>(
      "v",
      buildObject(names, declared, (i, n) => `fs[${i}].copy(${field("v", n)})`),
      fs,
    );
    s.copy = (v) => {
      expect(typeof v === "object" && v !== null, id, v);
      return copyFields(v);
    };
    // Every field first: a field that throws leaves the target as it was.
    const copyOver = compileFields<(v: T, t: T) => T>(
      "v, t",
      [
        ...names.map((n, i) => `const f${i} = fs[${i}].copy(${field("v", n)});`),
        ...names.map((n, i) => `${field("t", n)} = f${i};`),
        "return t;",
      ].join("\n"),
      fs,
    );
    registerValueCopies(s, {
      over(v, target) {
        if (typeof target !== "object" || target === null || target === v) return s.copy!(v);
        expect(typeof v === "object" && v !== null, id, v);
        return copyOver(v, target as T);
      },
      ofCopy: compileFields<(v: T) => T>(
        "v",
        buildObject(names, declared, (i, n) => `fs[${i}].ofCopy(${field("v", n)})`),
        fs.map(valueCopies),
      ),
    });
  }
  return s;
}

/**
 * Records evolve by field name: kept fields resolve against their old
 * schema, removed fields are read and dropped, added fields take their
 * `withDefault` value. Fields are encoded in name order, so declaring them
 * in another order changes nothing.
 */
function resolveRecord<T>(
  id: string,
  names: readonly string[],
  declared: readonly string[],
  fs: readonly Serializer<unknown>[],
  old: SerializerSchema,
): SchemaCompatibility<T> {
  const oldNames = old.fields;
  const oldNested = old.nested;
  if (!old.id.startsWith("record<") || !oldNames || oldNested?.length !== oldNames.length) {
    return incompatible(`"${old.id}" is not a record, so it cannot be read as "${id}"`);
  }
  let asIs = names.length === oldNames.length;
  // For each old field: how to read it and which new field (or none: dropped) it fills.
  const readers: ((r: ByteReader) => unknown)[] = [];
  const targets: (string | undefined)[] = [];
  for (let i = 0; i < oldNames.length; i++) {
    const name = oldNames[i]!;
    const j = names.indexOf(name);
    if (j < 0) {
      asIs = false;
      const skip = serializerForSchema(oldNested[i]!);
      if (!skip) {
        return incompatible(
          `field "${name}" was removed, but its old serializer "${oldNested[i]!.id}" is not a ` +
            `built-in one, so its bytes cannot be skipped`,
        );
      }
      readers.push((r) => skip.read(r));
      targets.push(undefined);
      continue;
    }
    const c = resolveSchemaCompatibility(fs[j]!, oldNested[i]!);
    if (c.type === "incompatible") return incompatible(`field "${name}": ${c.reason}`);
    if (c.type === "compatibleAfterMigration") {
      asIs = false;
      readers.push(c.readOld);
    } else readers.push((r) => fs[j]!.read(r));
    targets.push(name);
  }
  const added: [string, { value: unknown }][] = [];
  for (let j = 0; j < names.length; j++) {
    if (oldNames.includes(names[j]!)) continue;
    asIs = false;
    const d = fieldDefaults.get(fs[j]!);
    if (!d) {
      return incompatible(
        `field "${names[j]}" was added without a default; declare it as ` +
          `Serializers.withDefault(serializer, value)`,
      );
    }
    added.push([names[j]!, d]);
  }
  if (asIs) return COMPATIBLE_AS_IS;
  return {
    type: "compatibleAfterMigration",
    readOld(r) {
      const values = new Map<string, unknown>();
      for (let i = 0; i < readers.length; i++) {
        const v = readers[i]!(r);
        const t = targets[i];
        if (t !== undefined) values.set(t, v);
      }
      // A copy per value: a default object must not be shared between keys.
      for (const [n, d] of added) values.set(n, structuredClone(d.value));
      // In declared order, as `read` builds them; `fromEntries` defines even a `__proto__` field.
      return Object.fromEntries(declared.map((n) => [n, values.get(n)])) as T;
    },
  };
}

function optional<T>(inner: Serializer<T>): Serializer<T | undefined> {
  const id = `optional<${inner.id}>`;
  const s: Serializer<T | undefined> = {
    id,
    version: 1,
    write(v, out) {
      if (v === undefined) out.writeU8(0);
      else {
        out.writeU8(1);
        inner.write(v, out);
      }
    },
    read: (r) => (r.readU8() === 0 ? undefined : inner.read(r)),
    snapshotSchema: () => ({ id, version: 1, nested: [schemaOf(inner as Serializer<unknown>)] }),
    resolveSchemaCompatibility: (old) =>
      resolveParts(
        "optional",
        id,
        old,
        [inner as Serializer<unknown>],
        ([el], r) => (r.readU8() === 0 ? undefined : el!(r) as T),
      ),
  };
  if (inner.copy) {
    s.copy = (v) => (v === undefined ? undefined : inner.copy!(v));
    const el = valueCopies(inner);
    registerValueCopies(s, {
      over: (v, target) =>
        v === undefined ? undefined : target === undefined ? inner.copy!(v) : el.over(v, target),
      ofCopy: (v) => (v === undefined ? undefined : el.ofCopy(v)),
    });
  }
  return s;
}

/**
 * `inner` with a default value for records that gain this field: old state
 * without the field restores with `defaultValue` in it. Same id, version and
 * encoding as `inner`, so adding the default to an existing field changes
 * nothing.
 */
function withDefault<T>(inner: Serializer<T>, defaultValue: T): Serializer<T> {
  const s: Serializer<T> = {
    id: inner.id,
    version: inner.version,
    write: (v, out) => inner.write(v, out),
    read: (r) => inner.read(r),
    snapshotSchema: () => schemaOf(inner as Serializer<unknown>),
    resolveSchemaCompatibility: (old) => resolveSchemaCompatibility(inner, old),
  };
  if (inner.copy) {
    s.copy = (v) => inner.copy!(v);
    registerValueCopies(s, valueCopies(inner));
  }
  fieldDefaults.set(s as Serializer<unknown>, { value: defaultValue });
  return s;
}

/**
 * The built-in serializers: numbers (`f64`, `i32`), `bigint` (any size),
 * `boolean`, `string` (UTF-8), `bytes`, `json` (the fallback), `key` (the
 * default key serializer: strings, numbers, bigints, booleans and arrays or
 * plain objects of them), `plain` (schema-less plain values), builders for
 * `array`, `tuple`, `record` and `optional` values, and `withDefault` (a
 * record field's value for state written before the field existed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserialize, serialize, Serializers } from "@weir/weir";
 * const s = Serializers.tuple(Serializers.string, Serializers.f64);
 * const v = deserialize(s, serialize(s, ["a", 1] as [string, number]));
 * assert.ok(v[0] === "a" && v[1] === 1);
 * ```
 */
export const Serializers = {
  f64,
  plain: plainSerializer,
  i32,
  bigint,
  boolean,
  string,
  bytes,
  json,
  key,
  array,
  tuple,
  record,
  optional,
  withDefault,
} as const;
