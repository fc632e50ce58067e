import assert from "node:assert/strict";
import {
  type BroadcastProcessFunction,
  type Collector,
  ConfigError,
  type CoProcessFunction,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  ListStateDescriptor,
  MapStateDescriptor,
  type OnTimerContext,
  OutputTag,
  type ProcessContext,
  type ProcessFunction,
  ReducingStateDescriptor,
  type RuntimeContext,
  Serializers,
  StateError,
  StateTtlConfig,
  StreamEnvironment,
  type TimeDomain,
  type ValueState,
  ValueStateDescriptor,
} from "../../mod.ts";
import {
  BroadcastProcessFunctionHarness,
  CoProcessFunctionHarness,
  type HarnessSnapshot,
  JobTestDriver,
  KeyedProcessFunctionHarness,
  ManualClock,
  OperatorHarness,
  ProcessFunctionHarness,
} from "./mod.ts";
import { FlatMapOperator, MapOperator } from "../runtime/operators.ts";

type Cmd = { key: string; at: number; op?: "add" | "del"; domain?: TimeDomain };

/** Registers (or deletes) the timer a command names; reports every firing. */
class TimerFn implements KeyedProcessFunction<string, Cmd, string> {
  processElement(c: Cmd, ctx: KeyedProcessContext<string>): void {
    const ts = ctx.timerService();
    const event = c.domain === "event-time";
    if (c.op === "del") {
      if (event) ts.deleteEventTimeTimer(c.at);
      else ts.deleteProcessingTimeTimer(c.at);
    } else if (event) ts.registerEventTimeTimer(c.at);
    else ts.registerProcessingTimeTimer(c.at);
  }
  onTimer(t: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    out.collect(`${ctx.timeDomain()}:${ctx.getCurrentKey()}@${t}`);
    if (ctx.timestamp() !== t) {
      throw new Error(`ctx.timestamp() ${ctx.timestamp()} in onTimer(${t})`);
    }
  }
}

const byKey = (c: Cmd) => c.key;

Deno.test("outputWithWatermarks lists records and watermarks in emission order, as Flink's getOutput()", async () => {
  const h = await KeyedProcessFunctionHarness.create(new TimerFn(), byKey);
  h.processElement({ key: "x", at: 200, domain: "event-time" });
  h.processElement({ key: "y", at: 100, domain: "event-time" });
  h.processWatermark(50);
  h.processWatermark(150);
  h.processWatermark(250);
  // Each watermark follows what the timers it passed emitted.
  assert.deepEqual(h.outputWithWatermarks(), [
    { watermark: 50 },
    { value: "event-time:y@100", timestamp: 100 },
    { watermark: 150 },
    { value: "event-time:x@200", timestamp: 200 },
    { watermark: 250 },
  ]);
  // The separate lists stay as they were.
  assert.deepEqual(h.output(), ["event-time:y@100", "event-time:x@200"]);
  assert.deepEqual(h.watermarks(), [50, 150, 250]);
  h.clearOutput();
  assert.deepEqual(h.outputWithWatermarks(), []);
  await h.close();
});

Deno.test("processing-time timers fire in timestamp order, once per key and timestamp", async () => {
  const h = await KeyedProcessFunctionHarness.create(new TimerFn(), byKey);
  h.processElement({ key: "a", at: 30 });
  h.processElement({ key: "a", at: 10 });
  h.processElement({ key: "a", at: 10 }); // duplicate: one timer
  h.processElement({ key: "b", at: 10 });
  h.processElement({ key: "a", at: 20 });
  assert.deepEqual(
    h.pendingTimers("processing-time").map((t) => `${t.key}@${t.timestamp}`),
    ["a@10", "b@10", "a@20", "a@30"],
  );
  h.advanceProcessingTime(9);
  assert.deepEqual(h.output(), []);
  h.setProcessingTime(20);
  assert.deepEqual(h.output(), [
    "processing-time:a@10",
    "processing-time:b@10",
    "processing-time:a@20",
  ]);
  // What a processing-time timer emits has no timestamp (Flink erases it: a wall-clock time is
  // no event time); ctx.timestamp() gives the timer's time (onTimer checks).
  assert.deepEqual(h.outputWithTimestamps().map((r) => r.timestamp), [
    undefined,
    undefined,
    undefined,
  ]);
  assert.deepEqual(h.pendingTimers("processing-time").map((t) => t.timestamp), [30]);
  h.advanceProcessingTime(100);
  assert.equal(h.output().length, 4);
  assert.equal(h.output()[3], "processing-time:a@30");
  h.advanceProcessingTime(100);
  assert.equal(h.output().length, 4, "a timer fires once");
  await h.close();
});

