import assert from "node:assert/strict";
import {
  connectHelperPool,
  HelperPool,
  HelperTaskFailed,
  HelperThreadFailed,
} from "./_helper_pool.ts";
import { startBackgroundWorker } from "./_background_worker.ts";
import { LsmStore } from "./lsm_store.ts";

const TASKS = new URL("./testdata/helper_tasks.ts", import.meta.url);
/** A thread entry that knows TASKS (weir's own entry knows the stores' task modules only). */
const TEST_THREAD = new URL("./testdata/helper_thread.ts", import.meta.url);

/** A pool of test threads, counted as they start. */
function counted(size: number): { pool: HelperPool; started: () => number } {
  let started = 0;
  const pool = new HelperPool({
    size,
    startThread: () => {
      started++;
      return startBackgroundWorker(TEST_THREAD);
    },
  });
  return { pool, started: () => started };
}

const task = (input: unknown, extra: Record<string, unknown> = {}) => ({
  name: `task ${JSON.stringify(input)}`,
  module: TASKS,
  input,
  ...extra,
});

Deno.test("helper pool: results come back to their tasks; no more threads than its size, however many tasks", async () => {
  const { pool, started } = counted(2);
  const lease = pool.lease();
  try {
    const inputs = Array.from({ length: 12 }, (_, i) => ({ op: "square", n: i, sleepMs: 5 }));
    const results = await Promise.all(inputs.map((i) => lease.submit<number>(task(i))));
    assert.deepEqual(results, inputs.map((i) => i.n * i.n));
    assert.equal(started(), 2);
    assert.equal(pool.threads, 2);
  } finally {
    lease.release();
  }
  assert.equal(pool.threads, 0, "the last lease released stops every thread");
});

Deno.test("helper pool: one thread runs its tasks in order, work the job waits for ahead of low-priority work", async () => {
  const { pool } = counted(1);
  const lease = pool.lease();
  const order: string[] = [];
  const run = (name: string, priority: "normal" | "low") =>
    lease.submit<string>(task({ op: "echo", value: name, sleepMs: 20 }, { priority }))
      .then((v) => order.push(v));
  try {
    // The first starts at once; of the queued ones the normal ones go first, each kind in order.
    await Promise.all([
      run("low 1", "low"),
      run("low 2", "low"),
      run("normal 1", "normal"),
      run("low 3", "low"),
      run("normal 2", "normal"),
    ]);
    assert.deepEqual(order, ["low 1", "normal 1", "normal 2", "low 2", "low 3"]);
  } finally {
    lease.release();
  }
});

Deno.test("helper pool: low-priority work lowers its thread; work the job waits for goes to another thread", async () => {
  const { pool } = counted(2);
  const lease = pool.lease();
  type Who = { thread: string; nice: number | undefined };
  const who = (priority: "normal" | "low") =>
    lease.submit<Who>(task({ op: "whoami" }, { priority }));
  try {
    const low = await who("low");
    const normal = await who("normal");
    assert.notEqual(normal.thread, low.thread, "a flush does not run on the lowered thread");
    assert.equal((await who("low")).thread, low.thread);
    assert.equal((await who("normal")).thread, normal.thread);
    // Where Linux shows it (and FFI is allowed): the lowered thread's nice value is 10.
    if (low.nice !== undefined && normal.nice !== undefined) {
      assert.deepEqual([low.nice, normal.nice], [10, 0]);
    }
  } finally {
    lease.release();
  }
});

Deno.test("helper pool: a task that throws rejects naming the task; its thread goes on with the next", async () => {
  const { pool, started } = counted(1);
  const lease = pool.lease();
  try {
    const failing = lease.submit(task({ op: "throw", message: "segment 7 is corrupt" }));
    const next = lease.submit<number>(task({ op: "square", n: 3 }));
    await assert.rejects(failing, (e: Error) => {
      assert.ok(e instanceof HelperTaskFailed, String(e));
      assert.equal(
        e.message,
        'task {"op":"throw","message":"segment 7 is corrupt"} failed: ' +
          "segment 7 is corrupt",
      );
      return true;
    });
    assert.equal(await next, 9);
    assert.equal(started(), 1);
  } finally {
    lease.release();
  }
});

Deno.test("helper pool: a thread that dies fails its task naming it; a new thread takes the next", async () => {
  const { pool, started } = counted(1);
  const lease = pool.lease();
  try {
    const dying = lease.submit(task({ op: "die" }, { name: "the flush of 000012.seg" }));
    await assert.rejects(dying, (e: Error) => {
      assert.ok(e instanceof HelperThreadFailed, String(e));
      assert.match(e.message, /the helper thread running the flush of 000012\.seg failed/);
      return true;
    });
    assert.equal(await lease.submit<number>(task({ op: "square", n: 4 })), 16);
    assert.equal(started(), 2);
  } finally {
    lease.release();
  }
});

