import assert from "node:assert/strict";
import { ConfigError, StateError } from "../errors.ts";
import { OperatorHarness } from "../testing/mod.ts";
import { OutputTag } from "../runtime/output_tag.ts";
import { ValueStateDescriptor } from "../state/descriptors.ts";
import { Serializers } from "../state/serializer.ts";
import type { AggregateFunction } from "../state/state.ts";
import { CountEvictor, DeltaEvictor, TimeEvictor } from "./evictors.ts";
import {
  ContinuousEventTimeTrigger,
  ContinuousProcessingTimeTrigger,
  CountTrigger,
  DeltaTrigger,
  EventTimeTrigger,
  ProcessingTimeoutTrigger,
  PurgingTrigger,
  type Trigger,
} from "./triggers.ts";
import { GlobalWindow, TimeWindow, type Window } from "./window.ts";
import {
  EventTimeSessionWindows,
  GlobalWindows,
  ProcessingTimeSessionWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  type WindowAssigner,
} from "./window_assigners.ts";
import type { ProcessWindowFunction } from "./window_functions.ts";
import {
  type WindowContentsSpec,
  WindowOperator,
  type WindowOperatorSpec,
} from "./window_operator.ts";

type E = [string, number]; // key, value

const sum: WindowContentsSpec<E> = {
  kind: "reduce",
  reduce: (a, b) => [a[0], a[1] + b[1]],
  serializer: Serializers.json as never,
};
const countAgg: AggregateFunction<E, number, number> = {
  createAccumulator: () => 0,
  add: (_e, n) => n + 1,
  getResult: (n) => n,
  merge: (a, b) => a + b,
};
const counting: WindowContentsSpec<E> = {
  kind: "aggregate",
  aggregate: countAgg,
  accumulatorSerializer: Serializers.f64,
};
const list: WindowContentsSpec<E> = { kind: "list", serializer: Serializers.json as never };

/** Emits `key@start-end=values`. */
const describe: ProcessWindowFunction<unknown, string, string, Window> = {
  process(key, ctx, els, out) {
    const w = ctx.window;
    const at = w instanceof TimeWindow ? `${w.start}-${w.end}` : "global";
    const vs = els.map((e) => (Array.isArray(e) ? e[1] : e));
    out.collect(`${key}@${at}=${vs.join(",")}`);
  },
};

async function harness<W extends Window>(
  assigner: WindowAssigner<E, W>,
  contents: WindowContentsSpec<E>,
  extra: Partial<WindowOperatorSpec<E, string, string, W>> = {},
  backend?: "lsm",
) {
  const op = new WindowOperator<E, string, string, W>({
    keySelector: (e) => e[0],
    assigner,
    contents,
    process: describe as ProcessWindowFunction<unknown, string, string, W>,
    ...extra,
  });
  const { LsmStateBackend } = await import("../state/lsm/mod.ts");
  return await OperatorHarness.forOperator(op, {
    keySerializer: Serializers.string,
    ...(backend ? { stateBackend: new LsmStateBackend() } : {}),
  });
}

