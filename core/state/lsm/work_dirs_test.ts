import assert from "node:assert/strict";
import { Serializers } from "../serializer.ts";
import { LsmStateBackend } from "./lsm_backend.ts";
import { removeStaleWorkDirs } from "./_work_dirs.ts";

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** A folder `name` under `parent` with an owner file (or none). */
function folder(parent: string, name: string, owner?: string): string {
  Deno.mkdirSync(`${parent}/${name}`);
  Deno.writeTextFileSync(`${parent}/${name}/0001.seg`, "segment");
  if (owner !== undefined) Deno.writeTextFileSync(`${parent}/${name}/.owner`, owner);
  return `${parent}/${name}`;
}

/** The keyed LSM backend of operator "count", subtask 0, with its folders under `parent`. */
function countBackend(parent: string) {
  return new LsmStateBackend({ dir: parent, memtableBytes: 1 << 20 }).createKeyedBackend({
    operatorUid: "count",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
  });
}

const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};

Deno.test("LSM work folders: only folders of a dead process of this host are removed", async () => {
  const parent = Deno.makeTempDirSync();
  try {
    const host = Deno.hostname();
    const dead = await deadPid();
    const stale = folder(parent, "weir-lsm-a", `${host}\n${dead}`);
    const live = folder(parent, "weir-lsm-b", `${host}\n${Deno.pid}`);
    const foreign = folder(parent, "weir-lsm-c", `another-host\n${dead}`);
    const unowned = folder(parent, "weir-lsm-d");
    const garbled = folder(parent, "weir-lsm-e", "not an owner");
    const otherPrefix = folder(parent, "other-a", `${host}\n${dead}`);
    assert.deepEqual(removeStaleWorkDirs(parent, "weir-lsm-"), [stale]);
    assert.ok(!exists(stale));
    for (const kept of [live, foreign, unowned, garbled, otherPrefix]) {
      assert.ok(exists(kept), kept);
    }
  } finally {
    Deno.removeSync(parent, { recursive: true });
  }
});

Deno.test("LSM work folders: a backend's folder names its owner; the first one sweeps what a killed process left", async () => {
  const parent = Deno.makeTempDirSync();
  try {
    // What a process killed while running operator "count", subtask 0, leaves.
    const stale = folder(parent, "count-0-x1y2z3", `${Deno.hostname()}\n${await deadPid()}`);
    const backend = countBackend(parent);
    assert.ok(!exists(stale), "the dead process's folder is gone");
    const mine = [...Deno.readDirSync(parent)].map((e) => e.name);
    assert.equal(mine.length, 1);
    assert.ok(mine[0]!.startsWith("count-0-"));
    assert.equal(
      Deno.readTextFileSync(`${parent}/${mine[0]}/.owner`),
      `${Deno.hostname()}\n${Deno.pid}`,
    );
    backend.dispose();
    assert.deepEqual([...Deno.readDirSync(parent)], []);
  } finally {
    Deno.removeSync(parent, { recursive: true });
  }
});

Deno.test("LSM work folders: the folder of a process killed with SIGKILL goes when the next process starts one", async () => {
  const parent = Deno.makeTempDirSync();
  try {
    const backendUrl = new URL("./lsm_backend.ts", import.meta.url).href;
    const serializerUrl = new URL("../serializer.ts", import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { LsmStateBackend } from "${backendUrl}";
         import { Serializers } from "${serializerUrl}";
         new LsmStateBackend({ dir: ${
          JSON.stringify(parent)
        }, memtableBytes: 1 << 20 }).createKeyedBackend({
           operatorUid: "count", subtaskIndex: 0, keySerializer: Serializers.key,
           maxParallelism: 128, keyGroupRange: { start: 0, end: 127 },
         });
         console.log("ready");
         setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.equal(new TextDecoder().decode(value).trim(), "ready");
    const [left] = [...Deno.readDirSync(parent)].map((e) => `${parent}/${e.name}`);
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    assert.ok(exists(left!), "kill -9 leaves the folder");
    const backend = countBackend(parent);
    assert.ok(!exists(left!), "swept by the next process's first folder");
    backend.dispose();
  } finally {
    Deno.removeSync(parent, { recursive: true });
  }
});

Deno.test("work dirs: a folder whose owner file the disk cannot take is removed, not left unowned for good", () => {
  const parent = Deno.makeTempDirSync();
  const write = Deno.writeTextFileSync;
  // As a full disk: the folder is made, its owner file is not.
  Deno.writeTextFileSync = (path: string | URL, data: string | ReadableStream<string>) => {
    if (String(path).endsWith("/.owner")) {
      throw new Error("No space left on device (os error 28): writefile '" + path + "'");
    }
    return write(path, data as string);
  };
  try {
    assert.throws(() => countBackend(parent), /No space left on device/);
  } finally {
    Deno.writeTextFileSync = write;
  }
  try {
    assert.deepEqual([...Deno.readDirSync(parent)], []);
  } finally {
    Deno.removeSync(parent, { recursive: true });
  }
});
