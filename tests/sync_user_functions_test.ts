/**
 * User functions are synchronous: one that returns a promise fails the job at
 * its first call (pointing to async I/O), and keyed state used after the call
 * that set its key returned (a `setTimeout` or promise callback, code after an
 * `await`) throws a StateError naming the state and the operator, on both
 * state backends, instead of reading and writing whichever key is current.
 */
import assert from "node:assert/strict";
import {
  type Collector,
  CollectSink,
  ConfigError,
  type CoProcessFunction,
  HeapStateBackend,
  JobFailedError,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  LsmStateBackend,
  MapStateDescriptor,
  type ReadOnlyBroadcastContext,
  type RuntimeContext,
  Serializers,
  type StateBackend,
  StateError,
  StreamEnvironment,
  TumblingEventTimeWindows,
  type ValueState,
  ValueStateDescriptor,
  WatermarkStrategy,
} from "../mod.ts";
import { KeyedProcessFunctionHarness, ManualClock } from "../core/testing/mod.ts";

const BACKENDS: [string, () => StateBackend][] = [
  ["heap", () => new HeapStateBackend()],
  ["lsm", () => new LsmStateBackend()],
];

const COUNT = new ValueStateDescriptor("count", Serializers.f64, 0);
const FIRES = new ValueStateDescriptor("fires", Serializers.f64, 0);

/** The job failed because `method` of operator `operator` returned a promise. */
function promiseFailure(method: string, operator: string) {
  return (e: unknown) =>
    e instanceof JobFailedError && e.cause instanceof ConfigError &&
    e.cause.message.startsWith(`${method} of operator "${operator}" returned a promise`) &&
    /AsyncDataStream.orderedWait\/unorderedWait \(async I\/O\)/.test(e.cause.message);
}

/** Counts words in ValueState "count"; `late` runs after each synchronous call's update. */
class Counter implements KeyedProcessFunction<string, string, string> {
  count!: ValueState<number>;
  late: (count: ValueState<number>) => void;
  constructor(late: (count: ValueState<number>) => void = () => {}) {
    this.late = late;
  }
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(COUNT);
  }
  processElement(w: string, _ctx: KeyedProcessContext<string>, out: Collector<string>) {
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(`${w}\t${n}`);
    this.late(this.count);
  }
}

/** A StateError for state `name` of operator `uid` used after its call returned. */
function lateAccess(name: string, uid: string) {
  return (e: unknown) =>
    e instanceof StateError &&
    e.message.startsWith(`Keyed state "${name}" of operator "${uid}" accessed after the call`);
}

/** Resolves once `n` late callbacks have reported (or fails after 5 s). */
function lateCalls(n: number): { report(e: unknown): void; all: Promise<unknown[]> } {
  const errors: unknown[] = [];
  let done!: (v: unknown[]) => void;
  const all = new Promise<unknown[]>((r) => done = r);
  const timeout = setTimeout(() => done(errors), 5000);
  return {
    report(e) {
      errors.push(e);
      if (errors.length === n) {
        clearTimeout(timeout);
        done(errors);
      }
    },
    all,
  };
}

