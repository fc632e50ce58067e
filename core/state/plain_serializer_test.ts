import assert from "node:assert/strict";
import { ByteReader, ByteWriter } from "./bytes.ts";
import { plainSerializer, plainStateSerializer } from "./plain_serializer.ts";
import { Serializers } from "./serializer.ts";
import { SerializationError } from "../errors.ts";

function roundTrip(v: unknown): unknown {
  const w = new ByteWriter(8);
  plainSerializer.write(v, w);
  const r = new ByteReader(w.bytes());
  const back = plainSerializer.read(r);
  assert.equal(r.remaining(), 0, "every byte written is read back");
  return back;
}

Deno.test("plain serializer: scalars keep their exact value", () => {
  const values = [
    0,
    1,
    -1,
    63,
    -64,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    2 ** 53,
    0.1,
    -1.5e300,
    Infinity,
    -Infinity,
    "",
    "a",
    "héllo wörld ✓ 𝄞",
    "x".repeat(1000),
    true,
    false,
    null,
    undefined,
    0n,
    -1n,
    2n ** 100n,
    -(2n ** 64n) + 1n,
  ];
  for (const v of values) assert.deepEqual(roundTrip(v), v);
  assert.ok(Object.is(roundTrip(-0), -0));
  assert.ok(Number.isNaN(roundTrip(NaN)));
});

Deno.test("plain serializer: nested arrays, objects, bytes and dates", () => {
  const v = {
    user: "ann",
    amounts: [1, 2.5, -3],
    nested: { deeper: [{ a: null, b: undefined }, []], empty: {} },
    bytes: new Uint8Array([0, 255, 7]),
    at: new Date(1_700_000_000_123),
    big: 12345678901234567890n,
  };
  const back = roundTrip(v) as typeof v;
  assert.deepEqual(back, v);
  assert.ok(back.bytes instanceof Uint8Array && back.at instanceof Date);
  assert.ok("b" in back.nested.deeper[0]!, "an undefined property stays present");
  const bare = Object.assign(Object.create(null), { k: 1 });
  assert.deepEqual({ ...(roundTrip(bare) as object) }, { k: 1 });
});

Deno.test("plain serializer: random values round-trip", () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const gen = (depth: number): unknown => {
    const pick = Math.floor(rnd() * (depth > 3 ? 6 : 9));
    switch (pick) {
      case 0:
        return Math.floor(rnd() * 2 ** 40) - 2 ** 39;
      case 1:
        return rnd() * 1e6 - 5e5;
      case 2:
        return String.fromCharCode(...Array.from({ length: rnd() * 20 }, () => rnd() * 0xd000));
      case 3:
        return rnd() < 0.5;
      case 4:
        return rnd() < 0.5 ? null : undefined;
      case 5:
        return BigInt(Math.floor(rnd() * 1e9)) * 10n ** 20n;
      case 6:
        return Array.from({ length: rnd() * 5 }, () => gen(depth + 1));
      case 7:
        return Object.fromEntries(
          Array.from({ length: rnd() * 5 }, (_, i) => [`k${i}`, gen(depth + 1)]),
        );
      default:
        return new Uint8Array(Array.from({ length: rnd() * 10 }, () => rnd() * 256));
    }
  };
  for (let i = 0; i < 2000; i++) {
    const v = gen(0);
    assert.deepEqual(roundTrip(v), v);
  }
});

Deno.test("plain serializer: refuses what it cannot carry, naming it", () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const cases: [unknown, RegExp][] = [
    [new Point(1), /instance of Point/],
    [new Map([[1, 2]]), /instance of Map/],
    [new Set([1]), /instance of Set/],
    [() => 1, /a function/],
    [Symbol("s"), /a symbol/],
    [{ nested: [new Point(2)] }, /instance of Point/],
    [new Uint16Array(2), /instance of Uint16Array/],
  ];
  for (const [v, pattern] of cases) {
    assert.throws(() => plainSerializer.write(v, new ByteWriter()), (e: unknown) => {
      assert.ok(e instanceof SerializationError);
      assert.match(e.message, pattern);
      assert.match(e.message, /give one for this stream/);
      return true;
    });
  }
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.throws(() => plainSerializer.write(cycle, new ByteWriter()), /nested deeper than 256/);
});

Deno.test("plain serializer: damaged bytes are a SerializationError", () => {
  assert.throws(() => plainSerializer.read(new ByteReader(new Uint8Array([99]))), /unknown tag 99/);
  assert.throws(
    () => plainSerializer.read(new ByteReader(new Uint8Array([6, 10, 0x61]))),
    SerializationError,
  );
});

