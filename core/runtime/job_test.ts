import assert from "node:assert/strict";
import { CollectSink } from "../connectors/collect_sink.ts";
import type { SinkFunction } from "../connectors/sink.ts";
import { ConfigError, JobFailedError, StateError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import type {
  KeyedProcessFunction,
  OnTimerContext,
  RuntimeContext,
} from "../dataflow/functions.ts";
import { ValueStateDescriptor } from "../state/descriptors.ts";
import { Serializers } from "../state/serializer.ts";
import type { ValueState } from "../state/state.ts";
import { HeapStateBackend } from "../state/heap/heap_backend.ts";
import { SlidingEventTimeWindows } from "../time/window_assigners.ts";
import { WatermarkStrategy } from "../time/watermark_strategy.ts";
import { QueueSource, waitFor } from "../../tests/_helpers/queue_source.ts";
import { ManualClock } from "./clock.ts";
import { uidOf } from "./graph.ts";

/** A map that tags each record with the subtask that saw it. */
class WhereAmI {
  index = -1;
  open(ctx: RuntimeContext) {
    this.index = ctx.subtaskIndex;
  }
  map(v: number): [number, number] {
    return [v, this.index];
  }
}

function bySubtask(pairs: [number, number][], parallelism: number): number[][] {
  const out: number[][] = Array.from({ length: parallelism }, () => []);
  for (const [v, i] of pairs) out[i]!.push(v);
  return out.map((xs) => xs.sort((a, b) => a - b));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("partitioning: rebalance spreads round-robin over the subtasks", async () => {
  const env = StreamEnvironment.create();
  const out = new CollectSink<[number, number]>();
  env.fromCollection(range(300)).rebalance().map(new WhereAmI()).setParallelism(3).addSink(out);
  await env.execute("rebalance");
  const parts = bySubtask(out.values, 3);
  assert.deepEqual(parts.map((p) => p.length), [100, 100, 100]);
  assert.deepEqual(parts.flat().sort((a, b) => a - b), range(300));
});

Deno.test("partitioning: forward keeps subtask i's records on subtask i", async () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  const out = new CollectSink<[number, number]>();
  // The array source at parallelism 2: subtask i reads items i, i+2, ...: evens on 0, odds on 1.
  env.fromCollection(range(20)).setParallelism(2).forward().map(new WhereAmI()).addSink(out);
  await env.execute("forward");
  const parts = bySubtask(out.values, 2);
  assert.deepEqual(parts[0], range(10).map((i) => 2 * i));
  assert.deepEqual(parts[1], range(10).map((i) => 2 * i + 1));
});

Deno.test("partitioning: global sends everything to subtask 0; broadcast to every subtask", async () => {
  const env = StreamEnvironment.create({ parallelism: 3 });
  const global = new CollectSink<[number, number]>();
  const broadcast = new CollectSink<[number, number]>();
  const src = env.fromCollection(range(30));
  src.global().map(new WhereAmI()).addSink(global);
  src.broadcast().map(new WhereAmI()).addSink(broadcast);
  await env.execute("global and broadcast");
  const g = bySubtask(global.values, 3);
  assert.deepEqual(g, [range(30), [], []]);
  const b = bySubtask(broadcast.values, 3);
  assert.deepEqual(b, [range(30), range(30), range(30)]);
});

Deno.test("partitioning: keyBy sends each key to exactly one subtask", async () => {
  const env = StreamEnvironment.create({ parallelism: 4 });
  const out = new CollectSink<[number, number]>();
  env.fromCollection(range(400)).keyBy((v) => v % 17).map(new WhereAmI()).addSink(out);
  await env.execute("hash");
  const owner = new Map<number, number>();
  for (const [v, i] of out.values) {
    const k = v % 17;
    assert.equal(owner.get(k) ?? i, i, `key ${k} seen on two subtasks`);
    owner.set(k, i);
  }
  assert.equal(out.values.length, 400);
  assert.ok(new Set(owner.values()).size > 1, "17 keys over 4 subtasks use more than one");
});

Deno.test("uid, name and setParallelism shape the plan", () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  env.fromCollection([1]).uid("src")
    .map((x: number) => x).name("parse").uid("parse-v1").setParallelism(3)
    .filter(() => true, { name: "keep", parallelism: 3 })
    .addSink(new CollectSink()).name("out").setParallelism(1);
  const job = env.build("plan");
  const uids = new Set(job.placed.map((p) => uidOf(p.node)));
  assert.ok(uids.has("src") && uids.has("parse-v1"));
  const parse = job.placed.filter((p) => p.node.name === "parse");
  assert.equal(parse.length, 3, "three subtasks of parse");
  assert.equal(job.placed.filter((p) => p.node.name === "out").length, 1);
  // parse and keep have equal parallelism and a forward edge: one chain, three tasks.
  const names = job.tasks.map((t) => t.name);
  assert.equal(names.filter((n) => n.startsWith("parse -> keep")).length, 3, names.join("; "));
  assert.ok(names.some((n) => n === "out (1/1)"), names.join("; "));
  assert.throws(() => env.build("again"), ConfigError, "an environment builds once");
});

