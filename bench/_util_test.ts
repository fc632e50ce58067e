import assert from "node:assert/strict";
import { sampleThreadCpu } from "./_util.ts";

/** A worker that spins until its own thread has used `ms` of CPU, then says so and idles. */
const SPIN = `
const cpuMs = () => {
  const stat = Deno.readTextFileSync("/proc/thread-self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
self.onmessage = (e) => {
  const until = cpuMs() + e.data;
  let x = 0;
  while (cpuMs() < until) for (let i = 0; i < 1e5; i++) x += i;
  self.postMessage(x);
  setInterval(() => {}, 1000);
};`;

Deno.test({
  name: "sampleThreadCpu counts a worker's CPU as the workers', not the main thread's",
  async fn() {
    const sampler = sampleThreadCpu(20);
    if (Deno.build.os !== "linux") {
      // No /proc/self/task: no split, and the caller prints none.
      assert.equal(sampler.stop(), undefined);
      return;
    }
    const url = `data:application/javascript,${encodeURIComponent(SPIN)}`;
    const worker = new Worker(url, { type: "module" });
    try {
      const done = new Promise((resolve) => (worker.onmessage = resolve));
      worker.postMessage(300);
      await done;
      const cpu = sampler.stop();
      assert.ok(cpu !== undefined);
      assert.ok(cpu.workers >= 300, `workers: ${cpu.workers} ms`);
      assert.ok(cpu.main < cpu.workers, `main ${cpu.main} ms, workers ${cpu.workers} ms`);
    } finally {
      worker.terminate();
    }
  },
});

Deno.test("benchFlags: an unknown flag ends the benchmark with one line naming it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./pipeline.ts", import.meta.url).pathname, "--recrods", "5"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 2);
  assert.equal(
    new TextDecoder().decode(out.stderr),
    "bench/pipeline.ts: Unknown option '--recrods'\n",
  );
  assert.equal(out.stdout.length, 0);
});
