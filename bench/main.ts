/**
 * `deno task bench`: runs every benchmark in its own process (so one cannot
 * skew another's memory or JIT state) and prints what each printed. Pass
 * `--quick` for short runs, `--full` for the largest sizes.
 *
 * @module
 */
const BENCHES = [
  "pipeline.ts",
  "parallel.ts",
  "channel.ts",
  "lsm_store.ts",
  "checkpoint.ts",
  "windows.ts",
  "kafka.ts",
  "async_io.ts",
  "nexmark.ts",
];

const flags = Deno.args.filter((a) => a === "--quick" || a === "--full");
const paths = BENCHES.map((file) => new URL(file, import.meta.url).pathname);
// Check every file before running any: a renamed bench must fail the run, not vanish from it.
const missing = paths.filter((path) => {
  try {
    return !Deno.statSync(path).isFile;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  console.error(`bench/main.ts: benchmark file(s) missing: ${missing.join(", ")}`);
  Deno.exit(1);
}
for (const [i, path] of paths.entries()) {
  const cmd = new Deno.Command(Deno.execPath(), {
    // --no-lock: bench/lsm_store.ts's comparison stores stay out of deno.lock (see there).
    // --expose-gc: benchmarks that report memory collect garbage between cases.
    args: ["run", "-A", "--unstable-kv", "--no-lock", "--v8-flags=--expose-gc", path, ...flags],
    stdout: "inherit",
    stderr: "inherit",
  });
  const { code } = await cmd.output();
  if (code !== 0) {
    console.error(`bench/${BENCHES[i]} exited with ${code}`);
    Deno.exit(code);
  }
  console.log();
}
