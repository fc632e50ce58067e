import assert from "node:assert/strict";
import { ByteReader, type ByteWriter } from "./bytes.ts";
import { serialize, type Serializer, Serializers } from "./serializer.ts";
import {
  formatSchema,
  resolveSchemaCompatibility,
  schemaFromId,
  schemaOf,
  type SerializerSchema,
} from "./serializer_schema.ts";
import { ttlSerializer } from "./ttl.ts";

const { f64, i32, string } = Serializers;

/** Writes `value` with `old`, reads it back with `now` under `old`'s recorded schema. */
function migrate<T>(
  old: Serializer<T>,
  value: T,
  now: Serializer<unknown>,
  schema: SerializerSchema = schemaOf(old as Serializer<unknown>),
): unknown {
  const c = resolveSchemaCompatibility(now, schema);
  if (c.type === "incompatible") throw new Error(c.reason);
  const r = new ByteReader(serialize(old, value));
  const v = c.type === "compatibleAsIs" ? now.read(r) : c.readOld(r);
  assert.equal(r.remaining(), 0, "the old value's bytes are consumed exactly");
  return v;
}

function reason(now: Serializer<unknown>, old: SerializerSchema): string {
  const c = resolveSchemaCompatibility(now, old);
  assert.equal(c.type, "incompatible");
  return c.type === "incompatible" ? c.reason : "";
}

Deno.test("schema: records add fields with defaults, drop fields and ignore declaration order", () => {
  const old = Serializers.record({ a: f64, gone: Serializers.array(string), b: string });
  const now = Serializers.record({
    b: string,
    a: f64,
    added: Serializers.withDefault(Serializers.record({ x: f64 }), { x: 1 }),
  });
  const migrated = migrate(old, { a: 1, gone: ["q"], b: "s" }, now);
  assert.deepEqual(migrated, { a: 1, b: "s", added: { x: 1 } });
  // Fields in declared order, as a read of the new schema builds them.
  assert.deepEqual(Object.keys(migrated as object), ["b", "a", "added"]);
  // A field named __proto__ becomes an own property, not the prototype.
  const withProto = Serializers.record(
    Object.fromEntries([["__proto__", Serializers.withDefault(string, "p")], ["a", f64]]),
  );
  const p = migrate(Serializers.record({ a: f64 }), { a: 2 }, withProto) as object;
  assert.deepEqual(Object.entries(p), [["__proto__", "p"], ["a", 2]]);
  assert.equal(Object.getPrototypeOf(p), Object.prototype);
  const reordered = Serializers.record({ b: string, gone: Serializers.array(string), a: f64 });
  assert.equal(resolveSchemaCompatibility(reordered, schemaOf(old)).type, "compatibleAsIs");
});

Deno.test("schema: each migrated record gets its own copy of a default object", () => {
  const now = Serializers.record({
    a: f64,
    tags: Serializers.withDefault(Serializers.array(string), [] as string[]),
  });
  const old = Serializers.record({ a: f64 });
  const x = migrate(old, { a: 1 }, now) as { tags: string[] };
  const y = migrate(old, { a: 2 }, now) as { tags: string[] };
  x.tags.push("mutated");
  assert.deepEqual(y.tags, []);
});

Deno.test("schema: a field added without a default, or a removed custom field, is incompatible", () => {
  const old = Serializers.record({ a: f64 });
  assert.match(
    reason(Serializers.record({ a: f64, b: string }), schemaOf(old)),
    /field "b" was added without a default; declare it as Serializers.withDefault/,
  );
  const point: Serializer<number> = {
    id: "point",
    version: 1,
    write: (v, o) => o.writeF64(v),
    read: (r) => r.readF64(),
  };
  const withPoint = Serializers.record({ a: f64, p: point });
  assert.match(
    reason(Serializers.record({ a: f64 }), schemaOf(withPoint)),
    /field "p" was removed, but its old serializer "point" is not a built-in one/,
  );
});

