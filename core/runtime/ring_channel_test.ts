import assert from "node:assert/strict";
import { Serializers } from "../state/serializer.ts";
import { type ChannelMessage, MessageKind, type RecordBatch } from "./messages.ts";
import { RingChannelReader, RingChannelWriter } from "./ring_channel.ts";
import { createRing } from "./shared_ring.ts";

Deno.test("ring channel: a batch too big for one frame crosses as halves, each record with its timestamp and key group", async () => {
  const ring = createRing(4096);
  const writer = new RingChannelWriter(ring, Serializers.plain, "source -> count");
  const reader = new RingChannelReader(ring, Serializers.plain);
  const n = 300;
  const batch: RecordBatch = {
    kind: MessageKind.Records,
    values: Array.from({ length: n }, (_, i) => `record ${i} `.repeat(3)),
    timestamps: Array.from({ length: n }, (_, i) => (i % 5 === 0 ? undefined : i * 10)),
    keyGroups: Uint16Array.from({ length: n }, (_, i) => (i * 37) % 128),
  };
  const got: ChannelMessage[] = [];
  const written = writer.write(batch);
  // The reader frees space as the halves arrive.
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
  assert.deepEqual(records.flatMap((m) => [...m.keyGroups!]), [...batch.keyGroups!]);
});
