import assert from "node:assert/strict";
import { Serializers } from "../core/state/serializer.ts";
import { RingChannelReader } from "../core/runtime/ring_channel.ts";
import { createRing } from "../core/runtime/shared_ring.ts";
import { type ChannelMessage, MessageKind } from "../core/runtime/messages.ts";

Deno.test("ring channel: records, watermarks and a barrier cross a worker in order, with backpressure", async () => {
  const ring = createRing(8192);
  const worker = new Worker(new URL("./_helpers/ring_producer_worker.ts", import.meta.url).href, {
    type: "module",
  });
  let sent = 0;
  const done = new Promise<void>((resolve, reject) => {
    worker.onerror = (e) => reject(e.error ?? new Error(e.message));
    worker.onmessage = (e: MessageEvent<{ sent: number; done?: boolean }>) => {
      sent = e.data.sent;
      if (e.data.done) resolve();
    };
  });
  const count = 200_000;
  const started = performance.now();
  worker.postMessage({ ring, count, batch: 100 });
  try {
    const reader = new RingChannelReader(ring, Serializers.plain);
    // The reader does not read yet: once started, the producer must stall with the ring full.
    const deadline = Date.now() + 30_000;
    while (sent === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    const stalledAt = sent;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(sent, stalledAt, "no progress while the reader reads nothing");
    assert.ok(stalledAt > 0 && stalledAt < 2000, `an 8 KiB ring holds few records (${stalledAt})`);
    let next = 0, watermark = -1, barrierAt = -1, ended = false;
    while (!ended) {
      const msg: ChannelMessage | undefined = reader.take();
      if (msg === undefined) {
        await reader.waitForMessage();
        continue;
      }
      switch (msg.kind) {
        case MessageKind.Records: {
          // The send time, on this thread's clock: after the start, not after now.
          const sentAt = msg.sentAt;
          assert.ok(
            sentAt !== undefined && sentAt >= started && sentAt <= performance.now(),
            `a batch's send time ${sentAt} is between the start ${started} and now`,
          );
          for (const v of msg.values as { user: string; seq: number }[]) {
            assert.equal(v.seq, next, "records arrive once each, in order");
            assert.equal(v.user, `user-${next % 1000}`);
            next++;
          }
          break;
        }
        case MessageKind.Watermark:
          assert.equal(msg.timestamp, next, "a watermark follows the records before it");
          watermark = msg.timestamp;
          break;
        case MessageKind.Barrier:
          barrierAt = next;
          break;
        case MessageKind.EndOfInput:
          ended = true;
          break;
        default:
          assert.fail(`unexpected message kind ${msg.kind}`);
      }
    }
    assert.equal(next, count);
    assert.equal(watermark, count);
    assert.equal(barrierAt, count / 2, "the barrier sits between the halves");
    await done;
  } finally {
    worker.terminate();
  }
});
