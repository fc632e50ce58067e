import assert from "node:assert/strict";
import { TextFileSink } from "./file_sink.ts";
import { ConfigError, DirectoryInUseError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";

async function tempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("TextFileSink writes strings as is and other values as JSON, one line each", async () => {
  await tempDir(async (root) => {
    const dir = `${root}/nested/out`;
    const sink = new TextFileSink<unknown>({ dir });
    sink.open({ subtaskIndex: 2, parallelism: 3, operatorUid: "s" });
    sink.invoke("plain");
    sink.invoke({ a: [1, "é"] });
    sink.invoke(7);
    // Nothing reaches the file before flush: lines are buffered.
    assert.equal(await Deno.readTextFile(`${dir}/part-2-0`), "");
    sink.flush();
    assert.equal(await Deno.readTextFile(`${dir}/part-2-0`), 'plain\n{"a":[1,"é"]}\n7\n');
    sink.invoke("");
    sink.invoke("last");
    sink.close();
    assert.equal(
      await Deno.readTextFile(`${dir}/part-2-0`),
      'plain\n{"a":[1,"é"]}\n7\n\nlast\n',
    );
    sink.close();
  });
});

Deno.test("TextFileSink writes a bigint as its digits, as Flink writes a long, instead of failing the job", async () => {
  // JSON.stringify threw "Do not know how to serialize a BigInt" at the record.
  await tempDir((dir) => {
    const sink = new TextFileSink<unknown>({ dir });
    sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "s" });
    sink.invoke(2013000185n);
    sink.invoke({ rideId: 2n ** 70n, tip: 1.5 });
    sink.close();
    assert.equal(
      Deno.readTextFileSync(`${dir}/part-0-0`),
      '2013000185\n{"rideId":1180591620717411303424,"tip":1.5}\n',
    );
  });
});

Deno.test("TextFileSink uses format and replaces an earlier run's file", async () => {
  await tempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/part-0-0`, "old content that is longer\n");
    const sink = new TextFileSink<[string, number]>({ dir, format: ([w, n]) => `${w}\t${n}` });
    sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "s" });
    sink.invoke(["a", 1]);
    sink.close();
    assert.equal(await Deno.readTextFile(`${dir}/part-0-0`), "a\t1\n");
  });
});

Deno.test("TextFileSink reports an unusable dir as ConfigError", async () => {
  await tempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const sink = new TextFileSink<string>({ dir: `${dir}/file/sub` });
    assert.throws(
      () => sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "s" }),
      (e: Error) => e instanceof ConfigError && e.message.includes(`${dir}/file/sub/part-0-0`),
    );
    assert.throws(() => new TextFileSink({ dir: "" }), ConfigError);
  });
});

Deno.test("TextFileSink in a parallel job writes one file per subtask", async () => {
  await tempDir(async (dir) => {
    const env = StreamEnvironment.create({ parallelism: 3 });
    env.generate({ count: 3000, generate: (seq) => seq })
      .map((n) => `n${n}`)
      .addSink(new TextFileSink<string>({ dir }));
    await env.execute("to files");
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["part-0-0", "part-1-0", "part-2-0"]);
    const all: string[] = [];
    for (const name of names) {
      const text = await Deno.readTextFile(`${dir}/${name}`);
      assert.ok(text.endsWith("\n"));
      const lines = text.slice(0, -1).split("\n");
      assert.ok(lines.length > 0, `${name} has lines`);
      all.push(...lines);
    }
    assert.deepEqual(all.sort(), Array.from({ length: 3000 }, (_, i) => `n${i}`).sort());
  });
});

Deno.test("TextFileSink: a fresh start at a lower parallelism removes the files of the earlier run's other subtasks", async () => {
  await tempDir(async (dir) => {
    for (const name of ["part-0-0", "part-1-0", "part-2-0"]) {
      await Deno.writeTextFile(`${dir}/${name}`, "old\n");
    }
    await Deno.writeTextFile(`${dir}/notes.txt`, "not ours\n");
    const sink = new TextFileSink<string>({ dir });
    const first = Object.create(sink) as TextFileSink<string>;
    first.open({ subtaskIndex: 0, parallelism: 2, operatorUid: "s" });
    first.invoke("new");
    first.close();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    // part-1-0 is subtask 1's, which truncates it when it opens.
    assert.deepEqual(names, ["notes.txt", "part-0-0", "part-1-0"]);
    assert.equal(await Deno.readTextFile(`${dir}/part-0-0`), "new\n");
  });
});

Deno.test("TextFileSink restored appends after the last whole line, cutting a half-written one", async () => {
  await tempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/part-1-0`, "a\nb\nhalf-writ");
    const sink = new TextFileSink<string>({ dir });
    sink.initializeState({ isRestored: true, operatorStateStore: undefined as never });
    sink.open({ subtaskIndex: 1, parallelism: 2, operatorUid: "s" });
    sink.invoke("c");
    sink.close();
    assert.equal(await Deno.readTextFile(`${dir}/part-1-0`), "a\nb\nc\n");
    // A new subtask's file, restored at a higher parallelism, is made.
    const other = new TextFileSink<string>({ dir });
    other.initializeState({ isRestored: true, operatorStateStore: undefined as never });
    other.open({ subtaskIndex: 2, parallelism: 3, operatorUid: "s" });
    other.invoke("d");
    other.close();
    assert.equal(await Deno.readTextFile(`${dir}/part-2-0`), "d\n");
  });
});

