/**
 * Async I/O against a real HTTP server on 127.0.0.1: emission order (ordered
 * and unordered), the capacity as the server counts it, retries of failing
 * responses, timeouts, watermarks kept behind earlier records, and a
 * checkpoint taken with records in flight restored with nothing lost or doubled.
 */
import assert from "node:assert/strict";
import { AsyncDataStream } from "../core/dataflow/async_data_stream.ts";
import { AsyncRetryStrategies, type RichAsyncFunction } from "../core/dataflow/async_function.ts";
import type { DataStream } from "../core/dataflow/data_stream.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import type { Collector, ProcessContext } from "../core/dataflow/functions.ts";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import type { SinkFunction } from "../core/connectors/sink.ts";
import { ConfigError, JobFailedError, StateError } from "../core/errors.ts";
import { ValueStateDescriptor } from "../core/state/descriptors.ts";
import { Serializers } from "../core/state/serializer.ts";
import { AsyncTimeoutError } from "../core/runtime/async_wait_operator.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { WatermarkStrategy } from "../core/time/watermark_strategy.ts";
import { httpLookup, type LookupServer, startLookupServer } from "./_helpers/lookup_server.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { committedLines } from "./_helpers/word_count_check.ts";
import { ExactlyOnceFileSink } from "../core/connectors/exactly_once_file_sink.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function withServer(body: (server: LookupServer) => Promise<void>): Promise<void> {
  const server = startLookupServer();
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

/** Later ids of every ten answer sooner, so completion order differs from input order. */
const reversedDelays = (id: number) => `?delay=${(10 - (id % 10)) * 4}`;

Deno.test("async I/O: ordered emits in input order, unordered as responses complete", async () => {
  await withServer(async (server) => {
    for (const ordered of [true, false]) {
      const env = StreamEnvironment.create();
      const out = new CollectSink<string>();
      const wait = ordered ? AsyncDataStream.orderedWait : AsyncDataStream.unorderedWait;
      wait(env.fromCollection(range(40)), httpLookup(server, reversedDelays), 5000, 10)
        .addSink(out);
      await env.execute();
      const expected = range(40).map((i) => `value-${i}`);
      if (ordered) assert.deepEqual(out.values, expected);
      else {
        assert.deepEqual(out.values.toSorted(), expected.toSorted());
        assert.notDeepEqual(out.values, expected, "unordered follows completion order");
        // Within the first ten, the fastest (id 9) answers before the slowest (id 0).
        assert.ok(out.values.indexOf("value-9") < out.values.indexOf("value-0"), out.values.join());
      }
    }
  });
});

Deno.test("async I/O: never more than capacity requests in flight, and capacity is used", async () => {
  await withServer(async (server) => {
    for (const capacity of [1, 7]) {
      const env = StreamEnvironment.create();
      const out = new CollectSink<string>();
      AsyncDataStream.unorderedWait(
        env.fromCollection(range(60)),
        httpLookup(server, () => "?delay=5"),
        5000,
        capacity,
      ).addSink(out);
      const before = server.maxInFlight;
      await env.execute();
      assert.equal(out.values.length, 60);
      assert.ok(server.maxInFlight <= capacity, `${server.maxInFlight} in flight > ${capacity}`);
      assert.ok(before <= server.maxInFlight);
      if (capacity > 1) assert.equal(server.maxInFlight, capacity, "the capacity is filled");
    }
  });
});

Deno.test("async I/O: failing responses are retried with backoff; retries used up fail the job", async () => {
  await withServer(async (server) => {
    const env = StreamEnvironment.create();
    const out = new CollectSink<string>();
    const retry = AsyncRetryStrategies.exponentialBackoff<string>({
      maxRetries: 2,
      initialDelayMs: 2,
      maxDelayMs: 20,
      retryOnError: (e) => e instanceof Error && e.message.startsWith("HTTP 503"),
    });
    AsyncDataStream.orderedWait(
      env.fromCollection(range(10)),
      httpLookup(server, () => "?fail=2"),
      5000,
      5,
      retry,
    ).addSink(out);
    await env.execute();
    assert.deepEqual(out.values, range(10).map((i) => `value-${i}`));
    for (const i of range(10)) assert.equal(server.requests.get(String(i)), 3, `requests of ${i}`);

    const env2 = StreamEnvironment.create();
    AsyncDataStream.orderedWait(
      env2.fromCollection([100, 101]),
      httpLookup(server, () => "?fail=3"),
      5000,
      5,
      AsyncRetryStrategies.fixedDelay({ maxRetries: 1, delayMs: 1 }),
    ).name("enrich");
    await assert.rejects(env2.execute(), (e: unknown) => {
      assert.ok(e instanceof JobFailedError);
      const msg = (e.cause as Error).message;
      assert.match(msg, /async function of operator "enrich" failed \(attempt 2\)/);
      assert.match(msg, /HTTP 503: failure 2 of 10[01]/);
      return true;
    });
  });
});

