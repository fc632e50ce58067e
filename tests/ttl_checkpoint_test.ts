/**
 * State TTL through a real job: expired state stops taking space in
 * checkpoints (heap backend, cleanup in full snapshots), driven by the job's
 * ManualClock, and restores with its timestamps.
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import type {
  Collector,
  KeyedProcessFunction,
  RuntimeContext,
} from "../core/dataflow/functions.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { ListStateDescriptor, ValueStateDescriptor } from "../core/state/descriptors.ts";
import { Serializers } from "../core/state/serializer.ts";
import type { ListState, ValueState } from "../core/state/state.ts";
import { StateTtlConfig } from "../core/state/ttl.ts";
import { ManualClock } from "../core/runtime/clock.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";

const TTL = StateTtlConfig.newBuilder(60_000).cleanupFullSnapshot().build();

/** Remembers each key's last word and all its words, with TTL. */
class Remember implements KeyedProcessFunction<string, string, string> {
  last!: ValueState<string>;
  all!: ListState<string>;
  open(ctx: RuntimeContext): void {
    const last = new ValueStateDescriptor("last", Serializers.string);
    last.enableTimeToLive(TTL);
    const all = new ListStateDescriptor("all", Serializers.string);
    all.enableTimeToLive(TTL);
    this.last = ctx.getState(last);
    this.all = ctx.getListState(all);
  }
  processElement(word: string, _ctx: unknown, out: Collector<string>): void {
    const before = this.last.value();
    this.last.update(word);
    this.all.add(word);
    out.collect(`${word}\t${before ?? "-"}\t${this.all.get()?.length ?? 0}`);
  }
}

Deno.test("ttl checkpoint: expired state stops taking space in checkpoints", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-ttl-ck-" });
  try {
    const clock = new ManualClock(1_000);
    const src = new QueueSource<string>("words");
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      parallelism: 2,
      stateBackend: new HeapStateBackend(),
      clock,
      checkpoint: { dir },
      log: () => {},
    });
    env.addSource(src, { uid: "src" })
      .keyBy((w) => w.split(":")[0]!, Serializers.string)
      .process<string>(new Remember()).uid("remember")
      .addSink(out, { uid: "sink" });
    const client = env.executeAsync("ttl");
    const old = Array.from({ length: 400 }, (_, i) => `old${i}:${"x".repeat(30)}`);
    src.push(...old);
    await until(() => out.values.length === 400, "the old keys");
    const c1 = await client.triggerCheckpoint();
    const full = c1.manifest.stats.stateSize;
    assert.ok(full > 400 * 30, `state size ${full}`);

    clock.advance(30_000);
    src.push("fresh:1", "fresh:2");
    await until(() => out.values.length === 402, "the fresh key");
    const c2 = await client.triggerCheckpoint();
    assert.ok(c2.manifest.stats.stateSize >= full * 0.9, "nothing expired yet");

    clock.advance(30_000); // the old keys expire, the fresh key (t=31s) does not
    const c3 = await client.triggerCheckpoint();
    const small = c3.manifest.stats.stateSize;
    assert.ok(small * 20 < full, `${small} should be far below ${full}`);

    // A returning old key starts over; the fresh key kept its state.
    src.push("old7:y", "fresh:3");
    await until(() => out.values.length === 404, "the last records");
    src.end();
    await client.done;
    assert.deepEqual(out.values.slice(-2).sort(), ["fresh:3\tfresh:2\t3", "old7:y\t-\t1"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
