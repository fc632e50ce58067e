/**
 * The two-phase-commit sink base, as Flink's `TwoPhaseCommitSinkFunction`:
 * records go into a transaction; at a checkpoint barrier the transaction is
 * pre-committed and kept in operator state; when the checkpoint completes it
 * is committed. After a restore, the transactions the checkpoint holds are
 * committed again (commit must be idempotent) and leftovers are aborted.
 *
 * `preCommit`, `commit` and `abort` may return promises. A pre-commit's
 * promise is the asynchronous part of the checkpoint: the barrier goes on and
 * records keep flowing into the next transaction while it runs (an fsync, a
 * flush), and the checkpoint completes only once it resolves. A failed
 * pre-commit declines its checkpoint and fails the job at its next batch, so
 * that transaction is never committed. A transaction is committed only after
 * its pre-commit resolved: a later checkpoint can complete first (the earlier
 * one timed out, or `maxConcurrent` > 1), and its commit then waits.
 *
 * An aborted checkpoint (`notifyCheckpointAborted`) aborts nothing, as in
 * Flink: its pre-committed transaction stays pending, in the state of the
 * next checkpoint, and is committed when that one completes. Aborting it
 * would lose records the job will not replay (they came before the next
 * checkpoint's barrier).
 *
 * @module
 */
import { ListStateDescriptor } from "../state/descriptors.ts";
import { Serializers } from "../state/serializer.ts";
import type { ListState } from "../state/state.ts";
import type {
  FunctionInitializationContext,
  FunctionSnapshotContext,
} from "../dataflow/functions.ts";
import type { SinkContext, SinkFunction } from "./sink.ts";
import { PENDING_TRANSACTIONS_STATE } from "../checkpoint/manifest.ts";

interface PendingTransaction<TXN> {
  checkpointId: number;
  txn: TXN;
}

const PENDING = new ListStateDescriptor<unknown>(PENDING_TRANSACTIONS_STATE, Serializers.json);

/**
 * Base of exactly-once sinks. `TXN` must survive JSON (it is kept in
 * checkpoints). Subclasses keep per-subtask data in plain fields: the runtime
 * gives each subtask an object that inherits the sink (`Object.create`).
 *
 * @example A sink committing to an in-memory list
 * ```ts
 * import assert from "node:assert/strict";
 * import { TwoPhaseCommitSink } from "@weir/weir";
 * const committed: string[] = [];
 * class ListSink extends TwoPhaseCommitSink<string, string[]> {
 *   protected beginTransaction(): string[] { return []; }
 *   protected write(txn: string[], value: string) { txn.push(value); }
 *   protected preCommit() {}
 *   protected commit(txn: string[]) { committed.push(...txn); }
 *   protected abort() {}
 * }
 * const sink = new ListSink();
 * await sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "s" });
 * sink.invoke("a");
 * await sink.finish(); // no checkpointing: commits at end of input
 * assert.ok(committed.join() === "a");
 * ```
 */
export abstract class TwoPhaseCommitSink<T, TXN> implements SinkFunction<T> {
  /** This subtask. */
  protected subtask: SinkContext = { subtaskIndex: 0, parallelism: 1, operatorUid: "" };
  /** The open transaction. */
  protected current: TXN | undefined;
  private pending: PendingTransaction<TXN>[] = [];
  private restored: PendingTransaction<TXN>[] = [];
  private pendingState: ListState<unknown> | undefined;
  private sawCheckpoint = false;
  /** Pre-commits still running, by their transaction. */
  private preCommits = new Map<PendingTransaction<TXN>, Promise<void>>();
  /** Why a pre-commit failed: the job fails rather than commit later checkpoints. */
  private failure: Error | undefined;