for (const backend of [undefined, "lsm"] as const) {
  const tag = backend ?? "heap";

  Deno.test(`[${tag}] tumbling event-time: fires at the watermark, results carry the window's max timestamp`, async () => {
    const h = await harness(TumblingEventTimeWindows.of<E>(10), sum, {}, backend);
    h.processElement(["a", 1], 1);
    h.processElement(["a", 2], 9);
    h.processElement(["b", 5], 12);
    h.processElement(["a", 7], -3); // negative timestamps: window [-10, 0)
    h.processWatermark(8);
    assert.deepEqual(h.output(), ["a@-10-0=7"]);
    h.processWatermark(9); // window [0,10) ends at 9
    assert.deepEqual(h.output(), ["a@-10-0=7", "a@0-10=3"]);
    assert.deepEqual(h.outputWithTimestamps().map((r) => r.timestamp), [-1, 9]);
    h.processWatermark(Infinity);
    assert.deepEqual(h.output().slice(2), ["b@10-20=5"]);
    assert.equal(h.pendingTimers("event-time").length, 0, "cleaned up");
    assert.deepEqual(h.keys(new ValueStateDescriptor("window-contents", Serializers.json)), []);
    await h.close();
  });

  Deno.test(`[${tag}] sliding event-time windows: each element in size/slide windows`, async () => {
    const h = await harness(SlidingEventTimeWindows.of<E>(10, 5), counting, {}, backend);
    h.processElement(["a", 0], 3);
    h.processElement(["a", 0], 7);
    h.processElement(["a", 0], 12);
    h.processWatermark(Infinity);
    assert.deepEqual(h.output(), ["a@-5-5=1", "a@0-10=2", "a@5-15=2", "a@10-20=1"]);
    await h.close();
  });

  Deno.test(`[${tag}] late elements: dropped to the side output; allowed lateness fires again and cleans up after`, async () => {
    const late = new OutputTag<E>("late");
    const h = await harness(TumblingEventTimeWindows.of<E>(10), sum, {
      allowedLateness: 5,
      lateDataTag: late,
    }, backend);
    h.processElement(["a", 1], 2);
    h.processWatermark(9);
    assert.deepEqual(h.output(), ["a@0-10=1"]);
    h.processElement(["a", 10], 3); // late but within lateness: a late firing with the update
    assert.deepEqual(h.output(), ["a@0-10=1", "a@0-10=11"]);
    h.processElement(["b", 4], 4); // a new window already due: fires at once
    assert.deepEqual(h.output().slice(2), ["b@0-10=4"]);
    h.processWatermark(14); // cleanup time 9 + 5
    h.processElement(["a", 100], 5); // now late: dropped to the side output
    assert.deepEqual(h.sideOutput(late), [["a", 100]]);
    assert.equal(h.output().length, 3);
    assert.equal(h.pendingTimers("event-time").length, 0);
    await h.close();
  });

  Deno.test(`[${tag}] event-time sessions merge (contents, timers) and fire after the gap`, async () => {
    const h = await harness(EventTimeSessionWindows.withGap<E>(10), list, {}, backend);
    h.processElement(["a", 1], 0);
    h.processElement(["a", 2], 30);
    h.processElement(["a", 3], 15); // bridges [0,10) and [30,40)? no: [15,25) touches neither
    h.processElement(["a", 4], 8); // [8,18) merges [0,10) and [15,25) -> [0,25)
    h.processElement(["b", 9], 5);
    assert.deepEqual(
      h.pendingTimers("event-time").map((t) => `${t.key}:${t.timestamp}`).sort(),
      ["a:24", "a:39", "b:14"],
    );
    h.processWatermark(24);
    assert.deepEqual(h.output().sort(), ["a@0-25=1,3,4", "b@5-15=9"]);
    h.processElement(["a", 5], 38); // extends [30,40) to [30,48)
    h.processWatermark(Infinity);
    assert.deepEqual(h.output().slice(2), ["a@30-48=2,5"]);
    await h.close();
  });

  Deno.test(`[${tag}] a merged session with allowed lateness is cleaned up at its own time (aggregate and reduce)`, async () => {
    for (const contents of [counting, sum] as WindowContentsSpec<E>[]) {
      const h = await harness(EventTimeSessionWindows.withGap<E>(25), contents, {
        allowedLateness: 50,
      }, backend);
      h.processElement(["a", 1], 100);
      h.processWatermark(100);
      h.processElement(["a", 1], 110); // merges into [100,135)
      h.processWatermark(110);
      h.processElement(["b", 1], 200); // the watermark passes 134 + 50: [100,135) is gone
      h.processWatermark(200);
      h.processElement(["a", 1], 130); // within lateness of nothing: a session of its own
      h.processWatermark(Infinity);
      assert.deepEqual(h.output().sort(), ["a@100-135=2", "a@130-155=1", "b@200-225=1"]);
      assert.equal(h.pendingTimers("event-time").length, 0, "every session cleaned up");
      await h.close();
    }
  });

  Deno.test(`[${tag}] merging sessions keep their triggers' state: a count and a next firing time carry into the merged session`, async () => {
    // Flink's order: the trigger merges the old sessions' state before they are cleared.
    const counted = await harness(EventTimeSessionWindows.withGap<E>(10), list, {
      trigger: CountTrigger.of<E>(2),
    }, backend);
    counted.processElement(["a", 1], 0);
    counted.processElement(["a", 2], 5); // merges [0,10) into [0,15): the count is 2
    counted.processElement(["a", 3], 30);
    counted.processElement(["a", 4], 33);
    assert.deepEqual(counted.output(), ["a@0-15=1,2", "a@30-43=3,4"]);
    await counted.close();

    const continuous = await harness(EventTimeSessionWindows.withGap<E>(10), list, {
      trigger: ContinuousEventTimeTrigger.of<E>(4),
    }, backend);
    continuous.processElement(["a", 1], 1);
    continuous.processElement(["a", 2], 6); // merged: the next firing at 4 stays
    continuous.processWatermark(5);
    continuous.processElement(["a", 3], 9);
    continuous.processWatermark(8);
    continuous.processElement(["a", 4], 14);
    continuous.processWatermark(13);
    assert.deepEqual(continuous.output(), ["a@1-16=1,2", "a@1-19=1,2,3", "a@1-24=1,2,3,4"]);
    await continuous.close();
  });

  Deno.test(`[${tag}] dynamic session gaps and aggregate merging`, async () => {
    const h = await harness(
      EventTimeSessionWindows.withDynamicGap<E>((e) => e[1]),
      counting,
      {},
      backend,
    );
    h.processElement(["a", 5], 0); // [0,5)
    h.processElement(["a", 20], 4); // [4,24) merges -> [0,24)
    h.processElement(["a", 1], 30); // [30,31)
    h.processWatermark(Infinity);
    assert.deepEqual(h.output(), ["a@0-24=2", "a@30-31=1"]);
    await h.close();
  });

  Deno.test(`[${tag}] count windows: purging count trigger, and sliding count with an evictor`, async () => {
    const tumbling = await harness(GlobalWindows.create<E>(), counting, {
      trigger: PurgingTrigger.of(CountTrigger.of<E>(2)),
    }, backend);
    for (let i = 0; i < 5; i++) tumbling.processElement(["a", i], i);
    assert.deepEqual(tumbling.output(), ["a@global=2", "a@global=2"]);
    await tumbling.close();
    const sliding = await harness(GlobalWindows.create<E>(), list, {
      trigger: CountTrigger.of<E>(2),
      evictor: CountEvictor.of<E>(3),
    }, backend);
    for (let i = 1; i <= 6; i++) sliding.processElement(["a", i], i);
    assert.deepEqual(sliding.output(), ["a@global=1,2", "a@global=2,3,4", "a@global=4,5,6"]);
    await sliding.close();
  });
}

