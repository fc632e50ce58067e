import assert from "node:assert/strict";
import { SplitWatermarks, WatermarkAlignmentGroup } from "./split_watermarks.ts";
import { WatermarkedSource } from "./_watermarked_source.ts";
import type { PollStatus, Source, SourceReader } from "./source.ts";
import { CollectSink } from "./collect_sink.ts";
import { WatermarkStrategy } from "../time/watermark_strategy.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { ConfigError } from "../errors.ts";
import { ManualClock } from "../runtime/clock.ts";
import { TumblingEventTimeWindows } from "../time/window_assigners.ts";

/** Timestamps are the numbers themselves; a watermark after every record. */
const perRecord = () =>
  WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n)
    .withWatermarkInterval(0);

Deno.test("SplitWatermarks: the watermark is the minimum over splits, and never goes back", () => {
  const w = new SplitWatermarks(perRecord(), () => 0);
  assert.equal(w.watermark, -Infinity);
  w.addSplit("a");
  w.addSplit("b");
  w.onRecord("a", 1000, undefined);
  assert.equal(w.watermark, -Infinity, "split b has emitted nothing yet");
  w.onRecord("b", 10, undefined);
  assert.equal(w.watermark, 9);
  w.onRecord("b", 500, undefined);
  assert.equal(w.watermark, 499);
  w.onRecord("b", 2000, undefined);
  assert.equal(w.watermark, 999, "now a is the slowest");
  w.addSplit("c"); // a new split at -∞ does not take the watermark back
  assert.equal(w.watermark, 999);
  w.onRecord("c", 5000, undefined);
  w.onRecord("a", 3000, undefined);
  assert.equal(w.watermark, 1999);
  assert.deepEqual([...w.activeSplits()], [["a", 2999], ["b", 1999], ["c", 4999]]);
});

Deno.test("SplitWatermarks: a released split no longer holds the watermark; all released is idle", () => {
  const w = new SplitWatermarks(perRecord(), () => 0);
  w.onRecord("a", 100, undefined);
  w.onRecord("b", 5000, undefined);
  assert.equal(w.watermark, 99);
  w.release("a");
  assert.equal(w.watermark, 4999);
  assert.equal(w.idle, false);
  w.release("b");
  assert.equal(w.idle, true);
  assert.equal(w.watermark, 4999);
});

Deno.test("SplitWatermarks: a split silent for the idleness timeout (manual clock) stops holding the watermark, until it has records again", () => {
  let now = 0;
  const w = new SplitWatermarks(perRecord().withIdleness(1_000), () => now);
  w.onRecord("slow", 10, undefined);
  w.onRecord("fast", 100, undefined);
  now = 999;
  w.onRecord("fast", 200, undefined);
  w.tick();
  assert.equal(w.watermark, 9, "not idle before the timeout");
  now = 1_000;
  w.onRecord("fast", 300, undefined);
  w.tick();
  assert.equal(w.watermark, 299, "slow was silent for 1000 ms");
  assert.deepEqual([...w.activeSplits().keys()], ["fast"]);
  w.onRecord("slow", 250, undefined);
  assert.equal(w.watermark, 299, "never back");
  w.onRecord("fast", 900, undefined);
  assert.equal(w.watermark, 299, "slow holds it again");
  w.onRecord("slow", 600, undefined);
  assert.equal(w.watermark, 599);
  now = 5_000;
  w.tick();
  assert.equal(w.idle, true, "every split idle: the reader is idle");
  assert.equal(w.watermark, 599);
});

Deno.test("SplitWatermarks: periodic generators emit only when the interval is due on the clock", () => {
  let now = 0;
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<number>(10)
    .withTimestampAssigner((n) => n).withWatermarkInterval(200);
  const w = new SplitWatermarks(strategy, () => now);
  w.onRecord("a", 1000, undefined);
  w.tick();
  assert.equal(w.watermark, -Infinity);
  now = 199;
  w.tick();
  assert.equal(w.watermark, -Infinity);
  now = 200;
  w.tick();
  assert.equal(w.watermark, 989);
});

Deno.test("WatermarkAlignmentGroup: the highest allowed watermark is the lowest member's plus the drift; idle and gone members do not count", () => {
  const g = new WatermarkAlignmentGroup(100);
  assert.equal(g.maxAllowedWatermark(), Infinity);
  g.report("a/0", 1_000);
  g.report("b/0", 400);
  assert.equal(g.maxAllowedWatermark(), 500);
  g.report("b/0", Infinity);
  assert.equal(g.maxAllowedWatermark(), 1_100);
  g.report("b/0", 700);
  g.leave("a/0");
  assert.equal(g.maxAllowedWatermark(), 800);
});

Deno.test("withWatermarkAlignment checks its arguments", () => {
  const s = WatermarkStrategy.forMonotonousTimestamps<number>();
  assert.throws(() => s.withWatermarkAlignment("", 10), ConfigError);
  assert.throws(() => s.withWatermarkAlignment("g", -1), /max drift/);
  assert.throws(() => s.withWatermarkAlignment("g", 10, 0), /update interval/);
});

/** Counts up from `from` by `step`, one record per poll (a split "s"), forever. */
function counter(name: string, from: number, step: number): Source<number> {
  return {
    name,
    createReader(): SourceReader<number> {
      let next = from;
      return {
        poll(out) {
          (out.forSplit?.("s") ?? out).collect(next);
          next += step;
          return "more";
        },
        position: () => next,
        restore(p) {
          next = p as number;
        },
      };
    },
  };
}

