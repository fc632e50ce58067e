import assert from "node:assert/strict";
import { MockKafka, readTopic } from "../../../tests/_helpers/kafka_mock.ts";
import { committedOutput } from "../../../tests/_helpers/kafka_word_count_check.ts";
import { OperatorStateStore, redistributeOperatorState } from "../../state/operator_state.ts";
import { ConfigError, SerializationError } from "../../errors.ts";
import { ListStateDescriptor } from "../../state/descriptors.ts";
import { Serializers } from "../../state/serializer.ts";
import { KafkaProducer } from "./producer.ts";
import { type DeliveryGuarantee, KafkaSink } from "./kafka_sink.ts";
import { KafkaSerializers } from "./serde.ts";
import { KafkaSource } from "./kafka_source.ts";
import { StreamEnvironment } from "../../dataflow/environment.ts";
import { QueueSource } from "../../../tests/_helpers/queue_source.ts";
import { until } from "../../../tests/_helpers/checkpoint_jobs.ts";

/** One sink subtask driven through its hooks, as the runtime calls them. */
async function subtask(
  kafka: MockKafka,
  guarantee: DeliveryGuarantee,
  index: number,
  parallelism: number,
  restored?: OperatorStateStore,
) {
  const sink = new KafkaSink<string>({
    bootstrapServers: kafka.bootstrap,
    topic: "out",
    deliveryGuarantee: guarantee,
    transactionalIdPrefix: "test",
    serializer: (v) => ({ key: KafkaSerializers.string(v), value: KafkaSerializers.string(v) }),
  });
  const store = restored ?? new OperatorStateStore("sink");
  const s = Object.create(sink) as KafkaSink<string>;
  s.initializeState({ operatorStateStore: store, isRestored: restored !== undefined });
  await s.open({ subtaskIndex: index, parallelism, operatorUid: "sink" });
  return { s, store };
}

async function values(kafka: MockKafka, exactlyOnce: boolean): Promise<string[]> {
  return (await committedOutput(kafka.bootstrap, "out", exactlyOnce)).values.toSorted();
}

async function cluster(): Promise<MockKafka> {
  const kafka = await MockKafka.start();
  await kafka.createTopic("out", 4);
  await kafka.createTopic("out.weir-transactions", 1);
  return kafka;
}