for (const [backend, make] of BACKENDS) {
  Deno.test(`${backend}: an async processElement fails the job at its first call`, async () => {
    const env = StreamEnvironment.create({ stateBackend: make() });
    const sink = new CollectSink<string>();
    let calls = 0;
    const late = lateCalls(1);
    class AsyncCounter extends Counter {
      override async processElement(w: string, _ctx: unknown, out: Collector<string>) {
        calls++;
        await new Promise((r) => setTimeout(r, 1));
        // The job has failed by now: this throws, and the promise's rejection is silenced.
        try {
          this.count.update(this.count.value()! + 1);
          late.report(undefined);
        } catch (e) {
          late.report(e);
          throw e;
        }
        out.collect(w);
      }
    }
    env.fromElements("a", "b", "a").keyBy((w) => w)
      // @ts-expect-error: the types reject an async function too
      .process(new AsyncCounter()).name("counter").uid("counter")
      .addSink(sink);
    await assert.rejects(env.execute(), promiseFailure("processElement", "counter"));
    assert.equal(calls, 1);
    // The continuation after the await runs after the failure: its state access throws,
    // its rejection does not escape, and nothing reaches the sink.
    const [e] = await late.all;
    assert.ok(lateAccess("count", "counter")(e), String(e));
    assert.deepEqual(sink.values, []);
  });

  Deno.test(`${backend}: async map, filter, flatMap, CoMap's map2 and sink invoke fail the job`, async () => {
    const cases: [string, (env: StreamEnvironment) => void][] = [
      ["map", (env) => {
        env.fromElements(1, 2).keyBy((n) => n).map(async (n: number) =>
          await Promise.resolve(n + 1)
        ).name("m")
          .addSink(new CollectSink());
      }],
      ["filter", (env) => {
        // A promise is truthy: without the check every record would pass.
        // @ts-expect-error: the types reject an async function too
        env.fromElements(1, 2).filter(async (n: number) => await Promise.resolve(n > 1)).name("m")
          .addSink(new CollectSink());
      }],
      ["flatMap", (env) => {
        env.fromElements("a b").flatMap(
          // @ts-expect-error: the types reject an async function too
          async (line: string, out) => {
            await null;
            line.split(" ").forEach((w) => out.collect(w));
          },
        ).name("m").addSink(new CollectSink());
      }],
      ["map2", (env) => {
        // The promise was emitted as the record.
        env.fromElements(1).connect(env.fromElements("a")).map({
          map1: (n: number) => n,
          // @ts-expect-error: the types reject an async function too
          map2: async (s: string) => await Promise.resolve(s.length),
        }).name("m").addSink(new CollectSink());
      }],
      ["invoke", (env) => {
        env.fromElements(1).addSink({
          // @ts-expect-error: the types reject an async function too
          async invoke() {},
        }, { name: "m" });
      }],
    ];
    for (const [method, build] of cases) {
      const env = StreamEnvironment.create({ stateBackend: make() });
      build(env);
      await assert.rejects(
        env.execute(),
        promiseFailure(method, "m"),
        method,
      );
    }
  });

  Deno.test(`${backend}: state used in a setTimeout callback or after an await throws`, async () => {
    const env = StreamEnvironment.create({ stateBackend: make() });
    const sink = new CollectSink<string>();
    const words = ["a", "b", "a", "c", "b", "a"];
    const late = lateCalls(2 * words.length);
    env.fromElements(...words).keyBy((w) => w)
      .process(
        new Counter((count) => {
          setTimeout(() => {
            try {
              count.update(count.value()! + 100);
              late.report(undefined);
            } catch (e) {
              late.report(e);
            }
          }, 0);
          void (async () => {
            await null;
            try {
              count.update(-1);
              late.report(undefined);
            } catch (e) {
              late.report(e);
            }
          })();
        }),
      ).uid("word-count")
      .addSink(sink);
    await env.execute();
    const errors = await late.all;
    assert.equal(errors.length, 2 * words.length);
    for (const e of errors) assert.ok(lateAccess("count", "word-count")(e), String(e));
    // No write went to a wrong key: the counts are those of the synchronous calls.
    assert.deepEqual(sink.values, ["a\t1", "b\t1", "a\t2", "c\t1", "b\t2", "a\t3"]);
  });

  Deno.test(`${backend}: onTimer async fails; state in its setTimeout callback throws`, async () => {
    for (const asyncTimer of [true, false]) {
      const late = lateCalls(1);
      class Timed extends Counter {
        override processElement(
          w: string,
          ctx: KeyedProcessContext<string>,
          out: Collector<string>,
        ) {
          super.processElement(w, ctx, out);
          ctx.timerService().registerProcessingTimeTimer(10);
        }
        onTimer() {
          setTimeout(() => {
            try {
              this.count.value();
            } catch (e) {
              late.report(e);
            }
          }, 0);
        }
      }
      class AsyncTimed extends Timed {
        override async onTimer() {}
      }
      // @ts-expect-error: the types reject an async function too
      const asyncFn: KeyedProcessFunction<string, string, string> = new AsyncTimed();
      const fn = asyncTimer ? asyncFn : new Timed();
      const h = await KeyedProcessFunctionHarness.create(fn, (w: string) => w, {
        stateBackend: make(),
        clock: new ManualClock(0),
        uid: "timed",
      });
      h.processElement("a");
      if (asyncTimer) {
        assert.throws(
          () => h.advanceProcessingTime(10),
          (e: unknown) =>
            e instanceof ConfigError &&
            /^onTimer of operator "\S+" returned a promise/.test(e.message),
        );
      } else {
        h.advanceProcessingTime(10);
        const [e] = await late.all;
        assert.ok(lateAccess("count", "timed")(e), String(e));
      }
      await h.close();
    }
  });

  Deno.test(`${backend}: window functions: async process fails; late window state throws`, async () => {
    const keyed = (env: StreamEnvironment) =>
      env.fromElements<[string, number]>(["a", 1], ["b", 2], ["a", 3])
        .assignTimestampsAndWatermarks(
          WatermarkStrategy.forMonotonousTimestamps<[string, number]>()
            .withTimestampAssigner(([, t]) => t),
        )
        .keyBy(([k]) => k)
        .window(TumblingEventTimeWindows.of<[string, number]>(10));

    const env = StreamEnvironment.create({ stateBackend: make() });
    keyed(env).process({
      // @ts-expect-error: the types reject an async function too
      async process() {},
    }).name("win").addSink(new CollectSink());
    await assert.rejects(env.execute(), promiseFailure("process", "win"));

    const env2 = StreamEnvironment.create({ stateBackend: make() });
    const late = lateCalls(4);
    const sink = new CollectSink<string>();
    keyed(env2).process({
      process(key: string, ctx, elements, out) {
        const fired = ctx.globalState().getState(COUNT);
        const perWindow = ctx.windowState().getState(FIRES);
        fired.update(fired.value()! + 1);
        out.collect(`${key} ${elements.length} ${fired.value()}`);
        for (const s of [fired, perWindow]) {
          setTimeout(() => {
            try {
              s.update(99);
            } catch (e) {
              late.report(e);
            }
          }, 0);
        }
      },
    }).uid("win").addSink(sink);
    await env2.execute();
    const errors = await late.all;
    assert.equal(errors.length, 4);
    for (const e of errors) {
      assert.ok(lateAccess("count", "win")(e) || lateAccess("fires", "win")(e), String(e));
    }
    assert.deepEqual(sink.values.sort(), ["a 2 1", "b 1 1"]);
  });

  Deno.test(`${backend}: async reduce (window and rolling) fails the job at its first call`, async () => {
    const env = StreamEnvironment.create({ stateBackend: make() });
    env.fromElements<[string, number]>(["a", 1], ["a", 2])
      .assignTimestampsAndWatermarks(
        WatermarkStrategy.forMonotonousTimestamps<[string, number]>()
          .withTimestampAssigner(([, t]) => t),
      )
      .keyBy(([k]) => k)
      .window(TumblingEventTimeWindows.of<[string, number]>(10))
      // deno-lint-ignore require-await
      .reduce((async (a: [string, number], _b: [string, number]) => a) as never)
      .name("sum").addSink(new CollectSink());
    await assert.rejects(env.execute(), promiseFailure("reduce", "sum"));

    // The rolling reduce of a keyed stream would store the promise (as "{}" in JSON).
    const rolling = StreamEnvironment.create({ stateBackend: make() });
    rolling.fromElements(1, 2, 3).keyBy(() => "all")
      // @ts-expect-error: the types reject an async function too
      .reduce(async (a: number, b: number) => await Promise.resolve(a + b))
      .addSink(new CollectSink());
    await assert.rejects(rolling.execute(), promiseFailure("reduce", "Reduce"));
  });

  Deno.test(`${backend}: connected and broadcast process functions: async fails, late state throws`, async () => {
    const env = StreamEnvironment.create({ stateBackend: make() });
    class AsyncSecond {
      processElement1() {}
      async processElement2() {}
    }
    env.fromElements(1, 2).keyBy((n) => n)
      .connect(env.fromElements("x").keyBy((s) => s.length))
      // @ts-expect-error: the types reject an async function too
      .process(new AsyncSecond()).name("co").addSink(new CollectSink());
    await assert.rejects(env.execute(), promiseFailure("processElement2", "co"));

    // Both inputs keyed by the same key: state set in either call is gone in a later callback.
    const late = lateCalls(4);
    const joined = StreamEnvironment.create({ stateBackend: make() });
    const sink = new CollectSink<string>();
    class Join implements CoProcessFunction<string, string, string> {
      seen!: ValueState<number>;
      open(ctx: RuntimeContext) {
        this.seen = ctx.getState(COUNT);
      }
      bump(v: string, out: Collector<string>) {
        const n = this.seen.value()! + 1;
        this.seen.update(n);
        out.collect(`${v} ${n}`);
        const seen = this.seen;
        setTimeout(() => {
          try {
            seen.update(-1);
          } catch (e) {
            late.report(e);
          }
        }, 0);
      }
      processElement1(v: string, _ctx: unknown, out: Collector<string>) {
        this.bump(v, out);
      }
      processElement2(v: string, _ctx: unknown, out: Collector<string>) {
        this.bump(v, out);
      }
    }
    joined.fromElements("a", "b").keyBy((s) => s)
      .connect(joined.fromElements("a", "a").keyBy((s) => s))
      .process(new Join()).uid("join").addSink(sink);
    await joined.execute();
    for (const e of await late.all) assert.ok(lateAccess("count", "join")(e), String(e));
    assert.deepEqual(sink.values.toSorted(), ["a 1", "a 2", "a 3", "b 1"]);

    class AsyncBroadcast {
      processElement(_v: string, _ctx: ReadOnlyBroadcastContext<unknown>) {}
      async processBroadcastElement() {}
    }
    const rules = new MapStateDescriptor("rules", Serializers.string, Serializers.f64);
    const env2 = StreamEnvironment.create({ stateBackend: make() });
    env2.fromElements("a").keyBy((w) => w)
      .connect(env2.fromElements(1).broadcast(rules as MapStateDescriptor<unknown, unknown>))
      // @ts-expect-error: the types reject an async function too
      .process(new AsyncBroadcast()).name("bc")
      .addSink(new CollectSink());
    await assert.rejects(env2.execute(), promiseFailure("processBroadcastElement", "bc"));
  });
}