Deno.test("deleted timers do not fire, in either domain", async () => {
  const h = await KeyedProcessFunctionHarness.create(new TimerFn(), byKey);
  h.processElement({ key: "a", at: 10 });
  h.processElement({ key: "b", at: 10 });
  h.processElement({ key: "a", at: 10, op: "del" });
  h.processElement({ key: "a", at: 5, domain: "event-time" });
  h.processElement({ key: "a", at: 6, domain: "event-time" });
  h.processElement({ key: "a", at: 5, domain: "event-time", op: "del" });
  assert.deepEqual(h.pendingTimers("processing-time").map((t) => t.key), ["b"]);
  assert.deepEqual(h.pendingTimers("event-time").map((t) => t.timestamp), [6]);
  h.advanceProcessingTime(50);
  h.processWatermark(50);
  assert.deepEqual(h.output(), ["processing-time:b@10", "event-time:a@6"]);
  await h.close();
});

Deno.test("event-time timers fire on the watermark in timestamp order, with the watermark forwarded after", async () => {
  const h = await KeyedProcessFunctionHarness.create(new TimerFn(), byKey);
  for (const [key, at] of [["x", 300], ["y", 100], ["x", 200], ["z", 100]] as const) {
    h.processElement({ key, at, domain: "event-time" });
  }
  h.processWatermark(99);
  assert.deepEqual(h.output(), []);
  assert.deepEqual(h.watermarks(), [99]);
  h.processWatermark(200); // a timer at exactly the watermark fires
  assert.deepEqual(h.output(), ["event-time:y@100", "event-time:z@100", "event-time:x@200"]);
  // What an event-time timer emits carries the timer's time.
  assert.deepEqual(h.outputWithTimestamps().map((r) => r.timestamp), [100, 100, 200]);
  assert.deepEqual(h.watermarks(), [99, 200]);
  assert.deepEqual(h.pendingTimers("event-time"), [{
    timestamp: 300,
    key: "x",
    namespace: undefined,
  }]);
  // Processing time does not fire event-time timers.
  h.advanceProcessingTime(1_000);
  assert.equal(h.output().length, 3);
  h.processWatermark(Infinity);
  assert.equal(h.output()[3], "event-time:x@300");
  await h.close();
});

Deno.test("onTimer sees its key, domain and state; timers registered by timers fire in the same advance", async () => {
  const count = new ValueStateDescriptor("count", Serializers.f64, 0);
  class Chain implements KeyedProcessFunction<string, string, string> {
    n!: ValueState<number>;
    open(ctx: RuntimeContext) {
      this.n = ctx.getState(count);
    }
    processElement(_v: string, ctx: KeyedProcessContext<string>) {
      this.n.update(this.n.value()! + 1);
      ctx.timerService().registerProcessingTimeTimer(ctx.currentProcessingTime() + 10);
    }
    onTimer(t: number, ctx: OnTimerContext<string>, out: Collector<string>) {
      out.collect(`${ctx.getCurrentKey()}:${ctx.timeDomain()}:${t}:${this.n.value()}`);
      // Re-arm once, 5 ms later: it is due within the same advance.
      if (t === 1_010) ctx.timerService().registerProcessingTimeTimer(t + 5);
    }
  }
  const h = await KeyedProcessFunctionHarness.create(new Chain(), (v: string) => v, {
    startTime: 1_000,
  });
  assert.equal(h.processingTime, 1_000);
  h.processElement("p");
  h.processElement("q");
  h.processElement("q");
  h.advanceProcessingTime(20);
  assert.deepEqual(h.output(), [
    "p:processing-time:1010:1",
    "q:processing-time:1010:2",
    "p:processing-time:1015:1",
    "q:processing-time:1015:2",
  ]);
  await h.close();
});

Deno.test("a shared clock moved directly: the harness runs the posted timers before the next record", async () => {
  const clock = new ManualClock(0);
  const h = await KeyedProcessFunctionHarness.create(new TimerFn(), byKey, { clock });
  h.processElement({ key: "a", at: 5 });
  clock.advance(5);
  assert.deepEqual(h.output(), [], "mails wait for the harness");
  h.processElement({ key: "b", at: 50 });
  assert.deepEqual(h.output(), ["processing-time:a@5"]);
  await h.close();
});

