import assert from "node:assert/strict";
import { ByteWriter } from "../state/bytes.ts";
import { Serializers } from "../state/serializer.ts";
import { SerializationError } from "../errors.ts";
import { decodeMessage, encodeMessage } from "./channel_codec.ts";
import { type ChannelMessage, END_OF_INPUT, MessageKind } from "./messages.ts";
import { ChannelWriter } from "./outputs.ts";

/** A batch of `values` (with `timestamps`), no key groups. */
function records(
  values: unknown[],
  timestamps: (number | undefined)[] | null = null,
): ChannelMessage {
  return { kind: MessageKind.Records, values, timestamps, routedKeys: null };
}

Deno.test("channel codec: every message kind round-trips in order", () => {
  const messages: ChannelMessage[] = [
    records([{ user: "a", n: 1 }, [1, 2], "x"]),
    records([1, 2, 3], [10, undefined, -5]),
    { kind: MessageKind.Watermark, timestamp: 1_700_000_000_000 },
    { kind: MessageKind.Watermark, timestamp: -Infinity },
    { kind: MessageKind.WatermarkStatus, idle: true },
    {
      kind: MessageKind.Barrier,
      checkpointId: 123456,
      options: { savepoint: true, aligned: false },
    },
    { kind: MessageKind.Barrier, checkpointId: 1, options: { savepoint: false, aligned: true } },
    END_OF_INPUT,
  ];
  const out = new ByteWriter();
  for (const msg of messages) {
    out.reset();
    encodeMessage(msg, Serializers.plain, "a -> b", out);
    assert.deepEqual(decodeMessage(out.bytes(), Serializers.plain), msg);
  }
});

Deno.test("channel codec: an edge serializer given by the user is used for records", () => {
  const out = new ByteWriter();
  const batch = records([1.5, 2.5]);
  encodeMessage(batch, Serializers.f64 as never, "e", out);
  assert.equal(out.length, 1 + 1 + 1 + 16, "kind, count, flag and two f64 values");
  assert.deepEqual(decodeMessage(out.bytes(), Serializers.f64 as never), batch);
});

Deno.test("channel codec: a record the serializer refuses names the edge", () => {
  class Order {
    id = 1;
  }
  const batch = records([new Order()]);
  assert.throws(
    () => encodeMessage(batch, Serializers.plain, "orders -> enrich", new ByteWriter()),
    (e) =>
      e instanceof SerializationError && /Edge "orders -> enrich"/.test(e.message) &&
      /instance of Order/.test(e.message),
  );
  assert.throws(() => decodeMessage(new Uint8Array([42]), Serializers.plain), /unknown kind 42/);
});

Deno.test("channel codec: a plain batch carries each object shape's field names once", () => {
  const values = Array.from(
    { length: 200 },
    (_, i) => ({ customerName: `c${i}`, amountInCents: i }),
  );
  const batch = records(values);
  const out = new ByteWriter();
  encodeMessage(batch, Serializers.plain, "e", out);
  const text = new TextDecoder().decode(out.bytes());
  assert.equal(text.split("customerName").length - 1, 1, "the field name is written once");
  assert.ok(out.length < 200 * 12, `${out.length} bytes: no field names per record`);
  assert.deepEqual(decodeMessage(out.bytes(), Serializers.plain), batch);
});

Deno.test("channel codec: plain batches of mixed shapes, nesting and odd keys round-trip", () => {
  const many = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i]));
  const protoKey = JSON.parse('{"__proto__": {"x": 1}, "a": 2}');
  const values: unknown[] = [];
  for (let i = 0; i < 300; i++) {
    values.push(
      { user: `u${i % 7}`, n: i, tags: [`t${i % 3}`, { deep: i % 2 === 0, at: new Date(i) }] },
      { [`shape${i % 20}`]: i, other: null }, // 20 shapes: past the linear search
      { 1: "int key first", b: undefined, "é": "ü✓", long: "x".repeat(40 + (i % 5)) },
      // Keys are data in the compiled writers and builders, never code.
      { 'a"b': i, "c\\": "\n", "'); throw 1; ('": [], "`${x}`": { "}": 1 } },
    );
  }
  values.push(many, protoKey, {}, [], "", -0, 2n ** 70n, new Uint8Array([1, 2]));
  const batch = records(values, values.map((_, i) => (i % 3 === 0 ? undefined : i)));
  const out = new ByteWriter();
  for (let round = 0; round < 2; round++) { // the second round decodes with cached shapes
    out.reset();
    encodeMessage(batch, Serializers.plain, "e", out);
    const back = decodeMessage(out.bytes(), Serializers.plain);
    assert.deepEqual(back, batch);
    const values = (back as { values: unknown[] }).values;
    const p = values[values.length - 7] as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(p), Object.prototype, "__proto__ stays an own property");
    assert.deepEqual(Object.keys(p), ["__proto__", "a"]);
    assert.deepEqual(Object.keys(values[2] as object), ["1", "b", "é", "long"]);
  }
});