Deno.test("async I/O: a result predicate retries empty answers", async () => {
  await withServer(async (server) => {
    const env = StreamEnvironment.create();
    const out = new CollectSink<string>();
    let calls = 0;
    // The first answer of every id is treated as empty.
    const fn = async (id: number, signal: AbortSignal) => {
      const [v] = await httpLookup(server)(id, signal);
      return ++calls % 2 === 1 ? [] : [v!];
    };
    AsyncDataStream.orderedWait(
      env.fromCollection([1, 2, 3]),
      fn,
      5000,
      1,
      AsyncRetryStrategies.fixedDelay<string>({
        maxRetries: 3,
        delayMs: 1,
        retryOnResult: (r) => r.length === 0,
      }),
    ).addSink(out);
    await env.execute();
    assert.deepEqual(out.values, ["value-1", "value-2", "value-3"]);
    assert.equal(calls, 6);
  });
});

Deno.test("async I/O: a slow response times out: timeout() answers, or the job fails", async () => {
  await withServer(async (server) => {
    const slowSome = (id: number) => id % 2 === 0 ? "?delay=2000" : "";
    const lookup = httpLookup(server, slowSome);
    const withFallback: RichAsyncFunction<number, string> = {
      asyncInvoke: lookup,
      timeout: (id) => [`fallback-${id}`],
    };
    const env = StreamEnvironment.create();
    const out = new CollectSink<string>();
    const started = performance.now();
    AsyncDataStream.orderedWait(env.fromCollection(range(6)), withFallback, 100, 10)
      .addSink(out);
    await env.execute();
    assert.deepEqual(out.values, [
      "fallback-0",
      "value-1",
      "fallback-2",
      "value-3",
      "fallback-4",
      "value-5",
    ]);
    // The timed-out fetches were aborted: the job did not wait for the slow answers.
    assert.ok(performance.now() - started < 1800);

    const env2 = StreamEnvironment.create();
    AsyncDataStream.unorderedWait(env2.fromCollection([0]), lookup, 50, 10).name("slow");
    await assert.rejects(env2.execute(), (e: unknown) => {
      assert.ok(e instanceof JobFailedError);
      assert.ok(e.cause instanceof AsyncTimeoutError);
      assert.match(e.cause.message, /operator "slow" timed out after 50 ms/);
      return true;
    });
  });
});

Deno.test("async I/O: a watermark never overtakes the records before it, in both modes", async () => {
  await withServer(async (server) => {
    for (const ordered of [true, false]) {
      const env = StreamEnvironment.create();
      const out = new CollectSink<string>();
      // A watermark right after every record: record i (timestamp i) is followed by watermark i.
      const stamped: DataStream<number> = env.fromCollection(range(30))
        .assignTimestampsAndWatermarks(
          WatermarkStrategy.forGenerator<number>(() => ({
            onEvent: (_e, ts, o) => o.emitWatermark(ts),
            onPeriodicEmit() {},
          })).withTimestampAssigner((i) => i),
        );
      const wait = ordered ? AsyncDataStream.orderedWait : AsyncDataStream.unorderedWait;
      wait(stamped, httpLookup(server, reversedDelays), 5000, 10)
        .process({
          processElement(v: string, ctx: ProcessContext, o: Collector<string>) {
            o.collect(`${v}@${ctx.timestamp()} wm=${ctx.currentWatermark()}`);
          },
        })
        .addSink(out);
      await env.execute();
      assert.equal(out.values.length, 30);
      for (const line of out.values) {
        const [, ts, wm] = line.match(/@(\d+) wm=(-?\w+)/)!;
        assert.ok(Number(wm) < Number(ts) || wm === "-Infinity", `late: ${line}`);
      }
    }
  });
});

