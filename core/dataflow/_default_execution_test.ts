import assert from "node:assert/strict";
import {
  currentSite,
  DEFAULT_PARALLELISM_CAP,
  defaultExecution,
  importableByWorkers,
  underTestRunner,
} from "./_default_execution.ts";
import { defaultMaxParallelism } from "../state/key_group.ts";
import { StreamEnvironment } from "./environment.ts";

const script = (cores: number) => ({ cores, workersPossible: true });
const testRunner = (cores: number) => ({ cores, workersPossible: false });

Deno.test("default execution: a script gets a subtask per core on workers", () => {
  assert.deepEqual(defaultExecution({}, script(2)), { parallelism: 2, executor: "workers" });
  assert.deepEqual(defaultExecution({}, script(8)), { parallelism: 8, executor: "workers" });
  assert.deepEqual(defaultExecution({ parallelism: 3 }, script(2)), {
    parallelism: 3,
    executor: "workers",
  });
});

Deno.test("default execution: parallelism 1 (given, or one core) stays inline", () => {
  assert.deepEqual(defaultExecution({ parallelism: 1 }, script(8)), {
    parallelism: 1,
    executor: "inline",
  });
  assert.deepEqual(defaultExecution({}, script(1)), { parallelism: 1, executor: "inline" });
});

Deno.test("default execution: an explicit executor wins", () => {
  assert.deepEqual(defaultExecution({ executor: "inline" }, script(8)), {
    parallelism: 1,
    executor: "inline",
  });
  assert.deepEqual(defaultExecution({ executor: "inline", parallelism: 4 }, script(8)), {
    parallelism: 4,
    executor: "inline",
  });
  assert.deepEqual(defaultExecution({ executor: "workers" }, testRunner(4)), {
    parallelism: 4,
    executor: "workers",
  });
  assert.deepEqual(defaultExecution({ executor: "workers", parallelism: 1 }, script(4)), {
    parallelism: 1,
    executor: "workers",
  });
});

Deno.test("default execution: under the test runner jobs stay inline at parallelism 1", () => {
  assert.deepEqual(defaultExecution({}, testRunner(8)), { parallelism: 1, executor: "inline" });
  assert.deepEqual(defaultExecution({ parallelism: 4 }, testRunner(8)), {
    parallelism: 4,
    executor: "inline",
  });
  // This file runs under `deno test`.
  assert.equal(underTestRunner(), true);
  assert.equal(currentSite().workersPossible, false);
  const env = StreamEnvironment.create({ parallelism: 2 });
  assert.deepEqual([env.config.parallelism, env.config.executor], [2, "inline"]);
  const defaults = StreamEnvironment.fromArgs([]).env;
  assert.deepEqual([defaults.config.parallelism, defaults.config.executor], [1, "inline"]);
});

Deno.test("default execution: the default parallelism is capped where the default key groups would change", () => {
  assert.deepEqual(defaultExecution({}, script(200)), {
    parallelism: DEFAULT_PARALLELISM_CAP,
    executor: "workers",
  });
  assert.equal(defaultExecution({ parallelism: 200 }, script(8)).parallelism, 200);
  // The cap is the largest parallelism whose default key-group count is parallelism 1's.
  assert.equal(defaultMaxParallelism(DEFAULT_PARALLELISM_CAP), defaultMaxParallelism(1));
  assert.notEqual(defaultMaxParallelism(DEFAULT_PARALLELISM_CAP + 1), defaultMaxParallelism(1));
});

Deno.test("default execution: workers need a main module they can import again", async () => {
  assert.equal(importableByWorkers("file:///jobs/word_count.ts", () => true), true);
  // A worker needs read permission for the module it imports.
  assert.equal(importableByWorkers("file:///jobs/word_count.ts", () => false), false);
  assert.equal(importableByWorkers("https://example.com/job.ts"), true);
  for (const synthetic of ["$deno$eval.mts", "$deno$stdin.mts", "$deno$repl.mts"]) {
    assert.equal(
      importableByWorkers(`file:///home/me/${synthetic}`, () => true),
      false,
      synthetic,
    );
  }
  // A job run by `deno eval` runs inline, at parallelism 1.
  const code = `
    import { CollectSink, StreamEnvironment } from "${new URL("../../mod.ts", import.meta.url)}";
    const env = StreamEnvironment.create({ log: () => {} });
    const sink = new CollectSink<number>();
    env.fromElements(1, 2, 3).addSink(sink);
    const result = await env.execute("eval");
    console.log(JSON.stringify([env.config.parallelism, env.config.executor, result.workers ?? 0, sink.values]));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [1, "inline", 0, [1, 2, 3]]);
});

Deno.test("default execution: a script whose workers may not read it or weir runs inline", async () => {
  const weir = new URL("../../", import.meta.url);
  const dir = Deno.makeTempDirSync({ prefix: "weir-default-" });
  try {
    Deno.writeTextFileSync(
      `${dir}/job.ts`,
      `import { CollectSink, HeapStateBackend, StreamEnvironment } from "${new URL(
        "mod.ts",
        weir,
      )}";
      const env = StreamEnvironment.create({ stateBackend: new HeapStateBackend(), log: () => {} });
      const sink = new CollectSink<number>();
      env.fromElements(1, 2, 3, 4).keyBy((n) => n % 2).map((n: number) => n * 10).addSink(sink);
      const result = await env.execute("permissions");
      const values = sink.values.sort((a, b) => a - b);
      console.log(JSON.stringify([env.config.parallelism, env.config.executor, result.workers ?? 0, values]));`,
    );
    const run = async (read: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          `--config=${new URL("deno.json", weir).pathname}`,
          `--allow-read=${read}`,
          `${dir}/job.ts`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
    // The job script readable, weir's checkout not: the workers could not load weir.
    assert.deepEqual(await run(dir), [1, "inline", 0, [10, 20, 30, 40]]);
    const cores = Math.min(navigator.hardwareConcurrency, DEFAULT_PARALLELISM_CAP);
    assert.deepEqual(await run(`${dir},${weir.pathname}`), [
      cores,
      cores > 1 ? "workers" : "inline",
      cores > 1 ? cores : 0,
      [10, 20, 30, 40],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
