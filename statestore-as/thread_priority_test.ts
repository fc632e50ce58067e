import assert from "node:assert/strict";

Deno.test({
  name: "thread priority: a worker lowers its own nice value, not the process's",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const url = new URL("./_thread_priority.ts", import.meta.url).href;
    const code = `import { lowerThreadPriority } from ${JSON.stringify(url)};
const nice = () => Number(Deno.readTextFileSync("/proc/thread-self/stat").split(") ")[1]!.split(" ")[16]);
const before = nice();
const ok = lowerThreadPriority(7);
(self as unknown as Worker).postMessage({ before, ok, after: nice() });`;
    const worker = new Worker(`data:application/typescript,${encodeURIComponent(code)}`, {
      type: "module",
    });
    const got = await new Promise<{ before: number; ok: boolean; after: number }>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
    });
    worker.terminate();
    assert.deepEqual(got, { before: 0, ok: true, after: 7 });
    const own = Number(
      Deno.readTextFileSync("/proc/thread-self/stat").split(") ")[1]!.split(" ")[16],
    );
    assert.equal(own, 0, "the calling (test) thread keeps its priority");
  },
});
