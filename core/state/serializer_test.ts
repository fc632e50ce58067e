import assert from "node:assert/strict";
import { SerializationError } from "../errors.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";
import { deserialize, serialize, type Serializer, Serializers } from "./serializer.ts";

function roundTrip<T>(s: Serializer<T>, v: T): T {
  return deserialize(s, serialize(s, v));
}

function same<T>(s: Serializer<T>, values: T[]): void {
  for (const v of values) {
    const back = roundTrip(s, v);
    if (typeof v === "number") assert.ok(Object.is(back, v), `${s.id}: ${String(v)}`);
    else assert.deepEqual(back, v, `${s.id}: ${String(v)}`);
  }
}

const STRINGS = [
  "",
  "a",
  "x".repeat(127),
  "x".repeat(128),
  "x".repeat(129),
  "é".repeat(127),
  "é".repeat(128),
  "é".repeat(129),
  "y".repeat(70_000),
  "😀 astral",
  "e\u0301 combining",
  "\u0000",
  "\uFEFF leading BOM",
];

function serializerError(id: string): (e: unknown) => boolean {
  return (e) => e instanceof SerializationError && e.message.includes(`"${id}"`);
}

Deno.test("Serializers.f64 round-trips NaN, -0, ±Infinity and extremes", () => {
  same(Serializers.f64, [0, -0, 1.5, -1e308, NaN, Infinity, -Infinity, Number.EPSILON, 2 ** 53]);
});

Deno.test("Serializers.i32 round-trips the 32-bit range and rejects what is outside", () => {
  same(Serializers.i32, [0, -1, 1, 0x7fffffff, -0x80000000, 12345]);
  for (const bad of [0x80000000, -0x80000001, 1.5, NaN, Infinity]) {
    assert.throws(() => serialize(Serializers.i32, bad), serializerError("i32"), String(bad));
  }
});

Deno.test("Serializers.bigint round-trips any size and sign", () => {
  same(Serializers.bigint, [
    0n,
    1n,
    -1n,
    255n,
    256n,
    -(2n ** 64n),
    2n ** 64n,
    2n ** 200n,
    -(2n ** 200n) + 12345n,
  ]);
});

Deno.test("Serializers.boolean and string round-trip", () => {
  same(Serializers.boolean, [true, false]);
  same(Serializers.string, STRINGS);
  // Lone surrogates come back too (WTF-8).
  assert.equal(roundTrip(Serializers.string, "a\uDFFFb"), "a\uDFFFb");
});

