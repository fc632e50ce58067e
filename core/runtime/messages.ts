/**
 * What travels through channels: batches of records, and the in-band control
 * messages (watermark, checkpoint barrier, end of input). Control messages
 * keep their order relative to records, which is what makes barriers and
 * watermarks correct.
 *
 * @module
 */

/** Kinds of channel messages. */
export const enum MessageKind {
  Records = 0,
  Watermark = 1,
  Barrier = 2,
  EndOfInput = 3,
  WatermarkStatus = 4,
}

/** A batch of records; `timestamps` is null when no record has one. */
export interface RecordBatch {
  readonly kind: MessageKind.Records;
  readonly values: unknown[];
  readonly timestamps: (number | undefined)[] | null;
  /**
   * What a keyed edge routing the batch by key over several channels computed
   * for each record's key (null otherwise): at `2 * i` record i's key group, at
   * `2 * i + 1` its hash in the state backends' key tables (`stringKeyHash`)
   * if it is a string, else 0. The receiving keyed operator
   * gives both to its state backend, which then does not hash the key again.
   */
  readonly routedKeys: Int32Array | null;
  /**
   * `performance.now()` of this thread when the producer sent it (a batch from another worker
   * arrives with it converted to this thread's clock): input latency metrics.
   */
  readonly sentAt?: number;
}

/** Event time has reached `timestamp` on this channel. */
export interface WatermarkMessage {
  readonly kind: MessageKind.Watermark;
  readonly timestamp: number;
}

/**
 * The channel's producer became idle (it stops holding back the watermark
 * downstream) or active again. Records and watermarks also make it active.
 */
export interface WatermarkStatusMessage {
  readonly kind: MessageKind.WatermarkStatus;
  readonly idle: boolean;
}

/** Options a checkpoint barrier carries. */
export interface BarrierOptions {
  /** A savepoint rather than a checkpoint. */
  readonly savepoint: boolean;
  /** Align barriers at multi-input tasks (exactly-once) or not (at-least-once). */
  readonly aligned: boolean;
}

/** Everything before this barrier belongs to checkpoint `checkpointId`. */
export interface BarrierMessage {
  readonly kind: MessageKind.Barrier;
  readonly checkpointId: number;
  readonly options: BarrierOptions;
}

/** The producer has finished. */
export interface EndOfInputMessage {
  readonly kind: MessageKind.EndOfInput;
}

/** Anything a channel carries. */
export type ChannelMessage =
  | RecordBatch
  | WatermarkMessage
  | WatermarkStatusMessage
  | BarrierMessage
  | EndOfInputMessage;

/** The one end-of-input message. */
export const END_OF_INPUT: EndOfInputMessage = { kind: MessageKind.EndOfInput };
