/**
 * Stop-with-savepoint and event time (Flink's `drain`): an event-time
 * windowed job is stopped half-way, restored from the stop's savepoint and
 * fed the rest of its input; every window is compared with a reference run
 * that saw the whole input at once. Without drain the windows open at the stop
 * stay in the savepoint and fire once, after the restore; with drain they fire
 * at the stop and the records after it start them anew. Either way nothing is
 * late and nothing is lost.
 */
import assert from "node:assert/strict";
import { createAdminApp } from "../core/admin/app.ts";
import { jobClientRuntime } from "../core/admin/runtime.ts";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import type { JobClient } from "../core/runtime/job_runner.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { ConfigError } from "../core/errors.ts";
import { OutputTag } from "../core/runtime/output_tag.ts";
import { Serializers } from "../core/state/serializer.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import type { AggregateFunction } from "../core/time/window_functions.ts";
import type { TimeWindow } from "../core/time/window.ts";
import {
  EventTimeSessionWindows,
  TumblingEventTimeWindows,
} from "../core/time/window_assigners.ts";
import { WatermarkStrategy } from "../core/time/watermark_strategy.ts";
import { QueueSource, rng } from "./_helpers/queue_source.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";

interface Ev {
  key: string;
  ts: number;
}

const count: AggregateFunction<Ev, number, number> = {
  createAccumulator: () => 0,
  add: (_e, n) => n + 1,
  getResult: (n) => n,
  merge: (a, b) => a + b,
};

type Kind = "tumbling" | "session";

/** 1200 events of 5 keys in event-time order, gaps of 0–120 ms (sessions: gap 150 ms). */
function events(): Ev[] {
  const next = rng(7);
  const out: Ev[] = [];
  let ts = 0;
  for (let i = 0; i < 1200; i++) {
    ts += Math.floor(next() * 120);
    out.push({ key: `k${Math.floor(next() * 5)}`, ts });
  }
  return out;
}

function start(kind: Kind, dir: string, restore?: string, log: (l: string) => void = () => {}) {
  const src = new QueueSource<Ev>("events");
  const out = new CollectSink<string>();
  const late = new CollectSink<string>();
  const env = StreamEnvironment.create({
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir },
    ...(restore ? { restore } : {}),
    restartStrategy: { kind: "none" },
    log,
  });
  const lateTag = new OutputTag<Ev>("late");
  const windows = env.addSource(src, { uid: "src" })
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestampAssigner((e) => e.ts)
        .withPerRecordWatermarks(),
      { uid: "watermarks", parallelism: 1 },
    )
    .keyBy((e) => e.key, Serializers.string)
    .window(
      kind === "tumbling"
        ? TumblingEventTimeWindows.of<Ev>(1000)
        : EventTimeSessionWindows.withGap<Ev>(150),
    )
    .sideOutputLateData(lateTag)
    .aggregate(count, {
      process(key: string, ctx: { window: TimeWindow }, [n]: Iterable<number>, o) {
        o.collect(`${key}\t${ctx.window.start}\t${ctx.window.end}\t${n}`);
      },
    }, { serializer: Serializers.f64, uid: "count" });
  windows.addSink(out, { uid: "sink" });
  windows.getSideOutput(lateTag).map((e) => `${e.key}@${e.ts}`).uid("late-map")
    .addSink(late, { uid: "late-sink" });
  const client = env.executeAsync(`${kind} windows`);
  return { src, out, late, client };
}

