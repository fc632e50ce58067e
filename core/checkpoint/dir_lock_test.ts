import assert from "node:assert/strict";
import { DirectoryInUseError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { LOCK_FILE, lockDirectory, tryLockDirectory } from "./dir_lock.ts";

const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};

Deno.test("dir lock: a second lock fails naming the holder; release removes the file and frees it", () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-lock-" });
  try {
    const lock = lockDirectory(dir, 'job "first"', "Checkpoint directory");
    const attempt = tryLockDirectory(dir, 'job "second"');
    assert.ok("heldBy" in attempt);
    assert.equal(attempt.heldBy?.holder, 'job "first"');
    assert.equal(attempt.heldBy?.pid, Deno.pid);
    assert.throws(() => lockDirectory(dir, 'job "second"', "Checkpoint directory"), (e) => {
      assert.ok(e instanceof DirectoryInUseError);
      assert.ok(
        e.message.startsWith(
          `Checkpoint directory ${dir} is in use by job "first" (pid ${Deno.pid} on host ${Deno.hostname()}, running since `,
        ),
        e.message,
      );
      assert.match(e.message, new RegExp(`lock file ${dir}/\\${LOCK_FILE}`));
      return true;
    });
    lock.release();
    lock.release(); // idempotent
    assert.ok(!exists(`${dir}/${LOCK_FILE}`));
    lockDirectory(dir, 'job "second"', "Checkpoint directory").release();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("dir lock: a lock file a killed process left is taken over (only the OS lock counts)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-lock-" });
  try {
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    Deno.writeTextFileSync(
      `${dir}/${LOCK_FILE}`,
      `${Deno.hostname()}\n${dead.pid}\n0\njob "old"\n`,
    );
    const lock = lockDirectory(dir, 'job "new"', "Output directory");
    assert.match(Deno.readTextFileSync(`${dir}/${LOCK_FILE}`), /job "new"/);
    lock.release();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("dir lock: a sibling worker that has locked but not yet named itself is not mistaken for the killed run whose name the file still holds", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-lock-" });
  const holder = 'exactly-once file sink "sink"';
  const dead = new Deno.Command("true").spawn();
  await dead.status;
  Deno.writeTextFileSync(`${dir}/${LOCK_FILE}`, `${Deno.hostname()}\n${dead.pid}\n0\n${holder}\n`);
  // The sibling: takes the OS lock at once, and writes its name (this process, same holder)
  // only once this thread is looking, so that the file still names the dead process then.
  const looking = new Int32Array(new SharedArrayBuffer(4));
  const sibling = new Worker(
    URL.createObjectURL(
      new Blob([
        `const file = Deno.openSync(${
          JSON.stringify(`${dir}/${LOCK_FILE}`)
        }, { read: true, write: true });
file.lockSync(true);
onmessage = (e) => {
  if (e.data === "release") {
    file.close();
    postMessage("released");
    return;
  }
  const looking = e.data;
  postMessage("locked");
  Atomics.wait(looking, 0, 0);
  Atomics.wait(looking, 0, 1, 30);
  file.truncateSync(0);
  file.writeSync(new TextEncoder().encode(${
          JSON.stringify(`${Deno.hostname()}\n${Deno.pid}\n0\n${holder}\n`)
        }));
};`,
      ], { type: "text/javascript" }),
    ),
    { type: "module" },
  );
  try {
    const locked = new Promise((resolve) => sibling.onmessage = resolve);
    sibling.postMessage(looking);
    await locked;
    Atomics.store(looking, 0, 1);
    Atomics.notify(looking, 0);
    const shared = lockDirectory(dir, holder, "Output directory", { shareWithThisProcess: true });
    shared.release(); // a shared lock's release leaves the sibling's lock alone
    assert.ok(exists(`${dir}/${LOCK_FILE}`));
  } finally {
    const released = new Promise((resolve) => sibling.onmessage = resolve);
    sibling.postMessage("release");
    await released;
    sibling.terminate();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("dir lock: a second job in the same process on a running job's checkpoint directory fails at start", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-lock-" });
  try {
    const make = () => {
      const env = StreamEnvironment.create({ checkpoint: { dir }, log: () => {} });
      env.generate({ generate: (n) => n, ratePerSecond: 1000 }).map((n: number) => n);
      return env;
    };
    const first = make().executeAsync("first");
    assert.throws(
      () => make().executeAsync("second"),
      (e) => e instanceof DirectoryInUseError && e.message.includes('in use by job "first"'),
    );
    first.cancel();
    await first.done;
    const again = make().executeAsync("again");
    again.cancel();
    await again.done;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
