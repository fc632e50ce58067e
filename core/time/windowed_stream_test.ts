import assert from "node:assert/strict";
import {
  CollectSink,
  ConfigError,
  DeltaTrigger,
  EventTimeSessionWindows,
  GlobalWindows,
  JobFailedError,
  StreamEnvironment,
  TimeEvictor,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from "../../mod.ts";

type Visit = [string, number, number]; // key, event time, count

const byTime = WatermarkStrategy.forGenerator<Visit>(() => ({
  onEvent: (_v, ts, out) => out.emitWatermark(ts - 1),
  onPeriodicEmit() {},
})).withTimestampAssigner((v) => v[1]);

Deno.test("windowed sum: Flink's SessionWindowing example gives Flink's output", async () => {
  const env = StreamEnvironment.create({ executor: "inline" });
  const out = new CollectSink<Visit>();
  env.fromCollection<Visit>([
    ["a", 1, 1],
    ["b", 1, 1],
    ["b", 3, 1],
    ["b", 5, 1],
    ["c", 6, 1],
    ["a", 10, 1],
    ["c", 11, 1],
  ]).assignTimestampsAndWatermarks(byTime)
    .keyBy((v) => v[0])
    .window(EventTimeSessionWindows.withGap<Visit>(3))
    .sum(2)
    .addSink(out);
  await env.execute();
  assert.deepEqual(out.values, [["a", 1, 1], ["b", 1, 3], ["c", 6, 1], ["a", 10, 1], [
    "c",
    11,
    1,
  ]]);
});

Deno.test("windowed sum on count windows with a slide: Flink's WindowWordCount", async () => {
  const env = StreamEnvironment.create({ executor: "inline" });
  const out = new CollectSink<[string, number]>();
  env.fromElements("a b a c a a b a", "a a")
    .flatMap<[string, number]>((line: string, o) => {
      for (const w of line.split(" ")) o.collect([w, 1]);
    })
    .keyBy((p) => p[0])
    .countWindow(4, 2)
    .sum(1)
    .addSink(out);
  await env.execute();
  // Every second word of a key fires the key's last four: a has 7, b 2, c 1.
  assert.deepEqual(out.values, [["a", 2], ["a", 4], ["b", 2], ["a", 4]]);
});

Deno.test("windowed maxBy with a delta trigger and a time evictor: Flink's TopSpeedWindowing", async () => {
  type Car = { id: number; speed: number; distance: number; ts: number };
  const speeds = [50, 60, 55, 70, 65, 65, 65];
  let distance = 0;
  const cars = speeds.map((speed, i): Car => ({
    id: 0,
    speed,
    distance: distance += 30,
    ts: i * 1000,
  }));
  const env = StreamEnvironment.create({ executor: "inline" });
  const out = new CollectSink<Car>();
  env.fromCollection(cars)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forMonotonousTimestamps<Car>().withTimestampAssigner((c) => c.ts),
    )
    .keyBy((c) => c.id)
    .window(GlobalWindows.create<Car>())
    .evictor(TimeEvictor.of(2000))
    .trigger(DeltaTrigger.of(50, (a: Car, b: Car) => b.distance - a.distance))
    .maxBy("speed")
    .addSink(out);
  await env.execute();
  // Fires at 90 m, 150 m and 210 m (each more than 50 m past the last firing), each time with the
  // top speed of the last 2 s: at 6 s the 65 of 5 s, the first of equal ones.
  assert.deepEqual(out.values.map((c) => [c.ts, c.speed]), [[1000, 60], [3000, 70], [5000, 65]]);
});

Deno.test("windowed min, max, minBy (latest on ties) and windowAll aggregations", async () => {
  type R = { k: string; v: number; tag: string; ts: number };
  const rows: R[] = [
    { k: "x", v: 3, tag: "p", ts: 1 },
    { k: "x", v: 1, tag: "q", ts: 2 },
    { k: "x", v: 1, tag: "r", ts: 3 },
    { k: "x", v: 5, tag: "s", ts: 4 },
  ];
  const env = StreamEnvironment.create({ executor: "inline" });
  const timed = env.fromCollection(rows).assignTimestampsAndWatermarks(
    WatermarkStrategy.forMonotonousTimestamps<R>().withTimestampAssigner((r) => r.ts),
  );
  const tumble = () => TumblingEventTimeWindows.of<R>(10);
  const min = new CollectSink<R>(), max = new CollectSink<R>(), minBy = new CollectSink<R>();
  const all = new CollectSink<R>();
  timed.keyBy((r) => r.k).window(tumble()).min("v").addSink(min);
  timed.keyBy((r) => r.k).window(tumble()).max("v").addSink(max);
  timed.keyBy((r) => r.k).window(tumble()).minBy("v", false).addSink(minBy);
  timed.windowAll(tumble()).sum("v").addSink(all);
  await env.execute();
  assert.deepEqual(min.values, [{ k: "x", v: 1, tag: "p", ts: 1 }]);
  assert.deepEqual(max.values, [{ k: "x", v: 5, tag: "p", ts: 1 }]);
  assert.deepEqual(minBy.values.map((r) => r.tag), ["r"]);
  assert.deepEqual(all.values.map((r) => r.v), [10]);
});

Deno.test("windowed sum of a field that is not a number fails the job, a window of one record too", async () => {
  for (const rows of [[{ n: "1" }], [{ n: 1 }, { n: "2" }]]) {
    const env = StreamEnvironment.create({ executor: "inline" });
    env.fromCollection<{ n: number | string }>(rows).keyBy(() => 0).countWindow(rows.length)
      .sum("n").addSink(new CollectSink());
    await assert.rejects(
      env.execute(),
      (e) =>
        e instanceof JobFailedError && e.cause instanceof ConfigError &&
        /^sum\("n"\): a record's field "n" is a string/.test(e.cause.message),
    );
  }
});

Deno.test("GlobalWindows.createWithEndOfStreamTrigger fires each key's window once, at end of input", async () => {
  const env = StreamEnvironment.create({ executor: "inline" });
  const out = new CollectSink<[string, number]>();
  env.fromElements<[string, number]>(["a", 1], ["b", 2], ["a", 3], ["a", 5])
    .keyBy((t) => t[0])
    .window(GlobalWindows.createWithEndOfStreamTrigger<[string, number]>())
    .sum(1)
    .addSink(out);
  await env.execute();
  assert.deepEqual(out.values, [["a", 9], ["b", 2]]);
  assert.deepEqual(GlobalWindows.create().defaultTrigger().constructor.name, "NeverTrigger");
});
