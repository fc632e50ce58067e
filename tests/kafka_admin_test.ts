/**
 * A Kafka source in the admin API: the job detail lists each source's splits
 * (partitions) with their positions, and `/metrics` has records, bytes and lag
 * per partition.
 */
import assert from "node:assert/strict";
import { createAdminApp } from "../core/admin/app.ts";
import { jobClientRuntime } from "../core/admin/runtime.ts";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import type { SinkFunction } from "../core/connectors/sink.ts";
import { KafkaSource } from "../core/connectors/kafka/kafka_source.ts";
import { KafkaProducer } from "../core/connectors/kafka/producer.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";
import { MockKafka } from "./_helpers/kafka_mock.ts";

Deno.test("admin API: a Kafka source's partitions, positions, records, bytes and lag", async () => {
  const kafka = await MockKafka.start();
  try {
    await kafka.createTopic("clicks", 3);
    const p = KafkaProducer.create({ "bootstrap.servers": kafka.bootstrap });
    const enc = new TextEncoder();
    for (let i = 0; i < 30; i++) p.produce("clicks", enc.encode(`v${i}`), null, i % 3);
    await p.flush(10_000);
    await p.close();
    const env = StreamEnvironment.create({ parallelism: 2, log: () => {} });
    const sink = new CollectSink<number>();
    env.addSource(
      new KafkaSource({
        bootstrapServers: kafka.bootstrap,
        topics: ["clicks"],
        deserializer: (r) => r.offset,
      }),
      { uid: "clicks" },
    ).addSink(sink);
    const client = env.executeAsync("kafka admin");
    const app = createAdminApp(jobClientRuntime(client));
    await until(() => sink.values.length === 30, "records read");
    const jobs = await (await app.request("/jobs")).json();
    const detail = await (await app.request(`/jobs/${jobs.jobs[0].id}`)).json();
    const source = detail.vertices.find((v: { uid: string }) => v.uid === "clicks");
    const splits = source.splits as { id: string; position: number; subtask: number }[];
    assert.deepEqual(splits.map((s) => `${s.id}@${s.position}`).toSorted(), [
      "clicks:0@10",
      "clicks:1@10",
      "clicks:2@10",
    ]);
    assert.deepEqual(new Set(splits.map((s) => s.subtask)), new Set([0, 1]));
    const metricsText = async () => await (await app.request("/metrics")).text();
    // Lag: the partition's end minus the position, refreshed every few seconds.
    const caughtUp = /weir_source_split_lag_records\{[^}]*split="clicks:0"[^}]*\} 0\n/;
    for (let i = 0; !caughtUp.test(await metricsText()); i++) {
      if (i > 200) assert.fail("no lag of 0 for a partition read to its end");
      await new Promise((r) => setTimeout(r, 50));
    }
    const metrics = await metricsText();
    for (const partition of [0, 1, 2]) {
      const labels = new RegExp(
        `weir_source_split_records_total\\{[^}]*operator_uid="clicks"[^}]*split="clicks:${partition}"[^}]*\\} 10\\n`,
      );
      assert.match(metrics, labels);
    }
    // 30 values of 2 or 3 bytes.
    const bytes = [...metrics.matchAll(/weir_source_split_bytes_total\{[^}]*\} (\d+)/g)]
      .reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(bytes, 10 * 2 + 20 * 3);
    client.cancel();
    await client.done;
  } finally {
    await kafka.stop();
  }
});

Deno.test("admin API: a Kafka source held back by its sink shows each partition's lag as its end minus its position", async () => {
  const kafka = await MockKafka.start();
  const perPartition = 4000;
  try {
    await kafka.createTopic("backlog", 2);
    const p = KafkaProducer.create({ "bootstrap.servers": kafka.bootstrap });
    const enc = new TextEncoder();
    for (let i = 0; i < 2 * perPartition; i++) p.produce("backlog", enc.encode("v"), null, i % 2);
    await p.flush(10_000);
    await p.close();
    const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
    let seen = 0;
    const gate = Promise.withResolvers<void>();
    // The sink waits after its first batch: the source stops reading with most of the topic left.
    const sink: SinkFunction<number> = {
      invoke: () => void seen++,
      flush: () => seen > 0 ? gate.promise : undefined,
    };
    env.addSource(
      new KafkaSource({
        bootstrapServers: kafka.bootstrap,
        topics: ["backlog"],
        deserializer: (r) => r.offset,
      }),
      { uid: "backlog" },
    ).addSink(sink);
    const client = env.executeAsync("kafka lag");
    const app = createAdminApp(jobClientRuntime(client));
    const splits = async () => {
      const jobs = await (await app.request("/jobs")).json();
      const detail = await (await app.request(`/jobs/${jobs.jobs[0].id}`)).json();
      const source = detail.vertices.find((v: { uid: string }) => v.uid === "backlog");
      return (source.splits ?? []) as { id: string; position: number; lag?: number }[];
    };
    let held: { id: string; position: number; lag?: number }[] = [];
    await until(() => seen > 0, "the first batch");
    for (let i = 0; held.length !== 2 || held.some((s) => s.lag === undefined); i++) {
      if (i > 200) assert.fail(`no lag for both partitions: ${JSON.stringify(held)}`);
      await new Promise((r) => setTimeout(r, 20));
      held = await splits();
    }
    for (const s of held) assert.equal(s.position + s.lag!, perPartition, JSON.stringify(s));
    const behind = held.reduce((n, s) => n + s.lag!, 0);
    assert.equal(behind, 2 * perPartition - seen, "lag is what the sink has not seen yet");
    assert.ok(behind > 0);
    const metrics = await (await app.request("/metrics")).text();
    for (const s of held) {
      assert.match(
        metrics,
        new RegExp(`weir_source_split_lag_records\\{[^}]*split="${s.id}"[^}]*\\} ${s.lag}\\n`),
      );
    }
    gate.resolve();
    await until(() => seen === 2 * perPartition, "the backlog read");
    const caughtUp = await splits();
    assert.deepEqual(caughtUp.map((s) => s.lag), [0, 0]);
    client.cancel();
    await client.done;
  } finally {
    await kafka.stop();
  }
});
