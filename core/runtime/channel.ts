/**
 * Bounded channels between tasks and the input gate that merges a task's
 * channels. A channel holds at most `capacity` records (plus the one batch
 * that crossed the line); a writer that finds it full awaits space, which is
 * how a slow consumer slows its producers (backpressure). Awaits happen per
 * batch, never per record.
 *
 * @module
 */
import { type ChannelMessage, MessageKind } from "./messages.ts";

interface Waiter {
  promise: Promise<void>;
  resolve: () => void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The writing end of a channel, as a {@linkcode ChannelWriter} uses it: an
 * in-worker {@linkcode Channel} or a ring to another worker.
 */
export interface OutputChannel {
  /** Appends a message; never blocks. */
  push(msg: ChannelMessage): void;
  /** Whether the writer may go on without waiting. */
  hasSpace(): boolean;
  /** Resolves once the channel has space again (or is closed). */
  waitForSpace(): Promise<void>;
  /** Stops the channel (the job is cancelled). */
  close(): void;
}

/**
 * The reading end of a channel, as an {@linkcode InputGate} uses it. A channel
 * whose messages arrive without a `push` in this thread (a ring filled by
 * another worker) implements `armWake`: the gate calls it before it sleeps,
 * and the channel then calls `gate.notify(index)` once a message arrives.
 */
export interface InputChannel {
  /** Connects the reading side. */
  attach(gate: InputGate, index: number): void;
  /** Whether a message is waiting. */
  hasMessage(): boolean;
  /** Takes the next message. */
  take(): ChannelMessage | undefined;
  /** Stops the channel (the job is cancelled). */
  close(): void;
  /** Arranges one `notify` of the attached gate when the next message arrives. */
  armWake?(): void;
}

/** A bounded FIFO from one producer subtask to one consumer subtask. */
export class Channel implements OutputChannel, InputChannel {
  /** Most records buffered before a writer must wait. */
  readonly capacity: number;
  #queue: ChannelMessage[] = [];
  #head = 0;
  #buffered = 0;
  #spaceWaiter: Waiter | null = null;
  #gate: InputGate | null = null;
  #index = 0;
  #closed = false;
  /** Total records pushed, for metrics. */
  recordsIn = 0;

  /** Creates a channel holding up to `capacity` records. */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** @internal Connects the reading side. */
  attach(gate: InputGate, index: number): void {
    this.#gate = gate;
    this.#index = index;
  }

  /** Records buffered now. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Appends a message; never blocks (call `waitForSpace` between batches). */
  push(msg: ChannelMessage): void {
    if (this.#closed) return;
    if (msg.kind === MessageKind.Records) {
      this.#buffered += msg.values.length;
      this.recordsIn += msg.values.length;
    }
    this.#queue.push(msg);
    this.#gate?.notify(this.#index);
  }

  /** Whether the writer may go on without waiting. */
  hasSpace(): boolean {
    return this.#buffered < this.capacity || this.#closed;
  }

  /** Resolves once the channel has space again (or is closed). */
  waitForSpace(): Promise<void> {
    if (this.hasSpace()) return Promise.resolve();
    this.#spaceWaiter ??= waiter();
    return this.#spaceWaiter.promise;
  }

  /** Whether a message is waiting. */
  hasMessage(): boolean {
    return this.#head < this.#queue.length;
  }

  /** @internal Takes the next message. */
  take(): ChannelMessage | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const msg = this.#queue[this.#head]!;
    this.#queue[this.#head++] = undefined as unknown as ChannelMessage;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (msg.kind === MessageKind.Records) {
      this.#buffered -= msg.values.length;
      if (this.#spaceWaiter && this.#buffered < this.capacity) {
        const w = this.#spaceWaiter;
        this.#spaceWaiter = null;
        w.resolve();
      }
    }
    return msg;
  }

  /** Drops buffered messages and releases a waiting writer (job cancelled). */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#buffered = 0;
    this.#spaceWaiter?.resolve();
    this.#spaceWaiter = null;
  }
}

/**
 * Merges a task's input channels. `poll` takes from channels round-robin and
 * skips blocked ones (a channel whose barrier arrived first is blocked until
 * the others' barriers arrive, in exactly-once mode).
 */
export class InputGate {
  /** The channels, in input order. */
  readonly channels: readonly InputChannel[];
  /** For each channel, the task input (0 or 1 for two-input operators) it feeds. */
  readonly inputOf: readonly number[];
  /** Blocked channels are not polled. */
  readonly blocked: boolean[];
  /** The channel the last `poll` took from. */
  lastChannel = -1;
  #next = 0;
  #waiter: Waiter | null = null;

  /** Creates a gate over `channels`. */
  constructor(channels: InputChannel[], inputOf: number[]) {
    this.channels = channels;
    this.inputOf = inputOf;
    this.blocked = channels.map(() => false);
    channels.forEach((c, i) => c.attach(this, i));
  }

  /** @internal A channel got a message. */
  notify(channel: number): void {
    if (this.#waiter && !this.blocked[channel]) this.wake();
  }

  /** Releases a pending `waitForMessage`. */
  wake(): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w.resolve();
    }
  }

  /** The next message from an unblocked channel, or undefined if none waits. */
  poll(): ChannelMessage | undefined {
    const n = this.channels.length;
    for (let i = 0; i < n; i++) {
      const c = (this.#next + i) % n;
      if (this.blocked[c]) continue;
      const msg = this.channels[c]!.take();
      if (msg !== undefined) {
        this.lastChannel = c;
        this.#next = (c + 1) % n;
        return msg;
      }
    }
    return undefined;
  }

  /** Resolves when a message may be available (or on `wake()`). */
  waitForMessage(): Promise<void> {
    for (let c = 0; c < this.channels.length; c++) {
      if (!this.blocked[c] && this.channels[c]!.hasMessage()) return Promise.resolve();
    }
    for (let c = 0; c < this.channels.length; c++) {
      if (!this.blocked[c]) this.channels[c]!.armWake?.();
    }
    this.#waiter ??= waiter();
    return this.#waiter.promise;
  }
}