Deno.test("async I/O: a checkpoint with records in flight restores with nothing lost or doubled", async () => {
  await withServer(async (server) => {
    for (const ordered of [true, false]) {
      const dir = Deno.makeTempDirSync({ prefix: "weir-async-" });
      const n = 40;
      const held = ordered ? ["30"] : ["5", "17", "30"];
      const run = (out: CollectSink<string>, restore?: string) => {
        const env = StreamEnvironment.create({
          stateBackend: new HeapStateBackend(),
          checkpoint: { dir, retainOnCancellation: true },
          ...(restore ? { restore } : {}),
          restartStrategy: { kind: "none" },
          log: () => {},
        });
        const wait = ordered ? AsyncDataStream.orderedWait : AsyncDataStream.unorderedWait;
        wait(env.fromCollection(range(n)).uid("numbers"), httpLookup(server), 60_000, 20)
          .uid("lookup")
          .addSink(out, { uid: "sink" });
        return env.executeAsync("async restore");
      };
      server.requests.clear();
      server.hold(...held);
      const first = new CollectSink<string>();
      const client = run(first);
      // Everything not held (and, ordered, not behind a held record) is out; the rest waits.
      const expectedOut = ordered ? 30 : n - held.length;
      await until(() => first.values.length === expectedOut, "unheld records through");
      await until(() => held.every((id) => server.requests.get(id) === 1), "held requests sent");
      const checkpoint = await client.triggerCheckpoint();
      client.cancel();
      await client.done;
      const requestsBefore = new Map(server.requests);
      server.release();

      const second = new CollectSink<string>();
      await run(second, checkpoint.path).done;
      const all = [...first.values, ...second.values];
      assert.deepEqual(all.toSorted(), range(n).map((i) => `value-${i}`).toSorted());
      assert.equal(new Set(all).size, n, "nothing doubled");
      // Only the records in flight at the checkpoint were looked up again.
      const again = [...server.requests].filter(([id, c]) => c > (requestsBefore.get(id) ?? 0));
      const inFlight = ordered ? range(10).map((i) => String(30 + i)) : held;
      assert.deepEqual(again.map(([id]) => id).toSorted(), inFlight.toSorted());
      if (ordered) assert.deepEqual(second.values, inFlight.map((i) => `value-${i}`));
      Deno.removeSync(dir, { recursive: true });
    }
  });
});

Deno.test("async I/O: keyed state in an async function, on a KeyedStream too, is a StateError saying so", async () => {
  for (const keyed of [true, false]) {
    const env = StreamEnvironment.create();
    const words = env.fromElements("a", "b");
    const lookup: RichAsyncFunction<string, string> = {
      open(ctx) {
        ctx.getState(new ValueStateDescriptor<number>("seen", Serializers.f64));
      },
      asyncInvoke: (w) => Promise.resolve([w]),
    };
    AsyncDataStream.orderedWait(keyed ? words.keyBy((w) => w) : words, lookup, 1000, 5)
      .name("enrich");
    await assert.rejects(env.execute(), (e: unknown) => {
      assert.ok(e instanceof JobFailedError && e.cause instanceof StateError, String(e));
      // Not "use keyBy first": the stream may be keyed already.
      assert.match(e.cause.message, /not available in async functions \(operator "enrich"\)/);
      return true;
    });
  }
});

Deno.test("async I/O: a function without asyncInvoke, or a timeout that is no method, is a ConfigError when the job is built", () => {
  const env = StreamEnvironment.create();
  const s = env.fromElements(1);
  const built = (call: string, got: string) => (e: unknown) =>
    e instanceof ConfigError &&
    e.message ===
      `AsyncDataStream.${call} needs a function, or an object with asyncInvoke(), got ${got}`;
  // A Flink port's misspelling: it failed at execute() with "reading 'bind'" from inside weir.
  const misspelt = { asyncinvoke: (n: number) => Promise.resolve([n]) };
  assert.throws(
    () => AsyncDataStream.orderedWait(s, misspelt as never, 100),
    built("orderedWait", "an object without asyncInvoke()"),
  );
  assert.throws(
    () => AsyncDataStream.unorderedWait(s, null as never, 100),
    built("unorderedWait", "null"),
  );
  assert.throws(
    () =>
      AsyncDataStream.orderedWait(
        s,
        { asyncInvoke: (n: number) => Promise.resolve([n]), timeout: [] } as never,
        100,
      ),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        "AsyncDataStream.orderedWait: the function's timeout must be a method, got an Array",
  );
});