Deno.test("KafkaSink exactly-once: commits when the checkpoint completes, and a restore writes what was not committed, once", async () => {
  const kafka = await cluster();
  try {
    const { s, store } = await subtask(kafka, "exactly-once", 0, 1);
    for (const v of ["a", "b", "c"]) s.invoke(v);
    s.snapshotState({ checkpointId: 1 });
    for (const v of ["d", "e"]) s.invoke(v);
    s.snapshotState({ checkpointId: 2 });
    const atCheckpoint2 = store.snapshot();
    // Nothing is written before its checkpoint completes.
    assert.deepEqual(await values(kafka, false), []);
    s.notifyCheckpointComplete(1);
    await s.flush();
    s.invoke("f"); // after checkpoint 2: lost with the crash, replayed by the source
    for (let i = 0; i < 200 && (await values(kafka, true)).length < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(await values(kafka, true), ["a", "b", "c"]);
    // A crash now: checkpoint 2 completed but its notification never came.
    // The restored subtask finds checkpoint 1's marker and writes only checkpoint 2.
    const restored = new OperatorStateStore("sink", atCheckpoint2);
    const again = await subtask(kafka, "exactly-once", 0, 1, restored);
    assert.deepEqual(await values(kafka, true), ["a", "b", "c", "d", "e"]);
    await again.s.close();
    await s.close();
    // A second restore from the same checkpoint repeats nothing.
    const third = await subtask(
      kafka,
      "exactly-once",
      0,
      1,
      new OperatorStateStore("sink", atCheckpoint2),
    );
    await third.s.close();
    assert.deepEqual(await values(kafka, true), ["a", "b", "c", "d", "e"]);
  } finally {
    await kafka.stop();
  }
});

Deno.test("KafkaSink exactly-once: a restore at a lower parallelism commits the pending checkpoints of the gone subtasks", async () => {
  const kafka = await cluster();
  try {
    const subs = [
      await subtask(kafka, "exactly-once", 0, 2),
      await subtask(kafka, "exactly-once", 1, 2),
    ];
    subs[0]!.s.invoke("x0");
    subs[1]!.s.invoke("x1");
    for (const { s } of subs) s.snapshotState({ checkpointId: 7 });
    const states = redistributeOperatorState(subs.map(({ store }) => store.snapshot()), 1);
    for (const { s } of subs) await s.close();
    const one = await subtask(
      kafka,
      "exactly-once",
      0,
      1,
      new OperatorStateStore("sink", states[0]!),
    );
    await one.s.close();
    assert.deepEqual(await values(kafka, true), ["x0", "x1"]);
  } finally {
    await kafka.stop();
  }
});

Deno.test("KafkaSink at-least-once: records not yet acknowledged at a checkpoint are sent again after a restore", async () => {
  const kafka = await cluster();
  try {
    const { s, store } = await subtask(kafka, "at-least-once", 0, 1);
    for (let i = 0; i < 100; i++) s.invoke(`r${i}`);
    s.snapshotState({ checkpointId: 1 });
    const snapshot = store.snapshot();
    await s.finish();
    await s.close();
    const restored = await subtask(
      kafka,
      "at-least-once",
      0,
      1,
      new OperatorStateStore("sink", snapshot),
    );
    await restored.s.finish();
    await restored.s.close();
    const got = await values(kafka, false);
    assert.deepEqual(
      [...new Set(got)].toSorted(),
      Array.from({ length: 100 }, (_, i) => `r${i}`).toSorted(),
    );
    assert.ok(got.length >= 100);
  } finally {
    await kafka.stop();
  }
});

Deno.test("KafkaSink none: writes without checkpoint state", async () => {
  const kafka = await cluster();
  try {
    const { s, store } = await subtask(kafka, "none", 0, 1);
    for (const v of ["p", "q"]) s.invoke(v);
    s.snapshotState({ checkpointId: 1 });
    assert.deepEqual(store.snapshot(), {});
    await s.finish();
    await s.close();
    assert.deepEqual(await values(kafka, false), ["p", "q"]);
  } finally {
    await kafka.stop();
  }
});

Deno.test("KafkaSink: options and a missing transaction topic are named", async () => {
  assert.throws(
    () =>
      new KafkaSink({
        bootstrapServers: "x",
        topic: "t",
        deliveryGuarantee: "exactly-once",
        serializer: () => ({ value: null }),
      }),
    /transactionalIdPrefix/,
  );
  const kafka = await MockKafka.start(1);
  try {
    await kafka.createTopic("out", 1);
    const sink = new KafkaSink<string>({
      bootstrapServers: kafka.bootstrap,
      topic: "out",
      deliveryGuarantee: "exactly-once",
      transactionalIdPrefix: "p",
      serializer: () => ({ value: null }),
    });
    const store = new OperatorStateStore("sink");
    sink.initializeState({ operatorStateStore: store, isRestored: false });
    sink.invoke("a");
    sink.snapshotState({ checkpointId: 1 });
    const restored = new KafkaSink<string>({
      bootstrapServers: kafka.bootstrap,
      topic: "out",
      deliveryGuarantee: "exactly-once",
      transactionalIdPrefix: "p",
      serializer: () => ({ value: null }),
    });
    restored.initializeState({
      operatorStateStore: new OperatorStateStore("sink", store.snapshot()),
      isRestored: true,
    });
    await assert.rejects(
      () => restored.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "s" }),
      (e: Error) => e instanceof ConfigError && e.message.includes('"out.weir-transactions"'),
    );
    await restored.close();
    // A first start is checked too (a broker that creates topics on demand would make it wrong).
    const first = Object.create(sink) as typeof sink;
    first.initializeState({ operatorStateStore: new OperatorStateStore("s"), isRestored: false });
    await assert.rejects(
      () => first.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "s" }),
      (e: Error) => e instanceof ConfigError && e.message.includes('"out.weir-transactions"'),
    );
    await first.close();
  } finally {
    await kafka.stop();
  }
});

