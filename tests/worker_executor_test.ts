/**
 * The worker executor end to end: job scripts (tests/_helpers/parallel_job.ts)
 * run in child processes with `--executor workers`, so their subtasks run on
 * Web Workers that import the script again.
 */
import assert from "node:assert/strict";
import { parseJobFlags, StreamEnvironment } from "../mod.ts";
import { placeTasks } from "../core/runtime/worker_executor.ts";
import { DEFAULT_PARALLELISM_CAP } from "../core/dataflow/_default_execution.ts";
import { readAdminUrl } from "./_helpers/admin_url.ts";
import { readHistory } from "../core/checkpoint/history.ts";
import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
import { loadManifest } from "../core/checkpoint/storage.ts";
import { getState, openState } from "../core/state/state_reader.ts";

const SCRIPT = new URL("./_helpers/parallel_job.ts", import.meta.url).pathname;

async function run(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    env: { NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

function lastJsonLine<T>(stdout: string): T {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** The lines of the `part-*` files in `dir`. */
function outputLines(dir: string): string[] {
  const lines: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.startsWith("part-")) continue;
    // Not push(...): one file of >100k lines would overflow the stack.
    for (const l of Deno.readTextFileSync(`${dir}/${e.name}`).split("\n")) if (l) lines.push(l);
  }
  return lines;
}

/** `k<i>\t1` … `k<i>\tn` for every key the generator makes. */
function expectedCounts(records: number, keys: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < keys; k++) {
    const n = Math.floor(records / keys) + (k < records % keys ? 1 : 0);
    for (let i = 1; i <= n; i++) out.push(`k${k}\t${i}`);
  }
  return out.sort();
}

Deno.test("worker executor: --executor is a common flag; workers default to a subtask per core", () => {
  assert.equal(parseJobFlags(["--executor", "workers"]).flags.executor, "workers");
  assert.throws(
    () => parseJobFlags(["--executor", "threads"]),
    /--executor must be inline or workers/,
  );
  const { env } = StreamEnvironment.fromArgs(["--executor", "workers"]);
  assert.equal(
    env.config.parallelism,
    Math.min(navigator.hardwareConcurrency, DEFAULT_PARALLELISM_CAP),
  );
  assert.equal(StreamEnvironment.fromArgs([]).env.config.parallelism, 1);
  assert.equal(
    StreamEnvironment.fromArgs(["--executor", "workers", "--parallelism", "1"]).env
      .config.parallelism,
    1,
  );
});

