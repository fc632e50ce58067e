/**
 * The checkpoint coordinator through real jobs: periodic and manual
 * checkpoints, atomic manifests, retention, statistics, notifications.
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import { ManualClock } from "../core/runtime/clock.ts";
import { CheckpointStorage } from "../core/checkpoint/storage.ts";
import type { Manifest } from "../core/checkpoint/manifest.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { FaultyFs } from "./_helpers/faulty_fs.ts";
import {
  assertIntact,
  countJob,
  CountPerKey,
  lastCounts,
  listTree,
  tempFiles,
  until,
} from "./_helpers/checkpoint_jobs.ts";

const words = (i: number) => Array.from({ length: 50 }, (_, j) => `w${(i * 7 + j) % 300}`);

Deno.test("coordinator: periodic checkpoints complete, retention keeps N and deletes only unreferenced segments", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-ck-" });
  try {
    // A pass-through FaultyFs (no faults armed) records every file created.
    const fs = new FaultyFs();
    const src = new QueueSource<string>("words");
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      parallelism: 2,
      stateBackend: new HeapStateBackend(),
      clock: new ManualClock(),
      checkpoint: { dir, intervalMs: 10, retained: 2, fs },
      log: () => {},
    });
    countJob(env.addSource(src, { uid: "src" }), out);
    CountPerKey.completed = [];
    const client = env.executeAsync("periodic");
    const completed = () =>
      client.job.coordinator!.history.filter((r) => r.status === "completed").length;
    let i = 0;
    while (completed() < 5) {
      src.push(...words(i++));
      await new Promise((r) => setTimeout(r, 3));
      assert.ok(i < 5000, "periodic checkpoints did not complete");
    }
    src.end();
    await client.done;
    const history = client.job.coordinator!.history;
    assert.ok(history.every((r) => r.status === "completed"), JSON.stringify(history));
    const ids = history.map((r) => r.id);
    // Ids ascend; the last is the final checkpoint at end of input.
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    const storage = new CheckpointStorage(dir);
    const kept = storage.completedIds();
    assert.deepEqual(kept, ids.slice(-2), "the 2 newest are retained");
    assert.deepEqual(
      listTree(dir).filter((p) => p.startsWith("chk-")),
      kept.flatMap((id) => [`chk-${id}/`, `chk-${id}/_metadata`]),
      "no other checkpoint folders and nothing else in them",
    );
    const manifests = assertIntact(dir);
    const needed = new Set(manifests.flatMap((m) => Object.keys(m.segments)));
    assert.deepEqual(new Set(storage.sharedSegments()), needed, "shared = segments of kept");
    // The heap backend writes a new segment each checkpoint: older ones were collected.
    const createdSegs = new Set(
      fs.created.filter((p) => p.includes("/shared/")).map((p) =>
        p.slice(p.lastIndexOf("/") + 2).replace(/\.tmp$/, "")
      ),
    );
    assert.ok(createdSegs.size > needed.size, `${createdSegs.size} written, ${needed.size} kept`);
    for (const s of needed) assert.ok(createdSegs.has(s));
    // Manifests were written atomically: through a temp file in the checkpoint folder.
    for (const id of kept) {
      assert.ok(
        fs.created.some((p) => p.startsWith(`${dir}/chk-${id}/._metadata.`) && p.endsWith(".tmp")),
      );
    }
    assert.deepEqual(tempFiles(dir), []);
    // Notifications reached the user function (every subtask of "count").
    for (const id of ids) {
      assert.equal(CountPerKey.completed.filter((x) => x === id).length, 2, `checkpoint ${id}`);
    }
    assert.equal(out.values.length, src.emitted);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("coordinator: manual triggerCheckpoint records statistics in the manifest", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-ck-" });
  try {
    const src = new QueueSource<string>("words");
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      stateBackend: new LsmStateBackend({ memtableBytes: 1 << 20, blockCacheBytes: 1 << 20 }),
      checkpoint: { dir, retained: 3 },
      log: () => {},
    });
    // count at parallelism 2 feeding a sink at 1: the sink aligns two inputs.
    countJob(env.addSource(src, { uid: "src" }), out, { countParallelism: 2 });
    const client = env.executeAsync("manual");
    src.push(...words(0), ...words(1));
    await until(() => out.values.length === 100, "records through");
    CountPerKey.completed = [];
    const c1 = await client.triggerCheckpoint();
    assert.equal(c1.path, `${dir}/chk-${c1.manifest.checkpointId}`);
    const { checksum, ...onDisk }: Manifest = JSON.parse(
      Deno.readTextFileSync(`${c1.path}/_metadata`),
    );
    assert.match(checksum!, /^sha256:[0-9a-f]{64}$/); // on disk only
    assert.deepEqual(onDisk, JSON.parse(JSON.stringify(c1.manifest)));
    const m = c1.manifest;
    assert.equal(m.kind, "checkpoint");
    assert.equal(m.stateBackend, "lsm");
    assert.equal(m.mode, "exactly-once");
    assert.deepEqual(Object.keys(m.operators).sort(), ["count", "sink", "src"]);
    assert.equal(m.operators.count!.parallelism, 2);
    assert.equal(m.operators.src!.source, true);
    assert.ok(m.completedAt >= m.triggeredAt);
    const tasks = client.job.tasks.map((t) => t.name).sort();
    assert.deepEqual(m.stats.tasks.map((t) => t.task).sort(), tasks);
    for (const t of m.stats.tasks) {
      for (const k of ["startDelayMs", "alignmentMs", "syncMs", "asyncMs"] as const) {
        assert.ok(Number.isFinite(t[k]) && t[k] >= 0, `${t.task} ${k} = ${t[k]}`);
      }
    }
    const segBytes = Object.values(m.segments).reduce((a, s) => a + s.size, 0);
    assert.ok(segBytes > 0);
    assert.equal(m.stats.stateSize, segBytes);
    assert.equal(m.stats.checkpointedSize, segBytes, "the first checkpoint writes everything");
    assert.equal(m.stats.tasks.reduce((a, t) => a + t.stateSize, 0), segBytes);
    const countTasks = m.stats.tasks.filter((t) =>
      t.task.includes("count") || t.task.includes("Process")
    );
    assert.ok(countTasks.some((t) => t.stateSize > 0), JSON.stringify(m.stats.tasks));
    assert.ok(m.stats.durationMs >= 0);
    // A second checkpoint with no new records writes nothing new.
    const c2 = await client.triggerCheckpoint();
    assert.equal(c2.manifest.checkpointId, m.checkpointId + 1);
    assert.equal(c2.manifest.stats.checkpointedSize, 0);
    assert.equal(c2.manifest.stats.stateSize, segBytes);
    await until(
      () => CountPerKey.completed.filter((x) => x === c2.manifest.checkpointId).length === 2,
      "notifications",
    );
    assert.deepEqual(
      new Set(CountPerKey.completed),
      new Set([m.checkpointId, c2.manifest.checkpointId]),
    );
    assertIntact(dir);
    src.end();
    await client.done;
    assert.deepEqual(lastCounts(out.values).get("w0"), 1);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Compactions the job's LSM stores have run. */
