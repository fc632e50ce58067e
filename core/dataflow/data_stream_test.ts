import assert from "node:assert/strict";
import { CollectSink } from "../connectors/collect_sink.ts";
import { ConfigError, StateError } from "../errors.ts";
import { OutputTag } from "../runtime/output_tag.ts";
import { GlobalWindows } from "../time/window_assigners.ts";
import { WatermarkStrategy } from "../time/watermark_strategy.ts";
import { MapStateDescriptor, ValueStateDescriptor } from "../state/descriptors.ts";
import { Serializers } from "../state/serializer.ts";
import type { ValueState } from "../state/state.ts";
import { QueueSource, waitFor } from "../../tests/_helpers/queue_source.ts";
import { HeapStateBackend } from "../state/heap/heap_backend.ts";
import { LsmStateBackend } from "../state/lsm/lsm_backend.ts";
import type { DataStream, KeyedStream } from "./data_stream.ts";
import { StreamEnvironment } from "./environment.ts";
import type {
  BroadcastProcessFunction,
  Collector,
  CoProcessFunction,
  KeyedProcessFunction,
  RuntimeContext,
} from "./functions.ts";

/** Groups [key, value] outputs into per-key sequences (order across keys may differ). */
function perKey<V>(pairs: [string, V][]): Record<string, V[]> {
  const out: Record<string, V[]> = {};
  for (const [k, v] of pairs) (out[k] ??= []).push(v);
  return out;
}

Deno.test("map, filter and flatMap with plain and rich functions", async () => {
  for (const parallelism of [1, 3]) {
    const env = StreamEnvironment.create({ parallelism });
    const out = new CollectSink<string>();
    class Tag {
      prefix = "";
      open(ctx: RuntimeContext) {
        this.prefix = `p${ctx.parallelism}`;
      }
      map(v: number) {
        return `${this.prefix}:${v}`;
      }
    }
    env.fromCollection([1, 2, 3, 4, 5, 6])
      .flatMap<number>((x: number, o) => {
        o.collect(x);
        if (x % 3 === 0) o.collect(x * 100);
      })
      .filter({ filter: (x: number) => x !== 2 })
      .map((x) => x + 1)
      .map(new Tag())
      .addSink(out);
    await env.execute("simple");
    assert.deepEqual(
      out.values.sort(),
      [2, 4, 5, 6, 7, 301, 601].map((v) => `p${parallelism}:${v}`).sort(),
    );
  }
});

Deno.test("map, filter and flatMap on a keyed stream read and write the record's keyed state", async () => {
  for (const parallelism of [1, 2]) {
    const env = StreamEnvironment.create({ parallelism, executor: "inline" });
    const out = new CollectSink<string>();
    /** Counts records per key in ValueState. */
    class Counter {
      seen: ValueState<number> | undefined;
      constructor(readonly name: string) {}
      open(ctx: RuntimeContext) {
        this.seen = ctx.getState(new ValueStateDescriptor(this.name, Serializers.f64, 0));
      }
      bump(): number {
        const n = this.seen!.value()! + 1;
        this.seen!.update(n);
        return n;
      }
    }
    class Numbered extends Counter {
      map(w: string) {
        return `${w}${this.bump()}`;
      }
    }
    class NotSecond extends Counter {
      filter() {
        return this.bump() !== 2;
      }
    }
    class Passed extends Counter {
      flatMap(w: string, o: Collector<string>) {
        o.collect(`${w}/${this.bump()}`);
      }
    }
    const first = (w: string) => w[0]!;
    env.fromCollection(["a", "b", "a", "c", "a", "b"]).keyBy((w) => w, Serializers.string)
      .map(new Numbered("m"))
      .keyBy(first, Serializers.string)
      .filter(new NotSecond("f"))
      .keyBy(first, Serializers.string)
      .flatMap(new Passed("x"))
      .addSink(out);
    await env.execute("keyed simple");
    // Each key's second record is filtered out; the flatMap counts what passed, per key.
    assert.deepEqual(out.values.sort(), ["a1/1", "a3/2", "b1/1", "c1/1"]);
  }
});

Deno.test("process with side outputs; getSideOutput reads each tag", async () => {
  const env = StreamEnvironment.create();
  const odd = new OutputTag<number>("odd");
  const big = new OutputTag<string>("big");
  const main = new CollectSink<number>();
  const odds = new CollectSink<number>();
  const bigs = new CollectSink<string>();
  const processed = env.fromCollection([1, 2, 3, 40, 50]).process<number>({
    processElement(v, ctx, out) {
      if (v % 2 === 1) ctx.output(odd, v);
      else out.collect(v);
      if (v > 10) ctx.output(big, `big ${v}`);
    },
  });
  processed.addSink(main);
  processed.getSideOutput(odd).map((v) => v * 10).addSink(odds);
  processed.getSideOutput(big).addSink(bigs);
  // An unread tag is dropped, not an error.
  await env.execute("side outputs");
  assert.deepEqual(main.values, [2, 40, 50]);
  assert.deepEqual(odds.values, [10, 30]);
  assert.deepEqual(bigs.values, ["big 40", "big 50"]);
});

class Counter implements KeyedProcessFunction<string, string, [string, number]> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }
  processElement(
    w: string,
    ctx: { getCurrentKey(): string },
    out: { collect(v: [string, number]): void },
  ) {
    assert.equal(ctx.getCurrentKey(), w);
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect([w, n]);
  }
}

Deno.test("keyBy + KeyedProcessFunction with ValueState counts per key", async () => {
  for (const parallelism of [1, 4]) {
    const env = StreamEnvironment.create({ parallelism });
    const out = new CollectSink<[string, number]>();
    const words = "a b a c b a d a".split(" ");
    env.fromCollection(words).keyBy((w) => w).process(new Counter()).addSink(out);
    await env.execute("count");
    const got = perKey(out.values);
    assert.deepEqual(got, { a: [1, 2, 3, 4], b: [1, 2], c: [1], d: [1] }, `p=${parallelism}`);
  }
});

