/**
 * Checkpoints published by the changed-rows worker through its own
 * connection, to PostgreSQL and Redis: the job thread's store writes nothing,
 * the rows are visible once published, and a server killed mid-run rejects
 * the publication naming the server without the password (its parts left for
 * a later discard), after which the worker reconnects.
 */
import assert from "node:assert/strict";
import { loadedWithOneSubtask } from "../core/checkpoint/storage/_test_manifest.ts";
import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
import type { LoadedManifest } from "../core/checkpoint/storage.ts";
import { ValueStateDescriptor } from "../core/state/descriptors.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import { Serializers } from "../core/state/serializer.ts";
import {
  ChangedRowsWorker,
  type PartPlan,
} from "../core/checkpoint/storage/changed_rows_worker.ts";
import { openRemoteStore } from "../core/checkpoint/storage/open_remote_store.ts";
import type { RemoteStore } from "../core/checkpoint/storage/remote_store.ts";
import { startPostgres, startRedis } from "./_helpers/db_servers.ts";
import { type DatabaseKind, stateInDatabase } from "./_helpers/database_state.ts";

/** A checkpoint file system and segment storage in `dir`, and an LSM keyed backend of operator `op`. */
function checkpointSetup(dir: string) {
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
  return { fs, storage, b };
}

/** `store`, except that writing through it fails: parts and completions must come from elsewhere. */
function writingNothing(store: RemoteStore): RemoteStore {
  return new Proxy(store, {
    get(target, name) {
      if (name === "writePart" || name === "complete") {
        return () => Promise.reject(new Error(`${name} ran on the job thread`));
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

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  Deno.test(`${kind} checkpoint storage: the changed-rows worker publishes through its own connection; a killed server rejects naming it, then the worker reconnects`, async () => {
    const server = kind === "postgres" ? await startPostgres() : await startRedis();
    const dir = Deno.makeTempDirSync({ prefix: "weir-part-writer-test-" });
    const { fs, storage, b } = checkpointSetup(dir);
    const url = `${server.url}?job=parts`;
    const store = await openRemoteStore({ kind, url }, "parts");
    const worker = new ChangedRowsWorker(fs);
    let undiscarded = 0;
    const publish = (p: PartPlan) =>
      worker.publish(
        writingNothing(store),
        p,
        { kind: "checkpoint", manifest: new TextEncoder().encode(`{"id":${p.id}}`) },
        () => undiscarded++,
      );
    const state = () => stateInDatabase(kind, server.url, "parts", "op", "count");
    try {
      const c = b.state(new ValueStateDescriptor("count", Serializers.f64));
      for (let i = 0; i < 500; i++) {
        b.setCurrentKey(`k${i}`);
        c.update(i);
      }
      const first = loadedWithOneSubtask(dir, await b.snapshot(1, storage));
      const p1 = plan(1, undefined, first);
      assert.ok(p1.segments.length > 0);
      const written = await publish(p1);
      assert.equal(written.rows, 500);
      assert.equal(written.reset, false);
      const bytes = p1.segments.reduce((sum, s) => sum + Deno.statSync(s.path).size, 0);
      assert.equal(written.segmentBytes, bytes);
      assert.deepEqual(
        (await store.segmentNames()).sort(),
        p1.segments.map((s) => s.name).sort(),
      );
      assert.equal(await store.latest(), 1);
      assert.equal(state().size, 500);
      assert.equal(state().get('"k7"'), 7);

      for (let i = 0; i < 5; i++) {
        b.setCurrentKey(`k${i * 100}`);
        if (i < 4) c.update(-i - 1);
        else c.clear();
      }
      const second = loadedWithOneSubtask(dir, await b.snapshot(2, storage));
      assert.equal((await publish(plan(2, first, second))).rows, 5);
      const after = state();
      assert.equal(after.size, 499);
      assert.equal(after.get('"k100"'), -2);
      assert.equal(after.has('"k400"'), false);

      // The server goes away: the publication rejects, naming the server, never the
      // password, and its parts could not be discarded either.
      b.setCurrentKey("k1");
      c.update(1000);
      const third = loadedWithOneSubtask(dir, await b.snapshot(3, storage));
      await server.kill();
      await assert.rejects(
        publish(plan(3, second, third)),
        (e: Error) =>
          e.message.includes(`127.0.0.1:${server.port}`) && !e.message.includes(server.password),
      );
      assert.equal(undiscarded, 1);
      await server.start();
      // As the job's next checkpoint would: tried again until the client is back (each
      // client, the worker's and this thread's, reconnects on its own).
      const deadline = Date.now() + 30_000;
      const retried = async <T>(f: () => Promise<T>): Promise<T> => {
        for (;;) {
          try {
            return await f();
          } catch (e) {
            if (Date.now() > deadline) throw e;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      };
      const again = await retried(() => publish(plan(3, second, third)));
      assert.equal(again.rows, 1);
      assert.equal(await retried(() => store.latest()), 3);
      assert.equal(state().get('"k1"'), 1000);
    } finally {
      await worker.close();
      await store.close().catch(() => {});
      b.dispose();
      await server.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("postgres checkpoint storage: without the permission to read weir's modules, the checkpoint is published on the job thread", async () => {
  const server = await startPostgres();
  const dir = Deno.makeTempDirSync({ prefix: "weir-part-writer-test-" });
  const { storage, b } = checkpointSetup(dir);
  try {
    const c = b.state(new ValueStateDescriptor("count", Serializers.f64));
    for (let i = 0; i < 300; i++) {
      b.setCurrentKey(`k${i}`);
      c.update(i);
    }
    Deno.writeTextFileSync(
      `${dir}/plan.json`,
      JSON.stringify(plan(1, undefined, loadedWithOneSubtask(dir, await b.snapshot(1, storage)))),
    );
    Deno.writeTextFileSync(
      `${dir}/probe.ts`,
      `import { ChangedRowsWorker } from "${
        import.meta.resolve("../core/checkpoint/storage/changed_rows_worker.ts")
      }";
import { DenoCheckpointFs } from "${import.meta.resolve("../core/checkpoint/checkpoint_fs.ts")}";
import { PostgresStore } from "${
        import.meta.resolve("../core/checkpoint/storage/postgres/postgres_store.ts")
      }";
const plan = JSON.parse(Deno.readTextFileSync("${dir}/plan.json"));
plan.next.segmentPath = (n) => plan.next.dir + "/" + n;
const store = await PostgresStore.open(Deno.env.get("URL"), "probe");
const w = new ChangedRowsWorker(new DenoCheckpointFs());
const manifest = new TextEncoder().encode("{}");
console.log(JSON.stringify(await w.publish(store, plan, { kind: "checkpoint", manifest }, () => {})));
await w.close();
await store.close();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        // For the "postgres" import.
        `--config=${new URL("../deno.json", import.meta.url).pathname}`,
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-sys",
        `${dir}/probe.ts`,
      ],
      env: { NO_COLOR: "1", URL: server.url },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    // Nothing said about a worker that could not load.
    assert.equal(stderr.replace(/^(Check|Download).*\n/gm, ""), "");
    const written = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(written.rows, 300);
    const state = stateInDatabase("postgres", server.url, "probe", "op", "count");
    assert.equal(state.size, 300);
    assert.equal(state.get('"k299"'), 299);
  } finally {
    b.dispose();
    await server.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});
