import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { CollectSink } from "../connectors/collect_sink.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { WatermarkStrategy } from "./watermark_strategy.ts";

type E = { id: string; ts: number };

/** Runs an interval join of one left and two right elements per key; returns the pairs. */
async function join(
  lower: number,
  upper: number,
  lowerExclusive: boolean,
  upperExclusive: boolean,
): Promise<string[]> {
  const env = StreamEnvironment.create();
  const wm = WatermarkStrategy.forMonotonousTimestamps<E>().withTimestampAssigner((e) => e.ts);
  const left = env.fromElements<E>({ id: "a", ts: 10 }).assignTimestampsAndWatermarks(wm);
  const right = env.fromElements<E>({ id: "a", ts: 10 }, { id: "a", ts: 11 })
    .assignTimestampsAndWatermarks(wm);
  let j = left.keyBy((e) => e.id).intervalJoin(right.keyBy((e) => e.id)).between(lower, upper);
  if (lowerExclusive) j = j.lowerBoundExclusive();
  if (upperExclusive) j = j.upperBoundExclusive();
  const out = new CollectSink<string>();
  j.process({ processElement: (l, r, _ctx, c) => c.collect(`${l.ts}-${r.ts}`) }).addSink(out);
  await env.execute();
  return out.values.sort();
}

Deno.test("interval join: bounds are checked as given, exclusive bounds may leave nothing to join (as Flink)", async () => {
  assert.deepEqual(await join(0, 0, false, false), ["10-10"]);
  assert.deepEqual(await join(0, 0, true, true), []);
  assert.deepEqual(await join(0, 0, true, false), []);
  assert.deepEqual(await join(0, 0, false, true), []);
  assert.deepEqual(await join(0, 1, true, true), []);
  assert.deepEqual(await join(0, 1, true, false), ["10-11"]);
});

Deno.test("interval join: lower above upper is a ConfigError naming both bounds", () => {
  const env = StreamEnvironment.create();
  const k = env.fromElements(1).keyBy((n) => n);
  assert.throws(
    () => k.intervalJoin(env.fromElements(2).keyBy((n) => n)).between(3, 2),
    (e) => e instanceof ConfigError && /\[3, 2\]/.test(e.message),
  );
});

Deno.test("interval join: a record at ±Infinity is a ConfigError naming the timestamp, as Flink refuses Long.MIN_VALUE", async () => {
  for (const bad of [-Infinity, Infinity]) {
    for (const side of ["left", "right"]) {
      const env = StreamEnvironment.create();
      const wm = WatermarkStrategy.forMonotonousTimestamps<E>().withTimestampAssigner((e) => e.ts);
      const l = env.fromElements<E>({ id: "a", ts: side === "left" ? bad : 10 });
      const r = env.fromElements<E>({ id: "a", ts: side === "right" ? bad : 10 });
      const out = new CollectSink<string>();
      l.assignTimestampsAndWatermarks(wm).keyBy((e) => e.id)
        .intervalJoin(r.assignTimestampsAndWatermarks(wm).keyBy((e) => e.id))
        .between(-5, 5)
        .process({ processElement: (a, b, _ctx, c) => c.collect(`${a.ts}-${b.ts}`) })
        .addSink(out);
      await assert.rejects(
        env.execute(),
        (e: Error) => e.message.includes(`timestamp ${bad} reached an interval join`),
        `${side} at ${bad}`,
      );
    }
  }
});

Deno.test("interval join: a processElement that returns its pairs or a promise fails the job naming it, instead of emitting nothing", async () => {
  const wm = WatermarkStrategy.forMonotonousTimestamps<E>().withTimestampAssigner((e) => e.ts);
  const returning = [
    [(l: E, r: E) => [`${l.ts}-${r.ts}`], "returned an array of 1"],
    [async () => {}, "returned a promise"],
  ] as const;
  for (const [fn, what] of returning) {
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    const left = env.fromElements<E>({ id: "a", ts: 10 }).assignTimestampsAndWatermarks(wm);
    const right = env.fromElements<E>({ id: "a", ts: 11 }).assignTimestampsAndWatermarks(wm);
    const joined = left.keyBy((e) => e.id).intervalJoin(right.keyBy((e) => e.id)).between(0, 5)
      .process<string>({ processElement: fn as never }).name("Pairs");
    await assert.rejects(
      joined.executeAndCollect(),
      (e) =>
        e instanceof Error && e.cause instanceof ConfigError &&
        e.cause.message.startsWith(`processElement of operator "Pairs" ${what}`),
    );
  }
});
