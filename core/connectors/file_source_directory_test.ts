import assert from "node:assert/strict";
import { FileSource, type FileSourceOptions } from "./file_source.ts";
import type { PollStatus } from "./source.ts";
import { type EnumeratedSplitReader, isEnumeratedSplitReader } from "./split_enumerator.ts";
import { ConfigError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import type { SinkContext, SinkFunction } from "./sink.ts";
import { CollectSink } from "./collect_sink.ts";
import { WatermarkStrategy } from "../time/watermark_strategy.ts";
import { SourceCoordinator } from "../runtime/_source_coordinator.ts";
import type { EnumeratorToReader } from "../runtime/control_messages.ts";

type Options = Omit<FileSourceOptions, "path">;

/**
 * A directory source's enumerator (in the runtime's SourceCoordinator) and
 * `p` readers, wired by message queues as the job wires them: an assignment
 * reaches a reader before its next poll.
 */
function directory(
  dir: string,
  p: number,
  opts: Options = {},
  restored?: { state: unknown; splits: unknown[] },
) {
  const source = new FileSource({ path: dir, ...opts });
  const inbox: EnumeratorToReader[] = [];
  const assigned: number[] = Array(p).fill(0);
  const sources = new SourceCoordinator([{
    uid: "files",
    source: source as FileSource<string>,
    parallelism: p,
    ...(restored ? { restoredState: restored.state, restoredSplits: restored.splits } : {}),
  }], {
    send: (m) => void inbox.push(m),
    fail: (e) => {
      throw e;
    },
    now: () => 0,
  });
  const readers = Array.from({ length: p }, (_, i) => {
    const r = source.createReader({
      subtaskIndex: i,
      parallelism: p,
      now: () => 0,
      sendSplitRequest: () => sources.receive({ type: "splitRequest", uid: "files", subtask: i }),
    });
    assert.ok(isEnumeratedSplitReader(r), "a directory's reader is fed by the enumerator");
    return r as EnumeratedSplitReader<string>;
  });
  sources.start();
  const deliver = () => {
    for (const m of inbox.splice(0)) {
      const r = readers[m.subtask]!;
      if (m.type === "addSplits") {
        assigned[m.subtask]! += m.splits.length;
        r.addSplits(m.splits);
      } else r.notifyNoMoreSplits();
    }
  };
  return {
    readers,
    assigned,
    /** Polls reader `i` once (after delivering what the enumerator sent). */
    poll(i: number, max: number, into: string[]): PollStatus {
      deliver();
      return readers[i]!.poll({ collect: (v) => into.push(v) }, max) as PollStatus;
    },
    /** The enumerator's and the readers' state, as a checkpoint holds them. */
    checkpoint(id: number) {
      deliver();
      const state = sources.snapshot(id)["files"];
      return { state, splits: readers.flatMap((r) => r.snapshotSplits(id)) };
    },
    close() {
      sources.close();
      for (const r of readers) r.close?.();
    },
  };
}

/** Polls every reader in turn until all end (or `rounds` rounds); the lines read. */
function readAll(d: ReturnType<typeof directory>, max: number, rounds = Infinity): string[] {
  const lines: string[] = [];
  const ended = new Set<number>();
  for (let n = 0; n < rounds && ended.size < d.readers.length; n++) {
    for (let i = 0; i < d.readers.length; i++) {
      if (!ended.has(i) && d.poll(i, max, lines) === "end") ended.add(i);
    }
  }
  return lines;
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
    for (const splitBytes of [100, 1 << 20]) {
      for (let p = 1; p <= 4; p++) {
        const d = directory(dir, p, { splitBytes, chunkBytes: 64 });
        const got = readAll(d, 5);
        d.close();
        assert.deepEqual(got.toSorted(), expected.toSorted(), `splitBytes ${splitBytes}, p ${p}`);
        assert.equal(
          d.assigned.reduce((a, b) => a + b),
          splitBytes === 100 ? 7 * Math.ceil(Deno.statSync(`${dir}/f000.txt`).size / 100) : 7,
        );
      }
    }
  });
});