Deno.test("worker executor: a script without --parallelism runs a subtask per core on workers; --parallelism 1 runs inline", async () => {
  const cores = Math.min(navigator.hardwareConcurrency, DEFAULT_PARALLELISM_CAP);
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/in.txt`, "a b a\n");
    const example = new URL("../examples/word_count.ts", import.meta.url).pathname;
    const printed = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        example,
        "--input",
        `${dir}/in.txt`,
        "--output",
        `${dir}/out`,
        "--print-plan",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(printed.code, 0, new TextDecoder().decode(printed.stderr));
    const plan = JSON.parse(new TextDecoder().decode(printed.stdout)) as {
      maxParallelism: number;
      vertices: { parallelism: number }[];
    };
    assert.deepEqual(plan.vertices.map((v) => v.parallelism), plan.vertices.map(() => cores));
    assert.equal(plan.maxParallelism, 128, "the default key groups do not depend on the machine");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  const records = 2_000, keys = 50;
  const args = ["--scenario", "count", "--records", String(records), "--keys", String(keys)];
  type Out = { values: string[]; workers: number };
  const byDefault = await run(args);
  assert.equal(byDefault.code, 0, byDefault.stderr);
  const d = lastJsonLine<Out>(byDefault.stdout);
  assert.equal(d.workers, cores > 1 ? cores : 0, "one worker per subtask, one subtask per core");
  assert.deepEqual(d.values, expectedCounts(records, keys));
  const single = await run([...args, "--parallelism", "1"]);
  assert.equal(single.code, 0, single.stderr);
  const s = lastJsonLine<Out>(single.stdout);
  assert.equal(s.workers, 0, "--parallelism 1 stays on the main thread");
  assert.deepEqual(s.values, d.values);
});

Deno.test("worker executor: subtask i of every chain goes to worker i % W", () => {
  const env = StreamEnvironment.create({ parallelism: 3 });
  env.fromElements("a", "b").map((w: string) => w).keyBy((w) => w).map((w) => w).print();
  const plan = env.getExecutionPlan("placement");
  assert.deepEqual(
    placeTasks(plan, 2),
    plan.tasks.map((t) => t.subtaskIndex % 2),
  );
  assert.deepEqual(placeTasks(plan, 8), plan.tasks.map((t) => t.subtaskIndex), "W ≤ parallelism");
});

Deno.test("worker executor: the main thread runs worker 0's subtasks, a Web Worker each other worker's (all on Web Workers when it serves the admin API)", async () => {
  const threads = await run([
    ...["--scenario", "threads", "--keys", "64", "--parallelism", "3", "--executor", "workers"],
  ]);
  assert.equal(threads.code, 0, threads.stderr);
  const out = lastJsonLine<{ where: string[]; workers: number }>(threads.stdout);
  const w = Math.min(3, navigator.hardwareConcurrency);
  assert.equal(out.workers, w);
  assert.deepEqual(
    out.where,
    [0, 1, 2].map((i) => `${i}:${i % w === 0 ? "main" : `weir-worker/${i % w}`}`).sort(),
  );
  // Serving the admin API, the main thread keeps its event loop for requests: no share there.
  const served = await run([
    ...["--scenario", "threads", "--keys", "64", "--parallelism", "3", "--executor", "workers"],
    ...["--admin-port", "0"],
  ]);
  assert.equal(served.code, 0, served.stderr);
  assert.deepEqual(
    lastJsonLine<{ where: string[] }>(served.stdout).where,
    [0, 1, 2].map((i) => `${i}:weir-worker/${i % w}`).sort(),
  );
});

for (const backend of ["heap", "lsm"]) {
  Deno.test(`worker executor: keyed counts at parallelism 2 equal the model and inline, CollectSink streams back (${backend})`, async () => {
    const records = 40_000, keys = 700;
    const args = ["--scenario", "count", "--records", String(records), "--keys", String(keys)];
    const common = ["--parallelism", "2", "--state-backend", backend];
    const workers = await run([...args, ...common, "--executor", "workers"]);
    assert.equal(workers.code, 0, workers.stderr);
    const inline = await run([...args, ...common, "--executor", "inline"]);
    assert.equal(inline.code, 0, inline.stderr);
    type Out = { values: string[]; recordsIn: Record<string, number> };
    const w = lastJsonLine<Out>(workers.stdout), i = lastJsonLine<Out>(inline.stdout);
    assert.equal(w.values.length, records, "every record reached the main thread's CollectSink");
    assert.deepEqual(w.values, expectedCounts(records, keys));
    assert.deepEqual(w.values, i.values);
    assert.deepEqual(w.recordsIn, { gen: 0, count: records, collect: records });
    assert.deepEqual(w.recordsIn, i.recordsIn);
  });
}

Deno.test("worker executor: a restore without --max-parallelism runs with the snapshot's key groups, at a parallelism whose default has more", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-workers-keygroups-" });
  try {
    const keys = 10;
    const count = (p: string, more: string[] = []) =>
      run([
        ...["--scenario", "count", "--records", "1000", "--keys", String(keys)],
        ...["--checkpoint-dir", dir, "--parallelism", p, "--executor", "workers", ...more],
      ]);
    const first = await count("2");
    assert.equal(first.code, 0, first.stderr);
    // Parallelism 90's default is 256 key groups; the checkpoint has 128 (parallelism 2's).
    const second = await count("90", ["--restore", "latest"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /restoring checkpoint 1 /);
    assert.equal(lastJsonLine<{ workers: number }>(second.stdout).workers, 2);
    // Its final checkpoint holds every key's count, taken by 90 subtasks over the 128 groups.
    const fs = new DenoCheckpointFs();
    const loaded = loadManifest(fs, `${dir}/chk-2`, true);
    assert.equal(loaded.manifest.maxParallelism, 128);
    assert.equal(loaded.manifest.operators["count"]!.subtasks.length, 90);
    const view = openState(loaded, "count", "count");
    for (let k = 0; k < keys; k++) {
      assert.deepEqual(getState(loaded, fs, view, `k${k}`).entries.map((e) => e.value), [100]);
    }
    // Past the snapshot's key groups no parallelism can restore it: a clear error.
    const third = await count("200", ["--restore", "latest"]);
    assert.notEqual(third.code, 0);
    assert.match(third.stderr, /checkpoint 2 at parallelism 200: it has 128 key groups/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker executor: a restore removes the temp files a killed run left in shared/, though its workers write there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-workers-leftovers-" });
  try {
    const count = (more: string[] = []) =>
      run([
        ...["--scenario", "count", "--records", "1000", "--keys", "10"],
        ...["--checkpoint-dir", dir, "--parallelism", "2", "--executor", "workers", ...more],
      ]);
    const first = await count();
    assert.equal(first.code, 0, first.stderr);
    // What a kill -9 during a segment write leaves (a file half written, named as they are).
    const leftover = `${dir}/shared/.0badf00d-00000001.seg.tmp`;
    await Deno.writeFile(leftover, new Uint8Array(4096));
    const second = await count(["--restore", "latest"]);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/shared`)].filter((e) => e.name.endsWith(".tmp")),
      [],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker executor: the start-up reported ends when every worker is told to run, not after the main thread's first batches", async () => {
  const input = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(input, Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n"));
    const busyMs = 3_000;
    const out = await run([
      ...["--scenario", "busy-first", "--input", input, "--busy-ms", String(busyMs)],
      ...["--parallelism", "2", "--executor", "workers"],
    ]);
    assert.equal(out.code, 0, out.stderr);
    const { startupMs, lines } = lastJsonLine<{ startupMs: number; lines: number }>(out.stdout);
    assert.equal(lines, 100);
    // Counting the main thread's first line would make it longer than that line alone.
    assert.ok(startupMs > 0 && startupMs < busyMs, `start-up ${startupMs} ms`);
  } finally {
    await Deno.remove(input);
  }
});

