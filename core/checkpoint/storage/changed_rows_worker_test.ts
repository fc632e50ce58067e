import assert from "node:assert/strict";
import { loadedWithOneSubtask } from "./_test_manifest.ts";
import { DenoCheckpointFs } from "../checkpoint_fs.ts";
import { ValueStateDescriptor } from "../../state/descriptors.ts";
import { LsmStateBackend } from "../../state/lsm/lsm_backend.ts";
import { Serializers } from "../../state/serializer.ts";
import { changedRows } from "./changed_entries.ts";
import { ChangedRowsWorker } from "./changed_rows_worker.ts";

Deno.test("ChangedRowsWorker: the worker finds the rows changedRows finds; an unreadable segment rejects naming it; without the permission to load it, the rows are found on this thread", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-changed-rows-worker-test-" });
  const fs = new DenoCheckpointFs();
  let n = 0;
  const storage = { fs, dir, newSegmentName: () => `w-${++n}.seg` };
  const b = new LsmStateBackend({ dir: `${dir}/store` }).createKeyedBackend({
    operatorUid: "op",
    subtaskIndex: 0,
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
  });
  const worker = new ChangedRowsWorker(fs);
  try {
    const c = b.state(new ValueStateDescriptor("count", Serializers.f64));
    for (let i = 0; i < 500; i++) {
      b.setCurrentKey(`k${i}`);
      c.update(i);
    }
    const first = loadedWithOneSubtask(dir, await b.snapshot(1, storage));
    for (let i = 0; i < 5; i++) {
      b.setCurrentKey(`k${i * 100}`);
      if (i < 4) c.update(-i);
      else c.clear();
    }
    const second = loadedWithOneSubtask(dir, await b.snapshot(2, storage));
    const here = [...changedRows(fs, first, second)];
    assert.equal(here.length, 5);
    assert.deepEqual(await worker.changedRows(first, second), here);
    assert.equal((await worker.changedRows(undefined, first)).length, 500);
    const missing = { ...second, segmentPath: (s: string) => `${dir}/missing/${s}` };
    await assert.rejects(worker.changedRows(first, missing), /missing/);
    // Without the permission to read weir's modules no worker loads: the same rows,
    // found on the calling thread, and nothing said on stderr.
    Deno.writeTextFileSync(`${dir}/snapshots.json`, JSON.stringify([first, second]));
    Deno.writeTextFileSync(
      `${dir}/probe.ts`,
      `import { ChangedRowsWorker } from "${import.meta.resolve("./changed_rows_worker.ts")}";
import { DenoCheckpointFs } from "${import.meta.resolve("../checkpoint_fs.ts")}";
const [a, b] = JSON.parse(Deno.readTextFileSync("${dir}/snapshots.json"))
  .map((l) => ({ ...l, segmentPath: (n) => l.dir + "/" + n }));
const w = new ChangedRowsWorker(new DenoCheckpointFs());
console.log(JSON.stringify(await w.changedRows(a, b)));
await w.close();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", `--allow-read=${dir}`, `--allow-write=${dir}`, `${dir}/probe.ts`],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    assert.equal(stderr.replace(/^(Check|Download).*\n/gm, ""), "");
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), here);
  } finally {
    await worker.close();
    b.dispose();
    Deno.removeSync(dir, { recursive: true });
  }
});
