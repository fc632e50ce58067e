/**
 * Savepoints: self-contained and relocatable, restorable into the other
 * backend and at another parallelism of the keyed operator, strict about
 * state without an operator, and stop-with-savepoint.
 */
import assert from "node:assert/strict";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { ExactlyOnceFileSink } from "../core/connectors/exactly_once_file_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import type { StateBackend } from "../core/state/backend.ts";
import { CheckpointError } from "../core/errors.ts";
import { Serializers } from "../core/state/serializer.ts";
import { FaultyFs } from "./_helpers/faulty_fs.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { countJob, CountPerKey, lastCounts, listTree, until } from "./_helpers/checkpoint_jobs.ts";
import { checkWordCount } from "./_helpers/word_count_check.ts";

const heap = () => new HeapStateBackend();
const lsm = () => new LsmStateBackend({ memtableBytes: 1 << 20, blockCacheBytes: 1 << 20 });

function start(
  dir: string,
  backend: StateBackend,
  opts: {
    restore?: string;
    countParallelism?: number;
    countUid?: string;
    allowNonRestoredState?: boolean;
    log?: (line: string) => void;
  } = {},
) {
  const src = new QueueSource<string>("words");
  const out = new CollectSink<string>();
  const env = StreamEnvironment.create({
    stateBackend: backend,
    parallelism: 2,
    checkpoint: { dir },
    ...(opts.restore ? { restore: opts.restore } : {}),
    allowNonRestoredState: opts.allowNonRestoredState ?? false,
    restartStrategy: { kind: "none" },
    log: opts.log ?? (() => {}),
  });
  const words = env.addSource(src, { uid: "src" });
  if (opts.countUid) {
    words.keyBy((w) => w, Serializers.string)
      .process(new CountPerKey()).uid(opts.countUid)
      .setParallelism(opts.countParallelism ?? 1)
      .addSink(out, { uid: "sink" });
  } else countJob(words, out, { countParallelism: opts.countParallelism ?? 1 });
  const client = env.executeAsync("savepoints");
  let pushed = 0;
  const push = async (words: string[]) => {
    src.push(...words);
    pushed += words.length;
    await until(() => out.values.length === pushed, "records through");
  };
  return { src, out, client, push };
}

/** 200 keys, key `k<i>` seen `1 + i % 5` times. */
const KEYS = Array.from({ length: 200 }, (_, i) => `k${i}`);
const firstWords = KEYS.flatMap((k, i) => Array.from({ length: 1 + (i % 5) }, () => k));

/** Runs the first job, takes a savepoint, cancels; returns the savepoint folder and counts. */
async function savepointOf(backend: StateBackend, countParallelism: number) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-sp-" });
  const j = start(dir, backend, { countParallelism });
  await j.push(firstWords);
  const sp = await j.client.triggerSavepoint("sp1");
  j.client.cancel();
  await j.client.done;
  return { dir, sp, counts: lastCounts(j.out.values) };
}

async function checkContinues(
  restorePath: string,
  backend: StateBackend,
  countParallelism: number,
  counts: Map<string, number>,
) {
  const dir2 = Deno.makeTempDirSync({ prefix: "weir-sp2-" });
  const j = start(dir2, backend, { restore: restorePath, countParallelism });
  await j.push([...KEYS, "new"]);
  const after = lastCounts(j.out.values);
  for (const k of KEYS) assert.equal(after.get(k), counts.get(k)! + 1, k);
  assert.equal(after.get("new"), 1);
  j.src.end();
  await j.client.done;
  Deno.removeSync(dir2, { recursive: true });
}

