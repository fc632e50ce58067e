/**
 * Failures no restart can fix, in real example processes with checkpointing
 * on: a missing input file fails before the first attempt; a malformed input
 * line and corrupt operator state stop after the bounded repeats; a snapshot
 * that cannot be restored fails at once. Each ends with one line naming the
 * problem (no stack trace) and a non-zero exit code.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { formatManifest } from "../core/checkpoint/manifest.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

interface Run {
  code: number;
  stderr: string;
  lines: string[];
  ms: number;
}

async function runExample(script: string, args: string[]): Promise<Run> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}examples/${script}`, ...args],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Restarting forever is the bug: the test must not wait for it.
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(out.stderr);
  return {
    code: out.code,
    stderr,
    lines: stderr.split("\n").filter((l) => l !== ""),
    ms: performance.now() - start,
  };
}

/** The run ended with exactly one line `name: ...` and no stack trace. */
function assertOneLineFailure(r: Run, name: string, message: RegExp): void {
  assert.ok(!/Uncaught|^\s+at /m.test(r.stderr), `a stack trace:\n${r.stderr}`);
  const final = r.lines.filter((l) => l.startsWith(`${name}: `));
  assert.equal(final.length, 1, r.stderr);
  assert.equal(r.lines.at(-1), final[0], r.stderr);
  assert.match(final[0]!, message);
}

function tempDir(t: Deno.TestContext): string {
  return Deno.makeTempDirSync({ prefix: `weir-${t.name.replace(/\W+/g, "-").slice(0, 30)}-` });
}

