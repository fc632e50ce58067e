/**
 * `deno task bench`: runs every benchmark in its own process (so one cannot
 * skew another's memory or JIT state) and prints what each printed. Pass
 * `--quick` for short runs.
 *
 * @module
 */
const BENCHES = ["pipeline.ts", "lsm_store.ts"];

const quick = Deno.args.includes("--quick");
for (const file of BENCHES) {
  const path = new URL(file, import.meta.url).pathname;
  try {
    await Deno.stat(path);
  } catch {
    continue;
  }
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", path, ...(quick ? ["--quick"] : [])],
    stdout: "inherit",
    stderr: "inherit",
  });
  const { code } = await cmd.output();
  if (code !== 0) {
    console.error(`bench/${file} exited with ${code}`);
    Deno.exit(code);
  }
  console.log();
}
