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
