import assert from "node:assert/strict";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { QueueSource } from "../../tests/_helpers/queue_source.ts";
import { until } from "../../tests/_helpers/checkpoint_jobs.ts";
import { TwoPhaseCommitSink } from "./two_phase_commit_sink.ts";

interface Txn {
  id: number;
  rows: string[];
}

/** A little transactional store: what a user's sink prepares and commits. */
class Store {
  readonly prepared = new Set<number>();
  readonly committed: string[] = [];
  readonly log: string[] = [];
  /** Checkpoints the sink heard completed. */
  readonly notified: number[] = [];
  /** Pre-commits held by the test, in order. */
  readonly held: PromiseWithResolvers<void>[] = [];
  hold = false;
  next = 0;
}

function sinkOn(store: Store) {
  return new class extends TwoPhaseCommitSink<string, Txn> {
    protected beginTransaction(): Txn {
      return { id: store.next++, rows: [] };
    }
    protected write(txn: Txn, value: string) {
      txn.rows.push(value);
    }
    protected preCommit(txn: Txn): Promise<void> | void {
      if (!store.hold) return void store.prepared.add(txn.id);
      const held = Promise.withResolvers<void>();
      store.held.push(held);
      return held.promise.then(() => void store.prepared.add(txn.id));
    }
    protected commit(txn: Txn) {
      store.log.push(`commit ${txn.id} prepared=${store.prepared.has(txn.id)}`);
      store.committed.push(...txn.rows);
    }
    protected abort() {}
    override notifyCheckpointComplete(id: number): Promise<void> {
      store.notified.push(id);
      return super.notifyCheckpointComplete(id);
    }
  }();
}

Deno.test("two-phase commit sink: a later checkpoint completing while an earlier pre-commit runs commits it only once prepared, and never if it fails", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-2pc-" });
  try {
    const store = new Store();
    const src = new QueueSource<string>();
    const env = StreamEnvironment.create({
      // Checkpoint 2 may complete while checkpoint 1's pre-commit still runs.
      checkpoint: { dir, maxConcurrent: 2, tolerableFailures: 5 },
      restartStrategy: { kind: "none" },
      log: () => {},
    });
    env.addSource(src, { uid: "src" }).addSink(sinkOn(store), { uid: "sink" });
    const client = env.executeAsync("overtaken pre-commit");
    const failed = client.done.then(() => undefined, (e: unknown) => e);
    src.push("a", "b");
    await until(() => src.emitted === 2, "the first records read");
    store.hold = true;
    const first = client.triggerCheckpoint().then(() => undefined, (e: unknown) => e);
    await until(() => store.held.length === 1, "checkpoint 1's pre-commit in flight");
    store.hold = false;
    src.push("c");
    await until(() => src.emitted === 3, "a record after it read");
    await client.triggerCheckpoint();
    await until(() => store.notified.includes(2), "the sink told checkpoint 2 completed");
    // Its pre-commit fails after checkpoint 2 completed: its records must not show.
    store.held[0]!.reject(new Error("injected: prepare failed"));
    assert.match(String(await first), /injected: prepare failed/);
    assert.match(String(await failed), /injected: prepare failed/);
    assert.deepEqual(store.log.filter((l) => l.endsWith("prepared=false")), []);
    assert.deepEqual(store.committed.filter((r) => r === "a" || r === "b"), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** A sink whose `cleanUpLeftovers` is asynchronous, as a round trip to a database is. */
function sinkCleaningUp(log: string[], cleanUp: () => Promise<void>) {
  return new class extends TwoPhaseCommitSink<string, string[]> {
    protected beginTransaction(): string[] {
      log.push("begin");
      return [];
    }
    protected write(txn: string[], value: string) {
      txn.push(value);
    }
    protected preCommit() {}
    protected commit() {}
    protected abort() {}
    protected override async cleanUpLeftovers() {
      log.push("clean-up started");
      await cleanUp();
      log.push("clean-up done");
    }
  }();
}

Deno.test("two-phase commit sink: an asynchronous cleanUpLeftovers is awaited before the first transaction begins, and its failure fails the job naming it", async () => {
  const log: string[] = [];
  const sink = sinkCleaningUp(log, () => Promise.resolve());
  await sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "sink" });
  assert.deepEqual(log, ["clean-up started", "clean-up done", "begin"]);

  const env = StreamEnvironment.create({ log: () => {} });
  const failing = sinkCleaningUp([], () => Promise.reject(new Error("injected: database gone")));
  env.fromCollection(["a"]).addSink(failing, { uid: "sink" });
  await assert.rejects(env.execute("clean-up fails"), /injected: database gone/);
});

Deno.test("two-phase commit sink: a stop-with-savepoint whose commit fails rejects, as Flink's stop, rather than report a stop while the job restarts", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-2pc-" });
  try {
    const committed: string[] = [];
    let failCommits = 1;
    const sink = new class extends TwoPhaseCommitSink<string, string[]> {
      protected beginTransaction(): string[] {
        return [];
      }
      protected write(txn: string[], value: string) {
        txn.push(value);
      }
      protected preCommit() {}
      protected commit(txn: string[]) {
        if (txn.length > 0 && failCommits-- > 0) throw new Error("injected: commit failed");
        committed.push(...txn);
      }
      protected abort() {}
    }();
    const src = new QueueSource<string>();
    const env = StreamEnvironment.create({
      checkpoint: { dir },
      restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 0 },
      log: () => {},
    });
    env.addSource(src, { uid: "src" }).addSink(sink, { uid: "sink" });
    const client = env.executeAsync("stop fails");
    src.push("a");
    await until(() => src.emitted === 1, "a read");
    await assert.rejects(
      client.stopWithSavepoint("stop"),
      /Stop with savepoint .*stop failed: .*injected: commit failed.*did not stop/,
    );
    // The restart restored the savepoint, committing its output, and runs on.
    await until(() => committed.length === 1, "the savepoint's output committed by the restore");
    src.push("b");
    src.end();
    await client.done;
    assert.deepEqual(committed, ["a", "b"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
