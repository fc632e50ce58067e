/**
 * weir imported from a URL, as a published package is: the repository is
 * served over HTTP on 127.0.0.1 and a job outside the checkout maps
 * `@weir/weir` to it. The job keeps keyed state in the LSM backend (the
 * WebAssembly store, its background workers), checkpoints, and restores;
 * the served CLI then verifies the checkpoints and reads the state. Each
 * runs as its own `deno run` with file permissions for its folder only: the
 * store's code must load without reading files next to its module.
 */
import assert from "node:assert/strict";
import { serveFolder } from "./_helpers/static_server.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

const JOB = `
import {
  type Collector,
  ExactlyOnceFileSink,
  type KeyedProcessFunction,
  runMain,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "@weir/weir";

class CountWords implements KeyedProcessFunction<string, string, string> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }
  processElement(word: string, _ctx: unknown, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(\`\${word}\\t\${n}\`);
  }
}

await runMain("served_job", async (args) => {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    input: { type: "string" },
    output: { type: "string" },
  });
  const input = values.input as string;
  // A new input is a new source (its own uid); the counts carry over.
  env.readTextFile(input).uid(\`lines-\${input.slice(input.lastIndexOf("/") + 1)}\`)
    .flatMap((line: string, out: Collector<string>) => {
      for (const w of line.split(/\\s+/)) if (w !== "") out.collect(w);
    })
    .keyBy((w: string) => w, Serializers.string)
    .process(new CountWords()).uid("count")
    .addSink(new ExactlyOnceFileSink<string>({ dir: values.output as string }), { uid: "sink" });
  await env.execute("served job");
});
`;

/** A child that fails keeps restarting (its restart strategy): it is stopped after this long. */
const CHILD_TIMEOUT_MS = 120_000;

/** Runs `deno` with `args` in `cwd`; returns exit code, stdout and stderr. */
async function deno(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_TIMEOUT_MS),
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** The committed output lines under `dir` (`part-*` files). */
function committedLines(dir: string): string[] {
  const lines: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isFile || !e.name.startsWith("part-")) continue;
    lines.push(...Deno.readTextFileSync(`${dir}/${e.name}`).split("\n").filter((l) => l !== ""));
  }
  return lines.sort();
}

/** Words enough that a checkpoint's flush (LSM) or snapshot (heap) runs on a worker thread. */
const MANY = 30_000;

for (const backend of ["lsm", "heap"]) {
  const worker = backend === "lsm" ? "_store_job_worker.ts" : "_segment_batch_worker.ts";
  Deno.test(`served over HTTP: a ${backend} job checkpoints and restores, and the CLI reads its state`, async () => {
    const server = serveFolder(ROOT);
    const dir = await Deno.makeTempDir({ prefix: "weir-served-" });
    try {
      const base = server.url;
      // What a user's import map holds: the package alone (weir names its npm packages in full).
      await Deno.writeTextFile(
        `${dir}/import_map.json`,
        JSON.stringify({ imports: { "@weir/weir": `${base}mod.ts` } }),
      );
      await Deno.writeTextFile(`${dir}/job.ts`, JOB);
      await Deno.mkdir(`${dir}/tmp`);
      const many = Array.from({ length: MANY }, (_, i) => `w${i}`);
      await Deno.writeTextFile(`${dir}/a.txt`, `to be or not to be\n${many.join("\n")}\n`);
      await Deno.writeTextFile(`${dir}/b.txt`, "to do\n");
      // The remote modules go to a cache of this test's own (the port changes every run);
      // npm packages come from the usual cache.
      const info = JSON.parse((await deno(["info", "--json"], dir, {})).out);
      await Deno.mkdir(`${dir}/deno_dir`);
      await Deno.symlink(info.npmCache, `${dir}/deno_dir/npm`);
      const env = { DENO_DIR: `${dir}/deno_dir`, TMPDIR: `${dir}/tmp` };
      const perms = [
        "--no-config",
        `--import-map=${dir}/import_map.json`,
        `--allow-import=${new URL(base).host}`,
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
      ];
      const job = (input: string, more: string[] = [], net: string[] = []) =>
        deno(
          [
            "run",
            ...perms,
            ...net,
            "job.ts",
            "--input",
            `${dir}/${input}`,
            "--output",
            `${dir}/out`,
            "--checkpoint-dir",
            `${dir}/ckpt`,
            "--checkpoint-interval",
            "60000",
            "--state-backend",
            backend,
            ...more,
          ],
          dir,
          env,
        );

      // Inline first: the store's background workers load from the server too.
      const first = await job("a.txt", ["--parallelism", "1"]);
      assert.equal(first.code, 0, first.err);
      let lines = committedLines(`${dir}/out`);
      assert.equal(lines.length, 6 + MANY);
      for (const l of ["be\t1", "be\t2", "not\t1", "or\t1", "to\t1", "to\t2", "w0\t1"]) {
        assert.ok(lines.includes(l), l);
      }
      // The checkpoint's segment was written by a worker loaded from the server.
      assert.ok(server.requested.includes(`/statestore-as/${worker}`), server.requested.join("\n"));

      const second = await job("b.txt", [
        ...["--restore", "latest", "--allow-non-restored-state", "--parallelism", "1"],
      ]);
      assert.equal(second.code, 0, second.err);
      lines = committedLines(`${dir}/out`);
      assert.equal(lines.length, 8 + MANY);
      assert.ok(lines.includes("to\t3") && lines.includes("do\t1"));

      // Without --parallelism the job restores at its default, a subtask per core (on workers
      // that import the job and the package over HTTP too): the key groups are rescaled. It
      // serves the admin API, whose hono comes from npm with no mapping in the import map.
      await Deno.writeTextFile(`${dir}/c.txt`, "to be\n");
      const third = await job(
        "c.txt",
        ["--restore", "latest", "--allow-non-restored-state", "--admin-port", "0"],
        ["--allow-net=127.0.0.1"],
      );
      assert.equal(third.code, 0, third.err);
      assert.match(third.err, /^admin: http:\/\/127\.0\.0\.1:\d+$/m);
      lines = committedLines(`${dir}/out`);
      assert.equal(lines.length, 10 + MANY);
      assert.ok(lines.includes("to\t4") && lines.includes("be\t3"), lines.slice(-12).join());

      const cli = (args: string[]) =>
        deno(["run", ...perms, `${base}cli/main.ts`, ...args], dir, env);
      const list = await cli(["checkpoints", "list", "--verify", `${dir}/ckpt`]);
      assert.equal(list.code, 0, list.err);
      assert.match(list.out, /chk-\d+/);
      const get = await cli(
        ["state", "get", `${dir}/ckpt`, "--operator", "count", "--state", "count", "--key", "to"],
      );
      assert.equal(get.code, 0, get.err);
      assert.equal(get.out.trim(), "4");
      // The store's code came over HTTP, not from the checkout.
      assert.ok(server.requested.includes("/statestore-as/wasm.ts"));
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
