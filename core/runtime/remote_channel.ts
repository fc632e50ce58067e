/**
 * The ends of a plan channel whose producer and consumer tasks run on
 * different workers, adapted to the surface tasks already use: a
 * {@linkcode RingOutputChannel} is what a `ChannelWriter` pushes batches
 * into, a {@linkcode RingInputChannel} is what an `InputGate` polls. Records
 * are encoded with the edge's serializer into a shared ring; the ring's size
 * is the producer's credit, so backpressure holds across workers.
 *
 * @module
 */
import { SerializationError } from "../errors.ts";
import type { Serializer } from "../state/serializer.ts";
import type { InputChannel, InputGate, OutputChannel } from "./channel.ts";
import type { ChannelMessage } from "./messages.ts";
import { RingChannelReader, RingChannelWriter } from "./ring_channel.ts";
import type { SharedRing } from "./shared_ring.ts";

/**
 * Writes a channel's messages into a ring. `push` never blocks: while the
 * ring has no credit, messages wait here in order, and `hasSpace` is false
 * until they are all in the ring, so the task awaits `waitForSpace` after its
 * batch (what is held here is bounded by one input batch's output).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers } from "@weir/weir";
 * import { createRing } from "./shared_ring.ts";
 * import { RingInputChannel, RingOutputChannel } from "./remote_channel.ts";
 * import { type ChannelMessage, END_OF_INPUT, MessageKind } from "./messages.ts";
 * const ring = createRing(1024);
 * const out = new RingOutputChannel(ring, Serializers.plain, "a -> b");
 * const input = new RingInputChannel(ring, Serializers.plain);
 * const batch: ChannelMessage = { kind: MessageKind.Records, values: ["x".repeat(600)], timestamps: null, routedKeys: null };
 * out.push(batch);
 * out.push(batch); // no credit for a second one: it waits, in order
 * out.push(END_OF_INPUT);
 * assert.equal(out.hasSpace(), false);
 * const space = out.waitForSpace();
 * assert.equal(input.take()?.kind, MessageKind.Records);
 * await space;
 * assert.equal(input.take()?.kind, MessageKind.Records);
 * assert.equal(input.take(), END_OF_INPUT);
 * ```
 */
export class RingOutputChannel implements OutputChannel {
  readonly #writer: RingChannelWriter;
  readonly #hint: string;
  readonly #queue: ChannelMessage[] = [];
  #draining: Promise<void> | undefined;
  #error: unknown;
  #closed = false;

  /**
   * Writes into `ring` with `serializer`; `edge` names the edge in errors, and
   * `hint` (if any) ends a serialization error's message: how to give a serializer.
   */
  constructor(
    ring: SharedRing,
    serializer: Serializer<unknown>,
    edge: string,
    hint = "",
  ) {
    this.#writer = new RingChannelWriter(ring, serializer, edge);
    this.#hint = hint;
  }

  /** Bytes written so far. */
  get bytesOut(): number {
    return this.#writer.bytesOut;
  }

  /** Encodes `msg` into the ring, or queues it behind messages waiting for credit. */
  push(msg: ChannelMessage): void {
    this.#throwIfFailed();
    if (this.#closed) return;
    if (this.#draining) {
      this.#queue.push(msg);
      return;
    }
    let wait;
    try {
      wait = this.#writer.write(msg);
    } catch (e) {
      if (!(e instanceof SerializationError) || this.#hint === "") throw e;
      throw new SerializationError(`${e.message} ${this.#hint}`, { cause: e });
    }
    if (wait) this.#draining = this.#drain(wait);
  }

  async #drain(first: Promise<void>): Promise<void> {
    try {
      await first;
      while (this.#queue.length > 0 && !this.#closed) {
        const wait = this.#writer.write(this.#queue.shift()!);
        if (wait) await wait;
      }
    } catch (e) {
      this.#error = e;
    } finally {
      this.#queue.length = 0;
      this.#draining = undefined;
    }
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /** Whether every pushed message is in the ring. */
  hasSpace(): boolean {
    this.#throwIfFailed();
    return this.#draining === undefined || this.#closed;
  }

  /** Resolves once every pushed message is in the ring (or the channel closed). */
  async waitForSpace(): Promise<void> {
    await this.#draining;
    this.#throwIfFailed();
  }

  /** Closes the ring: both sides stop waiting. */
  close(): void {
    this.#closed = true;
    this.#writer.close();
  }
}

/** Reads a ring as an input gate's channel; wakes the gate when a frame arrives. */
export class RingInputChannel implements InputChannel {
  readonly #reader: RingChannelReader;
  #gate: InputGate | undefined;
  #index = 0;
  #armed = false;
  /** Records taken, for metrics. */
  recordsIn = 0;

  /** Reads `ring`, decoding records with `serializer`. */
  constructor(ring: SharedRing, serializer: Serializer<unknown>) {
    this.#reader = new RingChannelReader(ring, serializer);
  }

  /** Connects the gate to wake. */
  attach(gate: InputGate, index: number): void {
    this.#gate = gate;
    this.#index = index;
  }

  /** Whether a frame waits. */
  hasMessage(): boolean {
    return this.#reader.hasMessage();
  }

  /** Decodes the next frame. */
  take(): ChannelMessage | undefined {
    return this.#reader.take();
  }

  /**
   * Sleeps on the ring (once at a time) and notifies the gate when a frame
   * arrives. A ring the other side closed (its worker cancelled) brings no
   * more frames: no notify, or the task would spin; the job's cancel wakes it.
   */
  armWake(): void {
    if (this.#armed || this.#reader.closed) return;
    this.#armed = true;
    this.#reader.waitForMessage().then(() => {
      this.#armed = false;
      if (!this.#reader.closed || this.#reader.hasMessage()) this.#gate?.notify(this.#index);
    });
  }

  /** Closes the ring (the job is cancelled). */
  close(): void {
    this.#reader.close();
  }
}
