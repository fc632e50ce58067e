import assert from "node:assert/strict";
import { CollectSink } from "../connectors/collect_sink.ts";
import { JobFailedError } from "../errors.ts";
import { rescaleTargets } from "../runtime/physical_plan.ts";
import { StreamEnvironment } from "./environment.ts";
import type { RuntimeContext } from "./functions.ts";

/** A map that tags each record with the subtask it ran on: `subtask:value`. */
function tagSubtask<T>() {
  return {
    subtask: -1,
    open(ctx: RuntimeContext) {
      this.subtask = ctx.subtaskIndex;
    },
    map(v: T): string {
      return `${this.subtask}:${v}`;
    },
  };
}

/** Values per subtask from `subtask:value` lines. */
function bySubtask(lines: readonly string[]): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const l of lines) {
    const [s, v] = l.split(":");
    m.set(Number(s), [...(m.get(Number(s)) ?? []), v!]);
  }
  return m;
}

Deno.test("rescaleTargets: fan-out groups, fan-in groups, one to one", () => {
  assert.deepEqual([0, 1].map((i) => rescaleTargets(i, 2, 4)), [[0, 1], [2, 3]]);
  assert.deepEqual([0, 1, 2, 3].map((i) => rescaleTargets(i, 4, 2)), [[0], [0], [1], [1]]);
  assert.deepEqual([0, 1, 2].map((i) => rescaleTargets(i, 3, 3)), [[0], [1], [2]]);
  // Uneven: every consumer is fed, every producer feeds someone.
  const fanOut = [0, 1].map((i) => rescaleTargets(i, 2, 5));
  assert.deepEqual(fanOut.flat().toSorted(), [0, 1, 2, 3, 4]);
  const fanIn = [0, 1, 2, 3, 4].map((i) => rescaleTargets(i, 5, 2));
  assert.deepEqual([...new Set(fanIn.flat())].toSorted(), [0, 1]);
});

Deno.test("rescaleTargets: uneven groups are Flink's pointwise ones", () => {
  // Flink's EdgeManagerBuildUtil.connectPointwise: the first producers feed the larger groups.
  assert.deepEqual([0, 1].map((i) => rescaleTargets(i, 2, 3)), [[0, 1], [2]]);
  assert.deepEqual([0, 1, 2, 3].map((i) => rescaleTargets(i, 4, 6)), [[0, 1], [2], [3, 4], [5]]);
  assert.deepEqual([0, 1].map((i) => rescaleTargets(i, 2, 5)), [[0, 1, 2], [3, 4]]);
  // Fewer consumers: consumer j reads producers [floor(j * from / to), floor((j + 1) * from / to)).
  assert.deepEqual([0, 1, 2].map((i) => rescaleTargets(i, 3, 2)), [[0], [1], [1]]);
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => rescaleTargets(i, 5, 3)), [[0], [1], [1], [2], [2]]);
});

Deno.test("rescale 2 -> 3: producer 0's records reach subtasks 0 and 1, producer 1's subtask 2", async () => {
  const env = StreamEnvironment.create({ parallelism: 3, executor: "inline" });
  const out = new CollectSink<string>();
  // Source subtask i of 2 reads every 2nd item: subtask 0 gets even numbers.
  env.fromCollection([0, 1, 2, 3, 4, 5, 6, 7]).setParallelism(2).rescale().map(tagSubtask<number>())
    .addSink(out);
  await env.execute();
  const got = bySubtask(out.values);
  assert.deepEqual(got.get(0)!.length + got.get(1)!.length, 4);
  for (const s of [0, 1]) for (const v of got.get(s)!) assert.equal(Number(v) % 2, 0);
  assert.deepEqual(got.get(2)!.map(Number).toSorted(), [1, 3, 5, 7]);
});

Deno.test("rescale: each producer subtask feeds only its own group, round-robin", async () => {
  const env = StreamEnvironment.create({ parallelism: 4 });
  const out = new CollectSink<string>();
  // Source subtask i of 2 reads every 2nd item: subtask 0 gets even numbers.
  env.fromCollection([0, 1, 2, 3, 4, 5, 6, 7]).setParallelism(2).rescale().map(tagSubtask<number>())
    .addSink(out);
  const plan = env.getExecutionPlan();
  assert.equal(plan.channels.length, 4, "2 producers x a group of 2");
  await env.execute();
  const got = bySubtask(out.values);
  assert.deepEqual([...got.keys()].toSorted(), [0, 1, 2, 3], "round-robin reaches the whole group");
  for (const s of [0, 1]) for (const v of got.get(s)!) assert.equal(Number(v) % 2, 0);
  for (const s of [2, 3]) for (const v of got.get(s)!) assert.equal(Number(v) % 2, 1);
});

