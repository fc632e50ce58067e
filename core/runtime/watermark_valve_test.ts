import assert from "node:assert/strict";
import { WatermarkValve } from "./watermark_valve.ts";

function valve(channels: number) {
  const events: (["wm", number] | ["idle", boolean])[] = [];
  const v = new WatermarkValve(channels, {
    emitWatermark: (t) => events.push(["wm", t]),
    emitStatus: (idle) => events.push(["idle", idle]),
  });
  return { v, events };
}

Deno.test("watermark valve: the combined watermark is the minimum over the channels and never goes back", () => {
  const { v, events } = valve(3);
  v.onWatermark(0, 10);
  v.onWatermark(1, 20);
  assert.deepEqual(events, []); // channel 2 has none yet
  v.onWatermark(2, 5);
  assert.deepEqual(events, [["wm", 5]]);
  v.onWatermark(2, 30);
  assert.deepEqual(events, [["wm", 5], ["wm", 10]]);
  v.onWatermark(0, 7); // backwards on one channel: the combined one stays
  assert.equal(v.watermark, 10);
  assert.equal(events.length, 2);
});

Deno.test("watermark valve: an idle channel does not hold the watermark back", () => {
  const { v, events } = valve(2);
  v.onWatermark(0, 100);
  v.onStatus(1, true);
  assert.deepEqual(events, [["wm", 100]]);
  assert.ok(v.isIdle(1));
  // Only when every channel is idle is the task idle downstream.
  v.onStatus(0, true);
  assert.deepEqual(events, [["wm", 100], ["idle", true]]);
});

Deno.test("watermark valve: every channel idle moves event time to the highest watermark", () => {
  const { v, events } = valve(2);
  v.onWatermark(0, 50);
  v.onWatermark(1, 80);
  assert.deepEqual(events, [["wm", 50]]);
  v.onStatus(1, true);
  v.onStatus(0, true);
  assert.deepEqual(events, [["wm", 50], ["wm", 80], ["idle", true]]);
});

Deno.test("watermark valve: a record or watermark makes an idle channel active; it holds back again without moving the watermark back", () => {
  const { v, events } = valve(2);
  v.onWatermark(0, 10);
  v.onStatus(1, true);
  v.onStatus(0, true);
  v.onWatermark(0, 100);
  // The watermark on channel 0 made it active: the task is no longer idle.
  assert.deepEqual(events, [["wm", 10], ["idle", true], ["idle", false], ["wm", 100]]);
  events.length = 0;
  v.onRecord(1);
  assert.ok(!v.isIdle(1));
  // Channel 1 (watermark -∞) holds back again: nothing until it passes 100.
  v.onWatermark(0, 200);
  v.onWatermark(1, 90);
  assert.deepEqual(events, []);
  v.onWatermark(1, 150);
  assert.deepEqual(events, [["wm", 150]]);
  assert.equal(v.watermark, 150);
});

Deno.test("watermark valve: an active status on an active channel and a repeated idle status change nothing", () => {
  const { v, events } = valve(1);
  v.onStatus(0, false);
  v.onStatus(0, true);
  v.onStatus(0, true);
  assert.deepEqual(events, [["idle", true]]);
  v.onStatus(0, false);
  v.onStatus(0, false);
  assert.deepEqual(events, [["idle", true], ["idle", false]]);
});

Deno.test("watermark valve: an ended channel holds nothing back and is no longer idle", () => {
  const { v, events } = valve(3);
  v.onWatermark(0, 40);
  v.onWatermark(1, 60);
  v.onStatus(2, true);
  assert.deepEqual(events, [["wm", 40]]);
  v.onEnd(0, false);
  assert.deepEqual(events, [["wm", 40], ["wm", 60]]);
  assert.ok(!v.isIdle(0));
  // The last channel's end leaves the final watermark to the task's finish.
  v.onEnd(1, false);
  v.onEnd(2, true);
  assert.ok(!v.isIdle(2));
});
