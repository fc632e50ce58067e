import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { CountEvictor, TimeEvictor } from "./evictors.ts";
import { StateTtlConfig } from "../state/ttl.ts";
import {
  ContinuousEventTimeTrigger,
  ContinuousProcessingTimeTrigger,
  CountTrigger,
  ProcessingTimeoutTrigger,
} from "./triggers.ts";
import { WatermarkStrategy } from "./watermark_strategy.ts";
import {
  EventTimeSessionWindows,
  ProcessingTimeSessionWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
} from "./window_assigners.ts";

Deno.test("a fractional, NaN or infinite duration is a ConfigError naming the parameter and value, as Flink's whole-ms durations", () => {
  const env = StreamEnvironment.create();
  const keyed = () => env.fromElements(1, 2).keyBy((n) => n % 2);
  const joinWindow = () =>
    env.fromElements(1).join(env.fromElements(2)).where((n) => n).equalTo((n) => n)
      .window(TumblingEventTimeWindows.of(10));
  const ctx = { currentProcessingTime: () => 0 };
  const cases: [string, () => unknown, RegExp][] = [
    ["tumbling size", () => TumblingEventTimeWindows.of(2.5), /Tumbling window size .*2\.5/],
    ["tumbling offset", () => TumblingEventTimeWindows.of(10, 0.5), /Window offset .*0\.5/],
    ["tumbling pt size", () => TumblingProcessingTimeWindows.of(1000.5), /size .*1000\.5/],
    ["sliding size", () => SlidingEventTimeWindows.of(10.5, 5), /Sliding window size .*10\.5/],
    ["sliding slide", () => SlidingEventTimeWindows.of(10, 2.5), /Sliding window slide .*2\.5/],
    ["sliding offset", () => SlidingProcessingTimeWindows.of(10, 5, 1.5), /Window offset .*1\.5/],
    ["session gap", () => EventTimeSessionWindows.withGap(0.5), /Session gap .*0\.5/],
    ["pt session gap", () => ProcessingTimeSessionWindows.withGap(1.5), /Session gap .*1\.5/],
    [
      "dynamic session gap",
      () => EventTimeSessionWindows.withDynamicGap(() => 2.5).assignWindows("x", 0, ctx),
      /Session gap .*2\.5/,
    ],
    [
      "out-of-orderness",
      () => WatermarkStrategy.forBoundedOutOfOrderness(0.5),
      /Out-of-orderness bound .*0\.5/,
    ],
    [
      "out-of-orderness Infinity",
      () => WatermarkStrategy.forBoundedOutOfOrderness(Infinity),
      /Out-of-orderness bound .*Infinity/,
    ],
    [
      "idleness",
      () => WatermarkStrategy.forMonotonousTimestamps().withIdleness(0.5),
      /Idle timeout .*0\.5/,
    ],
    [
      "idleness Infinity",
      () => WatermarkStrategy.forMonotonousTimestamps().withIdleness(Infinity),
      /Idle timeout .*Infinity/,
    ],
    [
      "watermark interval",
      () => WatermarkStrategy.forMonotonousTimestamps().withWatermarkInterval(0.5),
      /Watermark interval .*0\.5/,
    ],
    [
      "alignment drift",
      () => WatermarkStrategy.forMonotonousTimestamps().withWatermarkAlignment("g", 0.5),
      /max drift .*0\.5/,
    ],
    [
      "alignment update interval",
      () => WatermarkStrategy.forMonotonousTimestamps().withWatermarkAlignment("g", 5, 0.5),
      /update interval .*0\.5/,
    ],
    [
      "allowed lateness",
      () => keyed().window(TumblingEventTimeWindows.of(10)).allowedLateness(1.5),
      /Allowed lateness .*1\.5/,
    ],
    [
      "windowAll allowed lateness",
      () => env.fromElements(1).windowAll(TumblingEventTimeWindows.of(10)).allowedLateness(1.5),
      /Allowed lateness .*1\.5/,
    ],
    ["join allowed lateness", () => joinWindow().allowedLateness(0.5), /Allowed lateness .*0\.5/],
    [
      "continuous event-time trigger",
      () => ContinuousEventTimeTrigger.of(2.5),
      /ContinuousEventTimeTrigger interval .*2\.5/,
    ],
    [
      "continuous processing-time trigger",
      () => ContinuousProcessingTimeTrigger.of(2.5),
      /ContinuousProcessingTimeTrigger interval .*2\.5/,
    ],
    ["time evictor", () => TimeEvictor.of(2.5), /TimeEvictor size .*2\.5/],
    [
      "interval join lower bound",
      () => keyed().intervalJoin(keyed()).between(-0.5, 10),
      /Interval join lower bound .*-0\.5/,
    ],
    [
      "interval join upper bound",
      () => keyed().intervalJoin(keyed()).between(0, 1.5),
      /Interval join upper bound .*1\.5/,
    ],
  ];
  for (const [name, make, message] of cases) {
    assert.throws(
      make,
      (e) => e instanceof ConfigError && message.test(e.message),
      `${name}: a ConfigError matching ${message}`,
    );
  }
  // Whole values still go, negative offsets and an endless lateness (Flink's Long.MAX_VALUE) too.
  TumblingEventTimeWindows.of(10, -5);
  SlidingEventTimeWindows.of(10, 3, 2);
  EventTimeSessionWindows.withDynamicGap(() => 7).assignWindows("x", 0, ctx);
  WatermarkStrategy.forBoundedOutOfOrderness(0).withIdleness(1).withWatermarkInterval(0);
  keyed().window(TumblingEventTimeWindows.of(10)).allowedLateness(Infinity);
  keyed().intervalJoin(keyed()).between(-3, 3);
});

