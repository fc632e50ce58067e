/**
 * Manual checkpoints and savepoints overlapping periodic checkpoints: the
 * garbage collection at one checkpoint's completion deletes nothing another
 * in flight may reference, so every completed checkpoint has all its
 * segments and every savepoint succeeds. As a safety net, a manifest naming
 * a segment that is gone is never written.
 */
import assert from "node:assert/strict";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import type { StateBackend } from "../core/state/backend.ts";
import { Serializers } from "../core/state/serializer.ts";
import type { CompletedCheckpoint } from "../core/checkpoint/coordinator.ts";
import { CheckpointStorage } from "../core/checkpoint/storage.ts";
import type { Manifest } from "../core/checkpoint/manifest.ts";
import { CheckpointError } from "../core/errors.ts";
import { assertIntact, CountPerKey } from "./_helpers/checkpoint_jobs.ts";

const backends: [string, () => StateBackend][] = [
  ["heap", () => new HeapStateBackend()],
  ["lsm", () => new LsmStateBackend({ memtableBytes: 256 << 10, blockCacheBytes: 1 << 20 })],
];

for (const [name, backend] of backends) {
  Deno.test(`checkpoint overlap (${name}): manual checkpoints and savepoints during periodic ones all complete intact`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-overlap-" });
    try {
      const env = StreamEnvironment.create({
        stateBackend: backend(),
        parallelism: 1,
        // Every completed checkpoint is kept: any segment missing is one deleted too early.
        checkpoint: { dir, intervalMs: 10, retained: 1_000, retainOnCancellation: true },
        restartStrategy: { kind: "none" },
        log: () => {},
      });
      env.generate({ generate: (n) => `k${(n * 7919) % 20_000}`, ratePerSecond: 200_000 })
        .keyBy((w) => w, Serializers.string)
        .process<string>(new CountPerKey()).uid("count")
        .addSink({ invoke: () => {} }, { uid: "sink" });
      const client = env.executeAsync("overlap");
      const taken: Promise<CompletedCheckpoint>[] = [];
      for (let i = 0; i < 40; i++) {
        // Without waiting for one another: they overlap the periodic ones and each other.
        taken.push(client.triggerCheckpoint());
        if (i % 2 === 0) taken.push(client.triggerSavepoint(`sp-${i}`));
        await new Promise((r) => setTimeout(r, 15));
      }
      const results = await Promise.allSettled(taken);
      client.cancel();
      await client.done;
      const failed = results.flatMap((r) => r.status === "rejected" ? [String(r.reason)] : []);
      assert.deepEqual(failed, [], "every manual checkpoint and savepoint completes");
      // Every checkpoint completed (periodic or manual) still has all its segments.
      const manifests = assertIntact(dir);
      assert.ok(manifests.length >= 40, `${manifests.length} checkpoints`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("checkpoint overlap: a manifest naming a segment no longer in shared/ is not written", () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-overlap-" });
  try {
    const storage = new CheckpointStorage(dir);
    Deno.writeTextFileSync(`${dir}/shared/here.seg`, "abc");
    const manifest = {
      checkpointId: 7,
      segments: { "here.seg": { size: 3 }, "gone.seg": { size: 3 } },
    } as unknown as Manifest;
    assert.throws(
      () => storage.writeCheckpoint(manifest),
      CheckpointError,
      "Cannot complete checkpoint 7: segment gone.seg is missing",
    );
    assert.deepEqual(storage.completedIds(), []);
    assert.throws(
      () => storage.writeSavepoint(manifest, "sp"),
      CheckpointError,
      "Cannot complete savepoint sp: segment gone.seg is missing",
    );
    assert.deepEqual(storage.savepoints(), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