Deno.test("side outputs keep their records and timestamps apart from the main output", async () => {
  const small = new OutputTag<number>("small");
  const odd = new OutputTag<string>("odd");
  const fn: ProcessFunction<number, number> = {
    processElement(v, ctx, out) {
      if (v < 10) ctx.output(small, v);
      if (v % 2 === 1) ctx.output(odd, `odd ${v}`);
      out.collect(v * 2);
    },
  };
  const h = await ProcessFunctionHarness.create(fn);
  h.processElement(3, 30);
  h.processElement(12);
  h.processElement(15, 150);
  assert.deepEqual(h.output(), [6, 24, 30]);
  assert.deepEqual(h.sideOutput(small), [3]);
  assert.deepEqual(h.sideOutputWithTimestamps(odd), [
    { value: "odd 3", timestamp: 30 },
    { value: "odd 15", timestamp: 150 },
  ]);
  assert.deepEqual(h.sideOutput(new OutputTag<number>("nobody")), []);
  h.clearOutput();
  assert.deepEqual([h.output(), h.sideOutput(small), h.watermarks()], [[], [], []]);
  await h.close();
});

Deno.test("state reads per key of every kind, without disturbing the current key", async () => {
  const sum = new ValueStateDescriptor("sum", Serializers.f64, 0);
  const seen = new ListStateDescriptor("seen", Serializers.f64);
  const last = new MapStateDescriptor("last", Serializers.string, Serializers.f64);
  const max = new ReducingStateDescriptor(
    "max",
    (a: number, b: number) => Math.max(a, b),
    Serializers.f64,
  );
  type R = [string, number];
  // State is declared and written in open/processElement of a class, as users do.
  class Agg implements KeyedProcessFunction<string, R, string> {
    st!: {
      sum: ValueState<number>;
      seen: import("../../mod.ts").ListState<number>;
      last: import("../../mod.ts").MapState<string, number>;
      max: import("../../mod.ts").ReducingState<number>;
    };
    open(ctx: RuntimeContext) {
      this.st = {
        sum: ctx.getState(sum),
        seen: ctx.getListState(seen),
        last: ctx.getMapState(last),
        max: ctx.getReducingState(max),
      };
    }
    processElement([_k, v]: R, ctx: KeyedProcessContext<string>, out: Collector<string>) {
      this.st.sum.update(this.st.sum.value()! + v);
      this.st.seen.add(v);
      this.st.last.put(`t${ctx.timestamp()}`, v);
      this.st.max.add(v);
      out.collect(ctx.getCurrentKey());
    }
  }
  const h = await KeyedProcessFunctionHarness.create(new Agg(), (r: R) => r[0]);
  h.processElement(["a", 1], 1);
  h.processElement(["b", 10], 2);
  h.processElement(["a", 5], 3);
  assert.equal(h.state(sum, "a"), 6);
  assert.equal(h.state(sum, "b"), 10);
  assert.equal(h.state(sum, "nobody"), 0, "the descriptor's default");
  assert.deepEqual(h.state(seen, "a"), [1, 5]);
  assert.deepEqual(h.state(seen, "nobody"), []);
  assert.deepEqual(h.state(last, "a"), new Map([["t1", 1], ["t3", 5]]));
  assert.equal(h.state(max, "a"), 5);
  assert.deepEqual(h.keys(sum).sort(), ["a", "b"]);
  // The call that set "a" returned: between records no key is current (state used
  // by a callback that runs later throws), and reads by key leave it so.
  assert.throws(() => h.keyedBackend().currentKey(), StateError);
  // Seeding state for a key before records arrive.
  h.withKey("c", () => h.keyedBackend().state(sum).update(100));
  assert.throws(() => h.keyedBackend().currentKey(), StateError);
  h.processElement(["c", 1], 4);
  assert.equal(h.state(sum, "c"), 101);
  assert.deepEqual(h.output(), ["a", "b", "a", "c"]);
  await h.close();
});

Deno.test("a non-keyed harness has no keyed state or timers", async () => {
  const h = await ProcessFunctionHarness.create<number, number>({
    processElement(v, _ctx, out) {
      out.collect(v);
    },
  });
  assert.throws(() => h.state(new ValueStateDescriptor("v", Serializers.f64), 1), StateError);
  assert.deepEqual(h.pendingTimers("processing-time"), []);
  await h.close();
});