Deno.test("a sliding window's offset is bounded by its slide, and the ConfigError names the slide, as Flink's abs(offset) < slide", () => {
  assert.throws(
    () => SlidingEventTimeWindows.of(10, 5, 5),
    (e) =>
      e instanceof ConfigError &&
      e.message === "Window offset must satisfy |offset| < slide, got offset 5, slide 5",
  );
  assert.equal(SlidingEventTimeWindows.of(10, 5, -4).offset, -4);
  assert.throws(
    () => TumblingEventTimeWindows.of(10, -10),
    (e) =>
      e instanceof ConfigError &&
      e.message === "Window offset must satisfy |offset| < size, got offset -10, size 10",
  );
});

Deno.test("withDynamicGap given no function (Flink's extractor object with extract, a fixed gap) is a ConfigError saying what to write, not a TypeError at the first element", () => {
  const cases: [unknown, RegExp][] = [
    [{ extract: () => 5 }, /got \{\}: Flink's SessionWindowTimeGapExtractor is the function here/],
    [5_000, /got 5000: a fixed gap is withGap\(ms\)/],
    [undefined, /withDynamicGap takes a function \(element\) => gap in ms, got undefined$/],
  ];
  for (const [extractor, message] of cases) {
    for (const make of [EventTimeSessionWindows, ProcessingTimeSessionWindows]) {
      assert.throws(
        () => make.withDynamicGap(extractor as (e: unknown) => number),
        (e) => e instanceof ConfigError && message.test(e.message),
        `${make.name}.withDynamicGap(${String(extractor)})`,
      );
    }
  }
});

Deno.test('a duration given as a string ("10" from an argument) is a ConfigError that shows it quoted, not "must be > 0 ms, got 10"', () => {
  const ten = "10" as unknown as number;
  const cases: [() => unknown, string][] = [
    [() => TumblingEventTimeWindows.of(ten), 'Tumbling window size must be > 0 ms, got "10"'],
    [() => SlidingEventTimeWindows.of(20, ten), 'Sliding window slide must be > 0 ms, got "10"'],
    [() => EventTimeSessionWindows.withGap(ten), 'Session gap must be > 0 ms, got "10"'],
    [
      () =>
        EventTimeSessionWindows.withDynamicGap(() => ten).assignWindows("x", 0, {
          currentProcessingTime: () => 0,
        }),
      'Session gap must be > 0 ms, got "10"',
    ],
    [
      () => WatermarkStrategy.forBoundedOutOfOrderness(ten),
      'Out-of-orderness bound must be a whole number of ms, got "10"',
    ],
    [
      () => TumblingEventTimeWindows.of(20, ten),
      'Window offset must be a whole number of ms, got "10"',
    ],
  ];
  for (const [make, message] of cases) {
    assert.throws(make, (e) => e instanceof ConfigError && e.message === message, message);
  }
});

Deno.test("a trigger interval or timeout, a state TTL or an interval join bound given as a string is a ConfigError that shows it quoted, as the window durations", () => {
  const ten = "10" as unknown as number;
  const keyed = () => StreamEnvironment.create().fromElements(1).keyBy((n: number) => n);
  const cases: [() => unknown, string][] = [
    [
      () => ContinuousEventTimeTrigger.of(ten),
      'ContinuousEventTimeTrigger needs an interval > 0 ms, got "10"',
    ],
    [
      () => ContinuousProcessingTimeTrigger.of(ten),
      'ContinuousProcessingTimeTrigger needs an interval > 0 ms, got "10"',
    ],
    [
      () => ProcessingTimeoutTrigger.of(CountTrigger.of(2), ten),
      'ProcessingTimeoutTrigger needs a timeout >= 0 ms, got "10"',
    ],
    [
      () => StateTtlConfig.newBuilder(ten).build(),
      'State TTL must be a positive whole number of ms, got "10"',
    ],
    [
      () => keyed().intervalJoin(keyed()).between(ten, 20),
      'Interval join bounds must be finite ms with lower <= upper, got ["10", 20]',
    ],
  ];
  for (const [make, message] of cases) {
    assert.throws(make, (e) => e instanceof ConfigError && e.message === message, message);
  }
});

Deno.test('a CountTrigger or CountEvictor count given as a string ("2" from an argument) is a ConfigError that shows it quoted, not "got 2"', () => {
  const two = "2" as unknown as number;
  const cases: [() => unknown, string][] = [
    [() => CountTrigger.of(two), 'CountTrigger needs a count >= 1, got "2"'],
    [() => CountEvictor.of(two), 'CountEvictor needs a count >= 0, got "2"'],
  ];
  for (const [make, message] of cases) {
    assert.throws(make, (e) => e instanceof ConfigError && e.message === message, message);
  }
});