Deno.test("channel codec: a plain batch keeps sparse arrays' holes, as records within a worker do", () => {
  // deno-lint-ignore no-sparse-arrays
  const values = [[, 1, , 3], { user: "ann", seq: [, 2] }, { user: "bob", seq: [undefined, 2] }];
  const out = new ByteWriter();
  encodeMessage(records(values), Serializers.plain, "a -> b", out);
  const back = decodeMessage(out.bytes(), Serializers.plain) as { values: unknown[] };
  assert.deepEqual(back.values, values);
  assert.deepEqual(Object.keys(back.values[0] as unknown[]), ["1", "3"]);
  assert.ok(!(0 in (back.values[1] as { seq: unknown[] }).seq));
  assert.ok(0 in (back.values[2] as { seq: unknown[] }).seq);
});

Deno.test("channel codec: plain batch strings of every length and alphabet round-trip", () => {
  // Short ASCII strings are decoded by hand; a non-ASCII byte or a long one falls back.
  const values = Array.from(
    { length: 3000 },
    // Lone surrogates too (the halves of 𝄞 apart): a record crosses as it was.
    (_, i) => ["w", "é", "✓", "𝄞", "a\u0000b", "\uD834", "\uDD1E"][i % 7]!.repeat(1 + (i % 40)) + i,
  );
  const batch = records(values);
  const out = new ByteWriter();
  encodeMessage(batch, Serializers.plain, "e", out);
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(decodeMessage(out.bytes(), Serializers.plain), batch);
  }
});

Deno.test("channel codec: a batch of ASCII strings is one column of lengths and chars", () => {
  // Short ones, long ones (past the substring limit), empty ones; with and without timestamps.
  const values = Array.from({ length: 1500 }, (_, i) => "w".repeat(i % 70) + (i % 3 ? i : ""));
  const timestamps = values.map((_, i) => (i % 4 === 0 ? undefined : i * 10));
  for (const ts of [null, timestamps]) {
    const batch = records(values, ts);
    const out = new ByteWriter();
    encodeMessage(batch, Serializers.plain, "e", out);
    const chars = values.reduce((n, v) => n + v.length, 0);
    // kind, count (2 bytes), flags, a length byte per record, total chars (3 bytes), the chars.
    const expected = 1 + 2 + 1 + values.length * (ts ? 9 : 1) + 3 + chars;
    assert.equal(out.length, expected, "no tag per record: lengths, then the chars");
    assert.equal(out.buf[3]! & 4, 4, "the column flag");
    assert.deepEqual(decodeMessage(out.bytes(), Serializers.plain), batch);
  }
  // Lengths of 128 chars and more take varints of two and three bytes.
  const long = ["a", "x".repeat(127), "y".repeat(128), "z".repeat(20_000), "", "b"];
  for (const ts of [null, long.map((_, i) => i)]) {
    const out = new ByteWriter();
    encodeMessage(records(long, ts), Serializers.plain, "e", out);
    assert.equal(out.buf[2]! & 4, 4, "the column flag");
    assert.deepEqual(decodeMessage(out.bytes(), Serializers.plain), records(long, ts));
  }
  // A non-ASCII string or a value of another type: every value is written on its own.
  for (const odd of ["é", "\u0080", "\uD834", "ab\u00ff", 42, null]) {
    for (const values of [["a", "b", odd, "c"], ["a\u007f", odd]]) {
      const batch = records(values);
      const out = new ByteWriter();
      encodeMessage(batch, Serializers.plain, "e", out);
      assert.equal(out.buf[2]! & 4, 0, `no column with ${JSON.stringify(odd)}`);
      assert.deepEqual(decodeMessage(out.bytes(), Serializers.plain), batch);
    }
  }
  // Lengths that do not add up to the chars: a damaged message, not wrong records.
  const out = new ByteWriter();
  encodeMessage(records(["ab", "cd"]), Serializers.plain, "e", out);
  const bytes = out.toBytes();
  assert.deepEqual([...bytes], [0, 2, 4, 2, 2, 4, 97, 98, 99, 100]);
  bytes[3] = 3;
  assert.throws(() => decodeMessage(bytes, Serializers.plain), /lengths add up to 5, not its 4/);
  // Cut anywhere, in the lengths too: the reader says so, it does not read past the end.
  for (const end of [4, 5, 8]) {
    assert.throws(
      () => decodeMessage(out.bytes().subarray(0, end), Serializers.plain),
      SerializationError,
    );
  }
  // Bytes above 0x7f among the chars: damaged too (the column is ASCII only).
  const high = out.toBytes();
  high.set([0xc3, 0xa9], 8);
  assert.throws(() => decodeMessage(high, Serializers.plain), /bytes above 0x7f/);
});

