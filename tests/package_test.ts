/**
 * What `jsr:@weir/weir` ships and what a checkout installs: the publish
 * dry run lists the package's files (no tests, test helpers, benchmarks or
 * build tools; no dynamic import JSR cannot rewrite), and the lockfile pins
 * only the npm packages deno.json names, since `nodeModulesDir: "auto"`
 * installs every package in the lockfile on the first run of anything here
 * (`deno task demo` too). A job's module graph holds no admin server (hono):
 * that comes from `@weir/weir/admin`, loaded only with `--admin-port`.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("package: the publish dry run ships the library without tests, benchmarks or warnings", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, text);
  assert.doesNotMatch(text, /warning/i);
  // Each shipped file is listed as `file:///abs/path (size)`.
  const files = [...text.matchAll(/^\s*file:\/\/(\S+) \(/gm)].map((m) => m[1]!.slice(ROOT.length));
  assert.ok(files.length > 50, text);
  const shipped = (path: string) => files.includes(path);
  for (const path of ["mod.ts", "cli/main.ts", "core/testing/mod.ts", "statestore-as/wasm.ts"]) {
    assert.ok(shipped(path), `${path} is missing from the package`);
  }
  assert.ok(shipped("statestore-as/lib/statestore_wasm.ts"));
  const unwanted = files.filter((f) =>
    f.endsWith("_test.ts") || f.startsWith("tests/") || f.startsWith("bench/") ||
    f.includes("testdata/") || f.startsWith("core/state/testing/") || f.endsWith("_test_util.ts") ||
    f.endsWith("/build.ts")
  );
  assert.deepEqual(unwanted, []);
});

Deno.test("package: the lockfile holds only the npm packages deno.json imports", () => {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const lock = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.lock`));
  const named = new Set(
    Object.values(config.imports as Record<string, string>)
      .map((s) =>
        s.replace(/^npm:\/?/, "").replace(/\/.*$/, "").replace(/^(@?[^@]+@[^/]+).*/, "$1")
      ),
  );
  const locked = Object.keys(lock.specifiers as Record<string, string>)
    .filter((s) => s.startsWith("npm:")).map((s) => s.slice("npm:".length));
  assert.deepEqual(locked.filter((s) => !named.has(s)), []);
});

/** The modules `entry` loads before it runs: its imports, without the dynamic ones. */
async function staticModules(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  type Dep = { code?: { specifier: string }; isDynamic?: boolean };
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: Dep[] }[];
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...info.roots];
  for (let s = todo.pop(); s !== undefined; s = todo.pop()) {
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) todo.push(d.code.specifier);
    }
  }
  return [...seen].map((s) =>
    s.startsWith(`file://${ROOT}`) ? s.slice(`file://${ROOT}`.length) : s
  );
}

Deno.test("package: a job (and each of its workers) loads the admin server only from @weir/weir/admin", async () => {
  const job = await staticModules("mod.ts");
  assert.deepEqual(job.filter((s) => s.includes("hono")), []);
  assert.deepEqual(job.filter((s) => s.startsWith("core/admin/")), ["core/admin/exposure.ts"]);
  const admin = await staticModules("core/admin/mod.ts");
  assert.ok(admin.some((s) => s.includes("hono")), admin.join("\n"));
  assert.ok(admin.includes("core/admin/server.ts"));
});