Deno.test("keyed side outputs and composite keys", async () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  const firstSeen = new OutputTag<string>("first");
  const firsts = new CollectSink<string>();
  const out = new CollectSink<string>();
  class Dedupe implements KeyedProcessFunction<[string, number], [string, number], string> {
    seen!: ValueState<boolean>;
    open(ctx: RuntimeContext) {
      this.seen = ctx.getState(new ValueStateDescriptor("seen", Serializers.boolean));
    }
    processElement(
      v: [string, number],
      ctx: Parameters<
        KeyedProcessFunction<[string, number], [string, number], string>["processElement"]
      >[1],
      o: { collect(v: string): void },
    ) {
      if (!this.seen.value()) {
        this.seen.update(true);
        ctx.output(firstSeen, ctx.getCurrentKey().join("/"));
      }
      o.collect(v.join("/"));
    }
  }
  const s = env.fromCollection<[string, number]>([["a", 1], ["a", 2], ["a", 1], ["b", 1]])
    .keyBy((v) => v) // the whole tuple is the key
    .process(new Dedupe());
  s.addSink(out);
  s.getSideOutput(firstSeen).addSink(firsts);
  await env.execute("dedupe");
  assert.deepEqual(firsts.values.sort(), ["a/1", "a/2", "b/1"]);
  assert.equal(out.values.length, 4);
});

Deno.test("reduce, and sum/min/max by object field and tuple index", async () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  type R = { k: string; n: number; tag: string };
  const rows: R[] = [
    { k: "a", n: 3, tag: "first-a" },
    { k: "b", n: 10, tag: "first-b" },
    { k: "a", n: -1, tag: "x" },
    { k: "a", n: 5, tag: "y" },
    { k: "b", n: 1, tag: "z" },
  ];
  const sum = new CollectSink<R>();
  const min = new CollectSink<R>();
  const max = new CollectSink<R>();
  const reduced = new CollectSink<R>();
  const tupleSum = new CollectSink<[string, number]>();
  const tupleMax = new CollectSink<[string, number]>();
  const src = env.fromCollection(rows).setParallelism(1);
  src.keyBy((r) => r.k).sum("n").addSink(sum);
  src.keyBy((r) => r.k).min("n").addSink(min);
  src.keyBy((r) => r.k).max("n").addSink(max);
  src.keyBy((r) => r.k).reduce((a, b) => ({ ...b, n: a.n * 10 + b.n })).addSink(reduced);
  // Parallelism 1 keeps the per-key order (a rebalance to 2 subtasks would not).
  const tuples = src.map((r): [string, number] => [r.k, r.n]).setParallelism(1);
  tuples.keyBy((t) => t[0]).sum(1).addSink(tupleSum);
  tuples.keyBy((t) => t[0]).max(1).addSink(tupleMax);
  await env.execute("aggregations");
  const seq = (rs: R[]) => perKey(rs.map((r) => [r.k, `${r.n}:${r.tag}`] as [string, string]));
  // Other fields come from the first record of the key, as in Flink.
  assert.deepEqual(seq(sum.values), {
    a: ["3:first-a", "2:first-a", "7:first-a"],
    b: ["10:first-b", "11:first-b"],
  });
  assert.deepEqual(seq(min.values), {
    a: ["3:first-a", "-1:first-a", "-1:first-a"],
    b: ["10:first-b", "1:first-b"],
  });
  assert.deepEqual(seq(max.values), {
    a: ["3:first-a", "3:first-a", "5:first-a"],
    b: ["10:first-b", "10:first-b"],
  });
  assert.deepEqual(seq(reduced.values), {
    a: ["3:first-a", "29:x", "295:y"],
    b: ["10:first-b", "101:z"],
  });
  assert.deepEqual(perKey(tupleSum.values), { a: [3, 2, 7], b: [10, 11] });
  assert.deepEqual(perKey(tupleMax.values), { a: [3, 3, 5], b: [10, 10] });
  // Inputs are not mutated by the aggregation.
  assert.deepEqual(rows[0], { k: "a", n: 3, tag: "first-a" });
});

Deno.test("union merges streams of the same type", async () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  const out = new CollectSink<number>();
  const a = env.fromCollection([1, 2]);
  const b = env.fromCollection([10, 20]).map((x) => x + 1);
  const c = env.fromCollection([100]);
  a.union(b, c).map((x) => x * 2).addSink(out);
  await env.execute("union");
  assert.deepEqual(out.values.sort((x, y) => x - y), [2, 4, 22, 42, 200]);
});

Deno.test("connect + CoProcessFunction, non-keyed", async () => {
  const env = StreamEnvironment.create();
  const out = new CollectSink<string>();
  const fn: CoProcessFunction<number, string, string> = {
    processElement1: (v, _c, o) => o.collect(`n${v}`),
    processElement2: (v, _c, o) => o.collect(`s${v}`),
  };
  env.fromCollection([1, 2]).connect(env.fromCollection(["x", "y"])).process(fn).addSink(out);
  await env.execute("co");
  assert.deepEqual(out.values.sort(), ["n1", "n2", "sx", "sy"]);
});