Deno.test("FileSource over a directory: subdirectories are read recursively, as Flink's enumerators do; hidden ones are skipped and a symbolic link back up is walked once", async () => {
  await withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/top.txt`, "top\n");
    Deno.mkdirSync(`${dir}/a/b`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/a/one.txt`, "a1\na2\n");
    Deno.writeTextFileSync(`${dir}/a/b/two.txt`, "b1\n");
    Deno.writeTextFileSync(`${dir}/a/_part.txt`, "no\n");
    Deno.mkdirSync(`${dir}/.staging`);
    Deno.writeTextFileSync(`${dir}/.staging/hidden.txt`, "no\n");
    Deno.mkdirSync(`${dir}/_temporary`);
    Deno.writeTextFileSync(`${dir}/_temporary/hidden.txt`, "no\n");
    Deno.mkdirSync(`${dir}/empty`);
    Deno.symlinkSync(dir, `${dir}/a/b/loop`);
    for (let p = 1; p <= 3; p++) {
      const d = directory(dir, p, { chunkBytes: 64 });
      const got = readAll(d, 5);
      d.close();
      assert.deepEqual(got.toSorted(), ["a1", "a2", "b1", "top"], `p ${p}`);
      assert.equal(d.assigned.reduce((a, b) => a + b), 3, "one split a file");
    }
  });
});

Deno.test("FileSource over a directory: a reader that finishes early takes over the files not yet read, through split requests", async () => {
  await withDir((dir) => {
    const expected = writeFiles(dir, 10, 20);
    const d = directory(dir, 2, { chunkBytes: 64 });
    const got: string[] = [];
    // Subtask 1 polls once (it gets one file), then is stuck; subtask 0 reads everything else.
    d.poll(1, 1, got);
    d.poll(1, 1, got);
    while (d.poll(0, 7, got) !== "end");
    assert.deepEqual(d.assigned, [9, 1]);
    while (d.poll(1, 7, got) !== "end");
    d.close();
    assert.deepEqual(got.toSorted(), expected.toSorted());
  });
});

Deno.test("FileSource over a directory in a job: a subtask that finishes early takes over the files a slow one has not started (work stealing through split requests)", async () => {
  await withDir(async (dir) => {
    const expected = writeFiles(dir, 12, 200);
    const read: string[][] = [[], []];
    // Each subtask's sink is an Object.create of this one; subtask 1's flush (awaited by its
    // task after every batch, and the source is chained to it) is slow.
    const sink: SinkFunction<string> & { subtask: number } = {
      subtask: 0,
      open(ctx: SinkContext) {
        this.subtask = ctx.subtaskIndex;
      },
      invoke(line) {
        read[this.subtask]!.push(line);
      },
      flush() {
        if (this.subtask === 1) return new Promise((r) => setTimeout(r, 40));
      },
    };
    const env = StreamEnvironment.create({ parallelism: 2 });
    env.addSource(new FileSource({ path: dir, chunkBytes: 256 }), { uid: "files" })
      .addSink(sink, { uid: "out" });
    await env.execute("work stealing");
    assert.deepEqual(read.flat().toSorted(), expected.toSorted(), "every line once");
    const files = (lines: string[]) => new Set(lines.map((l) => l.split("-")[0])).size;
    // A split goes to the reader that asks: the fast one reads nearly every file.
    assert.ok(files(read[0]!) >= 9, `subtask 0 read ${files(read[0]!)} files of 12`);
    assert.ok(files(read[1]!) <= 3, `subtask 1 read ${files(read[1]!)} files of 12`);
  });
});

Deno.test("FileSource over a directory read with env.fromSource (readers wrapped for watermarks per split): the enumerator still assigns every file", async () => {
  await withDir(async (dir) => {
    const expected = writeFiles(dir, 6, 50);
    const env = StreamEnvironment.create({ parallelism: 2 });
    const out = new CollectSink<string>();
    const strategy = WatermarkStrategy.forMonotonousTimestamps<string>()
      .withTimestampAssigner((line) => Number(line.split(/[f-]/)[1]) * 1000);
    env.fromSource(new FileSource({ path: dir, chunkBytes: 64 }), strategy, "files", {
      uid: "files",
    }).addSink(out);
    await env.execute("fromSource over a directory");
    assert.deepEqual(out.values.toSorted(), expected.toSorted());
  });
});