Deno.test("Watermark alignment: a reader ahead of its group by more than the drift reads nothing until the group catches up (manual clock)", () => {
  let now = 0;
  const groups = new Map<string, WatermarkAlignmentGroup>();
  const strategy = perRecord().withWatermarkAlignment("g", 100, 10);
  const ctx = { subtaskIndex: 0, parallelism: 1, now: () => now };
  const fast = new WatermarkedSource(counter("fast", 0, 50), strategy, new Map(), groups, "fast")
    .createReader(ctx);
  const slow = new WatermarkedSource(counter("slow", 0, 10), strategy, new Map(), groups, "slow")
    .createReader(ctx);
  const got = { fast: [] as number[], slow: [] as number[] };
  const poll = (r: SourceReader<number>, into: number[]) =>
    r.poll({ collect: (v) => void into.push(v) }, 1) as PollStatus;
  // Both report at their first poll (watermarks -∞): no limit is known yet beyond -∞ + drift.
  poll(fast, got.fast);
  poll(slow, got.slow);
  // Within one update interval the limit stays: fast reads on.
  for (let i = 0; i < 5; i++) assert.equal(poll(fast, got.fast), "more");
  assert.deepEqual(got.fast, [0, 50, 100, 150, 200, 250]);
  now = 10; // reports are due: fast is at 249, slow at -1; the limit is 99
  poll(slow, got.slow);
  assert.equal(poll(fast, got.fast), "idle", "fast is paused");
  assert.equal(got.fast.length, 6);
  // Every interval both report; fast reads only while it is within the drift of slow's report.
  let resumed = 0;
  for (let step = 0; step < 40; step++) {
    now += 10;
    const slowReport = got.slow.at(-1)! - 1;
    for (let i = 0; i < 5; i++) poll(slow, got.slow);
    const fastWatermark = got.fast.at(-1)! - 1;
    const before = got.fast.length;
    poll(fast, got.fast);
    if (got.fast.length > before) {
      resumed++;
      assert.ok(
        fastWatermark - slowReport <= 100,
        `fast at ${fastWatermark}, slow at ${slowReport}`,
      );
    }
  }
  assert.ok(resumed > 0, "fast reads again once slow caught up");
  assert.ok(got.fast.at(-1)! - got.slow.at(-1)! <= 100 + 50, "fast never ran far ahead");
});

Deno.test("env.fromSource: records are stamped and the watermark downstream follows the slowest split", async () => {
  const records: [string, number][] = [["a", 1000], ["b", 10], ["a", 2000], ["b", 20], ["a", 3000]];
  const source: Source<number> = {
    name: "two-splits",
    maxParallelism: 1,
    createReader() {
      let next = 0;
      return {
        poll(out) {
          if (next === 0) ["a", "b"].forEach((s) => out.forSplit?.(s));
          const r = records[next++];
          if (!r) return "end";
          (out.forSplit?.(r[0]) ?? out).collect(r[1]);
          return "more";
        },
        position: () => next,
        restore(p) {
          next = p as number;
        },
      };
    },
  };
  const env = StreamEnvironment.create();
  const seen = new CollectSink<string>();
  env.fromSource(source, perRecord(), "two splits")
    .process<string>({
      processElement: (n, ctx, out) =>
        out.collect(`${n}@${ctx.timestamp()}/${ctx.currentWatermark()}`),
    })
    .addSink(seen);
  await env.execute();
  // Each record sees the watermark emitted after the polls before it: split b holds it back.
  assert.deepEqual(seen.values, [
    "1000@1000/-Infinity",
    "10@10/-Infinity",
    "2000@2000/9",
    "20@20/9",
    "3000@3000/19",
  ]);
});

Deno.test("env.fromSource: a split idle for the timeout on the job's clock lets event time advance downstream (windows fire)", async () => {
  const clock = new ManualClock(0);
  const queue: [string, number][] = [];
  let closed = false;
  // A live source of two splits, fed by the test.
  const source: Source<number> = {
    name: "live-splits",
    maxParallelism: 1,
    createReader() {
      return {
        poll(out) {
          if (queue.length === 0) return closed ? "end" : "idle";
          for (const [split, n] of queue.splice(0)) out.forSplit!(split).collect(n);
          return "more";
        },
        position: () => 0,
        restore() {},
      };
    },
  };
  const env = StreamEnvironment.create({ clock });
  const windows = new CollectSink<number>();
  env.fromSource(source, perRecord().withIdleness(1_000), "live")
    .keyBy(() => "all")
    .window(TumblingEventTimeWindows.of<number>(100))
    .reduce((a, b) => a + b)
    .addSink(windows);
  const client = env.executeAsync("idle split");
  queue.push(["a", 50], ["b", 60]);
  await until(() => queue.length === 0 && windows.values.length === 0);
  queue.push(["a", 150], ["a", 250]);
  await until(() => queue.length === 0);
  // Split b holds event time at 59: no window may fire however long we wait in real time.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(windows.values, []);
  clock.advance(1_000); // b has been silent for the idleness timeout; a has a record now
  queue.push(["a", 260]);
  await until(() => windows.values.length === 2);
  assert.deepEqual(windows.values, [110, 150]); // [0, 100) and [100, 200)
  closed = true;
  await client.done;
  assert.deepEqual(windows.values, [110, 150, 510]);
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 3_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), "timed out");
}
