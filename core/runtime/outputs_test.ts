import assert from "node:assert/strict";
import { ByteWriter } from "../state/bytes.ts";
import { murmur3 } from "../state/key_group.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import { keyHasher } from "./outputs.ts";

function hashOfBytes(serializer: Serializer<unknown>, key: unknown): number {
  const w = new ByteWriter();
  serializer.write(key, w);
  return murmur3(w.buf, w.length);
}

Deno.test("keyHasher: the hash of the key's serialized bytes, for every key", () => {
  const keys: unknown[] = ["", "a", "ab", "abc", "abcd", "user-12345", "x".repeat(126)];
  keys.push("x".repeat(127), "x".repeat(128), "y".repeat(300), "é", "naïve", "𝄞", "a\u007fb");
  for (let i = 0; i < 2000; i++) keys.push(`k${i * 7919}`);
  const serializers = [Serializers.string, Serializers.key, Serializers.json] as Serializer<
    unknown
  >[];
  for (const serializer of serializers) {
    const hash = keyHasher(serializer);
    for (const key of keys) {
      assert.equal(hash(key), hashOfBytes(serializer, key), `${serializer.id}: ${key}`);
    }
  }
  const byKey = keyHasher(Serializers.key);
  for (const key of [0, -1.5, 2n ** 70n, true, ["a", 1], { user: "ann" }]) {
    assert.equal(byKey(key), hashOfBytes(Serializers.key, key), String(key));
  }
});

Deno.test("keyHasher: a key its serializer refuses is still refused", () => {
  assert.throws(() => keyHasher(Serializers.string)(42), /string/);
});