Deno.test("Serializers.bytes round-trips empty and large arrays, and copies", () => {
  const big = new Uint8Array(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  same(Serializers.bytes, [new Uint8Array(0), new Uint8Array([0, 255]), big]);
  const encoded = serialize(Serializers.bytes, new Uint8Array([1, 2, 3]));
  const back = deserialize(Serializers.bytes, encoded);
  encoded.fill(0);
  assert.deepEqual([...back], [1, 2, 3]);
});

Deno.test("Serializers.array, tuple, record and optional compose", () => {
  same(Serializers.array(Serializers.string), [[], [""], STRINGS]);
  same(Serializers.array(Serializers.array(Serializers.f64)), [[[]], [[1, 2], [], [3]]]);
  const t = Serializers.tuple(Serializers.string, Serializers.f64, Serializers.boolean);
  same(t, [["", -0, true] as [string, number, boolean], ["k", NaN, false]]);
  const r = Serializers.record({ name: Serializers.string, n: Serializers.i32 });
  same(r, [{ name: "a", n: 1 }, { name: "", n: -5 }]);
  const o = Serializers.optional(Serializers.string);
  same(o, [undefined, "", "x"]);
  const nested = Serializers.optional(
    Serializers.record({ tags: Serializers.array(Serializers.string), when: Serializers.f64 }),
  );
  same(nested, [undefined, { tags: [], when: 0 }, { tags: ["a", "b"], when: 1e12 }]);
});

Deno.test("Serializers.record: field names are data, whatever their characters", () => {
  // The record serializer compiles its field accesses; a name must never become code.
  const names = ['a"b', "c\\", "d\n}", "'); throw 1; ('", "`${x}`", "", "0", "\u2028"];
  const fields = Object.fromEntries(names.map((n) => [n, Serializers.string]));
  const r = Serializers.record(fields);
  const v = Object.fromEntries(names.map((n, i) => [n, `v${i}`]));
  same(r, [v]);
  assert.deepEqual(r.copy!(v), v);
  assert.deepEqual(Object.keys(roundTrip(r, v)).sort(), [...names].sort());
});

Deno.test("Serializers.record: reads and copies build objects with the fields in declared order", () => {
  const r = Serializers.record({ z: Serializers.f64, a: Serializers.string, m: Serializers.i32 });
  const v = { z: 1, a: "x", m: 2 };
  assert.deepEqual(Object.keys(roundTrip(r, v)), ["z", "a", "m"]);
  assert.deepEqual(Object.keys(r.copy!(v)), ["z", "a", "m"]);
  // A field named __proto__ is an own property, not the object's prototype.
  const fields = Object.fromEntries([["__proto__", Serializers.string], ["b", Serializers.f64]]);
  const p = Serializers.record(fields);
  const read = roundTrip(p, JSON.parse('{"__proto__":"x","b":1}')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(read), ["__proto__", "b"]);
  assert.equal(Object.getPrototypeOf(read), Object.prototype);
});

Deno.test("Serializers: ids name the structure and versions are set", () => {
  const all: Serializer<unknown>[] = [
    Serializers.f64,
    Serializers.i32,
    Serializers.bigint,
    Serializers.boolean,
    Serializers.string,
    Serializers.bytes,
    Serializers.json,
    Serializers.key,
  ] as Serializer<unknown>[];
  assert.deepEqual(all.map((s) => s.id), [
    "f64",
    "i32",
    "bigint",
    "boolean",
    "string",
    "bytes",
    "json",
    "key",
  ]);
  for (const s of all) assert.ok(Number.isInteger(s.version) && s.version >= 1, s.id);
  assert.equal(Serializers.array(Serializers.f64).id, "array<f64>");
  assert.equal(
    Serializers.tuple(Serializers.string, Serializers.bigint).id,
    "tuple<string,bigint>",
  );
  // Record fields are sorted, so declaration order does not change the id or the encoding.
  const r1 = Serializers.record({ b: Serializers.f64, a: Serializers.string });
  const r2 = Serializers.record({ a: Serializers.string, b: Serializers.f64 });
  assert.equal(r1.id, "record<a:string,b:f64>");
  assert.equal(r1.id, r2.id);
  assert.deepEqual(serialize(r1, { a: "x", b: 1 }), serialize(r2, { b: 1, a: "x" }));
  assert.equal(Serializers.optional(Serializers.i32).id, "optional<i32>");
});

Deno.test("Serializers.json is the fallback for plain data", () => {
  same(Serializers.json, [null, 0, "", "😀", [1, "a", null], { a: { b: [true, false] } }]);
  assert.deepEqual(roundTrip(Serializers.json, { d: new Date(0) }), {
    d: "1970-01-01T00:00:00.000Z",
  });
  assert.throws(() => serialize(Serializers.json, undefined), serializerError("json"));
  assert.throws(() => serialize(Serializers.json, () => 1), serializerError("json"));
  assert.throws(() => serialize(Serializers.json, 1n), serializerError("json"));
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => serialize(Serializers.json, cyclic), serializerError("json"));
});

Deno.test("Serializers: a value of the wrong type throws SerializationError naming the serializer", () => {
  const cases: [Serializer<unknown>, unknown][] = [
    [Serializers.f64 as Serializer<unknown>, "1"],
    [Serializers.bigint as Serializer<unknown>, 1],
    [Serializers.boolean as Serializer<unknown>, 0],
    [Serializers.string as Serializer<unknown>, 5],
    [Serializers.string as Serializer<unknown>, null],
    [Serializers.bytes as Serializer<unknown>, [1, 2]],
    [Serializers.array(Serializers.f64) as Serializer<unknown>, "abc"],
    [Serializers.tuple(Serializers.f64, Serializers.f64) as Serializer<unknown>, [1]],
    [Serializers.record({ a: Serializers.f64 }) as Serializer<unknown>, 3],
  ];
  for (const [s, v] of cases) {
    assert.throws(() => serialize(s, v), serializerError(s.id), `${s.id} with ${String(v)}`);
  }
  // The message also names the value's type.
  assert.throws(
    () => serialize(Serializers.f64 as Serializer<unknown>, "1"),
    /cannot serialize a string/,
  );
  // A wrong element type is reported by the element serializer.
  assert.throws(
    () => serialize(Serializers.array(Serializers.f64) as Serializer<unknown>, ["x"]),
    serializerError("f64"),
  );
});

