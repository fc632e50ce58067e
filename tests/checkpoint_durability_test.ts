/**
 * Durability on a crash of the machine, checked with the fault file system's
 * record of calls: every file a checkpoint, a savepoint or the exactly-once
 * sink commits is fsynced before the rename that publishes it, and every
 * folder it is renamed, linked or copied into is fsynced before the step
 * that relies on it (the manifest, the report of completion, the commit).
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { ExactlyOnceFileSink } from "../core/connectors/exactly_once_file_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
import { CheckpointError } from "../core/errors.ts";
import { FaultyFs } from "./_helpers/faulty_fs.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { countJob, until } from "./_helpers/checkpoint_jobs.ts";

/** The index of the first call matching `pattern`, asserting there is one. */
function at(calls: readonly string[], pattern: string | RegExp, after = -1): number {
  const i = calls.findIndex((c, j) =>
    j > after && (typeof pattern === "string" ? c === pattern : pattern.test(c))
  );
  assert.ok(i >= 0, `no call ${pattern} after #${after} in:\n${calls.join("\n")}`);
  return i;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

Deno.test("durability: a checkpoint fsyncs its segments, shared/, the manifest, chk-<id> and the root, in that order", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-durable-" });
  try {
    const fs = new FaultyFs();
    const src = new QueueSource<string>();
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir, fs },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    countJob(env.addSource(src, { uid: "src" }), out);
    const client = env.executeAsync("durable");
    src.push("a", "b", "a");
    await until(() => out.values.length === 3, "records");
    fs.calls.length = 0;
    const { manifest } = await client.triggerCheckpoint();
    const calls = [...fs.calls];
    const id = manifest.checkpointId;
    const segments = Object.keys(manifest.segments);
    assert.ok(segments.length > 0);

    const syncShared = at(calls, `syncDir ${dir}/shared`);
    for (const seg of segments) {
      const rename = at(calls, new RegExp(`^rename (.*) -> ${escape(`${dir}/shared/${seg}`)}$`));
      const tmp = /^rename (.*) -> /.exec(calls[rename]!)![1]!;
      assert.ok(at(calls, `sync ${tmp}`) < rename, `${seg}: fsync before its rename`);
      assert.ok(rename < syncShared, `${seg}: renamed into shared/ before shared/ is fsynced`);
    }
    const metadata = `${dir}/chk-${id}/_metadata`;
    const create = at(calls, new RegExp(`^create ${escape(`${dir}/chk-${id}/`)}\\..*\\.tmp$`));
    assert.ok(syncShared < create, "shared/ is durable before the manifest is written");
    const tmp = calls[create]!.slice("create ".length);
    const rename = at(calls, `rename ${tmp} -> ${metadata}`, create);
    assert.ok(at(calls, `sync ${tmp}`, create) < rename, "manifest fsynced before its rename");
    const syncChk = at(calls, `syncDir ${dir}/chk-${id}`, rename);
    at(calls, `syncDir ${dir}`, syncChk);

    src.end();
    await client.done;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("durability: a savepoint fsyncs its segment copies and its folders before and after its manifest", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-durable-" });
  try {
    const fs = new FaultyFs();
    const src = new QueueSource<string>();
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir, fs },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    countJob(env.addSource(src, { uid: "src" }), out);
    const client = env.executeAsync("durable savepoint");
    src.push("a", "b", "c");
    await until(() => out.values.length === 3, "records");
    fs.calls.length = 0;
    const { manifest, path } = await client.triggerSavepoint("sp");
    const calls = [...fs.calls];
    assert.equal(path, `${dir}/savepoints/sp`);
    const syncFolder = at(calls, `syncDir ${path}`);
    for (const seg of Object.keys(manifest.segments)) {
      const copy = at(calls, `copy ${dir}/shared/${seg} -> ${path}/${seg}`);
      assert.ok(at(calls, `sync ${path}/${seg}`, copy) < syncFolder, `${seg}: copy fsynced`);
    }
    const create = at(calls, new RegExp(`^create ${escape(path)}/\\..*\\.tmp$`));
    assert.ok(syncFolder < create, "the copies' entries are durable before the manifest");
    const rename = at(calls, new RegExp(`-> ${escape(`${path}/_metadata`)}$`), create);
    const syncSavepoints = at(calls, `syncDir ${dir}/savepoints`, rename);
    at(calls, `syncDir ${dir}`, syncSavepoints);
    src.end();
    await client.done;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("durability: DenoCheckpointFs.copy fsyncs the copy", () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-durable-" });
  const proto = Deno.FsFile.prototype;
  const real = proto.syncSync;
  const synced: number[] = [];
  try {
    Deno.writeTextFileSync(`${dir}/a`, "segment bytes");
    proto.syncSync = function (this: Deno.FsFile) {
      synced.push(this.statSync().size);
      return real.call(this);
    };
    new DenoCheckpointFs().copy(`${dir}/a`, `${dir}/b`);
    assert.deepEqual(synced, ["segment bytes".length]);
    assert.equal(Deno.readTextFileSync(`${dir}/b`), "segment bytes");
  } finally {
    proto.syncSync = real;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("durability: a failed fsync of shared/ fails the checkpoint; no manifest names unsynced segments", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-durable-" });
  try {
    const fs = new FaultyFs();
    const src = new QueueSource<string>();
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir, fs, tolerableFailures: 5 },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    countJob(env.addSource(src, { uid: "src" }), out);
    const client = env.executeAsync("failed folder fsync");
    src.push("a");
    await until(() => out.values.length === 1, "records");
    fs.arm({ failSync: true, only: /\/shared$/ });
    await assert.rejects(client.triggerCheckpoint(), (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, /fsync of folder .*\/shared failed/);
      return true;
    });
    assert.ok(![...Deno.readDirSync(dir)].some((e) => e.name.startsWith("chk-")));
    fs.heal();
    const { manifest } = await client.triggerCheckpoint();
    assert.equal(manifest.checkpointId, 2);
    src.end();
    await client.done;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("durability: the exactly-once sink fsyncs a file and .in-progress/ at pre-commit, the output folder after the commit rename", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-durable-" });
  const output = `${dir}/out`;
  try {
    const fs = new FaultyFs();
    const src = new QueueSource<string>();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir: `${dir}/ck` },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    env.addSource(src, { uid: "src" }).addSink(
      new ExactlyOnceFileSink<string>({ dir: output, fs }),
      {
        uid: "sink",
      },
    );
    const client = env.executeAsync("durable sink");
    src.push("a", "b");
    await until(() => fs.calls.some((c) => c.startsWith("create ")), "the first write");
    await client.triggerCheckpoint();
    src.end();
    await client.done;
    const calls = [...fs.calls];
    const rename = at(
      calls,
      new RegExp(`^rename ${escape(output)}/\\.in-progress/(part-\\S+) -> `),
    );
    const part = /\.in-progress\/(part-\S+) ->/.exec(calls[rename]!)![1]!;
    assert.equal(calls[rename], `rename ${output}/.in-progress/${part} -> ${output}/${part}`);
    const sync = at(calls, `sync ${output}/.in-progress/${part}`);
    const syncInProgress = at(calls, `syncDir ${output}/.in-progress`, sync);
    assert.ok(syncInProgress < rename, "pre-commit made the pending file's name durable");
    at(calls, `syncDir ${output}`, rename);
    assert.equal(Deno.readTextFileSync(`${output}/${part}`), "a\nb\n");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