Deno.test("a ProcessFunction's context has timerService(), as Flink's: clocks read, timers refused (not keyed)", async () => {
  const fn: ProcessFunction<string, string> = {
    processElement(v, ctx: ProcessContext, out) {
      const timers = ctx.timerService();
      out.collect(`${v}@${timers.currentProcessingTime()}/${timers.currentWatermark()}`);
      if (v === "event") timers.registerEventTimeTimer(10);
      if (v === "processing") timers.registerProcessingTimeTimer(10);
    },
  };
  const h = await ProcessFunctionHarness.create(fn, { startTime: 5 });
  h.processWatermark(3);
  h.processElement("read");
  assert.deepEqual(h.output(), ["read@5/3"]);
  for (const v of ["event", "processing"]) {
    assert.throws(
      () => h.processElement(v),
      (e) =>
        e instanceof StateError && /not keyed: keys and timers need a keyed stream/.test(e.message),
    );
  }
  // The broadcast side has no timer service, as Flink's BroadcastProcessFunction.Context.
  const b: BroadcastProcessFunction<string, string, string> = {
    processElement: (_v, ctx) => void ctx.timerService(),
    // @ts-expect-error: the broadcast side's context has no timerService
    processBroadcastElement: (_v, ctx) => void ctx.timerService(),
  };
  assert.equal(typeof b.processBroadcastElement, "function");
  await h.close();
});

Deno.test("open and close run the function's life cycle; a closed harness refuses records", async () => {
  const calls: string[] = [];
  const h = await ProcessFunctionHarness.create<number, number>({
    open(ctx) {
      calls.push(`open ${ctx.operatorUid} ${ctx.subtaskIndex}/${ctx.parallelism}`);
    },
    processElement(v, _c, out) {
      out.collect(v);
    },
    close() {
      calls.push("close");
    },
  }, { uid: "my-op" });
  await h.close();
  await h.close();
  assert.deepEqual(calls, ["open my-op 0/1", "close"]);
  assert.throws(() => h.processElement(1), StateError);
});

Deno.test("keyed co-process harness: both inputs share key, state and timers", async () => {
  const pending = new ValueStateDescriptor<string>("pending", Serializers.string);
  class Expect implements CoProcessFunction<[string, string], string, string> {
    p!: ValueState<string>;
    open(ctx: RuntimeContext) {
      this.p = ctx.getState(pending);
    }
    processElement1([k, what]: [string, string], ctx: KeyedProcessContext<unknown>) {
      this.p.update(what);
      ctx.timerService().registerEventTimeTimer(100);
      void k;
    }
    processElement2(_k: string, ctx: KeyedProcessContext<unknown>, out: Collector<string>) {
      out.collect(`${ctx.getCurrentKey()} got ${this.p.value()}`);
      this.p.clear();
      ctx.timerService().deleteEventTimeTimer(100);
    }
    onTimer(t: number, ctx: OnTimerContext<unknown>, out: Collector<string>) {
      out.collect(`${ctx.getCurrentKey()} missed ${this.p.value()} at ${t} (${ctx.timeDomain()})`);
    }
  }
  const h = await CoProcessFunctionHarness.create(new Expect(), {
    keySelectors: [(r: [string, string]) => r[0], (k: string) => k],
  });
  h.processElement1(["k1", "x"]);
  h.processElement1(["k2", "y"]);
  h.processElement2("k1");
  assert.equal(h.state(pending, "k2"), "y");
  assert.equal(h.state(pending, "k1"), undefined);
  h.processWatermark(100);
  assert.deepEqual(h.output(), ["k1 got x", "k2 missed y at 100 (event-time)"]);
  await h.close();

  const plain = await CoProcessFunctionHarness.create<number, string, string>({
    processElement1: (v, _c, out) => out.collect(`1:${v}`),
    processElement2: (v, _c, out) => out.collect(`2:${v}`),
  });
  plain.processElement2("b");
  plain.processElement1(1);
  assert.deepEqual(plain.output(), ["2:b", "1:1"]);
  await plain.close();
});