Deno.test("a bad parallelism is a ConfigError", () => {
  const env = StreamEnvironment.create();
  assert.throws(() => env.fromCollection([1]).map((x) => x).setParallelism(0), ConfigError);
  assert.throws(() => StreamEnvironment.create({ parallelism: 0 }), ConfigError);
  assert.throws(() => StreamEnvironment.create({ parallelism: 4, maxParallelism: 2 }), ConfigError);
  const env2 = StreamEnvironment.create({ maxParallelism: 4 });
  env2.fromCollection([1]).map((x) => x).setParallelism(8).addSink(new CollectSink());
  assert.throws(
    () => env2.build("too wide"),
    (e: unknown) => e instanceof ConfigError && /exceeds maxParallelism 4/.test(e.message),
  );
});

Deno.test("a duplicate uid is a ConfigError naming both operators", () => {
  const env = StreamEnvironment.create();
  const s = env.fromCollection([1]);
  s.map((x) => x).name("first").uid("same").addSink(new CollectSink());
  s.map((x) => x).name("second").uid("same").addSink(new CollectSink());
  assert.throws(
    () => env.build("dup"),
    (e: unknown) =>
      e instanceof ConfigError && e.message.includes('"same"') &&
      e.message.includes('"first"') && e.message.includes('"second"'),
  );
});

Deno.test("a forward edge between different parallelisms is a ConfigError", async () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  env.fromCollection([1, 2]).setParallelism(2).forward().map((x) => x).setParallelism(3).addSink(
    new CollectSink(),
  );
  await assert.rejects(
    async () => await env.execute("forward mismatch"),
    (e: unknown) => e instanceof ConfigError && /forward edge.*\(2 → 3\)/.test(e.message),
  );
});

Deno.test("keyed state in a non-keyed map fails the job with a StateError cause", async () => {
  const env = StreamEnvironment.create();
  env.fromCollection([1, 2]).map({
    open(ctx: RuntimeContext) {
      ctx.getState(new ValueStateDescriptor("v", Serializers.f64));
    },
    map: (x: number) => x,
  }).name("stateful").addSink(new CollectSink());
  await assert.rejects(
    () => env.execute("not keyed"),
    (e: unknown) =>
      e instanceof JobFailedError && e.cause instanceof StateError &&
      /keyed stream/.test(e.cause.message) && /"stateful"/.test(e.message),
  );
});

Deno.test("a throwing user function fails the job: JobFailedError names the task, keeps the cause", async () => {
  for (const parallelism of [1, 3]) {
    const env = StreamEnvironment.create({ parallelism });
    const boom = new RangeError("record 7 is bad");
    let closed = 0;
    env.fromCollection(range(1000)).rebalance()
      .map((x: number) => {
        if (x === 7) throw boom;
        return x;
      }).name("parse")
      .addSink({ invoke() {}, close: () => void closed++ });
    await assert.rejects(
      () => env.execute("fails"),
      (e: unknown) =>
        e instanceof JobFailedError && e.cause === boom && /"fails" failed/.test(e.message) &&
        /in task parse/.test(e.message) && e.message.includes("record 7 is bad"),
    );
    assert.equal(closed, parallelism, "every sink subtask is closed after a failure");
  }
});