Deno.test("KafkaSink: a topic that does not exist fails the opening after metadataTimeoutMs, naming it; one the broker creates on demand is written", async () => {
  const kafka = await MockKafka.start(1);
  try {
    const open = async (topic: string, guarantee: DeliveryGuarantee, autoCreate: boolean) => {
      const sink = new KafkaSink<string>({
        bootstrapServers: kafka.bootstrap,
        topic,
        deliveryGuarantee: guarantee,
        transactionalIdPrefix: "missing",
        metadataTimeoutMs: 1_500,
        serializer: (v) => ({ value: KafkaSerializers.string(v) }),
        // The mock cluster creates any topic a metadata request names, whatever the client's
        // allow.auto.create.topics: false here has the sink only list the cluster's topics.
        properties: autoCreate ? {} : { "allow.auto.create.topics": false },
      });
      const s = Object.create(sink) as typeof sink;
      s.initializeState({ operatorStateStore: new OperatorStateStore("s"), isRestored: false });
      try {
        await s.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "s" });
      } catch (e) {
        await s.close();
        throw e;
      }
      return s;
    };
    for (const guarantee of ["at-least-once", "exactly-once"] as const) {
      const started = Date.now();
      await assert.rejects(
        () => open("missing", guarantee, false),
        (e: Error) =>
          e instanceof ConfigError &&
          /the topic "missing" does not exist at [\d.:,]+ .*after 1500 ms, metadataTimeoutMs/
            .test(e.message),
        guarantee,
      );
      assert.ok(Date.now() - started < 5_000, `${guarantee}: failed within the timeout`);
    }
    // With auto-creation (a producer's default) the broker makes the topic; the sink writes to it.
    const s = await open("created", "at-least-once", true);
    s.invoke("x");
    await s.finish();
    await s.close();
    assert.deepEqual((await readTopic(kafka.bootstrap, "created")).map((r) => r.value), [
      KafkaSerializers.string("x"),
    ]);
  } finally {
    await kafka.stop();
  }
});

// What the crash test's checker has to make up for: librdkafka 2.0.2's mock cluster
// shows records of aborted transactions to read_committed consumers. If a later
// librdkafka fixes this, this test fails and the checker can drop its filtering.
Deno.test("mock cluster: read_committed still shows aborted records (librdkafka 2.0.2)", async () => {
  const kafka = await cluster();
  try {
    const p = KafkaProducer.create({
      "bootstrap.servers": kafka.bootstrap,
      "transactional.id": "m",
    });
    await p.initTransactions(10_000);
    p.beginTransaction();
    p.produce("out", new TextEncoder().encode("aborted"), null, 0);
    await p.flush(10_000);
    await p.abortTransaction(10_000);
    await p.close();
    const seen = await readTopic(kafka.bootstrap, "out");
    assert.equal(seen.length, 1);
  } finally {
    await kafka.stop();
  }
});

Deno.test("KafkaSink: records carry the element's timestamp (or the serializer's, or none) and the serializer's headers, in every guarantee", async () => {
  for (const guarantee of ["none", "at-least-once", "exactly-once"] as const) {
    const kafka = await cluster();
    try {
      const sink = new KafkaSink<{ v: string; ts?: number | null }>({
        bootstrapServers: kafka.bootstrap,
        topic: "out",
        deliveryGuarantee: guarantee,
        transactionalIdPrefix: "ts",
        serializer: (e) => ({
          value: KafkaSerializers.string(e.v),
          ...(e.ts === undefined ? {} : { timestamp: e.ts }),
          headers: [["origin", KafkaSerializers.string(`from-${e.v}`)], ["empty", null]],
        }),
      });
      const store = new OperatorStateStore("sink");
      const s = Object.create(sink) as typeof sink;
      s.initializeState({ operatorStateStore: store, isRestored: false });
      await s.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "sink" });
      const before = Date.now();
      s.invoke({ v: "element" }, 1_000); // the element's event time
      s.invoke({ v: "own", ts: 2_000 }, 1_000); // the serializer's wins
      s.invoke({ v: "none", ts: null }, 1_000); // none: the producer's time
      s.invoke({ v: "bare" }, undefined);
      if (guarantee === "exactly-once") {
        s.snapshotState({ checkpointId: 1 });
        s.notifyCheckpointComplete(1);
      }
      await s.finish();
      await s.close();
      const got = new Map(
        (await readTopic(kafka.bootstrap, "out")).map((
          r,
        ) => [new TextDecoder().decode(r.value!), r]),
      );
      assert.equal(got.get("element")!.timestamp, 1_000, guarantee);
      assert.equal(got.get("own")!.timestamp, 2_000, guarantee);
      for (const v of ["none", "bare"]) {
        assert.ok(got.get(v)!.timestamp >= before - 1_000, `${guarantee} ${v}: the send time`);
      }
      const headers = got.get("own")!.headers.filter(([n]) => n !== "weir.txn")
        .map(([n, v]) => [n, v === null ? null : new TextDecoder().decode(v)]);
      assert.deepEqual(headers, [["origin", "from-own"], ["empty", null]], guarantee);
    } finally {
      await kafka.stop();
    }
  }
});