Deno.test("keyed broadcast harness: broadcast state and applyToKeyedState over keys", async () => {
  const factor = new MapStateDescriptor("factor", Serializers.string, Serializers.f64);
  const total = new ValueStateDescriptor("total", Serializers.f64, 0);
  class Scale implements BroadcastProcessFunction<[string, number], number, string> {
    t!: ValueState<number>;
    open(ctx: RuntimeContext) {
      this.t = ctx.getState(total);
    }
    processElement(
      [_k, v]: [string, number],
      ctx: import("../../mod.ts").ReadOnlyBroadcastContext<unknown>,
      out: Collector<string>,
    ) {
      const f = ctx.getBroadcastState(factor).get("f") ?? 1;
      this.t.update(this.t.value()! + v * f);
      out.collect(`${ctx.getCurrentKey()}=${this.t.value()}`);
    }
    processBroadcastElement(f: number, ctx: import("../../mod.ts").BroadcastContext) {
      ctx.getBroadcastState(factor).put("f", f);
      // Reset every key's total.
      ctx.applyToKeyedState(total, (_k, s) => (s as ValueState<number>).clear());
    }
  }
  const h = await BroadcastProcessFunctionHarness.create(new Scale(), {
    keySelector: (r: [string, number]) => r[0],
  });
  h.processElement(["a", 2]);
  h.processElement(["b", 3]);
  h.processBroadcastElement(10);
  assert.deepEqual(h.broadcastState(factor), new Map([["f", 10]]));
  assert.equal(h.state(total, "a"), 0);
  h.processElement(["a", 2]);
  assert.deepEqual(h.output(), ["a=2", "b=3", "a=20"]);
  await h.close();
});

Deno.test("applyToKeyedState given Flink's KeyedStateFunction object is a ConfigError, keys or not", async () => {
  const total = new ValueStateDescriptor("total", Serializers.f64, 0);
  const fn: BroadcastProcessFunction<string, string, string> = {
    processElement() {},
    processBroadcastElement(_r, ctx) {
      // A ported anonymous KeyedStateFunction: an object with process(key, state).
      ctx.applyToKeyedState(total, { process() {} } as never);
    },
  };
  const h = await BroadcastProcessFunctionHarness.create(fn, { keySelector: (s: string) => s });
  // No key has state yet: before, nothing was called and the mistake passed unnoticed.
  assert.throws(
    () => h.processBroadcastElement("reset"),
    (e) =>
      e instanceof ConfigError &&
      /applyToKeyedState takes a function \(key, state\) => void/.test(e.message) &&
      /got an object/.test(e.message),
  );
  await h.close();
});

Deno.test("keyed broadcast harness: onTimer reads the broadcast state, as in Flink", async () => {
  const threshold = new MapStateDescriptor("threshold", Serializers.string, Serializers.f64);
  const fn: BroadcastProcessFunction<[string, number], number, string> = {
    processElement(_v, ctx) {
      ctx.timerService().registerEventTimeTimer(100);
    },
    processBroadcastElement(t, ctx) {
      ctx.getBroadcastState(threshold).put("t", t);
    },
    onTimer(ts, ctx, out) {
      out.collect(`${ctx.getCurrentKey()}@${ts}: t=${ctx.getBroadcastState(threshold).get("t")}`);
    },
  };
  const h = await BroadcastProcessFunctionHarness.create(fn, {
    keySelector: (r: [string, number]) => r[0],
  });
  h.processElement(["a", 1]);
  h.processBroadcastElement(7);
  h.watermark(100);
  assert.deepEqual(h.output(), ["a@100: t=7"]);
  await h.close();
});

Deno.test("state TTL in a harness follows the harness's ManualClock, not the wall clock", async () => {
  const seen = new ValueStateDescriptor("seen", Serializers.f64);
  seen.enableTimeToLive(StateTtlConfig.newBuilder(1000).build());
  class Remember implements KeyedProcessFunction<string, string, string> {
    s!: ValueState<number>;
    open(ctx: RuntimeContext) {
      this.s = ctx.getState(seen);
    }
    processElement(v: string, ctx: KeyedProcessContext<string>, out: Collector<string>) {
      out.collect(`${v}:${this.s.value() ?? "none"}`);
      this.s.update(ctx.currentProcessingTime());
    }
  }
  const h = await KeyedProcessFunctionHarness.create(new Remember(), (v: string) => v, {
    startTime: 0,
  });
  h.processElement("k");
  h.advanceProcessingTime(999);
  h.processElement("k"); // 999 ms after the write: still alive
  h.advanceProcessingTime(1000);
  h.processElement("k"); // 1000 ms after the last write: expired
  assert.deepEqual(h.output(), ["k:none", "k:0", "k:none"]);
  await h.close();
});

