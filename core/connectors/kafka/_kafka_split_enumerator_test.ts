import assert from "node:assert/strict";
import { ConfigError } from "../../errors.ts";
import type { SplitEnumeratorContext } from "../split_enumerator.ts";
import {
  type KafkaEnumeratorOptions,
  type KafkaPartitionLookup,
  KafkaSplitEnumerator,
  kafkaSplitOwner,
  type TopicPartition,
} from "./_kafka_split_enumerator.ts";
import type { KafkaSplit } from "./kafka_source.ts";

/**
 * An enumerator over a fake cluster: `topics` maps a topic to its partition
 * count and each partition's high watermark is 100. Discoveries run when the test
 * calls `discover()`, as the source coordinator would at the interval.
 */
function harness(
  options: Partial<KafkaEnumeratorOptions> & { parallelism: number },
  topics: Record<string, number>,
  restored?: unknown,
) {
  const events: string[] = [];
  /** Splits each subtask was sent, in order. */
  const got = new Map<number, KafkaSplit[]>();
  const registered = new Set<number>();
  const asked: { partitions: TopicPartition[]; initial: boolean }[] = [];
  let rerun: (() => Promise<void>) | undefined;
  let intervalMs: number | undefined;
  let closed = false;
  const ctx: SplitEnumeratorContext<KafkaSplit> = {
    parallelism: options.parallelism,
    registeredReaders: () => [...registered],
    assignSplits: (subtask, splits) => {
      got.set(subtask, [...(got.get(subtask) ?? []), ...splits]);
      for (const s of splits) events.push(`${subtask}:${s.topic}:${s.partition}@${s.offset}`);
    },
    signalNoMoreSplits: (subtask) => void events.push(`${subtask}:end`),
    callPeriodically: () => assert.fail("the Kafka enumerator discovers through callAsync"),
    callAsync: (work, handle, every) => {
      intervalMs = every;
      rerun = () => work().then(handle);
    },
    now: () => 0,
  };
  const lookup: KafkaPartitionLookup = {
    partitions: () =>
      Promise.resolve(
        Object.entries(topics).flatMap(([topic, n]) =>
          Array.from({ length: n }, (_, partition) => ({ topic, partition }))
        ),
      ),
    splits(partitions, initial) {
      asked.push({ partitions, initial });
      return Promise.resolve(partitions.map((tp) => ({
        ...tp,
        offset: initial ? 7 : 0,
        ...(options.bounded ? { stop: 100 } : {}),
      })));
    },
    close: () => Promise.resolve(void (closed = true)),
  };
  const enumerator = new KafkaSplitEnumerator(
    { bounded: options.bounded ?? false, discoveryIntervalMs: options.discoveryIntervalMs ?? 10 },
    ctx,
    lookup,
    restored,
  );
  return {
    enumerator,
    events,
    got,
    asked,
    register(...subtasks: number[]) {
      for (const s of subtasks) {
        registered.add(s);
        enumerator.addReader(s);
      }
    },
    /** Runs a discovery (fails if the enumerator scheduled none). */
    discover: () => (rerun ?? (() => Promise.reject(new Error("no discovery scheduled"))))(),
    scheduled: () => rerun !== undefined,
    intervalMs: () => intervalMs,
    closed: () => closed,
  };
}

/** Every split sent, as `topic:partition`, over all subtasks. */
const sentIds = (got: Map<number, KafkaSplit[]>) =>
  [...got.values()].flat().map((s) => `${s.topic}:${s.partition}`);

Deno.test("KafkaSplitEnumerator assigns each discovered partition to its owner, with the configured starting offsets", async () => {
  const h = harness({ parallelism: 3 }, { orders: 4, clicks: 2 });
  h.register(0, 1, 2);
  h.enumerator.start();
  assert.equal(h.intervalMs(), 10);
  await h.discover();
  assert.equal(h.asked.length, 1);
  assert.equal(h.asked[0]!.initial, true);
  for (const [subtask, splits] of h.got) {
    for (const s of splits) assert.equal(kafkaSplitOwner(s.topic, s.partition, 3), subtask);
    assert.ok(splits.every((s) => s.offset === 7));
  }
  assert.deepEqual(sentIds(h.got).toSorted(), [
    "clicks:0",
    "clicks:1",
    "orders:0",
    "orders:1",
    "orders:2",
    "orders:3",
  ]);
  assert.ok(!h.events.some((e) => e.endsWith(":end")), "unbounded readers never end");
});

Deno.test("KafkaSplitEnumerator: partitions added while running reach exactly one reader, from their start", async () => {
  const topics: Record<string, number> = { orders: 2 };
  const h = harness({ parallelism: 2 }, topics);
  h.register(0, 1);
  h.enumerator.start();
  await h.discover();
  await h.discover(); // nothing new: nothing sent, no offsets looked up
  assert.equal(h.asked.length, 1);
  topics.orders = 5;
  topics.clicks = 1;
  await h.discover();
  assert.deepEqual(h.asked[1], {
    initial: false,
    partitions: [
      { topic: "orders", partition: 2 },
      { topic: "orders", partition: 3 },
      { topic: "orders", partition: 4 },
      { topic: "clicks", partition: 0 },
    ],
  });
  await h.discover();
  const ids = sentIds(h.got);
  assert.equal(new Set(ids).size, ids.length, "no partition sent twice");
  assert.equal(ids.length, 6);
  const late = [...h.got.values()].flat().filter((s) => s.topic === "clicks" || s.partition >= 2);
  assert.ok(late.every((s) => s.offset === 0), "new partitions start at their earliest offset");
  const state = h.enumerator.snapshotState();
  assert.deepEqual(
    state.assigned.map((tp) => `${tp.topic}:${tp.partition}`).toSorted(),
    ids.toSorted(),
  );
  assert.deepEqual(state.pending, []);
});

