/**
 * Watermarks through real jobs: a punctuated generator advances event time
 * mid-stream, the watermark downstream of a union is the minimum of its
 * inputs, and an idle input stops holding it back.
 */
import assert from "node:assert/strict";
import {
  type Collector,
  CollectSink,
  HeapStateBackend,
  type KeyedProcessFunction,
  ManualClock,
  type OnTimerContext,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from "../mod.ts";
import { JobTestDriver, TestSource } from "../core/testing/mod.ts";

interface Ev {
  key: string;
  ts: number;
  flush?: boolean;
}

/** Registers an event-time timer at each record's timestamp and reports it when it fires. */
class FireAt implements KeyedProcessFunction<string, Ev, string> {
  processElement(e: Ev, ctx: import("../mod.ts").KeyedProcessContext<string>): void {
    ctx.timerService().registerEventTimeTimer(e.ts);
  }
  onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    out.collect(`${ctx.getCurrentKey()}@${ts} wm=${ctx.currentWatermark()}`);
  }
}

Deno.test("watermarks: a punctuated generator fires event-time timers mid-stream", async () => {
  const env = StreamEnvironment.create({ clock: new ManualClock(0) });
  const src = new TestSource<Ev>();
  const out = new CollectSink<string>();
  const punctuated = WatermarkStrategy.forGenerator<Ev>(() => ({
    onEvent(e, ts, output) {
      if (e.flush) output.emitWatermark(ts);
    },
    onPeriodicEmit() {},
  })).withTimestampAssigner((e) => e.ts);
  env.addSource(src).assignTimestampsAndWatermarks(punctuated)
    .keyBy((e) => e.key).process(new FireAt()).addSink(out);
  const driver = await JobTestDriver.start(env);
  src.push({ key: "a", ts: 10 }, { key: "b", ts: 20 }, { key: "a", ts: 30 });
  await driver.settle();
  assert.deepEqual(out.values, [], "no watermark yet");
  src.push({ key: "x", ts: 25, flush: true });
  await driver.settle();
  assert.deepEqual(
    out.values,
    ["a@10 wm=25", "b@20 wm=25", "x@25 wm=25"],
    "timers up to the punctuation fire, the one at it too",
  );
  await driver.close();
  assert.deepEqual(out.values.slice(3), ["a@30 wm=Infinity"], "the rest fires at end of input");
});

Deno.test("watermarks: a union's watermark is the minimum of its inputs; an idle input stops holding it back", async () => {
  for (const idle of [false, true]) {
    const clock = new ManualClock(0);
    const env = StreamEnvironment.create({ clock });
    const busy = new TestSource<Ev>("busy");
    const quiet = new TestSource<Ev>("quiet");
    const strategy = (s: WatermarkStrategy<Ev>) => (idle ? s.withIdleness(1000) : s);
    const wm = () =>
      strategy(
        WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0)
          .withTimestampAssigner((e) => e.ts)
          .withPerRecordWatermarks(),
      );
    const a = env.addSource(busy).assignTimestampsAndWatermarks(wm());
    const b = env.addSource(quiet).assignTimestampsAndWatermarks(wm());
    const out = new CollectSink<string>();
    a.union(b).keyBy((e) => e.key).process(new FireAt()).addSink(out);
    const driver = await JobTestDriver.start(env);
    quiet.push({ key: "q", ts: 5 });
    busy.push({ key: "a", ts: 10 }, { key: "a", ts: 50 });
    await driver.settle();
    // Busy is at 49, quiet at 4: the minimum holds the timer at 10 back.
    assert.deepEqual(out.values, [], `idle=${idle}: the quiet input holds the watermark`);
    await driver.advanceProcessingTime(2000);
    if (idle) {
      // The quiet input went idle: the watermark jumps to the busy input's 49.
      assert.deepEqual(out.values, ["q@5 wm=49", "a@10 wm=49"], "the idle input is left out");
    } else {
      assert.deepEqual(out.values, [], "without idleness the quiet input still holds it");
    }
    busy.push({ key: "a", ts: 60 });
    await driver.settle();
    if (idle) {
      assert.deepEqual(out.values.slice(2), ["a@50 wm=59"]);
    } else {
      assert.deepEqual(out.values, [], "without idleness the quiet input still holds it");
    }
    await driver.close();
  }
});

