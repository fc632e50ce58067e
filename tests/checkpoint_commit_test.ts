/**
 * What savepoints, checkpoints and restores commit, with the exactly-once
 * file sink: a plain savepoint commits nothing, checkpoint ids stay unique
 * across savepoints and restores, a fallback past committed output is refused
 * unless duplicates are accepted (then it is recorded), committed files moved
 * on by a consumer count as committed, and pending transactions are committed
 * where they live when a job is restored with another output folder.
 */
import assert from "node:assert/strict";
import { checkpointsOverview } from "../core/admin/stats.ts";
import { readHistory, type RestoreHistoryEntry } from "../core/checkpoint/history.ts";
import { hasPendingTransactions } from "../core/checkpoint/manifest.ts";
import { ExactlyOnceFileSink } from "../core/connectors/exactly_once_file_sink.ts";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { parseJobFlags } from "../core/dataflow/flags.ts";
import { CheckpointError, ConfigError } from "../core/errors.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { countJob, listTree, until } from "./_helpers/checkpoint_jobs.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { committedLines } from "./_helpers/word_count_check.ts";

interface Options {
  out?: string;
  restore?: string;
  retained?: number;
  allowDuplicateOutput?: boolean;
  log?: (line: string) => void;
}

/** words → count → exactly-once file sink at `out` (or a collect sink), checkpointing into `dir`. */
function start(dir: string, o: Options = {}) {
  const src = new QueueSource<string>("words");
  const env = StreamEnvironment.create({
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir, retained: o.retained ?? 1, retainOnCancellation: true },
    ...(o.restore ? { restore: o.restore } : {}),
    ...(o.allowDuplicateOutput ? { allowDuplicateOutput: true } : {}),
    restartStrategy: { kind: "none" },
    log: o.log ?? (() => {}),
  });
  let seen = 0;
  const words = env.addSource(src, { uid: "src" }).map((w: string) => (seen++, w)).uid("seen");
  countJob(words, o.out ? new ExactlyOnceFileSink<string>({ dir: o.out }) : new CollectSink());
  const client = env.executeAsync("commits");
  const push = async (ws: string[]) => {
    const target = seen + ws.length;
    src.push(...ws);
    await until(() => seen === target, "records read");
  };
  return { src, client, push };
}

/** `start` restoring the latest with `--allow-duplicate-output`, and the lines it logs. */
function startAcceptingDuplicates(dir: string, out: string) {
  const logs: string[] = [];
  const j = start(dir, {
    out,
    restore: "latest",
    retained: 2,
    allowDuplicateOutput: true,
    log: (l) => logs.push(l),
  });
  return { ...j, logs };
}

/** Exactly-once check over the committed lines of `dirs`: `w\t1` … `w\tn`, each once. */
function problems(words: string[], dirs: string[]): string[] {
  const want = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const w of words) {
    const n = (counts.get(w) ?? 0) + 1;
    counts.set(w, n);
    want.set(`${w}\t${n}`, 1);
  }
  const got = new Map<string, number>();
  for (const d of dirs) for (const l of committedLines(d)) got.set(l, (got.get(l) ?? 0) + 1);
  const out: string[] = [];
  for (const l of new Set([...want.keys(), ...got.keys()])) {
    if ((got.get(l) ?? 0) !== (want.get(l) ?? 0)) {
      out.push(`${JSON.stringify(l)}: ${got.get(l) ?? 0} times`);
    }
  }
  return out;
}

const first = ["a", "b", "a", "c", "a", "b"];
const second = ["a", "d", "b", "a"];

function temp(prefix: string): string {
  return Deno.makeTempDirSync({ prefix });
}