Deno.test("processing-time tumbling, sliding and session windows fire on the controllable clock", async () => {
  const t = await harness(TumblingProcessingTimeWindows.of<E>(100), sum);
  t.setProcessingTime(50);
  t.processElement(["a", 1]);
  t.processElement(["a", 2]);
  t.setProcessingTime(120);
  t.processElement(["a", 4]);
  t.advanceProcessingTime(10);
  assert.deepEqual(t.output(), ["a@0-100=3"]);
  t.setProcessingTime(199);
  assert.deepEqual(t.output(), ["a@0-100=3", "a@100-200=4"]);
  await t.close();

  const s = await harness(SlidingProcessingTimeWindows.of<E>(20, 10), counting);
  s.setProcessingTime(15);
  s.processElement(["a", 1]);
  s.setProcessingTime(100);
  assert.deepEqual(s.output(), ["a@0-20=1", "a@10-30=1"]);
  await s.close();

  const g = await harness(ProcessingTimeSessionWindows.withGap<E>(10), counting);
  g.processElement(["a", 1]);
  g.setProcessingTime(5);
  g.processElement(["a", 1]); // [5,15) merges with [0,10)
  g.setProcessingTime(12);
  assert.deepEqual(g.output(), []);
  g.setProcessingTime(14);
  assert.deepEqual(g.output(), ["a@0-15=2"]);
  await g.close();
});

Deno.test("a custom trigger fires early on a marker element; a time evictor drops old elements", async () => {
  const early: Trigger<E, TimeWindow> = {
    onElement: (e, ts, w, ctx) =>
      e[1] < 0 ? "FIRE" : EventTimeTrigger.create<E>().onElement(e, ts, w, ctx),
    onEventTime: (time, w) => (time === w.maxTimestamp() ? "FIRE_AND_PURGE" : "CONTINUE"),
    onProcessingTime: () => "CONTINUE",
    clear: (w, ctx) => ctx.deleteEventTimeTimer(w.maxTimestamp()),
  };
  const h = await harness(TumblingEventTimeWindows.of<E>(100), list, {
    trigger: early,
    evictor: TimeEvictor.of<E>(10),
  });
  h.processElement(["a", 1], 1);
  h.processElement(["a", 2], 50);
  h.processElement(["a", -1], 55); // early firing; the evictor keeps ts > 55 - 10
  assert.deepEqual(h.output(), ["a@0-100=2,-1"]);
  h.processWatermark(99);
  assert.deepEqual(h.output(), ["a@0-100=2,-1", "a@0-100=2,-1"]);
  await h.close();
});

