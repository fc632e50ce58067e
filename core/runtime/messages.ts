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
   * `2 * i + 1` its hash in the state backends' key tables (`tableHash`: a
   * string's `stringKeyHash`, 0 for a key the tables find without one). The
   * receiving keyed operator gives both to its state backend, which then does
   * not hash the key again.
   */
  readonly routedKeys: Int32Array | null;
  /**
   * `performance.now()` of this thread when the producer sent it (a batch from another worker
   * arrives with it converted to this thread's clock): input latency metrics.
   */
  readonly sentAt?: number;
}

/**
 * An array for `n` records of a batch (null until filled), made as an array of
 * any values. A `new Array(n)` starts as one of small integers, and the first
 * record stored in it changes its map: code optimized for batches whose map
 * had already changed bailed out at the first record of each new batch, and
 * was compiled again (on a core the job's other threads need).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordArray } from "./messages.ts";
 * const batch = recordArray(3);
 * batch[0] = "a record";
 * assert.deepEqual(batch, ["a record", null, null]);
 * batch.length = 1; // a batch that filled less than its array is cut to its records
 * assert.deepEqual(batch, ["a record"]);
 * assert.deepEqual(recordArray(0), []);
 * ```
 */
export function recordArray(n: number): unknown[] {
  // fill(null) makes an array of any values; shortening it keeps that kind, at 0 too.
  const values: unknown[] = new Array(Math.max(n, 1)).fill(null);
  values.length = n;
  return values;
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