Deno.test("connect + CoProcessFunction, keyed: both inputs share state per key", async () => {
  // Deterministic order: feed the first input, wait, then the second.
  const env = StreamEnvironment.create({ parallelism: 3 });
  const orders = new QueueSource<{ user: string; item: string }>("orders");
  const names = new QueueSource<[string, string]>("names");
  const out = new CollectSink<string>();
  let ordersIn = 0;
  class Join
    implements CoProcessFunction<{ user: string; item: string }, [string, string], string> {
    last!: ValueState<string>;
    open(ctx: RuntimeContext) {
      this.last = ctx.getState(new ValueStateDescriptor("last", Serializers.string));
    }
    processElement1(o: { user: string; item: string }) {
      ordersIn++;
      this.last.update(o.item);
    }
    processElement2(
      [user, name]: [string, string],
      ctx: { getCurrentKey(): unknown },
      c: { collect(s: string): void },
    ) {
      assert.equal(ctx.getCurrentKey(), user);
      c.collect(`${name} bought ${this.last.value() ?? "nothing"}`);
    }
  }
  env.addSource(orders).connect(env.addSource(names))
    .keyBy((o) => o.user, ([u]) => u)
    .process(new Join())
    .addSink(out);
  const client = env.executeAsync("join");
  orders.push({ user: "u1", item: "book" }, { user: "u2", item: "pen" }, {
    user: "u1",
    item: "lamp",
  });
  // Records cross a channel to the keyed task: wait until it processed them all.
  await waitFor(() => ordersIn === 3, "orders processed");
  names.push(["u1", "Ann"], ["u2", "Bob"], ["u3", "Cy"]);
  orders.end();
  names.end();
  await client.done;
  assert.deepEqual(out.values.sort(), ["Ann bought lamp", "Bob bought pen", "Cy bought nothing"]);
});

Deno.test("connect + CoMapFunction and CoFlatMapFunction: keyed state, open() and node names", async () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  const mapped = new CollectSink<string>();
  const flat = new CollectSink<string>();
  const seen = new ValueStateDescriptor("seen", Serializers.f64, 0);
  class Count {
    n!: ValueState<number>;
    open(ctx: RuntimeContext) {
      this.n = ctx.getState(seen);
    }
    bump(): number {
      const n = this.n.value()! + 1;
      this.n.update(n);
      return n;
    }
    map1(word: string) {
      return `${word}#${this.bump()}`;
    }
    map2([word, k]: [string, number]) {
      return `${word}+${k}#${this.bump()}`;
    }
  }
  const words = env.fromCollection(["a", "b", "a"]);
  const bonus = env.fromCollection<[string, number]>([["a", 10]]);
  words.connect(bonus).keyBy((w) => w, ([w]) => w).map(new Count()).addSink(mapped);
  const flatNode = words.connect(env.fromCollection([3])).flatMap({
    flatMap1: (w, out) => out.collect(w.toUpperCase()),
    flatMap2: (n, out) => {
      for (let i = 0; i < n; i++) out.collect(`${i}`);
    },
  });
  flatNode.addSink(flat);
  assert.equal(flatNode.node.name, "CoFlatMap");
  await env.execute("co-map");
  // Per key, the counter counts records of both inputs (their order between inputs is free).
  const a = mapped.values.filter((v) => v.startsWith("a")).map((v) => v.split("#")[1]).sort();
  assert.deepEqual(a, ["1", "2", "3"]);
  assert.deepEqual(mapped.values.filter((v) => v.startsWith("b")), ["b#1"]);
  assert.deepEqual(flat.values.sort(), ["0", "1", "2", "A", "A", "B"]);
});

Deno.test("broadcast state pattern: keyed stream + broadcast stream, applyToKeyedState", async () => {
  const env = StreamEnvironment.create({ parallelism: 3 });
  const limits = new MapStateDescriptor("limits", Serializers.string, Serializers.f64);
  const totalDesc = new ValueStateDescriptor("total", Serializers.f64, 0);
  const events = new QueueSource<[string, number]>("events");
  const rules = new QueueSource<[string, number] | "reset">("rules");
  const out = new CollectSink<string>();
  // Calls on all 3 subtasks: each sees every rule, and the events of its keys.
  let rulesIn = 0, eventsIn = 0;
  class Alert
    implements BroadcastProcessFunction<[string, number], [string, number] | "reset", string> {
    total!: ValueState<number>;
    open(ctx: RuntimeContext) {
      this.total = ctx.getState(totalDesc);
    }
    processElement(
      [k, v]: [string, number],
      ctx: Parameters<
        BroadcastProcessFunction<[string, number], unknown, string>["processElement"]
      >[1],
      o: { collect(s: string): void },
    ) {
      eventsIn++;
      const t = this.total.value()! + v;
      this.total.update(t);
      const limit = ctx.getBroadcastState(limits).get(k);
      if (limit !== undefined && t > limit) o.collect(`${k} over ${limit}: ${t}`);
    }
    processBroadcastElement(
      r: [string, number] | "reset",
      ctx: Parameters<
        BroadcastProcessFunction<unknown, unknown, string>["processBroadcastElement"]
      >[1],
      o: { collect(s: string): void },
    ) {
      rulesIn++;
      if (r === "reset") {
        ctx.applyToKeyedState(totalDesc, (key, state) => {
          o.collect(`reset ${key} at ${(state as ValueState<number>).value()}`);
          state.clear();
        });
      } else ctx.getBroadcastState(limits).put(r[0], r[1]);
    }
  }
  env.addSource(events).keyBy(([k]) => k)
    .connect(env.addSource(rules).broadcast(limits as MapStateDescriptor<unknown, unknown>))
    .process(new Alert())
    .addSink(out);
  const client = env.executeAsync("alerts");
  // The two inputs are ordered by waiting until the function processed what was pushed.
  rules.push(["a", 5], ["b", 100]);
  await waitFor(() => rulesIn === 2 * 3, "the limits on every subtask");
  events.push(["a", 3], ["b", 50], ["a", 3], ["c", 1]);
  await waitFor(() => eventsIn === 4, "the events processed");
  rules.push("reset");
  await waitFor(() => rulesIn === 3 * 3, "the reset on every subtask");
  events.push(["a", 4]);
  events.end();
  rules.end();
  await client.done;
  assert.deepEqual(out.values.sort(), [
    "a over 5: 6",
    "reset a at 6",
    "reset b at 50",
    "reset c at 1",
  ]);
});

