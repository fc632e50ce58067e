/**
 * Restoring: `--restore latest` without a checkpoint starts fresh, a damaged
 * checkpoint named by path fails naming the segment, `latest` falls back to
 * the newest intact checkpoint, and nothing intact is a clear error.
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { CheckpointError } from "../core/errors.ts";
import type { CompletedCheckpoint } from "../core/checkpoint/coordinator.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { countJob, until } from "./_helpers/checkpoint_jobs.ts";

interface Run {
  src: QueueSource<string>;
  out: CollectSink<string>;
  client: ReturnType<StreamEnvironment["executeAsync"]>;
  logs: string[];
}

function run(dir: string, restore?: string): Run {
  const src = new QueueSource<string>("words");
  const out = new CollectSink<string>();
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir, retained: 3, retainOnCancellation: true },
    ...(restore ? { restore } : {}),
    restartStrategy: { kind: "none" },
    log: (l) => logs.push(l),
  });
  countJob(env.addSource(src, { uid: "src" }), out);
  return { src, out, client: env.executeAsync("restore"), logs };
}

async function push(r: Run, ...words: string[]): Promise<string[]> {
  const from = r.out.values.length;
  r.src.push(...words);
  await until(() => r.out.values.length === from + words.length, "records through");
  return r.out.values.slice(from);
}

async function stop(r: Run): Promise<void> {
  r.client.cancel();
  const res = await r.client.done;
  assert.equal(res.cancelled, true);
}

/** Three checkpoints: after one, two and three "a"s. */
async function threeCheckpoints(dir: string): Promise<CompletedCheckpoint[]> {
  const r = run(dir);
  const out: CompletedCheckpoint[] = [];
  for (let i = 0; i < 3; i++) {
    await push(r, "a", `only${i}`);
    out.push(await r.client.triggerCheckpoint());
  }
  await stop(r);
  return out;
}

function damage(c: CompletedCheckpoint, how: "delete" | "truncate"): string {
  // The heap backend writes one new segment per checkpoint.
  const [seg] = Object.keys(c.manifest.segments);
  const path = `${c.path}/../shared/${seg}`;
  if (how === "delete") Deno.removeSync(path);
  else Deno.truncateSync(path, 10);
  return seg!;
}

Deno.test("restore latest without a checkpoint starts fresh and says so", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-restore-" });
  const r = run(dir, "latest");
  assert.ok(
    r.logs.some((l) => l === `no checkpoint to restore in ${dir}; starting fresh`),
    r.logs.join("\n"),
  );
  assert.deepEqual(await push(r, "a"), ["a\t1"]);
  await stop(r);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("restore latest resumes the newest checkpoint's state", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-restore-" });
  const cps = await threeCheckpoints(dir);
  const r = run(dir, "latest");
  assert.ok(
    r.logs.some((l) => l.startsWith(`restoring checkpoint ${cps[2]!.manifest.checkpointId}`)),
  );
  assert.deepEqual(await push(r, "a"), ["a\t4"]);
  // New checkpoints continue the ids.
  const next = await r.client.triggerCheckpoint();
  assert.equal(next.manifest.checkpointId, cps[2]!.manifest.checkpointId + 1);
  await stop(r);
  Deno.removeSync(dir, { recursive: true });
});

for (const how of ["delete", "truncate"] as const) {
  Deno.test(`restore: a checkpoint whose segment is ${how}d fails by path, naming the segment; latest falls back`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-restore-" });
    const cps = await threeCheckpoints(dir);
    const newest = cps[2]!;
    const seg = damage(newest, how);
    const expected = how === "delete"
      ? `segment ${seg} is missing`
      : new RegExp(`segment ${seg} has 10 bytes, the manifest says \\d+`);
    assert.throws(() => run(dir, newest.path), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.ok(e.message.includes(`checkpoint ${newest.manifest.checkpointId}`), e.message);
      if (typeof expected === "string") assert.ok(e.message.includes(expected), e.message);
      else assert.match(e.message, expected);
      return true;
    });
    const r = run(dir, "latest");
    const older = cps[1]!.manifest.checkpointId;
    assert.ok(
      r.logs.some((l) => l.includes(seg) && l.includes("trying an older one")),
      r.logs.join("\n"),
    );
    assert.ok(r.logs.some((l) => l === `restoring checkpoint ${older}, the newest intact one`));
    // The older checkpoint saw two "a"s.
    assert.deepEqual(await push(r, "a"), ["a\t3"]);
    await stop(r);
    Deno.removeSync(dir, { recursive: true });
  });
}

Deno.test("restore: a damaged manifest is skipped by latest and named by path", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-restore-" });
  const cps = await threeCheckpoints(dir);
  Deno.writeTextFileSync(`${cps[2]!.path}/_metadata`, "{ truncated");
  assert.throws(
    () => run(dir, `${cps[2]!.path}/_metadata`),
    (e: unknown) =>
      e instanceof CheckpointError && e.message.includes(`${cps[2]!.path}/_metadata`) &&
      e.message.includes("not valid JSON"),
  );
  const r = run(dir, "latest");
  assert.deepEqual(await push(r, "a"), ["a\t3"]);
  await stop(r);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("restore: every checkpoint damaged is a CheckpointError naming each", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-restore-" });
  const cps = await threeCheckpoints(dir);
  const segs = cps.map((c) => damage(c, "delete"));
  assert.throws(() => run(dir, "latest"), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, String(e));
    assert.ok(e.message.startsWith(`No intact checkpoint in ${dir}`), e.message);
    for (const s of segs) assert.ok(e.message.includes(s), `${e.message} lacks ${s}`);
    return true;
  });
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("restore: a path that holds no checkpoint is a CheckpointError", () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-restore-" });
  assert.throws(
    () => run(dir, `${dir}/chk-42`),
    (e: unknown) =>
      e instanceof CheckpointError && /chk-42\/_metadata does not exist/.test(e.message),
  );
  Deno.removeSync(dir, { recursive: true });
});
