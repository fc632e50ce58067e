/**
 * A record's key group travels with it from the channel that routed it to
 * the receiving subtask's state backend, which files the key's state under
 * it without hashing the key again. The state must land in the key group the
 * key hashes to: the checkpoint reader finds each key by hashing it, and a
 * restore at another parallelism hands each key group to another subtask.
 * Mixed key types (strings, numbers, bigints, tuples, objects), on the LSM
 * backend, through its value cache (value state) and its direct path (list
 * state), routed over two and three channels.
 */
import assert from "node:assert/strict";
import {
  CollectSink,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type ListState,
  ListStateDescriptor,
  LsmStateBackend,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";
import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
import { loadManifest } from "../core/checkpoint/storage.ts";
import { getState, openState } from "../core/state/state_reader.ts";
import { keyId } from "./_helpers/key_id.ts";
import { QueueSource, rng } from "./_helpers/queue_source.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";

type Event = { key: unknown; value: number };

const KEYS: unknown[] = [
  "a",
  "user-17",
  "",
  "naïve",
  0,
  1,
  -2.5,
  10n,
  true,
  ["user", 1],
  ["user", 2],
  { region: "eu", id: 3 },
  ...Array.from({ length: 40 }, (_, i) => `w${i}`),
];

/** Per key: the running sum (value state, cached) and every value (list state, uncached). */
class SumAndValues implements KeyedProcessFunction<unknown, Event, string> {
  sum!: ValueState<number>;
  values!: ListState<number>;
  open(ctx: RuntimeContext) {
    this.sum = ctx.getState(new ValueStateDescriptor("sum", Serializers.f64, 0));
    this.values = ctx.getListState(new ListStateDescriptor("values", Serializers.f64));
  }
  processElement(e: Event, ctx: KeyedProcessContext<unknown>, out: { collect(v: string): void }) {
    const s = this.sum.value()! + e.value;
    this.sum.update(s);
    this.values.add(e.value);
    out.collect(`${keyId(ctx.getCurrentKey())}=${s}`);
  }
}

function events(seed: number, n: number): Event[] {
  const rand = rng(seed);
  return Array.from({ length: n }, () => ({
    key: KEYS[Math.floor(rand() * KEYS.length)],
    value: Math.floor(rand() * 200) - 100,
  }));
}

interface Stage {
  src: QueueSource<Event>;
  out: CollectSink<string>;
  client: ReturnType<StreamEnvironment["executeAsync"]>;
}

function stage(dir: string, parallelism: number, restore?: string): Stage {
  const env = StreamEnvironment.create({
    parallelism,
    stateBackend: new LsmStateBackend(),
    checkpoint: { dir, retained: 10, retainOnCancellation: true },
    ...(restore ? { restore } : {}),
    restartStrategy: { kind: "none" },
  });
  const src = new QueueSource<Event>("events");
  const out = new CollectSink<string>();
  env.addSource(src, { uid: "src" }).keyBy((e) => e.key).process(new SumAndValues()).uid("sum")
    .addSink(out);
  return { src, out, client: env.executeAsync(`key groups p${parallelism}`) };
}

Deno.test("key groups travel with records: LSM state written at parallelism 3 and 2 sits in each key's own group, and rescales", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-key-groups-" });
  const fs = new DenoCheckpointFs();
  const sums = new Map<string, number>();
  const seen = new Map<string, number[]>();
  let restore: string | undefined;
  try {
    for (const [i, parallelism] of [3, 2, 1].entries()) {
      const s = stage(dir, parallelism, restore);
      const batch = events(i + 1, 2000);
      s.src.push(...batch);
      await until(() => s.out.values.length === batch.length, "records counted");
      // Every running sum continues from the last stage's state, whichever subtask holds it now.
      const expected: string[] = [];
      for (const e of batch) {
        const k = keyId(e.key);
        const sum = (sums.get(k) ?? 0) + e.value;
        sums.set(k, sum);
        seen.set(k, [...(seen.get(k) ?? []), e.value]);
        expected.push(`${k}=${sum}`);
      }
      assert.deepEqual(s.out.values.toSorted(), expected.toSorted(), `p${parallelism}`);

      // The checkpoint reader hashes each key to its group and reads only that group.
      const done = await s.client.triggerCheckpoint();
      s.client.cancel();
      await s.client.done;
      const loaded = loadManifest(fs, done.path, true);
      const sumView = openState(loaded, "sum", "sum");
      const valuesView = openState(loaded, "sum", "values");
      for (const key of KEYS) {
        const k = keyId(key);
        if (!sums.has(k)) continue;
        const sum = getState(loaded, fs, sumView, key);
        assert.deepEqual(sum.entries.map((e) => e.value), [sums.get(k)], `sum of ${k}`);
        assert.equal(sum.entries[0]!.keyGroup, sum.location.keyGroup);
        const values = getState(loaded, fs, valuesView, key);
        assert.deepEqual(values.entries.map((e) => e.value), [seen.get(k)], `values of ${k}`);
      }
      restore = done.path;
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