Deno.test("executeAndCollect: every record of a bounded job, from every subtask", async () => {
  for (const parallelism of [1, 3]) {
    const env = StreamEnvironment.create({ parallelism });
    const squares = await env.fromCollection([1, 2, 3, 4, 5, 6])
      .keyBy((n) => n % 2, Serializers.f64)
      .map((n: number) => n * n)
      .executeAndCollect({ jobName: "squares" });
    assert.deepEqual(squares.toSorted((a, b) => a - b), [1, 4, 9, 16, 25, 36]);
  }
});

Deno.test("executeAndCollect({ limit }): the first records of an unbounded job, then the job is cancelled", async () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  let made = 0;
  const first = await env.generate({ generate: (n) => (made++, n) })
    .filter((n: number) => n % 3 === 0)
    .executeAndCollect({ limit: 1000 });
  assert.equal(first.length, 1000);
  assert.ok(first.every((n) => n % 3 === 0));
  assert.equal(new Set(first).size, 1000, "no record twice");
  // Cancelled: the generator makes nothing more once the call resolved.
  const after = made;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(made, after);
});

Deno.test("executeAndCollect({ limit }) of a job that ends first resolves with what it made", async () => {
  const env = StreamEnvironment.create();
  assert.deepEqual(await env.fromElements("a", "b").executeAndCollect({ limit: 5 }), ["a", "b"]);
});

Deno.test("executeAndCollect: a limit that is not a positive integer is a ConfigError naming it", async () => {
  for (const limit of [0, -1, 1.5, NaN]) {
    const env = StreamEnvironment.create();
    await assert.rejects(
      env.fromElements(1).executeAndCollect({ limit }),
      {
        name: "ConfigError",
        message: `executeAndCollect: limit must be a positive integer, got ${limit}`,
      },
    );
  }
});

Deno.test("executeAndCollect given Flink's limit or job name is a ConfigError showing the options object", async () => {
  const env = StreamEnvironment.create();
  const stream = env.fromElements(1);
  await assert.rejects(stream.executeAndCollect(5 as never), {
    name: "ConfigError",
    message: "executeAndCollect takes an object of options, got 5: " +
      "Flink's executeAndCollect(5) is executeAndCollect({ limit: 5 })",
  });
  await assert.rejects(
    stream.executeAndCollect("job" as never),
    /Flink's executeAndCollect\("job"\) is executeAndCollect\(\{ jobName: "job" \}\)/,
  );
});

Deno.test("executeAndCollect: a job that fails rejects with its error", async () => {
  const env = StreamEnvironment.create();
  await assert.rejects(
    env.fromElements(1, 2).map((n: number) => {
      if (n === 2) throw new Error("bad record 2");
      return n;
    }).executeAndCollect(),
    (e: Error) =>
      String(e.message + (e.cause as Error | undefined)?.message).includes("bad record 2"),
  );
});

Deno.test("executeAndCollect without checkpoints: a job that fails once and starts over gives each record once", async () => {
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    parallelism: 2,
    restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 0 },
    log: (l) => logs.push(l),
  });
  let failed = false;
  const records = 20_000;
  const doubled = await env.generate({ count: records, generate: (n) => n })
    .keyBy((n) => n % 10, Serializers.f64)
    .map((n: number) => {
      if (!failed && n > records / 2) {
        failed = true;
        throw new Error("injected failure");
      }
      return 2 * n;
    })
    .executeAndCollect();
  assert.ok(failed && logs.some((l) => l.includes("restarting")), logs.join("\n"));
  assert.deepEqual(
    doubled.toSorted((a, b) => a - b),
    Array.from({ length: records }, (_, n) => 2 * n),
    "each record once",
  );
});

Deno.test("executeAndCollect with checkpoints: a job that fails once and restores a checkpoint gives each record once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-collect-" });
  try {
    const logs: string[] = [];
    const env = StreamEnvironment.create({
      parallelism: 2,
      checkpoint: { dir, intervalMs: 10 },
      restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 0 },
      log: (l) => logs.push(l),
    });
    let failed = false;
    const checkpointed = () => [...Deno.readDirSync(dir)].some((e) => e.name.startsWith("chk-"));
    const records = 20_000;
    const doubled = await env.generate({
      count: records,
      ratePerSecond: 40_000,
      generate: (n) => n,
    })
      .keyBy((n) => n % 10, Serializers.f64)
      .map((n: number) => {
        // Fails once, after a checkpoint completed, so the restart restores it.
        if (!failed && n > records / 2 && checkpointed()) {
          failed = true;
          throw new Error("injected failure");
        }
        return 2 * n;
      })
      .executeAndCollect();
    assert.ok(failed);
    assert.ok(
      logs.some((l) => /restoring checkpoint \d+ after a failure/.test(l)),
      logs.join("\n"),
    );
    assert.equal(doubled.length, records, "each record once");
    assert.deepEqual(
      doubled.toSorted((a, b) => a - b),
      Array.from({ length: records }, (_, n) => 2 * n),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a rolling reduce that returns undefined fails the job with a ConfigError naming it", async () => {
  const env = StreamEnvironment.create();
  const out = new CollectSink<{ k: string; n: number }>();
  env.fromElements({ k: "a", n: 1 }, { k: "a", n: 2 }, { k: "a", n: 3 })
    .keyBy((r) => r.k)
    .reduce((a, b) => {
      a.n += b.n; // updated in place, not returned
      return undefined as unknown as typeof a;
    })
    .addSink(out);
  await assert.rejects(
    env.execute(),
    (e: Error) =>
      e.cause instanceof ConfigError &&
      /reduce of operator "Reduce.*" returned undefined/.test(e.cause.message),
  );
  // Only the key's first record went out: no undefined, no key starting again.
  assert.deepEqual(out.values, [{ k: "a", n: 1 }]);
});

