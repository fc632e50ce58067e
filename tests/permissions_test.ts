/**
 * Deno's permission model: examples/word_count.ts runs with exactly the
 * flags its header names (file access to its input, output, checkpoint and
 * temporary folders; no net, env, sys, run or FFI), on both state backends.
 * What it skips for want of a permission it says once: background threads
 * need read access to weir's own files (a checkout), their lower CPU
 * priority needs FFI. Granted those, it says nothing. The admin API adds
 * `--allow-net=127.0.0.1`, no more.
 */
import assert from "node:assert/strict";
import { checkWordCount } from "./_helpers/word_count_check.ts";
import { MockKafka } from "./_helpers/kafka_mock.ts";
import { checkKafkaWordCount, produceLines } from "./_helpers/kafka_word_count_check.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const EXAMPLE = "examples/word_count.ts";

/** The `--allow-*` flags of the header's `deno run … examples/NAME.ts` line. */
function headerFlags(example = EXAMPLE): string[] {
  const source = Deno.readTextFileSync(`${ROOT}${example}`);
  const header = source.slice(0, source.indexOf("*/")).replace(/\\\n\s*\*\s*/g, " ");
  const m = header.match(new RegExp(`deno run ((?:--allow-\\S+ )+)${example.replace(".", "\\.")}`));
  assert.ok(m, `the header of ${example} names the job's minimal deno run flags`);
  return m[1]!.trim().split(" ");
}

/** `--allow-x=A,B` with each placeholder name replaced by its path. */
function withPaths(flags: string[], paths: Record<string, string>): string[] {
  return flags.map((f) =>
    f.replace(/=(.*)$/, (_, list: string) =>
      "=" + list.split(",").map((name) => {
        assert.ok(name in paths, `unknown placeholder ${name} in ${f}`);
        return paths[name];
      }).join(","))
  );
}

/** Distinct words enough that the final checkpoint's segment is written on a worker. */
function input(): string {
  const lines = ["to be or not to be", "that is the question"];
  for (let i = 0; i < 30_000; i++) lines.push(`w${i % 25_000} x${i % 7}`);
  return lines.join("\n") + "\n";
}

const SKIPPED = /^weir: skipped/;

