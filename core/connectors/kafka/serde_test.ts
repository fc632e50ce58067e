import assert from "node:assert/strict";
import { KafkaDeserializers, KafkaSerializers } from "./serde.ts";

Deno.test("KafkaSerializers.string: values encoded one after another stay intact and round-trip", () => {
  const inputs = Array.from(
    { length: 2_000 },
    (_, i) => i % 7 === 0 ? `é→${i}` : i % 101 === 0 ? "x".repeat(5_000 + i) : `value-${i}`,
  );
  inputs.push("", "🦀".repeat(400));
  const encoded = inputs.map((s) => KafkaSerializers.string(s)!);
  // Later encodings must not overwrite earlier ones (small ones share chunks).
  assert.deepEqual(encoded.map((b) => KafkaDeserializers.string(b)), inputs);
  for (const [i, b] of encoded.entries()) {
    assert.equal(b.length, new TextEncoder().encode(inputs[i]!).length);
  }
  assert.equal(KafkaSerializers.string(null), null);
});

Deno.test("KafkaSerializers.json: encodes JSON text (undefined as no bytes, as before)", () => {
  assert.deepEqual(KafkaDeserializers.json(KafkaSerializers.json({ a: [1, "é"] })), {
    a: [1, "é"],
  });
  assert.equal(KafkaSerializers.json(undefined)!.length, 0);
});
