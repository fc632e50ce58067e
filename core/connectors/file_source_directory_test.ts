import assert from "node:assert/strict";
import { FileSource, type FileSourceOptions } from "./file_source.ts";
import { isSplitReader, type PollStatus, type SplitReader } from "./source.ts";
import { ConfigError } from "../errors.ts";

type Options = Omit<FileSourceOptions, "path">;

function reader(dir: string, i: number, p: number, opts: Options = {}, clock = () => 0) {
  const r = new FileSource({ path: dir, ...opts }).createReader({
    subtaskIndex: i,
    parallelism: p,
    now: clock,
  });
  assert.ok(isSplitReader(r), "a directory's reader keeps its state as splits");
  return r as SplitReader<string>;
}

/** Polls `r` `polls` times (or to the end) with batches of `max`; the lines and the last status. */
function read(r: SplitReader<string>, max: number, polls = Infinity) {
  const lines: string[] = [];
  let status: PollStatus = "more";
  for (let n = 0; n < polls && status === "more"; n++) {
    status = r.poll({ collect: (v) => lines.push(v) }, max) as PollStatus;
  }
  return { lines, status };
}

async function withDir(fn: (dir: string) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "weir-file-dir-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `files` files of `lines` lines each (`f<i>-<j>`); returns every line. */
function writeFiles(dir: string, files: number, lines: number, from = 0): string[] {
  const all: string[] = [];
  for (let f = from; f < from + files; f++) {
    const text = Array.from({ length: lines }, (_, j) => `f${f}-${j} ${"x".repeat(j % 7)}`);
    Deno.writeTextFileSync(`${dir}/f${String(f).padStart(3, "0")}.txt`, text.join("\n") + "\n");
    all.push(...text);
  }
  return all;
}

Deno.test("FileSource over a directory: every line once at parallelism 1..4, large files cut into byte-range splits, hidden files skipped", async () => {
  await withDir((dir) => {
    const expected = writeFiles(dir, 7, 40);
    Deno.writeTextFileSync(`${dir}/.hidden`, "no\n");
    Deno.writeTextFileSync(`${dir}/_in-progress`, "no\n");
    Deno.mkdirSync(`${dir}/sub`);
    Deno.writeTextFileSync(`${dir}/sub/nested.txt`, "no\n");
    for (const splitBytes of [100, 1 << 20]) {
      for (let p = 1; p <= 4; p++) {
        const got: string[] = [];
        let splits = 0;
        for (let i = 0; i < p; i++) {
          const r = reader(dir, i, p, { splitBytes, chunkBytes: 64 });
          const { lines, status } = read(r, 5);
          assert.equal(status, "end");
          splits += r.snapshotSplits(1).length;
          got.push(...lines);
          r.close?.();
        }
        assert.deepEqual(got.toSorted(), expected.toSorted(), `splitBytes ${splitBytes}, p ${p}`);
        assert.equal(
          splits,
          splitBytes === 100 ? 7 * Math.ceil(Deno.statSync(`${dir}/f000.txt`).size / 100) : 7,
        );
      }
    }
  });
});

Deno.test("FileSource over a directory: splits restored mid-file at another parallelism (2 → 1 → 3) read every line exactly once", async () => {
  await withDir((dir) => {
    const expected = writeFiles(dir, 5, 60);
    const opts: Options = { splitBytes: 300, chunkBytes: 32 };
    const got: string[] = [];
    // Two subtasks read a little, then checkpoint.
    let state: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const r = reader(dir, i, 2, opts);
      got.push(...read(r, 7, 3).lines);
      state.push(...r.snapshotSplits(1));
      r.close?.();
    }
    assert.ok(got.length > 0 && got.length < expected.length);
    // One subtask takes every split, reads more, checkpoints.
    const one = reader(dir, 0, 1, opts);
    one.restoreSplits(state);
    got.push(...read(one, 11, 4).lines);
    state = one.snapshotSplits(2);
    one.close?.();
    assert.ok(got.length < expected.length);
    // Three subtasks finish.
    for (let i = 0; i < 3; i++) {
      const r = reader(dir, i, 3, opts);
      r.restoreSplits(state);
      const { lines, status } = read(r, 13);
      assert.equal(status, "end");
      got.push(...lines);
      r.close?.();
    }
    assert.deepEqual(got.toSorted(), expected.toSorted());
  });
});

Deno.test("FileSource over a directory: a checkpoint before the first poll holds the subtask's splits", async () => {
  await withDir((dir) => {
    writeFiles(dir, 6, 3);
    const all = [0, 1].flatMap((i) => reader(dir, i, 2).snapshotSplits(1));
    assert.equal(all.length, 6);
  });
});

Deno.test("FileSource monitoring a directory: new files are read from their start, the source never ends, a restore does not read old files again", async () => {
  await withDir((dir) => {
    let now = 0;
    const clock = () => now;
    const opts: Options = { monitorIntervalMs: 1_000 };
    const r = reader(dir, 0, 1, opts, clock);
    assert.deepEqual(read(r, 100), { lines: [], status: "idle" });
    const first = writeFiles(dir, 2, 3);
    // Not before the interval has passed on the job's clock.
    assert.deepEqual(read(r, 100), { lines: [], status: "idle" });
    now = 1_000;
    const a = read(r, 100, 10);
    assert.deepEqual(a.lines.toSorted(), first.toSorted());
    assert.equal(a.status, "idle");
    const state = r.snapshotSplits(1);
    r.close?.();
    const second = writeFiles(dir, 1, 4, 2);
    // Restored at parallelism 2: only the new file is read.
    const got: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = reader(dir, i, 2, opts, clock);
      s.restoreSplits(state);
      const { lines, status } = read(s, 100, 10);
      assert.equal(status, "idle");
      got.push(...lines);
      s.close?.();
    }
    assert.deepEqual(got.toSorted(), second.toSorted());
  });
});

Deno.test("FileSource over a directory: bad options and a bad checkpointed split are ConfigErrors naming the problem", async () => {
  await withDir((dir) => {
    const file = `${dir}/a.txt`;
    Deno.writeTextFileSync(file, "a\n");
    assert.throws(
      () => new FileSource({ path: file, monitorIntervalMs: 10 }).check(),
      (e: Error) => e instanceof ConfigError && /not a directory/.test(e.message),
    );
    assert.throws(() => new FileSource({ path: dir, monitorIntervalMs: -1 }), ConfigError);
    assert.throws(() => new FileSource({ path: dir, splitBytes: 0 }), /splitBytes/);
    const r = reader(dir, 0, 1);
    assert.throws(
      () => r.restoreSplits([{ partition: 3, offset: 7 }]),
      (e: Error) => e instanceof ConfigError && e.message.includes(dir),
    );
  });
});