for (const backend of ["lsm", "heap"]) {
  Deno.test(`permissions: word_count (${backend}) runs with exactly its header's flags`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "weir-perms-" });
    try {
      const paths: Record<string, string> = {
        FILE: `${dir}/input.txt`,
        DIR: `${dir}/out`,
        CKPT: `${dir}/ckpt`,
        TMP: `${dir}/tmp`,
      };
      const text = input();
      await Deno.writeTextFile(paths.FILE!, text);
      await Deno.mkdir(paths.TMP!);
      const flags = withPaths(headerFlags(), paths);
      assert.ok(flags.every((f) => /^--allow-(read|write)=/.test(f)), flags.join(" "));
      /**
       * Runs the job with the header's flags plus `more` read paths, `extra`
       * flags and `jobArgs`; returns the lines saying what it skipped.
       */
      const run = async (name: string, more: string[], extra: string[], jobArgs: string[] = []) => {
        const out = `${dir}/${name}/out`;
        const ckpt = `${dir}/${name}/ckpt`;
        const args = flags.map((f) => f.replaceAll(paths.DIR!, out).replaceAll(paths.CKPT!, ckpt))
          .map((f) => f.startsWith("--allow-read=") ? [f, ...more].join(",") : f);
        const r = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            ...args,
            ...extra,
            EXAMPLE,
            "--input",
            paths.FILE!,
            "--output",
            out,
            "--checkpoint-dir",
            ckpt,
            "--state-backend",
            backend,
            // Inline, where the store's background threads say what they skipped; with the
            // script readable, a job would otherwise default to workers.
            "--parallelism",
            "1",
            ...jobArgs,
          ],
          cwd: ROOT,
          // The temporary folder comes from TMPDIR, which Deno reads without --allow-env.
          env: { NO_COLOR: "1", TMPDIR: paths.TMP! },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(120_000),
        }).output();
        const err = new TextDecoder().decode(r.stderr);
        assert.equal(r.code, 0, err);
        assert.deepEqual(checkWordCount(text, out, true), []);
        if (jobArgs.includes("--admin-port")) {
          assert.match(err, /^admin: http:\/\/127\.0\.0\.1:\d+$/m);
        }
        return err.split("\n").filter((l) => SKIPPED.test(l));
      };

      const root = ROOT.replace(/\/$/, "");
      assert.deepEqual(await run("exact", [], []), [
        "weir: skipped background store threads (flushes, compactions and snapshot writes " +
        `run on the job thread): needs --allow-read=${root}`,
      ]);
      assert.deepEqual(await run("threads", [root], []), [
        "weir: skipped lowering the CPU priority of background store threads: needs --allow-ffi",
      ]);
      assert.deepEqual(await run("all", [root], ["--allow-ffi"]), []);
      // The admin API is the one thing that needs the network: on loopback, that much.
      assert.equal(
        (await run("admin", [root], ["--allow-ffi", "--allow-net=127.0.0.1"], [
          "--admin-port",
          "0",
        ]))
          .length,
        0,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("permissions: kafka_word_count runs with exactly its header's flags (FFI, no net or env)", async () => {
  const kafka = await MockKafka.start();
  const dir = await Deno.makeTempDir({ prefix: "weir-perms-" });
  try {
    const paths = { CKPT: `${dir}/ckpt`, TMP: `${dir}/tmp` };
    await Deno.mkdir(paths.TMP);
    await kafka.createTopic("lines", 2);
    await kafka.createTopic("counts", 2);
    await kafka.createTopic("counts.weir-transactions", 1);
    const text = "to be or not to be\nthat is the question\n";
    await produceLines(kafka.bootstrap, "lines", text);
    const flags = withPaths(headerFlags("examples/kafka_word_count.ts"), paths);
    assert.ok(!flags.some((f) => /^--allow-(net|env|run|sys|all)/.test(f)), flags.join(" "));
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...flags,
        "examples/kafka_word_count.ts",
        ...["--bootstrap-servers", kafka.bootstrap, "--input-topic", "lines"],
        ...["--output-topic", "counts", "--bounded", "--checkpoint-dir", paths.CKPT],
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", TMPDIR: paths.TMP },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const { problems } = await checkKafkaWordCount(kafka.bootstrap, text, "counts", true);
    assert.deepEqual(problems, []);
  } finally {
    await kafka.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("permissions: PostgreSQL checkpoint storage without --allow-env is a ConfigError saying so (its client reads PG* variables)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-perms-pg-" });
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "a b\n");
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read`,
        `--allow-write=${dir}`,
        "--allow-net=127.0.0.1",
        EXAMPLE,
        ...["--input", `${dir}/in.txt`, "--output", `${dir}/out`, "--parallelism", "1"],
        ...["--checkpoint-storage", "postgres://weir@127.0.0.1:9/weir?job=wc"],
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", TMPDIR: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 2, err);
    assert.match(err, /^word_count: PostgreSQL checkpoint storage needs --allow-env/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("permissions: a job whose workers may not read its script runs inline and says so once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-perms-inline-" });
  try {
    const text = "to be or not to be\n";
    await Deno.writeTextFile(`${dir}/in.txt`, text);
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        EXAMPLE,
        ...["--input", `${dir}/in.txt`, "--output", `${dir}/out`, "--state-backend", "heap"],
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    assert.deepEqual(checkWordCount(text, `${dir}/out`, true), []);
    const notes = err.split("\n").filter((l) => SKIPPED.test(l) && /every core/.test(l));
    // One core: the default is one subtask, inline, and nothing was skipped.
    assert.deepEqual(
      notes,
      navigator.hardwareConcurrency > 1
        ? [
          "weir: skipped running on every core (the job runs inline, on one thread): needs " +
          `--allow-read=${ROOT}${EXAMPLE},${ROOT}`,
        ]
        : [],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
