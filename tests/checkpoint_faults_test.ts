/**
 * Faults injected through the checkpoint file system: failed creates and
 * writes, failed fsync, a full disk, slow writes. A failed checkpoint is
 * aborted cleanly, the job tolerates failures up to its limit and fails over
 * beyond it, later checkpoints complete, and no completed checkpoint is broken.
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import type { StateBackend } from "../core/state/backend.ts";
import { CheckpointError, JobFailedError } from "../core/errors.ts";
import type { CheckpointRecord } from "../core/checkpoint/coordinator.ts";
import type { JobClient } from "../core/runtime/job_runner.ts";
import { CheckpointStorage } from "../core/checkpoint/storage.ts";
import { type Faults, FaultyFs } from "./_helpers/faulty_fs.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import {
  assertIntact,
  countJob,
  lastCounts,
  listTree,
  tempFiles,
  until,
} from "./_helpers/checkpoint_jobs.ts";

const lsm = () => new LsmStateBackend({ memtableBytes: 1 << 20, blockCacheBytes: 1 << 20 });

interface Setup {
  dir: string;
  fs: FaultyFs;
  src: QueueSource<string>;
  out: CollectSink<string>;
  client: JobClient;
  logs: string[];
  feed(n?: number): Promise<void>;
  records(): CheckpointRecord[];
}

let seq = 0;
function start(
  backend: StateBackend,
  checkpoint: { tolerableFailures?: number; timeoutMs?: number; retained?: number },
  restartStrategy: Parameters<typeof StreamEnvironment.create>[0] extends infer C
    ? C extends { restartStrategy?: infer R } ? R : never
    : never = { kind: "none" },
): Setup {
  const dir = Deno.makeTempDirSync({ prefix: "weir-faults-" });
  const fs = new FaultyFs();
  const src = new QueueSource<string>("words");
  const out = new CollectSink<string>();
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    stateBackend: backend,
    checkpoint: { dir, fs, ...checkpoint },
    restartStrategy,
    log: (l) => logs.push(l),
  });
  countJob(env.addSource(src, { uid: "src" }), out);
  const client = env.executeAsync("faults");
  const records = () => [...client.job.coordinator!.history];
  let pushed = 0;
  const feed = async (n = 200) => {
    const base = seq;
    seq += n;
    for (let i = base; i < base + n; i++) src.push(`k${i % 500}`);
    pushed += n;
    await until(() => out.values.length === pushed, "records through");
  };
  return { dir, fs, src, out, client, logs, feed, records };
}

/** Triggers a checkpoint that must fail; returns its error. */
async function failingCheckpoint(s: Setup): Promise<CheckpointError> {
  await s.feed();
  const e = await s.client.triggerCheckpoint().then(
    (c) => assert.fail(`checkpoint ${c.manifest.checkpointId} completed despite the fault`),
    (e) => e,
  );
  assert.ok(e instanceof CheckpointError, String(e));
  return e;
}

/** Nothing half-written: no temp files, no chk-* without a complete manifest, manifests intact. */
function assertClean(dir: string): void {
  assert.deepEqual(tempFiles(dir), [], listTree(dir).join("\n"));
  assertIntact(dir);
}

async function finish(s: Setup): Promise<void> {
  s.src.end();
  await s.client.done;
  assertClean(s.dir);
  const counts = lastCounts(s.out.values);
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), s.src.emitted);
  Deno.removeSync(s.dir, { recursive: true });
}

