import assert from "node:assert/strict";
import { IterableSource } from "./collection_source.ts";
import { CollectSink } from "./collect_sink.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";

/** An async iterable fed by hand: `next()` stays pending until `push` (a live stream). */
function liveStream<T>(): { iterable: AsyncIterable<T>; push(v: T): void; end(): void } {
  const ready: IteratorResult<T>[] = [];
  let waiting: ((r: IteratorResult<T>) => void) | undefined;
  const deliver = (r: IteratorResult<T>) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(r);
    } else ready.push(r);
  };
  return {
    iterable: {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          const r = ready.shift();
          return r ? Promise.resolve(r) : new Promise((resolve) => waiting = resolve);
        },
      }),
    },
    push: (value) => deliver({ value, done: false }),
    end: () => deliver({ value: undefined, done: true }),
  };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 6_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

Deno.test("IterableSource over a live async iterable: a poll returns what is ready without waiting for more", async () => {
  const live = liveStream<number>();
  const reader = new IterableSource(live.iterable).createReader();
  live.push(1);
  live.push(2);
  const got: number[] = [];
  // The third item never comes during this poll: the poll returns the two it has.
  assert.equal(await reader.poll({ collect: (v) => got.push(v) }, 1024), "more");
  assert.deepEqual(got, [1, 2]);
  assert.equal(await reader.poll({ collect: (v) => got.push(v) }, 1024), "idle");
  live.push(3);
  live.end();
  let status = await reader.poll({ collect: (v) => got.push(v) }, 1024);
  while (status !== "end") status = await reader.poll({ collect: (v) => got.push(v) }, 1024);
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(reader.position(), 3);
});

Deno.test("IterableSource over a live async iterable: records pass a keyBy and a checkpoint completes while it waits", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const live = liveStream<string>();
    const env = StreamEnvironment.create({ parallelism: 2, checkpoint: { dir } });
    const sink = new CollectSink<string>();
    env.fromCollection(live.iterable).keyBy((w) => w).map((w: string) => w.toUpperCase())
      .addSink(sink);
    const client = env.executeAsync("live iterable");
    live.push("a");
    live.push("b");
    live.push("c");
    // Three records, far fewer than a batch: they reach the sink while the source waits.
    await until("three records at the sink", () => sink.values.length === 3);
    assert.deepEqual(sink.values.toSorted(), ["A", "B", "C"]);
    // The source's next() is pending: the checkpoint must not wait for it.
    const checkpoint = await client.triggerCheckpoint();
    assert.equal(checkpoint.manifest.kind, "checkpoint");
    live.push("d");
    live.end();
    await client.done;
    assert.deepEqual(sink.values.toSorted(), ["A", "B", "C", "D"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
