/**
 * State weir keeps of a user's values without a serializer of theirs (window contents and
 * accumulators, the rolling reduce and aggregations, the interval join's buffers) keeps them as
 * they were, as a record passed within a worker (`Serializers.plain`), across a checkpoint and a
 * restore, on both backends; state an older weir wrote as JSON restores and continues.
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import type { KeyedStream } from "../core/dataflow/data_stream.ts";
import { type Serializer, Serializers } from "../core/state/serializer.ts";
import type { StateBackend } from "../core/state/backend.ts";
import { TumblingEventTimeWindows } from "../core/time/window_assigners.ts";
import { WatermarkStrategy } from "../core/time/watermark_strategy.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";
import { BACKENDS } from "./_helpers/schema_jobs.ts";

/** An event with values JSON does not keep: a Date, a bigint, NaN. */
type Ev = { k: string; ts: number; n: number; at: Date; big: bigint; x: number };
/** What the aggregate keeps: the same kinds of values. */
type Acc = { first: Date | null; big: bigint; x: number; n: number };

const ev = (ts: number, n: number): Ev => ({
  k: "a",
  ts,
  n,
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ts)),
  big: 2n ** 70n + BigInt(n),
  x: NaN,
});

const add = (a: Ev, b: Ev): Ev => ({ ...a, n: a.n + b.n, big: a.big + b.big });

/** The outputs of one run, by branch. */
type Outs = Record<
  "wreduce" | "wagg" | "wproc" | "rreduce" | "rsum" | "ijoin",
  CollectSink<unknown>
>;

/**
 * Every stateful branch over the events; `json` passes `Serializers.json` where the API takes
 * a serializer, as weir's default was (the state an older weir wrote).
 */
