/**
 * Channel messages as bytes, for channels that cross a worker boundary (a
 * {@linkcode RingWriter} frame each). Records are written with the edge's
 * serializer (the plain-value serializer unless the user gave one);
 * watermarks, barriers and end of input travel in the same frames' order, so
 * they stay in-band.
 *
 * ```
 * u8 kind | body
 * Records:         varint count | u8 flags (bit 0 timestamps, bit 1 sentAt) | (f64 sentAt)?
 *                  | ((f64 timestamp (NaN: none))? value), per record
 * Watermark:       f64 timestamp
 * WatermarkStatus: u8 idle
 * Barrier:         varint checkpointId | u8 flags (bit 0 savepoint, bit 1 aligned)
 * EndOfInput:      (nothing)
 * ```
 *
 * A batch's `sentAt` crosses as wall-clock time (`performance.timeOrigin` plus
 * the sender's `performance.now()`) and is read back on the receiver's clock,
 * so input latency is measured across workers too, and a decoded batch has
 * the same fields as one made in the receiving worker (its input loop sees
 * one object shape).
 *
 * With the plain-value serializer (an edge's default), a batch's values are
 * written by {@linkcode writeBatchValue}: plain objects by shape, so a batch
 * carries each list of field names once and the reader builds each shape's
 * objects from one compiled literal (see `core/state/plain_serializer.ts`).
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import { ByteReader, type ByteWriter } from "../state/bytes.ts";
import type { Serializer } from "../state/serializer.ts";
import {
  BatchValueReader,
  plainSerializer,
  ShapeTable,
  writeBatchValue,
} from "../state/plain_serializer.ts";
import { type ChannelMessage, END_OF_INPUT, MessageKind } from "./messages.ts";

// One of each per thread: encoding and decoding a message is synchronous.
const shapes = new ShapeTable();
const batchReader = new BatchValueReader();

/**
 * Appends `msg` to `out`. A record the serializer refuses is a
 * SerializationError naming the edge.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWriter, Serializers } from "@weir/weir";
 * import { decodeMessage, encodeMessage } from "./channel_codec.ts";
 * import { type ChannelMessage, MessageKind } from "./messages.ts";
 * const out = new ByteWriter();
 * const batch: ChannelMessage = { kind: MessageKind.Records, values: ["a", "b"], timestamps: null };
 * encodeMessage(batch, Serializers.plain, "words -> count", out);
 * assert.deepEqual(decodeMessage(out.bytes(), Serializers.plain), batch);
 * ```
 */
export function encodeMessage(
  msg: ChannelMessage,
  serializer: Serializer<unknown>,
  edge: string,
  out: ByteWriter,
): void {
  out.writeU8(msg.kind);
  switch (msg.kind) {
    case MessageKind.Records: {
      const { values, timestamps, sentAt } = msg;
      out.writeVarUint(values.length);
      out.writeU8((timestamps === null ? 0 : 1) | (sentAt === undefined ? 0 : 2));
      if (sentAt !== undefined) out.writeF64(performance.timeOrigin + sentAt);
      const plain = serializer === plainSerializer;
      if (plain) shapes.reset();
      try {
        for (let i = 0; i < values.length; i++) {
          if (timestamps !== null) out.writeF64(timestamps[i] ?? NaN);
          if (plain) writeBatchValue(values[i], out, shapes);
          else serializer.write(values[i], out);
        }
      } catch (e) {
        if (!(e instanceof SerializationError)) throw e;
        throw new SerializationError(`Edge "${edge}": ${e.message}`, { cause: e });
      }
      return;
    }
    case MessageKind.Watermark:
      out.writeF64(msg.timestamp);
      return;
    case MessageKind.WatermarkStatus:
      out.writeU8(msg.idle ? 1 : 0);
      return;
    case MessageKind.Barrier:
      out.writeVarUint(msg.checkpointId);
      out.writeU8((msg.options.savepoint ? 1 : 0) | (msg.options.aligned ? 2 : 0));
      return;
    case MessageKind.EndOfInput:
      return;
  }
}

/** Reads the message {@linkcode encodeMessage} wrote to `bytes`. */
export function decodeMessage(bytes: Uint8Array, serializer: Serializer<unknown>): ChannelMessage {
  const r = new ByteReader(bytes);
  const kind = r.readU8();
  switch (kind) {
    case MessageKind.Records: {
      const n = r.readVarUint();
      const flags = r.readU8();
      const hasTimestamps = (flags & 1) !== 0;
      const sentAt = (flags & 2) !== 0 ? r.readF64() - performance.timeOrigin : undefined;
      const values = new Array<unknown>(n);
      const timestamps = hasTimestamps ? new Array<number | undefined>(n) : null;
      const plain = serializer === plainSerializer;
      if (plain) batchReader.startBatch(r);
      for (let i = 0; i < n; i++) {
        if (timestamps !== null) {
          const t = r.readF64();
          timestamps[i] = Number.isNaN(t) ? undefined : t;
        }
        values[i] = plain ? batchReader.read() : serializer.read(r);
      }
      // The fields in the order a ChannelWriter's batches have them: one shape.
      return sentAt === undefined
        ? { kind, values, timestamps }
        : { kind, values, timestamps, sentAt };
    }
    case MessageKind.Watermark:
      return { kind, timestamp: r.readF64() };
    case MessageKind.WatermarkStatus:
      return { kind, idle: r.readU8() === 1 };
    case MessageKind.Barrier: {
      const checkpointId = r.readVarUint();
      const flags = r.readU8();
      return {
        kind,
        checkpointId,
        options: { savepoint: (flags & 1) !== 0, aligned: (flags & 2) !== 0 },
      };
    }
    case MessageKind.EndOfInput:
      return END_OF_INPUT;
    default:
      throw new SerializationError(`Cannot decode a channel message of unknown kind ${kind}`);
  }
}
