import assert from "node:assert/strict";
import { adviseHugePages } from "./_huge_pages.ts";
import { LsmStore } from "./mod.ts";

/** Whether this Linux kernel has transparent huge pages at all. */
function kernelHasHugePages(): boolean {
  try {
    Deno.statSync("/sys/kernel/mm/transparent_hugepage/enabled");
    return true;
  } catch {
    return false;
  }
}

/** The VmFlags line of the mapping in /proc/self/smaps that holds `addr`. */
function vmFlagsAt(addr: bigint): string[] {
  let inside = false;
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) inside = BigInt(`0x${range[1]}`) <= addr && addr < BigInt(`0x${range[2]}`);
    else if (inside && line.startsWith("VmFlags:")) return line.slice(8).trim().split(/\s+/);
  }
  throw new Error(`no mapping holds 0x${addr.toString(16)}`);
}

Deno.test({
  name: "huge pages: wasm memory is advised MADV_HUGEPAGE (Linux, FFI granted)",
  ignore: Deno.build.os !== "linux",
  fn() {
    const memory = new WebAssembly.Memory({ initial: 64 });
    const start = adviseHugePages(memory.buffer);
    // A kernel built without transparent huge pages refuses the advice.
    if (!kernelHasHugePages()) return assert.equal(start, undefined);
    assert.ok(start !== undefined, "madvise should succeed on a wasm memory reservation");
    assert.equal(start % (2n << 20n), 0n);
    assert.ok(vmFlagsAt(start).includes("hg"), "the mapping should carry the hugepage flag");
    // Growing stays inside the advised reservation.
    memory.grow(4096);
    const end = start + (200n << 20n);
    assert.ok(vmFlagsAt(end).includes("hg"));
  },
});

Deno.test({
  name: "huge pages: hugePages: true advises the store's memory; by default it is left alone",
  ignore: Deno.build.os !== "linux",
  fn() {
    const dir = Deno.makeTempDirSync();
    try {
      const on = LsmStore.open({ dir: `${dir}/on`, hugePages: true });
      const off = LsmStore.open({ dir: `${dir}/off` });
      for (const s of [on, off]) {
        s.put(new Uint8Array([1]), new Uint8Array([2]));
        assert.deepEqual(s.get(new Uint8Array([1])), new Uint8Array([2]));
      }
      assert.equal(on.stats().hugePages, kernelHasHugePages());
      assert.equal(off.stats().hugePages, false);
      on.close();
      off.close();
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("huge pages: without the FFI permission the store runs without the advice and says so once", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const script = `${dir}/job.ts`;
    Deno.writeTextFileSync(
      script,
      `import { LsmStore } from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};
const s = LsmStore.open({ dir: ${JSON.stringify(`${dir}/store`)}, hugePages: true });
s.put(new Uint8Array([1]), new Uint8Array([2]));
const t = LsmStore.open({ dir: ${JSON.stringify(`${dir}/store2`)}, hugePages: true });
console.log(JSON.stringify({ huge: s.stats().hugePages || t.stats().hugePages, value: Array.from(s.get(new Uint8Array([1]))!) }));
s.close();
t.close();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), { huge: false, value: [2] });
    if (Deno.build.os === "linux") {
      assert.deepEqual(
        new TextDecoder().decode(out.stderr).split("\n").filter((l) => l.startsWith("weir:")),
        ["weir: skipped huge pages for the store's memory (hugePages): needs --allow-ffi"],
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