Deno.test("OperatorHarness drives the runtime's map and flatMap operators, keyed state included", async () => {
  const m = await OperatorHarness.forOperator(new MapOperator((x: number) => x + 1));
  m.processElement(1, 5);
  m.processWatermark(7);
  assert.deepEqual(m.outputWithTimestamps(), [{ value: 2, timestamp: 5 }]);
  assert.deepEqual(m.watermarks(), [7]);
  await m.close();

  const n = new ValueStateDescriptor("n", Serializers.f64, 0);
  const counting = {
    s: undefined as unknown as ValueState<number>,
    open(ctx: RuntimeContext) {
      this.s = ctx.getState(n);
    },
    flatMap(w: string, out: Collector<string>) {
      this.s.update(this.s.value()! + 1);
      out.collect(`${w}${this.s.value()}`);
    },
  };
  const f = await OperatorHarness.forOperator(
    new FlatMapOperator(counting, (w: unknown) => w),
    { keySerializer: Serializers.string },
  );
  for (const w of ["x", "y", "x"]) f.processElement(w);
  assert.deepEqual(f.output(), ["x1", "y1", "x2"]);
  assert.equal(f.state(n, "x"), 2);
  await f.close();
});

Deno.test("a misspelt harness or JobTestDriver option is a ConfigError naming it, not a test of something else", async () => {
  const id: ProcessFunction<number, number> = { processElement: (v, _c, out) => out.collect(v) };
  const cases: [() => Promise<unknown>, string][] = [
    [
      () => ProcessFunctionHarness.create(id, { operatorStates: [] } as never),
      'ProcessFunctionHarness: unknown option "operatorStates" (did you mean "operatorState"?)',
    ],
    [
      () =>
        KeyedProcessFunctionHarness.create(id, (n: number) => n, {
          keySerialiser: Serializers.f64,
        } as never),
      'KeyedProcessFunctionHarness: unknown option "keySerialiser" (did you mean "keySerializer"?)',
    ],
    [
      () =>
        CoProcessFunctionHarness.create(
          { processElement1() {}, processElement2() {} },
          { keySelectors: [(n: number) => n, (n: number) => n], maxParalelism: 4 } as never,
        ),
      'CoProcessFunctionHarness: unknown option "maxParalelism" (did you mean "maxParallelism"?)',
    ],
    [
      () =>
        JobTestDriver.start(
          StreamEnvironment.create({ clock: new ManualClock(0), log: () => {} }),
          { maxSettleTurn: 5 } as never,
        ),
      'JobTestDriver.start: unknown option "maxSettleTurn" (did you mean "maxSettleTurns"?)',
    ],
  ];
  for (const [call, message] of cases) {
    await assert.rejects(call(), (e) => e instanceof ConfigError && e.message === message, message);
  }
  // Each harness's own option still passes.
  const keyed = await CoProcessFunctionHarness.create(
    {
      processElement1: (v: number, _c, out: Collector<number>) => out.collect(v),
      processElement2() {},
    },
    { keySelectors: [(n: number) => n, (n: number) => n], maxParallelism: 4 },
  );
  keyed.processElement1(1);
  assert.deepEqual(keyed.output(), [1]);
  await keyed.close();
});

Deno.test("a NaN or string time given to a harness is refused, not a clock or watermark stuck at NaN", async () => {
  const h = await KeyedProcessFunctionHarness.create(new TimerFn(), byKey);
  h.processElement({ key: "a", at: 10 });
  assert.throws(() => h.setProcessingTime(NaN), /ManualClock\.set got NaN/);
  assert.throws(() => h.advanceProcessingTime(Date.parse("soon")), /got NaN/);
  assert.throws(() => h.advanceProcessingTime("5" as never), RangeError);
  assert.throws(() => h.processWatermark(NaN), ConfigError);
  assert.throws(() => h.processElement({ key: "a", at: 1 }, NaN), /timestamp gave NaN/);
  assert.throws(() => h.processElement({ key: "a", at: 1 }, "7" as never), /string "7"/);
  // Time still moves, and the timer still fires.
  assert.equal(h.processingTime, 0);
  assert.deepEqual(h.watermarks(), []);
  h.setProcessingTime(10);
  assert.deepEqual(h.output(), ["processing-time:a@10"]);
  assert.throws(() => new ManualClock(NaN), RangeError);
  await h.close();
});