Deno.test("process window functions get per-window state (cleared in clear) and global state", async () => {
  const fires = new ValueStateDescriptor<number>("fires", Serializers.f64, 0);
  const total = new ValueStateDescriptor<number>("total", Serializers.f64, 0);
  const fn: ProcessWindowFunction<unknown, string, string, Window> = {
    process(key, ctx, els, out) {
      const f = ctx.windowState().getState(fires);
      f.update(f.value()! + 1);
      const g = ctx.globalState().getState(total);
      g.update(g.value()! + els.length);
      out.collect(`${key}:${f.value()}:${g.value()}`);
    },
    clear(ctx) {
      ctx.windowState().getState(fires).clear();
    },
  };
  const op = new WindowOperator<E, string, string, TimeWindow>({
    keySelector: (e) => e[0],
    assigner: TumblingEventTimeWindows.of<E>(10),
    contents: list,
    process: fn,
    allowedLateness: 10,
  });
  const h = await OperatorHarness.forOperator(op, { keySerializer: Serializers.string });
  h.processElement(["a", 1], 1);
  h.processWatermark(9);
  h.processElement(["a", 1], 2); // late firing of the same window: its state persists
  h.processElement(["a", 1], 12);
  h.processWatermark(Infinity);
  assert.deepEqual(h.output(), ["a:1:1", "a:2:3", "a:1:4"]);
  assert.deepEqual(h.keys(fires), [], "per-window state cleared at cleanup");
  await h.close();
});

Deno.test("one state name as both per-window and global state is a StateError naming it", async () => {
  const count = new ValueStateDescriptor<number>("count", Serializers.f64, 0);
  const op = new WindowOperator<E, string, string, TimeWindow>({
    keySelector: (e) => e[0],
    assigner: TumblingEventTimeWindows.of<E>(10),
    contents: list,
    process: {
      process(_key, ctx, els) {
        const w = ctx.windowState().getState(count);
        w.update(w.value()! + els.length);
        ctx.globalState().getState(count);
      },
    },
  });
  const h = await OperatorHarness.forOperator(op, { keySerializer: Serializers.string });
  h.processElement(["a", 1], 1);
  assert.throws(
    () => h.processWatermark(Infinity),
    (e: Error) =>
      e instanceof StateError && e.message.includes('"count"') &&
      /registered per key and namespace .*; cannot register it again per key:/.test(e.message),
  );
});

Deno.test("per-window state with merging windows is a ConfigError, as in Flink; global state works there", async () => {
  const fires = new ValueStateDescriptor<number>("fires", Serializers.f64, 0);
  const total = new ValueStateDescriptor<number>("total", Serializers.f64, 0);
  const session = (fn: ProcessWindowFunction<unknown, string, string, TimeWindow>) =>
    OperatorHarness.forOperator(
      new WindowOperator<E, string, string, TimeWindow>({
        keySelector: (e) => e[0],
        assigner: EventTimeSessionWindows.withGap<E>(10),
        contents: list,
        process: fn,
      }),
      { keySerializer: Serializers.string },
    );
  const perWindow = await session({
    process(_key, ctx) {
      ctx.windowState().getState(fires);
    },
  });
  perWindow.processElement(["a", 1], 1);
  assert.throws(
    () => perWindow.processWatermark(Infinity),
    (e: Error) =>
      e instanceof ConfigError && /per-window state \(windowState\(\), "fires"\) is not allowed/
        .test(e.message),
  );
  const global = await session({
    process(key, ctx, els, out) {
      const g = ctx.globalState().getState(total);
      g.update(g.value()! + els.length);
      out.collect(`${key}:${g.value()}`);
    },
  });
  global.processElement(["a", 1], 1);
  global.processElement(["a", 1], 5);
  global.processElement(["a", 1], 40);
  global.processWatermark(Infinity);
  assert.deepEqual(global.output(), ["a:2", "a:3"]);
  await global.close();
});

