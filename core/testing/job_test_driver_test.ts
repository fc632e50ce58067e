import assert from "node:assert/strict";
import {
  type Collector,
  CollectSink,
  ConfigError,
  JobFailedError,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  OutputTag,
  type RuntimeContext,
  Serializers,
  StateError,
  StreamEnvironment,
  TumblingEventTimeWindows,
  type ValueState,
  ValueStateDescriptor,
  WatermarkStrategy,
} from "../../mod.ts";
import { JobTestDriver, ManualClock, TestSource } from "./mod.ts";

type Click = { user: string; page: string };

/**
 * Counts clicks per user; a processing-time timer 1000 ms after a user's first
 * click in a session reports the count and starts over. An event-time timer at
 * the record's timestamp + 100 reports "late" counts at end of input.
 */
class Sessions implements KeyedProcessFunction<string, Click, string> {
  count!: ValueState<number>;
  subtask = -1;
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
    this.subtask = ctx.subtaskIndex;
  }
  processElement(_c: Click, ctx: KeyedProcessContext<string>) {
    const n = this.count.value()!;
    if (n === 0) {
      ctx.timerService().registerProcessingTimeTimer(ctx.currentProcessingTime() + 1_000);
    }
    this.count.update(n + 1);
    const ts = ctx.timestamp();
    if (ts !== undefined) ctx.timerService().registerEventTimeTimer(ts + 100);
  }
  onTimer(t: number, ctx: OnTimerContext<string>, out: Collector<string>) {
    out.collect(
      `${ctx.timeDomain()} ${ctx.getCurrentKey()}=${this.count.value()} @${t} #${this.subtask}`,
    );
    if (ctx.timeDomain() === "processing-time") this.count.clear();
  }
}

const users = ["ann", "bob", "cid", "dee", "eve", "fay", "gus", "hal"];

function build(parallelism: number) {
  const clock = new ManualClock(0);
  const env = StreamEnvironment.create({ parallelism, clock });
  const clicks = new TestSource<Click>("clicks");
  const out = new CollectSink<string>();
  env.addSource(clicks).keyBy((c) => c.user).process(new Sessions()).uid("sessions").addSink(out);
  return { env, clicks, out, clock };
}

const strip = (lines: string[]) => lines.map((l) => l.replace(/ #\d$/, "")).sort();

Deno.test("job driver: keyed timers through a real job with parallelism 2", async () => {
  const { env, clicks, out } = build(2);
  const driver = await JobTestDriver.start(env);
  assert.equal(driver.job.tasks.length, 3, "source, and two process -> sink subtasks");

  for (const user of users) clicks.push({ user, page: "home" });
  clicks.push({ user: "ann", page: "cart" }, { user: "ann", page: "pay" });
  await driver.settle();
  assert.equal(clicks.pending, 0);
  assert.equal(out.values.length, 0, "no timer is due yet");

  await driver.advanceProcessingTime(999);
  assert.equal(out.values.length, 0);
  await driver.advanceProcessingTime(1);
  assert.deepEqual(
    strip(out.values),
    users.map((u) => `processing-time ${u}=${u === "ann" ? 3 : 1} @1000`).sort(),
  );
  // Keys were spread over both subtasks.
  const subtasks = new Set(out.values.map((l) => l.slice(-1)));
  assert.deepEqual([...subtasks].sort(), ["0", "1"]);

  // A second session, at processing time 1500: timers at 2500.
  out.values.length = 0;
  await driver.advanceProcessingTime(500);
  clicks.push({ user: "bob", page: "home" });
  await driver.settle();
  await driver.setProcessingTime(2_499);
  assert.equal(out.values.length, 0);
  await driver.setProcessingTime(2_500);
  assert.deepEqual(strip(out.values), ["processing-time bob=1 @2500"]);

  const result = await driver.close();
  assert.equal(result.cancelled, false);
  assert.equal(result.recordsIn["sessions"], 11, "every click reached the process subtasks once");
  assert.ok(driver.finished);
});

Deno.test("job driver: record timestamps reach the function; end of input fires event-time timers", async () => {
  const { env, clicks, out } = build(2);
  const driver = await JobTestDriver.start(env, { name: "event time" });
  clicks.pushWithTimestamp({ user: "ann", page: "a" }, 10);
  clicks.pushWithTimestamp({ user: "bob", page: "b" }, 20);
  await driver.settle();
  // No watermark yet: event-time timers wait.
  assert.equal(out.values.length, 0);
  await driver.close();
  assert.deepEqual(strip(out.values), ["event-time ann=1 @110", "event-time bob=1 @120"]);
  assert.deepEqual([...out.timestamps].sort(), [110, 120], "a timer's output has its timestamp");
});

Deno.test("job driver: settles repeatably; outputs are the same on every run", async () => {
  const run = async () => {
    const { env, clicks, out } = build(2);
    const driver = await JobTestDriver.start(env);
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 50; i++) clicks.push({ user: users[(i * 7 + round) % 8]!, page: "p" });
      await driver.settle();
      await driver.advanceProcessingTime(400);
    }
    await driver.close();
    return strip(out.values);
  };
  const first = await run();
  // Sessions start at 0 and 1200 and report at 1000 and 2200; the one from 2400 is still open.
  assert.equal(first.length, 16);
  const counted = first.reduce((sum, l) => sum + Number(/=(\d+)/.exec(l)![1]), 0);
  assert.equal(counted, 6 * 50, "the clicks of rounds 0-5, each counted once");
  assert.deepEqual(await run(), first);
});

