import assert from "node:assert/strict";
import { ByteWriter } from "../state/bytes.ts";
import { murmur3, subtaskForKeyGroup } from "../state/key_group.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import type { OutputChannel } from "./channel.ts";
import { type ChannelMessage, MessageKind } from "./messages.ts";
import { ChannelWriter, keyHasher } from "./outputs.ts";

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

Deno.test("ChannelWriter: a keyed record goes to the channel of the subtask that owns its key group", () => {
  const cases: [number, number][] = [[2, 128], [3, 128], [7, 1000], [5, 32768]];
  for (const [n, maxParallelism] of cases) {
    const sent: unknown[][] = Array.from({ length: n }, () => []);
    const channels: OutputChannel[] = sent.map((values) => ({
      push: (msg: ChannelMessage) => {
        if (msg.kind === MessageKind.Records) values.push(...msg.values);
      },
      hasSpace: () => true,
      waitForSpace: () => Promise.resolve(),
      close: () => {},
    }));
    const writer = new ChannelWriter(
      channels,
      {
        kind: "hash",
        keySelector: (v) => (v as { k: string }).k,
        keySerializer: Serializers.string,
      },
      0,
      maxParallelism,
    );
    const records = Array.from({ length: 3000 }, (_, i) => ({ k: `key-${i * 7919}` }));
    for (const r of records) writer.collect(r, undefined);
    writer.flush();
    for (let c = 0; c < n; c++) {
      for (const r of sent[c] as { k: string }[]) {
        const group = murmur3(new Uint8Array([r.k.length, ...new TextEncoder().encode(r.k)])) %
          maxParallelism;
        assert.equal(
          c,
          subtaskForKeyGroup(group, maxParallelism, n),
          `${r.k} (${n}/${maxParallelism})`,
        );
      }
    }
    assert.equal(sent.reduce((a, v) => a + v.length, 0), records.length);
  }
});
