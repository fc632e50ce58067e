import assert from "node:assert/strict";
import {
  type Collector,
  CollectSink,
  ConfigError,
  CountTrigger,
  type FlatJoinFunction,
  GlobalWindows,
  JobFailedError,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from "../../mod.ts";

type Grade = [number, string, number];

/** Grades and salaries of WindowJoin.java (Flink's example), joined on the name per 5 ms window. */
function joinGrades<O>(
  fn: ((a: Grade, b: Grade) => O) | FlatJoinFunction<Grade, Grade, O>,
): { env: StreamEnvironment; out: CollectSink<O> } {
  const env = StreamEnvironment.create({ executor: "inline" });
  const ts = WatermarkStrategy.forMonotonousTimestamps<Grade>().withTimestampAssigner((e) => e[0]);
  const grades = env.fromCollection<Grade>([[0, "tom", 3], [2, "tom", 5]])
    .assignTimestampsAndWatermarks(ts);
  const salaries = env.fromCollection<Grade>([[1, "tom", 100], [6, "tom", 200]])
    .assignTimestampsAndWatermarks(ts);
  const out = new CollectSink<O>();
  grades.join(salaries).where((g) => g[1]).equalTo((s) => s[1])
    .window(TumblingEventTimeWindows.of(5))
    .apply(fn)
    .addSink(out);
  return { env, out };
}

Deno.test("window join: an object's join emits through out", async () => {
  const { env, out } = joinGrades<string>({
    join(a: Grade, b: Grade, o: Collector<string>) {
      o.collect(`${a[1]} ${a[2]} ${b[2]}`);
    },
  });
  await env.execute();
  assert.deepEqual(out.values, ["tom 3 100", "tom 5 100"]);
});

Deno.test("window join: a join method that returns its result (Flink's JoinFunction) fails the job", async () => {
  // Ported from Flink as a class whose join returns the joined tuple: it type-checks as a
  // FlatJoinFunction, and its results were dropped without a word.
  class MyJoinFunction implements FlatJoinFunction<Grade, Grade, string> {
    join(a: Grade, b: Grade) {
      return `${a[1]} ${a[2]} ${b[2]}`;
    }
  }
  const { env, out } = joinGrades<string>(new MyJoinFunction());
  await assert.rejects(
    env.execute(),
    (e) =>
      e instanceof JobFailedError && e.cause instanceof ConfigError &&
      /join of operator "Join" returned a value/.test(e.cause.message) &&
      /out\.collect\(result\)/.test(e.cause.message),
  );
  assert.deepEqual(out.values, []);
});

Deno.test("window join: an async join function fails the job instead of emitting promises", async () => {
  const { env, out } = joinGrades<Promise<string>>(async (a, b) => {
    await Promise.resolve();
    return `${a[2]} ${b[2]}`;
  });
  await assert.rejects(
    env.execute(),
    (e) =>
      e instanceof JobFailedError && e.cause instanceof ConfigError &&
      e.cause.message.startsWith('join of operator "Join" returned a promise'),
  );
  assert.deepEqual(out.values, []);
});

Deno.test("window coGroup: a coGroup that returns its records fails the job naming it, instead of emitting nothing", async () => {
  const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const grouped = env.fromElements(1, 2).coGroup(env.fromElements(3))
    .where(() => 0).equalTo(() => 0).window(GlobalWindows.create())
    .trigger(CountTrigger.of(3))
    .apply({ coGroup: (as: number[], bs: number[]) => [...as, ...bs] as never }, { name: "Both" });
  await assert.rejects(
    grouped.executeAndCollect(),
    (e) =>
      e instanceof JobFailedError && e.cause instanceof ConfigError &&
      e.cause.message.startsWith(
        'coGroup of operator "Both" returned an array of 3: a process function emits',
      ),
  );
});
