import assert from "node:assert/strict";
import {
  ConfigError,
  CountEvictor,
  EventTimeSessionWindows,
  EventTimeTrigger,
  OutputTag,
  type ProcessWindowFunction,
  PurgingTrigger,
  Serializers,
  SlidingEventTimeWindows,
  type TimeWindow,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  type WindowFunction,
} from "../../mod.ts";
import { type KeyedHarnessOptions, type OutputElement, WindowHarness } from "./mod.ts";

// Ported from Flink's WindowOperatorTest: (key, count) tuples keyed by the key.
type E = [string, number];
const byKey = (e: E) => e[0];
const sum = (a: E, b: E): E => [a[0], a[1] + b[1]];

/** Flink's RichSumReducer as a WindowFunction: sums a window's elements. */
const sumAll: WindowFunction<E, E, string, TimeWindow> = (key, _w, input, out) =>
  out.collect([key, input.reduce((n, e) => n + e[1], 0)]);

/** Flink's SessionWindowFunction: "key-sum" with the session's start and end. */
const session: ProcessWindowFunction<E, [string, number, number], string, TimeWindow> = {
  process(key, ctx, input, out) {
    const n = input.reduce((s, e) => s + e[1], 0);
    out.collect([`${key}-${n}`, ctx.window.start, ctx.window.end]);
  },
};

/** Flink's ReducedSessionWindowFunction: the same from a reduced value. */
const reducedSession: ProcessWindowFunction<E, [string, number, number], string, TimeWindow> = {
  process(key, ctx, [e], out) {
    out.collect([`${key}-${e![1]}`, ctx.window.start, ctx.window.end]);
  },
};

/** Flink's assertOutputEqualsSorted: records sorted by timestamp then value between watermarks. */
function sorted<T>(elements: OutputElement<T>[]): OutputElement<T>[] {
  const out: OutputElement<T>[] = [];
  let run: { value: T; timestamp: number | undefined }[] = [];
  const flush = () => {
    run.sort((a, b) =>
      (a.timestamp! - b.timestamp!) ||
      JSON.stringify(a.value).localeCompare(JSON.stringify(b.value))
    );
    out.push(...run);
    run = [];
  };
  for (const e of elements) {
    if ("watermark" in e) {
      flush();
      out.push(e);
    } else run.push(e);
  }
  flush();
  return out;
}

for (const fn of ["reduce", "apply"] as const) {
  const create = (options?: KeyedHarnessOptions<string>) =>
    fn === "reduce"
      ? WindowHarness.create({
        keySelector: byKey,
        assigner: TumblingEventTimeWindows.of<E>(3_000),
        reduce: sum,
      }, options)
      : WindowHarness.create({
        keySelector: byKey,
        assigner: TumblingEventTimeWindows.of<E>(3_000),
        process: sumAll,
      }, options);

  Deno.test(`window harness (${fn}): Flink's testTumblingEventTimeWindows, through a snapshot and restore`, async () => {
    let h = await create();
    // Out of order.
    h.processElement(["key2", 1], 3_999);
    h.processElement(["key2", 1], 3_000);
    h.processElement(["key1", 1], 20);
    h.processElement(["key1", 1], 0);
    h.processElement(["key1", 1], 999);
    h.processElement(["key2", 1], 1_998);
    h.processElement(["key2", 1], 1_999);
    h.processElement(["key2", 1], 1_000);
    h.processWatermark(999);
    h.processWatermark(1_999);
    assert.deepEqual(h.outputWithWatermarks(), [{ watermark: 999 }, { watermark: 1_999 }]);
    const snapshot = await h.snapshot();
    await h.close();

    h = await create({ restore: snapshot });
    h.processWatermark(2_999);
    assert.deepEqual(sorted(h.outputWithWatermarks()), [
      { value: ["key1", 3], timestamp: 2_999 },
      { value: ["key2", 3], timestamp: 2_999 },
      { watermark: 2_999 },
    ]);
    h.clearOutput();
    for (const w of [3_999, 4_999, 5_999, 6_999, 7_999]) h.processWatermark(w);
    assert.deepEqual(h.outputWithWatermarks(), [
      { watermark: 3_999 },
      { watermark: 4_999 },
      { value: ["key2", 2], timestamp: 5_999 },
      { watermark: 5_999 },
      { watermark: 6_999 },
      { watermark: 7_999 },
    ]);
    await h.close();
  });
}