Deno.test("global windows never clean up; the default trigger never fires", async () => {
  const h = await harness(GlobalWindows.create<E>(), sum);
  h.processElement(["a", 1], 1);
  h.processWatermark(Infinity);
  assert.deepEqual(h.output(), []);
  assert.equal(h.pendingTimers("event-time").length, 0);
  assert.ok(GlobalWindow.get().maxTimestamp() === Infinity);
  await h.close();
});

Deno.test("windows fired whole (heap) emit what per-key firing (lsm) emits, tumbling and sliding", async () => {
  const { LsmStateBackend } = await import("../state/lsm/mod.ts");
  const { HeapStateBackend } = await import("../state/heap/mod.ts");
  let seed = 7;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const recs: [E, number][] = [];
  for (let i = 0, t = 0; i < 2_000; i++) {
    t += Math.floor(rand() * 3);
    recs.push([[`k${Math.floor(rand() * 50)}`, 1], t - Math.floor(rand() * 20)]);
  }
  for (
    const assigner of [TumblingEventTimeWindows.of<E>(40), SlidingEventTimeWindows.of<E>(40, 10)]
  ) {
    const runs: string[][] = [];
    for (const stateBackend of [new HeapStateBackend(), new LsmStateBackend()]) {
      const op = new WindowOperator<E, number, string, TimeWindow>({
        keySelector: (e) => e[0],
        assigner,
        contents: {
          kind: "aggregate",
          aggregate: countAgg,
          accumulatorSerializer: Serializers.f64,
        },
      });
      const h = await OperatorHarness.forOperator(op, {
        keySerializer: Serializers.string,
        stateBackend,
      });
      let max = -Infinity;
      for (const [e, ts] of recs) {
        h.processElement(e, ts);
        if (ts > max) h.processWatermark((max = ts) - 10);
      }
      h.processWatermark(Infinity);
      runs.push(h.outputWithTimestamps().map((r) => `${r.timestamp}:${r.value}`));
      assert.equal(h.pendingTimers("event-time").length, 0);
      await h.close();
    }
    // Same results with the same timestamps; within a window the key order may differ.
    assert.deepEqual(runs[0]!.slice().sort(), runs[1]!.slice().sort());
    // Every record counted in each of its windows that was not over yet.
    assert.ok(runs[0]!.length > 100);
  }
});

for (const backend of [undefined, "lsm"] as const) {
  Deno.test(`[${backend ?? "heap"}] continuous event-time trigger: early firings every interval, then the window's end`, async () => {
    const h = await harness(TumblingEventTimeWindows.of<E>(100), list, {
      trigger: ContinuousEventTimeTrigger.of<E>(30),
    }, backend);
    h.processElement(["a", 1], 5);
    h.processElement(["b", 1], 40);
    h.processWatermark(29);
    assert.deepEqual(h.output(), []);
    h.processWatermark(30); // a's first firing time: 0 + 30
    assert.deepEqual(h.output(), ["a@0-100=1"]);
    h.processElement(["a", 2], 50);
    h.processWatermark(60); // a at 60; b's first firing time is also 30 + 30 = 60
    assert.deepEqual(h.output().slice(1).toSorted(), ["a@0-100=1,2", "b@0-100=1"]);
    h.processWatermark(90); // both at 90
    assert.equal(h.output().length, 5);
    h.processWatermark(99); // min(120, 99): the window's end fires each once more, then is gone
    assert.deepEqual(h.output().slice(5).toSorted(), ["a@0-100=1,2", "b@0-100=1"]);
    h.processWatermark(500);
    assert.equal(h.output().length, 7, "no firings after the window's end");
    await h.close();
  });
}