Deno.test("sum/min/max/minBy/maxBy refuse a missing or mistyped field; min/max compare strings", async () => {
  type R = { k: string; n?: unknown; tag: string };
  const run = async (rows: R[], agg: (s: ReturnType<typeof keyed>) => unknown) => {
    const env = StreamEnvironment.create();
    const out = new CollectSink<R>();
    const s = keyed(env, rows);
    (agg(s) as { addSink(s: CollectSink<R>): unknown }).addSink(out);
    await env.execute();
    return out.values;
  };
  const keyed = (env: StreamEnvironment, rows: R[]) => env.fromCollection(rows).keyBy((r) => r.k);
  const refused = (op: string, why: RegExp) => (e: Error) =>
    e.cause instanceof ConfigError && e.cause.message.startsWith(`${op}("n")`) &&
    why.test(e.cause.message);
  // A string field was concatenated ("12"), a missing one gave NaN: Flink refuses both.
  await assert.rejects(
    run([{ k: "a", n: "1", tag: "x" }, { k: "a", n: "2", tag: "y" }], (s) => s.sum("n")),
    refused("sum", /field "n" is a string \(1\); sum takes number values/),
  );
  await assert.rejects(
    run([{ k: "a", tag: "x" }], (s) => s.sum("n")), // the key's first record is checked too
    refused("sum", /field "n" is missing/),
  );
  await assert.rejects(
    run([{ k: "a", n: 1, tag: "x" }, { k: "a", n: "0", tag: "y" }], (s) => s.minBy("n")),
    refused("minBy", /is a string \(0\); earlier records of the key had a number/),
  );
  await assert.rejects(
    run([{ k: "a", n: 1, tag: "x" }, { k: "a", n: null, tag: "y" }], (s) => s.max("n")),
    refused("max", /is null/),
  );
  // Strings compare as strings, as Flink's Comparable fields do (Math.min gave NaN).
  const words = [{ k: "a", n: "pear", tag: "x" }, { k: "a", n: "apple", tag: "y" }];
  assert.deepEqual((await run(words, (s) => s.min("n"))).map((r) => r.n), ["pear", "apple"]);
  assert.deepEqual((await run(words, (s) => s.max("n"))).map((r) => r.n), ["pear", "pear"]);
  assert.deepEqual((await run(words, (s) => s.minBy("n"))).map((r) => r.tag), ["x", "y"]);
});

Deno.test('sum/min/max/minBy/maxBy of a stream of numbers or strings take field 0 or "*", the record itself, as Flink\'s on a basic type; another field is a ConfigError', async () => {
  for (const backend of [new HeapStateBackend(), new LsmStateBackend()]) {
    const run = async <T>(build: (env: StreamEnvironment) => DataStream<T>) => {
      const env = StreamEnvironment.create({ stateBackend: backend });
      const out = new CollectSink<T>();
      build(env).addSink(out);
      await env.execute();
      return out.values;
    };
    const nums = (env: StreamEnvironment) => env.fromElements(1, 2, 3).keyBy(() => "all");
    // sum(0) failed with "field 0 is missing"; Flink sums the Integers.
    assert.deepEqual(await run((env) => nums(env).sum(0)), [1, 3, 6]);
    assert.deepEqual(await run((env) => nums(env).max("*")), [1, 2, 3]);
    assert.deepEqual(await run((env) => nums(env).countWindow(3).sum(0)), [6]);
    // min(0) of strings compared first characters and emitted objects of characters.
    const words = (env: StreamEnvironment) =>
      env.fromElements("banana", "apple", "avocado").keyBy(() => "all");
    assert.deepEqual(await run((env) => words(env).min(0)), ["banana", "apple", "apple"]);
    assert.deepEqual(await run((env) => words(env).maxBy(0)), ["banana", "banana", "banana"]);
    assert.deepEqual(await run((env) => words(env).countWindow(3).max(0)), ["banana"]);
    const fruit = (env: StreamEnvironment) =>
      env.fromElements("apple", "avocado").keyBy(() => "all");
    assert.deepEqual(await run((env) => fruit(env).maxBy(0)), ["apple", "avocado"]);
    await assert.rejects(
      run((env) => words(env).min(1 as 0)),
      (e: Error) =>
        e.cause instanceof ConfigError &&
        /min\(1\): the records are strings, whose only field is 0/.test(e.cause.message),
    );
  }
});

Deno.test("broadcast state: a descriptor not given to broadcast(...) is a StateError naming it, as in Flink", async () => {
  const limits = new MapStateDescriptor("limits", Serializers.string, Serializers.f64);
  const typo = new MapStateDescriptor("limit", Serializers.string, Serializers.f64);
  for (const side of ["main", "broadcast"] as const) {
    const env = StreamEnvironment.create();
    const out = new CollectSink<string>();
    const fn: BroadcastProcessFunction<string, [string, number], string> = {
      processElement(k, ctx, o) {
        // Read through the typo, this saw an empty map: no rule ever applied.
        const limit = ctx.getBroadcastState(side === "main" ? typo : limits).get(k);
        o.collect(`${k}:${limit}`);
      },
      processBroadcastElement([k, v], ctx) {
        ctx.getBroadcastState(side === "broadcast" ? typo : limits).put(k, v);
      },
    };
    const rules = env.fromElements<[string, number]>(["a", 1]).broadcast(limits);
    env.fromElements("a").keyBy((k) => k).connect(rules).process(fn).addSink(out);
    await assert.rejects(
      env.execute(),
      (e: Error) =>
        e.cause instanceof StateError &&
        /broadcast state "limit" does not exist; the broadcast\(\.\.\.\) call declares "limits"/
          .test(e.cause.message),
      side,
    );
  }
});

