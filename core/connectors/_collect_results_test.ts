import assert from "node:assert/strict";
import { OperatorStateStore } from "../state/operator_state.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import { CommittedCollectSink, FirstRecordsSink } from "./_collect_results.ts";

type Row = { n: number; at: Date; big: bigint };
const PLAIN = Serializers.plain as Serializer<Row>;
const row = (n: number): Row => ({ n, at: new Date(n), big: BigInt(n) * 10n ** 20n });

/** A subtask of `sink` as the runtime makes one (Object.create), initialized and opened. */
async function subtask<T>(sink: CommittedCollectSink<T>, store: OperatorStateStore, index = 0) {
  const s = Object.create(sink) as CommittedCollectSink<T>;
  s.initializeState({
    operatorStateStore: store,
    isRestored: Object.keys(store.snapshot()).length > 0,
  });
  await s.open({ subtaskIndex: index, parallelism: 2, operatorUid: "collect" });
  return s;
}

Deno.test("CommittedCollectSink: records count once the checkpoint after them completes", async () => {
  const sink = new CommittedCollectSink<Row>(Infinity, PLAIN);
  const [a, b] = [
    await subtask(sink, new OperatorStateStore("collect"), 0),
    await subtask(sink, new OperatorStateStore("collect"), 1),
  ];
  a.invoke(row(1));
  b.invoke(row(2));
  a.snapshotState({ checkpointId: 1 });
  a.invoke(row(3));
  b.snapshotState({ checkpointId: 1 });
  assert.deepEqual(sink.values, [], "nothing counts before the checkpoint completes");
  await a.notifyCheckpointComplete(1);
  await b.notifyCheckpointComplete(1);
  assert.deepEqual(sink.values, [row(1), row(2)], "record 3 came after the barrier");
  a.snapshotState({ checkpointId: 2 });
  await a.notifyCheckpointComplete(2);
  assert.deepEqual(sink.values, [row(1), row(2), row(3)]);
});

Deno.test("CommittedCollectSink: a restore commits the checkpoint's transactions, once, with their records' types", async () => {
  const sink = new CommittedCollectSink<Row>(Infinity, PLAIN);
  const before = new OperatorStateStore("collect");
  const a = await subtask(sink, before);
  a.invoke(row(1));
  a.invoke(row(2));
  a.snapshotState({ checkpointId: 1 });
  a.invoke(row(3)); // after the barrier: the restore replays it, so it must not count
  const checkpoint1 = before.snapshot();

  // The job failed before checkpoint 1's completion reached the sink: restoring commits it.
  await subtask(sink, new OperatorStateStore("collect", checkpoint1));
  assert.deepEqual(sink.values, [row(1), row(2)]);
  assert.ok(sink.values[0]!.at instanceof Date && typeof sink.values[0]!.big === "bigint");

  // Another failure before the next checkpoint: restoring checkpoint 1 again counts nothing twice.
  await subtask(sink, new OperatorStateStore("collect", checkpoint1));
  assert.deepEqual(sink.values, [row(1), row(2)]);
});

Deno.test("CommittedCollectSink: without a checkpoint, the end of input commits; a limit keeps the first records", async () => {
  const sink = new CommittedCollectSink<number>(2, Serializers.f64);
  const a = await subtask(sink, new OperatorStateStore("collect"));
  let full = false;
  sink.full.promise.then(() => full = true);
  for (const n of [7, 8, 9]) a.invoke(n);
  assert.deepEqual(sink.values, []);
  await a.finish();
  await Promise.resolve();
  assert.deepEqual(sink.values, [7, 8]);
  assert.ok(full);
});

Deno.test("CommittedCollectSink: a record its serializer cannot carry fails the checkpoint, naming .returns", async () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const sink = new CommittedCollectSink<Point>(Infinity, Serializers.plain as Serializer<Point>);
  const a = await subtask(sink, new OperatorStateStore("collect"));
  a.invoke(new Point(1));
  assert.throws(() => a.snapshotState({ checkpointId: 1 }), {
    name: "SerializationError",
    message: /cannot carry an instance of Point.*Call \.returns\(serializer\) on the stream/,
  });
});

Deno.test("FirstRecordsSink: counts on arrival, keeps the first `limit`, and says when it has them", async () => {
  const sink = new FirstRecordsSink<string>(2);
  const s = Object.create(sink) as FirstRecordsSink<string>;
  s.invoke("a", 1);
  assert.deepEqual(sink.values, ["a"]);
  s.invoke("b", 2);
  s.invoke("c", 3);
  assert.deepEqual(sink.values, ["a", "b"]);
  assert.deepEqual(sink.timestamps, [1, 2]);
  await sink.full.promise;
});

Deno.test("CommittedCollectSink: rewinding to an older checkpoint drops the transactions pre-committed after it", async () => {
  const sink = new CommittedCollectSink<number>(Infinity, Serializers.f64);
  const store = new OperatorStateStore("collect");
  const a = await subtask(sink, store);
  a.invoke(1);
  a.snapshotState({ checkpointId: 1 });
  const checkpoint1 = store.snapshot();
  await a.notifyCheckpointComplete(1);
  a.invoke(2);
  a.snapshotState({ checkpointId: 2 });
  await a.notifyCheckpointComplete(2);
  a.invoke(3);
  await a.finish(); // checkpoints seen: the open transaction aborts; 3 comes with the next one
  assert.deepEqual(sink.values, [1, 2]);

  // Checkpoint 2 is damaged: the restart restores checkpoint 1 and emits 2 again.
  sink.rewind(1);
  assert.deepEqual(sink.values, [1]);
  const b = await subtask(sink, new OperatorStateStore("collect", checkpoint1));
  b.invoke(2);
  b.invoke(3);
  b.snapshotState({ checkpointId: 3 });
  await b.notifyCheckpointComplete(3);
  assert.deepEqual(sink.values, [1, 2, 3], "each record once");

  // A restart from the start (no checkpoint) drops everything.
  sink.rewind(undefined);
  assert.deepEqual(sink.values, []);
});

Deno.test("CommittedCollectSink: a transaction committed at the end of input goes on any rewind; full results stay", async () => {
  const open = new CommittedCollectSink<number>(Infinity, Serializers.f64);
  const a = await subtask(open, new OperatorStateStore("collect"));
  a.invoke(1);
  await a.finish();
  assert.deepEqual(open.values, [1]);
  open.rewind(5);
  assert.deepEqual(open.values, [], "its records come again after any checkpoint");

  const limited = new CommittedCollectSink<number>(1, Serializers.f64);
  const b = await subtask(limited, new OperatorStateStore("collect"));
  b.invoke(1);
  b.snapshotState({ checkpointId: 1 });
  await b.notifyCheckpointComplete(1);
  await limited.full.promise;
  limited.rewind(undefined);
  assert.deepEqual(limited.values, [1], "the results resolved: a later attempt changes nothing");
});

Deno.test("FirstRecordsSink: a rewind drops every record (the next attempt emits them all again) until it is full", () => {
  const sink = new FirstRecordsSink<string>(3);
  const s = Object.create(sink) as FirstRecordsSink<string>;
  s.invoke("a", 1);
  s.invoke("b", 2);
  sink.rewind();
  assert.deepEqual([sink.values, sink.timestamps], [[], []]);
  for (const v of ["a", "b", "c"]) s.invoke(v, 0);
  sink.rewind();
  assert.deepEqual(sink.values, ["a", "b", "c"]);
});