Deno.test("continuous event-time trigger on global windows: the final watermark fires a bounded number of times", async () => {
  // Before, each firing at +Infinity registered the next one interval later, itself due at once:
  // end of input (or a drain) never finished. Count the calls so a regression fails, not hangs.
  const inner = ContinuousEventTimeTrigger.of<E>(10);
  let calls = 0;
  const counted: Trigger<E, GlobalWindow> = {
    onElement: (e, ts, w, ctx) => inner.onElement(e, ts, w, ctx),
    onEventTime(t, w, ctx) {
      if (++calls > 100) throw new Error("the trigger keeps firing at the final watermark");
      return inner.onEventTime(t, w, ctx);
    },
    onProcessingTime: () => "CONTINUE",
    clear: (w, ctx) => inner.clear(w, ctx),
  };
  const h = await harness(GlobalWindows.create<E>(), list, { trigger: counted });
  h.processElement(["a", 1], 1);
  h.processElement(["a", 5], 5);
  h.processWatermark(5);
  h.processElement(["a", 12], 12);
  h.processWatermark(12); // the first firing time, 10
  assert.deepEqual(h.output(), ["a@global=1,5,12"]);
  h.processWatermark(Infinity); // the pending firing (20), then the window's end (+Infinity)
  assert.deepEqual(h.output(), ["a@global=1,5,12", "a@global=1,5,12", "a@global=1,5,12"]);
  await h.close();
});

Deno.test("processing-timeout trigger: fires on the inner trigger or after the timeout, as Flink's", async () => {
  const h = await harness(GlobalWindows.create<E>(), list, {
    trigger: PurgingTrigger.of(ProcessingTimeoutTrigger.of(CountTrigger.of<E>(3), 100)),
  });
  h.setProcessingTime(0);
  h.processElement(["a", 1]);
  h.processElement(["a", 2]);
  h.processElement(["a", 3]); // the count fires; the timeout is deleted
  h.setProcessingTime(50);
  h.processElement(["a", 4]); // a new timeout, at 150
  h.setProcessingTime(149);
  assert.deepEqual(h.output(), ["a@global=1,2,3"]);
  h.setProcessingTime(150);
  assert.deepEqual(h.output(), ["a@global=1,2,3", "a@global=4"]);
  assert.deepEqual(h.pendingTimers("processing-time"), [], "the timeout cleared the trigger");
  h.processElement(["a", 5]);
  h.processElement(["a", 6]);
  h.processElement(["a", 7]); // the count restarted at the timeout: 3 more fire it
  assert.deepEqual(h.output().at(-1), "a@global=5,6,7");
  await h.close();

  // resetTimerOnNewRecord: each element moves the timeout.
  const r = await harness(GlobalWindows.create<E>(), list, {
    trigger: PurgingTrigger.of(ProcessingTimeoutTrigger.of(CountTrigger.of<E>(10), 100, true)),
  });
  r.setProcessingTime(0);
  r.processElement(["a", 1]);
  r.setProcessingTime(80);
  r.processElement(["a", 2]);
  r.setProcessingTime(179);
  assert.deepEqual(r.output(), []);
  r.setProcessingTime(180);
  assert.deepEqual(r.output(), ["a@global=1,2"]);
  await r.close();
  assert.throws(() => ProcessingTimeoutTrigger.of(CountTrigger.of<E>(1), -1), ConfigError);
  assert.throws(() => ProcessingTimeoutTrigger.of(CountTrigger.of<E>(1), 1.5), ConfigError);
});

Deno.test("continuous processing-time trigger fires at aligned intervals up to the window's end", async () => {
  const h = await harness(TumblingProcessingTimeWindows.of<E>(100), counting, {
    trigger: ContinuousProcessingTimeTrigger.of<E>(40),
  });
  h.setProcessingTime(10);
  h.processElement(["a", 1]);
  h.setProcessingTime(39);
  assert.deepEqual(h.output(), []);
  h.setProcessingTime(40);
  assert.deepEqual(h.output(), ["a@0-100=1"]);
  h.processElement(["a", 1]);
  h.setProcessingTime(80);
  assert.deepEqual(h.output(), ["a@0-100=1", "a@0-100=2"]);
  h.setProcessingTime(99); // min(120, 99): the last firing is at the window's end
  assert.deepEqual(h.output(), ["a@0-100=1", "a@0-100=2", "a@0-100=2"]);
  h.setProcessingTime(400);
  assert.equal(h.output().length, 3);
  await h.close();
});