Deno.test("deserialize: truncated bytes throw SerializationError", () => {
  const cases: [Serializer<unknown>, unknown][] = [
    [Serializers.f64 as Serializer<unknown>, 1.5],
    [Serializers.string as Serializer<unknown>, "hello world"],
    [Serializers.string as Serializer<unknown>, "é".repeat(200)],
    [Serializers.bigint as Serializer<unknown>, 2n ** 100n],
    [Serializers.bytes as Serializer<unknown>, new Uint8Array(10)],
    [Serializers.array(Serializers.string) as Serializer<unknown>, ["a", "b"]],
    [Serializers.json, { a: [1, 2, 3] }],
    [Serializers.key, ["k", 1, { z: true }]],
  ];
  for (const [s, v] of cases) {
    const full = serialize(s, v);
    for (let cut = 0; cut < full.length; cut++) {
      assert.throws(
        () => deserialize(s, full.subarray(0, cut)),
        SerializationError,
        `${s.id} cut at ${cut} of ${full.length}`,
      );
    }
  }
});

Deno.test("deserialize: leftover bytes throw SerializationError naming the serializer", () => {
  const bytes = new Uint8Array([...serialize(Serializers.string, "ab"), 0, 0]);
  assert.throws(
    () => deserialize(Serializers.string, bytes),
    (e: unknown) =>
      e instanceof SerializationError && /"string"/.test(e.message) &&
      /2 bytes left over/.test(e.message),
  );
});

Deno.test("serialize returns a copy that later calls do not overwrite", () => {
  const a = serialize(Serializers.string, "first");
  const b = serialize(Serializers.string, "second!");
  assert.equal(deserialize(Serializers.string, a), "first");
  assert.equal(deserialize(Serializers.string, b), "second!");
});

Deno.test("Serializers.key: supported key shapes round-trip", () => {
  const keys: unknown[] = [
    "",
    "user-1",
    "😀",
    0,
    -1.5,
    Infinity,
    2n ** 70n,
    -3n,
    true,
    false,
    [],
    ["a", 1, [true, ["nested", 2n]]],
    {},
    { a: 1, b: ["x", { c: false }] },
    ...STRINGS,
  ];
  for (const k of keys) assert.deepEqual(roundTrip(Serializers.key, k), k);
  assert.ok(Number.isNaN(roundTrip(Serializers.key, NaN)));
});

Deno.test("Serializers.key: -0 and 0 are one key; object key order is irrelevant", () => {
  const enc = (v: unknown) => [...serialize(Serializers.key, v)].join();
  assert.equal(enc(-0), enc(0));
  assert.ok(Object.is(roundTrip(Serializers.key, -0), 0));
  assert.equal(enc([-0, { x: -0 }]), enc([0, { x: 0 }]));
  assert.equal(enc({ a: 1, b: 2 }), enc({ b: 2, a: 1 }));
  assert.equal(enc({ o: { y: 1, x: [2] } }), enc({ o: { x: [2], y: 1 } }));
  // Types stay distinct: "1", 1, 1n and true are four keys.
  const distinct = new Set(["1", 1, 1n, true, ["1"], { 1: 1 }].map(enc));
  assert.equal(distinct.size, 6);
  // An array and an object with index-like names are different keys.
  assert.notEqual(enc(["a"]), enc({ 0: "a" }));
});

Deno.test("Serializers.key: unsupported keys throw SerializationError with a clear message", () => {
  class Point {
    x = 1;
  }
  const bad: unknown[] = [
    undefined,
    null,
    Symbol("s"),
    () => 1,
    new Date(0),
    new Map(),
    new Point(),
    [1, undefined],
    { a: () => 1 },
  ];
  for (const k of bad) {
    assert.throws(
      () => serialize(Serializers.key, k),
      (e: unknown) =>
        e instanceof SerializationError && /keys must be strings, numbers/.test(e.message),
      String(typeof k),
    );
  }
  assert.throws(() => serialize(Serializers.key, new Point()), /type Point/);
});

Deno.test("Serializers.key: an unknown tag is rejected on read", () => {
  assert.throws(
    () => deserialize(Serializers.key, new Uint8Array([99])),
    (e: unknown) => e instanceof SerializationError && /unknown tag 99/.test(e.message),
  );
});

Deno.test("Serializers: writing into a shared writer appends; values can be read in sequence", () => {
  const w = new ByteWriter(4);
  Serializers.string.write("a", w);
  Serializers.f64.write(-0, w);
  Serializers.key.write(["k", 2], w);
  Serializers.optional(Serializers.bigint).write(undefined, w);
  const r = new ByteReader(w.bytes());
  assert.equal(Serializers.string.read(r), "a");
  assert.ok(Object.is(Serializers.f64.read(r), -0));
  assert.deepEqual(Serializers.key.read(r), ["k", 2]);
  assert.equal(Serializers.optional(Serializers.bigint).read(r), undefined);
  assert.equal(r.remaining(), 0);
});

