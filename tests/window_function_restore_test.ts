/**
 * A window's reduce and aggregate keep their contents as one value state of one name: a savepoint
 * of one restored into the other under the same uid is refused (as Flink refuses a reducing state
 * restored as an aggregating one), and one of the same function restores, on both backends.
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { IncompatibleStateError } from "../core/errors.ts";
import { Serializers } from "../core/state/serializer.ts";
import type { StateBackend } from "../core/state/backend.ts";
import { TumblingEventTimeWindows } from "../core/time/window_assigners.ts";
import { WatermarkStrategy } from "../core/time/watermark_strategy.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";
import { BACKENDS } from "./_helpers/schema_jobs.ts";

type Ev = { k: string; ts: number; n: number };
type Fn = "reduce" | "aggregate";

/** Sums `n` per key in 100 ms windows with a reduce or an aggregate (uid "sum"). */
function job(backend: StateBackend, dir: string, fn: Fn, restore?: string) {
  const src = new QueueSource<Ev>("events");
  const env = StreamEnvironment.create({
    stateBackend: backend,
    checkpoint: { dir },
    ...(restore ? { restore } : {}),
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  const out = new CollectSink<number>();
  const seen = new CollectSink<Ev>();
  const events = env.addSource(src, { uid: "src" }).assignTimestampsAndWatermarks(
    WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts),
  );
  events.addSink(seen, { uid: "seen" });
  const windows = events.keyBy((e) => e.k, Serializers.string)
    .window(TumblingEventTimeWindows.of<Ev>(100));
  const sums = fn === "reduce"
    ? windows.reduce((a, b) => ({ ...a, n: a.n + b.n }), { uid: "sum" }).map((e) => e.n)
    : windows.aggregate<number, number>({
      createAccumulator: () => 0,
      add: (e, acc) => acc + e.n,
      getResult: (acc) => acc,
    }, { uid: "sum" });
  sums.addSink(out, { uid: "out" });
  return { src, out, seen, client: env.executeAsync(`window-${fn}`) };
}

/** A savepoint of `fn` over two events in an open window. */
async function savepointOf(backend: StateBackend, dir: string, fn: Fn): Promise<string> {
  const j = job(backend, dir, fn);
  j.src.push({ k: "a", ts: 1, n: 1 }, { k: "a", ts: 2, n: 2 });
  await until(() => j.seen.values.length === 2, "the events read");
  const sp = await j.client.triggerSavepoint(fn);
  j.client.cancel();
  await j.client.done;
  return sp.path;
}

for (const [name, backend] of Object.entries(BACKENDS)) {
  for (const [from, to] of [["reduce", "aggregate"], ["aggregate", "reduce"]] as const) {
    Deno.test(`window ${from} → ${to} under one uid (${name}): the restore is refused, naming the uid and both functions`, async () => {
      const dir = Deno.makeTempDirSync({ prefix: "weir-window-fn-" });
      try {
        const sp = await savepointOf(backend(), dir, from);
        const j = job(backend(), dir, to, sp);
        j.src.end();
        await assert.rejects(j.client.done, (e: unknown) => {
          const err = e instanceof IncompatibleStateError ? e : (e as Error).cause;
          assert.ok(err instanceof IncompatibleStateError, String(e));
          assert.match(err.message, /state "window-contents" of operator "sum"/);
          assert.match(err.message, new RegExp(`snapshot holds the state of an? ${from} function`));
          assert.match(err.message, new RegExp(`the job has an? ${to} function under this uid`));
          return true;
        });
        assert.deepEqual(j.out.values, []);
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    });
  }

  for (const fn of ["reduce", "aggregate"] as const) {
    Deno.test(`window ${fn} → ${fn} (${name}): the savepoint restores and the window continues`, async () => {
      const dir = Deno.makeTempDirSync({ prefix: "weir-window-fn-" });
      try {
        const sp = await savepointOf(backend(), dir, fn);
        const j = job(backend(), dir, fn, sp);
        j.src.push({ k: "a", ts: 3, n: 4 });
        j.src.end();
        await j.client.done;
        assert.deepEqual(j.out.values, [7]);
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    });
  }
}