Deno.test("KafkaSplitEnumerator keeps a partition whose reader has not registered in its state, and sends it on registration", async () => {
  const h = harness({ parallelism: 2 }, { t: 4 });
  h.register(1);
  h.enumerator.start();
  await h.discover();
  assert.deepEqual([...h.got.keys()], [1]);
  const state = h.enumerator.snapshotState();
  assert.equal(state.pending.length, 2);
  assert.ok(state.pending.every((s) => kafkaSplitOwner(s.topic, s.partition, 2) === 0));
  assert.equal(state.assigned.length, 2);
  h.register(0);
  assert.equal(h.got.get(0)!.length, 2);
  assert.deepEqual(h.enumerator.snapshotState().pending, []);
});

Deno.test("KafkaSplitEnumerator restored at another parallelism assigns every partition exactly once, from its offset", async () => {
  // A run at parallelism 2 over 5 partitions; its readers read a little.
  const first = harness({ parallelism: 2 }, { t: 5 });
  first.register(0, 1);
  first.enumerator.start();
  await first.discover();
  const readerSplits = [...first.got.values()].flat().map((s) => ({
    ...s,
    offset: 10 + s.partition,
  }));
  const state = JSON.parse(JSON.stringify(first.enumerator.snapshotState()));
  for (const parallelism of [1, 3]) {
    const topics = { t: 5, u: 1 }; // "u" appeared while the job was stopped
    const h = harness({ parallelism }, topics, state);
    h.enumerator.addSplitsBack(readerSplits, -1);
    h.enumerator.start();
    h.register(...Array.from({ length: parallelism }, (_, i) => i));
    await h.discover();
    const ids = sentIds(h.got);
    assert.deepEqual(ids.toSorted(), ["t:0", "t:1", "t:2", "t:3", "t:4", "u:0"]);
    for (const [subtask, splits] of h.got) {
      for (const s of splits) {
        assert.equal(kafkaSplitOwner(s.topic, s.partition, parallelism), subtask);
        assert.equal(s.offset, s.topic === "t" ? 10 + s.partition : 0);
      }
    }
    assert.deepEqual(h.asked, [{ initial: false, partitions: [{ topic: "u", partition: 0 }] }]);
  }
});

Deno.test("KafkaSplitEnumerator bounded: one discovery, then no more splits for every reader; a restore keeps the stops and discovers nothing", async () => {
  const h = harness({ parallelism: 2, bounded: true }, { t: 3 });
  h.register(0);
  h.enumerator.start();
  assert.equal(h.intervalMs(), undefined, "bounded: no periodic discovery");
  assert.equal(h.events.length, 0, "no reader ends before the first discovery");
  await h.discover();
  assert.equal(h.events.at(-1), "0:end", "after its splits");
  assert.ok(h.got.get(0)!.every((s) => s.stop === 100));
  h.register(1);
  assert.deepEqual(h.events.slice(-1), ["1:end"]);
  assert.ok(h.events.indexOf("1:end") > h.events.findIndex((e) => e.startsWith("1:t:")));

  const restored = harness({ parallelism: 3, bounded: true }, { t: 3, late: 2 }, {
    ...h.enumerator.snapshotState(),
  });
  restored.enumerator.addSplitsBack([...h.got.values()].flat(), -1);
  restored.enumerator.start();
  assert.ok(!restored.scheduled(), "a restored bounded job does not discover");
  restored.register(0, 1, 2);
  assert.deepEqual(sentIds(restored.got).toSorted(), ["t:0", "t:1", "t:2"]);
  assert.deepEqual(restored.events.filter((e) => e.endsWith("end")).toSorted(), [
    "0:end",
    "1:end",
    "2:end",
  ]);
});

Deno.test("KafkaSplitEnumerator restored from a checkpoint taken before its first discovery discovers with the starting offsets", async () => {
  const h = harness({ parallelism: 1, bounded: true }, { t: 1 }, {
    assigned: [],
    pending: [],
    initialDiscoveryDone: false,
  });
  h.register(0);
  h.enumerator.start();
  await h.discover();
  assert.deepEqual(h.events, ["0:t:0@7", "0:end"]);
  await h.enumerator.close();
  assert.ok(h.closed());
});

Deno.test("KafkaSplitEnumerator given back splits of a checkpoint without enumerator state counts them as read", () => {
  const h = harness({ parallelism: 1, bounded: true }, { t: 2 });
  h.enumerator.addSplitsBack([{ topic: "t", partition: 0, offset: 3, stop: 9 }], -1);
  h.enumerator.start();
  h.register(0);
  assert.ok(!h.scheduled());
  assert.deepEqual(h.events, ["0:t:0@3", "0:end"]);
});

Deno.test("KafkaSplitEnumerator rejects a state or split that is not its own, naming it", () => {
  assert.throws(() => harness({ parallelism: 1 }, {}, { listed: [] }), ConfigError);
  assert.throws(
    () =>
      harness({ parallelism: 1 }, {}, {
        assigned: [],
        pending: [{ topic: "t" }],
        initialDiscoveryDone: true,
      }),
    /not \{ topic, partition, offset, stop\? \}/,
  );
  const h = harness({ parallelism: 1 }, {});
  assert.throws(
    () => h.enumerator.addSplitsBack([{ file: "a", offset: 0 } as never], -1),
    ConfigError,
  );
});