Deno.test("executeAsync().cancel() stops a job on an unbounded source", async () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  const src = new QueueSource<number>();
  const out = new CollectSink<number>();
  env.addSource(src).keyBy((x) => x % 5).map((x) => x).addSink(out);
  const client = env.executeAsync("forever");
  src.push(...range(100));
  await waitFor(() => out.values.length === 100, "100 records");
  client.cancel();
  const result = await client.done;
  assert.equal(result.cancelled, true);
  assert.equal(result.name, "forever");
});

Deno.test("a task that never waits still lets timers and I/O run (an HTTP request is answered)", async () => {
  const env = StreamEnvironment.create();
  let n = 0;
  // A source that always has records: its task never waits, it only yields.
  env.addSource<number>({
    name: "busy",
    createReader: () => ({
      poll(out, max) {
        for (let i = 0; i < max; i++) out.collect(n++);
        return "more";
      },
      position: () => n,
      restore() {},
    }),
  }).map((x) => x + 1).addSink({ invoke() {} });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const client = env.executeAsync("busy");
  try {
    await waitFor(() => n > 100_000, "records flowing");
    const t = performance.now();
    const timer = new Promise<number>((r) => setTimeout(() => r(performance.now() - t), 20));
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await res.text(), "ok");
    const fetchMs = performance.now() - t;
    const timerMs = await timer;
    const during = n;
    await waitFor(() => n > during + 100_000, "records still flowing");
    // I/O gets a turn every IO_YIELD_EVERY_MS (100 ms); without those turns this took ~1.7 s.
    assert.ok(fetchMs < 800, `the request took ${fetchMs.toFixed(0)} ms`);
    assert.ok(timerMs < 500, `a 20 ms timer fired after ${timerMs.toFixed(0)} ms`);
  } finally {
    client.cancel();
    await client.done;
    await server.shutdown();
  }
});

Deno.test("a sink's flush runs after every batch, while the job runs", async () => {
  const env = StreamEnvironment.create();
  const src = new QueueSource<number>();
  let flushes = 0;
  let seen = 0;
  const sink: SinkFunction<number> = {
    invoke() {
      seen++;
    },
    async flush() {
      flushes++;
      await new Promise((r) => setTimeout(r, 1));
    },
  };
  env.addSource(src).rebalance().addSink(sink);
  const client = env.executeAsync("flushing");
  src.push(1, 2, 3);
  await waitFor(() => seen === 3 && flushes > 0, "a flush before end of input");
  src.end();
  await client.done;
});

Deno.test("processing-time timers fire through a real job driven by a ManualClock", async () => {
  const clock = new ManualClock(1000);
  const env = StreamEnvironment.create({ parallelism: 2, clock });
  const src = new QueueSource<string>();
  const out = new CollectSink<string>();
  let processed = 0;
  class Sessions implements KeyedProcessFunction<string, string, string> {
    count!: ValueState<number>;
    open(ctx: RuntimeContext) {
      this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
    }
    processElement(
      _v: string,
      ctx: Parameters<KeyedProcessFunction<string, string, string>["processElement"]>[1],
    ) {
      processed++;
      this.count.update(this.count.value()! + 1);
      const t = ctx.timerService();
      // Registering the same time twice is one timer.
      t.registerProcessingTimeTimer(ctx.currentProcessingTime() + 100);
      t.registerProcessingTimeTimer(ctx.currentProcessingTime() + 100);
    }
    onTimer(ts: number, ctx: OnTimerContext<string>, o: { collect(s: string): void }) {
      assert.equal(ctx.timeDomain(), "processing-time");
      o.collect(`${ctx.getCurrentKey()}@${ts}:${this.count.value()}`);
      this.count.clear();
    }
  }
  env.addSource(src).keyBy((w) => w).process(new Sessions()).addSink(out);
  const client = env.executeAsync("timers");
  src.push("a", "b", "a");
  // Each record registers its timer at 1100 as it is processed; a record processed after the
  // clock moved would register a later one.
  await waitFor(() => processed === 3, "the three records processed");
  clock.advance(99);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(out.values, [], "nothing is due before 1100");
  clock.advance(1);
  await waitFor(() => out.values.length === 2, "two timers fired");
  assert.deepEqual(out.values.sort(), ["a@1100:2", "b@1100:1"]);
  src.push("a");
  await waitFor(() => processed === 4, "the fourth record processed");
  clock.advance(500);
  await waitFor(() => out.values.length === 3, "the third timer");
  assert.equal(out.values[2], "a@1200:1");
  src.end();
  const result = await client.done;
  assert.equal(result.cancelled, false);
});