Deno.test("uid, name, parallelism or chaining on a keyBy, partitioned or side output stream is a ConfigError, not a change to its producer", () => {
  const env = StreamEnvironment.create();
  const tag = new OutputTag<string>("side");
  const doubled = env.fromElements(1, 2).map((n: number) => n * 2, { uid: "double" });
  const views: [string, () => unknown][] = [
    ["keyBy", () => doubled.keyBy((n) => n).uid("keyed")],
    ["rebalance()", () => doubled.rebalance().setParallelism(4)],
    ["partitionCustom", () => doubled.partitionCustom((k: number) => k, (n) => n).name("p")],
    ['getSideOutput("side")', () => doubled.getSideOutput(tag).uid("side")],
    ["forward()", () => doubled.forward().startNewChain()],
  ];
  for (const [made, set] of views) {
    assert.throws(
      set,
      (e) =>
        e instanceof ConfigError &&
        e.message.includes(
          `on the stream ${made} made of operator "Map" would set that operator's`,
        ),
      made,
    );
  }
  // The producer kept its own settings; its own stream still takes them.
  assert.equal(doubled.node.uid, "double");
  assert.equal(doubled.node.parallelism, undefined);
  doubled.name("Double").setParallelism(2);
  assert.equal(doubled.node.name, "Double");
});

Deno.test("windowAll's operator is non-parallel, as Flink's: a parallelism above 1 set on it is a ConfigError naming it", () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  const input = env.fromElements(1, 2, 3);
  const nonParallel = (e: unknown) =>
    e instanceof ConfigError &&
    /Operator "Window\(Reduce\)" is non-parallel \(windowAll .*must be 1, got 2/.test(e.message);
  const sums = () => input.countWindowAll(2).reduce((a, b) => a + b);
  assert.throws(() => sums().setParallelism(2), nonParallel);
  assert.throws(
    () => input.countWindowAll(2).reduce((a, b) => a + b, { parallelism: 2 }),
    nonParallel,
  );
  // 1 is its parallelism anyway; a keyed window stays parallel.
  const planned = StreamEnvironment.create({ parallelism: 2 });
  const more = planned.fromElements(1, 2, 3);
  more.countWindowAll(2).reduce((a, b) => a + b).setParallelism(1).print();
  more.keyBy((n) => n).countWindow(2).reduce((a, b) => a + b).setParallelism(2).print();
  const plan = planned.getExecutionPlan();
  assert.deepEqual(
    plan.vertices.filter((v) => v.name === "Window(Reduce)").map((v) => v.parallelism),
    [1, 2],
  );
});

Deno.test("connect: keyed inputs with different key serializers are a ConfigError, not keys that never meet", () => {
  const env = StreamEnvironment.create({ parallelism: 4 });
  const byString = env.fromElements("k1").keyBy((k) => k, Serializers.string);
  const byDefault = env.fromElements("k1").keyBy((k) => k);
  const co: CoProcessFunction<string, string, string> = {
    processElement1: (k, _c, out) => out.collect(k),
    processElement2: (k, _c, out) => out.collect(k),
  };
  assert.throws(
    () => byString.connect(byDefault).process(co),
    (e) =>
      e instanceof ConfigError &&
      /connect: both inputs need the same key serializer, got "string" and "key"/.test(e.message),
  );
  // The same serializer on both sides (ConnectedStreams.keyBy gives one) is fine.
  byString.connect(env.fromElements("k1").keyBy((k) => k, Serializers.string)).process(co);
});

Deno.test("min/max/minBy/maxBy order NaN as Flink's Double.compare: above every number", async () => {
  type R = { k: string; n: number; tag: string };
  const rows: R[] = [
    { k: "a", n: 1, tag: "x" },
    { k: "a", n: NaN, tag: "y" },
    { k: "a", n: Infinity, tag: "z" },
    { k: "b", n: NaN, tag: "p" },
    { k: "b", n: NaN, tag: "q" },
    { k: "b", n: -0, tag: "r" },
    { k: "b", n: 0, tag: "s" },
  ];
  for (const backend of [() => new HeapStateBackend(), () => new LsmStateBackend()]) {
    const run = async (agg: "min" | "max" | "minBy" | "maxBy") => {
      const env = StreamEnvironment.create({ parallelism: 1, stateBackend: backend() });
      const out = new CollectSink<R>();
      env.fromCollection(rows).keyBy((r) => r.k)[agg]("n").addSink(out);
      await env.execute();
      // NaN and -0 as text, so that deepEqual tells them from null and 0.
      return perKey(out.values.map((r) => [r.k, `${Object.is(r.n, -0) ? "-0" : r.n}${r.tag}`]));
    };
    const label = backend().name;
    // min: NaN loses to any number; -0 is below 0. max: NaN wins over +Infinity.
    assert.deepEqual(await run("min"), {
      a: ["1x", "1x", "1x"],
      b: ["NaNp", "NaNp", "-0p", "-0p"],
    }, label);
    assert.deepEqual(await run("max"), {
      a: ["1x", "NaNx", "NaNx"],
      b: ["NaNp", "NaNp", "NaNp", "NaNp"],
    }, label);
    assert.deepEqual(await run("minBy"), {
      a: ["1x", "1x", "1x"],
      b: ["NaNp", "NaNp", "-0r", "-0r"],
    }, label);
    assert.deepEqual(await run("maxBy"), {
      a: ["1x", "NaNy", "NaNy"],
      b: ["NaNp", "NaNp", "NaNp", "NaNp"],
    }, label);
  }
});