Deno.test("savepoint: self-contained (own segment copies) and relocatable", async () => {
  const { dir, sp, counts } = await savepointOf(lsm(), 1);
  assert.equal(sp.path, `${dir}/savepoints/sp1`);
  assert.equal(sp.manifest.kind, "savepoint");
  const onDisk = JSON.parse(Deno.readTextFileSync(`${sp.path}/_metadata`));
  assert.equal(onDisk.segmentDir, ".");
  const segs = Object.keys(sp.manifest.segments);
  assert.ok(segs.length > 0);
  for (const s of segs) {
    const st = Deno.statSync(`${sp.path}/${s}`);
    assert.equal(st.size, sp.manifest.segments[s]!.size);
  }
  // Nothing else of the directory is needed: drop it all, then move the savepoint.
  for (const e of Deno.readDirSync(dir)) {
    if (e.name !== "savepoints") Deno.removeSync(`${dir}/${e.name}`, { recursive: true });
  }
  assert.deepEqual(listTree(dir).filter((p) => !p.startsWith("savepoints")), []);
  const elsewhere = Deno.makeTempDirSync({ prefix: "weir-moved-" });
  Deno.renameSync(sp.path, `${elsewhere}/moved`);
  Deno.removeSync(dir, { recursive: true });
  await checkContinues(`${elsewhere}/moved`, lsm(), 1, counts);
  Deno.removeSync(elsewhere, { recursive: true });
});

const combos: [string, () => StateBackend, number, () => StateBackend, number][] = [
  ["heap p1 → lsm p2", heap, 1, lsm, 2],
  ["lsm p1 → heap p2", lsm, 1, heap, 2],
  ["heap p2 → lsm p1", heap, 2, lsm, 1],
  ["lsm p2 → heap p1", lsm, 2, heap, 1],
  ["lsm p2 → lsm p1", lsm, 2, lsm, 1],
  ["heap p1 → heap p2", heap, 1, heap, 2],
];
for (const [name, from, p1, to, p2] of combos) {
  Deno.test(`savepoint: restores ${name} with keyed counts continuing`, async () => {
    const { dir, sp, counts } = await savepointOf(from(), p1);
    assert.equal(sp.manifest.operators.count!.parallelism, p1);
    await checkContinues(sp.path, to(), p2, counts);
    Deno.removeSync(dir, { recursive: true });
  });
}

Deno.test("savepoint: state of an operator the job lacks fails unless allowNonRestoredState", async () => {
  const { dir, sp } = await savepointOf(heap(), 1);
  const dir2 = Deno.makeTempDirSync({ prefix: "weir-sp2-" });
  assert.throws(
    () => start(dir2, heap(), { restore: sp.path, countUid: "renamed" }),
    (e: unknown) =>
      e instanceof CheckpointError && e.message.includes(`savepoint ${sp.manifest.checkpointId}`) &&
      e.message.includes(`operator(s) "count"`),
  );
  const j = start(dir2, heap(), {
    restore: sp.path,
    countUid: "renamed",
    allowNonRestoredState: true,
  });
  await j.push(["k0"]);
  assert.deepEqual(j.out.values, ["k0\t1"], "the renamed operator starts empty");
  j.src.end();
  await j.client.done;
  Deno.removeSync(dir, { recursive: true });
  Deno.removeSync(dir2, { recursive: true });
});

for (const [name, backend] of [["heap", heap], ["lsm", lsm]] as const) {
  Deno.test(`savepoint (${name}): keyed state of an operator no longer keyed fails unless allowNonRestoredState`, async () => {
    const { dir, sp } = await savepointOf(backend(), 1);
    const dir2 = Deno.makeTempDirSync({ prefix: "weir-sp2-" });
    // The same uid, "count", on an operator whose input is not keyed: no keyed backend takes it.
    const logged: string[] = [];
    const unkeyed = (allowNonRestoredState: boolean) => {
      const src = new QueueSource<string>("words");
      const out = new CollectSink<string>();
      const env = StreamEnvironment.create({
        stateBackend: backend(),
        parallelism: 1,
        checkpoint: { dir: dir2 },
        restore: sp.path,
        allowNonRestoredState,
        restartStrategy: { kind: "none" },
        log: (l) => logged.push(l),
      });
      env.addSource(src, { uid: "src" }).map((w) => `${w}\tseen`).uid("count")
        .addSink(out, { uid: "sink" });
      return { src, out, client: env.executeAsync("unkeyed") };
    };
    assert.throws(
      () => unkeyed(false),
      (e: unknown) =>
        e instanceof CheckpointError &&
        e.message.includes(`keyed state of operator "count", which is not keyed in the job`),
    );
    const j = unkeyed(true);
    j.src.push("k0");
    await until(() => j.out.values.length === 1, "record through");
    assert.deepEqual(j.out.values, ["k0\tseen"]);
    assert.ok(
      logged.some((l) => l.includes('dropping the keyed state of operator "count"')),
      logged.join("\n"),
    );
    j.src.end();
    await j.client.done;
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(dir2, { recursive: true });
  });
}

