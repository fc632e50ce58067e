import assert from "node:assert/strict";
import { Channel, InputGate } from "./channel.ts";
import { ManualClock } from "./clock.ts";
import { END_OF_INPUT, MessageKind, type RecordBatch } from "./messages.ts";

const batch = (...values: unknown[]): RecordBatch => ({
  kind: MessageKind.Records,
  values,
  timestamps: null,
  routedKeys: null,
});

Deno.test("Channel: counts buffered records and releases a waiting writer when space frees", async () => {
  const c = new Channel(3);
  new InputGate([c], [0]);
  assert.ok(c.hasSpace());
  c.push(batch(1, 2));
  assert.ok(c.hasSpace());
  c.push(batch(3, 4)); // may cross the line by one batch
  assert.equal(c.buffered, 4);
  assert.ok(!c.hasSpace());
  let released = false;
  const wait = c.waitForSpace().then(() => (released = true));
  await Promise.resolve();
  assert.equal(released, false);
  assert.deepEqual((c.take() as RecordBatch).values, [1, 2]);
  await wait;
  assert.equal(released, true);
  assert.equal(c.buffered, 2);
  c.push(END_OF_INPUT);
  assert.equal(c.buffered, 2, "control messages are not records");
  assert.equal(c.recordsIn, 4);
});

Deno.test("Channel: close drops messages and releases the writer", async () => {
  const c = new Channel(1);
  c.push(batch(1, 2));
  const wait = c.waitForSpace();
  c.close();
  await wait;
  assert.ok(c.hasSpace());
  assert.equal(c.hasMessage(), false);
  c.push(batch(3));
  assert.equal(c.hasMessage(), false, "a closed channel ignores pushes");
});

Deno.test("InputGate: polls round-robin, skips blocked channels, wakes on a message", async () => {
  const a = new Channel(100), b = new Channel(100);
  const gate = new InputGate([a, b], [0, 1]);
  a.push(batch("a1"));
  a.push(batch("a2"));
  b.push(batch("b1"));
  const order: string[] = [];
  for (let m = gate.poll(); m; m = gate.poll()) {
    order.push(`${(m as RecordBatch).values[0]}@${gate.inputOf[gate.lastChannel]}`);
  }
  assert.deepEqual(order, ["a1@0", "b1@1", "a2@0"]);
  gate.blocked[0] = true;
  a.push(batch("a3"));
  assert.equal(gate.poll(), undefined, "a blocked channel is not polled");
  let woke = false;
  const w = gate.waitForMessage().then(() => (woke = true));
  await Promise.resolve();
  assert.equal(woke, false);
  b.push(batch("b2"));
  await w;
  assert.equal((gate.poll() as RecordBatch).values[0], "b2");
  // Many messages: the queue compacts without losing order.
  gate.blocked[0] = false;
  assert.equal((gate.poll() as RecordBatch).values[0], "a3");
  for (let i = 0; i < 5000; i++) a.push(batch(i));
  for (let i = 0; i < 5000; i++) assert.equal((gate.poll() as RecordBatch).values[0], i);
});

Deno.test("ManualClock: runs due callbacks in time order, cancels, never goes back", () => {
  const clock = new ManualClock(10);
  const fired: string[] = [];
  clock.schedule(30, () => fired.push("30"));
  clock.schedule(20, () => {
    fired.push("20");
    clock.schedule(25, () => fired.push("25 (scheduled while firing)"));
  });
  const cancel = clock.schedule(22, () => fired.push("22"));
  cancel();
  clock.schedule(5, () => fired.push("past"));
  clock.advance(0);
  assert.deepEqual(fired, ["past"]);
  clock.set(30);
  assert.deepEqual(fired, ["past", "20", "25 (scheduled while firing)", "30"]);
  assert.equal(clock.pendingCount(), 0);
  assert.throws(() => clock.set(29), RangeError);
});
