/**
 * Builds the WebAssembly store from `assembly/` with the AssemblyScript
 * compiler API: `lib/statestore.wasm` (release: -O3, no assertions) and
 * `lib/statestore_debug.wasm` (debug: assertions on, names kept).
 *
 * ```sh
 * deno run -A statestore-as/build.ts          # rebuild lib/
 * deno run -A statestore-as/build.ts --check  # exit 1 if lib/ is stale
 * ```
 *
 * @module
 */
import asc from "assemblyscript/asc";

const here = new URL(".", import.meta.url).pathname;

/** Both builds: output file name and compiler flags. */
export const BUILDS: ReadonlyArray<{ file: string; flags: string[] }> = [
  {
    file: "statestore.wasm",
    flags: ["-O3", "--runtime", "minimal", "--noAssert", "--converge", "--enable", "simd"],
  },
  {
    file: "statestore_debug.wasm",
    flags: ["--debug", "--runtime", "minimal", "--enable", "simd"],
  },
];

/** Compiles every build into `outDir`; throws with the compiler's output on failure. */
export async function build(outDir: string): Promise<void> {
  for (const b of BUILDS) {
    const stderr: string[] = [];
    const r = await asc.main(
      [
        "assembly/index.ts",
        "--baseDir",
        here,
        "--outFile",
        `${outDir}/${b.file}`,
        ...b.flags,
      ],
      {
        stderr: { write: (s: string | Uint8Array) => stderr.push(String(s)) },
        stdout: { write: () => {} },
      } as Parameters<typeof asc.main>[1],
    );
    if (r.error) throw new Error(`asc failed for ${b.file}:\n${stderr.join("")}\n${r.error}`);
  }
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  if (!check) {
    await build(`${here}lib`);
    console.log(`built ${BUILDS.map((b) => `statestore-as/lib/${b.file}`).join(", ")}`);
  } else {
    const tmp = await Deno.makeTempDir({ prefix: "weir-wasm-check-" });
    try {
      await build(tmp);
      let stale = false;
      for (const b of BUILDS) {
        const fresh = await Deno.readFile(`${tmp}/${b.file}`);
        let committed: Uint8Array | undefined;
        try {
          committed = await Deno.readFile(`${here}lib/${b.file}`);
        } catch {
          committed = undefined;
        }
        const same = committed !== undefined && committed.length === fresh.length &&
          committed.every((x, i) => x === fresh[i]);
        if (!same) {
          stale = true;
          console.error(
            `statestore-as/lib/${b.file} is out of date with statestore-as/assembly/: ` +
              `run \`deno task build:wasm\` and commit the result.`,
          );
        }
      }
      if (stale) Deno.exit(1);
      console.log("statestore-as/lib/ is up to date");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  }
}