Deno.test("savepoint: a restore that fails leaves a fresh checkpoint directory as it was, and never touches one with checkpoints", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-sp-" });
  const root = Deno.makeTempDirSync({ prefix: "weir-sp-fresh-" });
  try {
    // State of operator "tally", which examples/word_count.ts lacks.
    const j = start(dir, heap(), { countUid: "tally" });
    await j.push(["a", "b"]);
    const sp = await j.client.triggerSavepoint("sp1");
    j.client.cancel();
    await j.client.done;
    Deno.writeTextFileSync(`${root}/in.txt`, "a b\n");
    Deno.mkdirSync(`${root}/empty`);
    const history = Deno.readTextFileSync(`${dir}/_history.jsonl`);
    const cases: [string, string[]][] = [
      [`${root}/missing/ck`, []],
      [`${root}/empty`, []],
      [dir, listTree(dir)],
    ];
    for (const [checkpointDir, before] of cases) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../examples/word_count.ts", import.meta.url).pathname,
          "--input",
          `${root}/in.txt`,
          "--output",
          `${root}/out`,
          "--checkpoint-dir",
          checkpointDir,
          "--restore",
          sp.path,
        ],
        stdout: "null",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, err);
      assert.match(err, /word_count: Cannot restore savepoint \d+: .*operator\(s\) .*"tally"/);
      assert.deepEqual(listTree(checkpointDir), before, checkpointDir);
    }
    // The folders the first start made are gone; the restore that failed is not in the history.
    assert.throws(() => Deno.statSync(`${root}/missing`), Deno.errors.NotFound);
    assert.ok(Deno.statSync(`${root}/empty`).isDirectory);
    assert.equal(Deno.readTextFileSync(`${dir}/_history.jsonl`), history);
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("savepoint: stop-with-savepoint drains, commits sink output and ends the job", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-sp-" });
  const outDir = Deno.makeTempDirSync({ prefix: "weir-out-" });
  const src = new QueueSource<string>("words");
  const env = StreamEnvironment.create({
    checkpoint: { dir },
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  let seen = 0;
  countJob(
    env.addSource(src, { uid: "src" }).map((w) => (seen++, w)),
    new ExactlyOnceFileSink<string>({ dir: outDir }),
  );
  const client = env.executeAsync("stop");
  const text = firstWords.join(" ");
  src.push(...firstWords);
  await until(() => seen === firstWords.length, "records read");
  const sp = await client.stopWithSavepoint("final");
  const result = await client.done;
  assert.equal(result.cancelled, false);
  assert.equal(sp.path, `${dir}/savepoints/final`);
  assert.equal(sp.manifest.kind, "savepoint");
  assert.deepEqual(checkWordCount(text, outDir, true), []);
  // Nothing pending: every file is committed.
  assert.deepEqual(
    listTree(outDir).filter((p) => !p.startsWith("part-") && p !== ".in-progress/"),
    [],
  );
  // The savepoint restores: counts continue.
  const dir2 = Deno.makeTempDirSync({ prefix: "weir-sp2-" });
  const j = start(dir2, lsm(), { restore: sp.path });
  await j.push(["k4"]);
  assert.deepEqual(j.out.values, ["k4\t6"]);
  j.src.end();
  await j.client.done;
  for (const d of [dir, dir2, outDir]) Deno.removeSync(d, { recursive: true });
});

Deno.test("savepoint: a failed savepoint leaves no partial folder; a retry succeeds", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-sp-" });
  const fs = new FaultyFs();
  const src = new QueueSource<string>("words");
  const out = new CollectSink<string>();
  const env = StreamEnvironment.create({
    stateBackend: heap(),
    checkpoint: { dir, fs, tolerableFailures: 3 },
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  countJob(env.addSource(src, { uid: "src" }), out);
  const client = env.executeAsync("savepoint fault");
  src.push(...firstWords);
  await until(() => out.values.length === firstWords.length, "records through");
  fs.arm({ failWrite: { nth: 1 }, only: /\/savepoints\// });
  await assert.rejects(client.triggerSavepoint("sp"), CheckpointError);
  assert.ok(fs.injected > 0);
  assert.deepEqual(listTree(`${dir}/savepoints`), [], "no partial savepoint");
  fs.heal();
  const sp = await client.triggerSavepoint("sp");
  assert.deepEqual(
    listTree(sp.path).sort(),
    ["_metadata", ...Object.keys(sp.manifest.segments)].sort(),
  );
  src.end();
  await client.done;
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("savepoint: an existing savepoint is never overwritten", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-sp-" });
  const j = start(dir, heap());
  await j.push(["a"]);
  const sp = await j.client.triggerSavepoint("same");
  const before = Deno.readTextFileSync(`${sp.path}/_metadata`);
  await j.push(["a"]);
  await assert.rejects(j.client.triggerSavepoint("same"), CheckpointError, "already exists");
  assert.equal(Deno.readTextFileSync(`${sp.path}/_metadata`), before);
  j.src.end();
  await j.client.done;
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("savepoint: each savepoint, and a stop's, is logged once with its path; checkpoints are not", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-sp-log-" });
  const logged: string[] = [];
  const { client, push } = start(dir, heap(), { log: (l) => logged.push(l) });
  try {
    await push(["a", "b"]);
    await client.triggerCheckpoint();
    assert.deepEqual(logged, []);
    const sp = await client.triggerSavepoint("sp-1");
    assert.deepEqual(logged, [`savepoint ${sp.manifest.checkpointId} completed: ${sp.path}`]);
    const stop = await client.stopWithSavepoint("sp-2");
    await client.done;
    assert.deepEqual(logged.slice(1), [
      `savepoint ${stop.manifest.checkpointId} completed: ${stop.path}; the job stops ` +
      `(--restore latest resumes from it)`,
    ]);
  } finally {
    client.cancel();
    await client.done.catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("savepoint: a source reader whose position is null gets restore(null) back, not a fresh start", async () => {
  // Operator list state refuses null elements, as Flink's; a reader's position is any JSON value,
  // null included, and its restore must see it (a fresh start would read again what it had read).
  const restored: unknown[] = [];
  let emitted = 0;
  const source = {
    name: "null-position",
    maxParallelism: 1,
    createReader: () => ({
      poll: (out: { collect(v: string): void }) => {
        if (emitted > 0) return "idle" as const;
        emitted++;
        out.collect("x");
        return "more" as const;
      },
      position: () => null,
      restore: (p: unknown) => void restored.push(p),
    }),
  };
  const dir = Deno.makeTempDirSync({ prefix: "weir-sp-null-" });
  const run = (restore?: string) => {
    const env = StreamEnvironment.create({
      checkpoint: { dir },
      ...(restore ? { restore } : {}),
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    env.addSource(source, { uid: "src" }).addSink(new CollectSink<string>(), { uid: "sink" });
    return env.executeAsync("null position");
  };
  const first = run();
  await until(() => emitted === 1, "the record read");
  const sp = await first.stopWithSavepoint("sp");
  await first.done;
  assert.deepEqual(restored, []);
  const second = run(sp.path);
  await until(() => restored.length === 1, "the reader restored");
  assert.deepEqual(restored, [null]);
  second.cancel();
  await second.done;
  Deno.removeSync(dir, { recursive: true });
});