Deno.test("helper pool: progress messages arrive in order before the result; buffers move both ways", async () => {
  const { pool } = counted(1);
  const lease = pool.lease();
  try {
    const bytes = new Uint8Array([1, 2, 3]);
    const seen: number[] = [];
    const result = await lease.submit<Uint8Array>(task({ op: "chunks", bytes }, {
      transfer: [bytes.buffer],
      onProgress: (m: unknown) => seen.push((m as Uint8Array)[0]!),
    }));
    assert.equal(bytes.byteLength, 0, "the input moved to the thread");
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual([...result], [2, 4, 6]);
  } finally {
    lease.release();
  }
});

Deno.test("helper pool: an aborted task is dropped from the queue, or its thread stopped; releasing a lease cancels its tasks only", async () => {
  const { pool } = counted(1);
  const a = pool.lease();
  const b = pool.lease();
  try {
    const running = new AbortController();
    const queued = new AbortController();
    const slow = a.submit(task({ op: "echo", value: "slow", sleepMs: 10_000 }, {
      signal: running.signal,
    }));
    const waiting = a.submit(task({ op: "echo", value: "w" }, { signal: queued.signal }));
    const other = b.submit<string>(task({ op: "echo", value: "b" }));
    assert.equal(pool.queued, 2);
    queued.abort(new Error("not wanted"));
    await assert.rejects(waiting, /not wanted/);
    assert.equal(pool.queued, 1);
    running.abort(new Error("cancelled"));
    await assert.rejects(slow, /cancelled/);
    // The other lease's task runs on a new thread.
    assert.equal(await other, "b");
    const left = a.submit(task({ op: "echo", value: "x", sleepMs: 10_000 }));
    a.release();
    await assert.rejects(left, /lease was released/);
    assert.equal(await b.submit<string>(task({ op: "echo", value: "still" })), "still");
  } finally {
    a.release();
    b.release();
  }
  assert.equal(pool.threads, 0);
});

Deno.test("helper pool: a job worker's tasks go through a port to the main thread's pool", async () => {
  const { pool, started } = counted(2);
  const link = connectHelperPool(pool);
  const worker = new Worker(new URL("./testdata/helper_pool_client.ts", import.meta.url), {
    type: "module",
  });
  try {
    const reply = new Promise<{ results: number[]; progress: number[]; error: string }>((r) => {
      worker.onmessage = (e) => r(e.data);
    });
    worker.postMessage({ port: link.port, size: link.size, tasks: TASKS.href }, [link.port]);
    const { results, progress, error } = await reply;
    assert.deepEqual(results, [0, 1, 4, 9, 16, 25]);
    assert.deepEqual(progress, [1, 2, 3]);
    assert.match(error, /HelperTaskFailed: task in a worker failed: boom/);
    assert.ok(started() <= 2);
  } finally {
    worker.terminate();
    link.close();
  }
  assert.equal(pool.threads, 0, "closing the worker's link released the pool");
});

Deno.test("helper pool: N LSM stores flushing at once use at most the pool's threads", async () => {
  const Original = globalThis.Worker;
  let created = 0;
  globalThis.Worker = class extends Original {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      created++;
    }
  };
  const dirs: string[] = [];
  const stores: LsmStore[] = [];
  try {
    for (let s = 0; s < 6; s++) {
      const dir = Deno.makeTempDirSync({ prefix: "weir-pool-" });
      dirs.push(dir);
      stores.push(LsmStore.open({ dir, memtableBytes: 2 << 20, autoCompact: false }));
    }
    const value = new Uint8Array(16).fill(7);
    const key = (i: number) => new TextEncoder().encode(`key-${String(i).padStart(9, "0")}`);
    for (let i = 0; i < 100_000; i++) for (const s of stores) s.put(key(i), value);
    await Promise.all(stores.map((s) => s.checkpoint().segments));
    const jobs = stores.reduce((n, s) => n + s.stats().workerJobs, 0);
    assert.ok(jobs >= stores.length, `${jobs} flushes ran on helper threads`);
    for (const s of stores) assert.deepEqual(s.get(key(99_999)), value);
    assert.ok(created >= 1 && created <= navigator.hardwareConcurrency, `${created} threads`);
  } finally {
    globalThis.Worker = Original;
    for (const s of stores) s.close();
    for (const d of dirs) Deno.removeSync(d, { recursive: true });
  }
});