Deno.test("TextFileSink: a job restarted from a checkpoint keeps what it wrote before (at-least-once: nothing lost)", async () => {
  await tempDir(async (root) => {
    const count = 3000;
    let checkpoints = 0;
    let failed = false;
    const env = StreamEnvironment.create({
      parallelism: 1,
      checkpoint: { dir: `${root}/checkpoints`, intervalMs: 20 },
      restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 1 },
      log: () => {},
    });
    env.generate({ count, ratePerSecond: 20_000, generate: (i) => i }).uid("numbers")
      .map({
        notifyCheckpointComplete: () => void checkpoints++,
        map(n: number) {
          // Once, after a checkpoint and past the first records: the restart restores it.
          if (!failed && checkpoints > 0 && n > 100) {
            failed = true;
            throw new Error("fails once");
          }
          return n;
        },
      }).uid("maybe-fail")
      .addSink(new TextFileSink({ dir: `${root}/out` })).uid("out");
    const client = env.executeAsync("at-least-once");
    await client.done;
    assert.ok(failed, "the job failed once");
    assert.equal(client.restarts, 1);
    const lines = (await Deno.readTextFile(`${root}/out/part-0-0`)).trim().split("\n").map(Number);
    const seen = new Set(lines);
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
    assert.deepEqual(missing, [], `${missing.length} records lost`);
  });
});

Deno.test("TextFileSink: a misspelt option is a ConfigError naming it, not a default format", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new TextFileSink({ dir: "out", fromat: (n: number) => `n=${n}` } as any),
    (e) =>
      e instanceof ConfigError &&
      e.message === 'TextFileSink: unknown option "fromat" (did you mean "format"?)',
  );
  assert.throws(() => new TextFileSink(null as never), ConfigError);
});

Deno.test("TextFileSink takes a file: URL for its dir, as Flink's file:/// paths, instead of writing into a folder named file: under the working folder", async () => {
  await tempDir(async (root) => {
    const env = StreamEnvironment.create();
    env.fromCollection(["a", "b"]).addSink(new TextFileSink<string>({ dir: `file://${root}/out` }));
    await env.execute("file url");
    assert.equal(await Deno.readTextFile(`${root}/out/part-0-0`), "a\nb\n");
    assert.throws(() => new TextFileSink({ dir: "s3://bucket/out" }), ConfigError);
  });
});

Deno.test("Two TextFileSinks on one folder (one job or two) fail naming the holder, instead of overwriting each other's part files and losing lines", async () => {
  await tempDir(async (dir) => {
    // Both wrote part-0-0, truncating each other: half the lines were lost without a word.
    const env = StreamEnvironment.create({ executor: "inline" });
    const numbers = env.fromCollection(Array.from({ length: 100 }, (_, i) => i));
    numbers.filter((n) => n % 2 === 0).addSink(new TextFileSink<number>({ dir }), { uid: "evens" });
    numbers.filter((n) => n % 2 === 1).addSink(new TextFileSink<number>({ dir }), { uid: "odds" });
    await assert.rejects(env.execute(), (e: Error) => {
      // It fails the job at once (no restart), as the directory lock's error does.
      const cause = e instanceof DirectoryInUseError ? e : e.cause as Error;
      return cause instanceof DirectoryInUseError && cause.message.includes(dir) &&
        /text file sink "(evens|odds)"/.test(cause.message);
    });
    // Released when the job ends: the folder can be written again, by one sink at a time.
    const sink = new TextFileSink<string>({ dir });
    sink.open({ subtaskIndex: 0, parallelism: 2, operatorUid: "a" });
    sink.open({ subtaskIndex: 1, parallelism: 2, operatorUid: "a" });
    const other = new TextFileSink<string>({ dir });
    assert.throws(
      () => other.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "b" }),
      DirectoryInUseError,
    );
    sink.close();
    sink.close();
    other.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "b" });
    other.invoke("x");
    other.close();
    assert.equal(Deno.readTextFileSync(`${dir}/part-0-0`), "x\n");
  });
});