function compactions(client: { job: { placed: { keyed?: unknown }[] } }): number {
  let n = 0;
  for (const p of client.job.placed) {
    const keyed = p.keyed as { store?: { stats(): { compactions: number } } } | undefined;
    n += keyed?.store?.stats().compactions ?? 0;
  }
  return n;
}

Deno.test("coordinator: LSM retention never deletes a segment a kept checkpoint or the live store needs", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-ck-" });
  try {
    const src = new QueueSource<string>("words");
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      // A small memtable: flushes and compactions replace segments between checkpoints.
      stateBackend: new LsmStateBackend({ memtableBytes: 64 << 10, blockCacheBytes: 1 << 20 }),
      checkpoint: { dir, retained: 2 },
      log: () => {},
    });
    countJob(env.addSource(src, { uid: "src" }), out);
    const client = env.executeAsync("lsm retention");
    const seen: Manifest[] = [];
    let pushed = 0;
    for (let round = 0; round < 14; round++) {
      for (let k = 0; k < 40; k++) {
        const batch = words(round * 40 + k).map((w) => `${w}-${round}`);
        src.push(...batch);
        pushed += batch.length;
      }
      // Wait for every record pushed, not for what the source emitted so far:
      // before its next poll those match too, and the round's records would
      // then come after the checkpoint's barrier (checkpoints every other
      // round then hold new state, too few segments for a compaction).
      await until(() => out.values.length === pushed, "records through");
      const before = new Set(Object.keys(seen.at(-1)?.segments ?? {}));
      seen.push((await client.triggerCheckpoint()).manifest);
      // Every round writes new keys: its checkpoint holds a segment the last one did not.
      const segs = Object.keys(seen.at(-1)!.segments);
      assert.ok(segs.some((s) => !before.has(s)), `round ${round} wrote no new segment`);
      // Checkpoints this close together could keep the store busy with flushes:
      // let a compaction finish once, so later checkpoints drop replaced segments.
      if (round === 6) await until(() => compactions(client) > 0, "a compaction");
      const manifests = assertIntact(dir);
      assert.deepEqual(
        manifests.map((m) => m.checkpointId),
        seen.slice(-2).map((m) => m.checkpointId),
      );
      const storage = new CheckpointStorage(dir);
      const needed = new Set(manifests.flatMap((m) => Object.keys(m.segments)));
      const shared = new Set(storage.sharedSegments());
      for (const s of needed) assert.ok(shared.has(s), `needed ${s} deleted`);
    }
    // Segments of dropped checkpoints that nothing needs were collected.
    const storage = new CheckpointStorage(dir);
    const kept = new Set(seen.slice(-2).flatMap((m) => Object.keys(m.segments)));
    const dropped = seen.slice(0, -2).flatMap((m) => Object.keys(m.segments)).filter((s) =>
      !kept.has(s)
    );
    const live = new Set(storage.sharedSegments());
    assert.ok(dropped.length > 0, "some segments were replaced");
    // Dropped ones may stay only while the running store still uses them.
    const backendLive = new Set(
      client.job.placed.flatMap((p) =>
        (p.keyed as unknown as { liveSegments?(): string[] })?.liveSegments?.() ?? []
      ),
    );
    for (const s of dropped) assert.ok(!live.has(s) || backendLive.has(s), `${s} lingers`);
    src.end();
    await client.done;
    assertIntact(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("coordinator: a task failure aborts the checkpoint in flight with the failure, naming the task", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-ck-" });
  try {
    const src = new QueueSource<string>("words");
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    let inFlight: Promise<unknown> | undefined;
    // The map triggers a checkpoint, then fails on the same record: its barrier is not out yet.
    const mapped = env.addSource(src, { uid: "src" }).map((w: string) => {
      if (w !== "poison") return w;
      inFlight = client.triggerCheckpoint().then(() => "completed", (e: Error) => e.message);
      throw new Error("poison record");
    }).uid("poison-map");
    countJob(mapped, out);
    const client = env.executeAsync("task-failure");
    src.push("a", "b");
    await until(() => out.values.length === 2, "records through");
    src.push("poison");
    await assert.rejects(client.done, /poison record/);
    const reason = await inFlight;
    assert.match(String(reason), /^Checkpoint \d+ failed: task .+ failed: poison record$/);
    const failed = client.job.coordinator!.history.filter((r) => r.status === "failed");
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.failure!, /^task .+ failed: poison record$/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