async function reference(kind: Kind, input: Ev[]): Promise<string[]> {
  const dir = Deno.makeTempDirSync({ prefix: "weir-ref-" });
  try {
    const j = start(kind, dir);
    j.src.push(...input);
    j.src.end();
    await j.client.done;
    assert.deepEqual(j.late.values, []);
    return j.out.values.toSorted();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Stops the job with a savepoint; returns its folder. */
type Stop = (client: JobClient) => Promise<string>;

const stopWith = (drain: boolean): Stop => async (client) =>
  (await client.stopWithSavepoint("stop", { drain })).path;

/** Stops through the admin API: `POST /jobs/:id/stop` with Flink's body, polled to completion. */
const stopThroughRest = (body: Record<string, unknown>): Stop => async (client) => {
  const id = "f".repeat(32);
  const app = createAdminApp(jobClientRuntime(client, { id }));
  const res = await app.request(`/jobs/${id}/stop`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 202);
  const trigger = (await res.json())["request-id"];
  const deadline = Date.now() + 30_000;
  for (;;) {
    const st = await (await app.request(`/jobs/${id}/savepoints/${trigger}`)).json();
    if (st.status.id === "COMPLETED") return st.operation.location;
    assert.ok(Date.now() < deadline, `the stop did not complete: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** Runs the first half, stops with a savepoint, restores and runs the rest. */
async function stopAndRestore(kind: Kind, input: Ev[], drain: boolean, stop = stopWith(drain)) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-stop-" });
  try {
    const half = input.length / 2;
    const first = start(kind, dir);
    first.src.push(...input.slice(0, half));
    await until(() => first.src.emitted === half, "first half read");
    const path = await stop(first.client);
    assert.equal((await first.client.done).cancelled, false);
    const manifest = JSON.parse(Deno.readTextFileSync(`${path}/_metadata`));
    assert.equal(manifest.stop, true);
    assert.equal(manifest.drained, drain);
    const logs: string[] = [];
    const second = start(kind, dir, path, (l) => logs.push(l));
    second.src.push(...input.slice(half));
    second.src.end();
    await second.client.done;
    return {
      before: first.out.values,
      after: second.out.values,
      late: [...first.late.values, ...second.late.values],
      logs,
    };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

for (const kind of ["tumbling", "session"] as const) {
  Deno.test(`stop without drain: a ${kind}-window job restored from the stop's savepoint matches the reference window by window`, async () => {
    const input = events();
    const expected = await reference(kind, input);
    const r = await stopAndRestore(kind, input, false);
    assert.deepEqual(r.late, [], "no record is late after the restore");
    assert.ok(r.before.length > 0 && r.after.length > 0, "windows fire before and after the stop");
    assert.deepEqual([...r.before, ...r.after].toSorted(), expected);
    assert.ok(!r.logs.some((l) => l.includes("drain")), r.logs.join("\n"));
  });
}

for (
  const [how, stop] of [
    ["stopWithSavepoint", stopWith(true)],
    ["POST /jobs/:id/stop", stopThroughRest({ drain: true })],
  ] as const
) {
  Deno.test(`stop with drain (${how}): windows open at the stop fire then; after the restore the rest of their records fire again, none late or lost`, async () => {
    const input = events();
    const expected = await reference("tumbling", input);
    const r = await stopAndRestore("tumbling", input, true, stop);
    assert.deepEqual(r.late, [], "no record is late after the restore");
    const perWindow = (lines: string[]) => {
      const m = new Map<string, number[]>();
      for (const l of lines) {
        const [key, start, end, n] = l.split("\t");
        const w = `${key}\t${start}\t${end}`;
        m.set(w, [...(m.get(w) ?? []), Number(n)]);
      }
      return m;
    };
    const want = perWindow(expected);
    const got = perWindow([...r.before, ...r.after]);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), "every window fires");
    let split = 0;
    for (const [w, [n]] of want) {
      const parts = got.get(w)!;
      assert.equal(parts.reduce((a, b) => a + b, 0), n, `window ${w}: every record counted once`);
      if (parts.length > 1) split++;
    }
    // The drain fired each key's open window early: those (and only those) come in two parts.
    assert.ok(split >= 1 && split <= 5, `${split} windows split by the drain`);
    assert.ok(r.logs.some((l) => l.includes("stop with drain")), r.logs.join("\n"));
  });
}

Deno.test("stop without drain through POST /jobs/:id/stop (Flink's default body) keeps windows for the restore", async () => {
  const input = events();
  const expected = await reference("tumbling", input);
  const r = await stopAndRestore("tumbling", input, false, stopThroughRest({}));
  assert.deepEqual(r.late, []);
  assert.deepEqual([...r.before, ...r.after].toSorted(), expected);
});

Deno.test("stopWithSavepoint with a misspelt option or a drain that is no boolean rejects with a ConfigError, and the job runs on", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-stop-" });
  try {
    const j = start("tumbling", dir);
    const input = events().slice(0, 10);
    j.src.push(...input);
    for (
      const [options, message] of [
        [{ drian: true }, 'stopWithSavepoint: unknown option "drian"; the options are drain'],
        [{ drain: "false" }, 'stopWithSavepoint: drain must be true or false, got "false"'],
      ] as const
    ) {
      await assert.rejects(
        j.client.stopWithSavepoint("stop", options as never),
        (e) => e instanceof ConfigError && e.message === message,
      );
    }
    j.src.end();
    const result = await j.client.done;
    assert.equal(result.cancelled, false);
    assert.equal(j.out.values.length, (await reference("tumbling", input)).length);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
