import assert from "node:assert/strict";
import { ByteWriter } from "../state/bytes.ts";
import { Serializers } from "../state/serializer.ts";
import { SerializationError } from "../errors.ts";
import { decodeMessage, encodeMessage } from "./channel_codec.ts";
import { type ChannelMessage, END_OF_INPUT, MessageKind } from "./messages.ts";

Deno.test("channel codec: every message kind round-trips in order", () => {
  const messages: ChannelMessage[] = [
    { kind: MessageKind.Records, values: [{ user: "a", n: 1 }, [1, 2], "x"], timestamps: null },
    { kind: MessageKind.Records, values: [1, 2, 3], timestamps: [10, undefined, -5] },
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
  const batch: ChannelMessage = { kind: MessageKind.Records, values: [1.5, 2.5], timestamps: null };
  encodeMessage(batch, Serializers.f64 as never, "e", out);
  assert.equal(out.length, 1 + 1 + 1 + 16, "kind, count, flag and two f64 values");
  assert.deepEqual(decodeMessage(out.bytes(), Serializers.f64 as never), batch);
});

Deno.test("channel codec: a record the serializer refuses names the edge", () => {
  class Order {
    id = 1;
  }
  const batch: ChannelMessage = {
    kind: MessageKind.Records,
    values: [new Order()],
    timestamps: null,
  };
  assert.throws(
    () => encodeMessage(batch, Serializers.plain, "orders -> enrich", new ByteWriter()),
    (e) =>
      e instanceof SerializationError && /Edge "orders -> enrich"/.test(e.message) &&
      /instance of Order/.test(e.message),
  );
  assert.throws(() => decodeMessage(new Uint8Array([42]), Serializers.plain), /unknown kind 42/);
});
