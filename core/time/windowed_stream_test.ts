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
  type TimeWindow,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type WindowFunction,
} from "../../mod.ts";
import type { Collector } from "../dataflow/functions.ts";

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

// Holds every watermark until end of input, so an element between two sessions merges them.
const heldBack = WatermarkStrategy.forGenerator<Visit>(() => ({
  onEvent() {},
  onPeriodicEmit() {},
})).withTimestampAssigner((v) => v[1]);
const visits: Visit[] = [["a", 1, 1], ["b", 2, 1], ["a", 7, 1], ["a", 4, 1], ["a", 20, 1]];

Deno.test("WindowedStream.apply: Flink's WindowFunction gets key, merged session window and its elements", async () => {
  const env = StreamEnvironment.create({ executor: "inline" });
  const fnOut = new CollectSink<string>(), richOut = new CollectSink<string>();
  const keyed = env.fromCollection(visits).assignTimestampsAndWatermarks(heldBack)
    .keyBy((v) => v[0]);
  keyed.window(EventTimeSessionWindows.withGap<Visit>(3))
    .apply((key: string, window: TimeWindow, input: Visit[], out: Collector<string>) =>
      out.collect(`${key} [${window.start},${window.end}) ${input.map((v) => v[1])}`)
    )
    .addSink(fnOut);
  const events: string[] = [];
  // Flink's RichWindowFunction: `this` is the object, open and close run once per subtask.
  const rich: WindowFunction<Visit, string, string, TimeWindow> & { prefix?: string } = {
    open() {
      this.prefix = "rich";
      events.push("open");
    },
    apply(key, window, input, out) {
      out.collect(`${this.prefix} ${key} ${window.end - window.start} ${input.length}`);
    },
    close() {
      events.push("close");
    },
  };
  keyed.window(EventTimeSessionWindows.withGap<Visit>(3)).apply(rich).addSink(richOut);
  await env.execute();
  // a@4 arrives after a@1 and a@7 and joins their sessions into one, [1, 10).
  assert.deepEqual(fnOut.values.sort(), ["a [1,10) 1,7,4", "a [20,23) 20", "b [2,5) 2"]);
  assert.deepEqual(richOut.values.sort(), ["rich a 3 1", "rich a 9 3", "rich b 3 1"]);
  assert.deepEqual(events, ["open", "close"]);
  assert.equal(rich.prefix, undefined, "open sets fields on a per-subtask copy");
});

Deno.test("WindowedStream.reduce and aggregate with Flink's WindowFunction get the one pre-aggregated value", async () => {
  const env = StreamEnvironment.create({ executor: "inline" });
  const reduced = new CollectSink<string>(), aggregated = new CollectSink<string>();
  const keyed = env.fromCollection(visits).assignTimestampsAndWatermarks(heldBack)
    .keyBy((v) => v[0]);
  keyed.window(EventTimeSessionWindows.withGap<Visit>(3))
    .reduce(
      (a, b) => [a[0], Math.max(a[1], b[1]), a[2] + b[2]],
      (key: string, w: TimeWindow, input: Visit[], out: Collector<string>) =>
        out.collect(`${key}@${w.start}: ${JSON.stringify(input)}`),
    )
    .addSink(reduced);
  keyed.window(EventTimeSessionWindows.withGap<Visit>(3))
    .aggregate(
      {
        createAccumulator: () => 0,
        add: (_v: Visit, n: number) => n + 1,
        getResult: (n) => n,
        merge: (a: number, b: number) => a + b,
      },
      {
        apply: (key: string, w: TimeWindow, [n]: number[], out) =>
          out.collect(`${key}@${w.start}=${n}`),
      },
      { uid: "counts" },
    )
    .addSink(aggregated);
  await env.execute();
  assert.deepEqual(reduced.values.sort(), [
    'a@1: [["a",7,3]]',
    'a@20: [["a",20,1]]',
    'b@2: [["b",2,1]]',
  ]);
  assert.deepEqual(aggregated.values.sort(), ["a@1=3", "a@20=1", "b@2=1"]);
});

Deno.test("AllWindowedStream.apply, reduce and aggregate take Flink's AllWindowFunction, on merging sessions too", async () => {
  const env = StreamEnvironment.create({ executor: "inline" });
  const applied = new CollectSink<string>(), reduced = new CollectSink<string>();
  const aggregated = new CollectSink<string>();
  const timed = env.fromCollection(visits).assignTimestampsAndWatermarks(heldBack);
  const sessions = () => timed.windowAll(EventTimeSessionWindows.withGap<Visit>(3));
  sessions().apply((w: TimeWindow, input: Visit[], out: Collector<string>) =>
    out.collect(`[${w.start},${w.end}) ${input.map((v) => v[0] + v[1])}`)
  ).addSink(applied);
  sessions().reduce((a, b) => [a[0] + b[0], 0, a[2] + b[2]], {
    apply(w: TimeWindow, [r]: Visit[], out: Collector<string>) {
      out.collect(`${w.start}: ${r![0]} ${r![2]}`);
    },
  }).addSink(reduced);
  sessions().aggregate(
    {
      createAccumulator: () => 0,
      add: (v: Visit, n: number) => n + v[1],
      getResult: (n) => n,
      merge: (a: number, b: number) => a + b,
    },
    (w: TimeWindow, [sum]: number[], out: Collector<string>) => out.collect(`${w.start}: ${sum}`),
  ).addSink(aggregated);
  await env.execute();
  // b@2 bridges a@1 and a@4 too: one session [1, 10) of four visits, then [20, 23).
  assert.deepEqual(applied.values, ["[1,10) a1,b2,a7,a4", "[20,23) a20"]);
  assert.deepEqual(reduced.values, ["1: abaa 4", "20: a 1"]);
  assert.deepEqual(aggregated.values, ["1: 14", "20: 20"]);
});