Deno.test("async I/O: a call that resolves to null fails the job saying null, not object", async () => {
  const env = StreamEnvironment.create();
  AsyncDataStream.orderedWait(env.fromElements(1), () => Promise.resolve(null as never), 1000, 5)
    .name("enrich");
  await assert.rejects(env.execute(), (e: unknown) => {
    assert.ok(e instanceof JobFailedError && e.cause instanceof ConfigError, String(e));
    assert.match(
      e.cause.message,
      /operator "enrich" resolved to null: it must resolve to an array of results \(empty for none\)/,
    );
    return true;
  });
});

Deno.test("async I/O: bad capacity, timeout or retry settings name the problem", () => {
  const env = StreamEnvironment.create();
  const s = env.fromElements(1);
  const f = (n: number) => Promise.resolve([n]);
  assert.throws(() => AsyncDataStream.orderedWait(s, f, 100, 0), ConfigError);
  assert.throws(() => AsyncDataStream.orderedWait(s, f, 100, 1.5), /capacity must be a positive/);
  assert.throws(() => AsyncDataStream.orderedWait(s, f, 0, 5), /timeout must be a positive/);
  assert.throws(
    () => AsyncDataStream.orderedWait(s, f, 10, 5, { maxRetries: -1, delayMs: () => 0 }),
    /maxRetries must be an integer >= 0/,
  );
  assert.throws(
    () =>
      AsyncRetryStrategies.exponentialBackoff({
        maxRetries: 1,
        initialDelayMs: 1,
        maxDelayMs: 5,
        multiplier: 0.5,
      }),
    /multiplier must be a finite number >= 1/,
  );
});

Deno.test("async I/O: a hand-made retry strategy with a delay that is no function or no ms >= 0 is a ConfigError", async () => {
  const env = StreamEnvironment.create();
  const s = env.fromElements(1);
  const failing = () => Promise.reject(new Error("503"));
  // fixedDelay takes delayMs as a number; the strategy it makes has a function.
  assert.throws(
    () => AsyncDataStream.orderedWait(s, failing, 100, 5, { maxRetries: 2, delayMs: 5 } as never),
    (e) => e instanceof ConfigError && /async retry delayMs must be a function/.test(e.message),
  );
  assert.throws(
    () =>
      AsyncDataStream.orderedWait(s, failing, 100, 5, {
        maxRetries: 2,
        delayMs: () => 1,
        retryOnError: true,
      } as never),
    (e) =>
      e instanceof ConfigError && /retryOnError must be a function, got boolean/.test(e.message),
  );
  for (const delay of [NaN, -5, undefined]) {
    const env2 = StreamEnvironment.create();
    let calls = 0;
    AsyncDataStream.orderedWait(env2.fromElements(1), () => (calls++, failing()), Infinity, 5, {
      maxRetries: 2,
      delayMs: () => delay as number,
    }).name("enrich");
    await assert.rejects(env2.execute(), (e: unknown) => {
      assert.ok(e instanceof JobFailedError && e.cause instanceof ConfigError, String(e));
      assert.match(e.cause.message, new RegExp(`operator "enrich" gave delayMs\\(1\\) = ${delay}`));
      return true;
    });
    assert.equal(calls, 1, "no retry at once");
  }
});

Deno.test("async I/O: a misspelt retry option is a ConfigError naming it, not a default in force", () => {
  assert.throws(
    () =>
      AsyncRetryStrategies.exponentialBackoff({
        maxRetries: 3,
        initialDelayMs: 1,
        maxDelayMs: 50,
        multipler: 3,
      } as never),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        'AsyncRetryStrategies.exponentialBackoff: unknown option "multipler" (did you mean "multiplier"?)',
  );
  // Misspelt, the predicate would be dropped and every error retried.
  assert.throws(
    () =>
      AsyncRetryStrategies.fixedDelay({
        maxRetries: 3,
        delayMs: 1,
        retryOnErrors: () => false,
      } as never),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        'AsyncRetryStrategies.fixedDelay: unknown option "retryOnErrors" (did you mean "retryOnError"?)',
  );
});