Deno.test("co-process harness: processWatermark1/2 advance event time to the smaller input's, as Flink's", async () => {
  const fn: CoProcessFunction<string, string, string> = {
    processElement1: (k, ctx) => ctx.timerService().registerEventTimeTimer(Number(k)),
    processElement2: () => {},
    onTimer: (t, ctx, out) => out.collect(`${t}@${ctx.currentWatermark()}`),
  };
  const h = await CoProcessFunctionHarness.create(fn, {
    keySelectors: [(k: string) => k, (k: string) => k],
  });
  h.processElement1("10");
  h.processElement1("20");
  h.processWatermark1(30);
  // The second input has no watermark yet: event time stays where it was.
  assert.deepEqual(h.output(), []);
  assert.deepEqual(h.watermarks(), []);
  h.processWatermark2(15);
  assert.deepEqual(h.output(), ["10@15"]);
  h.processWatermark2(25);
  h.processWatermark2(40);
  assert.deepEqual(h.output(), ["10@15", "20@25"]);
  assert.deepEqual(h.watermarks(), [15, 25, 30]);
  assert.throws(() => h.processWatermark1(NaN), /processWatermark1 gave NaN/);
  // processWatermark advances both inputs at once.
  h.processElement1("50");
  h.processWatermark(50);
  assert.deepEqual(h.output(), ["10@15", "20@25", "50@50"]);
  h.processWatermark1(60);
  assert.deepEqual(h.watermarks(), [15, 25, 30, 50]);
  await h.close();
});

Deno.test("broadcast harness: processWatermark advances the main input only, as Flink's; watermark(t) both", async () => {
  const fn: BroadcastProcessFunction<string, string, string> = {
    processElement: (k, ctx) => ctx.timerService().registerEventTimeTimer(Number(k)),
    processBroadcastElement: () => {},
    onTimer: (t, ctx, out) => out.collect(`${t}@${ctx.currentWatermark()}`),
  };
  const h = await BroadcastProcessFunctionHarness.create(fn, { keySelector: (k: string) => k });
  h.processElement("10");
  h.processElement("20");
  h.processElement("50");
  h.processWatermark(30);
  // The broadcast input has no watermark yet: event time stays where it was, as in a job.
  assert.deepEqual(h.outputWithWatermarks(), []);
  h.processBroadcastWatermark(15);
  assert.deepEqual(h.output(), ["10@15"]);
  h.processBroadcastWatermark(40);
  assert.deepEqual(h.output(), ["10@15", "20@30"]);
  assert.deepEqual(h.watermarks(), [15, 30]);
  // As Flink's watermark(t): the main input, then the broadcast one.
  h.watermark(60);
  assert.deepEqual(h.output(), ["10@15", "20@30", "50@60"]);
  assert.deepEqual(h.watermarks(), [15, 30, 40, 60]);
  assert.throws(() => h.processBroadcastWatermark(NaN), /processBroadcastWatermark gave NaN/);
  assert.throws(() => h.processWatermark(NaN), /processWatermark gave NaN/);
  await h.close();
});

