import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { ArraySource, IterableSource } from "./collection_source.ts";
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

Deno.test("ArraySource's state is each subtask's index splits; restored at any parallelism, every item is read once", () => {
  const items = Array.from({ length: 1000 }, (_, i) => i);
  const source = new ArraySource(items);
  const readers = (p: number) =>
    Array.from(
      { length: p },
      (_, i) => source.createReader({ subtaskIndex: i, parallelism: p, now: () => 0 }),
    );
  const drain = (r: ReturnType<typeof readers>[number], max = Infinity) => {
    const out: number[] = [];
    while (
      out.length < max &&
      r.poll({ collect: (v) => out.push(v) }, Math.min(7, max - out.length)) !== "end"
    );
    return out;
  };
  for (let p = 1; p <= 4; p++) {
    for (let q = 1; q <= 4; q++) {
      // Each subtask of p reads a different share before the checkpoint.
      const first = readers(p);
      const heads = first.map((r, i) => drain(r, 50 * (i + 1)));
      assert.deepEqual(heads[0]!.slice(0, 3), [0, p, 2 * p], "subtask 0 reads 0, p, 2p, …");
      const saved = first.flatMap((r) => r.snapshotSplits(1));
      const restored = readers(q);
      const rest = restored.map((r) => {
        r.restoreSplits(structuredClone(saved));
        return drain(r);
      });
      for (const part of rest) {
        assert.deepEqual(part, part.toSorted((a, b) => a - b), "a subtask's items in index order");
      }
      assert.ok(rest.every((part) => part.length > 0), `p ${p} → ${q}: every subtask reads`);
      assert.deepEqual(
        [...heads.flat(), ...rest.flat()].toSorted((a, b) => a - b),
        items,
        `p ${p} → ${q}`,
      );
    }
  }
  // A position of the weir that kept one per subtask: items emitted, at the same parallelism.
  const legacy = readers(2)[1]!;
  legacy.restore(3);
  assert.deepEqual(drain(legacy, 2), [7, 9]);
  assert.throws(() => legacy.restore(-1), ConfigError);
  assert.throws(
    () => readers(1)[0]!.restoreSplits([{ stride: 0, next: 1 }]),
    /fromCollection cannot resume: a checkpointed split is not a sequence split/,
  );
});

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

Deno.test("IterableSource: a job restarted over a one-shot iterator (a generator object) fails naming it, instead of losing items", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const env = StreamEnvironment.create({
      checkpoint: { dir },
      restartStrategy: { kind: "fixed-delay", attempts: 3, delayMs: 0 },
      log: () => {},
    });
    const numbers = function* () {
      for (let i = 0; i < 100; i++) yield i;
    };
    let failed = false;
    const sink = new CollectSink<number>();
    env.fromCollection(numbers()).map((n) => {
      if (n === 10 && !failed) {
        failed = true;
        throw new Error("once");
      }
      return n;
    }).addSink(sink);
    await assert.rejects(
      () => env.execute("one-shot"),
      /fromCollection cannot read its iterator again after a restart: it is a one-shot iterator/,
    );
    // An iterable that starts over is read again: every item once.
    failed = false;
    const again = StreamEnvironment.create({
      checkpoint: { dir: `${dir}/again` },
      restartStrategy: { kind: "fixed-delay", attempts: 3, delayMs: 0 },
      log: () => {},
    });
    const all = new CollectSink<number>();
    again.fromCollection({ [Symbol.iterator]: numbers }).map((n) => {
      if (n === 10 && !failed) {
        failed = true;
        throw new Error("once");
      }
      return n;
    }).addSink(all);
    await again.execute("starts over");
    // No checkpoint completed before the failure: the restart reads from the start again.
    assert.deepEqual(
      [...new Set(all.values)].toSorted((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fromCollection and IterableSource: what is not an array or an iterable is a ConfigError naming it, not a TypeError at the first poll", () => {
  const env = StreamEnvironment.create({ parallelism: 1 });
  const cases: [unknown, string][] = [
    [null, "null"],
    [undefined, "undefined"],
    [5, "the number 5"],
    ["a b", 'the string "a b" (for one string record: fromElements(s))'],
    [{ length: 2 }, "an object that is not iterable"],
  ];
  for (const [items, got] of cases) {
    const tail = `needs an array, an iterable or an async iterable, got ${got}`;
    assert.throws(
      () => env.fromCollection(items as never),
      (e) => e instanceof ConfigError && e.message === `fromCollection ${tail}`,
    );
    assert.throws(
      () => new IterableSource(items as never),
      (e) => e instanceof ConfigError && e.message === `IterableSource ${tail}`,
    );
  }
  // Sets, maps' views and async iterables are read as before.
  assert.doesNotThrow(() => env.fromCollection(new Set([1]).values()));
});