const delta = (a: E, b: E) => Math.abs(b[1] - a[1]);
for (const backend of [undefined, "lsm"] as const) {
  Deno.test(`[${backend ?? "heap"}] delta trigger fires when an element moves past the threshold; delta evictor drops far ones`, async () => {
    const h = await harness(GlobalWindows.create<E>(), list, {
      trigger: DeltaTrigger.of<E>(5, delta),
      evictor: DeltaEvictor.of<E>(5, delta),
    }, backend);
    for (const v of [10, 12, 14]) h.processElement(["a", v], v);
    h.processElement(["b", 100], 1);
    assert.deepEqual(h.output(), []);
    h.processElement(["a", 16], 16); // 16 - 10 > 5: fires; the evictor keeps what is < 5 from 16
    assert.deepEqual(h.output(), ["a@global=12,14,16"]);
    h.processElement(["a", 20], 20); // 20 - 16 = 4: no firing
    h.processElement(["b", 94], 2); // 6 from b's first element: b fires alone
    assert.deepEqual(h.output(), ["a@global=12,14,16", "b@global=94"]);
    h.processElement(["a", 22], 22); // 22 - 16 > 5
    assert.deepEqual(h.output().at(-1), "a@global=20,22");
    await h.close();
  });
}

Deno.test("a record at ±Infinity reaching an event-time window is a ConfigError naming the timestamp, not lost", async () => {
  const assigners: WindowAssigner<E, TimeWindow>[] = [
    TumblingEventTimeWindows.of<E>(10),
    SlidingEventTimeWindows.of<E>(10, 5),
    EventTimeSessionWindows.withGap<E>(10),
  ];
  for (const assigner of assigners) {
    for (const ts of [Infinity, -Infinity]) {
      // Pre-aggregated contents: the window's end timer was registered unchecked, at NaN.
      const h = await harness(assigner, sum);
      h.processElement(["a", 1], 5);
      assert.throws(
        () => h.processElement(["a", 2], ts),
        (e) => e instanceof ConfigError && e.message.includes(`timestamp ${ts}`),
        `${assigner.constructor.name} at ${ts}`,
      );
      await h.close();
    }
  }
});

Deno.test("a fractional timestamp after its window fired is late data (side output), not silently dropped", async () => {
  const late = new OutputTag<E>("late");
  for (const lateness of [0, 5]) {
    const h: OperatorHarness<string> = await harness(TumblingEventTimeWindows.of<E>(10), sum, {
      allowedLateness: lateness,
      lateDataTag: late,
    });
    h.processElement(["a", 1], 1);
    h.processWatermark(9 + lateness); // [0, 10) ends at 9: fired, and cleaned up at 9 + lateness
    h.processElement(["a", 2], 9.5); // in [0, 10), above the watermark 9 only without lateness
    h.processElement(["a", 4], 10.5); // [10, 20): on time
    h.processWatermark(Infinity);
    assert.deepEqual(h.output(), ["a@0-10=1", "a@10-20=4"], `lateness ${lateness}`);
    assert.deepEqual(h.sideOutputWithTimestamps(late), [{ value: ["a", 2], timestamp: 9.5 }]);
    await h.close();
  }
});

Deno.test("a reduce, add or merge that returns undefined is a ConfigError naming it, not a window that restarts", async () => {
  const returnsNothing: WindowContentsSpec<E>[] = [
    {
      kind: "reduce",
      reduce: () => undefined as unknown as E,
      serializer: Serializers.json as never,
    },
    {
      kind: "aggregate",
      aggregate: { ...countAgg, add: () => undefined as unknown as number },
      accumulatorSerializer: Serializers.f64,
    },
  ];
  for (const contents of returnsNothing) {
    const h = await harness(TumblingEventTimeWindows.of<E>(10), contents);
    assert.throws(
      () => {
        h.processElement(["a", 1], 1); // reduce keeps a window's first element as it is
        h.processElement(["a", 2], 2);
      },
      (e) =>
        e instanceof ConfigError &&
        /(reduce|add) of window operator .* returned undefined/.test(e.message),
      contents.kind,
    );
    await h.close();
  }
  const merging = await harness(EventTimeSessionWindows.withGap<E>(10), {
    ...counting,
    aggregate: { ...countAgg, merge: () => undefined as unknown as number },
  } as WindowContentsSpec<E>);
  merging.processElement(["a", 1], 0);
  merging.processElement(["a", 1], 20);
  assert.throws(
    () => merging.processElement(["a", 1], 10), // joins both sessions
    (e) =>
      e instanceof ConfigError && /merge of window operator .* returned undefined/.test(e.message),
  );
  await merging.close();
});