Deno.test("async I/O: at end of input every result is out before the final checkpoint commits", async () => {
  await withServer(async (server) => {
    for (const chained of [true, false]) {
      const dir = Deno.makeTempDirSync({ prefix: "weir-async-final-" });
      const env = StreamEnvironment.create({
        stateBackend: new HeapStateBackend(),
        checkpoint: { dir: `${dir}/ck` },
        log: () => {},
      });
      let numbers: DataStream<number> = env.fromCollection(range(30));
      // Not chained: the final watermark and barrier reach the operator through a channel.
      if (!chained) numbers = numbers.rebalance();
      AsyncDataStream.unorderedWait(numbers, httpLookup(server, () => "?delay=30"), 5000, 50)
        .addSink(new ExactlyOnceFileSink<string>({ dir: `${dir}/out` }));
      await env.execute();
      assert.deepEqual(
        committedLines(`${dir}/out`).toSorted(),
        range(30).map((i) => `value-${i}`).toSorted(),
        chained ? "chained" : "after a channel",
      );
      Deno.removeSync(dir, { recursive: true });
    }
  });
});

Deno.test("async I/O: the timeout covers every retry of a record", async () => {
  await withServer(async (server) => {
    const env = StreamEnvironment.create();
    const out = new CollectSink<string>();
    const alwaysFailing: RichAsyncFunction<number, string> = {
      asyncInvoke: httpLookup(server, () => "?fail=1000"),
      timeout: (id) => [`gave up on ${id}`],
    };
    AsyncDataStream.orderedWait(
      env.fromCollection([7]),
      alwaysFailing,
      150,
      1,
      AsyncRetryStrategies.fixedDelay({ maxRetries: 1000, delayMs: 20 }),
    ).addSink(out);
    await env.execute();
    assert.deepEqual(out.values, ["gave up on 7"]);
    const attempts = server.requests.get("7")!;
    assert.ok(attempts >= 2 && attempts <= 9, `${attempts} attempts in 150 ms, 20 ms apart`);
  });
});

Deno.test("async I/O: a stop without drain leaves calls in flight to its savepoint, emitted once after the restore", async () => {
  await withServer(async (server) => {
    for (const chained of [true, false]) {
      const dir = Deno.makeTempDirSync({ prefix: "weir-async-stop-" });
      let answered = Promise.withResolvers<void>();
      const lookup = httpLookup(server);
      const run = (src: QueueSource<number>, out: SinkFunction<string>, restore?: string) => {
        const env = StreamEnvironment.create({
          stateBackend: new HeapStateBackend(),
          checkpoint: { dir },
          ...(restore ? { restore } : {}),
          restartStrategy: { kind: "none" },
          log: () => {},
        });
        let numbers: DataStream<number> = env.addSource(src, { uid: "numbers" });
        if (!chained) numbers = numbers.rebalance();
        // No timeout: a call that never answers must not hold the stop.
        AsyncDataStream.unorderedWait(
          numbers,
          async (id: number, signal: AbortSignal) => {
            const results = await lookup(id, signal);
            if (id === 3) answered.resolve();
            return results;
          },
          Infinity,
          20,
        )
          .uid("lookup")
          .addSink(out, { uid: "sink" });
        return env.executeAsync("async stop");
      };
      server.requests.clear();
      server.hold("3");
      const first: string[] = [];
      const src = new QueueSource<number>();
      const client = run(src, {
        invoke: (v) => void first.push(v),
        // The held call answers after the operator finished, before the job ends: dropped.
        async finish() {
          server.release();
          await answered.promise;
          await new Promise((r) => setTimeout(r, 0));
        },
      });
      src.push(...range(6));
      await until(() => first.length === 5, "unheld records through");
      await until(() => server.requests.get("3") === 1, "held request sent");
      let stopped = false;
      const stop = client.stopWithSavepoint("stop", { drain: false }).finally(() => stopped = true);
      try {
        await until(() => stopped, "the stop, with a call in flight", 5000);
      } finally {
        server.release();
      }
      const savepoint = await stop;
      await client.done;
      assert.ok(!first.includes("value-3"), chained ? "chained" : "after a channel");

      answered = Promise.withResolvers<void>();
      const again = new QueueSource<number>();
      again.end();
      const second = new CollectSink<string>();
      await run(again, second, savepoint.path).done;
      assert.deepEqual(second.values, ["value-3"]);
      assert.equal(server.requests.get("3"), 2, "called again after the restore");
      Deno.removeSync(dir, { recursive: true });
    }
  });
});