Deno.test("job driver: a failing function fails settle with the job's error", async () => {
  const clock = new ManualClock(0);
  const env = StreamEnvironment.create({ parallelism: 2, clock });
  const src = new TestSource<number>();
  env.addSource(src).keyBy((n) => n % 2).map((n) => {
    if (n === 13) throw new Error("unlucky 13");
    return n;
  }).addSink(new CollectSink<number>());
  const driver = await JobTestDriver.start(env);
  src.push(1, 2, 13);
  await assert.rejects(() => driver.settle(), (e: unknown) => {
    assert.ok(e instanceof JobFailedError);
    assert.match(e.message, /unlucky 13/);
    return true;
  });
});

Deno.test("job driver: needs a ManualClock; cancel stops a running job", async () => {
  const env = StreamEnvironment.create();
  env.addSource(new TestSource<number>()).addSink(new CollectSink<number>());
  await assert.rejects(() => JobTestDriver.start(env), ConfigError);

  const { env: env2, clicks } = build(1);
  const driver = await JobTestDriver.start(env2);
  clicks.push({ user: "ann", page: "x" });
  await driver.settle();
  const result = await driver.cancel();
  assert.equal(result.cancelled, true);
});

Deno.test("TestSource: push after end is refused; the position resumes reading", () => {
  const src = new TestSource<number>();
  src.push(1, 2, 3);
  const got: number[] = [];
  const out = { collect: (v: number) => void got.push(v) };
  const reader = src.createReader({ subtaskIndex: 0, parallelism: 1, now: () => 0 });
  assert.equal(reader.poll(out, 2), "more");
  assert.equal(reader.position(), 2);
  assert.equal(reader.poll(out, 2), "idle");
  reader.restore(1);
  assert.equal(src.pending, 2);
  src.end();
  assert.equal(reader.poll(out, 10), "end");
  assert.deepEqual(got, [1, 2, 3, 2, 3]);
  assert.ok(src.drained);
  assert.throws(() => src.push(4), StateError);
});

