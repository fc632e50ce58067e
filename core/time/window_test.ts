import assert from "node:assert/strict";
import { ByteReader, ByteWriter } from "../state/bytes.ts";
import { Serializers } from "../state/serializer.ts";
import { TimeWindow } from "./window.ts";

function roundTrip<T>(s: { write(v: T, w: ByteWriter): void; read(r: ByteReader): T }, v: T): T {
  const w = new ByteWriter();
  s.write(v, w);
  return s.read(new ByteReader(w.bytes()));
}

Deno.test("TimeWindow.serializer copy: what a write then a read gives", () => {
  const ser = TimeWindow.serializer;
  // A window is immutable: as in Flink, it is its own copy.
  for (const w of [new TimeWindow(0, 10), new TimeWindow(-5, -0), new TimeWindow(1.5, Infinity)]) {
    const copied = ser.copy!(w);
    assert.equal(copied, w);
    assert.deepStrictEqual(copied, roundTrip(ser, w));
    assert.ok(Object.is(copied.end, roundTrip(ser, w).end));
  }
  // Anything else becomes the window its write reads back as.
  const like = { start: "1", end: 2 } as unknown as TimeWindow;
  const made = ser.copy!(like);
  assert.ok(made instanceof TimeWindow);
  assert.deepStrictEqual(made, roundTrip(ser, like));
  // A session window set (an array of windows) copies too, into a new array: the LSM backend's
  // value cache keeps a copy of a key's set only when its serializer can copy.
  const sets = Serializers.array(ser);
  assert.ok(sets.copy);
  const set = [new TimeWindow(0, 10), new TimeWindow(20, 30)];
  const copied = sets.copy(set);
  assert.notEqual(copied, set);
  assert.deepStrictEqual(copied, roundTrip(sets, set));
  // Throws where write throws.
  const bad = { start: 1n, end: 2 } as unknown as TimeWindow;
  assert.throws(() => roundTrip(ser, bad), TypeError);
  assert.throws(() => ser.copy!(bad), TypeError);
});