Deno.test("a user function that throws a value that is not an Error fails the job showing the value", async () => {
  for (const [thrown, shown] of [[{ code: 42 }, "{ code: 42 }"], [undefined, "undefined"]]) {
    const env = StreamEnvironment.create({ parallelism: 1 });
    env.fromElements(1, 2).map((n: number) => {
      if (n === 2) throw thrown;
      return n;
    }).addSink(new CollectSink());
    await assert.rejects(
      env.execute("throws"),
      (e: unknown) =>
        e instanceof JobFailedError &&
        e.message.endsWith(`: a non-Error value was thrown: ${shown}`),
    );
  }
});

for (const backend of ["heap", "lsm"] as const) {
  Deno.test(`keys 0 and -0 are one key at parallelism 1 and 2 (${backend}), as === says`, async () => {
    const results: string[][] = [];
    for (const parallelism of [1, 2]) {
      const env = StreamEnvironment.create({
        parallelism,
        ...(backend === "heap" ? { stateBackend: new HeapStateBackend() } : {}),
      });
      const out = new CollectSink<string>();
      env.fromElements(0, -0, 0, -0).setParallelism(1)
        .keyBy((n: number) => n, Serializers.f64)
        .process<string>(
          {
            count: undefined as unknown as ValueState<number>,
            open(ctx) {
              this.count = ctx.getState(new ValueStateDescriptor("n", Serializers.f64, 0));
            },
            processElement(_n, _ctx, o) {
              const c = this.count.value()! + 1;
              this.count.update(c);
              o.collect(String(c));
            },
          } as KeyedProcessFunction<number, number, string> & { count: ValueState<number> },
        )
        .addSink(out);
      await env.execute("zeros");
      results.push(out.values.toSorted());
    }
    assert.deepEqual(results, [["1", "2", "3", "4"], ["1", "2", "3", "4"]]);
  });
}

Deno.test("Serializers.i32 keys that are no 32-bit integer fail the job at every parallelism and on both backends, naming the value and the range", async () => {
  for (const backend of ["heap", "lsm"] as const) {
    for (const parallelism of [1, 2]) {
      const env = StreamEnvironment.create({
        parallelism,
        ...(backend === "heap" ? { stateBackend: new HeapStateBackend() } : {}),
      });
      env.fromElements(1, 1.5).setParallelism(1)
        .keyBy((n: number) => n, Serializers.i32)
        .reduce((a: number, b: number) => a + b)
        .addSink(new CollectSink());
      await assert.rejects(
        env.execute("i32 keys"),
        (e: unknown) =>
          e instanceof JobFailedError &&
          e.message.includes(
            'Serializer "i32" cannot serialize 1.5: it takes integers from -2147483648 to 2147483647',
          ),
        `${backend}, parallelism ${parallelism}`,
      );
    }
  }
});

