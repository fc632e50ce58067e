/**
 * A segment whose bytes are damaged but whose size is right passes the
 * restore-time check and is found when the backend reads it: the job fails
 * with a CorruptionError naming the segment, and the restart skips that
 * checkpoint and restores the newest older one. A damaged `_metadata` is
 * found by its checksum and treated the same way.
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { CheckpointError, JobFailedError } from "../core/errors.ts";
import { runCli } from "../cli/main.ts";
import { countJob, until } from "./_helpers/checkpoint_jobs.ts";
import { QueueSource } from "./_helpers/queue_source.ts";

/** Runs a count job to two checkpoints: "a" counted 2 times in chk-1, 5 times in chk-2. */
async function twoCheckpoints(dir: string): Promise<{ second: string[] }> {
  const src = new QueueSource<string>();
  const env = StreamEnvironment.create({
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir, retained: 2, retainOnCancellation: true },
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  const out = new CollectSink<string>();
  countJob(env.addSource(src, { uid: "src" }), out);
  const client = env.executeAsync("two checkpoints");
  src.push("a", "a");
  await until(() => out.values.length === 2, "first records");
  const first = await client.triggerCheckpoint();
  src.push("a", "a", "a");
  await until(() => out.values.length === 5, "second records");
  const second = await client.triggerCheckpoint();
  client.cancel();
  await client.done;
  const only = Object.keys(second.manifest.segments).filter((s) => !(s in first.manifest.segments));
  return { second: only };
}

/** Flips one byte in the middle of a file (size unchanged). */
function flipByte(path: string): void {
  const bytes = Deno.readFileSync(path);
  bytes[bytes.length >> 2]! ^= 0xff;
  Deno.writeFileSync(path, bytes);
}

Deno.test("restore: a corrupt segment found while restoring makes the restart fall back to an older checkpoint", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-corrupt-" });
  try {
    const { second } = await twoCheckpoints(dir);
    assert.ok(second.length > 0, "checkpoint 2 has a segment of its own");
    for (const s of second) flipByte(`${dir}/shared/${s}`);

    const log: string[] = [];
    const src = new QueueSource<string>();
    src.push("a");
    src.end();
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir, retained: 2 },
      restore: "latest",
      restartStrategy: { kind: "fixed-delay", attempts: 2, delayMs: 0 },
      log: (l) => log.push(l),
    });
    countJob(env.addSource(src, { uid: "src" }), out);
    const client = env.executeAsync("restore past corruption");
    await client.done;
    assert.equal(client.restarts, 1);
    assert.ok(log.some((l) => l.includes("checkpoint 2") && l.includes("damaged")), log.join("\n"));
    assert.ok(log.some((l) => l.includes(second[0]!)), "the log names the corrupt segment");
    // Checkpoint 1 held a=2: the restored job counts on from there.
    assert.deepEqual(out.values, ["a\t3"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("restore: with no restarts allowed, a corrupt segment fails the job naming it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-corrupt-" });
  try {
    const { second } = await twoCheckpoints(dir);
    for (const s of second) flipByte(`${dir}/shared/${s}`);
    const src = new QueueSource<string>();
    src.end();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir, retained: 2 },
      restore: `${dir}/chk-2`,
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    countJob(env.addSource(src, { uid: "src" }), new CollectSink<string>());
    await assert.rejects(env.execute("corrupt"), (e: unknown) => {
      assert.ok(e instanceof JobFailedError);
      assert.match(e.message, new RegExp(second[0]!.replace(".", "\\.")));
      return true;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Flips one bit of the first `"keyed"` in a manifest: `"jeyed"`, still valid JSON. */
function flipKeyed(path: string): void {
  const text = Deno.readTextFileSync(path);
  const at = text.indexOf('"keyed"');
  assert.ok(at > 0, `${path} has keyed state`);
  const bytes = new TextEncoder().encode(text);
  bytes[at + 1]! ^= 0x01; // 'k' (0x6b) -> 'j' (0x6a)
  Deno.writeFileSync(path, bytes);
  assert.ok(Deno.readTextFileSync(path).includes('"jeyed"'));
  JSON.parse(Deno.readTextFileSync(path)); // the damage does not show in the JSON's shape
}

Deno.test("restore: a bit flipped in _metadata is found by its checksum; latest falls back to the older checkpoint", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-corrupt-" });
  try {
    await twoCheckpoints(dir);
    flipKeyed(`${dir}/chk-2/_metadata`);

    const log: string[] = [];
    const src = new QueueSource<string>();
    src.push("a");
    src.end();
    const out = new CollectSink<string>();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir, retained: 2 },
      restore: "latest",
      restartStrategy: { kind: "none" },
      log: (l) => log.push(l),
    });
    countJob(env.addSource(src, { uid: "src" }), out);
    await env.execute("restore past a damaged manifest");
    assert.ok(
      log.some((l) => /checkpoint 2 cannot be restored .*damaged.*checksum mismatch/.test(l)),
      log.join("\n"),
    );
    // Checkpoint 1 held a=2; the damaged checkpoint 2 (a=5) must not restore as empty state (a=1).
    assert.deepEqual(out.values, ["a\t3"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("restore: a damaged _metadata named by path fails clearly; checkpoints list --verify reports it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-corrupt-" });
  try {
    await twoCheckpoints(dir);
    flipKeyed(`${dir}/chk-2/_metadata`);
    const src = new QueueSource<string>();
    src.end();
    const env = StreamEnvironment.create({
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir, retained: 2 },
      restore: `${dir}/chk-2`,
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    countJob(env.addSource(src, { uid: "src" }), new CollectSink<string>());
    assert.throws(() => env.executeAsync("damaged manifest"), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /chk-2\/_metadata: the manifest is damaged \(checksum mismatch/);
      return true;
    });

    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    // A damaged snapshot makes `list` exit 1 (docs/operations.md, exit codes).
    assert.equal(await runCli(["checkpoints", "list", dir, "--json", "--verify"], io), 1);
    const rows = JSON.parse(out.join("\n")) as { id: number; status: string; problems: string[] }[];
    assert.deepEqual(rows.map((r) => `${r.id} ${r.status}`), ["1 completed", "2 damaged"]);
    assert.match(rows[1]!.problems[0]!, /checksum mismatch/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