Deno.test("channel codec: a damaged plain batch is a SerializationError", () => {
  const batch = records([{ a: "text", b: 1 }, { a: "more", b: 2 }]);
  const out = new ByteWriter();
  encodeMessage(batch, Serializers.plain, "e", out);
  const bytes = out.toBytes();
  assert.throws(
    () => decodeMessage(bytes.subarray(0, bytes.length - 3), Serializers.plain),
    SerializationError,
  );
  const badShape = bytes.slice();
  badShape[bytes.indexOf(13)] = 15; // an unknown tag where the second object's shape id was
  assert.throws(() => decodeMessage(badShape, Serializers.plain), SerializationError);
});

Deno.test("channel codec: a batch's send time crosses, and the decoded batch has a local batch's fields in order", () => {
  const sent: ChannelMessage[] = [];
  const writer = new ChannelWriter(
    [{ push: (m) => sent.push(m), hasSpace: () => true, waitForSpace: async () => {}, close() {} }],
    { kind: "forward" },
    0,
    128,
  );
  writer.collect("a", undefined);
  writer.flush();
  const local = sent[0]!;
  assert.ok(local.kind === MessageKind.Records && local.sentAt !== undefined);
  const out = new ByteWriter();
  encodeMessage(local, Serializers.plain, "a -> b", out);
  const decoded = decodeMessage(out.bytes(), Serializers.plain);
  assert.deepEqual(Object.keys(decoded), Object.keys(local));
  assert.ok(decoded.kind === MessageKind.Records);
  // Wall-clock time and back, on the same thread: the same instant (float rounding aside).
  assert.ok(Math.abs(decoded.sentAt! - local.sentAt) < 0.01, `${decoded.sentAt} ~ ${local.sentAt}`);
  assert.deepEqual(decoded.values, ["a"]);
});

Deno.test("channel codec: records' key groups and key hashes cross with them, from a whole batch or a view into one", () => {
  // Key groups and table hashes, in turn.
  const routedKeys = Int32Array.from(
    { length: 128 },
    (_, i) => i % 2 === 0 ? (i * 2731) % 32768 : Math.imul(i, 0x9e3779b1),
  );
  const values = Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? `w${i}` : { n: i }));
  const words = values.map((_, i) => `w${i}`); // an ASCII column
  for (const [vs, from] of [[values, 0], [values, 10], [words, 0], [words, 33]] as const) {
    const batch: ChannelMessage = {
      kind: MessageKind.Records,
      values: vs.slice(from),
      timestamps: null,
      routedKeys: routedKeys.subarray(2 * from), // a view at an offset, as a split batch's half
    };
    const out = new ByteWriter();
    encodeMessage(batch, Serializers.plain, "a -> b", out);
    const decoded = decodeMessage(out.bytes(), Serializers.plain);
    assert.ok(decoded.kind === MessageKind.Records);
    assert.deepEqual(decoded.values, vs.slice(from));
    assert.deepEqual([...decoded.routedKeys!], [...routedKeys.subarray(2 * from)]);
  }
});
