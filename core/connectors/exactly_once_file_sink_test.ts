import assert from "node:assert/strict";
import { type CheckpointFs, DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { ConfigError, JobFailedError } from "../errors.ts";
import { exitStatusOf } from "../exit_status.ts";
import type { SegmentFile } from "../../statestore-as/segment_fs.ts";
import { QueueSource } from "../../tests/_helpers/queue_source.ts";
import { until } from "../../tests/_helpers/checkpoint_jobs.ts";
import { ExactlyOnceFileSink, IN_PROGRESS_DIR } from "./exactly_once_file_sink.ts";
import { type BucketAssigner, DateTimeBucketAssigner } from "./bucket_assigners.ts";

/** An asynchronous fsync the test holds. */
interface Held {
  path: string;
  /** Lets it finish. */
  release(): void;
  /** Fails it, as a disk reporting an I/O error. */
  fail(error: Error): void;
}

/**
 * A file system whose pending part files have a slow disk: an fsync on the
 * calling thread blocks it for a second, an asynchronous one finishes when
 * the test releases it.
 */
function slowDisk(): {
  fs: CheckpointFs;
  written: { path: string; text: string }[];
  held: Held[];
  blockingSyncs: () => number;
  holdSyncs: (hold: boolean) => void;
} {
  const real = new DenoCheckpointFs();
  const written: { path: string; text: string }[] = [];
  const held: Held[] = [];
  let blocking = 0;
  let hold = true;
  const fs: CheckpointFs = Object.assign(Object.create(real) as DenoCheckpointFs, {
    create(path: string): SegmentFile {
      const f = real.create(path);
      if (!path.includes(`/${IN_PROGRESS_DIR}/`)) return f;
      return {
        write(data: Uint8Array) {
          written.push({ path, text: new TextDecoder().decode(data) });
          f.write(data);
        },
        sync() {
          blocking++;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
          f.sync();
        },
        syncAsync(): Promise<void> {
          if (!hold) return f.syncAsync!();
          const done = Promise.withResolvers<void>();
          held.push({
            path,
            release: () => f.syncAsync!().then(done.resolve, done.reject),
            fail: (error) => done.reject(error),
          });
          return done.promise;
        },
        close: () => f.close(),
      };
    },
  });
  return { fs, written, held, blockingSyncs: () => blocking, holdSyncs: (h) => (hold = h) };
}

/** A job from a queue into the exactly-once file sink on `slowDisk()`, checkpointing into `dir/ck`. */
function startOnSlowDisk(dir: string, name: string) {
  const disk = slowDisk();
  const src = new QueueSource<string>();
  const env = StreamEnvironment.create({
    checkpoint: { dir: `${dir}/ck` },
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  env.addSource(src, { uid: "src" })
    .addSink(new ExactlyOnceFileSink<string>({ dir: `${dir}/out`, fs: disk.fs }), { uid: "sink" });
  return { disk, src, client: env.executeAsync(name) };
}

function parts(dir: string): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("part-"))
    .map((e) => Deno.readTextFileSync(`${dir}/${e.name}`)).toSorted();
}

Deno.test("exactly-once file sink: records flow into the next file while a checkpoint's fsync is in flight", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-eo-sink-" });
  try {
    const { disk, src, client } = startOnSlowDisk(dir, "slow fsync");
    src.push("a", "b");
    await until(() => disk.written.some((w) => w.text.includes("b")), "the first records written");
    let completed = false;
    const checkpoint = client.triggerCheckpoint().then((c) => {
      completed = true;
      return c;
    });
    await until(() => disk.held.length === 1, "the pre-commit's fsync in flight");
    const first = disk.held[0]!.path;

    src.push("c", "d");
    await until(
      () => disk.written.some((w) => w.path !== first && w.text.includes("d")),
      "records after the barrier written to the next file while the fsync is held",
    );
    assert.equal(disk.blockingSyncs(), 0, "no fsync blocked the job thread");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(completed, false, "the checkpoint waits for its fsync");
    assert.deepEqual(parts(`${dir}/out`), [], "nothing committed before the checkpoint completes");

    disk.holdSyncs(false);
    disk.held[0]!.release();
    await checkpoint;
    await until(() => parts(`${dir}/out`).length === 1, "the first file committed");
    assert.deepEqual(parts(`${dir}/out`), ["a\nb\n"]);

    src.end();
    await client.done;
    assert.deepEqual(parts(`${dir}/out`), ["a\nb\n", "c\nd\n"]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/out/${IN_PROGRESS_DIR}`)], []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a checkpoint completing while a timed-out savepoint's fsync runs commits that savepoint's file once it is durable, not loses it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-eo-sink-" });
  try {
    const disk = slowDisk();
    const notified: number[] = [];
    class Sink extends ExactlyOnceFileSink<string> {
      override notifyCheckpointComplete(id: number): Promise<void> {
        notified.push(id);
        return super.notifyCheckpointComplete(id);
      }
    }
    const src = new QueueSource<string>();
    const env = StreamEnvironment.create({
      checkpoint: { dir: `${dir}/ck`, timeoutMs: 200 },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    env.addSource(src, { uid: "src" })
      .addSink(new Sink({ dir: `${dir}/out`, fs: disk.fs }), { uid: "sink" });
    const client = env.executeAsync("slow savepoint");
    src.push("a", "b");
    await until(() => disk.written.some((w) => w.text.includes("b")), "the first records written");
    const savepoint = client.triggerSavepoint("slow").then(() => undefined, (e: unknown) => e);
    await until(() => disk.held.length === 1, "the savepoint's fsync in flight");
    assert.match(String(await savepoint), /timed out/);
    // The next checkpoint commits what the savepoint pre-committed: its fsync is still held.
    disk.holdSyncs(false);
    src.push("c");
    await until(() => disk.written.some((w) => w.text.includes("c")), "a record after it written");
    await client.triggerCheckpoint();
    await until(() => notified.length > 0, "the sink told the checkpoint completed");
    disk.held[0]!.release();
    src.end();
    await client.done;
    assert.deepEqual(parts(`${dir}/out`), ["a\nb\n", "c\n"]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/out/${IN_PROGRESS_DIR}`)], []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a failed asynchronous fsync declines the checkpoint and fails the job, committing nothing", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-eo-sink-" });
  try {
    const { disk, src, client } = startOnSlowDisk(dir, "failing fsync");
    const failed = client.done.then(() => undefined, (e: unknown) => e);
    src.push("a");
    await until(() => disk.written.length > 0, "the first record written");
    const checkpoint = client.triggerCheckpoint().then(() => undefined, (e: unknown) => e);
    await until(() => disk.held.length === 1, "the pre-commit's fsync in flight");
    // The disk reports the error after the barrier went on.
    disk.held[0]!.fail(new Error("injected: fsync failed"));
    assert.match(String(await checkpoint), /injected: fsync failed/);
    src.push("b");
    assert.match(String(await failed), /injected: fsync failed/);
    assert.deepEqual(parts(`${dir}/out`), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a full output disk fails the job naming the output folder, not a bare errno", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-eo-sink-" });
  try {
    const real = new DenoCheckpointFs();
    // Writes fail as Deno reports a full disk: the message names no file.
    const fs: CheckpointFs = Object.assign(Object.create(real) as DenoCheckpointFs, {
      create(path: string): SegmentFile {
        const f = real.create(path);
        if (!path.includes(`/${IN_PROGRESS_DIR}/`)) return f;
        return {
          ...f,
          write() {
            throw new Error("No space left on device (os error 28)");
          },
          close: () => f.close(),
        };
      },
    });
    const src = new QueueSource<string>();
    const env = StreamEnvironment.create({
      checkpoint: { dir: `${dir}/ck` },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    env.addSource(src, { uid: "src" })
      .addSink(new ExactlyOnceFileSink<string>({ dir: `${dir}/out`, fs }), { uid: "sink" });
    const client = env.executeAsync("full disk");
    src.push("a");
    const e = await client.done.then(() => assert.fail("the job ended"), (e: unknown) => e);
    assert.ok(e instanceof JobFailedError);
    assert.match(
      e.message,
      new RegExp(
        `cannot write its pending files in ${dir}/out/\\${IN_PROGRESS_DIR}: No space left`,
      ),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: an existing output folder that cannot be written fails before the job starts, a ConfigError naming it (exit 2)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-eo-sink-" });
  try {
    // A folder the sink wrote before: made, with a leftover in its in-progress folder.
    const out = `${dir}/out`;
    Deno.mkdirSync(`${out}/${IN_PROGRESS_DIR}`, { recursive: true });
    Deno.writeTextFileSync(`${out}/${IN_PROGRESS_DIR}/part-0-old-0`, "x\n");
    // A read-only file system there (root ignores chmod, so the test injects it).
    const real = new DenoCheckpointFs();
    const readOnly = (path: string) => {
      if (path.startsWith(`${out}/`)) {
        throw Object.assign(new Error(`Read-only file system (os error 30): ${path}`), {
          code: "EROFS",
        });
      }
    };
    const fs: CheckpointFs = Object.assign(Object.create(real) as DenoCheckpointFs, {
      create(path: string): SegmentFile {
        readOnly(path);
        return real.create(path);
      },
      remove(path: string): void {
        readOnly(path);
        real.remove(path);
      },
      rename(from: string, to: string): void {
        readOnly(to);
        real.rename(from, to);
      },
    });
    const env = StreamEnvironment.create({ log: () => {} });
    env.fromElements("a", "b")
      .addSink(new ExactlyOnceFileSink<string>({ dir: out, fs }), { uid: "sink" });
    const error = await env.execute("read-only output").then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConfigError && !(error instanceof JobFailedError), String(error));
    assert.match(
      error.message,
      new RegExp(`^Output directory ${out} cannot be written: Read-only file system`),
    );
    assert.equal(exitStatusOf(error).code, 2);
    assert.deepEqual(
      [...Deno.readDirSync(`${out}/${IN_PROGRESS_DIR}`)].map((e) => e.name),
      ["part-0-old-0"],
    );
    assert.deepEqual(parts(out), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a misspelt option is a ConfigError naming it, before any folder is made", () => {
  const parent = Deno.makeTempDirSync();
  const dir = `${parent}/out`;
  try {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => new ExactlyOnceFileSink({ dir, formatter: String } as any),
      (e) =>
        e instanceof ConfigError &&
        e.message.startsWith('ExactlyOnceFileSink: unknown option "formatter"'),
    );
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(parent, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a bigint record is written as its digits, not a failed job", async () => {
  // The default format was JSON.stringify, which throws on a bigint.
  const dir = await Deno.makeTempDir();
  try {
    const env = StreamEnvironment.create({
      checkpoint: { dir: `${dir}/ck` },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    env.fromElements<unknown>(7n, { rideId: 2n ** 64n })
      .addSink(new ExactlyOnceFileSink<unknown>({ dir: `${dir}/out` }), { uid: "sink" });
    await env.execute("bigints");
    assert.deepEqual(parts(`${dir}/out`), ['7\n{"rideId":18446744073709551616}\n']);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a file: URL dir is that folder, not a folder named file: under the working folder", async () => {
  const root = await Deno.makeTempDir();
  try {
    const env = StreamEnvironment.create();
    const sink = new ExactlyOnceFileSink<string>({ dir: `file://${root}/out` });
    assert.equal(sink.dir, `${root}/out`);
    env.fromCollection(["a", "b"]).addSink(sink);
    await env.execute("file url");
    const parts = [...Deno.readDirSync(`${root}/out`)].filter((e) => e.name.startsWith("part-"));
    assert.equal(parts.length, 1);
    assert.equal(await Deno.readTextFile(`${root}/out/${parts[0]!.name}`), "a\nb\n");
    assert.throws(() => new ExactlyOnceFileSink({ dir: "s3://bucket/out" }), ConfigError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("exactly-once file sink: partPrefix and partSuffix frame the committed names, as Flink's OutputFileConfig", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const env = StreamEnvironment.create({ checkpoint: { dir: `${dir}/ck` }, log: () => {} });
    env.fromElements("a", "b").addSink(
      new ExactlyOnceFileSink<string>({
        dir: `${dir}/out`,
        partPrefix: "events",
        partSuffix: ".jsonl",
      }),
      { uid: "sink" },
    );
    await env.execute("affixes");
    const names = [...Deno.readDirSync(`${dir}/out`)].filter((e) => e.isFile).map((e) => e.name);
    assert.equal(names.length, 1, names.join());
    assert.match(names[0]!, /^events-0-[0-9a-f]{8}-0\.jsonl$/);
    assert.equal(await Deno.readTextFile(`${dir}/out/${names[0]}`), "a\nb\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a part prefix or suffix that is no plain name, or reads as not committed, is a ConfigError before any folder is made", () => {
  const parent = Deno.makeTempDirSync();
  const dir = `${parent}/out`;
  try {
    for (
      const [options, message] of [
        [{ partPrefix: "a/b" }, /partPrefix must be a file name, without \/ or \\, got "a\/b"/],
        [{ partPrefix: "..\\x" }, /partPrefix must be a file name/],
        [{ partPrefix: ".in-progress" }, /partPrefix must not start with "\." or "_"/],
        [{ partPrefix: "_tmp" }, /partPrefix must not start with "\." or "_"/],
        [{ partPrefix: 7 }, /partPrefix must be a string, got 7/],
        [{ partSuffix: "/x" }, /partSuffix must be a file name/],
        [{ partSuffix: ".savepoint" }, /partSuffix must not end with "\.savepoint"/],
      ] as const
    ) {
      assert.throws(
        // deno-lint-ignore no-explicit-any
        () => new ExactlyOnceFileSink({ dir, ...options } as any),
        (e) => e instanceof ConfigError && message.test(e.message),
        JSON.stringify(options),
      );
    }
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(parent, { recursive: true });
  }
});

/** Committed part files of `dir` and its subfolders (not hidden ones), by path relative to `dir`. */
function committed(dir: string, sub = ""): Map<string, string> {
  const found = new Map<string, string>();
  for (const e of Deno.readDirSync(`${dir}/${sub}`)) {
    if (e.name.startsWith(".")) continue;
    const path = sub === "" ? e.name : `${sub}/${e.name}`;
    if (e.isDirectory) { for (const [p, t] of committed(dir, path)) found.set(p, t); }
    else found.set(path, Deno.readTextFileSync(`${dir}/${path}`));
  }
  return found;
}

/** Text of the pending (rolled or open) files, in the order they were named. */
function pending(out: string): string[] {
  const dir = `${out}/${IN_PROGRESS_DIR}`;
  return [...Deno.readDirSync(dir)].map((e) => e.name)
    .sort((a, b) => Number(a.split("-").at(-1)) - Number(b.split("-").at(-1)))
    .map((n) => Deno.readTextFileSync(`${dir}/${n}`));
}

Deno.test("exactly-once file sink: maxPartBytes rolls a part once it holds more, before the next record (Flink's withMaxPartSize), counting UTF-8 bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const checkpointing of [false, true]) {
      const out = `${dir}/out-${checkpointing}`;
      const env = StreamEnvironment.create({
        ...(checkpointing ? { checkpoint: { dir: `${dir}/ck` } } : {}),
        log: () => {},
      });
      // 5 bytes a line: parts of 3 lines (15 > 12); "ééé\n" is 7 bytes: 2 lines (14 > 12).
      const lines = ["a1", "a2", "a3", "a4", "a5", "a6"].map((l) => `${l}xx`);
      env.fromElements(...lines, "ééé", "ééé", "ééé").addSink(
        new ExactlyOnceFileSink<string>({ dir: out, rollingPolicy: { maxPartBytes: 12 } }),
        { uid: "sink" },
      );
      await env.execute("max part size");
      const files = [...committed(out)].sort(([a], [b]) =>
        Number(a.split("-").at(-1)) - Number(b.split("-").at(-1))
      ).map(([, t]) => t);
      assert.deepEqual(files, [
        "a1xx\na2xx\na3xx\n",
        "a4xx\na5xx\na6xx\n",
        // Counting UTF-16 units, 4 + 4 + 4 would not pass 12.
        "ééé\nééé\n",
        "ééé\n",
      ], `checkpointing: ${checkpointing}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: rolloverIntervalMs and inactivityIntervalMs roll parts on processing time; rolled parts commit with the next checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const realNow = Date.now;
  let now = 1_000_000;
  Date.now = () => now;
  try {
    for (
      const [policy, steps, expected] of [
        [
          { rolloverIntervalMs: 1000 },
          [[0, "a"], [500, "b"], [999, "c"], [1000, "d"], [1500, "e"], [2000, "f"]],
          ["a\nb\nc\n", "d\ne\n", "f\n"],
        ],
        [
          { inactivityIntervalMs: 300 },
          [[0, "a"], [200, "b"], [450, "c"], [749, "d"], [1049, "e"], [1100, "f"]],
          ["a\nb\nc\nd\n", "e\nf\n"],
        ],
      ] as const
    ) {
      const out = `${dir}/out-${Object.keys(policy)[0]}`;
      const src = new QueueSource<string>();
      const env = StreamEnvironment.create({
        checkpoint: { dir: `${dir}/ck-${Object.keys(policy)[0]}` },
        restartStrategy: { kind: "none" },
        log: () => {},
      });
      env.addSource(src, { uid: "src" })
        .addSink(new ExactlyOnceFileSink<string>({ dir: out, rollingPolicy: policy }), {
          uid: "sink",
        });
      const client = env.executeAsync("timed rolling");
      const start = now;
      for (const [at, record] of steps) {
        now = start + at;
        src.push(record);
        await until(() => pending(out).join("").includes(record), `${record} written`);
      }
      assert.deepEqual(pending(out), expected, JSON.stringify(policy));
      assert.deepEqual([...committed(out)], [], "rolled parts wait for the checkpoint");
      await client.triggerCheckpoint();
      await until(() => committed(out).size === expected.length, "the parts committed");
      assert.deepEqual([...committed(out).values()].sort(), [...expected].sort());
      src.end();
      await client.done;
      assert.equal(committed(out).size, expected.length);
    }
  } finally {
    Date.now = realNow;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a rolling policy with a misspelt name or a limit that is no number > 0 is a ConfigError", () => {
  const parent = Deno.makeTempDirSync();
  const dir = `${parent}/out`;
  try {
    for (
      const [rollingPolicy, message] of [
        [{ maxPartSize: 10 }, /rollingPolicy: unknown option "maxPartSize"/],
        [{ maxPartBytes: 0 }, /maxPartBytes must be a number > 0, got 0/],
        [{ rolloverIntervalMs: -1 }, /rolloverIntervalMs must be a number > 0, got -1/],
        [{ inactivityIntervalMs: "60s" }, /inactivityIntervalMs must be a number > 0, got "60s"/],
        [{ maxPartBytes: NaN }, /maxPartBytes must be a number > 0, got NaN/],
      ] as const
    ) {
      assert.throws(
        // deno-lint-ignore no-explicit-any
        () => new ExactlyOnceFileSink({ dir, rollingPolicy } as any),
        (e) => e instanceof ConfigError && message.test(e.message),
        JSON.stringify(rollingPolicy),
      );
    }
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(parent, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a pending transaction of the one-file format (older checkpoints) is committed on restore", async () => {
  const dir = await Deno.makeTempDir();
  try {
    Deno.mkdirSync(`${dir}/${IN_PROGRESS_DIR}`);
    Deno.writeTextFileSync(`${dir}/${IN_PROGRESS_DIR}/part-0-old-3`, "x\ny\n");
    Deno.writeTextFileSync(`${dir}/${IN_PROGRESS_DIR}/part-0-old-4`, "leftover\n");
    const sink = new ExactlyOnceFileSink<string>({ dir });
    const state = [{ checkpointId: 1, txn: { name: "part-0-old-3", records: 2, dir } }];
    sink.initializeState({
      operatorStateStore: {
        getUnionListState: () => ({ get: () => state, update() {} }),
      },
      isRestored: true,
      // deno-lint-ignore no-explicit-any
    } as any);
    await sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "sink" });
    await sink.close();
    assert.deepEqual([...committed(dir)], [["part-0-old-3", "x\ny\n"]]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/${IN_PROGRESS_DIR}`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a bucket assigner writes each record into its bucket's folder, each bucket its own parts, committed with the checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out`;
    const src = new QueueSource<string>();
    const env = StreamEnvironment.create({
      checkpoint: { dir: `${dir}/ck` },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    const byCountry: BucketAssigner<string> = {
      getBucketId: (r) => r.startsWith("base") ? "" : `country=${r.slice(0, 2)}/day=1`,
    };
    env.addSource(src, { uid: "src" }).addSink(
      new ExactlyOnceFileSink<string>({
        dir: out,
        bucketAssigner: byCountry,
        rollingPolicy: { maxPartBytes: 10 },
      }),
      { uid: "sink" },
    );
    const client = env.executeAsync("buckets");
    src.push("nl1", "de1", "nl2", "base1", "nl3", "de2", "nl4");
    await until(() => pending(out).join("").includes("nl4"), "all written");
    assert.deepEqual([...committed(out)], [], "nothing before the checkpoint");
    await client.triggerCheckpoint();
    await until(() => committed(out).size === 4, "the parts committed");
    src.push("nl5");
    src.end();
    await client.done;
    const byFolder = new Map<string, string[]>();
    for (const [path, text] of committed(out)) {
      const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
      byFolder.set(folder, [...(byFolder.get(folder) ?? []), text]);
    }
    assert.deepEqual(
      [...byFolder].map(([f, texts]) => [f, texts.sort()]).sort(),
      [
        ["", ["base1\n"]],
        ["country=de/day=1", ["de1\nde2\n"]],
        // 12 bytes > 10: nl4 starts a part; after the checkpoint nl5 another.
        ["country=nl/day=1", ["nl1\nnl2\nnl3\n", "nl4\n", "nl5\n"]],
      ].sort(),
    );
    assert.deepEqual([...Deno.readDirSync(`${out}/${IN_PROGRESS_DIR}`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: DateTimeBucketAssigner buckets by the processing time of the record's batch, hourly in UTC", async () => {
  const dir = await Deno.makeTempDir();
  const realNow = Date.now;
  let now = Date.UTC(2024, 4, 1, 13, 59, 59, 999);
  Date.now = () => now;
  try {
    const out = `${dir}/out`;
    const src = new QueueSource<string>();
    const env = StreamEnvironment.create({
      checkpoint: { dir: `${dir}/ck` },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    env.addSource(src, { uid: "src" }).addSink(
      new ExactlyOnceFileSink<string>({ dir: out, bucketAssigner: new DateTimeBucketAssigner() }),
      { uid: "sink" },
    );
    const client = env.executeAsync("date time buckets");
    src.push("a", "b");
    await until(() => pending(out).join("").includes("b"), "a and b written");
    now += 1;
    src.push("c");
    await until(() => pending(out).join("").includes("c"), "c written");
    src.end();
    await client.done;
    assert.deepEqual(
      [...committed(out)].map(([path, text]) => [path.slice(0, path.indexOf("/")), text]).sort(),
      [["2024-05-01--13", "a\nb\n"], ["2024-05-01--14", "c\n"]],
    );
  } finally {
    Date.now = realNow;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exactly-once file sink: a bucket id that is no relative folder, or looks uncommitted, fails the job with a ConfigError naming it, writing nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [id, why] of [
        ["../escape", /part "\.\." starts with "\." or "_"/],
        [".in-progress", /part "\.in-progress" starts with/],
        ["a/_tmp", /part "_tmp" starts with/],
        ["/abs", /no relative folder path/],
        ["a//b", /no relative folder path/],
        ["a\\b", /has a \\ or NUL/],
        [7, /it is no string/],
      ] as const
    ) {
      const out = `${dir}/out`;
      const env = StreamEnvironment.create({ log: () => {} });
      env.fromElements("x").addSink(
        new ExactlyOnceFileSink<string>({
          dir: out,
          // deno-lint-ignore no-explicit-any
          bucketAssigner: { getBucketId: () => id as any },
        }),
        { uid: "sink" },
      );
      const e = await env.execute("bad bucket").then(() => undefined, (e: unknown) => e);
      const cause = e instanceof Error && e.cause instanceof ConfigError ? e.cause : e;
      assert.ok(cause instanceof ConfigError, `${JSON.stringify(id)}: ${e}`);
      assert.match(cause.message, /the bucket assigner returned .*, which is no bucket/);
      assert.match(cause.message, why, String(id));
      assert.deepEqual([...committed(out)], [], String(id));
      assert.deepEqual([...Deno.readDirSync(`${out}/${IN_PROGRESS_DIR}`)], []);
      Deno.removeSync(out, { recursive: true });
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written beside the folder");
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => new ExactlyOnceFileSink({ dir: `${dir}/o`, bucketAssigner: (() => "") as any }),
      (e) => e instanceof ConfigError && /bucketAssigner must have a getBucketId/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