const cases: [string, Faults][] = [
  ["the first segment create fails", { failCreate: { nth: 1 }, only: /\/shared\// }],
  ["a segment write fails", { failWrite: { nth: 1 }, only: /\/shared\// }],
  ["fsync of segments fails", { failSync: true, only: /\/shared\// }],
  ["the disk is full after 100 bytes", { diskFullAfterBytes: 100 }],
  ["the manifest's temp file cannot be created", { failCreate: { nth: 1 }, only: /_metadata/ }],
  ["the manifest write fails", { failWrite: { nth: 1 }, only: /_metadata/ }],
  ["fsync of the manifest fails", { failSync: true, only: /_metadata/ }],
];

for (const [name, backend] of [["heap", () => new HeapStateBackend()], ["lsm", lsm]] as const) {
  for (const [what, faults] of cases) {
    Deno.test(`faults (${name}): ${what} → aborted cleanly, the job runs on, later checkpoints complete`, async () => {
      const s = start(backend(), { tolerableFailures: 5, retained: 2 });
      await s.feed();
      const good = await s.client.triggerCheckpoint();
      s.fs.arm(faults);
      const e = await failingCheckpoint(s);
      assert.match(e.message, /Checkpoint \d+ failed: .*(injected|ENOSPC)/);
      assert.ok(s.fs.injected > 0);
      const failedId = Number(/Checkpoint (\d+)/.exec(e.message)![1]);
      assert.equal(s.records().find((r) => r.id === failedId)!.status, "failed");
      assert.ok(s.logs.some((l) => l.includes(`Checkpoint ${failedId} failed`)));
      assert.deepEqual(new CheckpointStorage(s.dir).completedIds(), [good.manifest.checkpointId]);
      assertClean(s.dir);
      // A second failure, still tolerated.
      s.fs.arm(faults);
      await failingCheckpoint(s);
      assertClean(s.dir);
      s.fs.heal();
      await s.feed();
      const after = await s.client.triggerCheckpoint();
      assert.ok(after.manifest.checkpointId > failedId);
      assertClean(s.dir);
      await finish(s);
    });
  }
}

Deno.test("faults: slow writes delay a checkpoint but it completes; the stats show the time", async () => {
  const s = start(new HeapStateBackend(), {});
  await s.feed(2000);
  s.fs.arm({ writeDelayMs: 40, only: /\/shared\// });
  const c = await s.client.triggerCheckpoint();
  const count = c.manifest.stats.tasks.find((t) => t.stateSize > 0)!;
  assert.ok(count.asyncMs >= 35, `asyncMs ${count.asyncMs}`);
  assert.ok(c.manifest.stats.durationMs >= 35);
  assertClean(s.dir);
  s.fs.heal();
  await finish(s);
});

Deno.test("faults: more consecutive failures than tolerable fail the job (no restart)", async () => {
  const s = start(new HeapStateBackend(), { tolerableFailures: 1 });
  await s.feed();
  await s.client.triggerCheckpoint();
  s.fs.arm({ failCreate: { nth: 1, count: 1000 }, only: /\/shared\// });
  await failingCheckpoint(s);
  await failingCheckpoint(s).catch(() => {});
  const err = await s.client.done.then(() => assert.fail("the job did not fail"), (e) => e);
  assert.ok(err instanceof JobFailedError, String(err));
  assert.match(err.message, /2 consecutive checkpoints failed \(tolerable: 1\)/);
  assertClean(s.dir);
  Deno.removeSync(s.dir, { recursive: true });
});

Deno.test("faults: a tolerable failure count resets after a success", async () => {
  const s = start(new HeapStateBackend(), { tolerableFailures: 1 });
  for (let round = 0; round < 3; round++) {
    s.fs.arm({ failWrite: { nth: 1 }, only: /\/shared\// });
    await failingCheckpoint(s);
    s.fs.heal();
    await s.feed();
    await s.client.triggerCheckpoint();
  }
  await finish(s);
});

Deno.test("faults: beyond tolerable failures the job fails over and resumes from the latest checkpoint", async () => {
  const s = start(lsm(), { tolerableFailures: 0, retained: 2 }, {
    kind: "fixed-delay",
    attempts: 3,
    delayMs: 5,
  });
  await s.feed(500);
  const good = await s.client.triggerCheckpoint();
  const before = lastCounts(s.out.values);
  s.fs.arm({ diskFullAfterBytes: 0 });
  const firstJob = s.client.job;
  await failingCheckpoint(s);
  await until(() => s.client.restarts === 1, "a restart");
  assert.notEqual(s.client.job, firstJob);
  assert.ok(
    s.logs.some((l) => /consecutive checkpoints failed.*restarting in 5 ms/.test(l)),
    s.logs.join("\n"),
  );
  assert.ok(
    s.logs.some((l) =>
      l.includes(`restoring checkpoint ${good.manifest.checkpointId} after a failure`)
    ),
  );
  s.fs.heal();
  // The restored counts continue from the checkpoint.
  s.out.values.length = 0;
  s.src.push("k0");
  await until(() => s.out.values.length === 1, "a record after the restart");
  assert.equal(s.out.values[0], `k0\t${before.get("k0")! + 1}`);
  const c = await s.client.triggerCheckpoint();
  assert.ok(c.manifest.checkpointId > good.manifest.checkpointId);
  s.src.end();
  await s.client.done;
  assertClean(s.dir);
  Deno.removeSync(s.dir, { recursive: true });
});

Deno.test("faults: a checkpoint that times out is aborted and counted", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-faults-" });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let blocked = false;
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir, timeoutMs: 50, tolerableFailures: 0 },
    restartStrategy: { kind: "none" },
    log: (l) => logs.push(l),
  });
  const src = new QueueSource<string>("words");
  // A sink whose flush hangs: the barrier cannot pass it.
  countJob(env.addSource(src, { uid: "src" }), {
    invoke() {
      blocked = true;
    },
    flush: () => (blocked ? gate : undefined),
  });
  const client = env.executeAsync("timeout");
  src.push("a");
  await until(() => blocked, "the sink to block");
  const e = await client.triggerCheckpoint().then(() => assert.fail("completed"), (e) => e);
  assert.match(String(e), /timed out after 50 ms/);
  // The job is failing; a hung sink flush only ends when released.
  release();
  const err = await client.done.then(() => assert.fail("the job did not fail"), (e) => e);
  assert.ok(err instanceof JobFailedError);
  assert.match(err.message, /1 consecutive checkpoints failed.*timed out/);
  assert.deepEqual(new CheckpointStorage(dir).completedIds(), []);
  assert.deepEqual(tempFiles(dir), []);
  Deno.removeSync(dir, { recursive: true });
});