Deno.test("a missing --input file with checkpointing fails at once: one line, exit 2", async (t) => {
  const dir = tempDir(t);
  try {
    const r = await runExample("word_count.ts", [
      "--input",
      `${dir}/no-such-file.txt`,
      "--output",
      `${dir}/out`,
      "--checkpoint-dir",
      `${dir}/ck`,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assertOneLineFailure(
      r,
      "word_count",
      /FileSource cannot read ".*no-such-file\.txt": no such file$/,
    );
    assert.ok(!r.stderr.includes("restarting"), r.stderr);
    assert.equal(r.lines.length, 1, r.stderr);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a malformed input line stops after the bounded repeats: one line, exit 1", async (t) => {
  const dir = tempDir(t);
  try {
    const input = `${dir}/in.jsonl`;
    Deno.writeTextFileSync(
      input,
      '{"key": "a", "ts": 1}\n{"key": "b", "ts": 2}\n{"key": "a", "ts": \n{"key": "c", "ts": 3}\n',
    );
    const r = await runExample("tumbling_counts.ts", [
      "--input",
      input,
      "--window-ms",
      "10",
      "--output",
      `${dir}/out`,
      "--checkpoint-dir",
      `${dir}/ck`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    // The default limit: three identical failures, so two restarts.
    assert.equal(r.lines.filter((l) => /; restarting in \d+ ms$/.test(l)).length, 2, r.stderr);
    assertOneLineFailure(
      r,
      "tumbling_counts",
      /failed in task .*FlatMap.*: Input line is not \{"key": string, "ts": number\}: \{"key": "a", "ts": {2}\(not restarting: the same failure happened 3 times in a row, each after starting without a checkpoint; it is deterministic\)$/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("an output or checkpoint directory that is a file fails at once: one line naming it, exit 2", async (t) => {
  const dir = tempDir(t);
  try {
    Deno.writeTextFileSync(`${dir}/in.txt`, "a b\n");
    Deno.writeTextFileSync(`${dir}/afile`, "");
    for (
      const [args, what] of [
        [["--output", `${dir}/afile/out`], `Output directory ${dir}/afile/out`],
        [
          ["--output", `${dir}/out`, "--checkpoint-dir", `${dir}/afile`],
          `Checkpoint directory ${dir}/afile`,
        ],
      ] as const
    ) {
      const r = await runExample("word_count.ts", ["--input", `${dir}/in.txt`, ...args]);
      assert.equal(r.code, 2, r.stderr);
      assertOneLineFailure(r, "word_count", new RegExp(`${what} cannot be made: `));
      assert.equal(r.lines.length, 1, r.stderr);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("an output or checkpoint directory this process cannot write fails at once: one line naming it, exit 2", async (t) => {
  const dir = tempDir(t);
  try {
    Deno.writeTextFileSync(`${dir}/in.txt`, "a b\n");
    // Folders made, whose insides cannot be written (root writes anywhere else).
    Deno.mkdirSync(`${dir}/ck-shared`);
    Deno.writeTextFileSync(`${dir}/ck-shared/shared`, "");
    Deno.mkdirSync(`${dir}/ck-lock/.weir-lock`, { recursive: true });
    Deno.mkdirSync(`${dir}/out-busy`);
    Deno.writeTextFileSync(`${dir}/out-busy/.in-progress`, "");
    const cases: [string[], string][] = [
      [["--output", `${dir}/out`, "--checkpoint-dir", `${dir}/ck-shared`], `${dir}/ck-shared`],
      [["--output", `${dir}/out`, "--checkpoint-dir", `${dir}/ck-lock`], `${dir}/ck-lock`],
      [["--output", `${dir}/out-busy`], `${dir}/out-busy`],
    ];
    if (Deno.uid() !== 0) {
      // Permissions stop no one else.
      Deno.mkdirSync(`${dir}/locked`, { mode: 0o555 });
      cases.push([["--output", `${dir}/locked/out`], `${dir}/locked/out`]);
      cases.push([
        ["--output", `${dir}/out`, "--checkpoint-dir", `${dir}/locked`],
        `${dir}/locked`,
      ]);
      // Written before (a leftover in progress), now read-only: nothing to make, only to write.
      Deno.mkdirSync(`${dir}/out-ro/.in-progress`, { recursive: true });
      Deno.writeTextFileSync(`${dir}/out-ro/.in-progress/part-0-old-0`, "");
      for (const d of [`${dir}/out-ro/.in-progress`, `${dir}/out-ro`]) Deno.chmodSync(d, 0o555);
      cases.push([["--output", `${dir}/out-ro`], `${dir}/out-ro`]);
    }
    for (const [args, path] of cases) {
      const r = await runExample("word_count.ts", ["--input", `${dir}/in.txt`, ...args]);
      assert.equal(r.code, 2, r.stderr);
      assertOneLineFailure(
        r,
        "word_count",
        new RegExp(`(Output|Checkpoint) directory ${path} cannot be (made|written): `),
      );
      assert.equal(r.lines.length, 1, r.stderr);
    }
  } finally {
    Deno.chmodSync(dir, 0o755);
    for (const d of [`${dir}/out-ro`, `${dir}/out-ro/.in-progress`]) {
      if (Deno.uid() !== 0) Deno.chmodSync(d, 0o755);
    }
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a --restore path that is no snapshot fails at once: one line, exit 1", async (t) => {
  const dir = tempDir(t);
  try {
    Deno.writeTextFileSync(`${dir}/in.txt`, "a b\n");
    const r = await runExample("word_count.ts", [
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out`,
      "--checkpoint-dir",
      `${dir}/ck`,
      "--restore",
      `${dir}/ck/chk-9`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLineFailure(r, "word_count", /chk-9/);
    assert.equal(r.lines.length, 1, r.stderr);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Runs word count to its end, leaving its final checkpoint in `dir/ck`. */
async function checkpointedWordCount(dir: string): Promise<string> {
  const input = `${dir}/in.txt`;
  Deno.writeTextFileSync(input, "a b c\nb c\nc\n".repeat(50));
  const r = await runExample("word_count.ts", [
    "--input",
    input,
    "--output",
    `${dir}/out`,
    "--checkpoint-dir",
    `${dir}/ck`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const ids = [...Deno.readDirSync(`${dir}/ck`)].map((e) => e.name).filter((n) =>
    n.startsWith("chk-")
  );
  assert.equal(ids.length, 1, ids.join());
  return `${dir}/ck/${ids[0]}/_metadata`;
}

Deno.test("starting afresh (no --restore) on a directory that holds checkpoints fails at once: one line, exit 2, the checkpoints kept", async (t) => {
  const dir = tempDir(t);
  try {
    const metadata = await checkpointedWordCount(dir);
    const before = Deno.readTextFileSync(metadata);
    const r = await runExample("word_count.ts", [
      ...["--input", `${dir}/in.txt`, "--output", `${dir}/out2`, "--checkpoint-dir", `${dir}/ck`],
    ]);
    assert.equal(r.code, 2, r.stderr);
    assertOneLineFailure(
      r,
      "word_count",
      /Checkpoint directory .*\/ck already holds completed checkpoints \(the latest: chk-\d+\): resume from them with --restore latest, or start over in an empty directory/,
    );
    assert.equal(Deno.readTextFileSync(metadata), before);
    // --restore latest resumes the finished run: nothing is left to read, nothing more is output.
    const resumed = await runExample("word_count.ts", [
      ...["--input", `${dir}/in.txt`, "--output", `${dir}/out2`, "--checkpoint-dir", `${dir}/ck`],
      ...["--restore", "latest"],
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/**
 * Sets the source split items of operator "lines" in a manifest, with a checksum that
 * matches: the manifest is intact, its operator state is what is wrong.
 */
function setSourceSplits(metadata: string, items: unknown): void {
  const m = JSON.parse(Deno.readTextFileSync(metadata));
  m.operators.lines.subtasks[0].operatorState["source-splits"].items = items;
  Deno.writeTextFileSync(metadata, formatManifest(m));
}

Deno.test("restoring operator state that is not base64 fails at once: one line, exit 1", async (t) => {
  const dir = tempDir(t);
  try {
    const metadata = await checkpointedWordCount(dir);
    setSourceSplits(metadata, ["!!not base64!!"]);
    const r = await runExample("word_count.ts", [
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out2`,
      "--checkpoint-dir",
      `${dir}/ck`,
      "--restore",
      "latest",
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLineFailure(
      r,
      "word_count",
      /Cannot restore checkpoint 1: operator "lines" subtask 0: Operator state "source-splits" is corrupt/,
    );
    assert.ok(!r.stderr.includes("restarting"), r.stderr);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("operator state that does not decode stops after the bounded repeats: exit 1", async (t) => {
  const dir = tempDir(t);
  try {
    const metadata = await checkpointedWordCount(dir);
    // Valid base64, but not the JSON of a file split.
    setSourceSplits(metadata, ["AAAA"]);
    const r = await runExample("word_count.ts", [
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out2`,
      "--checkpoint-dir",
      `${dir}/ck`,
      "--restore",
      "latest",
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.lines.filter((l) => /; restarting in \d+ ms$/.test(l)).length, 2, r.stderr);
    assertOneLineFailure(
      r,
      "word_count",
      /failed: Cannot restore the splits of source "File Source: .*" \(uid lines\): .*\(not restarting: the same failure happened 3 times in a row, each after restoring .*chk-1; it is deterministic\)$/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the examples name a missing or bad flag value: one line, exit 2", async () => {
  for (
    const [script, args, message] of [
      ["click_counts.ts", ["--clicks", "abc"], /--clicks must be an integer ≥ 1, got "abc"$/],
      ["tumbling_counts.ts", ["--input", "x", "--output", "y"], /--window-ms is required/],
      [
        "async_enrich.ts",
        ["--input", "x", "--output", "y", "--lookup-url", "notaurl{}"],
        /--lookup-url must be a URL with \{\} where the id goes .*, got "notaurl\{\}"$/,
      ],
    ] as const
  ) {
    const r = await runExample(script, [...args]);
    assert.equal(r.code, 2, r.stderr);
    assertOneLineFailure(r, script.replace(".ts", ""), message);
  }
});
