import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import {
  JobTestDriver,
  KeyedProcessFunctionHarness,
  ManualClock,
  OperatorHarness,
  TestSource,
} from "../testing/mod.ts";
import {
  type OperatorStateSnapshot,
  OperatorStateStore,
  redistributeOperatorState,
} from "../state/operator_state.ts";
import { ListStateDescriptor } from "../state/descriptors.ts";
import { Serializers } from "../state/serializer.ts";
import { CollectSink } from "../connectors/collect_sink.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { TimestampsAndWatermarksOperator } from "./timestamps_and_watermarks_operator.ts";
import { WatermarkStrategy } from "./watermark_strategy.ts";
import { TumblingEventTimeWindows } from "./window_assigners.ts";

const strategy = WatermarkStrategy.forMonotonousTimestamps<number>()
  .withTimestampAssigner((t) => t)
  .withPerRecordWatermarks();

/** A subtask of the operator, restored from `state` if given. */
function subtask(state?: OperatorStateSnapshot) {
  return OperatorHarness.forOperator(
    new TimestampsAndWatermarksOperator(strategy),
    state ? { operatorState: state } : {},
  );
}

/** Two subtasks that generated watermarks from records up to 1,000 and 50,000, snapshotted. */
async function twoSubtasks(): Promise<OperatorStateSnapshot[]> {
  const snapshots = [];
  for (const last of [1_000, 50_000]) {
    const h = await subtask();
    h.processElement(last, last);
    assert.deepEqual(h.watermarks(), [last - 1]);
    snapshots.push(await h.snapshotOperatorState());
  }
  return snapshots;
}

Deno.test("assignTimestampsAndWatermarks restored: every subtask resumes at the least watermark of all, not its own", async () => {
  // A restored subtask may read what another read before (splits assigned again, a
  // rescale): its own watermark, 49,999, would make that input's records late.
  for (const parallelism of [2, 3]) {
    const restored = redistributeOperatorState(await twoSubtasks(), parallelism);
    for (const [i, state] of restored.entries()) {
      const h = await subtask(state);
      h.processElement(1_200, 1_200);
      assert.deepEqual(
        h.outputWithTimestamps(),
        [{ value: 1_200, timestamp: 1_200 }],
        `subtask ${i} of ${parallelism}`,
      );
      assert.deepEqual(h.watermarks(), [999, 1_199], `subtask ${i} of ${parallelism}`);
    }
  }
});

Deno.test("assignTimestampsAndWatermarks restored from a checkpoint of an earlier version (each subtask's own watermark)", async () => {
  // What an earlier version's snapshot held: split list state, the subtask's own watermark.
  const earlier = (w: number): OperatorStateSnapshot => {
    const store = new OperatorStateStore("harness");
    store.getListState(new ListStateDescriptor("watermark", Serializers.f64)).update([w]);
    return store.snapshot();
  };
  const h = await subtask(earlier(999));
  h.processElement(500, 500);
  assert.deepEqual(h.watermarks(), [999], "a record behind the restored watermark moves nothing");
  const next = await h.snapshotOperatorState(2);
  assert.deepEqual(next.watermark?.items, [], "the earlier version's entry is emptied");
  assert.equal(next.watermarks?.items.length, 1);
  const fresh = await (await subtask()).snapshotOperatorState();
  assert.deepEqual(Object.keys(fresh), ["watermarks"], "a new job writes the new layout only");
  const again = await subtask(next);
  again.processElement(2_000, 2_000);
  assert.deepEqual(again.watermarks(), [999, 1_999]);
});

Deno.test("a timestamp that is NaN or no number, a NaN watermark and a NaN timer are ConfigErrors naming what gave them", async () => {
  type Reading = { at: string };
  const parsed = WatermarkStrategy.forMonotonousTimestamps<Reading>()
    .withTimestampAssigner((r) => Date.parse(r.at))
    .withPerRecordWatermarks();
  const h = await OperatorHarness.forOperator(new TimestampsAndWatermarksOperator(parsed));
  h.processElement({ at: "1970-01-01T00:00:01Z" });
  assert.throws(
    () => h.processElement({ at: "yesterday" }),
    (e: Error) =>
      e instanceof ConfigError &&
      /^The timestamp assigner gave NaN for the record \{"at":"yesterday"\}: .*Date\.parse/.test(
        e.message,
      ),
  );
  // Before the check a NaN timestamp reached the generator and stuck its watermark at NaN.
  assert.deepEqual(h.watermarks(), [999]);
  const text = WatermarkStrategy.forMonotonousTimestamps<string>()
    .withTimestampAssigner((s) => s as unknown as number);
  const t = await OperatorHarness.forOperator(new TimestampsAndWatermarksOperator(text));
  assert.throws(() => t.processElement("15"), /gave string "15" for the record "15"/);

  const nanWatermarks = WatermarkStrategy.forGenerator<number>(() => ({
    onEvent: (_e, _ts, out) => out.emitWatermark(NaN),
    onPeriodicEmit() {},
  })).withTimestampAssigner((n) => n).withWatermarkInterval(0);
  const w = await OperatorHarness.forOperator(new TimestampsAndWatermarksOperator(nanWatermarks));
  assert.throws(() => w.processElement(5), /emitWatermark gave NaN/);

  const timers = await KeyedProcessFunctionHarness.create<string, number, string>({
    processElement(n, ctx) {
      ctx.timerService().registerEventTimeTimer(n);
    },
  }, () => "k");
  timers.processElement(10);
  assert.throws(() => timers.processElement(NaN), /registerEventTimeTimer gave NaN/);
  assert.deepEqual(timers.pendingTimers("event-time").map((p) => p.timestamp), [10]);
});

