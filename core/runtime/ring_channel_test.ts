import assert from "node:assert/strict";
import { Serializers } from "../state/serializer.ts";
import { type ChannelMessage, END_OF_INPUT, MessageKind, type RecordBatch } from "./messages.ts";
import { RingChannelReader, RingChannelWriter } from "./ring_channel.ts";
import { createRing } from "./shared_ring.ts";

Deno.test("ring channel: a batch too big for one frame crosses in parts, each record with its timestamp and key group", async () => {
  const ring = createRing(4096);
  const writer = new RingChannelWriter(ring, Serializers.plain, "source -> count");
  const reader = new RingChannelReader(ring, Serializers.plain);
  const n = 300;
  const batch: RecordBatch = {
    kind: MessageKind.Records,
    values: Array.from({ length: n }, (_, i) => `record ${i} `.repeat(3)),
    timestamps: Array.from({ length: n }, (_, i) => (i % 5 === 0 ? undefined : i * 10)),
    routedKeys: Int32Array.from(
      { length: 2 * n },
      (_, i) => i % 2 === 0 ? (i * 37) % 128 : Math.imul(i, 0x9e3779b1),
    ),
  };
  const got: ChannelMessage[] = [];
  const written = writer.write(batch);
  // The reader frees space as the parts arrive.
  while (got.reduce((a, m) => a + (m.kind === MessageKind.Records ? m.values.length : 0), 0) < n) {
    const msg = reader.take();
    if (msg) got.push(msg);
    else await reader.waitForMessage();
  }
  await written;
  assert.ok(got.length > 1, "split");
  const records = got as RecordBatch[];
  assert.deepEqual(records.flatMap((m) => m.values), batch.values);
  assert.deepEqual(records.flatMap((m) => m.timestamps!), batch.timestamps);
  assert.deepEqual(records.flatMap((m) => [...m.routedKeys!]), [...batch.routedKeys!]);
});

Deno.test("ring channel: once a batch has shown its records' size, big batches go in frames of half the ring", async () => {
  const capacity = 64 * 1024;
  const ring = createRing(capacity);
  const writer = new RingChannelWriter(ring, Serializers.plain, "source -> count");
  const reader = new RingChannelReader(ring, Serializers.plain);
  const record = (i: number) => ({ id: i, text: `record ${i} `.padEnd(180, ".") });
  const batch = (from: number, n: number): RecordBatch => ({
    kind: MessageKind.Records,
    values: Array.from({ length: n }, (_, i) => record(from + i)),
    timestamps: null,
    routedKeys: null,
  });
  // The first batch (about 2 KB) shows how big a record is; the second (about 400 KB) is cut.
  const batches = [batch(0, 10), batch(10, 2000)];
  const frames: number[] = [];
  const values: unknown[] = [];
  const writes = (async () => {
    for (const b of batches) await writer.write(b);
  })();
  while (values.length < 2010) {
    const msg = reader.take();
    if (msg === undefined) {
      await reader.waitForMessage();
      continue;
    }
    assert.ok(msg.kind === MessageKind.Records);
    frames.push(msg.values.length);
    values.push(...msg.values);
  }
  await writes;
  assert.deepEqual(
    values,
    [...batches[0]!.values, ...batches[1]!.values],
    "every record, in order",
  );
  assert.equal(frames[0], 10);
  const perFrame = frames[1]!;
  assert.ok(frames.length > 8, `${frames.length} frames`);
  // Each part is the size the first batch gave (the last one is what remains).
  assert.ok(frames.slice(1, -1).every((n) => n === perFrame), `frames: ${frames}`);
  assert.ok(perFrame * 200 <= capacity / 2 * 1.1, `${perFrame} records a frame`);
});

Deno.test("ring channel: a record bigger than the ring crosses in pieces, in order with what comes before and after", async () => {
  const ring = createRing(4096);
  const writer = new RingChannelWriter(ring, Serializers.plain, "source -> count");
  const reader = new RingChannelReader(ring, Serializers.plain);
  const big = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(33 + (i % 90))).join("")
    .repeat(4); // 12,000 chars: three rings' worth
  const batches: RecordBatch[] = [
    {
      kind: MessageKind.Records,
      values: ["before"],
      timestamps: null,
      routedKeys: null,
    },
    {
      kind: MessageKind.Records,
      values: [{ big, n: 1 }],
      timestamps: [7],
      routedKeys: null,
    },
    {
      kind: MessageKind.Records,
      values: ["after"],
      timestamps: null,
      routedKeys: null,
    },
  ];
  const writing = (async () => {
    for (const b of batches) await writer.write(b);
    await writer.write(END_OF_INPUT);
  })();
  const got: ChannelMessage[] = [];
  let takes = 0;
  while (got.at(-1) !== END_OF_INPUT) {
    const msg = reader.take();
    takes++;
    if (msg) got.push(msg);
    else await reader.waitForMessage();
  }
  await writing;
  assert.deepEqual(got, [...batches, END_OF_INPUT]);
  assert.ok(takes > got.length, "the reader waited for pieces");
  assert.ok(writer.bytesOut > 12_000);
});
