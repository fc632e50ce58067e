/**
 * The two ends of a channel that crosses a worker boundary: channel messages
 * encoded with {@linkcode encodeMessage} into the frames of a shared ring.
 * One ring per producer/consumer subtask pair, as for in-worker channels; the
 * ring's size bounds what is in flight, which is how backpressure crosses
 * workers. A message bigger than a frame (a single record about the ring's
 * size or larger) goes in pieces of half the ring, as Flink spans a record
 * over network buffers:
 *
 * ```
 * piece frame: | PIECE (0xfe) or LAST_PIECE (0xff) | bytes of the encoded message |
 * ```
 *
 * (an encoded message starts with its kind, below 0xfe). The reader keeps
 * the pieces until the last one, then decodes the whole.
 *
 * @module
 */
import { ByteWriter } from "../state/bytes.ts";
import type { Serializer } from "../state/serializer.ts";
import { decodeMessage, encodeMessage } from "./channel_codec.ts";
import { type ChannelMessage, MessageKind, type RecordBatch } from "./messages.ts";
import { RingReader, RingWriter, type SharedRing } from "./shared_ring.ts";

/**
 * A batch of records goes in frames of at most about 1/FRAME_SHARE of the
 * ring: two fit at once, so the consumer decodes one while the producer
 * writes the next (one frame the size of the ring would make each side wait
 * for the other). Not smaller: a consumer's input gate takes a message from
 * each of its channels in turn, so a channel of small frames would get a
 * small share of its time, and its records would wait longer.
 */
const FRAME_SHARE = 2;

/** First byte of a piece of a message that more pieces follow. */
const PIECE = 0xfe;
/** First byte of the last piece of a message. */
const LAST_PIECE = 0xff;

/** Records `from` to `to` of `msg`, as a batch of their own. */
function partOf(msg: RecordBatch, from: number, to: number): RecordBatch {
  const values = msg.values.slice(from, to);
  const timestamps = msg.timestamps && msg.timestamps.slice(from, to);
  const routedKeys = msg.routedKeys && msg.routedKeys.subarray(2 * from, 2 * to);
  return msg.sentAt === undefined
    ? { kind: MessageKind.Records, values, timestamps, routedKeys }
    : { kind: MessageKind.Records, values, timestamps, routedKeys, sentAt: msg.sentAt };
}

/**
 * Writes channel messages into a ring. `write` returns undefined when the
 * message went in at once and a promise when the writer must wait for credit
 * first; the caller awaits it before the next write (per batch, not per record).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers } from "@weir/weir";
 * import { createRing } from "./shared_ring.ts";
 * import { RingChannelReader, RingChannelWriter } from "./ring_channel.ts";
 * import { END_OF_INPUT, MessageKind } from "./messages.ts";
 * const ring = createRing(4096);
 * const writer = new RingChannelWriter(ring, Serializers.plain, "source -> count");
 * const reader = new RingChannelReader(ring, Serializers.plain);
 * await writer.write({ kind: MessageKind.Records, values: ["to", "be"], timestamps: null, routedKeys: null });
 * await writer.write(END_OF_INPUT);
 * assert.deepEqual(reader.take(), { kind: MessageKind.Records, values: ["to", "be"], timestamps: null, routedKeys: null });
 * assert.equal(reader.take(), END_OF_INPUT);
 * ```
 */
export class RingChannelWriter {
  readonly #ring: RingWriter;
  readonly #serializer: Serializer<unknown>;
  readonly #edge: string;
  readonly #out = new ByteWriter(4096);
  /** Records per frame, from the bytes a record took in the last batch (none: unknown yet). */
  #recordsPerFrame = Infinity;
  /** Bytes of frames written, for metrics. */
  bytesOut = 0;

  /** Writes into `ring` with `serializer`; `edge` names the edge in errors. */
  constructor(ring: SharedRing, serializer: Serializer<unknown>, edge: string) {
    this.#ring = new RingWriter(ring);
    this.#serializer = serializer;
    this.#edge = edge;
  }

