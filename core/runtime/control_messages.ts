/**
 * The control plane between tasks and the checkpoint coordinator, as plain
 * messages (structured-cloneable: no closures, no promises). The inline
 * executor hands them to the coordinator directly; the worker executor posts
 * them between threads (`_worker_protocol.ts`). Either way the coordinator
 * sees the same messages in the same order per task: a BarrierAck, then the
 * SnapshotDone or Decline of the same checkpoint.
 *
 * @module
 */
import type { OperatorSubtaskSnapshot } from "../checkpoint/coordinator.ts";
import type { BarrierOptions } from "./messages.ts";

/** Coordinator → source tasks: send barrier `id` downstream (InjectBarrier). */
export interface InjectBarrier {
  readonly type: "injectBarrier";
  /** Checkpoint id. */
  readonly id: number;
  /** Savepoint or not; aligned or not. */
  readonly options: BarrierOptions;
}

/** Coordinator → every task: checkpoint `id` completed; sinks commit (NotifyCheckpointComplete). */
export interface NotifyCheckpointComplete {
  readonly type: "notifyComplete";
  /** Checkpoint id. */
  readonly id: number;
}

/**
 * Coordinator → every task: checkpoint `id` was aborted (declined, timed out,
 * failed, or the job is failing); operators may drop what they prepared for
 * it (NotifyCheckpointAborted).
 */
export interface NotifyCheckpointAborted {
  readonly type: "notifyAborted";
  /** Checkpoint id. */
  readonly id: number;
}

/** A task passed barrier `id`: its synchronous part is done (BarrierAck). */
export interface BarrierAck {
  readonly type: "barrierAck";
  /** Plan task id (the coordinator's task index). */
  readonly task: number;
  /** The task's name, for statistics. */
  readonly name: string;
  /** Checkpoint id. */
  readonly id: number;
  /** ms from the first barrier to the last at this task. */
  readonly alignmentMs: number;
  /** ms of the synchronous part. */
  readonly syncMs: number;
}

/** A task's asynchronous part of checkpoint `id` is written (SnapshotDone). */
export interface SnapshotDone {
  readonly type: "snapshotDone";
  /** Plan task id. */
  readonly task: number;
  /** Checkpoint id. */
  readonly id: number;
  /** State handles and sizes of the task's operators. */
  readonly snapshots: OperatorSubtaskSnapshot[];
}

/**
 * A task cannot take its part of checkpoint `id` (Decline). `subsumed`: a
 * newer checkpoint's barrier overtook it; the coordinator counts no failure.
 */
export interface Decline {
  readonly type: "decline";
  /** Plan task id. */
  readonly task: number;
  /** Checkpoint id. */
  readonly id: number;
  /** Why, for the checkpoint's failure message. */
  readonly reason: string;
  /** Overtaken by a newer checkpoint rather than failed. */
  readonly subsumed?: boolean;
}

/** Coordinator → tasks. */
export type CoordinatorToTask =
  | InjectBarrier
  | NotifyCheckpointComplete
  | NotifyCheckpointAborted;

/** Tasks → coordinator. */
export type TaskToCoordinator = BarrierAck | SnapshotDone | Decline;

/** A source reader → its enumerator: the reader has no split and asks for one (Flink's RequestSplitEvent). */
export interface SplitRequest {
  readonly type: "splitRequest";
  /** The source's uid. */
  readonly uid: string;
  /** The reader's subtask. */
  readonly subtask: number;
}

/** A source reader → its enumerator: the reader opened (Flink's ReaderRegistrationEvent). */
export interface ReaderRegistered {
  readonly type: "readerRegistered";
  /** The source's uid. */
  readonly uid: string;
  /** The reader's subtask. */
  readonly subtask: number;
}

/** An enumerator → one reader: read these splits (Flink's AddSplitEvent). */
export interface AddSplits {
  readonly type: "addSplits";
  /** The source's uid. */
  readonly uid: string;
  /** The reader's subtask. */
  readonly subtask: number;
  /** The splits, with their positions. */
  readonly splits: unknown[];
}

/** An enumerator → one reader: no more splits will come (Flink's NoMoreSplitsEvent). */
export interface NoMoreSplits {
  readonly type: "noMoreSplits";
  /** The source's uid. */
  readonly uid: string;
  /** The reader's subtask. */
  readonly subtask: number;
}

/**
 * A source reader in a watermark alignment group → the main thread, every
 * update interval: its watermark (Flink's ReportedWatermarkEvent).
 */
export interface ReportedWatermark {
  readonly type: "reportedWatermark";
  /** The source's uid. */
  readonly uid: string;
  /** The reader's subtask. */
  readonly subtask: number;
  /** The alignment group's name. */
  readonly group: string;
  /** How far this source's readers may run ahead of the group's lowest watermark. */
  readonly maxDriftMs: number;
  /** The reader's watermark; +∞ when it is idle or finished (it holds nobody back). */
  readonly watermark: number;
}

/**
 * The main thread → one reader of an alignment group: the highest watermark
 * its splits may have and go on reading (Flink's WatermarkAlignmentEvent).
 */
export interface WatermarkAlignmentEvent {
  readonly type: "watermarkAlignment";
  /** The source's uid. */
  readonly uid: string;
  /** The reader's subtask. */
  readonly subtask: number;
  /** The group's lowest reported watermark plus the source's max drift. */
  readonly maxAllowedWatermark: number;
}

/** Source readers → their enumerators and alignment groups (in the main thread). */
export type ReaderToEnumerator = SplitRequest | ReaderRegistered | ReportedWatermark;

/** Enumerators and alignment groups → source readers. */
export type EnumeratorToReader = AddSplits | NoMoreSplits | WatermarkAlignmentEvent;
