/**
 * Batches and latency: a busy task keeps partial batches until it waits or
 * yields, so a record that does not fill a batch still reaches its consumer
 * within about one yield interval (10 ms), not when the batch is full.
 */
import assert from "node:assert/strict";
import { type Source, StreamEnvironment } from "../mod.ts";

Deno.test("batches: a record of a slow, busy source reaches its keyed consumer within a yield, not when its batch is full", async () => {
  const perSubtask = 1500;
  // Busy, never idle: one record a poll, 0.1 ms apart. A batch (4096 records) would take
  // longer than the whole run to fill.
  const source: Source<{ key: number; at: number }> = {
    name: "slow",
    createReader() {
      let n = 0;
      return {
        poll(out) {
          const until = performance.now() + 0.1;
          while (performance.now() < until) { /* a record's work */ }
          out.collect({ key: n % 10, at: performance.now() });
          return ++n < perSubtask ? "more" : "end";
        },
        position: () => n,
        restore(p) {
          n = p as number;
        },
      };
    },
  };
  const env = StreamEnvironment.create({ parallelism: 2, executor: "inline" });
  const waits: number[] = [];
  env.addSource(source)
    .keyBy((r) => r.key)
    .map((r) => waits.push(performance.now() - r.at))
    .addSink({ invoke() {} });
  await env.execute("batch latency");
  assert.equal(waits.length, 2 * perSubtask);
  const sorted = waits.toSorted((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  // Each source subtask runs about 150 ms on a thread the two share: batches held to the end
  // would make the median wait well over 100 ms.
  assert.ok(median < 40, `median wait ${median.toFixed(1)} ms`);
});