  /** Appends `msg`; a promise when it has to wait for the reader. */
  write(msg: ChannelMessage): Promise<void> | undefined {
    const perFrame = this.#recordsPerFrame;
    if (msg.kind === MessageKind.Records && msg.values.length > perFrame) {
      return this.#writeParts(msg, perFrame);
    }
    const out = this.#out;
    out.reset();
    encodeMessage(msg, this.#serializer, this.#edge, out);
    if (msg.kind === MessageKind.Records && msg.values.length > 0) {
      const target = this.#ring.capacity / FRAME_SHARE;
      this.#recordsPerFrame = Math.max(1, Math.floor(target * msg.values.length / out.length));
    }
    if (out.length > this.#ring.maxFrame) return this.#writeTooBig(msg);
    this.bytesOut += out.length;
    if (this.#ring.tryWrite(out.bytes())) return undefined;
    return this.#waitAndWrite(out.toBytes());
  }

  async #waitAndWrite(frame: Uint8Array): Promise<void> {
    while (!this.#ring.tryWrite(frame)) await this.#ring.waitForSpace(frame.length);
  }

  /** Writes `msg` as parts of `perFrame` records, in order; a promise once one has to wait. */
  #writeParts(msg: RecordBatch, perFrame: number): Promise<void> | undefined {
    const n = msg.values.length;
    for (let from = 0; from < n; from += perFrame) {
      const wait = this.write(partOf(msg, from, Math.min(n, from + perFrame)));
      if (wait) return this.#writePartsAfter(wait, msg, from + perFrame, perFrame);
    }
    return undefined;
  }

  async #writePartsAfter(
    wait: Promise<void>,
    msg: RecordBatch,
    from: number,
    perFrame: number,
  ): Promise<void> {
    await wait;
    const n = msg.values.length;
    for (; from < n; from += perFrame) {
      await this.write(partOf(msg, from, Math.min(n, from + perFrame)));
    }
  }

  /**
   * A batch too big for one frame goes in parts of the records per frame its
   * own size gave (fewer than half its records: a frame holds almost the ring);
   * a single record, in pieces.
   */
  #writeTooBig(msg: ChannelMessage): Promise<void> | undefined {
    if (msg.kind !== MessageKind.Records || msg.values.length < 2) {
      return this.#writePieces(this.#out.toBytes());
    }
    return this.#writeParts(msg, this.#recordsPerFrame);
  }

  /** Writes an encoded message in piece frames of half the ring; a promise once one has to wait. */
  #writePieces(bytes: Uint8Array): Promise<void> | undefined {
    const size = Math.min(this.#ring.maxFrame, this.#ring.capacity / FRAME_SHARE) - 1;
    const piece = (from: number) => {
      const to = Math.min(bytes.length, from + size);
      const frame = new Uint8Array(1 + to - from);
      frame[0] = to === bytes.length ? LAST_PIECE : PIECE;
      frame.set(bytes.subarray(from, to), 1);
      return frame;
    };
    this.bytesOut += bytes.length;
    for (let from = 0; from < bytes.length; from += size) {
      const frame = piece(from);
      if (this.#ring.tryWrite(frame)) continue;
      return (async () => {
        await this.#waitAndWrite(frame);
        for (from += size; from < bytes.length; from += size) await this.#waitAndWrite(piece(from));
      })();
    }
    return undefined;
  }

  /** Closes the ring (the job is cancelled): both sides stop waiting. */
  close(): void {
    this.#ring.close();
  }
}

/** Reads the channel messages a {@linkcode RingChannelWriter} wrote. */
export class RingChannelReader {
  readonly #ring: RingReader;
  readonly #serializer: Serializer<unknown>;
  /** The pieces of a message read so far (copies: the ring reuses its buffer). */
  #pieces: Uint8Array[] = [];

  /** Reads from `ring`, decoding records with `serializer`. */
  constructor(ring: SharedRing, serializer: Serializer<unknown>) {
    this.#ring = new RingReader(ring);
    this.#serializer = serializer;
  }

  /** The next message, or undefined if none waits (or only some pieces of one). */
  take(): ChannelMessage | undefined {
    for (;;) {
      const frame = this.#ring.read();
      if (frame === undefined) return undefined;
      if (frame[0]! < PIECE) return decodeMessage(frame, this.#serializer);
      this.#pieces.push(frame.slice(1));
      if (frame[0] === PIECE) continue;
      const pieces = this.#pieces;
      this.#pieces = [];
      const whole = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of pieces) {
        whole.set(p, at);
        at += p.length;
      }
      return decodeMessage(whole, this.#serializer);
    }
  }

  /** Whether a message waits. */
  hasMessage(): boolean {
    return this.#ring.hasFrame();
  }

  /** Resolves once a message waits (or the ring was closed). */
  waitForMessage(): Promise<void> {
    return this.#ring.waitForFrame();
  }

  /** Closes the ring (the job is cancelled): both sides stop waiting. */
  close(): void {
    this.#ring.close();
  }

  /** Whether the ring was closed. */
  get closed(): boolean {
    return this.#ring.closed;
  }
}