Deno.test("KafkaSink: a record Kafka cannot take from the serializer (a string for bytes, a partition of -1) fails at the write naming the field, in every guarantee", () => {
  const bytes = new Uint8Array([1]);
  const cases: [unknown, RegExp][] = [
    [{ value: "abc" }, /gave the value string "abc"; it must be a Uint8Array or null/],
    [{ key: "k", value: bytes }, /gave the key string "k"; it must be a Uint8Array or null/],
    [{ value: [1, 2] }, /gave the value Array \[1,2\]/],
    [{ key: bytes }, /gave the value undefined/],
    // librdkafka would pick a partition by key for -1, and a string header would become other bytes.
    [{ value: bytes, partition: -1 }, /gave the partition number -1; it must be an integer ≥ 0/],
    [{ value: bytes, partition: 1.5 }, /gave the partition number 1.5/],
    [{ value: bytes, headers: [["h", "x"]] }, /gave the header "h" the value string "x"/],
    [{ value: bytes, headers: [[1, bytes]] }, /gave the header Array \[1,/],
    [undefined, /gave the record undefined/],
  ];
  for (const guarantee of ["none", "at-least-once", "exactly-once"] as const) {
    for (const [record, message] of cases) {
      const sink = new KafkaSink<number>({
        bootstrapServers: "127.0.0.1:9",
        topic: "out",
        deliveryGuarantee: guarantee,
        transactionalIdPrefix: "bad",
        serializer: () => record as never,
      });
      const s = Object.create(sink) as typeof sink;
      s.initializeState({ operatorStateStore: new OperatorStateStore("sink"), isRestored: false });
      // Refused before anything is sent or buffered: no broker is needed.
      assert.throws(
        () => s.invoke(1, 1_000),
        (e) => e instanceof SerializationError && message.test(e.message),
        `${guarantee} ${JSON.stringify(record)}`,
      );
    }
  }
});

Deno.test('KafkaSink: a timestamp the serializer gives as a string ("1000") is a ConfigError that shows it quoted, not "gave the timestamp 1000"', () => {
  for (const guarantee of ["none", "at-least-once", "exactly-once"] as const) {
    const sink = new KafkaSink<number>({
      bootstrapServers: "127.0.0.1:9",
      topic: "out",
      deliveryGuarantee: guarantee,
      transactionalIdPrefix: "str",
      serializer: () => ({ value: new Uint8Array([1]), timestamp: "1000" as unknown as number }),
    });
    const s = Object.create(sink) as typeof sink;
    s.initializeState({ operatorStateStore: new OperatorStateStore("sink"), isRestored: false });
    // Refused before anything is sent or buffered: no broker is needed.
    assert.throws(
      () => s.invoke(1, 1_000),
      (e) =>
        e instanceof ConfigError &&
        e.message.startsWith('Kafka sink: the serializer gave the timestamp string "1000";'),
      guarantee,
    );
  }
});

Deno.test("KafkaSink: a negative element timestamp is written as none, and a negative one from the serializer is refused, as Flink and Kafka's producer do", async () => {
  const kafka = await MockKafka.start(1);
  try {
    for (const guarantee of ["none", "at-least-once", "exactly-once"] as const) {
      const topic = `neg-${guarantee}`;
      await kafka.createTopic(topic, 1);
      await kafka.createTopic(`${topic}.weir-transactions`, 1);
      const sink = new KafkaSink<{ v: string; ts?: number }>({
        bootstrapServers: kafka.bootstrap,
        topic,
        deliveryGuarantee: guarantee,
        transactionalIdPrefix: topic,
        serializer: (e) => ({
          value: KafkaSerializers.string(e.v),
          ...(e.ts === undefined ? {} : { timestamp: e.ts }),
        }),
      });
      const s = Object.create(sink) as typeof sink;
      s.initializeState({ operatorStateStore: new OperatorStateStore("sink"), isRestored: false });
      await s.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "sink" });
      const before = Date.now();
      // Event time before 1970 (or Flink's Long.MIN_VALUE): Kafka would read -1 as none and
      // Kafka Streams' default extractor fails on the others.
      s.invoke({ v: "minus-five" }, -5);
      s.invoke({ v: "minus-one" }, -1);
      assert.throws(
        () => s.invoke({ v: "own", ts: -5 }, 1_000),
        (e) => e instanceof ConfigError && /the serializer gave the timestamp -5/.test(e.message),
        guarantee,
      );
      if (guarantee === "exactly-once") {
        s.snapshotState({ checkpointId: 1 });
        s.notifyCheckpointComplete(1);
      }
      await s.finish();
      await s.close();
      const got = await readTopic(kafka.bootstrap, topic);
      assert.deepEqual(
        got.map((r) => new TextDecoder().decode(r.value!)),
        ["minus-five", "minus-one"],
        guarantee,
      );
      for (const r of got) assert.ok(r.timestamp >= before - 1_000, `${guarantee}: the send time`);
    }
  } finally {
    await kafka.stop();
  }
});