Deno.test("window harness: Flink's testSlidingEventTimeWindowsReduce (3 s windows sliding by 1 s)", async () => {
  const h = await WindowHarness.create({
    keySelector: byKey,
    assigner: SlidingEventTimeWindows.of<E>(3_000, 1_000),
    reduce: sum,
  });
  for (const ts of [3_999, 3_000]) h.processElement(["key2", 1], ts);
  for (const ts of [20, 0, 999]) h.processElement(["key1", 1], ts);
  for (const ts of [1_998, 1_999, 1_000]) h.processElement(["key2", 1], ts);
  for (const w of [999, 1_999, 2_999, 3_999, 4_999, 5_999, 6_999]) h.processWatermark(w);
  assert.deepEqual(sorted(h.outputWithWatermarks()), [
    { value: ["key1", 3], timestamp: 999 },
    { watermark: 999 },
    { value: ["key1", 3], timestamp: 1_999 },
    { value: ["key2", 3], timestamp: 1_999 },
    { watermark: 1_999 },
    { value: ["key1", 3], timestamp: 2_999 },
    { value: ["key2", 3], timestamp: 2_999 },
    { watermark: 2_999 },
    { value: ["key2", 5], timestamp: 3_999 },
    { watermark: 3_999 },
    { value: ["key2", 2], timestamp: 4_999 },
    { watermark: 4_999 },
    { value: ["key2", 2], timestamp: 5_999 },
    { watermark: 5_999 },
    { watermark: 6_999 },
  ]);
  await h.close();
});

Deno.test("window harness: Flink's testSessionWindows (3 s gap), sessions merging across a restore", async () => {
  const create = (options?: KeyedHarnessOptions<string>) =>
    WindowHarness.create({
      keySelector: byKey,
      assigner: EventTimeSessionWindows.withGap<E>(3_000),
      process: session,
    }, options);
  let h = await create();
  h.processElement(["key2", 1], 0);
  h.processElement(["key2", 2], 1_000);
  h.processElement(["key2", 3], 2_500);
  h.processElement(["key1", 1], 10);
  h.processElement(["key1", 2], 1_000);
  const snapshot = await h.snapshot();
  assert.deepEqual(h.outputWithWatermarks(), []);
  await h.close();

  h = await create({ restore: snapshot });
  h.processElement(["key1", 3], 2_500);
  h.processElement(["key2", 4], 5_501);
  h.processElement(["key2", 5], 6_000);
  h.processElement(["key2", 5], 6_000);
  h.processElement(["key2", 6], 6_050);
  h.processWatermark(12_000);
  h.processElement(["key2", 10], 15_000);
  h.processElement(["key2", 20], 15_000);
  h.processWatermark(17_999);
  assert.deepEqual(sorted(h.outputWithWatermarks()), [
    { value: ["key1-6", 10, 5_500], timestamp: 5_499 },
    { value: ["key2-6", 0, 5_500], timestamp: 5_499 },
    { value: ["key2-20", 5_501, 9_050], timestamp: 9_049 },
    { watermark: 12_000 },
    { value: ["key2-30", 15_000, 18_000], timestamp: 17_999 },
    { watermark: 17_999 },
  ]);
  await h.close();
});

Deno.test("window harness: Flink's testDropDueToLatenessTumbling, with the late element on the side output", async () => {
  const late = new OutputTag<E>("late-output");
  const h = await WindowHarness.create({
    keySelector: byKey,
    assigner: TumblingEventTimeWindows.of<E>(2_000),
    reduce: sum,
    lateDataTag: late,
  });
  h.processElement(["key2", 1], 1_000);
  h.processWatermark(1_985);
  // Not late: the window's end (1999) is after the watermark.
  h.processElement(["key2", 1], 1_980);
  h.processWatermark(1_999);
  h.processElement(["key2", 1], 1_998); // late: dropped to the side output
  h.processElement(["key2", 1], 2_001);
  h.processWatermark(2_999);
  h.processWatermark(3_999);
  assert.deepEqual(h.outputWithWatermarks(), [
    { watermark: 1_985 },
    { value: ["key2", 2], timestamp: 1_999 },
    { watermark: 1_999 },
    { watermark: 2_999 },
    { value: ["key2", 1], timestamp: 3_999 },
    { watermark: 3_999 },
  ]);
  assert.deepEqual(h.sideOutputWithTimestamps(late), [{ value: ["key2", 1], timestamp: 1_998 }]);
  await h.close();
});