Deno.test("a reduce function that updates its first argument in place changes no input record (heap: sliding windows, another branch, the source)", async () => {
  type C = { k: string; n: number; ts: number };
  const data: C[] = Array.from({ length: 6 }, (_, i) => ({ k: "a", n: 1, ts: i * 10 }));
  const env = StreamEnvironment.create({ parallelism: 1, stateBackend: new HeapStateBackend() });
  const s = env.fromCollection(data).assignTimestampsAndWatermarks(
    WatermarkStrategy.forMonotonousTimestamps<C>().withTimestampAssigner((c) => c.ts),
  );
  const inPlace = (a: C, b: C) => {
    a.n += b.n;
    return a;
  };
  const sums = new CollectSink<string>(), raw = new CollectSink<number>();
  const rolling = new CollectSink<number>();
  s.keyBy((c) => c.k, Serializers.string).window(SlidingEventTimeWindows.of<C>(20, 10))
    .reduce(inPlace).map((c: C) => `${c.n}`).addSink(sums);
  s.keyBy((c) => c.k, Serializers.string).reduce(inPlace).map((c: C) => c.n).addSink(rolling);
  s.map((c: C) => c.n).addSink(raw);
  await env.execute("in place");
  // Windows [-10,10) .. [50,70) hold 1, 2, 2, 2, 2, 2, 1 records.
  assert.deepEqual(sums.values, ["1", "2", "2", "2", "2", "2", "1"]);
  assert.deepEqual(raw.values, [1, 1, 1, 1, 1, 1]);
  assert.equal(rolling.values.at(-1), 6);
  assert.deepEqual(data.map((c) => c.n), [1, 1, 1, 1, 1, 1], "the source's records");
});

Deno.test("inline: an error nothing caught in async work of a user function fails the attempt, and the job restarts", async () => {
  for (const leave of ["rejected promise", "timer that throws"] as const) {
    const logs: string[] = [];
    const env = StreamEnvironment.create({
      parallelism: 1,
      executor: "inline",
      restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 0 },
      log: (l) => logs.push(l),
    });
    let attempt = 0;
    const doubled = await env.fromElements(1, 2, 3, 4).map({
      open: () => void attempt++,
      map(n: number) {
        // Work the function does not await, failing in the first attempt only.
        if (attempt === 1 && n === 2) {
          if (leave === "rejected promise") Promise.reject(new Error(`lost ${n}`));
          else {setTimeout(() => {
              throw new Error(`lost ${n}`);
            }, 0);}
        }
        return 2 * n;
      },
    }).executeAndCollect();
    assert.equal(attempt, 2, leave);
    assert.deepEqual(doubled.toSorted((a, b) => a - b), [2, 4, 6, 8], leave);
    assert.ok(
      logs.some((l) =>
        l.startsWith('Job "weir job" failed: the main thread had an error nothing caught: lost 2;')
      ),
      logs.join("\n"),
    );
  }
});

Deno.test("inline without restarts: an error nothing caught in a user function's async work rejects execute()", async () => {
  const env = StreamEnvironment.create({
    parallelism: 1,
    executor: "inline",
    restartStrategy: { kind: "none" },
  });
  const out = new CollectSink<number>();
  env.fromElements(1, 2, 3).process({
    processElement(n: number, _ctx, o) {
      (async () => {
        await Promise.resolve();
        throw new StateError(`async ${n}`);
      })();
      o.collect(n);
    },
  }).addSink(out);
  await assert.rejects(env.execute(), (e: unknown) => {
    assert.ok(e instanceof JobFailedError, String(e));
    assert.match(
      e.message,
      /^Job "weir job" failed: the main thread had an error nothing caught: async 1$/,
    );
    assert.ok(e.cause instanceof StateError);
    return true;
  });
});

Deno.test("a job restarting for good keeps a bounded restart history; its strategy still counts every failure", async () => {
  const attempts = 130;
  const env = StreamEnvironment.create({
    parallelism: 1,
    executor: "inline",
    restartStrategy: { kind: "fixed-delay", attempts, delayMs: 0 },
    log: () => {},
  });
  let failed = 0;
  // A new message each time: not the same failure in a row, which would end the job early.
  env.fromElements(1).map((n: number) => {
    throw new Error(`boom ${++failed} at ${n}`);
  }).addSink(new CollectSink<number>());
  const client = env.executeAsync("restarts");
  await assert.rejects(client.done, /fixed-delay allows 130 restarts/);
  assert.equal(failed, attempts + 1);
  assert.equal(client.restarts, attempts);
  // As Flink's exception history: the newest, not every failure since the job started.
  assert.equal(client.failures.length, 100);
  assert.match(client.failures.at(-1)!.signature, new RegExp(`boom ${attempts + 1} at 1`));
});
