/**
 * Channel messages as bytes, for channels that cross a worker boundary (a
 * {@linkcode RingWriter} frame each). Records are written with the edge's
 * serializer (the plain-value serializer unless the user gave one);
 * watermarks, barriers and end of input travel in the same frames' order, so
 * they stay in-band.
 *
 * ```
 * u8 kind | body
 * Records:         varint count | u8 flags (bit 0 timestamps, bit 1 sentAt, bit 2 ASCII column,
 *                  bit 3 routed keys) | (f64 sentAt)? | (i32 key group, i32 key hash, per record)?
 *                  | body
 *   body:          ((f64 timestamp (NaN: none))? value), per record
 *   ASCII column:  ((f64 timestamp (NaN: none))? varint length), per record
 *                  | varint bytes | the records' chars, one byte each
 * Watermark:       f64 timestamp
 * WatermarkStatus: u8 idle
 * Barrier:         varint checkpointId | u8 flags (bit 0 savepoint, bit 1 aligned)
 * EndOfInput:      (nothing)
 * ```
 *
 * A batch's `sentAt` crosses as wall-clock time (`performance.timeOrigin` plus
 * the sender's `performance.now()`) and is read back on the receiver's clock,
 * so input latency is measured across workers too. The routed keys' groups
 * and table hashes cross as they are (eight bytes a record, in this machine's
 * byte order: both ends are one process), so the receiver does not hash the
 * keys again. A decoded batch has
 * the same fields as one made in the receiving worker (its input loop sees
 * one object shape).
 *
 * With the plain-value serializer (an edge's default), a batch whose records
 * are all ASCII strings (words, keys, lines) is written as a column: the
 * lengths, then every record's chars, one byte each; the reader decodes the
 * chars once and cuts each record out of them.
 * Another batch's values are
 * written by {@linkcode writeBatchValue}: plain objects by shape, so a batch
 * carries each list of field names once and the reader builds each shape's
 * objects from one compiled literal (see `core/state/plain_serializer.ts`).
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import {
  ByteReader,
  type ByteWriter,
  charsAt,
  MAX_CHARS_AT,
  MAX_COPIED_SUBSTRING,
} from "../state/bytes.ts";
import type { Serializer } from "../state/serializer.ts";
import {
  BatchValueReader,
  plainSerializer,
  ShapeTable,
  writeBatchValue,
} from "../state/plain_serializer.ts";
import { type ChannelMessage, END_OF_INPUT, MessageKind, recordArray } from "./messages.ts";

const encoder = new TextEncoder();

// One of each per thread: encoding and decoding a message is synchronous.
const shapes = new ShapeTable();
const batchReader = new BatchValueReader();
/**
 * Decodes ASCII columns: there a char index is the byte index. UTF-8, not
 * Latin-1: the two read ASCII alike, and Deno's UTF-8 decoder takes a fast
 * path for ASCII that its Latin-1 decoder lacks.
 */
const ascii = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * `bytes` as chars, one per byte. Not fatal on bytes above 0x7f (Deno's fatal
 * decoder has no ASCII fast path): those come only from a damaged message, and a
 * sequence of them that UTF-8 reads as fewer chars is caught here.
 */
function asciiChars(bytes: Uint8Array): string {
  const chars = ascii.decode(bytes);
  if (chars.length !== bytes.length) {
    throw new SerializationError(
      "A damaged channel message: its ASCII column holds bytes above 0x7f",
    );
  }
  return chars;
}
/** The lengths of an ASCII column's records, while the reader reads them. */
let columnLengths = new Int32Array(1024);

const COLUMN_FLAG = 4;
const ROUTED_KEYS_FLAG = 8;

/**
 * Writes the lengths (and timestamps) of an ASCII column's records and returns
 * their chars' total, or -1, having written nothing, when a value is not a
 * string. A function of its own: the optimizing compiler takes its loop, hot
 * from a batch's first call, without the rest of the column's code, which has
 * not run by then (compiled with it, it would be thrown out once it ran).
 */
function writeColumnLengths(
  values: readonly unknown[],
  timestamps: readonly (number | undefined)[] | null,
  out: ByteWriter,
): number {
  const start = out.length;
  const n = values.length;
  // Room for every length (a varint of at most 5 bytes) and timestamp up front: the loop
  // writes the bytes itself, one store for a length under 128, as most are.
  out.ensure(n * (timestamps === null ? 5 : 13));
  const buf = out.buf;
  let at = start;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== "string") {
      out.length = start;
      return -1;
    }
    if (timestamps !== null) {
      out.length = at;
      out.writeF64(timestamps[i] ?? NaN);
      at = out.length;
    }
    let length = v.length;
    total += length;
    for (; length >= 0x80; length >>>= 7) buf[at++] = (length & 0x7f) | 0x80;
    buf[at++] = length;
  }
  out.length = at;
  return total;
}

/**
 * Writes `values` as an ASCII column (after the flags) when every one is an
 * ASCII string; otherwise writes nothing and returns false.
 */
