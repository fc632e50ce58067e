/**
 * PostgreSQL parts written by the changed-rows worker through its own
 * connection: the job thread's store writes nothing, the rows are visible
 * once the checkpoint completes (not before), and a server killed
 * mid-run rejects the write naming the server without the password, after
 * which the worker reconnects.
 */
import assert from "node:assert/strict";
import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
import type { Manifest } from "../core/checkpoint/manifest.ts";
import type { LoadedManifest } from "../core/checkpoint/storage.ts";
import type { KeyedStateHandle } from "../core/state/backend.ts";
import { ValueStateDescriptor } from "../core/state/descriptors.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import { Serializers } from "../core/state/serializer.ts";
import {
  ChangedRowsWorker,
  type PartPlan,
} from "../core/checkpoint/storage/changed_rows_worker.ts";
import { PostgresStore } from "../core/checkpoint/storage/postgres/postgres_store.ts";
import type { RemoteStore } from "../core/checkpoint/storage/remote_store.ts";
import { startPostgres } from "./_helpers/db_servers.ts";
import { stateInDatabase } from "./_helpers/database_state.ts";

function loaded(dir: string, handle: KeyedStateHandle): LoadedManifest {
  const manifest = {
    maxParallelism: 128,
    segments: Object.fromEntries(handle.segments.map((s) => [s.name, s.size])),
    operators: {
      op: {
        name: "op",
        parallelism: 1,
        source: false,
        keySerializer: "string",
        subtasks: [{ index: 0, keyed: handle, operatorState: {} }],
      },
    },
  } as unknown as Manifest;
  return { manifest, dir, segmentPath: (n) => `${dir}/${n}` };
}

/** `store`, except that writing a part through it fails: parts must come from elsewhere. */
function writingNothing(store: PostgresStore): RemoteStore {
  return new Proxy(store, {
    get(target, name) {
      if (name === "writePart") {
        return () => Promise.reject(new Error("a part was written on the job thread"));
      }
      const v = Reflect.get(target, name);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

function plan(id: number, prev: LoadedManifest | undefined, next: LoadedManifest): PartPlan {
  const have = new Set(Object.keys(prev?.manifest.segments ?? {}));
  return {
    id,
    checkpoint: true,
    prev,
    next,
    reset: false,
    segments: Object.keys(next.manifest.segments).filter((n) => !have.has(n))
      .map((name) => ({ name, path: next.segmentPath(name) })),
  };
}

Deno.test("PostgreSQL checkpoint storage: the changed-rows worker writes the parts through its own connection, visible once completed; a killed server rejects naming it, then the worker reconnects", async () => {
  const server = await startPostgres();
  const dir = Deno.makeTempDirSync({ prefix: "weir-part-writer-test-" });
  const fs = new DenoCheckpointFs();
  let n = 0;
  const storage = { fs, dir, newSegmentName: () => `w-${++n}.seg` };
  const b = new LsmStateBackend({ dir: `${dir}/store` }).createKeyedBackend({
    operatorUid: "op",
    subtaskIndex: 0,
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
  });
  const url = `${server.url}?job=parts`;
  const store = await PostgresStore.open(url, "parts");
  const worker = new ChangedRowsWorker(fs);
  const complete = (id: number) =>
    store.complete({ id, kind: "checkpoint", manifest: new TextEncoder().encode(`{"id":${id}}`) });
  const state = () => stateInDatabase("postgres", server.url, "parts", "op", "count");
  try {
    const c = b.state(new ValueStateDescriptor("count", Serializers.f64));
    for (let i = 0; i < 500; i++) {
      b.setCurrentKey(`k${i}`);
      c.update(i);
    }
    const first = loaded(dir, await b.snapshot(1, storage));
    const p1 = plan(1, undefined, first);
    assert.ok(p1.segments.length > 0);
    const written = await worker.writeParts(writingNothing(store), p1);
    assert.equal(written.rows, 500);
    assert.equal(written.reset, false);
    const bytes = p1.segments.reduce((sum, s) => sum + Deno.statSync(s.path).size, 0);
    assert.equal(written.segmentBytes, bytes);
    assert.deepEqual(
      (await store.segmentNames()).sort(),
      p1.segments.map((s) => s.name).sort(),
    );
    // Written, not completed: the view shows nothing yet.
    assert.equal(state().size, 0);
    await complete(1);
    assert.equal(state().size, 500);
    assert.equal(state().get('"k7"'), 7);

    for (let i = 0; i < 5; i++) {
      b.setCurrentKey(`k${i * 100}`);
      if (i < 4) c.update(-i - 1);
      else c.clear();
    }
    const second = loaded(dir, await b.snapshot(2, storage));
    assert.equal((await worker.writeParts(writingNothing(store), plan(2, first, second))).rows, 5);
    await complete(2);
    const after = state();
    assert.equal(after.size, 499);
    assert.equal(after.get('"k100"'), -2);
    assert.equal(after.has('"k400"'), false);

    // The server goes away: the write rejects, naming the server, never the password.
    b.setCurrentKey("k1");
    c.update(1000);
    const third = loaded(dir, await b.snapshot(3, storage));
    await server.kill();
    await assert.rejects(
      worker.writeParts(writingNothing(store), plan(3, second, third)),
      (e: Error) =>
        e.message.includes(`127.0.0.1:${server.port}`) && !e.message.includes(server.password),
    );
    await server.start();
    assert.equal((await worker.writeParts(writingNothing(store), plan(3, second, third))).rows, 1);
    await complete(3);
    assert.equal(state().get('"k1"'), 1000);
  } finally {
    await worker.close();
    await store.close().catch(() => {});
    b.dispose();
    await server.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});
