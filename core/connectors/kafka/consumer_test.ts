import assert from "node:assert/strict";
import { consumeN, MockKafka } from "../../../tests/_helpers/kafka_mock.ts";
import { KafkaConsumer } from "./consumer.ts";
import { KafkaProducer } from "./producer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("consumer: reads what the producer wrote, with key, headers, timestamp, offsets", async () => {
  const kafka = await MockKafka.start();
  try {
    await kafka.createTopic("t", 3);
    const delivered: number[] = [];
    const p = KafkaProducer.create(
      { "bootstrap.servers": kafka.bootstrap },
      (id, err) => err === 0 && delivered.push(id),
    );
    for (let i = 0; i < 30; i++) {
      assert.ok(p.produce("t", enc.encode(`v${i}`), enc.encode(`k${i % 5}`), -1, i + 1));
    }
    assert.ok(p.produceWith("t", enc.encode("with-headers"), null, {
      partition: 2,
      timestamp: 1_700_000_000_000,
      headers: [["h1", enc.encode("x")], ["h2", null]],
      id: 99,
    }));
    await p.flush(10_000);
    assert.deepEqual(
      delivered.toSorted((a, b) => a - b),
      [...Array(30).keys()].map((i) => i + 1).concat(99),
    );
    const meta = (await p.metadata()).find((t) => t.topic === "t")!;
    assert.deepEqual(meta.partitions.map((x) => x.id).toSorted(), [0, 1, 2]);

    const c = KafkaConsumer.create({ "bootstrap.servers": kafka.bootstrap });
    c.assign([0, 1, 2].map((partition) => ({ topic: "t", partition, offset: 0 })));
    const got = await consumeN(c, 31);
    assert.deepEqual(
      got.map((r) => dec.decode(r.value!)).toSorted(),
      [...Array(30).keys()].map((i) => `v${i}`).concat("with-headers").toSorted(),
    );
    // Same key, same partition; offsets dense per partition.
    const byKey = new Map<string, Set<number>>();
    for (const r of got.filter((r) => r.key)) {
      const k = dec.decode(r.key!);
      byKey.set(k, (byKey.get(k) ?? new Set()).add(r.partition));
    }
    for (const parts of byKey.values()) assert.equal(parts.size, 1);
    const h = got.find((r) => dec.decode(r.value!) === "with-headers")!;
    assert.equal(h.partition, 2);
    assert.equal(h.timestamp, 1_700_000_000_000);
    assert.equal(h.key, null);
    assert.deepEqual(h.headers.map(([n, v]) => [n, v && dec.decode(v)]), [["h1", "x"], [
      "h2",
      null,
    ]]);
    let total = 0;
    for (const partition of [0, 1, 2]) {
      const w = await c.watermarks("t", partition);
      assert.equal(w.low, 0);
      total += w.high;
    }
    assert.equal(total, 31);
    await c.close();
    await p.close();
  } finally {
    await kafka.stop();
  }
});

Deno.test("consumer: committed offsets come back to the group", async () => {
  const kafka = await MockKafka.start(1);
  try {
    await kafka.createTopic("c", 1);
    const c = KafkaConsumer.create({ "bootstrap.servers": kafka.bootstrap, "group.id": "g1" });
    const [before] = await c.committed([{ topic: "c", partition: 0, offset: -1001 }]);
    assert.ok(before!.offset < 0);
    c.commitAsync([{ topic: "c", partition: 0, offset: 42 }]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [after] = await c.committed([{ topic: "c", partition: 0, offset: -1001 }]);
      if (after!.offset === 42) break;
      if (Date.now() > deadline) assert.fail(`committed offset ${after!.offset}, expected 42`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await c.close();
  } finally {
    await kafka.stop();
  }
});

Deno.test("consumer: many records across polls keep their own bytes (small ones share chunks), tombstones stay null", async () => {
  const kafka = await MockKafka.start(1);
  try {
    await kafka.createTopic("m", 2);
    const p = KafkaProducer.create({ "bootstrap.servers": kafka.bootstrap });
    // Sizes around the 1 KiB limit of chunk sharing (the mock keeps only a few MB).
    const valueOf = (i: number) => `${i}:` + "abcdefgh".repeat([0, 3, 127, 128, 200][i % 5]!);
    const n = 3_000;
    for (let i = 0; i < n; i++) {
      const value = i % 97 === 0 ? null : enc.encode(valueOf(i));
      while (!p.produce("m", value, enc.encode(`key-${i}`), i % 2)) p.poll();
    }
    await p.flush(10_000);
    const c = KafkaConsumer.create({ "bootstrap.servers": kafka.bootstrap });
    c.assign([0, 1].map((partition) => ({ topic: "m", partition, offset: 0 })));
    const got = await consumeN(c, n);
    await c.close();
    await p.close();
    assert.equal(got.length, n);
    for (const r of got) {
      const i = Number(dec.decode(r.key!).slice(4));
      assert.equal(r.partition, i % 2);
      if (i % 97 === 0) assert.equal(r.value, null, `record ${i} is a tombstone`);
      else assert.equal(dec.decode(r.value!), valueOf(i), `record ${i}`);
      assert.deepEqual(r.headers, []);
    }
  } finally {
    await kafka.stop();
  }
});
