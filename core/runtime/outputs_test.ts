import assert from "node:assert/strict";
import { ByteWriter } from "../state/bytes.ts";
import { keyGroupOf, murmur3, subtaskForKeyGroup } from "../state/key_group.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import { stringKeyHash } from "../state/_key_table.ts";
import type { OutputChannel } from "./channel.ts";
import { type ChannelMessage, MessageKind } from "./messages.ts";
import { StreamOperator } from "./operator.ts";
import { ChainedTarget, ChannelWriter, FanOutput, keyGrouper, newCounters } from "./outputs.ts";

/** Where a key grouper leaves a string key's table hash. */
const scratch = new Int32Array(1);

function groupOfBytes(serializer: Serializer<unknown>, key: unknown, maxParallelism: number) {
  const w = new ByteWriter();
  serializer.write(key, w);
  return keyGroupOf(w.bytes(), maxParallelism);
}

Deno.test("keyGrouper: the key group of the key's serialized bytes, for every key, and a string key's table hash", () => {
  const keys: unknown[] = ["", "a", "ab", "abc", "abcd", "user-12345", "x".repeat(126)];
  keys.push("x".repeat(127), "x".repeat(128), "y".repeat(300), "é", "naïve", "𝄞", "a\u007fb");
  keys.push("é".repeat(64), "é".repeat(65));
  for (let i = 0; i < 2000; i++) keys.push(`k${i * 7919}`);
  const serializers = [Serializers.string, Serializers.key, Serializers.json] as Serializer<
    unknown
  >[];
  // Powers of two take the hash's low bits, the others its remainder.
  for (const maxParallelism of [128, 100, 1, 32768, 32767]) {
    for (const serializer of serializers) {
      const group = keyGrouper(serializer, maxParallelism);
      for (const key of keys) {
        const expected = groupOfBytes(serializer, key, maxParallelism);
        scratch[0] = 12345;
        assert.equal(group(key, scratch), expected, `${serializer.id}, ${maxParallelism}: ${key}`);
        // The tables hash strings of up to 64 chars; a key hashed from its serialized bytes
        // (128+ chars, or not ASCII) and longer than that gets 0, without a pass over its chars.
        const length = (key as string).length;
        if (length <= 64) assert.equal(scratch[0], stringKeyHash(key as string));
        else if (length >= 128 || serializer === Serializers.json) assert.equal(scratch[0], 0);
      }
    }
    const byKey = keyGrouper(Serializers.key, maxParallelism);
    for (const key of [0, -1.5, 2n ** 70n, true, ["a", 1], { user: "ann" }]) {
      assert.equal(
        byKey(key, scratch),
        groupOfBytes(Serializers.key, key, maxParallelism),
        String(key),
      );
    }
  }
});

Deno.test("keyGrouper: numbers hash as their f64, i32 or key bytes (-0 as 0)", () => {
  const numbers = [0, -0, 1, -1, 0.5, -1234.5678, 2 ** 31, -(2 ** 31), 2 ** 53 + 2, 1e308, 5e-324];
  numbers.push(NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE);
  let seed = 3;
  for (let i = 0; i < 3000; i++) {
    seed = (seed * 16807) % 2147483647;
    numbers.push(seed, -seed, seed / 7, (seed % 2000) - 1000);
  }
  const ints = numbers.filter((n) => (n | 0) === n);
  for (const maxParallelism of [128, 100, 1, 32768, 32767]) {
    const cases: [Serializer<unknown>, number[]][] = [
      [Serializers.f64 as Serializer<unknown>, numbers],
      [Serializers.key, numbers],
      [Serializers.i32 as Serializer<unknown>, ints],
    ];
    for (const [serializer, keys] of cases) {
      const group = keyGrouper(serializer, maxParallelism);
      for (const key of keys) {
        // -0 is the key 0 (as === says), whatever bytes the serializer gives it as a value.
        const expected = groupOfBytes(serializer, key === 0 ? 0 : key, maxParallelism);
        assert.equal(group(key, scratch), expected, `${serializer.id}, ${maxParallelism}: ${key}`);
      }
    }
  }
  // -0 and 0 are one key under every serializer.
  for (const serializer of [Serializers.key, Serializers.f64 as Serializer<unknown>]) {
    assert.equal(
      keyGrouper(serializer, 32768)(-0, scratch),
      keyGrouper(serializer, 32768)(0, scratch),
    );
  }
});

