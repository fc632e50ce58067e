import assert from "node:assert/strict";
import { CorruptionError } from "../core/errors.ts";
import { DenoSegmentFs, LsmStore, readSegment, writeSegment } from "./mod.ts";

const FOOTER = 56;

function crc32c(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

const key = (i: number) => new Uint8Array([0, 0, i >> 8, i & 255]);
const N = 2000;

/** Writes a segment of N entries (many data blocks); returns its layout. */
function fixture() {
  const dir = Deno.makeTempDirSync({ prefix: "weir-corrupt-" });
  const fs = new DenoSegmentFs();
  const entries = Array.from(
    { length: N },
    (_, i) => [key(i), new Uint8Array(16).fill(i & 255)] as const,
  );
  const info = writeSegment(fs, `${dir}/t.seg`, entries);
  fs.close();
  const path = `${dir}/t.seg`;
  const bytes = Deno.readFileSync(path);
  const dv = new DataView(bytes.buffer);
  const f = bytes.length - FOOTER;
  const layout = {
    indexOffset: Number(dv.getBigUint64(f, true)),
    indexLen: dv.getUint32(f + 8, true),
    bloomOffset: Number(dv.getBigUint64(f + 16, true)),
    bloomLen: dv.getUint32(f + 24, true),
    blocks: dv.getUint32(f + 36, true),
    footer: f,
  };
  assert(layout.blocks > 3);
  return { dir, path, bytes, info, layout };
}

function damage(path: string, bytes: Uint8Array, f: (b: Uint8Array) => Uint8Array): void {
  Deno.writeFileSync(path, f(bytes.slice()));
}

/** Opening through LsmStore and reading every entry must raise CorruptionError. */
function expectCorrupt(dir: string, name: string, block?: number, text?: string): CorruptionError {
  let err: unknown;
  try {
    const s = LsmStore.open({ dir, segments: [name] });
    try {
      for (let i = 0; i < N; i++) s.get(key(i));
      [...s.scan({})];
    } finally {
      s.close();
    }
  } catch (e) {
    err = e;
  }
  assert(err instanceof CorruptionError, `expected CorruptionError, got ${err}`);
  assert.equal(err.file, name);
  assert(err.message.includes(name));
  if (block !== undefined) assert.equal(err.block, block);
  if (text !== undefined) assert(err.message.includes(text), err.message);
  // the standalone reader reports it too
  const fs = new DenoSegmentFs();
  assert.throws(() => [...readSegment(fs, `${dir}/${name}`)], CorruptionError);
  fs.close();
  return err;
}

Deno.test("corruption: flipped byte in a data block names file and block; other keys stay readable", () => {
  const { dir, path, bytes } = fixture();
  damage(path, bytes, (b) => {
    b[20]! ^= 0x40; // inside data block 0
    return b;
  });
  expectCorrupt(dir, "t.seg", 0, "checksum");
  const s = LsmStore.open({ dir, segments: ["t.seg"] });
  assert.throws(() => s.get(key(0)), CorruptionError);
  assert.equal(s.get(key(N - 1))![0], (N - 1) & 255);
  assert.throws(() => s.get(key(1)), CorruptionError);
  // Batched: a key of the damaged block fails the batch, keys elsewhere still read.
  const two = new Uint8Array([...key(N - 1), ...key(1)]);
  assert.throws(
    () => s.getMany(two, [4, 8], () => {}),
    (e) => e instanceof CorruptionError && /t\.seg/.test(e.message) && /block 0/.test(e.message),
  );
  let last = -1;
  s.getMany(key(N - 1), [4], (_i, v, off) => last = v[off]!);
  assert.equal(last, (N - 1) & 255);
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: flipped byte in the index block", () => {
  const { dir, path, bytes, layout } = fixture();
  damage(path, bytes, (b) => {
    b[layout.indexOffset + 7]! ^= 1;
    return b;
  });
  expectCorrupt(dir, "t.seg", layout.blocks, "checksum");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: flipped byte in the bloom filter", () => {
  const { dir, path, bytes, layout } = fixture();
  damage(path, bytes, (b) => {
    b[layout.bloomOffset + 9]! ^= 0x80;
    return b;
  });
  expectCorrupt(dir, "t.seg", layout.blocks + 1, "checksum");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: flipped byte in the footer", () => {
  const { dir, path, bytes, layout } = fixture();
  damage(path, bytes, (b) => {
    b[layout.footer + 3]! ^= 4;
    return b;
  });
  expectCorrupt(dir, "t.seg", -1, "footer");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: truncated file", () => {
  const { dir, path, bytes } = fixture();
  damage(path, bytes, (b) => b.subarray(0, b.length - 100));
  expectCorrupt(dir, "t.seg");
  damage(path, bytes, (b) => b.subarray(0, 30));
  expectCorrupt(dir, "t.seg", -1, "truncated");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: wrong magic", () => {
  const { dir, path, bytes } = fixture();
  damage(path, bytes, (b) => {
    b.set(new TextEncoder().encode("NOTASEG!"), b.length - 8);
    return b;
  });
  expectCorrupt(dir, "t.seg", -1, "magic");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: wrong version (with a valid footer checksum)", () => {
  const { dir, path, bytes, layout } = fixture();
  damage(path, bytes, (b) => {
    const dv = new DataView(b.buffer, b.byteOffset);
    dv.setUint32(layout.footer + 40, 99, true);
    dv.setUint32(layout.footer + 44, crc32c(b.subarray(layout.footer, layout.footer + 44)), true);
    return b;
  });
  expectCorrupt(dir, "t.seg", -1, "version");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: missing file", () => {
  const { dir, path } = fixture();
  Deno.removeSync(path);
  expectCorrupt(dir, "t.seg", -1, "missing");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: zero-length file", () => {
  const { dir, path, bytes } = fixture();
  damage(path, bytes, () => new Uint8Array(0));
  expectCorrupt(dir, "t.seg", -1, "truncated");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("format: a version 1 segment (whole-array bloom filter) still opens and reads", () => {
  // testdata/segment_v1.seg was written by the version 1 writer: 500 entries,
  // key [0, 1, i >> 8, i & 255] -> value [i & 255, 7, 7].
  const dir = Deno.makeTempDirSync({ prefix: "weir-v1-" });
  Deno.copyFileSync(new URL("./testdata/segment_v1.seg", import.meta.url), `${dir}/v1.seg`);
  const v1 = Deno.readFileSync(`${dir}/v1.seg`);
  assert.equal(new DataView(v1.buffer).getUint32(v1.length - FOOTER + 40, true), 1);
  const s = LsmStore.open({ dir, segments: ["v1.seg"], autoCompact: false });
  for (let i = 0; i < 500; i++) {
    assert.deepEqual(
      s.get(new Uint8Array([0, 1, i >> 8, i & 255])),
      new Uint8Array([i & 255, 7, 7]),
    );
  }
  for (let i = 500; i < 700; i++) {
    assert.equal(s.get(new Uint8Array([0, 1, i >> 8, i & 255])), undefined);
  }
  assert.equal([...s.scan({})].length, 500);
  // Compaction rewrites it in the current format, which reads the same.
  const [out] = s.compact();
  const bytes = Deno.readFileSync(`${dir}/${out!.name}`);
  assert.equal(new DataView(bytes.buffer).getUint32(bytes.length - FOOTER + 40, true), 2);
  for (let i = 0; i < 500; i += 7) {
    assert.equal(s.get(new Uint8Array([0, 1, i >> 8, i & 255]))![0], i & 255);
  }
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("format: the version 2 bloom filter is whole 64-byte lines and rejects absent keys", () => {
  const { dir, info, layout } = fixture();
  assert.equal((layout.bloomLen - 4) % 64, 0);
  assert.ok((layout.bloomLen - 4) * 8 >= info.entries * 10);
  const s = LsmStore.open({ dir, segments: ["t.seg"] });
  for (let i = 0; i < N; i += 97) assert.equal(s.get(key(i))![0], i & 255);
  const before = s.stats();
  for (let i = N; i < N + 10_000; i++) assert.equal(s.get(key(i)), undefined);
  const st = s.stats();
  const negatives = st.bloomNegatives - before.bloomNegatives;
  // 10 bits per key, 6 probes in one line: about 1% false positives.
  assert.ok(
    negatives > 9_700,
    `only ${negatives} of 10000 absent keys rejected by the bloom filter`,
  );
  s.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("corruption: a version 2 bloom filter that is not whole 64-byte lines (valid checksums)", () => {
  const { dir, path, bytes, layout } = fixture();
  damage(path, bytes, (b) => {
    const dv = new DataView(b.buffer, b.byteOffset);
    const len = layout.bloomLen - 1;
    dv.setUint32(layout.footer + 24, len, true);
    dv.setUint32(
      layout.footer + 28,
      crc32c(b.subarray(layout.bloomOffset, layout.bloomOffset + len)),
      true,
    );
    dv.setUint32(layout.footer + 44, crc32c(b.subarray(layout.footer, layout.footer + 44)), true);
    return b;
  });
  expectCorrupt(dir, "t.seg", layout.blocks + 1, "malformed");
  Deno.removeSync(dir, { recursive: true });
});
