import assert from "node:assert/strict";
import { BarrierAligner } from "./barrier_aligner.ts";
import { type BarrierMessage, MessageKind } from "./messages.ts";

const barrier = (checkpointId: number, aligned = true): BarrierMessage => ({
  kind: MessageKind.Barrier,
  checkpointId,
  options: { savepoint: false, aligned },
});

function aligner(channels: number) {
  const blocked = new Array<boolean>(channels).fill(false);
  const events: (["aligned", number, number] | ["subsumed", number, number])[] = [];
  let clock = 0;
  const a = new BarrierAligner(blocked, {
    aligned: (b, ms) => events.push(["aligned", b.checkpointId, ms]),
    subsumed: (id, by) => events.push(["subsumed", id, by]),
  }, () => clock);
  return { a, blocked, events, advance: (ms: number) => (clock += ms) };
}

Deno.test("barrier aligner: exactly-once blocks each channel at its barrier until all delivered it", () => {
  const { a, blocked, events, advance } = aligner(3);
  a.onBarrier(1, barrier(4));
  assert.deepEqual(blocked, [false, true, false]);
  assert.equal(a.aligning, 4);
  advance(5);
  a.onBarrier(0, barrier(4));
  a.onBarrier(0, barrier(4)); // a repeat counts once
  assert.deepEqual(blocked, [true, true, false]);
  assert.deepEqual(events, []);
  advance(7);
  a.onBarrier(2, barrier(4));
  assert.deepEqual(events, [["aligned", 4, 12]]);
  assert.deepEqual(blocked, [false, false, false]);
  assert.equal(a.aligning, undefined);
});

Deno.test("barrier aligner: a single channel aligns at once", () => {
  const { a, events } = aligner(1);
  a.onBarrier(0, barrier(1));
  assert.deepEqual(events, [["aligned", 1, 0]]);
});

Deno.test("barrier aligner: at-least-once blocks no channel and snapshots at the last barrier", () => {
  const { a, blocked, events } = aligner(2);
  a.onBarrier(0, barrier(2, false));
  assert.deepEqual(blocked, [false, false]);
  a.onBarrier(1, barrier(2, false));
  assert.deepEqual(events, [["aligned", 2, 0]]);
});

Deno.test("barrier aligner: a barrier of checkpoint n+1 overtaking on one channel subsumes n, which then aligns no more", () => {
  const { a, blocked, events } = aligner(2);
  // At-least-once: channel 0 is not blocked, so its barrier 6 overtakes channel 1's barrier 5.
  a.onBarrier(0, barrier(5, false));
  a.onBarrier(0, barrier(6, false));
  assert.deepEqual(events, [["subsumed", 5, 6]]);
  assert.equal(a.aligning, 6);
  // Checkpoint 5's late barrier on channel 1 is ignored; 6 completes with channel 1's.
  a.onBarrier(1, barrier(5, false));
  assert.deepEqual(events, [["subsumed", 5, 6]]);
  a.onBarrier(1, barrier(6, false));
  assert.deepEqual(events, [["subsumed", 5, 6], ["aligned", 6, 0]]);
  assert.deepEqual(blocked, [false, false]);
});

Deno.test("barrier aligner: an overtaking barrier unblocks the subsumed checkpoint's channels and blocks its own", () => {
  const { a, blocked, events } = aligner(3);
  a.onBarrier(0, barrier(1));
  a.onBarrier(1, barrier(1));
  assert.deepEqual(blocked, [true, true, false]);
  // Channel 2 delivers a newer barrier first (its barrier 1 was lost to a restarted producer).
  a.onBarrier(2, barrier(2));
  assert.deepEqual(events, [["subsumed", 1, 2]]);
  assert.deepEqual(blocked, [false, false, true]);
  a.onBarrier(0, barrier(2));
  a.onBarrier(1, barrier(2));
  assert.deepEqual(events, [["subsumed", 1, 2], ["aligned", 2, 0]]);
});

Deno.test("barrier aligner: barriers of a completed checkpoint are ignored", () => {
  const { a, blocked, events } = aligner(2);
  a.onBarrier(0, barrier(3));
  a.onBarrier(1, barrier(3));
  a.onBarrier(0, barrier(3));
  a.onBarrier(1, barrier(2));
  assert.deepEqual(events, [["aligned", 3, 0]]);
  assert.deepEqual(blocked, [false, false]);
  assert.equal(a.aligning, undefined);
});

Deno.test("barrier aligner: end of input on the channel an alignment waits for completes it", () => {
  const { a, blocked, events } = aligner(3);
  a.onBarrier(0, barrier(7));
  a.onBarrier(1, barrier(7));
  a.onEnd(2);
  assert.deepEqual(events, [["aligned", 7, 0]]);
  // The ended channel stays blocked (nothing more to read); the others are read again.
  assert.deepEqual(blocked, [false, false, true]);
  // Later checkpoints align over the remaining channels.
  a.onBarrier(0, barrier(8));
  a.onBarrier(1, barrier(8));
  assert.deepEqual(events, [["aligned", 7, 0], ["aligned", 8, 0]]);
});

Deno.test("barrier aligner: a channel that delivered the barrier and then ends still counts", () => {
  const { a, blocked, events } = aligner(2);
  a.onBarrier(0, barrier(1, false));
  a.onEnd(0);
  a.onEnd(0); // a repeated end changes nothing
  assert.deepEqual(events, []);
  assert.deepEqual(blocked, [true, false]);
  a.onBarrier(1, barrier(1, false));
  assert.deepEqual(events, [["aligned", 1, 0]]);
  assert.deepEqual(blocked, [true, false]);
});
