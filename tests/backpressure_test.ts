/**
 * Backpressure: a fast source feeding a slow sink through a bounded channel
 * runs in bounded memory. The channel never holds more than its capacity plus
 * one batch, and the heap does not grow with the number of records.
 */
import assert from "node:assert/strict";
import { Channel } from "../core/runtime/channel.ts";
import type { Job } from "../core/runtime/job.ts";
import { BATCH_SIZE } from "../core/runtime/outputs.ts";
import { type SinkFunction, type Source, StreamEnvironment } from "../mod.ts";

type Rec = { id: number; key: string };

interface Run {
  records: number;
  peakBuffered: number;
  peakHeapGrowth: number;
  timesFull: number;
  ms: number;
}

/** Runs source → rebalance → slow sink and samples memory and channel fill. */
async function run(total: number, channelCapacity: number, slowEvery: number): Promise<Run> {
  // deno-lint-ignore prefer-const -- assigned once the job starts, read by the samplers before
  let job: Job | undefined;
  let channels: Channel[] = [];
  let peakBuffered = 0;
  let timesFull = 0;
  const sampleChannels = () => {
    if (channels.length === 0 && job) {
      channels = job.tasks.flatMap((t) => (t.gate ? [...t.gate.channels] : []))
        .filter((c): c is Channel => c instanceof Channel);
    }
    for (const c of channels) {
      if (c.buffered > peakBuffered) peakBuffered = c.buffered;
      if (c.buffered >= c.capacity) timesFull++;
    }
  };
  const baseline = Deno.memoryUsage().heapUsed;
  let peakHeap = baseline;
  const sampleHeap = () => {
    const h = Deno.memoryUsage().heapUsed;
    if (h > peakHeap) peakHeap = h;
  };

  // A fast generator: each record is a fresh object (~50 bytes with its string).
  const source: Source<Rec> = {
    name: "fast",
    maxParallelism: 1,
    createReader() {
      let next = 0;
      return {
        poll(out, max) {
          for (let i = 0; i < max && next < total; i++, next++) {
            out.collect({ id: next, key: `k${next & 1023}` });
          }
          // A full batch was just pushed: the channel is at its fullest now, before the wait.
          sampleChannels();
          return next < total ? "more" : "end";
        },
        position: () => next,
        restore: () => {},
      };
    },
  };
  let received = 0;
  let batches = 0;
  let checksum = 0;
  const sink: SinkFunction<Rec> = {
    invoke(r) {
      received++;
      checksum += r.id & 7;
    },
    flush() {
      batches++;
      if (batches % 16 === 0) {
        sampleChannels();
        sampleHeap();
      }
      // Slow: sleep 1 ms every `slowEvery` batches.
      if (batches % slowEvery === 0) return new Promise((r) => setTimeout(r, 1));
    },
  };
  const env = StreamEnvironment.create({ channelCapacity });
  env.addSource(source).rebalance().addSink(sink);
  const start = performance.now();
  const client = env.executeAsync("backpressure");
  job = client.job;
  await client.done;
  assert.equal(received, total);
  // Every id arrived once: the sum of (id & 7) over 0..total-1 is fixed.
  assert.equal(checksum, Math.floor(total / 8) * 28 + [0, 0, 1, 3, 6, 10, 15, 21][total % 8]!);
  return {
    records: received,
    peakBuffered,
    peakHeapGrowth: peakHeap - baseline,
    timesFull,
    ms: performance.now() - start,
  };
}

const MB = 1024 * 1024;
const LONG = Deno.env.get("WEIR_LONG_TESTS") === "1";

Deno.test("backpressure: 10 million records through a slow sink stay within a fixed memory budget", async () => {
  const capacity = 8192;
  const r = await run(10_000_000, capacity, 8);
  console.log(
    `backpressure: ${r.records} records in ${
      r.ms.toFixed(0)
    } ms, peak buffered ${r.peakBuffered}, ` +
      `channel full ${r.timesFull}×, peak heap growth ${(r.peakHeapGrowth / MB).toFixed(1)} MB`,
  );
  // The sink was slow enough that the channel filled up: backpressure was exercised.
  assert.ok(r.timesFull > 0, "the channel never filled: the test did not exercise backpressure");
  assert.ok(r.peakBuffered <= capacity + BATCH_SIZE, `peak buffered ${r.peakBuffered}`);
  // Holding all 10M records (≥ 40 bytes each) would take ≥ 400 MB.
  assert.ok(r.peakHeapGrowth < 200 * MB, `heap grew ${(r.peakHeapGrowth / MB).toFixed(1)} MB`);
});

Deno.test("backpressure: the memory check detects an unbounded buffer", async () => {
  // The control: a channel too large to ever fill lets the source run ahead of
  // the slow sink, and the same measurements show it.
  const total = LONG ? 10_000_000 : 2_000_000;
  const r = await run(total, 1_000_000_000, 2);
  console.log(
    `no backpressure: ${r.records} records in ${
      r.ms.toFixed(0)
    } ms, peak buffered ${r.peakBuffered}, ` +
      `peak heap growth ${(r.peakHeapGrowth / MB).toFixed(1)} MB`,
  );
  assert.ok(r.peakBuffered > 20 * (8192 + BATCH_SIZE), `peak buffered ${r.peakBuffered}`);
  // ~2M queued records: well above what the bounded run needed for 10M.
  assert.ok(r.peakHeapGrowth > 50 * MB, `heap grew only ${(r.peakHeapGrowth / MB).toFixed(1)} MB`);
});
