import assert from "node:assert/strict";
import { CheckpointError } from "../../errors.ts";
import { StreamEnvironment } from "../../dataflow/environment.ts";
import { HeapStateBackend } from "../../state/heap/heap_backend.ts";
import { CollectSink } from "../../connectors/collect_sink.ts";
import { CheckpointStorage } from "../storage.ts";
import { CheckpointMirror } from "./checkpoint_mirror.ts";
import type { RemoteStore } from "./remote_store.ts";

/** A store that holds nothing and answers everything at once but `latest()`, which never does. */
function stalledLatest(): RemoteStore {
  const none = () => Promise.resolve();
  return {
    where: 'stalled (job "j")',
    list: () => Promise.resolve([]),
    latest: () => new Promise(() => {}),
    manifest: () => Promise.reject(new Error("no manifests")),
    segmentNames: () => Promise.resolve([]),
    segment: () => Promise.reject(new Error("no segments")),
    writePart: none,
    complete: none,
    discard: none,
    replaceSavepointManifest: none,
    collect: () => Promise.resolve({ checkpoints: [], segments: [] }),
    close: none,
  } as unknown as RemoteStore;
}

Deno.test("CheckpointMirror: a publication whose look-up goes unanswered fails within the answer time, and the next is not held behind it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-mirror-src-" });
  const root = await Deno.makeTempDir({ prefix: "weir-mirror-root-" });
  try {
    // A real checkpoint to publish: a small bounded job's final one.
    const env = StreamEnvironment.create({
      parallelism: 1,
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir },
      log: () => {},
    });
    env.fromElements("a", "b", "a").keyBy((w) => w).reduce((a, b) => a + b).addSink(
      new CollectSink(),
    );
    await env.execute("mirror");
    const storage = new CheckpointStorage(dir);
    const path = storage.loadCheckpoint(storage.completedIds().at(-1)!).dir;
    const mirror = await CheckpointMirror.open(stalledLatest(), root, { answerMs: 200 });
    for (const attempt of [1, 2]) {
      const t0 = performance.now();
      await assert.rejects(
        mirror.publish(storage, path, () => true),
        (e: Error) =>
          e instanceof CheckpointError &&
          e.message ===
            'stalled (job "j") did not answer (reading the latest checkpoint) within 200 ms',
      );
      assert.ok(performance.now() - t0 < 5_000, `attempt ${attempt} waited behind the first`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
});
