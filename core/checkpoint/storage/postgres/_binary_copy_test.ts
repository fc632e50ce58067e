import assert from "node:assert/strict";
import { copyHeader, CopyReader, copyTrailer, CopyTuple, readInt4 } from "./_binary_copy.ts";

function stream(): Uint8Array {
  const pieces = [
    copyHeader(),
    ...new CopyTuple(3).text("job é").int4(-2).bytea(new Uint8Array([0, 1, 255])).pieces(),
    ...new CopyTuple(2).int4(70_000).bytea(new Uint8Array(0)).pieces(),
    copyTrailer(),
  ];
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("binary COPY: tuples written in pieces read back whatever the pieces the stream arrives in", () => {
  const bytes = stream();
  for (const size of [1, 3, 7, bytes.length]) {
    const reader = new CopyReader();
    const tuples = [];
    for (let at = 0; at < bytes.length; at += size) {
      tuples.push(...reader.push(bytes.slice(at, at + size)));
    }
    assert.equal(reader.ended, true);
    assert.equal(tuples.length, 2);
    assert.equal(new TextDecoder().decode(tuples[0]![0]!), "job é");
    assert.equal(readInt4(tuples[0]![1]!), -2);
    assert.deepEqual(tuples[0]![2], new Uint8Array([0, 1, 255]));
    assert.equal(readInt4(tuples[1]![0]!), 70_000);
    assert.deepEqual(tuples[1]![1], new Uint8Array(0));
  }
});

Deno.test("binary COPY: a stream cut short is not ended; a bad signature or data after the trailer is an error", () => {
  const bytes = stream();
  const cut = new CopyReader();
  assert.equal(cut.push(bytes.subarray(0, bytes.length - 2)).length, 2);
  assert.equal(cut.ended, false);
  const bad = bytes.slice();
  bad[0] = 0;
  assert.throws(() => new CopyReader().push(bad), /not a binary COPY stream/);
  const after = new CopyReader();
  after.push(bytes);
  assert.throws(() => after.push(new Uint8Array([0, 0])), /after its trailer/);
});
