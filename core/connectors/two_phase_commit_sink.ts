/**
 * The two-phase-commit sink base, as Flink's `TwoPhaseCommitSinkFunction`:
 * records go into a transaction; at a checkpoint barrier the transaction is
 * pre-committed and kept in operator state; when the checkpoint completes it
 * is committed. After a restore, the transactions the checkpoint holds are
 * committed again (commit must be idempotent) and leftovers are aborted.
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
 * sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "s" });
 * sink.invoke("a");
 * sink.finish(); // no checkpointing: commits at end of input
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

  /** Starts a transaction. */
  protected abstract beginTransaction(): TXN;
  /** Adds a record to a transaction. */
  protected abstract write(txn: TXN, value: T, timestamp: number | undefined): void;
  /**
   * Makes a transaction durable and ready to commit (at the barrier). For a
   * savepoint (`forSavepoint`) it must also survive `cleanUpLeftovers` of a
   * restore from an earlier checkpoint: restoring the savepoint commits it.
   */
  protected abstract preCommit(txn: TXN, forSavepoint: boolean): void;
  /** Makes a pre-committed transaction visible; must be idempotent. */
  protected abstract commit(txn: TXN): void;
  /** Discards a transaction. */
  protected abstract abort(txn: TXN): void;
  /** Called between batches with the open transaction (write buffered data). */
  protected flushTransaction(_txn: TXN): void | Promise<void> {}
  /**
   * After a restore (or a fresh start), on subtask 0: remove what earlier runs
   * left behind that is not among `keep` (the transactions being committed).
   */
  protected cleanUpLeftovers(_keep: TXN[]): void {}

  /** Restores pending transactions from operator state. */
  initializeState(ctx: FunctionInitializationContext): void {
    this.pendingState = ctx.operatorStateStore.getUnionListState(PENDING);
    this.restored = (this.pendingState.get() ?? []) as PendingTransaction<TXN>[];
  }

  /** Commits restored transactions, cleans leftovers, begins a transaction. */
  open(ctx: SinkContext): void {
    this.subtask = ctx;
    this.pending = [];
    if (ctx.subtaskIndex === 0) {
      // Union state: every subtask sees every pending transaction; one commits them.
      const keep = this.restored.map((p) => p.txn);
      for (const txn of keep) this.commit(txn);
      this.cleanUpLeftovers(keep);
    }
    this.restored = [];
    this.pendingState?.update([]);
    this.current = this.beginTransaction();
  }

  /** Writes into the open transaction. */
  invoke(value: T, timestamp?: number): void {
    this.write(this.current!, value, timestamp);
  }

  /** Writes buffered data of the open transaction. */
  flush(): void | Promise<void> {
    return this.flushTransaction(this.current!);
  }

  /** Pre-commits the open transaction for checkpoint `checkpointId` and begins the next. */
  snapshotState(ctx: FunctionSnapshotContext): void {
    this.sawCheckpoint = true;
    const txn = this.current!;
    this.preCommit(txn, ctx.savepoint === true);
    this.pending.push({ checkpointId: ctx.checkpointId, txn });
    this.pendingState!.update(this.pending);
    this.current = this.beginTransaction();
  }

  /** Commits every transaction pre-committed for checkpoints up to `checkpointId`. */
  notifyCheckpointComplete(checkpointId: number): void {
    const done = this.pending.filter((p) => p.checkpointId <= checkpointId);
    for (const p of done) this.commit(p.txn);
    this.pending = this.pending.filter((p) => p.checkpointId > checkpointId);
  }

  /**
   * End of input. Without checkpointing the open transaction commits now;
   * with it, the final checkpoint already took everything.
   */
  finish(): void {
    const txn = this.current!;
    if (this.sawCheckpoint) {
      this.abort(txn);
    } else {
      this.preCommit(txn, false);
      this.commit(txn);
    }
    this.current = this.beginTransaction();
  }

  /** Aborts the open transaction; pre-committed ones stay for a restore to commit. */
  close(): void {
    if (this.current !== undefined) this.abort(this.current);
    this.current = undefined;
  }
}