Deno.test("a rolling aggregation restores the state earlier versions kept as JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-agg-json-" });
  try {
    type R = { k: string; n: number };
    const run = async (restore: boolean, build: (s: KeyedStream<R, string>) => DataStream<R>) => {
      const env = StreamEnvironment.create({
        parallelism: 1,
        checkpoint: { dir },
        ...(restore ? { restore: "latest", allowNonRestoredState: true } : {}),
      });
      const out = new CollectSink<R>();
      // A new source each time: the first one's position says it has read everything.
      const records = env.fromCollection<R>([{ k: "a", n: restore ? 2 : 5 }]).uid(`src${+restore}`);
      build(records.keyBy((r) => r.k))
        .uid("agg").addSink(out);
      await env.execute();
      return out.values.map((r) => r.n);
    };
    // What max kept before: its state as JSON (the serializer reduce defaults to).
    assert.deepEqual(await run(false, (s) => s.reduce((a, b) => (a.n >= b.n ? a : b))), [5]);
    assert.deepEqual(await run(true, (s) => s.max("n")), [5]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a user function, key selector or sink of the wrong kind is a ConfigError naming the call when the job is built", () => {
  // Unchecked code (`deno run` does not type-check) passes these; each used to fail at the first
  // record with a TypeError from inside weir, or never (an input without records).
  const env = StreamEnvironment.create({ parallelism: 1 });
  const s = env.fromElements(1, 2) as DataStream<unknown>;
  const k = s.keyBy((v) => v);
  const bad = null as never;
  const refusals: [() => unknown, string][] = [
    [() => s.map(bad), "map needs a function, or an object with map(), got null"],
    [
      () => s.filter({} as never),
      "filter needs a function, or an object with filter(), got an object without filter()",
    ],
    [
      () => s.flatMap("split" as never),
      'flatMap needs a function, or an object with flatMap(), got the string "split"',
    ],
    [
      () => s.process((() => {}) as never),
      "process needs an object with processElement(), got a function",
    ],
    [
      () => s.addSink(((v: unknown) => v) as never),
      "addSink needs an object with invoke(), got a function",
    ],
    [
      () => k.map(undefined as never),
      "map needs a function, or an object with map(), got undefined",
    ],
    [
      () => k.process({ processElement: 1 } as never),
      "process needs an object with processElement(), got an object without processElement()",
    ],
    [() => k.reduce(bad), "reduce needs a function, got null"],
    [
      () => s.connect(s).map({ map1: (v: unknown) => v } as never),
      "ConnectedStreams.map needs an object with map1() and map2(), got an object without map2()",
    ],
    [
      () => k.countWindow(2).aggregate({ add: () => 0 } as never),
      "window aggregate needs an object with createAccumulator() and add() and getResult(), got an object without createAccumulator() and getResult()",
    ],
    [
      () => s.windowAll(GlobalWindows.create()).process(bad),
      "window process needs an object with process(), got null",
    ],
    // A Flink SourceFunction is not a Source: it used to fail only once the job ran, with
    // "createReader is not a function".
    [
      () => env.addSource({ run() {}, cancel() {} } as never),
      "addSource needs an object with createReader(), got an object without createReader()",
    ],
    [() => env.addSource(bad), "addSource needs an object with createReader(), got null"],
    [
      () => env.fromSource({ name: "x" } as never, WatermarkStrategy.noWatermarks(), "x"),
      "fromSource needs an object with createReader(), got an object without createReader()",
    ],
  ];
  for (const [build, message] of refusals) {
    assert.throws(build, (e) => e instanceof ConfigError && e.message === message, message);
  }
});

Deno.test("an OutputTag without a non-empty string id is a ConfigError, as in Flink, not a side output that reads the main output", () => {
  // `new OutputTag()` used to make getSideOutput(tag) the main output, its records lost.
  for (const [id, got] of [[undefined, "undefined"], ["", '""'], [7, "the number 7"]] as const) {
    assert.throws(
      () => new OutputTag(id as never),
      (e) =>
        e instanceof ConfigError &&
        e.message === `OutputTag id must be a non-empty string, got ${got}`,
    );
  }
  assert.equal(new OutputTag("late").id, "late");
});

Deno.test("operator options: a misspelt one is a ConfigError naming the operator and the option, not a generated uid or the default parallelism", () => {
  const env = StreamEnvironment.create({ parallelism: 1 });
  const s = env.fromElements(1, 2);
  const k = s.keyBy((n) => n);
  const cases: [() => unknown, string][] = [
    [
      () => s.map((n: number) => n, { parallelizm: 2 } as never),
      'Operator "Map": unknown option "parallelizm" (did you mean "parallelism"?)',
    ],
    [
      () => s.addSink(new CollectSink<number>(), { UID: "out" } as never),
      'Operator "Sink": unknown option "UID" (did you mean "uid"?)',
    ],
    [
      () => env.addSource(new QueueSource<number>(), { id: "in" } as never),
      'Source "queue": unknown option "id" (did you mean "uid"?)',
    ],
    [
      () =>
        k.countWindow(2).reduce(
          (a: number, b: number) => a + b,
          { serialiser: Serializers.f64 } as never,
        ),
      'Operator "Window(Reduce)": unknown option "serialiser" (did you mean "serializer"?)',
    ],
    [
      () =>
        k.intervalJoin(k).between(0, 1).process({ processElement() {} }, { uids: "j" } as never),
      'Operator "IntervalJoin": unknown option "uids" (did you mean "uid"?)',
    ],
  ];
  for (const [build, message] of cases) {
    assert.throws(build, (e) => e instanceof ConfigError && e.message === message, message);
  }
});

Deno.test("ConnectedStreams.flatMap: a flatMap1 or flatMap2 that returns its records fails the job naming it, instead of emitting nothing", async () => {
  const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const words = env.fromElements("a b").connect(env.fromElements(1)).flatMap({
    flatMap1: (line: string) => line.split(" ") as never,
    flatMap2: (n: number, out: Collector<string>) => out.collect(String(n)),
  }).name("Words");
  await assert.rejects(
    words.executeAndCollect(),
    (e) =>
      e instanceof Error && e.cause instanceof ConfigError &&
      e.cause.message.startsWith(
        'flatMap1 of operator "Words" returned an array of 2: a flatMap function emits its records with out.collect(record)',
      ),
  );
});

