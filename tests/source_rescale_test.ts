/**
 * Split sources rescale from savepoints taken in the middle of their input:
 * the splits with their positions are the reader state (a directory's files,
 * the generator's sequences); a directory's enumerator keeps the files it
 * listed and the splits it has not assigned.
 */
import assert from "node:assert/strict";
import { type DataStream, FileSource, type SinkFunction, StreamEnvironment } from "../mod.ts";
import { decodeOperatorState, parseManifest } from "../core/checkpoint/manifest.ts";
import { OperatorStateStore } from "../core/state/operator_state.ts";
import { SOURCE_SPLITS } from "../core/runtime/task.ts";
import type { FileSplit } from "../core/connectors/_file_split_enumerator.ts";

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 6_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out: ${what}`);
}

/**
 * Collects lines; its `flush` (awaited by the task after every batch) waits,
 * once a line has arrived, until `release()`, so the test can stop the job
 * after the first batch of records (a reader's first poll may only ask its
 * enumerator for a split).
 * (No private fields: each subtask's sink is an `Object.create` of this one.)
 */
function gatedSink(): SinkFunction<string> & { values: string[]; release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const values: string[] = [];
  return {
    values,
    release: () => release(),
    invoke: (v) => void values.push(v),
    flush: () => values.length > 0 ? gate : undefined,
  };
}

/** The reader splits of source `uid` in the savepoint at `path` (every subtask's). */
function readerSplits(path: string, uid: string): unknown[] {
  const manifest = parseManifest(Deno.readTextFileSync(`${path}/_metadata`), path);
  return manifest.operators[uid]!.subtasks.flatMap((s) => [
    ...new OperatorStateStore(uid, decodeOperatorState(s.operatorState))
      .getUnionListState(SOURCE_SPLITS).get() ?? [],
  ]);
}

/**
 * Runs the bounded source that `source` adds to a job at parallelism 2, then 1, then 3: the first
 * two runs stop with a savepoint after their first batch (each restoring the one before, checked
 * to have stopped before the `total` records), the last reads to the end. `beforeRun` runs before
 * each run, `stopped` after each savepoint. Returns every record the runs emitted.
 */
async function rescaleBounded(
  source: (env: StreamEnvironment) => DataStream<string>,
  total: number,
  hooks: { beforeRun?(run: number): void; stopped?(savepoint: string, run: number): void } = {},
): Promise<string[]> {
  const dir = Deno.makeTempDirSync({ prefix: "weir-rescale-" });
  try {
    const all: string[] = [];
    let restore: string | undefined;
    for (const [run, parallelism] of [2, 1, 3].entries()) {
      hooks.beforeRun?.(run);
      const env = StreamEnvironment.create({
        parallelism,
        checkpoint: { dir, intervalMs: 60_000 },
        ...(restore ? { restore } : {}),
        restartStrategy: { kind: "none" },
        log: () => {},
      });
      const sink = gatedSink();
      source(env).addSink(sink, { uid: "out" });
      const client = env.executeAsync(`bounded-${parallelism}`);
      if (run === 2) {
        sink.release();
        await client.done; // the source ends once it has read everything
      } else {
        await until(() => sink.values.length > 0, `run at parallelism ${parallelism}`);
        const savepoint = client.stopWithSavepoint(`b${parallelism}`);
        sink.release();
        restore = (await savepoint).path;
        await client.done;
        assert.ok(all.length + sink.values.length < total, "stopped mid-input");
        hooks.stopped?.(restore, run);
      }
      all.push(...sink.values);
    }
    return all;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const FILES_PER_RUN = 4;
/** More lines than one batch (1,024) per file: a run stopped after its first batch stops mid-file. */
const LINES_PER_FILE = 3_000;

Deno.test("FileSource over a monitored directory: rescales 2 → 1 → 3 from savepoints taken mid-file, new files are read, no line lost or repeated", async () => {
  const input = Deno.makeTempDirSync({ prefix: "weir-dir-input-" });
  const dir = Deno.makeTempDirSync({ prefix: "weir-dir-rescale-" });
  try {
    const all: string[] = [];
    let written = 0;
    let restore: string | undefined;
    for (const [run, parallelism] of [2, 1, 3].entries()) {
      // New files for every run, written under a hidden name and renamed, as a producer would.
      for (let f = 0; f < FILES_PER_RUN; f++) {
        const lines = Array.from({ length: LINES_PER_FILE }, (_, i) => `run${run}-file${f}-${i}`);
        Deno.writeTextFileSync(`${input}/.tmp`, lines.join("\n") + "\n");
        Deno.renameSync(`${input}/.tmp`, `${input}/run${run}-${f}.txt`);
        written += lines.length;
      }
      const env = StreamEnvironment.create({
        parallelism,
        checkpoint: { dir, intervalMs: 60_000 },
        ...(restore ? { restore } : {}),
        restartStrategy: { kind: "none" },
        log: () => {},
      });
      const sink = gatedSink();
      const source = new FileSource({ path: input, monitorIntervalMs: 20, chunkBytes: 4096 });
      env.addSource(source, { uid: "files" }).addSink(sink, { uid: "out" });
      const client = env.executeAsync(`rescale-${parallelism}`);
      const last = run === 2;
      if (last) sink.release();
      // The first two runs stop after a first batch; the last one reads everything.
      await until(
        () => last ? all.length + sink.values.length >= written : sink.values.length > 0,
        `run at parallelism ${parallelism}`,
      );
      const savepoint = client.stopWithSavepoint(`p${parallelism}`);
      sink.release();
      restore = (await savepoint).path;
      await client.done;
      if (!last) assert.ok(sink.values.length < FILES_PER_RUN * LINES_PER_FILE, "stopped mid-run");
      all.push(...sink.values);
    }
    assert.equal(new Set(all).size, all.length, "no line repeated");
    assert.equal(all.length, written, "no line lost");
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(input, { recursive: true });
  }
});

Deno.test("FileSource over a directory: rescales 2 → 1 → 3 from savepoints taken mid-file, more subtasks than splits left, files of the first start only, the job ends, no line lost or repeated", async () => {
  const input = Deno.makeTempDirSync({ prefix: "weir-dir-input-" });
  try {
    const written: string[] = [];
    for (let f = 0; f < 2; f++) {
      const lines = Array.from({ length: LINES_PER_FILE }, (_, i) => `file${f}-${i}`);
      Deno.writeTextFileSync(`${input}/f${f}.txt`, lines.join("\n") + "\n");
      written.push(...lines);
    }
    const files = (env: StreamEnvironment) =>
      env.addSource(new FileSource({ path: input, chunkBytes: 4096 }), { uid: "files" });
    const all = await rescaleBounded(files, written.length, {
      // Not read: the directory was listed at the job's first start.
      beforeRun: (run) => {
        if (run === 1) Deno.writeTextFileSync(`${input}/late.txt`, "late\n");
      },
    });
    assert.equal(new Set(all).size, all.length, "no line repeated");
    assert.deepEqual(all.toSorted(), written.toSorted(), "no line lost, none of late.txt");
  } finally {
    Deno.removeSync(input, { recursive: true });
  }
});

Deno.test("FileSource over a single file: rescales 2 → 1 → 3 from savepoints taken mid-file, each subtask's byte ranges its splits, no line lost or repeated", async () => {
  const input = Deno.makeTempFileSync({ prefix: "weir-file-input-", suffix: ".txt" });
  try {
    const written = Array.from({ length: 4 * LINES_PER_FILE }, (_, i) => `line-${i}`);
    Deno.writeTextFileSync(input, written.join("\n") + "\n");
    const lines = (env: StreamEnvironment) =>
      env.addSource(new FileSource({ path: input, chunkBytes: 4096 }), { uid: "lines" });
    const all = await rescaleBounded(lines, written.length, {
      stopped: (savepoint, run) => {
        // The first run's two halves of the file, each read part of the way.
        if (run > 0) return;
        const splits = readerSplits(savepoint, "lines") as FileSplit[];
        assert.equal(splits.length, 2);
        assert.ok(splits.every((s) => s.start < s.offset && s.offset < s.end), "both mid-range");
      },
    });
    assert.equal(new Set(all).size, all.length, "no line repeated");
    assert.deepEqual(all.toSorted(), written.toSorted(), "no line lost");
  } finally {
    Deno.removeSync(input);
  }
});

Deno.test("FileSource over a directory: a savepoint holds the enumerator's state (files listed, splits unassigned) beside the reader's split, each split in exactly one of them", async () => {
  const input = Deno.makeTempDirSync({ prefix: "weir-dir-input-" });
  const dir = Deno.makeTempDirSync({ prefix: "weir-dir-manifest-" });
  try {
    const names = ["a.txt", "b.txt", "c.txt"];
    for (const name of names) {
      const lines = Array.from({ length: LINES_PER_FILE }, (_, i) => `${name}-${i}`);
      Deno.writeTextFileSync(`${input}/${name}`, lines.join("\n") + "\n");
    }
    const env = StreamEnvironment.create({
      checkpoint: { dir, intervalMs: 60_000 },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    const sink = gatedSink();
    env.addSource(new FileSource({ path: input, chunkBytes: 4096 }), { uid: "files" })
      .addSink(sink, { uid: "out" });
    const client = env.executeAsync("manifest");
    await until(() => sink.values.length > 0, "first batch");
    const savepoint = client.stopWithSavepoint("sp");
    sink.release();
    const { path } = await savepoint;
    await client.done;
    const manifest = parseManifest(Deno.readTextFileSync(`${path}/_metadata`), path);
    const op = manifest.operators["files"]!;
    const enumerator = op.enumerator as { listed: string[]; unassigned: { file: string }[] };
    assert.deepEqual(enumerator.listed.toSorted(), names);
    const splits = readerSplits(path, "files") as FileSplit[];
    // The reader holds a.txt, read up to where it stopped; b and c wait in the enumerator.
    assert.deepEqual(splits.map((s) => s.file), ["a.txt"]);
    assert.ok(splits[0]!.offset > 0);
    assert.deepEqual(enumerator.unassigned.map((s) => s.file), ["b.txt", "c.txt"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(input, { recursive: true });
  }
});

Deno.test("GeneratorSource: rescales 2 → 1 → 3 from savepoints taken mid-sequence, no record lost or repeated", async () => {
  const count = 10_000;
  const all = await rescaleBounded(
    (env) => env.generate({ count, generate: (seq) => `r${seq}` }).uid("items"),
    count,
  );
  assert.equal(new Set(all).size, all.length, "no record repeated");
  assert.equal(all.length, count, "no record lost");
});

Deno.test("fromCollection(array): rescales 2 → 1 → 3 from savepoints taken mid-array, no item lost or repeated", async () => {
  const items = Array.from({ length: 10_000 }, (_, i) => `item-${i}`);
  const all = await rescaleBounded(
    (env) => env.fromCollection(items).setParallelism(env.config.parallelism).uid("items"),
    items.length,
  );
  assert.equal(new Set(all).size, all.length, "no item repeated");
  assert.equal(all.length, items.length, "no item lost");
});

/**
 * `tests/testdata/file_source_positions`: a savepoint written by weir f776b6e, whose single-file
 * FileSource kept one position per subtask: `input.txt` read at parallelism 2 and stopped after
 * the first batch of each subtask, whose lines are `emitted.txt`.
 */
const LEGACY = new URL("./testdata/file_source_positions/", import.meta.url).pathname;

/**
 * Restores the savepoint in `testdata` (its `_metadata`, written at parallelism 2 by a weir whose
 * source kept one position per subtask) into the job that `source` builds: at
 * parallelism 3 the restore fails naming both; at 2, what the job emits after the records the
 * savepoint's run emitted (`testdata/emitted.txt`) makes `expected`, each record once.
 */
async function restoreLegacyPositions(
  testdata: string,
  expected: string[],
  source: (env: StreamEnvironment) => DataStream<string>,
): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "weir-legacy-" });
  try {
    Deno.copyFileSync(`${testdata}/_metadata`, `${dir}/_metadata`);
    const run = async (parallelism: number) => {
      const env = StreamEnvironment.create({
        parallelism,
        restore: dir,
        restartStrategy: { kind: "none" },
        log: () => {},
      });
      const values: string[] = [];
      source(env).addSink({ invoke: (v: string) => void values.push(v) }, { uid: "out" });
      await env.execute("legacy positions");
      return values;
    };
    await assert.rejects(() => run(3), /ran with parallelism 2, the job gives it 3/);
    const rest = await run(2);
    const emitted = Deno.readTextFileSync(`${testdata}/emitted.txt`).trimEnd().split("\n");
    assert.ok(emitted.length > 0 && rest.length > 0);
    const all = [...emitted, ...rest];
    assert.equal(new Set(all).size, all.length, "no record repeated");
    assert.deepEqual(all.toSorted(), expected.toSorted(), "no record lost");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("FileSource over a single file: a savepoint of the per-subtask positions it kept before splits restores at its parallelism, each line once; at another, a clear error", async () => {
  const input = Deno.readTextFileSync(`${LEGACY}/input.txt`).trimEnd().split("\n");
  await restoreLegacyPositions(
    LEGACY,
    input,
    (env) => env.addSource(new FileSource({ path: `${LEGACY}/input.txt` }), { uid: "lines" }),
  );
});

/**
 * `tests/testdata/collection_source_positions`: a savepoint written by weir 51e4999, whose
 * `fromCollection(array)` kept one position (items emitted) per subtask: 10,000 items `item-<i>`
 * read at parallelism 2 and stopped after the first batch of each subtask, whose items are
 * `emitted.txt`.
 */
const LEGACY_ARRAY = new URL("./testdata/collection_source_positions/", import.meta.url).pathname;

Deno.test("fromCollection(array): a savepoint of the per-subtask positions it kept before splits restores at its parallelism, each item once; at another, a clear error", async () => {
  const items = Array.from({ length: 10_000 }, (_, i) => `item-${i}`);
  await restoreLegacyPositions(
    LEGACY_ARRAY,
    items,
    (env) => env.fromCollection(items).setParallelism(env.config.parallelism).uid("items"),
  );
});