/** Whether `a` and `b` share a mutable object (an array, plain object or byte array) anywhere. */
function sharesMutable(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return false;
  if (a === b) return true;
  const ka = Object.keys(a);
  return ka.some((k) =>
    sharesMutable((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

Deno.test("Serializers copy: what a write then a read gives, sharing nothing mutable", () => {
  const { f64, i32, bigint, boolean, string, bytes, array, tuple, record, optional } = Serializers;
  const point = record({ y: f64, x: f64, tags: array(string), at: optional(tuple(i32, bytes)) });
  const cases: [Serializer<unknown>, unknown][] = [
    [f64, -0],
    [f64, NaN],
    [f64, 1.5],
    [i32, -0], // reads back as 0
    [i32, -7],
    [bigint, -(2n ** 70n)],
    [boolean, false],
    ...STRINGS.map((s): [Serializer<unknown>, unknown] => [string, s]),
    [string, "lone \uD800 surrogate \uDFFF"], // kept (WTF-8)
    [bytes, new Uint8Array([1, 2, 3]).subarray(1)],
    [array(f64), [1, -0, NaN, Infinity]],
    [array(f64), []],
    [array(array(string)), [["a"], [], ["b", "c"]]],
    [tuple(f64, string), [1, "a"]],
    // Unknown fields are dropped and fields come in name order, as `read` gives them.
    [point, { x: 1, y: 2, tags: ["t"], at: [3, new Uint8Array([9])], extra: "dropped" }],
    [point, { x: 1, y: 2, tags: [], at: undefined }],
    [optional(array(f64)), undefined],
    [Serializers.withDefault(array(f64), []), [4]],
  ] as [Serializer<unknown>, unknown][];
  for (const [s, v] of cases) {
    assert.ok(s.copy, `${s.id} copies`);
    const copied = s.copy(v);
    const read = roundTrip(s, v);
    if (typeof read === "number") assert.ok(Object.is(copied, read), `${s.id}: ${String(v)}`);
    else assert.deepStrictEqual(copied, read, `${s.id}: ${String(v)}`);
    if (typeof read === "object" && read !== null) {
      assert.deepEqual(Object.keys(copied as object), Object.keys(read), `${s.id}: field order`);
    }
    assert.ok(!sharesMutable(copied, v), `${s.id}: the copy shares nothing mutable with the value`);
  }
  // A Uint8Array subclass copies to a plain Uint8Array, as it reads back.
  class Tagged extends Uint8Array {}
  assert.equal(bytes.copy!(new Tagged([1])).constructor, Uint8Array);
  // So does an Array subclass of numbers.
  class Numbers extends Array<number> {}
  assert.equal(array(f64).copy!(Numbers.from([1, 2])).constructor, Array);
});

Deno.test("Serializers copy: throws where write throws, with the same error", () => {
  const { f64, i32, string, bytes, array, tuple, record, optional } = Serializers;
  const cases: [Serializer<unknown>, unknown][] = [
    [f64, "1"],
    [i32, 2 ** 31],
    [i32, 1.5],
    [string, 5],
    [bytes, [1, 2]],
    [array(f64), "abc"],
    [array(f64), [1, "x"]],
    [array(f64), [1, , 2]], // a hole reads as undefined
    [array(string), ["a", 1]],
    [tuple(f64, f64), [1]],
    [record({ a: f64 }), 3],
    [record({ a: f64 }), null],
    [record({ a: f64 }), {}],
    [optional(f64), null],
  ] as [Serializer<unknown>, unknown][];
  for (const [s, v] of cases) {
    let written: unknown;
    try {
      serialize(s, v);
    } catch (e) {
      written = e;
    }
    assert.ok(written instanceof SerializationError, `${s.id} fails to write ${String(v)}`);
    assert.throws(() => s.copy!(v), (e) =>
      e instanceof SerializationError &&
      e.message === (written as Error).message, `${s.id} copy of ${String(v)}`);
  }
});

Deno.test("Serializers copy: json, key and plain have none, nor a composite of them", () => {
  const { json, key, plain, array, tuple, record, optional, f64 } = Serializers;
  for (const s of [json, key, plain, array(json), tuple(f64, key), record({ a: plain })]) {
    assert.equal((s as Serializer<unknown>).copy, undefined, s.id);
  }
  assert.equal(optional(json).copy, undefined);
  assert.equal(Serializers.withDefault(json, null).copy, undefined);
});