/**
 * An opened at-least-once sink (state in `store`) that was given one record for partition 3 of
 * "out" that the broker refuses (the mock fails the next Produce request with
 * MSG_SIZE_TOO_LARGE): its delivery fails. librdkafka took it, so only the delivery report
 * tells.
 */
async function sinkOfOneLostRecord(
  kafka: MockKafka,
  store: OperatorStateStore,
): Promise<KafkaSink<string>> {
  const sink = new KafkaSink<string>({
    bootstrapServers: kafka.bootstrap,
    topic: "out",
    serializer: (v) => ({ value: KafkaSerializers.string(v), partition: 3 }),
  });
  const s = Object.create(sink) as typeof sink;
  s.initializeState({ operatorStateStore: store, isRestored: false });
  await s.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "sink" });
  await kafka.command("errors 0 10"); // ApiKey 0: Produce
  s.invoke("x", undefined);
  return s;
}

Deno.test("KafkaSink: a delivery that fails names the topic, partition, servers and librdkafka's reason; empty servers or topic are refused", async () => {
  const kafka = await cluster();
  try {
    const s = await sinkOfOneLostRecord(kafka, new OperatorStateStore("sink"));
    await assert.rejects(
      () => s.finish(),
      /Kafka sink: a record to "out" partition 3 at [\d.:,]+ failed: Broker: Message size too large/,
    );
    await assert.rejects(() => s.close(), /Message size too large/); // the failure stands
  } finally {
    await kafka.stop();
  }
  const serializer = (v: string) => ({ value: KafkaSerializers.string(v) });
  assert.throws(
    () => new KafkaSink({ bootstrapServers: "", topic: "t", serializer }),
    /KafkaSink: bootstrapServers must be "host:port,…", got ""/,
  );
  assert.throws(
    () => new KafkaSink({ bootstrapServers: "h:1", topic: "", serializer }),
    /KafkaSink: topic must be a topic name, got ""/,
  );
  assert.throws(
    () =>
      new KafkaSink({
        bootstrapServers: "h:1",
        topic: "t",
        serializer,
        properties: { "bootstrap.servers": "other:1" },
      }),
    /must not set bootstrap\.servers/,
  );
});