Deno.test("FileSource over a directory: splits restored mid-file at another parallelism (2 → 1 → 3) read every line exactly once; a file added later is not read", async () => {
  await withDir((dir) => {
    const expected = writeFiles(dir, 5, 60);
    const opts: Options = { splitBytes: 300, chunkBytes: 32 };
    const got: string[] = [];
    // Two subtasks read a little, then checkpoint.
    const two = directory(dir, 2, opts);
    got.push(...readAll(two, 7, 3));
    const first = two.checkpoint(1);
    two.close();
    assert.ok(got.length > 0 && got.length < expected.length);
    assert.ok((first.state as { unassigned: unknown[] }).unassigned.length > 0);
    // One subtask gets every split back, reads more, checkpoints.
    const one = directory(dir, 1, opts, first);
    got.push(...readAll(one, 11, 4));
    const second = one.checkpoint(2);
    one.close();
    assert.ok(got.length < expected.length);
    // A file written now is not read: a bounded source's files are those of its first start.
    Deno.writeTextFileSync(`${dir}/late.txt`, "late\n");
    // Three subtasks finish.
    const three = directory(dir, 3, opts, second);
    got.push(...readAll(three, 13));
    three.close();
    assert.deepEqual(got.toSorted(), expected.toSorted());
  });
});

Deno.test("FileSource over a directory: restored at a higher parallelism than there are splits left, every subtask ends", async () => {
  await withDir((dir) => {
    const expected = writeFiles(dir, 2, 30);
    const opts: Options = { chunkBytes: 32 };
    const got: string[] = [];
    const one = directory(dir, 1, opts);
    got.push(...readAll(one, 5, 2));
    const saved = one.checkpoint(1);
    one.close();
    const four = directory(dir, 4, opts, saved);
    got.push(...readAll(four, 5));
    four.close();
    assert.deepEqual(got.toSorted(), expected.toSorted());
  });
});

Deno.test("FileSource over a directory: a checkpoint without enumerator state (readers' splits, finished ones included) resumes without reading a file again", async () => {
  await withDir((dir) => {
    const expected = writeFiles(dir, 3, 10);
    const size = Deno.statSync(`${dir}/f001.txt`).size;
    const firstLine = new TextEncoder().encode(expected[10] + "\n").length;
    // f000 read, f001 read up to its second line, f002 not started, as older readers kept them.
    const splits = [
      { file: "f000.txt", start: 0, end: size, offset: size },
      { file: "f001.txt", start: 0, end: size, offset: firstLine },
      { file: "f002.txt", start: 0, end: size, offset: 0 },
    ];
    const d = directory(dir, 2, {}, { state: undefined, splits });
    const got = readAll(d, 4);
    d.close();
    assert.deepEqual(got.toSorted(), expected.slice(11).toSorted());
  });
});

Deno.test("FileSource over a directory: bad options (monitorIntervalMs 0 included, as in Flink) and a bad checkpointed split are ConfigErrors naming the problem", async () => {
  await withDir((dir) => {
    const file = `${dir}/a.txt`;
    Deno.writeTextFileSync(file, "a\n");
    assert.throws(
      () => new FileSource({ path: file, monitorIntervalMs: 10 }).check(),
      (e: Error) => e instanceof ConfigError && /not a directory/.test(e.message),
    );
    assert.throws(() => new FileSource({ path: dir, monitorIntervalMs: -1 }), ConfigError);
    // As Flink's monitorContinuously(Duration.ZERO): 0 made a bounded source, read once, ended.
    assert.throws(
      () => new FileSource({ path: dir, monitorIntervalMs: 0 }),
      (e: Error) => e instanceof ConfigError && /monitorIntervalMs .* got 0/.test(e.message),
    );
    assert.throws(() => new FileSource({ path: dir, monitorIntervalMs: 2.5 }), ConfigError);
    new FileSource({ path: dir, monitorIntervalMs: undefined }).check();
    assert.throws(() => new FileSource({ path: dir, splitBytes: 0 }), /splitBytes/);
    assert.throws(
      () => directory(dir, 1, {}, { state: undefined, splits: [{ partition: 3, offset: 7 }] }),
      (e: Error) => e instanceof ConfigError && e.message.includes(dir),
    );
    assert.throws(
      () => directory(dir, 1, {}, { state: { files: [] }, splits: [] }),
      (e: Error) => e instanceof ConfigError && /enumerator state/.test(e.message),
    );
  });
});

