import assert from "node:assert/strict";
import { ByteWriter } from "./bytes.ts";
import { deserialize, serialize, type Serializer, Serializers } from "./serializer.ts";
import { parseStateTypeId, serializerFromId } from "./serializer_ids.ts";

Deno.test("every built-in serializer id rebuilds a serializer that reads the original's bytes", () => {
  const S = Serializers;
  const cases: [Serializer<unknown>, unknown][] = [
    [S.f64, 1.5],
    [S.i32, -7],
    [S.bigint, -(2n ** 70n)],
    [S.boolean, true],
    [S.string, "héllo, <world>"],
    [S.bytes, new Uint8Array([1, 2, 3])],
    [S.json, { a: [1, "x"] }],
    [S.key, ["user", 3, { b: true }]],
    [S.array(S.tuple(S.string, S.f64)) as Serializer<unknown>, [["a", 1], ["b", 2]]],
    [S.optional(S.record({ n: S.f64, w: S.array(S.string) })) as Serializer<unknown>, {
      n: 1,
      w: ["x"],
    }],
    [S.optional(S.string) as Serializer<unknown>, undefined],
    [S.record({ z: S.i32, a: S.optional(S.bigint) }) as Serializer<unknown>, { a: 5n, z: 2 }],
  ];
  for (const [s, v] of cases) {
    const rebuilt = serializerFromId(s.id);
    assert.ok(rebuilt, s.id);
    assert.equal(rebuilt.id, s.id);
    assert.deepEqual(deserialize(rebuilt, serialize(s, v)), v, s.id);
  }
});

Deno.test("custom and malformed ids rebuild nothing", () => {
  for (
    const id of [
      "point",
      "array<point>",
      "array<f64",
      "tuple<f64>>",
      "f64<string>",
      "",
      "record<f64>",
    ]
  ) {
    assert.equal(serializerFromId(id), undefined, id);
  }
});

Deno.test("window and TTL encodings decode", () => {
  const w = new ByteWriter();
  w.writeF64(10);
  w.writeF64(20);
  assert.deepEqual(deserialize(serializerFromId("time-window")!, w.toBytes()), {
    start: 10,
    end: 20,
  });
  const t = new ByteWriter();
  t.writeU32(1);
  t.writeU32(2);
  t.writeString("v");
  const type = parseStateTypeId("list<string>+ttl")!;
  assert.deepEqual(type, { kind: "list", valueId: "ttl<string>" });
  assert.deepEqual(deserialize(serializerFromId(type.valueId)!, t.toBytes()), {
    v: "v",
    ts: 0x1_0000_0002,
  });
  const e = new ByteWriter();
  e.writeString("x");
  e.writeU8(1);
  e.writeF64(7);
  assert.deepEqual(deserialize(serializerFromId("timestamped<string>")!, e.toBytes()), {
    value: "x",
    timestamp: 7,
  });
});

Deno.test("state type ids split into kind and serializer ids", () => {
  assert.deepEqual(parseStateTypeId("value<tuple<string,f64>>"), {
    kind: "value",
    valueId: "tuple<string,f64>",
  });
  assert.deepEqual(parseStateTypeId("map<tuple<a,b>,record<x:f64,y:f64>>"), {
    kind: "map",
    userKeyId: "tuple<a,b>",
    valueId: "record<x:f64,y:f64>",
  });
  assert.equal(parseStateTypeId("nonsense"), undefined);
});
