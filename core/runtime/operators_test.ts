import assert from "node:assert/strict";
import {
  type Collector,
  ConfigError,
  JobFailedError,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  MapStateDescriptor,
  type RuntimeContext,
  Serializers,
  StateError,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../../mod.ts";
import { OperatorHarness } from "../testing/mod.ts";
import { ProcessOperator } from "./operators.ts";

/** Counts each key's records in keyed state; emits `key:count` through a detached `collect`. */
class CountPerKey implements KeyedProcessFunction<string, string, string> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }
  processElement(_w: string, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    const emit = out.collect;
    emit(`${ctx.getCurrentKey()}:${n}`);
  }
}

Deno.test("each process operator runs an entry of its own, and each collector a collect of its own: the record's key, state and timestamp", async () => {
  const ops = [0, 1].map(() => new ProcessOperator(new CountPerKey(), (w) => w));
  const [a, b] = await Promise.all(
    ops.map((op) => OperatorHarness.forOperator(op, { keySerializer: Serializers.string })),
  );
  a!.processElement("x", 10);
  a!.processElement("x", 11);
  b!.processElement("x", 12);
  a!.processElement("y");
  assert.deepEqual(a!.outputWithTimestamps(), [
    { value: "x:1", timestamp: 10 },
    { value: "x:2", timestamp: 11 },
    { value: "y:1", timestamp: undefined },
  ]);
  assert.deepEqual(b!.outputWithTimestamps(), [{ value: "x:1", timestamp: 12 }]);
  // Compiled per instance (each its own type feedback), not one method shared.
  assert.notEqual(ops[0]!.processElement, ops[1]!.processElement);
  assert.notEqual(ops[0]!.processElement.name, ops[1]!.processElement.name);
});

Deno.test("a flatMap that returns its records instead of collecting them fails the job, naming it", async () => {
  // Unchecked code (`deno run` does not type-check) may take flatMap for JavaScript's Array one.
  const returning = [
    (line: string) => line.split(" "),
    (line: string) => line.length,
    { flatMap: (line: string) => ({ line }) },
  ] as unknown as ((line: string, out: Collector<string>) => void)[];
  for (const fn of returning) {
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    await assert.rejects(
      env.fromElements("a b").flatMap(fn).name("Split").executeAndCollect(),
      (e) =>
        e instanceof JobFailedError && e.cause instanceof ConfigError &&
        /^flatMap of operator "Split" returned .*: a flatMap function emits its records with out\.collect/
          .test(e.cause.message),
    );
  }
  // Nothing, a boolean from `ok && out.collect(w)`, a falsy value from `w && out.collect(w)`
  // ("") and the array of what collect returned (`map` used for its calls) hold no record: the
  // words pass.
  const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const words = await env.fromElements("a b", "", "c")
    .flatMap<string>(((line: string, out: Collector<string>) => line && out.collect(line)) as never)
    .flatMap((line: string, out: Collector<string>) =>
      line.split(" ").forEach((w) => (w !== "" && out.collect(w)) as unknown as void)
    )
    .flatMap(((w: string, out: Collector<string>) => w !== "" && out.collect(w)) as never)
    .flatMap(((w: string, out: Collector<string>) => [w].map((x) => out.collect(x))) as never)
    .executeAndCollect();
  assert.deepEqual(words, ["a", "b", "c"]);
});

Deno.test("a process function that returns its records instead of collecting them fails the job, naming the method and operator", async () => {
  const rule = "a process function emits its records with out.collect(record) and returns nothing";
  const fails = (job: (env: StreamEnvironment) => { executeAndCollect(): Promise<unknown> }) => {
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    return job(env).executeAndCollect().then(
      () => "no error",
      (e) => e instanceof JobFailedError && e.cause instanceof ConfigError ? e.cause.message : e,
    );
  };
  const rules = new MapStateDescriptor("rules", Serializers.string, Serializers.f64);
  const cases: [(env: StreamEnvironment) => { executeAndCollect(): Promise<unknown> }, string][] = [
    [
      (env) => env.fromElements(1).process({ processElement: (x: number) => [x] as never }),
      'processElement of operator "Process" returned an array of 1',
    ],
    [
      (env) =>
        env.fromElements(1).keyBy((x) => x).process({ processElement: (x: number) => x as never })
          .name("P"),
      'processElement of operator "P" returned the number 1',
    ],
    [
      (env) =>
        env.fromElements(1).keyBy((x) => x).process({
          processElement: (_x: number, ctx: KeyedProcessContext<number>) =>
            ctx.timerService().registerEventTimeTimer(5),
          onTimer: (t: number) => [t] as never,
        }).name("P"),
      'onTimer of operator "P" returned an array of 1',
    ],
    [
      (env) =>
        env.fromElements(1).connect(env.fromElements("a")).process({
          processElement1: () => {},
          processElement2: (s: string) => s as never,
        }).name("C"),
      'processElement2 of operator "C" returned the string "a"',
    ],
    [
      (env) =>
        env.fromElements(1).keyBy((x) => x).connect(env.fromElements("a").broadcast(rules))
          .process({
            processElement: (x: number) => ({ x }) as never,
            processBroadcastElement: () => {},
          }).name("B"),
      'processElement of operator "B" returned an object',
    ],
  ];
  for (const [job, message] of cases) {
    const got = await fails(job);
    assert.ok(typeof got === "string" && got.startsWith(`${message}: ${rule}`), String(got));
  }
  // Nothing, a falsy value and the array of what collect returned hold no record: they pass.
  const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const out = await env.fromElements(1, 0, 2).keyBy((x) => x).process({
    processElement: ((x: number, _c: unknown, out: Collector<number>) =>
      x && [x].map((y) =>
        out.collect(y)
      )) as never,
  }).executeAndCollect();
  assert.deepEqual(out.sort(), [1, 2]);
});

Deno.test("a RuntimeContext state getter given a descriptor of another kind is a StateError naming both, not a TypeError at its first use", async () => {
  const cases: [(ctx: RuntimeContext) => unknown, string][] = [
    [
      (ctx) => ctx.getListState(new ValueStateDescriptor("seen", Serializers.f64) as never),
      'getListState needs a ListStateDescriptor, got the ValueStateDescriptor "seen" (its state comes from getState)',
    ],
    [
      (ctx) =>
        ctx.getState(new MapStateDescriptor("m", Serializers.string, Serializers.f64) as never),
      'getState needs a ValueStateDescriptor, got the MapStateDescriptor "m" (its state comes from getMapState)',
    ],
    [
      (ctx) => ctx.getMapState("pages" as never),
      'getMapState needs a MapStateDescriptor, got the string "pages"',
    ],
  ];
  for (const [get, message] of cases) {
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    const fn: KeyedProcessFunction<number, number, number> = {
      open(ctx) {
        get(ctx);
      },
      processElement(v, _ctx, out) {
        out.collect(v);
      },
    };
    await assert.rejects(
      env.fromElements(1).keyBy((n) => n).process(fn).executeAndCollect(),
      (e) =>
        e instanceof JobFailedError && e.cause instanceof StateError && e.cause.message === message,
      message,
    );
  }
});