Deno.test("schema: i32 widens to f64 anywhere; f64 does not narrow to i32", () => {
  assert.equal(migrate(i32, -5, f64), -5);
  assert.deepEqual(
    migrate(
      Serializers.tuple(i32, Serializers.optional(Serializers.array(i32))),
      [1, [2, -3]] as [number, number[] | undefined],
      Serializers.tuple(f64, Serializers.optional(Serializers.array(f64))),
    ),
    [1, [2, -3]],
  );
  assert.match(reason(i32, schemaOf(f64)), /"f64" cannot be read as "i32"/);
  assert.match(
    reason(Serializers.tuple(f64), schemaOf(Serializers.tuple(f64, f64))),
    /"tuple<f64,f64>" cannot be read as "tuple<f64>"/,
  );
});

/** A user serializer whose version 3 writes `{ n }` as f64; 1 wrote u8, 2 wrote u32. */
function counter(version: number, steps: Record<number, (i: ByteReader, o: ByteWriter) => void>) {
  return {
    id: "counter",
    version,
    write: (v: number, o: ByteWriter) => o.writeF64(v),
    read: (r: ByteReader) => r.readF64(),
    migrations: steps,
  } satisfies Serializer<number>;
}

Deno.test("schema: a user serializer migrates through every version step, also nested", () => {
  const v1: Serializer<number> = {
    id: "counter",
    version: 1,
    write: (v, o) => o.writeU8(v),
    read: (r) => r.readU8(),
  };
  const v3 = counter(3, {
    1: (i, o) => o.writeU32(i.readU8()),
    2: (i, o) => o.writeF64(i.readU32()),
  });
  assert.equal(migrate(v1, 7, v3), 7);
  // Nested: the first step reads exactly the old value from the record's bytes.
  const old = Serializers.record({ c: v1, s: string });
  assert.deepEqual(migrate(old, { c: 9, s: "after" }, Serializers.record({ c: v3, s: string })), {
    c: 9,
    s: "after",
  });
  assert.match(
    reason(counter(3, { 1: (i, o) => o.writeU32(i.readU8()) }), schemaOf(v1)),
    /"counter" has no migration from version 2 to 3 \(declare it as migrations\[2\]\)/,
  );
  assert.match(
    reason(v1, schemaOf(v3)),
    /written by version 3, newer than this serializer's version 1/,
  );
});

Deno.test("schema: withDefault keeps the inner serializer's id, version and schema", () => {
  const d = Serializers.withDefault(Serializers.record({ x: f64 }), { x: 0 });
  assert.equal(d.id, "record<x:f64>");
  assert.deepEqual(schemaOf(d as Serializer<unknown>), schemaOf(Serializers.record({ x: f64 })));
});

Deno.test("schema: schemas of snapshots that predate them come from the ids, versions unknown", () => {
  const legacy = schemaFromId("record<a:i32,b:array<point>>");
  assert.deepEqual(legacy, {
    id: "record<a:i32,b:array<point>>",
    fields: ["a", "b"],
    nested: [{ id: "i32" }, { id: "array<point>", nested: [{ id: "point" }] }],
  });
  // An unknown version reads as the current one: what weir did before versions were recorded.
  const point2 = counter(2, {});
  const now = Serializers.record({ a: f64, b: Serializers.array({ ...point2, id: "point" }) });
  assert.equal(resolveSchemaCompatibility(now, legacy).type, "compatibleAfterMigration");
  assert.deepEqual(schemaFromId("nonsense<"), { id: "nonsense<" });
});

Deno.test("schema: TTL values keep their timestamp and migrate their value; TTL cannot be added", () => {
  const old = ttlSerializer(Serializers.record({ n: i32 }));
  const now = ttlSerializer(Serializers.record({ n: f64 }));
  assert.deepEqual(migrate(old, { ts: 2 ** 40 + 5, v: { n: 3 } }, now as Serializer<unknown>), {
    ts: 2 ** 40 + 5,
    v: { n: 3 },
  });
  assert.match(
    reason(ttlSerializer(f64) as Serializer<unknown>, schemaOf(f64)),
    /was written without TTL/,
  );
});

Deno.test("schema: formatSchema names the versions of nested serializers that moved on", () => {
  const s = schemaOf(Serializers.record({ c: counter(3, {}), n: f64 }));
  assert.equal(formatSchema(s), "record<c:counter,n:f64> (version 1, counter version 3)");
  assert.equal(formatSchema({ id: "x" }), "x (version not recorded)");
});