Deno.test("keyGrouper: a key its serializer refuses is still refused", () => {
  assert.throws(() => keyGrouper(Serializers.string, 128)(42, scratch), /string/);
  assert.throws(() => keyGrouper(Serializers.f64 as Serializer<unknown>, 128)("1", scratch), /f64/);
  for (const bad of [1.5, 2 ** 31, "1"]) {
    assert.throws(
      () => keyGrouper(Serializers.i32 as Serializer<unknown>, 128)(bad, scratch),
      /i32/,
    );
  }
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

Deno.test("ChannelWriter: a keyed edge over several channels sends each record's key group and string key hash with it; over one channel none", () => {
  const batches: ChannelMessage[][] = [[], [], []];
  const channel = (sent: ChannelMessage[]): OutputChannel => ({
    push: (msg) => sent.push(msg),
    hasSpace: () => true,
    waitForSpace: () => Promise.resolve(),
    close: () => {},
  });
  const keyed = {
    kind: "hash",
    keySelector: (v: unknown) => (v as [unknown, number])[0],
    keySerializer: Serializers.key,
  } as const;
  const two = new ChannelWriter([channel(batches[0]!), channel(batches[1]!)], keyed, 0, 128);
  const one = new ChannelWriter([channel(batches[2]!)], keyed, 0, 128);
  // More than a batch, keys of several types; flushes make short batches, and the batches
  // after them outgrow the room the short ones gave their routed keys.
  const keys: unknown[] = ["a", "naïve", "x".repeat(70), 7, -1.5, 10n, ["user", 1], { id: 3 }];
  for (let i = 0; i < 6000; i++) {
    const record = [keys[i % keys.length] ?? `k${i}`, i];
    two.collect(record, undefined);
    one.collect(record, undefined);
    if (i === 3 || i === 1500) two.flush();
  }
  two.flush();
  one.flush();
  let seen = 0;
  for (const [c, sent] of batches.slice(0, 2).entries()) {
    for (const msg of sent) {
      assert.ok(msg.kind === MessageKind.Records && msg.routedKeys !== null);
      assert.equal(msg.routedKeys.length, 2 * msg.values.length);
      for (const [i, v] of msg.values.entries()) {
        const key = (v as [unknown])[0];
        const group = groupOfBytes(Serializers.key, key, 128);
        assert.equal(msg.routedKeys[2 * i], group);
        // A string key carries its table hash; other keys 0.
        assert.equal(msg.routedKeys[2 * i + 1], typeof key === "string" ? stringKeyHash(key) : 0);
        assert.equal(subtaskForKeyGroup(group, 128, 2), c);
        seen++;
      }
    }
  }
  assert.equal(seen, 6000);
  assert.ok(
    batches[2]!.every((m) => m.kind === MessageKind.Records && m.routedKeys === null),
  );
});

Deno.test("ChannelWriter: batches hold exactly the records collected, in order, with their timestamps", () => {
  const sent: ChannelMessage[] = [];
  const writer = new ChannelWriter(
    [{
      push: (msg) => sent.push(msg),
      hasSpace: () => true,
      waitForSpace: () => Promise.resolve(),
      close: () => {},
    }],
    { kind: "forward" },
    0,
    128,
    4,
  );
  // Timestamps start in the middle of a batch; a partial flush makes a short batch, and the
  // batch after it outgrows the short one.
  for (let i = 0; i < 10; i++) writer.collect(`r${i}`, i >= 6 ? i * 10 : undefined);
  writer.flush();
  for (let i = 10; i < 13; i++) writer.collect(`r${i}`, undefined);
  writer.flush();
  writer.flush();
  const batches = sent.map((m) => {
    assert.ok(m.kind === MessageKind.Records);
    return { values: [...m.values], timestamps: m.timestamps && [...m.timestamps] };
  });
  const u = undefined;
  assert.deepEqual(batches, [
    { values: ["r0", "r1", "r2", "r3"], timestamps: null },
    { values: ["r4", "r5", "r6", "r7"], timestamps: [u, u, 60, 70] },
    { values: ["r8", "r9"], timestamps: [80, 90] },
    { values: ["r10", "r11", "r12"], timestamps: null },
  ]);
  for (const m of sent) assert.ok(m.kind === MessageKind.Records && !m.values.includes(u));
});

/** Records what reaches it: value, timestamp, input. */
class Recorder extends StreamOperator {
  readonly seen: [unknown, number | undefined, number][] = [];
  processElement(value: unknown, timestamp: number | undefined, input: number): void {
    this.seen.push([value, timestamp, input]);
  }
}

Deno.test("FanOutput into one chained operator: its link counts out and in, keeps the last timestamp, passes the input", () => {
  const out = newCounters(), into = [newCounters(), newCounters()];
  const ops = [new Recorder(), new Recorder()];
  const fans = ops.map((op, i) =>
    new FanOutput([new ChainedTarget(op, i, into[i])], new Map(), i === 0 ? out : newCounters())
  );
  fans[0]!.collect("a", 5);
  fans[0]!.collect("b", undefined);
  fans[1]!.collect("c", 7);
  assert.deepEqual(ops[0]!.seen, [["a", 5, 0], ["b", undefined, 0]]);
  assert.deepEqual(ops[1]!.seen, [["c", 7, 1]]);
  assert.equal(out.recordsOut, 2);
  assert.equal(out.lastTimestamp, 5); // a record without a timestamp leaves it
  assert.deepEqual(into.map((c) => c.recordsIn), [2, 1]);
  // Each link is compiled on its own (its own type feedback): not one function shared.
  assert.notEqual(fans[0]!.collect, fans[1]!.collect);
  assert.notEqual(fans[0]!.collect.name, fans[1]!.collect.name);
});

Deno.test("FanOutput into two targets or none calls each target and counts once", () => {
  const counters = newCounters(), into = newCounters();
  const a = new Recorder(), b = new Recorder();
  const fan = new FanOutput(
    [new ChainedTarget(a, 0, into), new ChainedTarget(b, 1, into)],
    new Map(),
    counters,
  );
  fan.collect("x", 3);
  assert.deepEqual(a.seen, [["x", 3, 0]]);
  assert.deepEqual(b.seen, [["x", 3, 1]]);
  assert.equal(counters.recordsOut, 1);
  assert.equal(into.recordsIn, 2);
  const none = new FanOutput([], new Map(), counters);
  none.collect("y", undefined);
  assert.equal(counters.recordsOut, 2);
});
