import assert from "node:assert/strict";
import { CollectSink } from "../connectors/collect_sink.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import type { CheckpointedFunction, FunctionSnapshotContext } from "../dataflow/functions.ts";
import { CheckpointError } from "../errors.ts";
import { QueueSource, waitFor } from "../../tests/_helpers/queue_source.ts";

/** A map function whose snapshots finish when the test says so. */
class HeldSnapshots implements CheckpointedFunction {
  readonly held: PromiseWithResolvers<void>[] = [];
  snapshotState(_ctx: FunctionSnapshotContext): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.held.push(done);
    return done.promise;
  }
  map(s: string): string {
    return s;
  }
}

function job(fn: HeldSnapshots) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-async-snapshot-" });
  const src = new QueueSource<string>();
  const sink = new CollectSink<string>();
  const env = StreamEnvironment.create({
    checkpoint: { dir },
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  env.addSource(src, { uid: "src" }).map(fn).uid("held").addSink(sink);
  return { dir, src, sink, client: env.executeAsync("async snapshot") };
}

Deno.test("async snapshotState: records flow while it runs; the checkpoint completes only after it", async () => {
  const fn = new HeldSnapshots();
  const { dir, src, sink, client } = job(fn);
  try {
    src.push("a");
    await waitFor(() => sink.values.length === 1, "the first record");
    let completed = false;
    const checkpoint = client.triggerCheckpoint().then((c) => (completed = true, c));
    await waitFor(() => fn.held.length === 1, "the snapshot's asynchronous part running");
    src.push("b", "c");
    await waitFor(() => sink.values.length === 3, "records after the barrier");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(completed, false);
    fn.held[0]!.resolve();
    const c = await checkpoint;
    assert.equal(c.manifest.checkpointId, 1);
    src.end();
    fn.held.length = 0;
    await waitFor(() => fn.held.length === 1, "the final checkpoint's snapshot");
    fn.held[0]!.resolve();
    await client.done;
    assert.deepEqual(sink.values, ["a", "b", "c"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("async snapshotState: a rejection declines the checkpoint, naming the failure", async () => {
  const fn = new HeldSnapshots();
  const { dir, src, client } = job(fn);
  try {
    src.push("a");
    const checkpoint = client.triggerCheckpoint();
    await waitFor(() => fn.held.length === 1, "the snapshot's asynchronous part running");
    fn.held[0]!.reject(new Error("flush failed"));
    await assert.rejects(checkpoint, (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /flush failed/);
      return true;
    });
    client.cancel();
    await client.done.catch(() => {});
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