Deno.test("FileSource refuses a compressed file (.gz, .gzip, .deflate, .bz2, .xz: Flink decompresses them) with a ConfigError naming it, rather than emit its bytes as garbage lines", async () => {
  await withDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/a.txt`, "a\n");
    Deno.mkdirSync(`${dir}/sub`);
    const gz = `${dir}/sub/b.txt.gz`;
    Deno.writeFileSync(gz, new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]));
    const named = (e: Error) =>
      e instanceof ConfigError && e.message.includes(gz) && /compressed \(\.gz\)/.test(e.message);
    assert.throws(() => new FileSource({ path: gz }).check(), named);
    assert.throws(() => directory(dir, 1), named);
    const env = StreamEnvironment.create({ executor: "inline" });
    env.addSource(new FileSource({ path: dir })).addSink(new CollectSink<string>());
    await assert.rejects(env.execute(), (e: Error) => named(e.cause as Error));
    for (const ext of [".gzip", ".deflate", ".bz2", ".xz"]) {
      Deno.writeTextFileSync(`${dir}/c${ext}`, "x\n");
      assert.throws(() => new FileSource({ path: `${dir}/c${ext}` }).check(), ConfigError);
    }
  });
});

Deno.test("FileSource over a directory: a reader pauses and resumes single splits (watermark alignment), each from where it stopped, every line once", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const lines = (p: string) => Array.from({ length: 40 }, (_, i) => `${p}${i}`);
    Deno.writeTextFileSync(`${dir}/a.txt`, lines("a").join("\n") + "\n");
    Deno.writeTextFileSync(`${dir}/b.txt`, lines("b").join("\n") + "\n");
    const reader = new FileSource({ path: dir }).createReader({
      subtaskIndex: 0,
      parallelism: 1,
      now: () => 0,
    }) as EnumeratedSplitReader<string>;
    const split = (file: string) => ({
      file,
      start: 0,
      end: Deno.statSync(`${dir}/${file}`).size,
      offset: 0,
    });
    reader.addSplits([split("a.txt"), split("b.txt")]);
    reader.notifyNoMoreSplits();
    const splitOf = new Map<string, string>(); // "a" or "b" → its split id
    const all: string[] = [];
    let got: string[] = [];
    let onLine = (_line: string) => {};
    const poll = (max: number) => {
      got = [];
      const status = reader.poll({
        collect: () => assert.fail("every line goes to its split's output"),
        forSplit: (id) => ({
          collect: (line) => {
            splitOf.set(line[0]!, id);
            got.push(line);
            onLine(line);
          },
        }),
        releaseSplit: () => {},
      }, max);
      all.push(...got);
      return status;
    };
    const pause = (...files: string[]) =>
      reader.pauseOrResumeSplits!(files.map((f) => splitOf.get(f)!), []);
    const resume = (...files: string[]) =>
      reader.pauseOrResumeSplits!([], files.map((f) => splitOf.get(f)!));
    assert.equal(poll(5), "more");
    assert.deepEqual(got, ["a0", "a1", "a2", "a3", "a4"]);
    pause("a");
    assert.equal(poll(5), "more");
    assert.deepEqual(got, ["b0", "b1", "b2", "b3", "b4"], "a is paused: b is read");
    pause("b");
    assert.equal(poll(5), "idle", "every split paused");
    assert.equal(got.length, 0);
    resume("a");
    assert.equal(poll(5), "more");
    assert.deepEqual(got, ["a5", "a6", "a7", "a8", "a9"], "a goes on from where it stopped");
    // A line that takes its split too far pauses it in the middle of a poll: the reader
    // stops reading it within a few lines and goes on with the other split.
    resume("b");
    onLine = (line) => void (line === "a12" && pause("a"));
    assert.equal(poll(100), "more");
    const lastA = got.findLastIndex((l) => l.startsWith("a"));
    assert.ok(lastA < 16, `a read on to ${got[lastA]} after it was paused at a12`);
    assert.deepEqual(got.slice(lastA + 1), lines("b").slice(5), "then b, to its end");
    onLine = () => {};
    resume("a");
    for (let i = 0; i < 100 && poll(7) !== "end"; i++);
    assert.deepEqual(all.filter((l) => l.startsWith("a")), lines("a"));
    assert.deepEqual(all.filter((l) => l.startsWith("b")), lines("b"));
    reader.close?.();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
