import assert from "node:assert/strict";
import { ByteReader, ByteWriter } from "../state/bytes.ts";
import { Serializers } from "../state/serializer.ts";
import { TimeWindow } from "./window.ts";

function roundTrip<T>(s: { write(v: T, w: ByteWriter): void; read(r: ByteReader): T }, v: T): T {
  const w = new ByteWriter();
  s.write(v, w);
  return s.read(new ByteReader(w.bytes()));
}

Deno.test("TimeWindow.serializer copy: what a write then a read gives, a new window", () => {
  const ser = TimeWindow.serializer;
  for (const w of [new TimeWindow(0, 10), new TimeWindow(-5, -0), new TimeWindow(1.5, Infinity)]) {
    const copied = ser.copy!(w);
    assert.ok(copied instanceof TimeWindow);
    assert.notEqual(copied, w);
    assert.deepStrictEqual(copied, roundTrip(ser, w));
    assert.ok(Object.is(copied.end, roundTrip(ser, w).end));
  }
  // A session window set (an array of windows) copies too: the LSM backend's value cache keeps
  // a copy of a key's set only when its serializer can copy.
  const sets = Serializers.array(ser);
  assert.ok(sets.copy);
  const set = [new TimeWindow(0, 10), new TimeWindow(20, 30)];
  const copied = sets.copy(set);
  assert.deepStrictEqual(copied, roundTrip(sets, set));
  assert.ok(copied.every((w, i) => w !== set[i]));
  // Throws where write throws.
  const bad = { start: 1n, end: 2 } as unknown as TimeWindow;
  assert.throws(() => roundTrip(ser, bad), TypeError);
  assert.throws(() => ser.copy!(bad), TypeError);
});