Deno.test("plain serializer: a sparse array keeps its holes, an undefined element stays one", () => {
  // deno-lint-ignore no-sparse-arrays
  const v = { tags: [, "a", , undefined, "b", ,], deep: [[, 1], { xs: new Array(3) }] };
  const back = roundTrip(v) as typeof v;
  assert.deepEqual(back, v);
  assert.deepEqual(Object.keys(back.tags), ["1", "3", "4"]);
  assert.equal(back.tags.length, 6);
  assert.ok(!(0 in back.deep[0]!) && 1 in back.deep[0]!);
  assert.equal(Object.keys((back.deep[1] as { xs: unknown[] }).xs).length, 0);
  // A dense array costs what it did: one tag a value, no byte for holes.
  const w = new ByteWriter();
  plainSerializer.write([1, undefined, 2], w);
  assert.deepEqual([...w.bytes()], [7, 3, 4, 2, 0, 4, 4]);
  // An array with a hole is a sparse array (tag 14), each hole a tag 15.
  w.reset();
  // deno-lint-ignore no-sparse-arrays
  plainSerializer.write([, 1], w);
  assert.deepEqual([...w.bytes()], [14, 2, 15, 4, 2]);
});

Deno.test("plain serializer: bytes of version 1 read as they did, and are compatible as is", () => {
  // Version 1 wrote [ , 1] as [undefined, 1]: array, 2 values, undefined, int 1.
  const old = plainSerializer.read(new ByteReader(new Uint8Array([7, 2, 0, 4, 2]))) as unknown[];
  assert.deepEqual(old, [undefined, 1]);
  assert.ok(0 in old, "version 1's undefined is an element, not a hole");
  assert.equal(plainSerializer.version, 2);
  const compat = (version: number) =>
    plainSerializer.resolveSchemaCompatibility!({ id: "plain", version }).type;
  assert.equal(compat(1), "compatibleAsIs");
  assert.equal(compat(2), "compatibleAsIs");
  assert.equal(compat(3), "incompatible");
  // json (the default of state weir kept of user values before plain) migrates: read, rewritten.
  const fromJson = plainSerializer.resolveSchemaCompatibility!({ id: "json", version: 1 });
  assert.equal(fromJson.type, "compatibleAfterMigration");
  const jsonBytes = new ByteWriter();
  Serializers.json.write({ a: [1, "x", null] }, jsonBytes);
  jsonBytes.writeU8(99);
  const r = new ByteReader(jsonBytes.bytes());
  if (fromJson.type === "compatibleAfterMigration") {
    assert.deepEqual(fromJson.readOld(r), { a: [1, "x", null] });
  }
  assert.equal(r.readU8(), 99, "the old value's bytes, and no more, are read");
  assert.equal(
    plainSerializer.resolveSchemaCompatibility!({ id: "json", version: 2 }).type,
    "incompatible",
  );
  assert.equal(
    plainSerializer.resolveSchemaCompatibility!({ id: "string", version: 1 }).type,
    "incompatible",
  );
  // A hole outside a sparse array is damage.
  assert.throws(() => plainSerializer.read(new ByteReader(new Uint8Array([15]))), /unknown tag 15/);
  assert.throws(
    () => plainSerializer.read(new ByteReader(new Uint8Array([7, 2, 15, 4, 2]))),
    /unknown tag 15/,
  );
});

Deno.test("plain serializer for state: the same encoding, and a refusal names the operator and the option", () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const s = plainStateSerializer<unknown>(
    'operator "Window(Reduce)"',
    ".reduce(fn, { serializer })",
  );
  assert.equal(s.id, plainSerializer.id);
  assert.equal(s.version, plainSerializer.version);
  const v = { at: new Date(5), n: NaN, big: 2n ** 70n, u: undefined };
  const w = new ByteWriter();
  s.write(v, w);
  assert.deepEqual(s.read(new ByteReader(w.bytes())), v);
  assert.throws(() => s.write({ p: new Point(1) }, new ByteWriter()), (e: unknown) => {
    assert.ok(e instanceof SerializationError);
    assert.match(e.message, /cannot carry an instance of Point/);
    assert.match(
      e.message,
      /kept in state by operator "Window\(Reduce\)": give it a serializer with \.reduce\(fn, \{ serializer \}\)/,
    );
    return true;
  });
});
