/**
 * A Kafka source in the admin API: the job detail lists each source's splits
 * (partitions) with their positions, and `/metrics` has records, bytes and lag
 * per partition.
 */
import assert from "node:assert/strict";
import { createAdminApp } from "../core/admin/app.ts";
import { jobClientRuntime } from "../core/admin/runtime.ts";
import { CollectSink } from "../core/connectors/collect_sink.ts";
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