Deno.test("keyBy, connect's keyBy and a join's where/equalTo refuse a key that is not a function (Flink's keyBy(0)) when the job is built", () => {
  const env = StreamEnvironment.create();
  const pairs = env.fromElements<[string, number]>(["a", 1]);
  const refused = (method: string, got: string, example: string) => (e: unknown) =>
    e instanceof ConfigError &&
    e.message === `${method} takes a key selector function, got ${got}: Flink's positions and ` +
        `field names are functions here, e.g. ${example}`;
  assert.throws(() => pairs.keyBy(0 as never), refused("keyBy", "0", "(t) => t[0]"));
  assert.throws(
    () => env.fromElements({ user: "u" }).keyBy("user" as never),
    refused("keyBy", '"user"', "(r) => r.user"),
  );
  assert.throws(
    () => pairs.connect(pairs).keyBy((p) => p[0], 0 as never),
    refused("keyBy", "0", "(t) => t[0]"),
  );
  assert.throws(() => pairs.join(pairs).where(0 as never), refused("where", "0", "(t) => t[0]"));
  assert.throws(
    () => pairs.coGroup(pairs).where((p) => p[0]).equalTo(1 as never),
    refused("equalTo", "1", "(t) => t[1]"),
  );
});

Deno.test("a filter that returns undefined (a missing return) fails the job naming it, instead of dropping every record; other falsy values drop the record", async () => {
  for (const keyed of [false, true]) {
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    const numbers = env.fromElements(1, 2, 3);
    const input = keyed ? numbers.keyBy((n) => n % 2) : numbers;
    // @ts-expect-error: the types want a boolean, as Flink's compiler does
    const kept = input.filter((n: number) => { // a block body without its return
      n > 1;
    }).name("Big");
    await assert.rejects(
      kept.executeAndCollect(),
      (e) =>
        e instanceof Error && e.cause instanceof ConfigError &&
        e.cause.message ===
          'filter of operator "Big" returned undefined: a filter function returns true to keep ' +
            "the record and false to drop it (a missing return?)",
      keyed ? "keyed" : "not keyed",
    );
  }
  const env = StreamEnvironment.create({ parallelism: 1 });
  const falsy = [null, 0, "", false, NaN];
  const kept = await env.fromElements(0, 1, 2, 3, 4, 5)
    .filter((i: number) => (i === 5 ? "yes" : falsy[i]) as boolean)
    .executeAndCollect();
  assert.deepEqual(kept, [5]);
});

Deno.test("KeyedStream.mapWithState (Flink's Scala mapWithState, Bytewax's stateful_map): per-key state, cleared by an undefined state, on both backends", async () => {
  for (const stateBackend of [new HeapStateBackend(), new LsmStateBackend()]) {
    const env = StreamEnvironment.create({ parallelism: 2, stateBackend });
    const seen = await env.fromElements<[string, number]>(
      ["a", 1],
      ["b", 5],
      ["a", 2],
      ["a", -3],
      ["b", 1],
      ["a", 4],
    )
      .keyBy(([k]) => k)
      .mapWithState(([k, n], sum: { total: number } | undefined) => {
        const total = (sum?.total ?? 0) + n;
        // The state a record saw, and the new one: cleared when the sum is back at 0.
        return [`${k}:${sum?.total ?? "-"}->${total}`, total === 0 ? undefined : { total }];
      })
      .executeAndCollect();
    assert.deepEqual(seen.filter((s) => s.startsWith("a")), [
      "a:-->1",
      "a:1->3",
      "a:3->0",
      "a:-->4", // the cleared state is gone
    ]);
    assert.deepEqual(seen.filter((s) => s.startsWith("b")), ["b:-->5", "b:5->6"]);
  }
  const refused = async (fn: (v: number, s: unknown) => unknown, message: RegExp) => {
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    const out = env.fromElements(1).keyBy((n) => n).mapWithState(fn as never, undefined, {
      name: "Sum",
    });
    await assert.rejects(
      out.executeAndCollect(),
      (e) => e instanceof Error && e.cause instanceof ConfigError && message.test(e.cause.message),
      String(message),
    );
  };
  await refused(
    (n) => n + 1,
    /^mapWithState of operator "Sum.*" returned the number 2: its function returns \[result, newState\]/,
  );
  await refused(
    (n) => Promise.resolve([n, n]),
    /^mapWithState of operator "Sum.*" returned a promise/,
  );
  await refused(
    (n) => [undefined, n],
    /^mapWithState of operator "Sum.*" returned undefined: a map function returns the record/,
  );
  assert.throws(
    () => StreamEnvironment.create().fromElements(1).keyBy((n) => n).mapWithState(5 as never),
    ConfigError,
  );
});

Deno.test("a map (or a CoMap's map1/map2) that returns undefined (a missing return) fails the job naming it, instead of emitting undefined records", async () => {
  const failsWith = (message: string) => (e: unknown) =>
    e instanceof Error && e.cause instanceof ConfigError && e.cause.message === message;
  const expected = (method: string, operator: string) =>
    `${method} of operator "${operator}" returned undefined: a map function returns the record ` +
    "to emit (a missing return?); to emit nothing for some records use flatMap or filter";
  for (const keyed of [false, true]) {
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    const numbers = env.fromElements(1, 2);
    const input = keyed ? numbers.keyBy((n) => n % 2) : numbers;
    const plusOne = input.map((n: number) => { // a block body without its return
      n + 1;
    }).name("PlusOne");
    await assert.rejects(
      plusOne.executeAndCollect(),
      failsWith(expected("map", "PlusOne")),
      keyed ? "keyed" : "not keyed",
    );
  }
  const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const both = env.fromElements(1).connect(env.fromElements("a")).map({
    map1: (n: number) => String(n),
    // @ts-expect-error: the types want the record, as Java's compiler wants the return
    map2: (s: string) => {
      s.toUpperCase();
    },
  }).name("Both");
  await assert.rejects(both.executeAndCollect(), failsWith(expected("map2", "Both")));
  // null is a value a map may return.
  const nulls = await StreamEnvironment.create().fromElements(1).map(() => null)
    .executeAndCollect();
  assert.deepEqual(nulls, [null]);
});
