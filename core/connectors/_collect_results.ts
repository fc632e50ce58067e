/**
 * The sinks behind `executeAndCollect`: they gather a stream's records in the
 * main thread's sink object and settle `full` once they hold `limit` of them.
 *
 * Without checkpoints a record counts as soon as it arrives
 * ({@linkcode FirstRecordsSink}). With them, as Flink's checkpointed collect,
 * a record counts only once the checkpoint after it completes, or the input
 * ended ({@linkcode CommittedCollectSink}): a restart replays exactly the
 * records after the checkpoint it restores, and none of those had counted.
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import { deserialize, serialize, type Serializer, Serializers } from "../state/serializer.ts";
import { CollectSink } from "./collect_sink.ts";
import type { SinkContext } from "./sink.ts";
import { TwoPhaseCommitSink } from "./two_phase_commit_sink.ts";

/** What `executeAndCollect` reads from its sink. */
export interface CollectResults<T> {
  /** The records that count, at most `limit`. */
  readonly values: T[];
  /** Settles when `values` holds `limit` records. */
  readonly full: PromiseWithResolvers<void>;
}

// Subtasks' sink objects inherit from the one the job was built with
// (Object.create): these classes keep plain fields (private ones are not
// inherited), and `values`, `full` and `delivered` stay shared by every subtask
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
}

/**
 * A transaction of the committed collect: its records, encoded (checkpoints
 * keep transactions as JSON, and the records' own types must survive a
 * restore), under an id that tells a commit after a restore from the first.
 */
export interface CollectTransaction {
  readonly id: string;
  records?: string;
}

/**
 * Counts records once their transaction commits: when the checkpoint after
 * them completes, on a restore of that checkpoint, or at the end of input.
 * Committing a transaction twice counts it once (`delivered`).
 */
export class CommittedCollectSink<T> extends TwoPhaseCommitSink<T, CollectTransaction>
  implements CollectResults<T> {
  readonly values: T[] = [];
  readonly full = Promise.withResolvers<void>();
  private readonly limit: number;
  private readonly codec: Serializer<T[]>;
  private readonly delivered = new Set<string>();
  /** This subtask's records of its transactions not committed yet, by id. */
  private buffers: Map<string, T[]> = new Map();

  constructor(limit: number, serializer: Serializer<T>) {
    super();
    this.limit = limit;
    this.codec = Serializers.array(serializer);
  }

  override open(ctx: SinkContext): Promise<void> {
    this.buffers = new Map();
    return super.open(ctx);
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
    this.deliver(txn.id, values);
  }

  protected abort(txn: CollectTransaction): void {
    this.buffers.delete(txn.id);
  }

  /**
   * Counts a committed transaction's records, once. A worker of the worker
   * executor replaces this with a message to the main thread's sink.
   */
  deliver(id: string, values: T[]): void {
    if (this.delivered.has(id)) return;
    this.delivered.add(id);
    for (const v of values) {
      if (this.values.length === this.limit) break;
      this.values.push(v);
    }
    if (this.values.length === this.limit) this.full.resolve();
  }
}
