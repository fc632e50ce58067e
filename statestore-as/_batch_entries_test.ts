import assert from "node:assert/strict";
import { StateError } from "../core/errors.ts";
import { sortedBatchEntries, WASM_SORT_MAX_BYTES } from "./_batch_entries.ts";
import {
  DenoSegmentFs,
  readSegment,
  SegmentBatch,
  writeSegment,
  writeSegmentBatch,
} from "./mod.ts";
import { hex, rng } from "./_test_util.ts";

Deno.test("sortedBatchEntries writes the same segment as the WebAssembly sort, deletes included", () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-batch-js-" });
  const fs = new DenoSegmentFs();
  try {
    const r = rng(7);
    const batch = new SegmentBatch(16);
    const seen = new Set<string>();
    for (let i = 0; i < 30_000; i++) {
      const key = Uint8Array.from({ length: 1 + Math.floor(r() * 20) }, () => Math.floor(r() * 4));
      if (seen.has(hex(key))) continue;
      seen.add(hex(key));
      if (r() < 0.1) batch.delete(key);
      else batch.put(key, Uint8Array.from({ length: Math.floor(r() * 40) }, () => i & 255));
    }
    writeSegmentBatch(fs, `${dir}/wasm.seg`, batch);
    const info = writeSegment(fs, `${dir}/js.seg`, sortedBatchEntries(batch));
    assert.equal(info.entries, seen.size);
    assert.deepEqual(Deno.readFileSync(`${dir}/js.seg`), Deno.readFileSync(`${dir}/wasm.seg`));

    const dup = new SegmentBatch();
    dup.put(new Uint8Array([1]), new Uint8Array([1]));
    dup.delete(new Uint8Array([1]));
    assert.throws(
      () => sortedBatchEntries(dup),
      (e) => e instanceof StateError && /a key occurs twice/.test(e.message),
    );
  } finally {
    fs.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("writeSegmentBatch writes a batch larger than the WebAssembly sort takes", () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-batch-big-" });
  const fs = new DenoSegmentFs();
  try {
    // A few large values (as a join's list of bids per auction) take the batch past the limit.
    const big = 1 + Math.ceil(WASM_SORT_MAX_BYTES / 4);
    const batch = new SegmentBatch(WASM_SORT_MAX_BYTES + (8 << 20));
    for (const k of [4, 1, 3, 0]) batch.put(new Uint8Array([k]), new Uint8Array(big).fill(k + 1));
    batch.delete(new Uint8Array([2]));
    assert.ok(batch.byteLength > WASM_SORT_MAX_BYTES);
    assert.equal(writeSegmentBatch(fs, `${dir}/big.seg`, batch).entries, 5);
    const got = [...readSegment(fs, `${dir}/big.seg`)].map((
      [k, v],
    ) => [k[0], v.length, v[big - 1]]);
    assert.deepEqual(got, [[0, big, 1], [1, big, 2], [3, big, 4], [4, big, 5]]);
  } finally {
    fs.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