Deno.test("KafkaSink at-least-once: a delivery that fails before a checkpoint declines it, so the record is not lost", async () => {
  const kafka = await cluster();
  try {
    const store = new OperatorStateStore("sink");
    const s = await sinkOfOneLostRecord(kafka, store);
    const pending = new ListStateDescriptor<{ pending: { records: unknown[] }[] }>(
      "kafka-sink-pending",
      Serializers.json as never,
    );
    // Each checkpoint either holds the record (not delivered yet) or is declined (it failed).
    let declined: unknown;
    for (let id = 1; declined === undefined; id++) {
      try {
        s.snapshotState({ checkpointId: id });
      } catch (e) {
        declined = e;
        break;
      }
      const taken = new OperatorStateStore("sink", store.snapshot()).getUnionListState(pending);
      const records = (taken.get() ?? []).flatMap((e) => e.pending.flatMap((p) => p.records));
      assert.equal(records.length, 1, `checkpoint ${id} holds neither the record nor a failure`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(
      String(declined),
      /a record to "out" partition 3 .* failed: Broker: Message size too large/,
    );
    await assert.rejects(() => s.close(), /Message size too large/);
  } finally {
    await kafka.stop();
  }
});

/** A sink for "out" whose producer takes records of at most 1000 bytes (librdkafka's least). */
async function smallRecordSink(kafka: MockKafka, guarantee: DeliveryGuarantee) {
  const sink = new KafkaSink<{ v: string; partition?: number }>({
    bootstrapServers: kafka.bootstrap,
    topic: "out",
    deliveryGuarantee: guarantee,
    transactionalIdPrefix: "small",
    properties: { "message.max.bytes": 1000 },
    serializer: ({ v, partition }) => ({
      value: KafkaSerializers.string(v),
      ...(partition === undefined ? {} : { partition }),
    }),
  });
  const s = Object.create(sink) as typeof sink;
  s.initializeState({ operatorStateStore: new OperatorStateStore("sink"), isRestored: false });
  await s.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "sink" });
  return s;
}

Deno.test("KafkaSink: a record the client refuses (over message.max.bytes, a partition the topic lacks) fails at the write, naming the topic, partition and reason, in every guarantee", async () => {
  const kafka = await cluster();
  try {
    const big = "x".repeat(2_000);
    for (const guarantee of ["none", "at-least-once", "exactly-once"] as const) {
      const s = await smallRecordSink(kafka, guarantee);
      s.invoke({ v: "fits", partition: 1 });
      assert.throws(
        () => s.invoke({ v: big, partition: 1 }),
        /^KafkaError: Kafka sink: a record to "out" partition 1 at [\d.:,]+ was refused: Broker: Message size too large/,
        guarantee,
      );
      // The failure stands: nothing more is taken, and no checkpoint completes with it.
      assert.throws(() => s.invoke({ v: "after" }), /was refused/, guarantee);
      if (guarantee !== "none") {
        assert.throws(() => s.snapshotState({ checkpointId: 1 }), /was refused/, guarantee);
      }
      await assert.rejects(() => s.close(), /was refused/, guarantee);
    }
    // Exactly-once writes nothing before its checkpoint completes, so it checks the partition
    // against the topic's (4) itself.
    const s = await smallRecordSink(kafka, "exactly-once");
    assert.throws(
      () => s.invoke({ v: "y", partition: 7 }),
      /a record to "out" partition 7 at [\d.:,]+ was refused: Local: Unknown partition \(the topic has 4\)/,
    );
    await assert.rejects(() => s.close(), /Unknown partition/);
  } finally {
    await kafka.stop();
  }
});