Deno.test("apply without a function is a ConfigError when the job is built", () => {
  const env = StreamEnvironment.create({ executor: "inline" });
  const keyed = env.fromElements(1).keyBy(() => 0).countWindow(1);
  assert.throws(
    () => keyed.apply({} as never),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        "window apply needs a function, or an object with apply(), got an object without apply()",
  );
  assert.throws(() => env.fromElements(1).countWindowAll(1).apply(null as never), ConfigError);
});

Deno.test("a window's or all-window's process that returns its records or a promise fails the job, instead of emitting nothing", async () => {
  const cause = (p: Promise<unknown>) =>
    p.then(
      () => "no error",
      (e) => e instanceof JobFailedError && e.cause instanceof ConfigError ? e.cause.message : e,
    );
  const env = () => StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const keyed = await cause(
    env().fromElements(1, 2).keyBy(() => 0).countWindow(2)
      .process({ process: (_k: number, _c: unknown, els: number[]) => [...els] as never })
      .name("W").executeAndCollect(),
  );
  assert.ok(
    typeof keyed === "string" &&
      keyed.startsWith('process of operator "W" returned an array of 2: a process function emits'),
    String(keyed),
  );
  const all = await cause(
    env().fromElements(1, 2).countWindowAll(2)
      .process({ process: (_c: unknown, els: number[]) => [...els] as never })
      .name("A").executeAndCollect(),
  );
  assert.ok(
    typeof all === "string" && all.startsWith('process of operator "A" returned an array of 2'),
    String(all),
  );
  const asyncAll = await cause(
    env().fromElements(1, 2).countWindowAll(2).process({ process: async () => {} })
      .name("A").executeAndCollect(),
  );
  assert.ok(
    typeof asyncAll === "string" &&
      asyncAll.startsWith('process of operator "A" returned a promise'),
    String(asyncAll),
  );
});

Deno.test("a window's or all-window's apply that returns its records fails the job naming apply, not the process it runs in", async () => {
  const env = () => StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const jobs: [() => Promise<unknown>, string][] = [
    [
      () =>
        env().fromElements(1, 2).keyBy(() => 0).countWindow(2)
          .apply(((_k: number, _w: unknown, els: number[]) => els) as never).name("W")
          .executeAndCollect(),
      'apply of operator "W" returned an array of 2',
    ],
    [
      () =>
        env().fromElements(1, 2).countWindowAll(2)
          .apply({ apply: (_w: unknown, els: number[]) => els } as never).name("A")
          .executeAndCollect(),
      'apply of operator "A" returned an array of 2',
    ],
  ];
  for (const [job, message] of jobs) {
    await assert.rejects(
      job(),
      (e) =>
        e instanceof JobFailedError && e.cause instanceof ConfigError &&
        e.cause.message.startsWith(message),
      message,
    );
  }
});

Deno.test('a custom trigger that returns no TriggerResult (a missing return, "fire") fails the job naming it, instead of never firing', async () => {
  const trigger = (onElement: () => unknown) => ({
    onElement,
    onEventTime: () => "CONTINUE" as const,
    onProcessingTime: () => "CONTINUE" as const,
    clear() {},
  });
  const cases: [() => unknown, string][] = [
    [() => {}, "undefined"],
    [() => "fire", 'the string "fire"'],
  ];
  for (const [onElement, what] of cases) {
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    const job = env.fromElements(1, 2).windowAll(GlobalWindows.create())
      .trigger(trigger(onElement) as never).reduce((a, b) => a + b).name("W");
    await assert.rejects(
      job.executeAndCollect(),
      (e) =>
        e instanceof JobFailedError && e.cause instanceof ConfigError &&
        e.cause.message ===
          `Trigger onElement of operator "W" returned ${what}: a trigger returns a TriggerResult, ` +
            `"CONTINUE", "FIRE", "PURGE" or "FIRE_AND_PURGE"`,
      what,
    );
  }
  // Every TriggerResult still works.
  const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const sums = await env.fromElements(1, 2, 3).windowAll(GlobalWindows.create())
    .trigger(trigger(() => "FIRE_AND_PURGE") as never).reduce((a, b) => a + b)
    .executeAndCollect();
  assert.deepEqual(sums, [1, 2, 3]);
});

Deno.test("window reduce and aggregate given undefined for the window function take the options after it, where they were ignored (uid, serializer)", () => {
  const env = StreamEnvironment.create({ executor: "inline" });
  const timed = env.fromCollection(visits).assignTimestampsAndWatermarks(heldBack);
  const count = {
    createAccumulator: () => 0,
    add: (_v: Visit, n: number) => n + 1,
    getResult: (n: number) => n,
    merge: (a: number, b: number) => a + b,
  };
  const sum = (a: Visit, b: Visit): Visit => [a[0], a[1], a[2] + b[2]];
  const keyed = () => timed.keyBy((v) => v[0]).window(EventTimeSessionWindows.withGap<Visit>(3));
  const all = () => timed.windowAll(EventTimeSessionWindows.withGap<Visit>(3));
  // A JavaScript caller (or a typed one passing an optional function) may give undefined there.
  const none = undefined as never;
  const streams = [
    keyed().aggregate(count, none, { uid: "keyed-agg" }),
    keyed().reduce(sum, none, { uid: "keyed-reduce" }),
    all().aggregate(count, none, { uid: "all-agg" }),
    all().reduce(sum, none, { uid: "all-reduce" }),
  ];
  assert.deepEqual(streams.map((s) => s.node.uid), [
    "keyed-agg",
    "keyed-reduce",
    "all-agg",
    "all-reduce",
  ]);
});