Deno.test("a NaN time given to the driver or a TestSource is refused where it was given", async () => {
  const env = StreamEnvironment.create({ parallelism: 1, clock: new ManualClock(0) });
  const src = new TestSource<string>();
  const sink = new CollectSink<string>();
  env.addSource(src).addSink(sink);
  const driver = await JobTestDriver.start(env);
  await assert.rejects(() => driver.advanceProcessingTime(NaN), /ManualClock\.set got NaN/);
  assert.equal(driver.processingTime, 0);
  assert.throws(() => src.pushWithTimestamp("a", Date.parse("yesterday")), ConfigError);
  src.pushWithTimestamp("b", 5);
  await driver.close();
  assert.deepEqual(sink.values, ["b"]);
});

/** Counts per user and second of event time, at parallelism 2; late clicks to `late`. */
function windowed(lateness = 0) {
  const env = StreamEnvironment.create({ parallelism: 2, clock: new ManualClock(0) });
  const clicks = new TestSource<string>("clicks");
  const counts = new CollectSink<string>();
  const lateClicks = new CollectSink<string>();
  const late = new OutputTag<string>("late");
  const windows = env.addSource(clicks).keyBy((u) => u)
    .window(TumblingEventTimeWindows.of(1_000))
    .allowedLateness(lateness)
    .sideOutputLateData(late)
    .process<string>({
      process(user, ctx, elements, out) {
        out.collect(`${user}@${ctx.window.start}=${elements.length}`);
      },
    });
  windows.addSink(counts);
  windows.getSideOutput(late).addSink(lateClicks);
  return { env, clicks, counts, lateClicks };
}

Deno.test("TestSource.pushWatermark fires event-time windows on every downstream subtask", async () => {
  const { env, clicks, counts } = windowed();
  const driver = await JobTestDriver.start(env);
  for (const user of users) clicks.pushWithTimestamp(user, 100);
  clicks.pushWithTimestamp("ann", 1_200);
  await driver.settle();
  assert.deepEqual(counts.values, [], "no watermark yet");
  clicks.pushWatermark(998);
  await driver.settle();
  assert.deepEqual(counts.values, [], "the window [0, 1000) ends at 999");
  clicks.pushWatermark(999);
  await driver.settle();
  // Keys on both window subtasks fired: the watermark reached each of them.
  assert.deepEqual(counts.values.toSorted(), users.map((u) => `${u}@0=1`).toSorted());
  counts.values.length = 0;
  await driver.close();
  assert.deepEqual(counts.values, ["ann@1000=1"]);
});

Deno.test("TestSource.pushWatermark fires a keyed process function's event-time timers", async () => {
  const { env, clicks, out } = build(2);
  const driver = await JobTestDriver.start(env);
  clicks.pushWithTimestamp({ user: "ann", page: "a" }, 10); // timer at 110
  clicks.pushWithTimestamp({ user: "bob", page: "b" }, 20); // timer at 120
  clicks.pushWatermark(110);
  await driver.settle();
  assert.deepEqual(strip(out.values), ["event-time ann=1 @110"]);
  clicks.pushWatermark(120);
  await driver.settle();
  assert.deepEqual(strip(out.values), ["event-time ann=1 @110", "event-time bob=1 @120"]);
  await driver.close();
  assert.equal(out.values.length, 2);
});

Deno.test("TestSource.pushWatermark: records pushed after it at or below it are late", async () => {
  const { env, clicks, counts, lateClicks } = windowed();
  const driver = await JobTestDriver.start(env);
  clicks.pushWithTimestamp("ann", 100);
  clicks.pushWatermark(999);
  clicks.pushWithTimestamp("ann", 500); // its window fired: late
  clicks.pushWithTimestamp("bob", 999); // late too
  clicks.pushWithTimestamp("cid", 1_000); // on time
  await driver.settle();
  assert.deepEqual(counts.values, ["ann@0=1"]);
  assert.deepEqual(lateClicks.values.toSorted(), ["ann", "bob"]);
  await driver.close();
  assert.deepEqual(counts.values, ["ann@0=1", "cid@1000=1"]);
});