Deno.test("KafkaSink exactly-once in a job: a record over message.max.bytes fails the job before a checkpoint holding it completes; the restore writes each record once", async () => {
  const kafka = await cluster();
  const dir = await Deno.makeTempDir({ prefix: "weir-kafka-refused-" });
  try {
    const seen: string[] = [];
    const run = (restore: boolean, maxBytes: number) => {
      const src = new QueueSource<string>("words");
      const env = StreamEnvironment.create({
        parallelism: 1,
        checkpoint: { dir, retained: 3 },
        ...(restore ? { restore: "latest" } : {}),
        restartStrategy: { kind: "none" },
        log: () => {},
      });
      env.addSource(src, { uid: "src" }).map((v) => (seen.push(v), v), { uid: "seen" }).addSink(
        new KafkaSink<string>({
          bootstrapServers: kafka.bootstrap,
          topic: "out",
          deliveryGuarantee: "exactly-once",
          transactionalIdPrefix: "refused",
          properties: { "message.max.bytes": maxBytes },
          serializer: (v) => ({ value: KafkaSerializers.string(v) }),
        }),
        { uid: "sink" },
      );
      return { src, client: env.executeAsync("refused") };
    };
    const big = "b".repeat(2_000);
    const first = run(false, 1_000);
    first.src.push("a", "b");
    await until(() => seen.length === 2, "a and b past the source"); // the barrier follows them
    await first.client.triggerCheckpoint();
    first.src.push(big, "c");
    await until(() => seen.includes(big), "the big record at the sink");
    // It failed the job at the write: a checkpoint after it (that would hold it) never completes.
    await assert.rejects(first.client.triggerCheckpoint());
    await assert.rejects(
      first.client.done,
      /a record to "out" at [\d.:,]+ was refused: Broker: Message size too large/,
    );
    // A restore (its producer now takes the record) goes back to the checkpoint before it;
    // the source sends what came after that checkpoint again.
    const second = run(true, 1_000_000);
    second.src.push(big, "c");
    second.src.end();
    await second.client.done;
    assert.deepEqual(await values(kafka, true), ["a", "b", big, "c"].toSorted());
  } finally {
    await kafka.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KafkaSink exactly-once in a job: its checkpoints count as committed output, so --restore latest refuses to fall back past a damaged one (duplicates in Kafka)", async () => {
  const kafka = await cluster();
  const dir = await Deno.makeTempDir({ prefix: "weir-kafka-fallback-" });
  try {
    const run = (guarantee: DeliveryGuarantee, restore: boolean) => {
      const src = new QueueSource<string>("words");
      const env = StreamEnvironment.create({
        parallelism: 1,
        checkpoint: { dir: `${dir}/${guarantee}`, retained: 2, retainOnCancellation: true },
        ...(restore ? { restore: "latest" } : {}),
        restartStrategy: { kind: "none" },
        log: () => {},
      });
      env.addSource(src, { uid: "src" }).addSink(
        new KafkaSink<string>({
          bootstrapServers: kafka.bootstrap,
          topic: "out",
          deliveryGuarantee: guarantee,
          transactionalIdPrefix: "fallback",
          serializer: (v) => ({ value: KafkaSerializers.string(v) }),
        }),
        { uid: "sink" },
      );
      return { src, client: env.executeAsync("fallback") };
    };
    for (const guarantee of ["exactly-once", "at-least-once"] as const) {
      const first = run(guarantee, false);
      first.src.push("a");
      await until(() => first.src.emitted === 1, "a read");
      const c1 = await first.client.triggerCheckpoint();
      first.src.push("b");
      await until(() => first.src.emitted === 2, "b read");
      const c2 = await first.client.triggerCheckpoint();
      first.client.cancel();
      await first.client.done;
      const exactlyOnce = guarantee === "exactly-once";
      assert.equal(c1.manifest.transactionalOutput, exactlyOnce, guarantee);
      assert.equal(c2.manifest.transactionalOutput, exactlyOnce, guarantee);
      // Checkpoint 2 committed "b" to Kafka; restoring checkpoint 1 would write it again.
      Deno.removeSync(`${dir}/${guarantee}/chk-${c2.manifest.checkpointId}/_metadata`);
      if (exactlyOnce) {
        assert.throws(() => run(guarantee, true), /Refusing to restore checkpoint 1/);
      } else {
        // At least once, duplicates are allowed: the fallback goes on.
        const again = run(guarantee, true);
        again.src.end();
        await again.client.done;
      }
    }
  } finally {
    await kafka.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KafkaSink and KafkaSource: a misspelt option is a ConfigError naming it, not at-least-once or the default offsets in force", () => {
  const serializer = (v: string) => ({ value: KafkaSerializers.string(v) });
  assert.throws(
    () =>
      new KafkaSink({
        bootstrapServers: "h:1",
        topic: "t",
        serializer,
        deliveryGuarante: "exactly-once",
      } as never),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        'KafkaSink: unknown option "deliveryGuarante" (did you mean "deliveryGuarantee"?)',
  );
  assert.throws(
    () =>
      new KafkaSource({
        bootstrapServers: "h:1",
        topics: ["t"],
        deserializer: (r: { value: Uint8Array | null }) => r.value,
        startingOffset: "latest",
      } as never),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        'KafkaSource: unknown option "startingOffset" (did you mean "startingOffsets"?)',
  );
});