/** Punctuated at multiples of 10; its periodic watermark (far ahead) shows every periodic call. */
function punctuatedAndPeriodic(calls: { periodic: number }) {
  return WatermarkStrategy.forGenerator<number>(() => ({
    onEvent: (n, ts, out) => n % 10 === 0 && out.emitWatermark(ts),
    onPeriodicEmit: (out) => {
      calls.periodic++;
      out.emitWatermark(1_000_000);
    },
  })).withTimestampAssigner((n) => n).withWatermarkInterval(0);
}

Deno.test("withWatermarkInterval(0) turns periodic emission off (as Flink): punctuated watermarks and the final +Infinity still flow", async () => {
  const calls = { periodic: 0 };
  const h = await OperatorHarness.forOperator(
    new TimestampsAndWatermarksOperator(punctuatedAndPeriodic(calls)),
  );
  h.processElement(5);
  h.processElement(10);
  h.advanceProcessingTime(60_000);
  (h.operator as TimestampsAndWatermarksOperator<number>).onProcessingTick();
  h.processElement(15);
  h.processWatermark(Infinity);
  assert.deepEqual(h.watermarks(), [10, Infinity]);
  assert.equal(calls.periodic, 0, "onPeriodicEmit is never called");

  // In a job: no watermark before end of input, whose +Infinity fires the window.
  const env = StreamEnvironment.create();
  const seen = new CollectSink<string>();
  env.fromElements(1, 2, 3)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n)
        .withWatermarkInterval(0),
    )
    .process<string>({
      processElement: (n, ctx, out) => out.collect(`${n}/${ctx.currentWatermark()}`),
    })
    .windowAll(TumblingEventTimeWindows.of<string>(10))
    .reduce((a, b) => `${a} ${b}`)
    .addSink(seen);
  await env.execute();
  assert.deepEqual(seen.values, ["1/-Infinity 2/-Infinity 3/-Infinity"]);
});

Deno.test("a negative watermark interval is a ConfigError naming it", () => {
  for (const ms of [-1, -200, NaN]) {
    assert.throws(
      () => WatermarkStrategy.forMonotonousTimestamps<number>().withWatermarkInterval(ms),
      (e: Error) => e instanceof ConfigError && e.message.includes(`got ${ms}`),
    );
  }
});

Deno.test("withPerRecordWatermarks: the periodic watermark also right after each record, with the interval", async () => {
  const h = await OperatorHarness.forOperator(new TimestampsAndWatermarksOperator(strategy));
  h.processElement(5);
  h.processElement(3);
  h.processElement(8);
  assert.deepEqual(h.watermarks(), [4, 7]);
  assert.equal(strategy.watermarkIntervalMs, 200, "periodic emission goes on at the interval");
});

Deno.test("withTimestampAssigner of a field name or nothing is a ConfigError when the job is built, not a failure of every record", () => {
  const strategy = WatermarkStrategy.forMonotonousTimestamps<{ ts: number }>();
  assert.throws(
    () => strategy.withTimestampAssigner("ts" as never),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        'withTimestampAssigner takes a function (element, recordTimestamp) => timestamp, got "ts": e.g. (e) => e.ts',
  );
  assert.throws(
    () => strategy.withTimestampAssigner(undefined as never),
    (e) => e instanceof ConfigError && /got undefined$/.test(e.message),
  );
});

Deno.test("assignTimestampsAndWatermarks after a source capped at one subtask (a TestSource) runs at its parallelism, so windows fire before the end of input at job parallelism 2", async () => {
  const env = StreamEnvironment.create({ parallelism: 2, clock: new ManualClock(0) });
  const clicks = new TestSource<string>("clicks");
  const counts = new CollectSink<string>();
  const stamped = env.addSource(clicks)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forBoundedOutOfOrderness<string>(5).withPerRecordWatermarks(),
    );
  stamped.keyBy((user) => user)
    .window(TumblingEventTimeWindows.of<string>(10))
    .process({
      process: (user, ctx, clicks, out) =>
        out.collect(`${user} ${ctx.window.start} ${clicks.length}`),
    })
    .addSink(counts);
  const driver = await JobTestDriver.start(env);
  // At the job's parallelism, the generator subtask that gets no records would hold the
  // watermark back until the end of input.
  assert.deepEqual(
    driver.job.plan.vertices.filter((v) => v.name.includes("Watermarks")).map((v) => v.parallelism),
    [1],
  );
  clicks.pushWithTimestamp("ann", 1);
  clicks.pushWithTimestamp("ann", 8);
  clicks.pushWithTimestamp("bob", 16); // watermark 10: [0, 10) fires
  await driver.settle();
  assert.deepEqual(counts.values, ["ann 0 2"]);
  await driver.close();
  assert.deepEqual(counts.values.toSorted(), ["ann 0 2", "bob 10 1"]);
  // A parallelism set on it still counts.
  const env2 = StreamEnvironment.create({ parallelism: 2, clock: new ManualClock(0) });
  env2.addSource(new TestSource<string>()).assignTimestampsAndWatermarks(
    WatermarkStrategy.forMonotonousTimestamps<string>(),
    { parallelism: 2 },
  ).addSink(new CollectSink());
  const driver2 = await JobTestDriver.start(env2);
  assert.deepEqual(
    driver2.job.plan.vertices.filter((v) => v.name.includes("Watermarks")).map((v) =>
      v.parallelism
    ),
    [2],
  );
  await driver2.close();
});
