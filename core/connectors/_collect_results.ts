/**
 * The sinks behind `executeAndCollect`: they gather a stream's records in the
 * main thread's sink object and settle `full` once they hold `limit` of them.
 *
 * Without checkpoints a record counts as soon as it arrives
 * ({@linkcode FirstRecordsSink}). With them, as Flink's checkpointed collect,
 * a record counts only once the checkpoint after it completes, or the input
 * ended ({@linkcode CommittedCollectSink}).
 *
 * Each attempt of the job rewinds the results to what it starts from
 * ({@linkcode CollectResults.rewind}): a restart replays the records after
 * the checkpoint it restores (every record, without one), so the records
 * counted after that checkpoint go. So the results hold each record once,
 * also when a restart restores an older checkpoint than the latest (the
 * latest damaged), which Flink's collect does not promise.
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import { deserialize, serialize, type Serializer, Serializers } from "../state/serializer.ts";
import { CollectSink } from "./collect_sink.ts";
import type { FunctionSnapshotContext } from "../dataflow/functions.ts";
import type { SinkContext } from "./sink.ts";
import { TwoPhaseCommitSink } from "./two_phase_commit_sink.ts";

/** What `executeAndCollect` reads from its sink. */
export interface CollectResults<T> {
  /** The records that count, at most `limit`. */
  readonly values: T[];
  /** Settles when `values` holds `limit` records; they are final then. */
  readonly full: PromiseWithResolvers<void>;
  /**
   * An attempt of the job starts from checkpoint `checkpointId` (undefined:
   * from the start): drops the records that attempt emits again.
   */
  rewind(checkpointId: number | undefined): void;
}

/** Rewinds the results of every `executeAndCollect` sink among `nodes` (see `CollectResults`). */
export function rewindCollectResults(
  nodes: readonly { readonly sink?: unknown }[],
  checkpointId: number | undefined,
): void {
  for (const n of nodes) {
    if (n.sink instanceof FirstRecordsSink || n.sink instanceof CommittedCollectSink) {
      n.sink.rewind(checkpointId);
    }
  }
}

// Subtasks' sink objects inherit from the one the job was built with
// (Object.create): these classes keep plain fields (private ones are not
// inherited), and `values`, `full` and `results` stay shared by every subtask
// and every restart of the job.

/** Counts each record on arrival; drops those past `limit`. */
export class FirstRecordsSink<T> extends CollectSink<T> implements CollectResults<T> {
  readonly full = Promise.withResolvers<void>();
  private readonly limit: number;

  constructor(limit: number) {
    super();
    this.limit = limit;
  }

  override invoke(value: T, timestamp: number | undefined): void {
    if (this.values.length >= this.limit) return;
    super.invoke(value, timestamp);
    if (this.values.length === this.limit) this.full.resolve();
  }

  /** Without checkpoints every attempt emits every record again: none counts any more. */
  rewind(): void {
    if (this.values.length >= this.limit) return;
    this.values.length = 0;
    this.timestamps.length = 0;
  }
}

/**
 * A transaction of the committed collect: its records, encoded (checkpoints
 * keep transactions as JSON, and the records' own types must survive a
 * restore), under an id that tells a commit after a restore from the first.
 */
export interface CollectTransaction {
  readonly id: string;
  records?: string;
  /** The checkpoint it was pre-committed for (none: committed at the end of input). */
  checkpoint?: number;
}

/** Records of one committed transaction. */
interface Delivery<T> {
  readonly id: string;
  readonly checkpoint: number;
  readonly values: T[];
}

/**
 * Counts records once their transaction commits: when the checkpoint after
 * them completes, on a restore of that checkpoint, or at the end of input.
 * Committing a transaction twice counts it once.
 */
export class CommittedCollectSink<T> extends TwoPhaseCommitSink<T, CollectTransaction>
  implements CollectResults<T> {
  readonly full = Promise.withResolvers<void>();
  private readonly limit: number;
  private readonly codec: Serializer<T[]>;
  /** Committed transactions, in the order they committed (shared; replaced on rewind). */
  private readonly results = {
    deliveries: [] as Delivery<T>[],
    ids: new Set<string>(),
    count: 0,
    final: false,
  };
  /** This subtask's records of its transactions not committed yet, by id. */
  private buffers: Map<string, T[]> = new Map();
  /** The checkpoint this subtask is pre-committing for. */
  private snapshotting: number | undefined;

  constructor(limit: number, serializer: Serializer<T>) {
    super();
    this.limit = limit;
    this.codec = Serializers.array(serializer);
  }

  /** The records that count, in the order their transactions committed, at most `limit`. */
  get values(): T[] {
    return this.results.deliveries.flatMap((d) => d.values).slice(0, this.limit);
  }

  override open(ctx: SinkContext): Promise<void> {
    this.buffers = new Map();
    return super.open(ctx);
  }

  override snapshotState(ctx: FunctionSnapshotContext): void | Promise<void> {
    this.snapshotting = ctx.checkpointId;
    try {
      return super.snapshotState(ctx);
    } finally {
      this.snapshotting = undefined;
    }
  }

  protected beginTransaction(): CollectTransaction {
    const txn = { id: crypto.randomUUID() };
    this.buffers.set(txn.id, []);
    return txn;
  }

  protected write(txn: CollectTransaction, value: T): void {
    this.buffers.get(txn.id)!.push(value);
  }

  protected preCommit(txn: CollectTransaction): void {
    if (this.snapshotting !== undefined) txn.checkpoint = this.snapshotting;
    try {
      txn.records = serialize(this.codec, this.buffers.get(txn.id)!).toBase64();
    } catch (e) {
      if (!(e instanceof SerializationError)) throw e;
      throw new SerializationError(
        `executeAndCollect() with checkpoints keeps the records since the last checkpoint in the ` +
          `next one: ${e.message}. Call .returns(serializer) on the stream it collects`,
        { cause: e },
      );
    }
  }

  protected commit(txn: CollectTransaction): void {
    // A restored transaction's records live only in the checkpoint.
    const values = this.buffers.get(txn.id) ??
      deserialize(this.codec, Uint8Array.fromBase64(txn.records!));
    this.buffers.delete(txn.id);
    this.deliver(txn.id, values, txn.checkpoint ?? Infinity);
  }

  protected abort(txn: CollectTransaction): void {
    this.buffers.delete(txn.id);
  }

  /**
   * Counts a committed transaction's records, once. A worker of the worker
   * executor replaces this with a message to the main thread's sink.
   */
  deliver(id: string, values: T[], checkpoint: number): void {
    const r = this.results;
    if (r.final || r.ids.has(id)) return;
    r.ids.add(id);
    r.deliveries.push({ id, checkpoint, values });
    r.count += values.length;
    if (r.count >= this.limit) {
      r.final = true;
      this.full.resolve();
    }
  }

  /** Drops the transactions pre-committed after checkpoint `checkpointId` (all, if undefined). */
  rewind(checkpointId: number | undefined): void {
    const r = this.results;
    if (r.final) return;
    r.deliveries = r.deliveries.filter((d) => d.checkpoint <= (checkpointId ?? -1));
    r.ids = new Set(r.deliveries.map((d) => d.id));
    r.count = r.deliveries.reduce((n, d) => n + d.values.length, 0);
  }
}
