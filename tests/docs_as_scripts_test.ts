/**
 * Every TypeScript snippet of README.md and docs/ runs as a script
 * (`deno run -A`), as a reader pastes it. `deno test --doc` runs the same
 * snippets under the test runner, where jobs stay inline at parallelism 1; as
 * a script a job gets one subtask per core on workers that import the script
 * again (docs/execution.md), which a snippet must survive too.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Inside the checkout, so deno.json resolves `@weir/weir` as it does for the doc tests. */
const DIR = `${ROOT}tests/artifacts/doc_snippets`;
const TIMEOUT_MS = 120_000;

interface Snippet {
  /** `docs/sources.md:177`: the fence's line. */
  readonly where: string;
  readonly code: string;
}

function snippets(): Snippet[] {
  const files = [
    "README.md",
    ...[...Deno.readDirSync(`${ROOT}docs`)].map((e) => `docs/${e.name}`)
      .filter((f) => f.endsWith(".md")).sort(),
  ];
  const out: Snippet[] = [];
  for (const file of files) {
    const lines = Deno.readTextFileSync(`${ROOT}${file}`).split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] !== "```ts") continue;
      const start = i + 1;
      while (i + 1 < lines.length && lines[i + 1] !== "```") i++;
      out.push({ where: `${file}:${start}`, code: lines.slice(start, i + 1).join("\n") + "\n" });
    }
  }
  return out;
}

async function runScript(path: string): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", path],
    cwd: DIR,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
  try {
    const out = await child.output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("docs: every TypeScript snippet runs as a script (on workers where it runs a job)", async () => {
  const all = snippets();
  assert.ok(all.length >= 20, `found only ${all.length} snippets`);
  Deno.mkdirSync(DIR, { recursive: true });
  const failures: string[] = [];
  try {
    // Two at a time: each job takes a worker per core.
    for (let i = 0; i < all.length; i += 2) {
      await Promise.all(
        all.slice(i, i + 2).map(async ({ where, code }) => {
          const path = `${DIR}/${where.replace(/[/.:]/g, "_")}.ts`;
          Deno.writeTextFileSync(path, code);
          const { code: exit, stderr } = await runScript(path);
          if (exit !== 0) failures.push(`${where} exited ${exit}:\n${stderr.slice(-2000)}`);
        }),
      );
    }
  } finally {
    Deno.removeSync(DIR, { recursive: true });
  }
  assert.deepEqual(failures, []);
});