  /** Starts a transaction. */
  protected abstract beginTransaction(): TXN;
  /** Adds a record to a transaction. */
  protected abstract write(txn: TXN, value: T, timestamp: number | undefined): void;
  /**
   * Makes a transaction durable and ready to commit (at the barrier). What
   * `txn` records must be final when this returns (it goes into the
   * checkpoint then); the work may go on in the returned promise, while the
   * next transaction takes records. For a savepoint (`forSavepoint`) it must
   * also survive `cleanUpLeftovers` of a restore from an earlier checkpoint:
   * restoring the savepoint commits it.
   */
  protected abstract preCommit(txn: TXN, forSavepoint: boolean): void | Promise<void>;
  /** Makes a pre-committed transaction visible; must be idempotent. */
  protected abstract commit(txn: TXN): void | Promise<void>;
  /** Discards a transaction. */
  protected abstract abort(txn: TXN): void | Promise<void>;
  /** Called between batches with the open transaction (write buffered data). */
  protected flushTransaction(_txn: TXN): void | Promise<void> {}
  /**
   * After a restore (or a fresh start), on subtask 0: remove what earlier runs
   * left behind that is not among `keep` (the transactions being committed):
   * those pre-committed for checkpoints that never completed (their records
   * are replayed). May return a promise: the job starts once it resolves, and
   * fails if it rejects.
   */
  protected cleanUpLeftovers(_keep: TXN[]): void | Promise<void> {}

  /** Restores pending transactions from operator state. */
  initializeState(ctx: FunctionInitializationContext): void {
    this.pendingState = ctx.operatorStateStore.getUnionListState(PENDING);
    this.restored = (this.pendingState.get() ?? []) as PendingTransaction<TXN>[];
  }

  /** Commits restored transactions, cleans leftovers, begins a transaction. */
  async open(ctx: SinkContext): Promise<void> {
    this.subtask = ctx;
    this.pending = [];
    this.preCommits = new Map();
    this.failure = undefined;
    if (ctx.subtaskIndex === 0) {
      // Union state: every subtask sees every pending transaction; one commits them.
      const keep = this.restored.map((p) => p.txn);
      for (const txn of keep) await this.commit(txn);
      await this.cleanUpLeftovers(keep);
    }
    this.restored = [];
    this.pendingState?.update([]);
    this.current = this.beginTransaction();
  }

  /** Writes into the open transaction. */
  invoke(value: T, timestamp?: number): void {
    this.write(this.current!, value, timestamp);
  }

  /** Writes buffered data of the open transaction; fails the job if a pre-commit failed. */
  flush(): void | Promise<void> {
    if (this.failure) throw this.failure;
    return this.flushTransaction(this.current!);
  }

  /**
   * Pre-commits the open transaction for checkpoint `checkpointId` and begins
   * the next; returns the pre-commit's asynchronous part, if any.
   */
  snapshotState(ctx: FunctionSnapshotContext): void | Promise<void> {
    if (this.failure) throw this.failure;
    this.sawCheckpoint = true;
    const txn = this.current!;
    const preCommitted = this.preCommit(txn, ctx.savepoint === true);
    const entry = { checkpointId: ctx.checkpointId, txn };
    this.pending.push(entry);
    this.pendingState!.update(this.pending);
    this.current = this.beginTransaction();
    if (!(preCommitted instanceof Promise)) return;
    const tracked = preCommitted.catch((e: unknown) => {
      this.failure ??= e instanceof Error ? e : new Error(String(e));
      throw e;
    }).finally(() => this.preCommits.delete(entry));
    this.preCommits.set(entry, tracked);
    return tracked;
  }

  /**
   * Commits every transaction pre-committed for checkpoints up to
   * `checkpointId`, each once its pre-commit has finished: that of an earlier
   * checkpoint that timed out (or was overtaken) may still be running.
   */
  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    if (this.failure) throw this.failure;
    const done = this.pending.filter((p) => p.checkpointId <= checkpointId);
    this.pending = this.pending.filter((p) => p.checkpointId > checkpointId);
    for (const p of done) {
      // Rejects if it failed: the job fails and the transaction is never committed.
      await this.preCommits.get(p);
      await this.commit(p.txn);
    }
  }

  /**
   * End of input. Without checkpointing the open transaction commits now;
   * with it, the final checkpoint already took everything.
   */
  async finish(): Promise<void> {
    const txn = this.current!;
    if (this.sawCheckpoint) {
      await this.abort(txn);
    } else {
      await this.preCommit(txn, false);
      await this.commit(txn);
    }
    this.current = this.beginTransaction();
  }

  /**
   * Aborts the open transaction; pre-committed ones stay for a restore to
   * commit. Waits for pre-commits still running (their failure was reported
   * through their checkpoint).
   */
  async close(): Promise<void> {
    await Promise.allSettled(this.preCommits.values());
    if (this.current !== undefined) await this.abort(this.current);
    this.current = undefined;
  }
}