Deno.test("watermarks: an input going idle first emits the watermark of the records since the last periodic emit, as Flink's", async () => {
  // Records, then silence past the idle timeout before the next periodic emit (a timeout below
  // the 200 ms interval, or a task that ticked late): the watermark of those records must still
  // go out before the input is marked idle, or their windows wait for the next record.
  for (const [timeoutMs, steps] of [[100, [100, 100, 100, 100]], [1000, [2000]]] as const) {
    const env = StreamEnvironment.create({
      clock: new ManualClock(0),
      stateBackend: new HeapStateBackend(),
    });
    const clicks = new TestSource<Ev>("clicks");
    const out = new CollectSink<string>();
    env.addSource(clicks)
      .assignTimestampsAndWatermarks(
        WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0)
          .withTimestampAssigner((e) => e.ts)
          .withIdleness(timeoutMs),
      )
      .keyBy((e) => e.key)
      .window(TumblingEventTimeWindows.of<Ev>(10))
      .process({
        process(key, ctx, els, o: Collector<string>) {
          o.collect(`${key} [${ctx.window.start}, ${ctx.window.end}) ${els.length}`);
        },
      })
      .addSink(out);
    const driver = await JobTestDriver.start(env);
    clicks.push({ key: "a", ts: 1 }, { key: "a", ts: 2 }, { key: "a", ts: 15 });
    await driver.settle();
    for (const ms of steps) await driver.advanceProcessingTime(ms);
    assert.deepEqual(out.values, ["a [0, 10) 2"], `timeout ${timeoutMs} ms: watermark 14 went out`);
    await driver.close();
    assert.deepEqual(out.values, ["a [0, 10) 2", "a [10, 20) 1"]);
  }
});

Deno.test("watermarks: assignTimestampsAndWatermarks behind a network edge goes idle without input, as after a source", async () => {
  const clock = new ManualClock(0);
  const env = StreamEnvironment.create({ clock, parallelism: 1 });
  const busy = new TestSource<Ev>("busy");
  const quiet = new TestSource<Ev>("quiet");
  const wm = () =>
    WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0)
      .withTimestampAssigner((e) => e.ts)
      .withPerRecordWatermarks()
      .withIdleness(1000);
  const a = env.addSource(busy).assignTimestampsAndWatermarks(wm());
  // rebalance: the generator runs in a task of its own, which no input wakes.
  const b = env.addSource(quiet).rebalance().assignTimestampsAndWatermarks(wm());
  const out = new CollectSink<string>();
  a.union(b).keyBy((e) => e.key).process(new FireAt()).addSink(out);
  const driver = await JobTestDriver.start(env);
  quiet.push({ key: "q", ts: 5 });
  busy.push({ key: "a", ts: 10 }, { key: "a", ts: 50 });
  await driver.settle();
  assert.deepEqual(out.values, [], "the quiet input holds the watermark at 4");
  await driver.advanceProcessingTime(2000);
  assert.deepEqual(out.values, ["q@5 wm=49", "a@10 wm=49"], "the quiet input went idle");
  busy.push({ key: "a", ts: 60 });
  await driver.settle();
  assert.deepEqual(out.values.slice(2), ["a@50 wm=59"]);
  quiet.push({ key: "q", ts: 70 }); // active again: it holds the watermark back from then on
  await driver.settle();
  busy.push({ key: "a", ts: 100 });
  await driver.settle();
  assert.deepEqual(out.values.slice(3), ["a@60 wm=69"]);
  await driver.close();
  // At the end the two sources end in either order (as in Flink): the quiet one first lets the
  // busy one's watermark 99 through before the final one.
  assert.equal(out.values.length, 6, out.values.join());
  assert.match(out.values[4]!, /^q@70 wm=(99|Infinity)$/);
  assert.equal(out.values[5], "a@100 wm=Infinity");
});

Deno.test("an event-time job over fromCollection gives the same windows at parallelism 1 and 2: the collection is read on one subtask, one watermark stream, as Flink's", async () => {
  // Out of order by up to 100 ms; a bound of 50 makes some records late, which ones depends on
  // the order records reach the watermark generator: one reader keeps it, two would not.
  const data = Array.from({ length: 200 }, (_, i) => ({ k: `k${i % 7}`, ts: (i * 37) % 500 }));
  const windows = async (parallelism: number): Promise<string[]> => {
    const env = StreamEnvironment.create({ parallelism, stateBackend: new HeapStateBackend() });
    const counted = await env.fromCollection(data)
      .assignTimestampsAndWatermarks(
        WatermarkStrategy.forBoundedOutOfOrderness<{ k: string; ts: number }>(50)
          .withTimestampAssigner((x) => x.ts).withPerRecordWatermarks(),
      )
      .keyBy((x) => x.k)
      .window(TumblingEventTimeWindows.of(50))
      .aggregate({
        createAccumulator: () => 0,
        add: (_x: unknown, n: number) => n + 1,
        getResult: (n: number) => n,
        merge: (a: number, b: number) => a + b,
      }, {
        process(k: string, ctx, [n], out: Collector<string>) {
          out.collect(`${k} ${ctx.window.start} ${n}`);
        },
      })
      .executeAndCollect({ jobName: `p${parallelism}` });
    return counted.toSorted();
  };
  const one = await windows(1);
  assert.ok(one.length > 0);
  assert.ok(one.reduce((n, w) => n + Number(w.split(" ")[2]), 0) < data.length, "some were late");
  assert.deepEqual(await windows(2), one);
});
