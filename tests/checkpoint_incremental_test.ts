/**
 * Incremental checkpoints of the LSM backend through a job: a checkpoint
 * after a small change writes about the change, not the state; and restore
 * time does not grow with state size (segments are opened, not replayed).
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import { ValueStateDescriptor } from "../core/state/descriptors.ts";
import { Serializers } from "../core/state/serializer.ts";
import type { KeyedStateHandle } from "../core/state/backend.ts";
import { loadManifest } from "../core/checkpoint/storage.ts";
import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
import type { CompletedCheckpoint } from "../core/checkpoint/coordinator.ts";
import type { PollStatus, Source, SourceOutput, SourceReader } from "../core/connectors/source.ts";
import { countJob, until } from "./_helpers/checkpoint_jobs.ts";

const backend = () => new LsmStateBackend({ memtableBytes: 8 << 20, blockCacheBytes: 1 << 20 });

/** An unbounded source fed in bulk (QueueSource's shift() is quadratic at 200k records). */
class BulkSource implements Source<string> {
  readonly name = "bulk";
  readonly maxParallelism = 1;
  readonly items: string[] = [];
  at = 0;
  createReader(): SourceReader<string> {
    return {
      poll: (out: SourceOutput<string>, max: number): PollStatus => {
        const from = this.at;
        const end = Math.min(this.items.length, from + max);
        while (this.at < end) out.collect(this.items[this.at++]!);
        return end > from ? "more" : "idle";
      },
      position: () => this.at,
      restore: () => {},
    };
  }
}

/** Counts `keys` distinct keys, checkpoints, then changes `changed` of them and checkpoints again. */
async function twoCheckpoints(keys: number, changed: number) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-incr-" });
  const src = new BulkSource();
  const env = StreamEnvironment.create({
    stateBackend: backend(),
    channelCapacity: 1 << 16,
    checkpoint: { dir, retained: 2, retainOnCancellation: true },
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  // Counting sink: no output kept in memory.
  countJob(env.addSource(src, { uid: "src" }), new CollectSink<string>(), {});
  const client = env.executeAsync("incremental");
  const job = () => client.job;
  const through = () => job().tasks.reduce((a, t) => a + (t.gate ? t.metrics.recordsIn : 0), 0);
  for (let i = 0; i < keys; i++) src.items.push(`key-${i}`);
  await until(() => through() === keys, "all keys counted", 30_000);
  const c1 = await client.triggerCheckpoint();
  for (let i = 0; i < changed; i++) src.items.push(`key-${(i * 97) % keys}`);
  await until(() => through() === keys + changed, "changes counted", 30_000);
  const c2 = await client.triggerCheckpoint();
  client.cancel();
  await client.done;
  return { dir, c1, c2 };
}

Deno.test("incremental: after ~1% of keys change, the checkpoint writes about the change", async () => {
  const { dir, c1, c2 } = await twoCheckpoints(200_000, 2_000);
  try {
    const s1 = c1.manifest.stats, s2 = c2.manifest.stats;
    assert.equal(s1.checkpointedSize, s1.stateSize, "the first checkpoint writes everything");
    assert.ok(s1.stateSize > 1_000_000, `state ${s1.stateSize} bytes`);
    assert.ok(s2.checkpointedSize > 0, "the change was written");
    const ratio = s2.checkpointedSize / s2.stateSize;
    assert.ok(
      ratio < 0.1,
      `second checkpoint wrote ${s2.checkpointedSize} of ${s2.stateSize} bytes`,
    );
    // The first checkpoint's segments are shared, not rewritten.
    for (const s of Object.keys(c1.manifest.segments)) assert.ok(s in c2.manifest.segments);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Opens the count operator's keyed state from a checkpoint; returns ms and a read value. */
function restoreOnce(c: CompletedCheckpoint): { ms: number; value: number | undefined } {
  const loaded = loadManifest(new DenoCheckpointFs(), c.path, true);
  const handles = loaded.manifest.operators.count!.subtasks
    .map((s) => s.keyed)
    .filter((h): h is KeyedStateHandle => h !== undefined);
  const t0 = performance.now();
  const kb = backend().createKeyedBackend({
    operatorUid: "count",
    subtaskIndex: 0,
    keySerializer: Serializers.string as never,
    maxParallelism: loaded.manifest.maxParallelism,
    keyGroupRange: { start: 0, end: loaded.manifest.maxParallelism - 1 },
    restore: { handles, fs: new DenoCheckpointFs(), segmentPath: loaded.segmentPath },
  });
  const ms = performance.now() - t0;
  const count = kb.state(new ValueStateDescriptor("count", Serializers.f64, 0));
  kb.setCurrentKey("key-0");
  const value = count.value();
  kb.dispose();
  return { ms, value };
}

Deno.test("incremental: restore time is flat in state size (LSM opens segments lazily)", async () => {
  const small = await twoCheckpoints(15_000, 10);
  const big = await twoCheckpoints(150_000, 10);
  try {
    restoreOnce(small.c2); // warm up
    // Small and big in turn, and the fastest of each: the suite runs test files side by side,
    // and a restore of a few ms that another file interrupts says nothing about its own work.
    const a: number[] = [], b: number[] = [];
    for (let i = 0; i < 9; i++) {
      for (const [c, ms] of [[small.c2, a], [big.c2, b]] as const) {
        const r = restoreOnce(c);
        // key-0 was counted once, then changed once ((0 * 97) % keys = 0).
        assert.equal(r.value, 2);
        ms.push(r.ms);
      }
    }
    const sizeRatio = big.c2.manifest.stats.stateSize / small.c2.manifest.stats.stateSize;
    assert.ok(sizeRatio > 8, `state sizes differ ${sizeRatio}×`);
    const fastA = Math.min(...a), fastB = Math.min(...b);
    const ratio = fastB / Math.max(fastA, 0.5);
    assert.ok(
      ratio < 3,
      `restore ${fastA.toFixed(2)} ms vs ${fastB.toFixed(2)} ms (${ratio.toFixed(1)}×)`,
    );
  } finally {
    Deno.removeSync(small.dir, { recursive: true });
    Deno.removeSync(big.dir, { recursive: true });
  }
});