Deno.test("shuffle: records spread over every subtask, none lost", async () => {
  const env = StreamEnvironment.create({ parallelism: 3 });
  const out = new CollectSink<string>();
  const items = Array.from({ length: 300 }, (_, i) => i);
  env.fromCollection(items).setParallelism(1).shuffle().map(tagSubtask<number>()).addSink(out);
  await env.execute();
  const got = bySubtask(out.values);
  assert.deepEqual([...got.keys()].toSorted(), [0, 1, 2]);
  for (const vs of got.values()) assert.ok(vs.length > 30, `skewed: ${vs.length}`);
  assert.deepEqual([...got.values()].flat().map(Number).toSorted((a, b) => a - b), items);
});

Deno.test("partitionCustom: the partitioner picks the subtask; a bad answer is named", async () => {
  const env = StreamEnvironment.create({ parallelism: 3 });
  const out = new CollectSink<string>();
  env.fromCollection(["apple", "avocado", "banana", "cherry", "blueberry"]).setParallelism(1)
    .partitionCustom((first: string, n) => (first.charCodeAt(0) - 97) % n, (w) => w[0]!)
    .map(tagSubtask<string>()).addSink(out);
  await env.execute();
  const got = bySubtask(out.values);
  assert.deepEqual(got.get(0)?.toSorted(), ["apple", "avocado"]);
  assert.deepEqual(got.get(1)?.toSorted(), ["banana", "blueberry"]);
  assert.deepEqual(got.get(2), ["cherry"]);

  const bad = StreamEnvironment.create({ parallelism: 2 });
  bad.fromCollection([1]).setParallelism(1).partitionCustom(() => 2, (x) => x).map((x) => x);
  await assert.rejects(bad.execute(), (e: unknown) => {
    assert.ok(e instanceof JobFailedError);
    assert.match(String((e.cause as Error).message), /partitioner returned 2 for 2 partitions/);
    return true;
  });
});

Deno.test("startNewChain and disableChaining cut chains as in Flink", () => {
  const chains = (build: (env: StreamEnvironment) => void) => {
    const env = StreamEnvironment.create();
    build(env);
    return env.getExecutionPlan().chains.map((c) => c.vertices.length);
  };
  const base = (env: StreamEnvironment) =>
    env.fromElements(1).map((n: number) => n).filter(() => true);
  assert.deepEqual(chains((env) => void base(env).print()), [4]);
  // The new chain starts at filter; print still chains to it.
  assert.deepEqual(chains((env) => void base(env).startNewChain().print()), [2, 2]);
  // filter runs alone: neither chained to map nor print to it.
  assert.deepEqual(chains((env) => void base(env).disableChaining().print()), [2, 1, 1]);
});

Deno.test("minBy/maxBy keep whole records; first decides ties", async () => {
  type Reading = { sensor: string; temp: number; at: number };
  const readings: Reading[] = [
    { sensor: "a", temp: 20, at: 1 },
    { sensor: "a", temp: 18, at: 2 },
    { sensor: "a", temp: 18, at: 3 },
    { sensor: "a", temp: 25, at: 4 },
  ];
  const run = async (f: (s: ReturnType<typeof keyed>) => unknown) => {
    const env = StreamEnvironment.create();
    const out = new CollectSink<Reading>();
    const s = keyed(env);
    (f(s) as { addSink(x: CollectSink<Reading>): unknown }).addSink(out);
    await env.execute();
    return out.values.map((r) => `${r.temp}@${r.at}`);
  };
  const keyed = (env: StreamEnvironment) => env.fromCollection(readings).keyBy((r) => r.sensor);
  assert.deepEqual(await run((s) => s.minBy("temp")), ["20@1", "18@2", "18@2", "18@2"]);
  assert.deepEqual(await run((s) => s.minBy("temp", false)), ["20@1", "18@2", "18@3", "18@3"]);
  assert.deepEqual(await run((s) => s.maxBy("temp")), ["20@1", "20@1", "20@1", "25@4"]);
  // min only replaces the field: the other fields stay those of the first record.
  assert.deepEqual(await run((s) => s.min("temp")), ["20@1", "18@1", "18@1", "18@1"]);
});
