import assert from "node:assert/strict";
import { Channel, InputGate } from "./channel.ts";
import {
  type BarrierMessage,
  type ChannelMessage,
  END_OF_INPUT,
  MessageKind,
  type RecordBatch,
} from "./messages.ts";
import { StreamOperator } from "./operator.ts";
import { Task, type TaskHost } from "./task.ts";

class Recorder extends StreamOperator {
  readonly seen: unknown[][] = [];
  processElement(value: unknown): void {
    this.seen.push(["record", value]);
  }
  override processWatermark(timestamp: number): void {
    this.seen.push(["watermark", timestamp]);
  }
}

const barrier = (checkpointId: number, aligned: boolean): BarrierMessage => ({
  kind: MessageKind.Barrier,
  checkpointId,
  options: { savepoint: false, aligned },
});

function send(channel: Channel, ...messages: ChannelMessage[]): void {
  for (const m of messages) channel.push(m);
}

function inputTask(channels: number) {
  const chans = Array.from({ length: channels }, () => new Channel(64));
  const gate = new InputGate(chans, chans.map(() => 0));
  const head = new Recorder();
  const calls: unknown[][] = [];
  const host: TaskHost = {
    cancelled: false,
    stopping: false,
    drain: true,
    snapshotTask: (_t, b, alignmentMs) => {
      calls.push(["snapshot", b.checkpointId]);
      head.seen.push(["snapshot", b.checkpointId]);
      assert.ok(alignmentMs >= 0);
    },
    declineCheckpoint: (_t, id, reason) => calls.push(["decline", id, reason]),
    sourceEnded: () => Promise.resolve(),
  };
  const task = new Task("join (1/1)", [head], [], gate, host);
  return { chans, head, calls, task };
}

Deno.test("task: input watermarks go through the valve; an idle input does not hold them back", async () => {
  const { chans, head, task } = inputTask(2);
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1));
  };
  chans[0]!.push({ kind: MessageKind.Watermark, timestamp: 10 });
  chans[0]!.push({ kind: MessageKind.Watermark, timestamp: 20 });
  const done = task.run();
  await settle();
  assert.deepEqual(head.seen, [], "input 1 has no watermark yet: it holds them back");
  chans[1]!.push({ kind: MessageKind.WatermarkStatus, idle: true });
  await settle();
  assert.deepEqual(head.seen, [["watermark", 20]], "idle, input 1 holds nothing back");
  assert.equal(task.metrics.inputWatermark, 20);
  chans[0]!.push(END_OF_INPUT);
  chans[1]!.push(END_OF_INPUT);
  await done;
});

Deno.test("task: a barrier overtaking an unfinished alignment declines the older checkpoint as subsumed", async () => {
  const { chans, calls, task } = inputTask(2);
  // At-least-once: channel 0 is not blocked after its barrier 1, so its barrier 2 overtakes.
  send(chans[0]!, barrier(1, false), barrier(2, false), END_OF_INPUT);
  const done = task.run();
  // Channel 1 is still empty: the task declines 1 on channel 0's barrier 2 and waits.
  for (let i = 0; i < 200 && calls.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  send(chans[1]!, barrier(1, false), barrier(2, false), END_OF_INPUT);
  await done;
  assert.deepEqual(calls, [
    [
      "decline",
      1,
      "task join (1/1) received barrier 2 before aligning checkpoint 1 (subsumed)",
    ],
    ["snapshot", 2],
  ]);
});

Deno.test("task: exactly-once holds a channel's records after its barrier until the snapshot", async () => {
  const { chans, head, task } = inputTask(2);
  const batch = (v: string): RecordBatch => ({
    kind: MessageKind.Records,
    values: [v],
    timestamps: null,
    routedKeys: null,
  });
  send(chans[0]!, barrier(1, true), batch("after-0"), END_OF_INPUT);
  send(chans[1]!, batch("before-1"), barrier(1, true), END_OF_INPUT);
  await task.run();
  assert.deepEqual(head.seen, [["record", "before-1"], ["snapshot", 1], ["record", "after-0"]]);
});

Deno.test("task: a mail an operator posts while the task waits for it runs at once, in post", async () => {
  const { task } = inputTask(1);
  const ran: string[] = [];
  let results = 0;
  // The task waits until two results are in (an async operator at capacity).
  const waited = task.mailbox.yieldUntil(() => results === 2);
  await Promise.resolve();
  task.mailbox.post(() => {
    results++;
    ran.push("first");
  });
  // No await in between: the result is in before post returns (it refills a slot right away).
  assert.deepEqual(ran, ["first"]);
  // A mail posted by a running mail waits for it, then the task runs it.
  task.mailbox.post(() => {
    task.mailbox.post(() => {
      results++;
      ran.push("nested");
    });
    ran.push("second");
  });
  assert.deepEqual(ran, ["first", "second"]);
  await waited;
  assert.deepEqual(ran, ["first", "second", "nested"]);
  assert.equal(results, 2);
});

Deno.test("task: a mail that throws while the task waits fails the wait with its error", async () => {
  const { task } = inputTask(1);
  const waited = task.mailbox.yieldUntil(() => false);
  await Promise.resolve();
  task.mailbox.post(() => {
    throw new Error("lookup result was malformed");
  });
  await assert.rejects(waited, /lookup result was malformed/);
});
