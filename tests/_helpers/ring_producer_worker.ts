/**
 * A worker that produces records into a ring channel, for the cross-worker
 * channel test and bench/channel.ts: `count` records in batches of `batch`,
 * a watermark after every batch, a barrier after the first half, then end of
 * input. Record batches carry their send time (`sentAt`), as a task's do. It posts `{ sent }` after every batch so the other side can see it
 * stall when the ring is full.
 *
 * @module
 */
import { Serializers } from "../../core/state/serializer.ts";
import { RingChannelWriter } from "../../core/runtime/ring_channel.ts";
import type { SharedRing } from "../../core/runtime/shared_ring.ts";
import { END_OF_INPUT, MessageKind } from "../../core/runtime/messages.ts";

interface Start {
  readonly ring: SharedRing;
  readonly count: number;
  readonly batch: number;
}

self.onmessage = async (e: MessageEvent<Start>) => {
  const { ring, count, batch } = e.data;
  const writer = new RingChannelWriter(ring, Serializers.plain, "producer -> main");
  let sent = 0;
  let barrierSent = false;
  while (sent < count) {
    const n = Math.min(batch, count - sent);
    const values = new Array<unknown>(n);
    for (let i = 0; i < n; i++) values[i] = { user: `user-${(sent + i) % 1000}`, seq: sent + i };
    // Stamped as a ChannelWriter stamps its batches: the reader sees when it was sent.
    await writer.write({
      kind: MessageKind.Records,
      values,
      timestamps: null,
      routedKeys: null,
      sentAt: performance.now(),
    });
    sent += n;
    await writer.write({ kind: MessageKind.Watermark, timestamp: sent });
    if (!barrierSent && sent >= count / 2) {
      barrierSent = true;
      await writer.write({
        kind: MessageKind.Barrier,
        checkpointId: 1,
        options: { savepoint: false, aligned: true },
      });
    }
    self.postMessage({ sent });
  }
  await writer.write(END_OF_INPUT);
  self.postMessage({ sent, bytes: writer.bytesOut, done: true });
};