function job(backend: StateBackend, dir: string, restore: string | undefined, json: boolean) {
  const src = new QueueSource<Ev>("events");
  const env = StreamEnvironment.create({
    stateBackend: backend,
    checkpoint: { dir, retainOnCancellation: true },
    ...(restore ? { restore } : {}),
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  const ser = <T>(): { serializer?: Serializer<T> } =>
    json ? { serializer: Serializers.json as Serializer<T> } : {};
  const outs: Outs = {
    wreduce: new CollectSink(),
    wagg: new CollectSink(),
    wproc: new CollectSink(),
    rreduce: new CollectSink(),
    rsum: new CollectSink(),
    ijoin: new CollectSink(),
  };
  const events = env.addSource(src, { uid: "src" }).assignTimestampsAndWatermarks(
    WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts),
  );
  const keyed = (): KeyedStream<Ev, string> => events.keyBy((e) => e.k, Serializers.string);
  const windows = () => keyed().window(TumblingEventTimeWindows.of<Ev>(100));
  windows().reduce(add, { uid: "wreduce", ...ser<Ev>() }).addSink(outs.wreduce, { uid: "s1" });
  windows().aggregate<Acc, Acc>({
    // JSON has no bigint: the JSON run's events carry a number there.
    createAccumulator: () => ({ first: null, big: (json ? 0 : 0n) as bigint, x: 0, n: 0 }),
    add: (e, a) => ({ first: a.first ?? e.at, big: a.big + e.big, x: e.x, n: a.n + e.n }),
    getResult: (a) => a,
  }, { uid: "wagg", ...ser<Acc>() }).addSink(outs.wagg, { uid: "s2" });
  windows().process<Ev[]>({
    process: (_k, _ctx, els, out) => out.collect([...els]),
  }, { uid: "wproc", ...ser<Ev>() }).addSink(outs.wproc, { uid: "s3" });
  keyed().reduce(add, json ? Serializers.json as Serializer<Ev> : undefined, { uid: "rreduce" })
    .addSink(outs.rreduce, { uid: "s4" });
  if (!json) keyed().sum("n").uid("rsum").addSink(outs.rsum, { uid: "s5" });
  keyed().intervalJoin(keyed()).between(-1000, 1000).process<[Ev, Ev]>(
    { processElement: (l, r, _ctx, out) => out.collect([l, r]) },
    {
      uid: "ijoin",
      ...(json
        ? {
          leftSerializer: Serializers.json as Serializer<Ev>,
          rightSerializer: Serializers.json as Serializer<Ev>,
        }
        : {}),
    },
  ).addSink(outs.ijoin, { uid: "s6" });
  const client = env.executeAsync("plain-state");
  return { src, outs, client };
}

for (const [name, backend] of Object.entries(BACKENDS)) {
  Deno.test(`plain state (${name}): windows, rolling reduce and sum, interval join keep Date, bigint and NaN across a checkpoint and restore`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-plain-state-" });
    try {
      const e1 = ev(10, 1), e2 = ev(20, 2), e3 = ev(30, 3);
      const first = job(backend(), dir, undefined, false);
      first.src.push(e1, e2);
      await until(() => first.outs.rreduce.values.length === 2, "the first records reduced");
      await until(() => first.outs.ijoin.values.length === 4, "the first records joined");
      // Before any checkpoint: a key's first record is kept as it was.
      assert.deepEqual(first.outs.rreduce.values, [e1, add(e1, e2)]);
      assert.deepEqual(first.outs.rsum.values, [e1, { ...e1, n: 3 }]);
      await first.client.triggerCheckpoint();
      first.client.cancel();
      await first.client.done;

      const second = job(backend(), dir, "latest", false);
      second.src.push(e3);
      second.src.end();
      await second.client.done;
      const o = second.outs;
      assert.deepEqual(o.wreduce.values, [add(add(e1, e2), e3)]);
      assert.deepEqual(o.wagg.values, [{
        first: e1.at,
        big: e1.big + e2.big + e3.big,
        x: NaN,
        n: 6,
      }]);
      assert.deepEqual(o.wproc.values, [[e1, e2, e3]]);
      assert.deepEqual(o.rreduce.values, [add(add(e1, e2), e3)]);
      assert.deepEqual(o.rsum.values, [{ ...e1, n: 6 }]);
      // e3 with itself, and with each restored buffered record both ways.
      const pairs = o.ijoin.values as [Ev, Ev][];
      assert.equal(pairs.length, 5);
      const same = (a: unknown, b: unknown) => {
        try {
          assert.deepEqual(a, b);
          return true;
        } catch {
          return false;
        }
      };
      assert.ok(pairs.some((p) => same(p, [e3, e3])));
      for (const r of [e1, e2]) {
        assert.ok(pairs.some((p) => same(p, [r, e3])), `${r.ts} restored, left`);
        assert.ok(pairs.some((p) => same(p, [e3, r])), `${r.ts} restored, right`);
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

/** An event JSON keeps as it is (the date as its ISO text, a number for the bigint). */
const jsonEv = (ts: number, n: number): Ev =>
  ({ ...ev(ts, n), at: ev(ts, n).at.toISOString(), big: 1000 + n, x: 0 }) as unknown as Ev;

for (const [name, backend] of Object.entries(BACKENDS)) {
  Deno.test(`plain state (${name}): a savepoint of state kept as JSON (older weir's default) restores and continues`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-json-state-" });
    try {
      const e1 = jsonEv(10, 1), e2 = jsonEv(20, 2), e3 = jsonEv(30, 3);
      const first = job(backend(), dir, undefined, true);
      first.src.push(e1, e2);
      await until(() => first.outs.rreduce.values.length === 2, "the first records reduced");
      await until(() => first.outs.ijoin.values.length === 4, "the first records joined");
      const sp = await first.client.triggerSavepoint("json");
      first.client.cancel();
      await first.client.done;
      const kept = sp.manifest.operators;
      assert.ok(Object.keys(kept).includes("wreduce"));

      const second = job(backend(), dir, sp.path, false);
      second.src.push(e3);
      second.src.end();
      await second.client.done;
      const o = second.outs;
      assert.deepEqual(o.wreduce.values, [add(add(e1, e2), e3)]);
      assert.deepEqual(o.wagg.values, [{ first: e1.at, big: 3006, x: 0, n: 6 }]);
      assert.deepEqual(o.wproc.values, [[e1, e2, e3]]);
      assert.deepEqual(o.rreduce.values, [add(add(e1, e2), e3)]);
      const pairs = o.ijoin.values as [Ev, Ev][];
      assert.equal(pairs.length, 5);
      for (const r of [e1, e2]) {
        assert.equal(pairs.filter(([a, b]) => a.ts === r.ts && b.ts === 30).length, 1);
        assert.deepEqual(pairs.find(([a, b]) => a.ts === 30 && b.ts === r.ts)?.[1], r);
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("plain state: a class instance kept without a serializer fails naming the operator and the option", async () => {
  class Point {
    constructor(readonly k: string, readonly x: number) {}
  }
  const env = StreamEnvironment.create({ restartStrategy: { kind: "none" }, log: () => {} });
  env.fromElements(new Point("a", 1), new Point("a", 2))
    .keyBy((p) => p.k, Serializers.string)
    .countWindow(2)
    .reduce((a, b) => new Point(a.k, a.x + b.x), { uid: "points" })
    .addSink(new CollectSink());
  await assert.rejects(
    env.execute("class-in-state"),
    /cannot carry an instance of Point.*kept in state by operator "Window\(Reduce\)" \[uid points\]: give it a serializer with \.reduce\(fn, \{ serializer \}\)/s,
  );
  // With a serializer of the user's, it runs.
  const ok = StreamEnvironment.create({ restartStrategy: { kind: "none" }, log: () => {} });
  const out = new CollectSink<Point>();
  const point: Serializer<Point> = {
    id: "point",
    version: 1,
    write: (p, w) => (w.writeString(p.k), w.writeF64(p.x)),
    read: (r) => new Point(r.readString(), r.readF64()),
  };
  ok.fromElements(new Point("a", 1), new Point("a", 2))
    .keyBy((p) => p.k, Serializers.string)
    .countWindow(2)
    .reduce((a, b) => new Point(a.k, a.x + b.x), { uid: "points", serializer: point })
    .addSink(out);
  await ok.execute("class-with-serializer");
  assert.deepEqual(out.values, [new Point("a", 3)]);
});