Deno.test("window harness: Flink's testDropDueToLatenessSessionZeroLatenessPurgingTrigger", async () => {
  const h = await WindowHarness.create({
    keySelector: byKey,
    assigner: EventTimeSessionWindows.withGap<E>(3_000),
    trigger: PurgingTrigger.of(EventTimeTrigger.create<E>()),
    reduce: sum,
    process: reducedSession,
  });
  h.processElement(["key2", 1], 1_000);
  h.processWatermark(1_999);
  h.processElement(["key2", 1], 2_000);
  h.processWatermark(4_998);
  // Not dropped: the session it joins ends after the watermark.
  h.processElement(["key2", 1], 4_500);
  h.processElement(["key2", 1], 8_500); // a new session
  h.processWatermark(7_400);
  h.processElement(["key2", 1], 7_000); // merges the two sessions into one
  h.processWatermark(11_501);
  h.processElement(["key2", 1], 11_600); // a new session
  h.processWatermark(14_600);
  h.processElement(["key2", 1], 10_000); // late, dropped
  h.processElement(["key2", 1], 10_100); // late too (not merged with the one before)
  h.processElement(["key2", 1], 14_500);
  h.processWatermark(20_000);
  h.processWatermark(100_000);
  assert.deepEqual(h.outputWithWatermarks(), [
    { watermark: 1_999 },
    { watermark: 4_998 },
    { watermark: 7_400 },
    { value: ["key2-5", 1_000, 11_500], timestamp: 11_499 },
    { watermark: 11_501 },
    { value: ["key2-1", 11_600, 14_600], timestamp: 14_599 },
    { watermark: 14_600 },
    { value: ["key2-1", 14_500, 17_500], timestamp: 17_499 },
    { watermark: 20_000 },
    { watermark: 100_000 },
  ]);
  await h.close();
});

Deno.test("window harness: allowed lateness fires a window again per late element, then cleans it up", async () => {
  const h = await WindowHarness.create({
    keySelector: byKey,
    assigner: TumblingEventTimeWindows.of<E>(2_000),
    aggregate: {
      createAccumulator: () => 0,
      add: (e: E, n: number) => n + e[1],
      getResult: (n: number) => n,
    },
    allowedLateness: 500,
    serializer: Serializers.f64,
  });
  h.processElement(["a", 1], 100);
  h.processWatermark(1_999);
  h.processElement(["a", 2], 200); // late but allowed: fires [0, 2000) again, accumulated
  assert.deepEqual(h.output(), [1, 3]);
  assert.deepEqual(h.pendingTimers("event-time").map((t) => t.timestamp), [2_499]);
  h.processWatermark(2_499); // the cleanup timer: the window's state goes
  h.processElement(["a", 4], 300); // now dropped
  assert.deepEqual(h.output(), [1, 3]);
  assert.deepEqual(h.pendingTimers("event-time"), []);
  await h.close();
});

Deno.test("window harness: processing-time windows fire as the harness moves the clock; an evictor trims", async () => {
  const h = await WindowHarness.create({
    keySelector: byKey,
    assigner: TumblingProcessingTimeWindows.of<E>(3_000),
    evictor: CountEvictor.of<E>(2),
    process: sumAll,
  }, { startTime: 0 });
  h.processElement(["key2", 1]);
  h.advanceProcessingTime(1_000);
  h.processElement(["key2", 1]);
  h.processElement(["key2", 1]);
  h.processElement(["key1", 1]);
  h.advanceProcessingTime(1_998);
  assert.deepEqual(h.output(), []);
  h.advanceProcessingTime(1); // 2999: the window [0, 3000) fires
  assert.deepEqual(h.outputWithTimestamps(), [
    { value: ["key2", 2], timestamp: 2_999 },
    { value: ["key1", 1], timestamp: 2_999 },
  ]);
  await h.close();
});

Deno.test("window harness: a spec without a function, with two, or with a misspelt option is a ConfigError", async () => {
  const window = { keySelector: byKey, assigner: TumblingEventTimeWindows.of<E>(10) };
  await assert.rejects(
    () => WindowHarness.create(window as never),
    (e) => e instanceof ConfigError && /give the window's function/.test(e.message),
  );
  await assert.rejects(
    () =>
      WindowHarness.create({
        ...window,
        reduce: sum,
        aggregate: { createAccumulator: () => 0, add: () => 0, getResult: () => 0 },
      } as never),
    (e) => e instanceof ConfigError && /reduce or aggregate, not both/.test(e.message),
  );
  await assert.rejects(
    () => WindowHarness.create({ ...window, reduce: sum, allowedLatenes: 5 } as never),
    (e) =>
      e instanceof ConfigError &&
      /"allowedLatenes" \(did you mean "allowedLateness"\?\)/.test(e.message),
  );
  await assert.rejects(
    () => WindowHarness.create({ ...window, process: 42 } as never),
    (e) => e instanceof ConfigError && /process takes a ProcessWindowFunction/.test(e.message),
  );
});
