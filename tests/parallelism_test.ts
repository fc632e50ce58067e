/**
 * Keyed jobs give the same per-key results at every parallelism: records of
 * one key meet in one subtask, in input order, whatever the number of subtasks.
 */
import assert from "node:assert/strict";
import {
  CollectSink,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";
import { keyId } from "./_helpers/key_id.ts";
import { rng } from "./_helpers/queue_source.ts";

const SEEDS = [1, 7, 42, 1234];
const PARALLELISMS = [1, 2, 3, 4];

class WordCount implements KeyedProcessFunction<string, string, [string, number]> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }
  processElement(
    w: string,
    _ctx: KeyedProcessContext<string>,
    out: { collect(v: [string, number]): void },
  ) {
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect([w, n]);
  }
}

type Event = { key: unknown; value: number };

class RunningSum implements KeyedProcessFunction<unknown, Event, [string, number]> {
  sum!: ValueState<number>;
  open(ctx: RuntimeContext) {
    this.sum = ctx.getState(new ValueStateDescriptor("sum", Serializers.f64, 0));
  }
  processElement(
    e: Event,
    ctx: KeyedProcessContext<unknown>,
    out: { collect(v: [string, number]): void },
  ) {
    const s = this.sum.value()! + e.value;
    this.sum.update(s);
    out.collect([keyId(ctx.getCurrentKey()), s]);
  }
}

function perKey(pairs: [string, number][]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const [k, v] of pairs) {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  }
  return new Map([...m].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

function randomLines(seed: number): string[] {
  const rand = rng(seed);
  const vocabulary = Array.from({ length: 40 }, (_, i) => `w${i}${i % 3 === 0 ? "é" : ""}`);
  return Array.from({ length: 300 }, () => {
    const n = Math.floor(rand() * 8);
    // Skewed: low word ids are frequent, so some keys have long sequences.
    return Array.from({ length: n }, () => vocabulary[Math.floor(rand() ** 2 * 40)]!).join(" ");
  });
}

Deno.test("word counts are the same at parallelism 1, 2, 3 and 4", async () => {
  for (const seed of SEEDS) {
    const lines = randomLines(seed);
    const expected = new Map<string, number>();
    for (const w of lines.flatMap((l) => l.split(" ").filter(Boolean))) {
      expected.set(w, (expected.get(w) ?? 0) + 1);
    }
    const results: Map<string, number[]>[] = [];
    for (const parallelism of PARALLELISMS) {
      const env = StreamEnvironment.create({ parallelism });
      const out = new CollectSink<[string, number]>();
      env.fromCollection(lines) // a parallel source: line order across subtasks varies
        .flatMap((line: string, o) => line.split(" ").filter(Boolean).forEach((w) => o.collect(w)))
        .keyBy((w) => w)
        .process(new WordCount())
        .addSink(out);
      await env.execute(`word count p=${parallelism}`);
      const got = perKey(out.values);
      // Each word w occurring n times appears as w 1 … w n, in order.
      for (const [w, n] of expected) {
        assert.deepEqual(
          got.get(w),
          Array.from({ length: n }, (_, i) => i + 1),
          `seed ${seed} p ${parallelism} word ${w}`,
        );
      }
      assert.equal(got.size, expected.size);
      results.push(got);
    }
    for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
  }
});

Deno.test("per-key running sums match a model at every parallelism (mixed key types)", async () => {
  for (const seed of SEEDS) {
    const rand = rng(seed);
    const keys: unknown[] = [
      "a",
      "b",
      "",
      0,
      1,
      -2.5,
      10n,
      true,
      ["user", 1],
      ["user", 2],
      { region: "eu", id: 3 },
    ];
    const events: Event[] = Array.from({ length: 3000 }, () => ({
      key: keys[Math.floor(rand() * keys.length)],
      value: Math.floor(rand() * 200) - 100,
    }));
    // The model: per key (by its JSON form), the running sums in input order.
    const model = new Map<string, number[]>();
    const sums = new Map<string, number>();
    for (const e of events) {
      const k = keyId(e.key);
      const s = (sums.get(k) ?? 0) + e.value;
      sums.set(k, s);
      model.set(k, [...(model.get(k) ?? []), s]);
    }
    const expected = new Map([...model].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    for (const parallelism of PARALLELISMS) {
      const env = StreamEnvironment.create({ parallelism });
      const out = new CollectSink<[string, number]>();
      env.fromCollection(events).setParallelism(1) // one reader keeps the input order per key
        .keyBy((e) => e.key)
        .process(new RunningSum())
        .addSink(out);
      await env.execute(`sums p=${parallelism}`);
      assert.equal(out.values.length, events.length);
      assert.deepEqual(perKey(out.values), expected, `seed ${seed} p ${parallelism}`);
    }
  }
});
