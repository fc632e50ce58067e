import assert from "node:assert/strict";
import { DenoSegmentFs, readSegment, type SegmentFs, writeSegment } from "./mod.ts";

Deno.test("DenoSegmentFs: an Object.create wrapper (how tests fail or observe calls) reads through the real one", () => {
  const dir = Deno.makeTempDirSync();
  const real = new DenoSegmentFs();
  try {
    const created: string[] = [];
    const fs: SegmentFs & { forget(p: string): void; close(): void } = Object.assign(
      Object.create(real),
      {
        create(path: string) {
          created.push(path.slice(path.lastIndexOf("/") + 1));
          return real.create(path);
        },
      },
    );
    writeSegment(fs, `${dir}/a.seg`, [[new Uint8Array([1]), new Uint8Array([10])]]);
    assert.deepEqual(created, [".a.seg.tmp"]);
    // Reads use the real file system's cached descriptors (private fields the wrapper lacks).
    assert.deepEqual([...readSegment(fs, `${dir}/a.seg`)], [[
      new Uint8Array([1]),
      new Uint8Array([10]),
    ]]);
    const buf = new Uint8Array(4);
    assert.equal(fs.readAt(`${dir}/a.seg`, 0, buf), 4);
    fs.forget(`${dir}/a.seg`);
    assert.equal(fs.readAt(`${dir}/a.seg`, 0, buf), 4);
    fs.close();
    assert.throws(
      () => DenoSegmentFs.prototype.readAt.call({}, `${dir}/a.seg`, 0, buf),
      /not a DenoSegmentFs/,
    );
  } finally {
    real.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("LsmStore: opens a folder of segments where the process may only read (a checkpoint's reader)", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const fs = new DenoSegmentFs();
    const key = new Uint8Array([0, 5, 0, 1, 7]);
    writeSegment(fs, `${dir}/a.seg`, [[key, new Uint8Array([1])]]);
    writeSegment(fs, `${dir}/b.seg`, [[key, new Uint8Array([2])]]);
    fs.close();
    const mod = new URL("./mod.ts", import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${dir}`, "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(`
      import { LsmStore } from ${JSON.stringify(mod)};
      const s = LsmStore.open({
        dir: ${JSON.stringify(dir)}, segments: ["b.seg", "a.seg"], // newest first
        autoCompact: false, deleteObsoleteSegments: false,
      });
      console.log(JSON.stringify([...s.scan({})].map(([k, v]) => [[...k], [...v]])));
      s.close();
    `));
    await w.close();
    const out = await child.output();
    const text = new TextDecoder();
    assert.equal(out.code, 0, text.decode(out.stderr));
    // The newer segment shadows the older one.
    assert.deepEqual(JSON.parse(text.decode(out.stdout)), [[[...key], [2]]]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
