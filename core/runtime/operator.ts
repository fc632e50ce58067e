/**
 * The physical operator contract. Chained operators call each other directly
 * and synchronously through {@linkcode Output}; the task around them moves
 * batches between channels and handles watermarks, barriers and timers.
 *
 * @module
 */
import type { KeyedStateBackend, StateBackend } from "../state/backend.ts";
import type { OperatorStateSnapshot, OperatorStateStore } from "../state/operator_state.ts";
import type { Serializer } from "../state/serializer.ts";
import type { Clock } from "./clock.ts";
import type { MetricGroup } from "./metric_group.ts";
import type { InternalTimerService, TimerTarget } from "./timers.ts";

/** Where an operator emits. */
export interface Output<T> {
  /** Emits a record with its timestamp. */
  collect(value: T, timestamp: number | undefined): void;
  /** Emits a record to the side output `tagId`. */
  collectSide(tagId: string, value: unknown, timestamp: number | undefined): void;
  /** Forwards a watermark. */
  emitWatermark(timestamp: number): void;
}

/**
 * The task's mailbox, for operators whose work completes outside a batch
 * (async I/O): mails run on the task between batches, so results are emitted
 * in the same sequence as records, watermarks and barriers.
 */
export interface Mailbox {
  /**
   * Runs `mail` on the task between batches: at once, inside `post`, when the
   * task is waiting between batches (an async result refills its call slot in
   * the microtask it completes in), else queued behind earlier mails. A mail
   * that throws fails the task.
   */
  post(mail: () => void): void;
  /** Runs mails (and nothing else) until `done()` holds: end of input waits for results. */
  yieldUntil(done: () => boolean): Promise<void>;
}

/**
 * An operator that can ask its task to stop feeding it records: while
 * `backPressured` holds after a batch (or after the final watermark of a
 * source), the task runs mails only.
 */
export interface CapacityLimited {
  /** Whether the operator holds as many unfinished records as it may, or must finish them now. */
  readonly backPressured: boolean;
}

/** Whether `op` limits its input (see {@linkcode CapacityLimited}). */
export function isCapacityLimited(op: unknown): op is CapacityLimited {
  return typeof (op as Partial<CapacityLimited>).backPressured === "boolean";
}

/** What the task gives each operator. */
export interface OperatorContext {
  /** The operator's uid (stable across runs; maps state on restore). */
  readonly uid: string;
  /** The operator's name. */
  readonly name: string;
  /** This subtask's index. */
  readonly subtaskIndex: number;
  /** The operator's parallelism. */
  readonly parallelism: number;
  /** The number of key groups. */
  readonly maxParallelism: number;
  /** The job's clock. */
  readonly clock: Clock;
  /** Makes the keyed backends. */
  readonly stateBackend: StateBackend;
  /** Operator state of this subtask (restored if the job was). */
  readonly operatorState: OperatorStateStore;
  /** Whether the job was restored from a checkpoint or savepoint. */
  readonly isRestored: boolean;
  /** Where the job reports what it does (stderr by default). */
  readonly log?: (line: string) => void;
  /** User-defined metrics of this subtask (`RuntimeContext.getMetricGroup`). */
  readonly metricGroup?: MetricGroup;
  /** The task's mailbox (absent in harnesses that drive an operator by hand). */
  readonly mailbox?: Mailbox;
  /** The keyed backend of this subtask; throws if the operator is not keyed. */
  keyedBackend(): KeyedStateBackend;
  /** The key serializer (keyed operators). */
  readonly keySerializer: Serializer<unknown> | undefined;
  /** Creates this operator's timer service (keyed operators). */
  timerService<N>(
    target: TimerTarget<N>,
    namespaceSerializer?: Serializer<N>,
  ): InternalTimerService<N>;
}

/** What an operator snapshot holds (keyed state is snapshotted by its backend). */
export interface OperatorSnapshot {
  /** Operator state. */
  readonly operatorState: OperatorStateSnapshot;
}

/**
 * Base of every physical operator. `input` is 0, or 1 for the second input of
 * a two-input operator.
 */
export abstract class StreamOperator<OUT = unknown> {
  /** Where this operator emits. */
  output!: Output<OUT>;
  /** Set before `open`. */
  ctx!: OperatorContext;

  /** Connects the operator to its context and output. */
  setup(ctx: OperatorContext, output: Output<OUT>): void {
    this.ctx = ctx;
    this.output = output;
  }

  /** Called once before the first record. */
  open(): void | Promise<void> {}

  /**
   * Handles one record. `keyGroup` is the record's key group when a keyed
   * channel routed it (computed from this input's key selector and key
   * serializer), and `keyHash` a string key's table hash: a keyed operator
   * passes them to `setCurrentKey`, so the key is not hashed again.
   */
  abstract processElement(
    value: unknown,
    timestamp: number | undefined,
    input: number,
    keyGroup?: number,
    keyHash?: number,
  ): void;

  /** Handles a watermark; the default forwards it. */
  processWatermark(timestamp: number): void {
    this.output.emitWatermark(timestamp);
  }

  /**
   * Brings state up to date for a checkpoint or (`savepoint`) a savepoint.
   * The state is taken when this returns; a returned promise is the
   * asynchronous part, which the checkpoint waits for (the task does not).
   */
  snapshotState(_checkpointId: number, _savepoint?: boolean): void | Promise<void> {}

  /** A checkpoint completed. */
  notifyCheckpointComplete(_checkpointId: number): void | Promise<void> {}

  /** A checkpoint was aborted: what was prepared for it will not be committed by it. */
  notifyCheckpointAborted(_checkpointId: number): void | Promise<void> {}

  /** End of input: emit what is buffered. */
  finish(): void | Promise<void> {}

  /** Releases resources; also called on failure. */
  close(): void | Promise<void> {}
}
