import assert from "node:assert/strict";
import { consumeN, MockKafka } from "../../../tests/_helpers/kafka_mock.ts";
import { KafkaConsumer } from "./consumer.ts";
import { KafkaError } from "./kafka_error.ts";
import { KafkaProducer } from "./producer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// librdkafka 2.0.2's mock cluster neither fences an older epoch nor hides aborted records
// (see docs/kafka.md), so this shows the calls work against the protocol, not isolation.
Deno.test("producer: transactions commit their records; a second producer with the id takes over", async () => {
  const kafka = await MockKafka.start();
  try {
    await kafka.createTopic("tx", 2);
    const props = { "bootstrap.servers": kafka.bootstrap, "transactional.id": "p-0" };
    const first = KafkaProducer.create(props);
    await first.initTransactions(10_000);
    first.beginTransaction();
    for (let i = 0; i < 10; i++) first.produce("tx", enc.encode(`a${i}`), enc.encode(`${i}`));
    await first.commitTransaction(10_000);
    const second = KafkaProducer.create(props);
    await second.initTransactions(10_000);
    second.beginTransaction();
    second.produce("tx", enc.encode("b"), null);
    await second.commitTransaction(10_000);
    const c = KafkaConsumer.create({ "bootstrap.servers": kafka.bootstrap });
    c.assign([0, 1].map((partition) => ({ topic: "tx", partition, offset: 0 })));
    const got = (await consumeN(c, 11)).map((r) => dec.decode(r.value!)).toSorted();
    assert.deepEqual(got, [...Array(10).keys()].map((i) => `a${i}`).concat("b").toSorted());
    await c.close();
    await first.close();
    await second.close();
  } finally {
    await kafka.stop();
  }
});

Deno.test("producer: bad properties name the property", () => {
  assert.throws(
    () => KafkaProducer.create({ "no.such.property": 1 }),
    (e: Error) => e instanceof KafkaError && e.message.includes("no.such.property"),
  );
});

Deno.test("producer: a missing librdkafka names the library and the install step", async () => {
  const code = `import { KafkaProducer } from "${new URL("./producer.ts", import.meta.url).href}";
try { KafkaProducer.create({}); } catch (e) { console.log(e.name + ": " + e.message); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { WEIR_LIBRDKAFKA: "/nonexistent/librdkafka.so.1" },
  }).output();
  const text = dec.decode(out.stdout);
  assert.match(text, /^ConfigError: Cannot load librdkafka/);
  assert.match(text, /apt-get install librdkafka1/);
  assert.match(text, /--allow-ffi/);
});