Deno.test("snapshot() and restore: keyed state, timers and operator state come back, at another parallelism too", async () => {
  const count = new ValueStateDescriptor("count", Serializers.f64, 0);
  const seen = new ListStateDescriptor("seen", Serializers.f64);
  /** Counts per key; a timer per key reports; operator state lists the subtask's inputs. */
  class Count implements KeyedProcessFunction<string, string, string> {
    c!: ValueState<number>;
    inputs: number[] = [];
    initializeState(ctx: import("../../mod.ts").FunctionInitializationContext) {
      this.inputs = [...ctx.operatorStateStore.getListState(seen).get()];
    }
    snapshotState() {}
    open(ctx: RuntimeContext) {
      this.c = ctx.getState(count);
    }
    processElement(_v: string, ctx: KeyedProcessContext<string>) {
      this.c.update(this.c.value()! + 1);
      ctx.timerService().registerEventTimeTimer(100);
      ctx.timerService().registerProcessingTimeTimer(50);
    }
    onTimer(_t: number, ctx: OnTimerContext<string>, out: Collector<string>) {
      out.collect(`${ctx.getCurrentKey()}=${this.c.value()} ${ctx.timeDomain()}`);
    }
  }
  const keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
  const byValue = (s: string) => s;
  const h = await KeyedProcessFunctionHarness.create(new Count(), byValue);
  for (const k of keys) h.processElement(k, 1);
  await h.snapshot(1);
  h.processElement("a", 2);
  const snap = await h.snapshot(2); // on top of the first: a delta
  h.processElement("a", 3); // after the snapshot: not restored
  await h.close();

  const r = await KeyedProcessFunctionHarness.create(new Count(), byValue, { restore: snap });
  assert.equal(r.state(count, "a"), 2);
  assert.deepEqual(r.keys(count).toSorted(), keys);
  assert.equal(r.pendingTimers("event-time").length, keys.length);
  r.processWatermark(100);
  r.setProcessingTime(50);
  assert.equal(r.output().length, 2 * keys.length);
  assert.ok(r.output().includes("a=2 event-time") && r.output().includes("a=2 processing-time"));
  await r.close();

  // Two subtasks split the key groups, state and timers; merged back into one, all return.
  const parts: HarnessSnapshot[] = [];
  for (const subtaskIndex of [0, 1]) {
    const p = await KeyedProcessFunctionHarness.create(new Count(), byValue, {
      restore: snap,
      parallelism: 2,
      subtaskIndex,
    });
    const held = p.keys(count);
    assert.ok(held.length > 0 && held.length < keys.length);
    assert.deepEqual(p.pendingTimers("event-time").map((t) => t.key).toSorted(), held.toSorted());
    // A key of the other subtask's key groups is refused, as a job never routes it here.
    const other = keys.find((k) => !held.includes(k))!;
    assert.throws(() => p.processElement(other, 4), /which subtask .* holds, not this harness's/);
    p.processElement(held[0] as string, 5);
    parts.push(await p.snapshot(3));
    await p.close();
  }
  const merged = await KeyedProcessFunctionHarness.create(new Count(), byValue, { restore: parts });
  assert.deepEqual(merged.keys(count).toSorted(), keys);
  assert.equal(merged.pendingTimers("processing-time").length, keys.length);
  await merged.close();
  await assert.rejects(
    () =>
      KeyedProcessFunctionHarness.create(new Count(), byValue, { parallelism: 2, subtaskIndex: 2 }),
    /subtaskIndex must be an integer from 0 to parallelism - 1 \(1\), got 2/,
  );
});

Deno.test("snapshot() and restore of operator state: split lists are redistributed over the new subtasks", async () => {
  const buffer = new ListStateDescriptor("buffer", Serializers.string);
  const make = () => {
    const fn = {
      state: undefined as import("../../mod.ts").ListState<string> | undefined,
      held: [] as string[],
      initializeState(ctx: import("../../mod.ts").FunctionInitializationContext) {
        this.state = ctx.operatorStateStore.getListState(buffer);
        this.held = [...this.state.get()];
      },
      snapshotState() {
        this.state!.update(this.held);
      },
      processElement(v: string, _ctx: unknown, out: Collector<string>) {
        if (v === "?") out.collect(this.held.join());
        else this.held.push(v);
      },
    };
    return fn as unknown as ProcessFunction<string, string>;
  };
  const snaps: HarnessSnapshot[] = [];
  for (const [i, values] of [["a", "b", "c"], ["d"]].entries()) {
    const h = await ProcessFunctionHarness.create(make(), { parallelism: 2, subtaskIndex: i });
    for (const v of values) h.processElement(v);
    snaps.push(await h.snapshot());
    await h.close();
  }
  const one = await ProcessFunctionHarness.create(make(), { restore: snaps });
  one.processElement("?");
  assert.deepEqual(one.output(), ["a,b,c,d"]);
  const got: string[] = [];
  for (const subtaskIndex of [0, 1, 2]) {
    const h = await ProcessFunctionHarness.create(make(), {
      restore: snaps,
      parallelism: 3,
      subtaskIndex,
    });
    assert.equal(h.context.subtaskIndex, subtaskIndex);
    h.processElement("?");
    got.push(...h.output());
  }
  assert.deepEqual(got, ["a,b", "c", "d"]);
  await assert.rejects(
    () => ProcessFunctionHarness.create(make(), { restore: snaps, operatorState: {} }),
    /give restore or operatorState, not both/,
  );
});