Deno.test("commit: a plain savepoint commits nothing; the next checkpoint commits its output", async () => {
  const dir = temp("weir-ck-"), out = temp("weir-out-");
  try {
    const j = start(dir, { out });
    await j.push(first);
    const sp = await j.client.triggerSavepoint("plain");
    assert.equal(sp.manifest.stop, undefined);
    // Let a wrongly posted commit run before looking.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(committedLines(out), [], "the savepoint made no output visible");
    await j.client.triggerCheckpoint();
    await until(() => committedLines(out).length === first.length, "output committed");
    j.src.end();
    await j.client.done;
    assert.deepEqual(problems(first, [out]), []);
  } finally {
    for (const d of [dir, out]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("commit: checkpoint ids stay unique across savepoints and restores", async () => {
  const dir = temp("weir-ck-");
  try {
    const j1 = start(dir);
    await j1.push(first);
    assert.equal((await j1.client.triggerCheckpoint()).manifest.checkpointId, 1);
    const sp2 = await j1.client.triggerSavepoint("sp2");
    assert.equal(sp2.manifest.checkpointId, 2);
    j1.client.cancel();
    await j1.client.done;

    const j2 = start(dir, { restore: "latest" });
    assert.equal((await j2.client.triggerCheckpoint()).manifest.checkpointId, 3);
    assert.equal((await j2.client.triggerSavepoint("sp4")).manifest.checkpointId, 4);
    j2.client.cancel();
    await j2.client.done;

    // Restoring the older savepoint numbers on after everything the directory used.
    const j3 = start(dir, { restore: sp2.path });
    assert.equal((await j3.client.triggerCheckpoint()).manifest.checkpointId, 5);
    j3.client.cancel();
    await j3.client.done;

    const completed = readHistory(dir).filter((e) => e.kind === "checkpoint");
    const ids = completed.map((e) => e.id);
    assert.deepEqual(ids, [...new Set(ids)], "no id is used twice");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Two retained checkpoints with output committed by both; then the newer one's own segment is deleted. */
async function damagedNewest(
  dir: string,
  out: string,
  how: "a segment" | "its _metadata" | "its folder" = "a segment",
): Promise<void> {
  const j = start(dir, { out, retained: 2 });
  await j.push(first);
  const c1 = await j.client.triggerCheckpoint();
  await j.push(second);
  const c2 = await j.client.triggerCheckpoint();
  await until(() => committedLines(out).length === first.length + second.length, "commits");
  j.client.cancel();
  await j.client.done;
  const own = Object.keys(c2.manifest.segments).filter((s) => !(s in c1.manifest.segments));
  assert.ok(own.length > 0);
  if (how === "a segment") Deno.removeSync(`${dir}/shared/${own[0]}`);
  if (how === "its _metadata") Deno.removeSync(`${dir}/chk-${c2.manifest.checkpointId}/_metadata`);
  if (how === "its folder") {
    Deno.removeSync(`${dir}/chk-${c2.manifest.checkpointId}`, { recursive: true });
  }
}

for (const how of ["its _metadata", "its folder"] as const) {
  Deno.test(`commit: a completed checkpoint whose output was committed and whose ${how.slice(4)} was deleted is not silently passed by (the history knows it)`, async () => {
    const dir = temp("weir-ck-"), out = temp("weir-out-");
    try {
      await damagedNewest(dir, out, how);
      assert.throws(
        () => start(dir, { out, restore: "latest", retained: 2 }),
        (e: unknown) =>
          e instanceof CheckpointError && e.message.includes("Refusing to restore checkpoint 1") &&
          e.message.includes(`checkpoint 2 (its completion is in ${dir}/_history.jsonl, but `) &&
          e.message.includes(`chk-2/_metadata is gone)`),
      );
      assert.deepEqual(problems([...first, ...second], [out]), [], "nothing was emitted again");
      // Accepting the duplicates restores checkpoint 1, as for a damaged one.
      const j = startAcceptingDuplicates(dir, out);
      j.src.end();
      await j.client.done;
    } finally {
      for (const d of [dir, out]) Deno.removeSync(d, { recursive: true });
    }
  });
}

Deno.test("commit: with every checkpoint deleted, --restore latest starts over from the input only with --allow-duplicate-output", async () => {
  const dir = temp("weir-ck-"), out = temp("weir-out-");
  try {
    await damagedNewest(dir, out, "its folder");
    Deno.removeSync(`${dir}/chk-1`, { recursive: true });
    assert.throws(
      () => start(dir, { out, restore: "latest", retained: 2 }),
      (e: unknown) =>
        e instanceof CheckpointError &&
        e.message.startsWith("Refusing to restore no checkpoint (starting from the beginning") &&
        e.message.includes(`checkpoint 2 (its completion is in ${dir}/_history.jsonl, but `) &&
        !e.message.includes("chk-1"),
    );
    // Accepting the duplicates starts over from the input, saying so.
    const { logs, ...j } = startAcceptingDuplicates(dir, out);
    j.src.end();
    await j.client.done;
    assert.ok(logs.some((l) => l.startsWith("WARNING") && l.includes("AGAIN")), logs.join("\n"));
  } finally {
    for (const d of [dir, out]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("commit: falling back past a checkpoint whose output was committed is refused, saying what and how", async () => {
  const dir = temp("weir-ck-"), out = temp("weir-out-");
  try {
    await damagedNewest(dir, out);
    assert.throws(
      () => start(dir, { out, restore: "latest", retained: 2 }),
      (e: unknown) => {
        assert.ok(e instanceof CheckpointError);
        for (const part of ["checkpoint 1", "checkpoint 2", "is missing", "committed", dir]) {
          assert.ok(e.message.includes(part), `${part} in: ${e.message}`);
        }
        assert.match(e.message, /--allow-duplicate-output/);
        return true;
      },
    );
    assert.deepEqual(problems([...first, ...second], [out]), [], "nothing was emitted again");
  } finally {
    for (const d of [dir, out]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("commit: --allow-duplicate-output falls back, says so loudly, and records it in the history and admin API", async () => {
  const dir = temp("weir-ck-"), out = temp("weir-out-");
  try {
    await damagedNewest(dir, out);
    const { logs, ...j } = startAcceptingDuplicates(dir, out);
    await j.push(second);
    j.src.end();
    await j.client.done;
    assert.ok(
      logs.some((l) =>
        l.startsWith("WARNING") && l.includes("checkpoint 2") && l.includes("AGAIN")
      ),
      logs.join("\n"),
    );
    // As accepted: checkpoint 2's output came again.
    assert.ok(problems([...first, ...second], [out]).some((p) => p.includes("2 times")));
    const restores = readHistory(dir).filter((e): e is RestoreHistoryEntry => e.kind === "restore");
    assert.deepEqual(restores.at(-1)?.duplicates_accepted?.skipped, [2]);
    const overview = checkpointsOverview(readHistory(dir), [], Date.now()) as {
      latest: { restored: { id: number; duplicates_accepted?: { skipped: number[] } } };
    };
    assert.equal(overview.latest.restored.id, 1);
    assert.deepEqual(overview.latest.restored.duplicates_accepted?.skipped, [2]);
  } finally {
    for (const d of [dir, out]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("commit: --retained-checkpoints and --allow-duplicate-output are job flags", () => {
  const { flags } = parseJobFlags([
    ...["--checkpoint-dir", "/tmp/ck", "--retained-checkpoints", "3", "--allow-duplicate-output"],
  ]);
  assert.equal(flags.retainedCheckpoints, 3);
  assert.equal(flags.allowDuplicateOutput, true);
  assert.throws(
    () => parseJobFlags(["--checkpoint-dir", "/tmp/ck", "--retained-checkpoints", "0"]),
    ConfigError,
    "--retained-checkpoints must be a positive integer",
  );
  assert.throws(() => parseJobFlags(["--retained-checkpoints", "2"]), ConfigError, "needs");
  const dir = temp("weir-ck-");
  try {
    const { env } = StreamEnvironment.fromArgs([
      "--checkpoint-dir",
      dir,
      "--retained-checkpoints",
      "4",
    ]);
    assert.equal(env.config.checkpoint?.retained, 4);
    assert.equal(env.config.allowDuplicateOutput, false);
    const allowed = StreamEnvironment.fromArgs([
      "--checkpoint-dir",
      dir,
      "--allow-duplicate-output",
    ]);
    assert.equal(allowed.env.config.allowDuplicateOutput, true);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("commit: committed files moved on by a consumer count as committed; the restore says so once", async () => {
  const dir = temp("weir-ck-"), out = temp("weir-out-"), moved = temp("weir-moved-");
  try {
    const j1 = start(dir, { out });
    await j1.push(first);
    await j1.client.triggerCheckpoint();
    await until(() => committedLines(out).length === first.length, "commits");
    j1.client.cancel();
    await j1.client.done;
    for (const name of listTree(out).filter((p) => p.startsWith("part-"))) {
      Deno.renameSync(`${out}/${name}`, `${moved}/${name}`);
    }
    const logs: string[] = [];
    const j2 = start(dir, { out, restore: "latest", log: (l) => logs.push(l) });
    await j2.push(second);
    j2.src.end();
    await j2.client.done;
    const said = logs.filter((l) => l.includes("moved or removed"));
    assert.equal(said.length, 1, logs.join("\n"));
    assert.deepEqual(problems([...first, ...second], [out, moved]), []);
  } finally {
    for (const d of [dir, out, moved]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("commit: a savepoint restored with another output folder commits its pending files where they live", async () => {
  const dir = temp("weir-ck-"), out1 = temp("weir-out-"), out2 = temp("weir-out-");
  const dir2 = temp("weir-ck2-");
  try {
    const j1 = start(dir, { out: out1 });
    await j1.push(first);
    const sp = await j1.client.triggerSavepoint("fork");
    j1.client.cancel();
    await j1.client.done;
    assert.ok(hasPendingTransactions(sp.manifest), "the savepoint holds a pre-committed file");
    const j2 = start(dir2, { out: out2, restore: sp.path });
    await j2.push(second);
    j2.src.end();
    await j2.client.done;
    assert.equal(committedLines(out1).length, first.length, "the old run's file, in its folder");
    assert.deepEqual(problems([...first, ...second], [out1, out2]), []);
  } finally {
    for (const d of [dir, dir2, out1, out2]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("commit: a stop-with-savepoint that committed lists nothing pending and restores with a new output", async () => {
  const dir = temp("weir-ck-"), out1 = temp("weir-out-"), out2 = temp("weir-out-");
  const dir2 = temp("weir-ck2-");
  try {
    const j1 = start(dir, { out: out1 });
    await j1.push(first);
    const sp = await j1.client.stopWithSavepoint("stop");
    await j1.client.done;
    assert.equal(hasPendingTransactions(sp.manifest), false);
    const onDisk = JSON.parse(Deno.readTextFileSync(`${sp.path}/_metadata`));
    assert.equal(hasPendingTransactions(onDisk), false, "the manifest on disk too");
    assert.equal(onDisk.stop, true);
    // The committed files move on before the restore, as a consumer would take them.
    const taken = temp("weir-taken-");
    for (const name of listTree(out1).filter((p) => p.startsWith("part-"))) {
      Deno.renameSync(`${out1}/${name}`, `${taken}/${name}`);
    }
    const logs: string[] = [];
    const j2 = start(dir2, { out: out2, restore: sp.path, log: (l) => logs.push(l) });
    await j2.push(second);
    j2.src.end();
    await j2.client.done;
    assert.ok(!logs.some((l) => l.includes("moved or removed")), "nothing was pending");
    assert.deepEqual(problems([...first, ...second], [taken, out2]), []);
    Deno.removeSync(taken, { recursive: true });
  } finally {
    for (const d of [dir, dir2, out1, out2]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("commit: a savepoint's pending file outlives a fall-back to an earlier checkpoint; restoring the savepoint commits it", async () => {
  const dir = temp("weir-ck-"), out = temp("weir-out-"), dir2 = temp("weir-ck2-");
  try {
    const j1 = start(dir, { out });
    await j1.push(first);
    await j1.client.triggerCheckpoint();
    await until(() => committedLines(out).length === first.length, "commits");
    await j1.push(second);
    const sp = await j1.client.triggerSavepoint("fork");
    j1.client.cancel(); // a crash before the next checkpoint
    await j1.client.done;
    // The job goes on from checkpoint 1 (replaying `second`) and cleans up what it left.
    const j2 = start(dir, { out, restore: "latest" });
    await j2.push(second);
    j2.src.end();
    await j2.client.done;
    assert.deepEqual(problems([...first, ...second], [out]), []);
    // Later, the savepoint is restored (a fork): its own output is still there to commit.
    const fork = temp("weir-fork-");
    const logs: string[] = [];
    const j3 = start(dir2, { out: fork, restore: sp.path, log: (l) => logs.push(l) });
    j3.src.end();
    await j3.client.done;
    assert.ok(!logs.some((l) => l.includes("moved or removed")), logs.join("\n"));
    const pending = listTree(`${out}/.in-progress`);
    assert.deepEqual(pending, [], "committed into the folder it lives in");
    const lines = committedLines(out);
    assert.equal(lines.length, first.length + 2 * second.length, "the fork's copy of `second`");
    Deno.removeSync(fork, { recursive: true });
  } finally {
    for (const d of [dir, dir2, out]) Deno.removeSync(d, { recursive: true });
  }
});