function writeAsciiColumn(
  values: readonly unknown[],
  timestamps: readonly (number | undefined)[] | null,
  out: ByteWriter,
): boolean {
  const start = out.length;
  const total = writeColumnLengths(values, timestamps, out);
  if (total < 0) return false;
  out.writeVarUint(total);
  out.ensure(total);
  // The records joined, then one encodeInto: a charCodeAt loop pays V8's check of the
  // string's kind per char, and `join` more than `+=`, whose rope encodeInto walks once.
  // Every char fits in one byte only if `total` chars make `total` bytes.
  let chars = "";
  for (let i = 0; i < values.length; i++) chars += values[i] as string;
  const from = out.length;
  const { read, written } = encoder.encodeInto(chars, out.buf.subarray(from, from + total));
  if (read !== total || written !== total) {
    out.length = start;
    return false;
  }
  out.length = from + total;
  return true;
}

/** Reads the ASCII column {@linkcode writeAsciiColumn} wrote into `values` (and `timestamps`). */
function readAsciiColumn(
  r: ByteReader,
  n: number,
  values: unknown[],
  timestamps: (number | undefined)[] | null,
): void {
  if (columnLengths.length < n) columnLengths = new Int32Array(n);
  const lengths = columnLengths;
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (timestamps !== null) {
      const t = r.readF64();
      timestamps[i] = Number.isNaN(t) ? undefined : t;
    }
    // A length under 128 is one byte, read here; a longer one, or the frame's end, by the reader.
    const b = r.pos < r.buf.length ? r.buf[r.pos]! : 0x80;
    if (b < 0x80) {
      r.pos++;
      total += lengths[i] = b;
    } else total += lengths[i] = r.readVarUint();
  }
  const bytes = r.readVarUint();
  if (bytes !== total) {
    throw new SerializationError(
      `A damaged channel message: its records' lengths add up to ${total}, not its ${bytes} chars`,
    );
  }
  const at = r.pos;
  const raw = r.readRaw(bytes);
  const chars = asciiChars(raw);
  let from = 0;
  for (let i = 0; i < n; i++) {
    const length = lengths[i]!;
    values[i] = length <= MAX_COPIED_SUBSTRING
      ? chars.substring(from, from + length)
      : length < MAX_CHARS_AT
      ? charsAt(r.buf, at + from, length)
      : asciiChars(r.buf.subarray(at + from, at + from + length));
    from += length;
  }
}

/**
 * Appends `msg` to `out`. A record the serializer refuses is a
 * SerializationError naming the edge.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWriter, Serializers } from "@weir/weir";
 * import { stringKeyHash } from "../state/_key_table.ts";
 * import { decodeMessage, encodeMessage } from "./channel_codec.ts";
 * import { type ChannelMessage, MessageKind } from "./messages.ts";
 * const out = new ByteWriter();
 * // Two words routed by key: each carries its key group and its key tables' hash.
 * const batch: ChannelMessage = {
 *   kind: MessageKind.Records,
 *   values: ["a", "b"],
 *   timestamps: null,
 *   routedKeys: new Int32Array([17, stringKeyHash("a"), 94, stringKeyHash("b")]),
 * };
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
      const { values, timestamps, routedKeys, sentAt } = msg;
      out.writeVarUint(values.length);
      const flagsAt = out.length;
      out.writeU8(
        (timestamps === null ? 0 : 1) | (sentAt === undefined ? 0 : 2) |
          (routedKeys === null ? 0 : ROUTED_KEYS_FLAG),
      );
      if (sentAt !== undefined) out.writeF64(performance.timeOrigin + sentAt);
      if (routedKeys !== null) {
        out.writeRaw(new Uint8Array(routedKeys.buffer, routedKeys.byteOffset, values.length * 8));
      }
      const plain = serializer === plainSerializer;
      if (plain && writeAsciiColumn(values, timestamps, out)) {
        out.buf[flagsAt]! |= COLUMN_FLAG;
        return;
      }
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
      let routedKeys: Int32Array | null = null;
      if ((flags & ROUTED_KEYS_FLAG) !== 0) {
        routedKeys = new Int32Array(2 * n);
        new Uint8Array(routedKeys.buffer).set(r.readRaw(n * 8));
      }
      // Preallocated, as a ChannelWriter's batches are: one array map for the receiver's
      // input loop, whichever thread the batch came from.
      const values = recordArray(n);
      const timestamps = hasTimestamps ? new Array<number | undefined>(n) : null;
      if ((flags & COLUMN_FLAG) !== 0) {
        readAsciiColumn(r, n, values, timestamps);
      } else {
        const plain = serializer === plainSerializer;
        if (plain) batchReader.startBatch(r);
        for (let i = 0; i < n; i++) {
          if (timestamps !== null) {
            const t = r.readF64();
            timestamps[i] = Number.isNaN(t) ? undefined : t;
          }
          values[i] = plain ? batchReader.read() : serializer.read(r);
        }
      }
      // The fields in the order a ChannelWriter's batches have them: one shape.
      return sentAt === undefined
        ? { kind, values, timestamps, routedKeys }
        : { kind, values, timestamps, routedKeys, sentAt };
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