Deno.test("TestSource.pushWatermark: an assignTimestampsAndWatermarks downstream drops it (as Flink's)", async () => {
  const env = StreamEnvironment.create({ parallelism: 1, clock: new ManualClock(0) });
  const clicks = new TestSource<string>();
  const counts = new CollectSink<string>();
  env.addSource(clicks)
    .assignTimestampsAndWatermarks(WatermarkStrategy.noWatermarks<string>())
    .keyBy((u) => u)
    .window(TumblingEventTimeWindows.of(1_000))
    .process<string>({ process: (u, ctx, _e, out) => out.collect(`${u}@${ctx.window.start}`) })
    .addSink(counts);
  const driver = await JobTestDriver.start(env);
  clicks.pushWithTimestamp("ann", 100);
  clicks.pushWatermark(5_000);
  await driver.settle();
  assert.deepEqual(counts.values, [], "the strategy owns event time downstream of it");
  await driver.close();
  assert.deepEqual(counts.values, ["ann@0"], "end of input passes it");
});

Deno.test("TestSource.pushWatermark refuses NaN, a watermark going back, and one after end", () => {
  const src = new TestSource<number>("s");
  assert.throws(() => src.pushWatermark(NaN), ConfigError);
  assert.throws(() => src.pushWatermark("5" as unknown as number), ConfigError);
  src.pushWatermark(10);
  src.pushWatermark(10);
  assert.throws(() => src.pushWatermark(9), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /TestSource "s": pushWatermark\(9\) goes back from the watermark 10/);
    return true;
  });
  assert.equal(src.pending, 2);
  src.end();
  assert.throws(() => src.pushWatermark(20), StateError);

  // An output that carries no watermarks (a reader under env.fromSource, where the strategy makes
  // them) fails the poll, clearly, rather than dropping the watermark.
  const reader = src.createReader({ subtaskIndex: 0, parallelism: 1, now: () => 0 });
  assert.throws(
    () => reader.poll({ collect() {} }, 10),
    /pushWatermark needs the source added with env\.addSource/,
  );
});

Deno.test("job driver: a TestSource read through env.fromSource is waited for and ended", async () => {
  const env = StreamEnvironment.create({ parallelism: 2, clock: new ManualClock(0) });
  const clicks = new TestSource<string>("clicks");
  const counts = new CollectSink<string>();
  env.fromSource(clicks, WatermarkStrategy.forMonotonousTimestamps<string>(), "clicks")
    .keyBy((u) => u)
    .window(TumblingEventTimeWindows.of(1_000))
    .process<string>({
      process: (u, ctx, e, out) => out.collect(`${u}@${ctx.window.start}=${e.length}`),
    })
    .addSink(counts);
  const driver = await JobTestDriver.start(env);
  clicks.pushWithTimestamp("ann", 100);
  clicks.pushWithTimestamp("bob", 1_500);
  await driver.settle();
  assert.equal(clicks.pending, 0, "settle waited for the source to be read");
  assert.deepEqual(counts.values, []);
  // The strategy's periodic watermark (every 200 ms of processing time) passes 999.
  await driver.advanceProcessingTime(200);
  assert.deepEqual(counts.values, ["ann@0=1"]);
  // A pushed watermark has no place there: the strategy makes them.
  clicks.pushWatermark(5_000);
  await assert.rejects(
    () => driver.settle(),
    /pushWatermark needs the source added with env\.addSource/,
  );

  const env2 = StreamEnvironment.create({ parallelism: 1, clock: new ManualClock(0) });
  const input = new TestSource<number>();
  const out = new CollectSink<number>();
  env2.fromSource(input, WatermarkStrategy.noWatermarks<number>(), "input").addSink(out);
  const driver2 = await JobTestDriver.start(env2);
  input.pushWithTimestamp(1, 1);
  input.pushWithTimestamp(2, 2);
  await driver2.settle();
  assert.deepEqual(out.values, [1, 2]);
  assert.equal(
    (await driver2.close()).cancelled,
    false,
    "close ended the source: the job finished",
  );
});