for (const ringMemory of [[], ["--ring-memory", "1"]]) {
  Deno.test(`worker executor: records bigger than a ring cross workers (in pieces) ${ringMemory.join(" ")}`, async () => {
    const out = await run([
      ...["--scenario", "big-records", "--parallelism", "2", "--executor", "workers"],
      ...ringMemory,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const mib3 = 3 << 20;
    assert.deepEqual(lastJsonLine<string[]>(out.stdout), [..."abcdef"].map((c) => `${c}:${mib3}`));
  });
}

Deno.test("worker executor: the rings between workers share ringMemoryBytes; at high parallelism each holds less, never under 32 KiB", async () => {
  const records = 40_000, keys = 700;
  const count = ["--scenario", "count", "--records", String(records), "--keys", String(keys)];
  type Out = { values: string[]; workers: number; ringBytes: number };
  const at = async (parallelism: number, ringMemory?: number, executor = "workers") => {
    const out = await run([
      ...count,
      ...["--parallelism", String(parallelism), "--executor", executor],
      ...(ringMemory === undefined ? [] : ["--ring-memory", String(ringMemory)]),
    ]);
    assert.equal(out.code, 0, out.stderr);
    const o = lastJsonLine<Out>(out.stdout);
    assert.deepEqual(o.values, expectedCounts(records, keys));
    return o;
  };
  const w = navigator.hardwareConcurrency;
  if (w < 2) return; // one core: one worker, no rings
  assert.equal((await at(2)).ringBytes, 512 << 10, "two workers, two rings: the most");
  // Parallelism 24: 576 channels on the keyed edge, most of them between two workers.
  const { ringBytes } = await at(24, 8 << 20);
  assert.ok(ringBytes >= 32 << 10 && ringBytes < 512 << 10, `${ringBytes}`);
  assert.equal(ringBytes & (ringBytes - 1), 0, "a power of two");
  assert.equal((await at(24, 1)).ringBytes, 32 << 10, "never under the least");
  assert.equal((await at(2, undefined, "inline")).ringBytes, 0, "inline: no rings (absent)");
});

Deno.test("worker executor: a sink's folder made before execute() is another one in each worker: a ConfigError shows both", async () => {
  const out = await run([
    "--scenario",
    "temp-output",
    "--parallelism",
    "2",
    "--executor",
    "workers",
  ]);
  assert.notEqual(out.code, 0);
  assert.match(
    out.stderr,
    /operator \d is "Sink" \[uid files, parallelism 2, writes \/\S+weir-temp-output-\w+\] here but "Sink" \[uid files, parallelism 2, writes \/\S+weir-temp-output-\w+\] in the main thread \(a path or address the script makes before execute\(\), such as a temporary folder, is another one in each worker/,
  );
  // The workers' own folders (their script never gets past execute() to remove them).
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  for (const e of Deno.readDirSync(tmp)) {
    if (e.name.startsWith("weir-temp-output-")) {
      Deno.removeSync(`${tmp}/${e.name}`, { recursive: true });
    }
  }
});

Deno.test("worker executor: fromElements of data the script read from stdin reads the main thread's items in the workers", async () => {
  const lines = ["one", "three", "five", "seventeen", "x"];
  const out = await run(
    ["--scenario", "stdin", "--parallelism", "2", "--executor", "workers"],
    lines.join("\n") + "\n",
  );
  assert.equal(out.code, 0, out.stderr);
  // In the workers stdin is already read to its end: without the main thread's items, none.
  assert.deepEqual(lastJsonLine<number[]>(out.stdout), lines.map((l) => l.length).sort());
});

Deno.test("worker executor: items no serializer carries must be built alike in every worker; else a ConfigError names the source", async () => {
  const same = await run(["--scenario", "points", "--parallelism", "2", "--executor", "workers"]);
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(lastJsonLine<number[]>(same.stdout), [1, 2, 3]);

  const read = await run(
    ["--scenario", "stdin-points", "--parallelism", "2", "--executor", "workers"],
    "a\nbb\n",
  );
  assert.notEqual(read.code, 0);
  assert.match(
    read.stderr,
    /The items of "Collection Source" \[uid points\] built in worker \d differ from the main thread's \(0 items, digest [0-9a-f]{8} here, 2 items, digest [0-9a-f]{8} there\).*\.returns\(serializer\).*stdin/,
  );
});

Deno.test("worker executor: executeAndCollect() brings every record back from the workers", async () => {
  const records = 20_000, keys = 300;
  const out = await run([
    ...["--scenario", "collect", "--records", String(records), "--keys", String(keys)],
    ...["--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(lastJsonLine<string[]>(out.stdout), expectedCounts(records, keys));
});

Deno.test("worker executor: executeAndCollect() without checkpoints gives each record once when a worker fails and the job starts over", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-workers-" });
  try {
    const records = 100_000, keys = 500;
    const out = await run([
      ...["--scenario", "collect", "--records", String(records), "--keys", String(keys)],
      ...["--fail-at", "20000", "--marker", `${dir}/marker`, "--restart-once"],
      ...["--parallelism", "2", "--executor", "workers"],
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /injected failure.*restarting/);
    const collected = lastJsonLine<string[]>(out.stdout);
    assert.equal(collected.length, records, "each record once");
    assert.deepEqual(collected, expectedCounts(records, keys));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const backend of ["heap", "lsm"]) {
  Deno.test(`worker executor: executeAndCollect() with checkpoints gives each record once when a worker fails and the job restores (${backend})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "weir-workers-" });
    try {
      const records = 200_000, keys = 500;
      const out = await run([
        ...["--scenario", "collect", "--records", String(records), "--keys", String(keys)],
        ...["--fail-at", "40000", "--marker", `${dir}/marker`],
        ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "50"],
        ...["--parallelism", "2", "--executor", "workers", "--state-backend", backend],
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /restoring checkpoint \d+ after a failure/);
      const collected = lastJsonLine<string[]>(out.stdout);
      // Lengths first: a diff of two long arrays that differ takes more memory than the test has.
      assert.equal(collected.length, records, "each record once");
      assert.deepEqual(collected, expectedCounts(records, keys));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("worker executor: executeAndCollect({ limit }) resolves with the first records of an unbounded job and cancels it", async () => {
  const out = await run([
    ...["--scenario", "first", "--limit", "5000", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(out.code, 0, out.stderr);
  const first = lastJsonLine<number[]>(out.stdout);
  assert.equal(first.length, 5000);
  assert.ok(
    first.every((n) => Number.isInteger(n) && n % 2 === 0),
    "every record went through map",
  );
  assert.equal(new Set(first).size, first.length, "no record twice");
});

Deno.test("worker executor: a cancelled job's JobResult counts the records its workers read, as inline", async () => {
  for (const executor of ["workers", "inline"]) {
    const out = await run(["--scenario", "cancel", "--parallelism", "2", "--executor", executor]);
    assert.equal(out.code, 0, out.stderr);
    const r = lastJsonLine<{
      cancelled: boolean;
      recordsIn: Record<string, number>;
      collected: number;
    }>(out.stdout);
    assert.equal(r.cancelled, true);
    assert.equal(r.recordsIn.gen, 0, executor);
    // Every record the main thread collected went through the map and the sink first.
    assert.ok(r.recordsIn.double! >= r.collected, `${executor}: ${JSON.stringify(r)}`);
    assert.ok(r.recordsIn.collect! >= r.collected, `${executor}: ${JSON.stringify(r)}`);
    assert.ok(r.collected >= 5000);
  }
});

Deno.test("worker executor: a task that finished just before a cancel reads FINISHED in the admin API, as inline (its worker reports when it ends)", async () => {
  // Without the admin port worker 0's share runs on the main thread; with it, on a Web Worker.
  for (const args of [[], ["--admin-port", "0"]]) {
    const out = await run([
      ...["--scenario", "finish-then-cancel", "--parallelism", "2", "--executor", "workers"],
      ...args,
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(lastJsonLine<string[]>(out.stdout), ["FINISHED", "CANCELED"], args.join(" "));
  }
});

Deno.test("worker executor: a user function whose close() throws fails the job, naming the task and worker, with the trace of the worker's code, as inline", async () => {
  for (const executor of ["workers", "inline"]) {
    const out = await run([
      ...["--scenario", "close-throws", "--records", "1000", "--parallelism", "2"],
      ...["--executor", executor],
    ]);
    assert.equal(out.code, 1, `${executor}: ${out.stdout}${out.stderr}`);
    assert.doesNotMatch(out.stdout, /finished/);
    // Subtask 1 runs on worker 1 % 2.
    const where = executor === "workers" ? " on worker 1" : "";
    assert.ok(
      out.stderr.includes(
        `Job "close-throws" failed in task KeyedProcess -> Sink (2/2)${where}: close failed on purpose`,
      ),
      out.stderr,
    );
    // The cause's trace is where the user's code threw, in the worker that ran it.
    assert.match(
      lastJsonLine<{ stack: string }>(out.stdout).stack,
      /^Error: close failed on purpose\n\s+at ClosingFails\.close \(file:\/\/\/.*parallel_job\.ts:/,
      executor,
    );
  }
});

Deno.test("worker executor: records cross workers with backpressure (a slow consumer bounds the lag)", async () => {
  const { code, stdout, stderr } = await run([
    ...["--scenario", "lag", "--records", "20000", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 0, stderr);
  const r = lastJsonLine<{ maxLagMs: number; durationMs: number; count: number }>(stdout);
  assert.equal(r.count, 20_000);
  // Without backpressure the source would emit everything at once and the last
  // records would wait nearly the whole run; with it, only what the rings and
  // channels hold is ahead of the consumer.
  assert.ok(
    r.maxLagMs < r.durationMs / 2,
    `largest lag ${r.maxLagMs} ms of a ${r.durationMs} ms run`,
  );
});

Deno.test("worker executor: a worker that dies fails the job, and the process ends", async () => {
  const { code, stderr } = await run([
    ...["--scenario", "die", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 1, stderr);
  assert.match(
    stderr,
    /Job "die" failed: worker 1 died of an error nothing caught: worker crashed on purpose/,
  );
  assert.doesNotMatch(stderr, /Uncaught/);
});

Deno.test("worker executor: an error nothing caught on the main thread (worker 0) fails the attempt as a worker's does", async () => {
  const args = ["--scenario", "lost-here", "--records", "100", "--parallelism", "2"];
  const restarted = await run([...args, "--executor", "workers", "--restart-once"]);
  assert.equal(restarted.code, 0, restarted.stderr);
  assert.match(
    restarted.stderr,
    /Job "lost-here" failed: worker 0 \(the main thread\) had an error nothing caught: lost here; restarting/,
  );
  assert.deepEqual(lastJsonLine(restarted.stdout), Array.from({ length: 100 }, (_, n) => 2 * n));
  // Without restarts, the job fails with it (the process does not die of it).
  const failed = await run([...args, "--executor", "workers"]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(
    failed.stderr,
    /worker 0 \(the main thread\) had an error nothing caught: lost here/,
  );
  assert.doesNotMatch(failed.stderr, /Uncaught/);
});

Deno.test("worker executor: a graph rebuilt differently in a worker is a clear error", async () => {
  const { code, stderr } = await run([
    ...["--scenario", "mismatch", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /job graph rebuilt in worker \d differs from the main thread's plan/);
  assert.match(stderr, /operator 2 is "Map" \[uid double, parallelism 2\] here but "Print"/);
  assert.match(stderr, /build the graph deterministically before execute\(\)/);
});

Deno.test("worker executor: a worker whose script does not reach execute() fails the job after the start timeout", async () => {
  const started = performance.now();
  const { code, stderr } = await run([
    ...["--scenario", "slow-start", "--start-timeout", "1500", "--parallelism", "2"],
    ...["--executor", "workers"],
  ]);
  const tookMs = performance.now() - started;
  assert.equal(code, 1, stderr);
  assert.match(
    stderr,
    /Job "slow-start" failed: worker 1 did not start within 1500 ms: its script runs but has not called execute\(\)\. What runs before execute\(\) runs in every worker/,
  );
  // The timeout and the process's start and end: the stuck worker, which opened nothing, is
  // terminated without the grace cancelled workers get to close their backends (with it: at
  // least 1.5 + 5 s and the process's start).
  assert.ok(tookMs < 6_500, `took ${tookMs} ms`);
});

Deno.test("worker executor: a worker whose script throws, exits or ends before execute() fails the job at once, in one line", async () => {
  for (
    const [scenario, why] of [
      ["throw-before", "no config in this worker"],
      ["exit-before", "the worker ended \\(Deno\\.exit\\(\\) or close\\(\\) in the job script"],
      ["close-before", "the worker ended \\(Deno\\.exit\\(\\) or close\\(\\) in the job script"],
      ["end-before", "the job script ended without calling execute\\(\\) in this worker"],
    ]
  ) {
    const started = performance.now();
    const { code, stderr } = await run([
      ...["--scenario", scenario!, "--parallelism", "2", "--executor", "workers"],
    ]);
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(`(The job script failed in worker 1|worker 1 died .*): ${why}`),
    );
    assert.doesNotMatch(stderr, /Uncaught|did not start within/, stderr);
    // Not the start timeout (300 s by default).
    assert.ok(performance.now() - started < 30_000);
  }
});

Deno.test("worker executor: a worker's script may call execute() from work it does not await, after its end", async () => {
  const { code, stderr, stdout } = await run([
    ...["--scenario", "late-execute", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(stdout.trim().split("\n").map((l) => l.replace(/^\d+> /, "")).sort(), [
    "1",
    "2",
    "3",
  ]);
});

Deno.test("worker executor: the admin API shows subtasks DEPLOYING while their Web Worker starts", async () => {
  // Serving the admin API, the main thread runs no share: both Web Workers wait before execute().
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", SCRIPT, "--scenario", "slow-start", "--parallelism", "2"],
      ...["--executor", "workers", "--admin-port", "0"],
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const url = await readAdminUrl(child.stderr);
    const { jobs } = await (await fetch(`${url}/jobs`)).json() as { jobs: { id: string }[] };
    const detail = await (await fetch(`${url}/jobs/${jobs[0]!.id}`)).json() as {
      state: string;
      tasks: Record<string, number>;
      vertices: { id: string; parallelism: number; status: string }[];
      "status-counts": Record<string, number>;
    };
    assert.equal(detail.state, "RUNNING");
    assert.equal(detail.tasks.deploying, detail.tasks.total);
    assert.equal(detail.tasks.running, 0);
    // Vertices none of whose subtasks has started are CREATED, as Flink aggregates them.
    assert.equal(detail["status-counts"].CREATED, detail.vertices.length);
    // As Flink's, a vertex lists every subtask, also those no worker has made yet.
    const [first] = detail.vertices;
    const { subtasks } = await (await fetch(`${url}/jobs/${jobs[0]!.id}/vertices/${first!.id}`))
      .json() as { subtasks: { subtask: number; status: string }[] };
    assert.deepEqual(
      subtasks.map((s) => [s.subtask, s.status]),
      Array.from({ length: first!.parallelism }, (_, i) => [i, "DEPLOYING"]),
    );
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("worker executor: every partitioning, side outputs, unions, connected streams and windows give the records they give inline", async () => {
  const script = new URL("./_helpers/operators_job.ts", import.meta.url).pathname;
  const outputs = await Promise.all(
    [["1", "inline"], ["2", "workers"], ["3", "workers"]].map(async ([p, executor]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, "--parallelism", p!, "--executor", executor!],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder();
      assert.equal(out.code, 0, text.decode(out.stderr));
      return lastJsonLine<Record<string, string[]>>(text.decode(out.stdout));
    }),
  );
  const [inline, ...onWorkers] = outputs;
  assert.equal(inline!["rebalance"]!.length, 2000);
  assert.equal(inline!["broadcast"]!.length, 4000);
  assert.equal(inline!["windows"]!.length, 16);
  for (const o of onWorkers) assert.deepEqual(o, inline);
});

Deno.test("worker executor: a script runs its jobs one after another, each on workers of its own", async () => {
  const { code, stdout, stderr } = await run([
    ...["--scenario", "two-jobs", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 0, stderr);
  const printed = stdout.trim().split("\n").map((l) => l.slice(l.indexOf("> ") + 2));
  // The first job's records before the second's, each printed once.
  assert.deepEqual(printed.slice(0, 2).sort(), ["1", "2"]);
  assert.deepEqual(printed.slice(2).sort(), ["a", "b"]);
});

Deno.test("worker executor: a script that runs a job with the JobTestDriver, then one on workers, runs both", async () => {
  const { code, stdout, stderr } = await run([
    ...["--scenario", "driver-then-workers", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(lastJsonLine(stdout), { driven: [2, 3], second: [10, 20, 30, 40] });
});

for (const scenario of ["same-jobs", "same-jobs-at-once"]) {
  Deno.test(`worker executor: two jobs of the same name and shape each run their own functions on their own items (${scenario})`, async () => {
    const { code, stdout, stderr } = await run([
      ...["--scenario", scenario, "--parallelism", "2", "--executor", "workers"],
    ]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(lastJsonLine(stdout), [["a!", "b!", "c!", "d!"], ["X", "X", "Y", "Z"]]);
  });
}

Deno.test("worker executor: a job whose graph depends on an earlier job's results is a clear error", async () => {
  const { code, stderr } = await run([
    ...["--scenario", "dependent-jobs", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /The job graph rebuilt in worker 1 differs from the main thread's plan/);
  assert.match(stderr, /the script's jobs before this one do not run in a worker/);
  assert.match(stderr, /run such a script with --executor inline/);
});

Deno.test("worker executor: a job the script starts only on an earlier job's results fails with an error that says so", async () => {
  const { code, stderr } = await run([
    ...["--scenario", "dependent-start", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /the job script ended without calling execute\(\) in this worker/);
  assert.match(
    stderr,
    /the script's job before it ended here at once, with no records, .* --executor inline/,
  );
});

Deno.test("worker executor: a record the default serializer cannot carry names the operator and .returns", async () => {
  const { code, stderr } = await run([
    ...["--scenario", "class", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /cannot carry an instance of Point/);
  assert.match(stderr, /call \.returns\(serializer\) on operator "Map" \[uid to-point\]/);
});

Deno.test("worker executor: .returns(serializer) carries class instances across workers", async () => {
  const { code, stdout, stderr } = await run([
    ...["--scenario", "returns", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 0, stderr);
  const printed = stdout.trim().split("\n").map((l) => Number(l.slice(l.indexOf("> ") + 2)));
  assert.deepEqual(printed.sort(), [1, 2, 3, 4]);
});

Deno.test("worker executor: a side output crosses workers with its own serializer, not its operator's main one", async () => {
  const { code, stdout, stderr } = await run([
    ...["--scenario", "side-returns", "--parallelism", "2", "--executor", "workers"],
  ]);
  assert.equal(code, 0, stderr);
  const printed = stdout.trim().split("\n").map((l) => l.slice(l.indexOf("> ") + 2));
  assert.deepEqual(printed.sort(), [
    "number 10",
    "number 20",
    "number 30",
    "number 40",
    "point 1",
    "point 2",
    "point 3",
    "point 4",
  ]);
});

// Subtask 1 runs on a Web Worker, subtask 0 on the main thread (worker 0).
for (const [backend, subtask] of [["lsm", 1], ["heap", 1], ["heap", 0]] as const) {
  Deno.test(`worker executor: a user function that throws once restarts every worker from the checkpoint, exactly once (${backend}, subtask ${subtask})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "weir-workers-" });
    try {
      const records = 300_000, keys = 1000;
      // A crashed run's orphan segment: collected once checkpoints complete.
      await Deno.mkdir(`${dir}/ck/shared`, { recursive: true });
      await Deno.writeTextFile(`${dir}/ck/shared/horphan-00000001.seg`, "left by a crash");
      const { code, stderr } = await run([
        ...["--scenario", "fail", "--records", String(records), "--keys", String(keys)],
        ...["--fail-at", "60000", "--output", `${dir}/out`, "--marker", `${dir}/marker`],
        ...["--fail-subtask", String(subtask)],
        ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "50"],
        ...["--parallelism", "2", "--executor", "workers", "--state-backend", backend],
      ]);
      assert.equal(code, 0, stderr);
      assert.match(
        stderr,
        new RegExp(`injected failure on record \\d+ of subtask ${subtask}; restarting`),
      );
      assert.match(stderr, /restoring checkpoint \d+ after a failure/);
      assert.deepEqual(outputLines(`${dir}/out`).sort(), expectedCounts(records, keys));
      assert.ok(
        !Deno.readDirSync(`${dir}/ck/shared`).some((e) => e.name.startsWith("horphan")),
        "the orphan segment was collected",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

// A lost worker is a lost TaskManager in Flink: the attempt fails and restarts from the checkpoint.
for (const how of ["exit", "close"]) {
  Deno.test(`worker executor: a worker that ends while the job runs (${how}() in a user function) restarts every worker from the checkpoint, exactly once`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "weir-workers-" });
    try {
      const records = 200_000, keys = 1000;
      const { code, stderr } = await run([
        ...["--scenario", "fail", "--records", String(records), "--keys", String(keys)],
        ...["--fail-at", "40000", "--output", `${dir}/out`, "--marker", `${dir}/marker`],
        ...["--fail-subtask", "1", "--fail-how", how],
        ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "50"],
        ...["--parallelism", "2", "--executor", "workers"],
      ]);
      assert.equal(code, 0, stderr);
      assert.match(stderr, /worker 1 ended while the job ran \(Deno\.exit\(\) or close\(\)/);
      assert.match(stderr, /restoring checkpoint \d+ after a failure/);
      assert.doesNotMatch(stderr, /configuration error/);
      assert.deepEqual(outputLines(`${dir}/out`).sort(), expectedCounts(records, keys));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

// As Flink's TaskManagers, a job run's workers outlive its restarts: a Web Worker terminated at
// every restart (its script's awaited execute() pending) would leak its thread's descriptors.
Deno.test("worker executor: a job that restarts again and again keeps its workers, exactly once, and its open descriptors do not grow with the restarts", async () => {
  const records = 1_000_000, keys = 1000;
  const attempt = async (failures: number) => {
    const dir = await Deno.makeTempDir({ prefix: "weir-workers-" });
    try {
      const { code, stdout, stderr } = await run([
        ...["--scenario", "fail", "--records", String(records), "--keys", String(keys)],
        ...["--fail-at", "1", "--output", `${dir}/out`, "--marker", `${dir}/marker`],
        ...["--fail-times", String(failures), "--print-fds"],
        ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "50"],
        ...["--parallelism", "3", "--executor", "workers"],
      ]);
      assert.equal(code, 0, stderr);
      assert.equal(stderr.match(/restoring checkpoint \d+ after a failure/g)?.length, failures);
      const lines: string[] = [];
      for (const e of Deno.readDirSync(`${dir}/out`)) {
        if (!e.name.startsWith("part-")) continue;
        for (const l of Deno.readTextFileSync(`${dir}/out/${e.name}`).split("\n")) {
          if (l) lines.push(l);
        }
      }
      assert.deepEqual(lines.sort(), expectedCounts(records, keys));
      return lastJsonLine<{ fds: number }>(stdout).fds;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };
  const once = await attempt(1);
  const often = await attempt(10);
  // Two Web Workers leaked 2 descriptors or more each per restart (an eventfd, an epoll fd).
  assert.ok(often <= once + 4, `${often} descriptors after 10 restarts, ${once} after 1`);
});

/** Writes `files` files of `lines` keys `k<i % keys>` into a new directory; returns it and the expected counts. */
function keyFiles(files: number, lines: number, keys: number): { dir: string; expected: string[] } {
  const dir = Deno.makeTempDirSync({ prefix: "weir-workers-input-" });
  let n = 0;
  for (let f = 0; f < files; f++) {
    const text = Array.from({ length: lines }, () => `k${n++ % keys}`);
    Deno.writeTextFileSync(`${dir}/part-${String(f).padStart(2, "0")}.txt`, text.join("\n") + "\n");
  }
  return { dir, expected: expectedCounts(n, keys) };
}

Deno.test("worker executor: a directory source's enumerator in the main thread assigns files to readers on the workers, every line once", async () => {
  const { dir, expected } = keyFiles(12, 2_000, 300);
  try {
    const args = ["--scenario", "files", "--input", dir, "--parallelism", "2"];
    const workers = await run([...args, "--executor", "workers"]);
    assert.equal(workers.code, 0, workers.stderr);
    const w = lastJsonLine<{ values: string[]; recordsIn: Record<string, number> }>(workers.stdout);
    assert.deepEqual(w.values, expected);
    assert.deepEqual(w.recordsIn, { files: 0, count: expected.length, collect: expected.length });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("worker executor: a directory source restarts from the checkpoint after a failure (enumerator state and readers' splits restored), exactly once", async () => {
  const { dir: input, expected } = keyFiles(20, 15_000, 1000);
  const dir = await Deno.makeTempDir({ prefix: "weir-workers-" });
  try {
    const { code, stderr } = await run([
      ...["--scenario", "files", "--input", input, "--fail-at", "60000"],
      ...["--output", `${dir}/out`, "--marker", `${dir}/marker`],
      ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "50"],
      ...["--parallelism", "2", "--executor", "workers"],
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /injected failure on record \d+ of subtask 1; restarting/);
    assert.match(stderr, /restoring checkpoint \d+ after a failure/);
    assert.deepEqual(outputLines(`${dir}/out`).sort(), expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
    Deno.removeSync(input, { recursive: true });
  }
});

Deno.test("worker executor: the admin API lists the job, checkpoints, reads state on a worker, stops it with a savepoint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-workers-admin-" });
  try {
    const line = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
    await Deno.writeTextFile(`${dir}/in.txt`, `${line}\n`.repeat(100_000));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", new URL("../examples/word_count.ts", import.meta.url).pathname],
        ...["--input", `${dir}/in.txt`, "--output", `${dir}/out`],
        ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "100"],
        ...["--parallelism", "2", "--executor", "workers", "--admin-port", "0"],
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const rest = { text: "" };
    try {
      const url = await readAdminUrl(child.stderr, rest);
      const jobs = await (await fetch(`${url}/jobs`)).json() as { jobs: { id: string }[] };
      assert.equal(jobs.jobs.length, 1);
      const id = jobs.jobs[0]!.id;
      // A checkpoint completes through the coordinator in the main thread.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const c = await (await fetch(`${url}/jobs/${id}/checkpoints`)).json() as {
          counts: { completed: number };
        };
        if (c.counts.completed > 0) break;
        assert.ok(Date.now() < deadline, "no checkpoint completed");
        await new Promise((r) => setTimeout(r, 100));
      }
      // Every subtask reports its task's state from its worker: all run (or a source ended).
      const detail = await (await fetch(`${url}/jobs/${id}`)).json() as {
        tasks: Record<string, number>;
        vertices: { status: string }[];
      };
      assert.equal(detail.tasks.running! + detail.tasks.finished!, detail.tasks.total);
      assert.ok(detail.vertices.every((v) => v.status === "RUNNING"), JSON.stringify(detail));
      // Serving the admin API, the main thread runs no share: two Web Workers, each with its own
      // heap, and each subtask i on weir-worker/<i % 2>.
      const { taskmanagers } = await (await fetch(`${url}/taskmanagers`)).json() as {
        taskmanagers: { id: string; heapUsed: number; slotsNumber: number }[];
      };
      assert.deepEqual(taskmanagers.map((t) => t.id).sort(), ["weir-worker/0", "weir-worker/1"]);
      assert.ok(taskmanagers.every((t) => t.heapUsed > 0 && t.slotsNumber > 0));
      const countVertex = (await (await fetch(`${url}/jobs/${id}`)).json() as {
        vertices: { id: string; uid: string }[];
      }).vertices.find((v) => v.uid === "count")!;
      const { subtasks } = await (await fetch(`${url}/jobs/${id}/vertices/${countVertex.id}`))
        .json() as { subtasks: { subtask: number; "taskmanager-id": string }[] };
      for (const s of subtasks) assert.equal(s["taskmanager-id"], `weir-worker/${s.subtask % 2}`);
      // The count of a word lives in the worker that runs its key group's subtask.
      const q = await fetch(`${url}/jobs/${id}/state/count/count?key=w1`);
      const found = await q.json();
      assert.equal(q.status, 200, JSON.stringify(found));
      assert.ok(found.value > 0 && [0, 1].includes(found.subtask), JSON.stringify(found));
      const stop = await fetch(`${url}/jobs/${id}/stop`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(stop.status, 202);
      const status = await child.status;
      assert.equal(status.code, 0, rest.text);
      const savepoints = [...Deno.readDirSync(`${dir}/ck/savepoints`)];
      assert.equal(savepoints.length, 1, "the stop took a savepoint");
      // Completed checkpoints keep the operators' figures the workers reported (for weir ui).
      const kept = readHistory(`${dir}/ck`).findLast((h) =>
        h.kind === "checkpoint" && h.status === "COMPLETED"
      );
      const counted = kept?.kind === "checkpoint"
        ? kept.operators?.find((f) => f.uid === "count")
        : undefined;
      assert.ok(counted && counted.records_in > 0, JSON.stringify(kept));
      assert.deepEqual(counted.inputs.map((i) => i.partitioning), ["HASH"]);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker executor: the admin API shows per-subtask figures the workers report and queries state on the owning worker", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", new URL("./_helpers/admin_job.ts", import.meta.url).pathname],
      ...["--parallelism", "2", "--executor", "workers", "--admin-port", "0", "--rate", "4000"],
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const rest = { text: "" };
  // deno-lint-ignore no-explicit-any
  const get = async (path: string): Promise<any> => {
    const res = await fetch(`${url}${path}`);
    const body = await res.json();
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`);
    return body;
  };
  let url = "";
  try {
    url = await readAdminUrl(child.stderr, rest);
    const id = (await get("/jobs")).jobs[0].id as string;
    const job = await get(`/jobs/${id}`);
    const count = job.vertices.find((v: { uid: string }) => v.uid === "count");
    assert.equal(count.parallelism, 2);
    // Both subtasks of the keyed counter run on workers; each reports its own records.
    const deadline = Date.now() + 60_000;
    // deno-lint-ignore no-explicit-any
    let subtasks: any[] = [];
    for (;;) {
      subtasks = (await get(`/jobs/${id}/vertices/${count.id}`)).subtasks;
      if (subtasks.length === 2 && subtasks.every((s) => s.metrics["read-records"] > 50)) break;
      assert.ok(
        Date.now() < deadline,
        `subtasks never counted records: ${JSON.stringify(subtasks)}`,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(subtasks.map((s) => s.subtask), [0, 1]);
    assert.deepEqual(subtasks.map((s) => s.task), [
      "KeyedProcess -> Sink (1/2)",
      "KeyedProcess -> Sink (2/2)",
    ]);
    const bp = await get(`/jobs/${id}/vertices/${count.id}/backpressure`);
    assert.deepEqual(bp.subtasks.map((s: { subtask: number }) => s.subtask), [0, 1]);
    const words = job.vertices.find((v: { uid: string }) => v.uid === "words");
    const marks = await get(`/jobs/${id}/vertices/${words.id}/watermarks`);
    assert.ok(marks.some((m: { id: string }) => m.id === "0.currentOutputWatermark"));
    // Prometheus: per-subtask records and the user metrics of each worker's subtask.
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const i of [0, 1]) {
      const records = new RegExp(
        `weir_subtask_records_in_total\\{[^}]*operator_uid="count"[^}]*subtask_index="${i}"\\} (\\d+)`,
      ).exec(text);
      assert.ok(records && Number(records[1]) > 50, `subtask ${i} in:\n${text}`);
      assert.match(text, new RegExp(`words_counted[^\\n]*subtask_index="${i}"`));
    }
    // Every word's count, read on whichever worker owns its key group, grows.
    const first = new Map<string, number>();
    const owners = new Set<number>();
    for (let w = 0; w < 10; w++) {
      const r = await get(`/jobs/${id}/state/count/count?key=w${w}`);
      assert.ok(r.value > 0, JSON.stringify(r));
      first.set(`w${w}`, r.value);
      owners.add(r.subtask);
    }
    assert.deepEqual([...owners].sort(), [0, 1], "keys live on both subtasks");
    for (;;) {
      const again = await get(`/jobs/${id}/state/count/count?key=w3`);
      if (again.value > first.get("w3")!) break;
      assert.ok(Date.now() < deadline, `w3's count stays at ${again.value}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // A missing key and a missing state are clear 404s, answered by the worker.
    const missing = await fetch(`${url}/jobs/${id}/state/count/count?key=nope`);
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).errors[0], /no value for key "nope"/);
    const noState = await fetch(`${url}/jobs/${id}/state/count/total?key=w1`);
    assert.equal(noState.status, 404);
    assert.match((await noState.json()).errors[0], /no state named "total"/);
    const cancel = await fetch(`${url}/jobs/${id}?mode=cancel`, { method: "PATCH" });
    assert.equal(cancel.status, 202);
    await child.status;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
    await child.status;
  }
});
