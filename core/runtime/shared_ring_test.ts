import assert from "node:assert/strict";
import { createRing, createRings, RingReader, RingWriter } from "./shared_ring.ts";
import { ConfigError } from "../errors.ts";

function frame(seq: number, length: number): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (seq + i) & 0xff;
  return f;
}

Deno.test("ring: frames of every size come out whole and in order across wrap-arounds", () => {
  const ring = createRing(256);
  const writer = new RingWriter(ring), reader = new RingReader(ring);
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pending: Uint8Array[] = [];
  let sent = 0, received = 0;
  while (received < 5000) {
    if (sent < 5000 && rnd() < 0.6) {
      const f = frame(sent, Math.floor(rnd() * writer.maxFrame));
      if (writer.tryWrite(f)) {
        pending.push(f);
        sent++;
      }
    } else {
      const got = reader.read();
      if (got === undefined) {
        assert.equal(pending.length, 0);
        continue;
      }
      assert.deepEqual(got, pending.shift());
      received++;
    }
  }
  assert.equal(reader.hasFrame(), false);
});

Deno.test("ring: a full ring refuses a frame until the reader frees its space", async () => {
  const ring = createRing(128);
  const writer = new RingWriter(ring), reader = new RingReader(ring);
  assert.ok(writer.tryWrite(frame(1, 60)));
  assert.ok(writer.tryWrite(frame(2, 60)));
  assert.equal(writer.tryWrite(frame(3, 1)), false, "128 - 2 * 64 bytes left: no credit");
  let resolved = false;
  const space = writer.waitForSpace(60).then(() => (resolved = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(resolved, false, "the writer waits while the ring is full");
  assert.deepEqual(reader.read(), frame(1, 60));
  await space;
  assert.ok(writer.tryWrite(frame(3, 60)));
});

Deno.test("ring: a waiting reader wakes on a frame and on close", async () => {
  const ring = createRing(64);
  const writer = new RingWriter(ring), reader = new RingReader(ring);
  const arrived = reader.waitForFrame();
  setTimeout(() => writer.tryWrite(new Uint8Array([9])), 10);
  await arrived;
  assert.deepEqual(reader.read(), new Uint8Array([9]));
  const woken = reader.waitForFrame();
  setTimeout(() => writer.close(), 10);
  await woken;
  assert.ok(reader.closed && writer.closed);
  assert.equal(writer.tryWrite(new Uint8Array(3)), true, "a closed ring drops frames");
  assert.equal(reader.read(), undefined);
});

Deno.test("ring: bad capacities and oversized frames are clear errors", () => {
  assert.throws(
    () => createRing(100),
    (e) => e instanceof ConfigError && /power of two/.test(e.message),
  );
  assert.throws(() => createRing(32), /64 bytes to 1 GiB/);
  const writer = new RingWriter(createRing(64));
  assert.throws(
    () => writer.tryWrite(new Uint8Array(61)),
    /61-byte frame does not fit a ring of 64/,
  );
});

Deno.test("rings: rings cut from one buffer keep their frames apart, headers first, data areas on pages", () => {
  const rings = createRings(3, 8192);
  assert.ok(rings.every((r) => r.buffer === rings[0]!.buffer));
  assert.deepEqual(rings.map((r) => r.header), [0, 192, 384]);
  assert.deepEqual(rings.map((r) => r.data), [4096, 4096 + 8192, 4096 + 2 * 8192]);
  assert.equal(rings[0]!.buffer.byteLength, 4096 + 3 * 8192);
  const writers = rings.map((r) => new RingWriter(r)),
    readers = rings.map((r) => new RingReader(r));
  for (let round = 0; round < 10; round++) {
    writers.forEach((w, i) => assert.ok(w.tryWrite(frame(round * 3 + i, 3000 + i))));
    readers.forEach((r, i) => assert.deepEqual(r.read(), frame(round * 3 + i, 3000 + i)));
  }
  writers[1]!.close();
  assert.deepEqual(readers.map((r) => r.closed), [false, true, false]);
});
