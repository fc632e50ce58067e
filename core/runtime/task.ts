/**
 * A task runs one subtask of an operator chain: it takes batches from its
 * input gate (or polls its source), calls the chain synchronously for each
 * record, and awaits only at batch boundaries: when its outputs are full
 * (backpressure) or its inputs are empty. Timers and other work from outside
 * arrive as mails, run between batches, so operators never see concurrency.
 *
 * Output batches fill across input batches: a partial one is sent only
 * before the task waits (for input, for space downstream, for an idle or
 * asynchronous source, for a mail) and when it yields: under load a record
 * waits in its task about one yield interval (`YIELD_EVERY_MS`) at most
 * after the batch that made it, as in Flink, whose buffer timeout is 100 ms
 * by default.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { WeirError } from "../errors.ts";
import { isSplitReader, type SourceOutput, type SourceReader } from "../connectors/source.ts";
import { EMIT_WATERMARK, type WatermarkCarrier } from "../connectors/_source_watermark.ts";
import { isEnumeratedSplitReader } from "../connectors/split_enumerator.ts";
import { ListStateDescriptor } from "../state/descriptors.ts";
import { Serializers } from "../state/serializer.ts";
import type { ListState } from "../state/state.ts";
import type { InputGate } from "./channel.ts";
import { type BarrierMessage, END_OF_INPUT, MessageKind, type RecordBatch } from "./messages.ts";
import {
  type CapacityLimited,
  isCapacityLimited,
  type Mailbox,
  StreamOperator,
} from "./operator.ts";
import { SinkOperator } from "./operators.ts";
import type { ChannelWriter } from "./outputs.ts";
import { BarrierAligner } from "./barrier_aligner.ts";
import { WatermarkValve } from "./watermark_valve.ts";

/** Thrown inside tasks when the job is cancelled. */
export class CancelledError extends WeirError {}

/**
 * Records a source task asks its reader for per poll. Mails (barriers,
 * timers) run between polls, so a poll stays short; batches to downstream
 * channels span polls (`BATCH_SIZE`).
 */
const POLL_RECORDS = 1024;

/** How long a source that reported `"idle"` waits before polling again. */
const IDLE_PAUSE_MS = 5;
/**
 * A task that never has to wait yields to the event loop this often, with
 * `setImmediate` (cheap; timers and other tasks run). A `setTimeout(0)`
 * yield waits far longer in Deno, but only it lets I/O in (sockets, the
 * admin API): one yield in IO_YIELD_EVERY_MS uses it.
 */
const YIELD_EVERY_MS = 10;
const IO_YIELD_EVERY_MS = 100;

/** Wraps a source reader as the head of a source task's chain. */
export class SourceOperator extends StreamOperator {
  /** The reader (set at open). */
  reader!: SourceReader<unknown>;
  /** Emits into the chain (and carries a `TestSource`'s pushed watermarks). */
  readonly sourceOutput: SourceOutput<unknown> & WatermarkCarrier = {
    collect: (value: unknown, timestamp?: number) => this.output.collect(value, timestamp),
    [EMIT_WATERMARK]: (timestamp: number) => this.output.emitWatermark(timestamp),
  };
  #positions: ListState<unknown> | undefined;
  #splits: ListState<unknown> | undefined;

  /** Restores the reader's position (or splits) from operator state, if the job was restored. */
  override async open(): Promise<void> {
    const reader = this.reader;
    if (isSplitReader(reader)) {
      // Union state: every subtask sees every split and keeps its own, so the source rescales.
      this.#splits = this.ctx.operatorState.getUnionListState(SOURCE_SPLITS);
      const all = this.#splits.get();
      // A reader fed by an enumerator starts empty: the enumerator gets the splits back.
      if (this.ctx.operatorState.isRestored && !isEnumeratedSplitReader(reader)) {
        // A checkpoint of a weir whose reader of this source kept one position per subtask
        // (a single file's FileSource, an array's) has that instead of splits.
        const legacy = all?.length
          ? undefined
          : this.ctx.operatorState.getListState(POSITION).get();
        if (legacy?.length) await reader.restore(legacy[0]);
        else await reader.restoreSplits([...(all ?? [])]);
      }
      return;
    }
    this.#positions = this.ctx.operatorState.getListState(POSITION);
    const saved = this.#positions.get();
    if (saved && saved.length > 0) await reader.restore(saved[0]);
  }

  /** Stores the reader's position (or splits): the checkpoint resumes reading exactly there. */
  override snapshotState(checkpointId: number): void {
    const reader = this.reader;
    if (this.#splits && isSplitReader(reader)) {
      this.#splits.update(reader.snapshotSplits(checkpointId));
      return;
    }
    const position = reader.position();
    this.#positions!.update([position === null ? NULL_POSITION : position]);
  }

  /**
   * Releases a split reader (a Kafka consumer's connections and threads).
   * Other readers are left as before: an async iterable's `return()` would
   * wait for a `next()` that may never settle.
   */
  override async close(): Promise<void> {
    const reader = this.reader;
    if (reader && isSplitReader(reader)) await reader.close?.();
  }

  /** Tells a split reader that a checkpoint completed. */
  override notifyCheckpointComplete(checkpointId: number): void | Promise<void> {
    const reader = this.reader;
    if (isSplitReader(reader)) return reader.notifyCheckpointComplete?.(checkpointId);
  }

  /** Tells a split reader that a checkpoint was aborted. */
  override notifyCheckpointAborted(checkpointId: number): void | Promise<void> {
    const reader = this.reader;
    if (isSplitReader(reader)) return reader.notifyCheckpointAborted?.(checkpointId);
  }

  processElement(): void {
    throw new Error("a source operator has no input");
  }
}

/**
 * A reader's position `null`, as list state holds it: list state refuses null elements (as
 * Flink's), but `null` is a JSON position like any other, and a restore must hand it back to
 * `restore` rather than start the reader anew (which would read again what it had read).
 */
const NULL_POSITION = Object.freeze({ nullPosition: true });

/**
 * Operator state of a source subtask: its reader's position, as JSON (`NULL_POSITION` written
 * as `null`; a restore reads it back as `null`, not through `add`).
 */
const POSITION = new ListStateDescriptor<unknown>("source-position", {
  ...Serializers.json,
  write: (v, out) => Serializers.json.write(v === NULL_POSITION ? null : v, out),
});
/** Operator state of a split reader: its splits (union: all subtasks' splits on restore). */
export const SOURCE_SPLITS: ListStateDescriptor<unknown> = new ListStateDescriptor<unknown>(
  "source-splits",
  Serializers.json,
);

/** Shared by the tasks of one job. */
export interface TaskHost {
  /** Set when the job is being cancelled or failed. */
  readonly cancelled: boolean;
  /**
   * Takes this task's part of a checkpoint: the synchronous part now, the
   * asynchronous part reported to the coordinator later.
   */
  snapshotTask(task: Task, barrier: BarrierMessage, alignmentMs: number): void;
  /**
   * The task gives up its part of checkpoint `checkpointId` because a newer
   * checkpoint's barrier overtook it (Flink's subsumed decline: the
   * coordinator aborts it without counting a failure).
   */
  declineCheckpoint(task: Task, checkpointId: number, reason: string): void;
  /**
   * A source task's input ended. Resolves once it may send end of input:
   * after it has injected the final checkpoint's barrier, when checkpointing.
   */
  sourceEnded(task: Task): Promise<void>;
  /** Sources stop reading (stop-with-savepoint). */
  readonly stopping: boolean;
  /** Whether a source that stops ends event time (a watermark of +∞). */
  readonly drain: boolean;
  /**
   * A promise while a keyed backend of the task's chain wants its writes to
   * wait for background work (a write stall); undefined otherwise.
   */
  writeStall?(task: Task): Promise<void> | undefined;
}

/**
 * An operator the task ticks between batches (the timestamps-and-watermarks
 * operator: periodic watermarks, idleness).
 */
interface TickingOperator {
  onProcessingTick(): void;
  readonly sourceIdle: boolean;
}

function isTicking(op: unknown): op is TickingOperator {
  return typeof (op as Partial<TickingOperator>).onProcessingTick === "function";
}

/** Counters a task keeps. */
export interface TaskMetrics {
  /** Records into the head of the chain. */
  recordsIn: number;
  /** ms spent waiting for space in full output channels (backpressure), finished waits. */
  backPressuredMs: number;
  /**
   * ms record batches waited in the input channels before this task took them: a moving
   * average over about the last ten batches (NaN before one; source tasks have no input).
   */
  inputLatencyMs: number;
  /** The combined watermark of the inputs (Flink's `currentInputWatermark`); -∞ for sources. */
  inputWatermark: number;
}

/** A wait of the task between batches, during which operators' mails run at once. */
interface Parked {
  /** Ends the wait once it holds after a mail. */
  readonly done: () => boolean;
  /** What a mail threw. */
  failure?: { error: unknown };
  /** What a mail returned to await. */
  pending?: Promise<void>;
}

/**
 * Where a task is in its life, by Flink's names for a task's states: opening
 * its operators and restoring their state, processing, then `FINISHED` (its input
 * ended, or a stop-with-savepoint stopped it), `CANCELED` (the job's cancellation, or
 * another task's failure, stopped it) or `FAILED` (it threw).
 */
export type TaskState = "INITIALIZING" | "RUNNING" | "FINISHED" | "CANCELED" | "FAILED";

/** One subtask of an operator chain. */
export class Task {
  /** `name (i/p)`. */
  readonly name: string;
  /** The chain's operators, head first, in topological order. */
  readonly operators: readonly StreamOperator[];
  /** The channel writers of the chain's outputs. */
  readonly writers: readonly ChannelWriter[];
  /** Input of a non-source task. */
  readonly gate: InputGate | null;
  /** Counters. */
  readonly metrics: TaskMetrics = {
    recordsIn: 0,
    backPressuredMs: 0,
    inputLatencyMs: NaN,
    inputWatermark: -Infinity,
  };
  readonly #host: TaskHost;
  readonly #sinks: SinkOperator<unknown>[];
  readonly #tickers: TickingOperator[];
  readonly #limited: CapacityLimited[];
  /** The idle status last sent downstream. */
  #idleSent = false;
  readonly #mails: (() => void | Promise<void>)[] = [];
  #mailWake: (() => void) | null = null;
  /**
   * Set while the task waits between batches (for an operator at capacity,
   * or yielding to the event loop): an operator's mail runs at once, in
   * `post`, so an async call's result refills its slot in the microtask it
   * completes in. `done` ends the wait.
   */
  #parked: Parked | null = null;
  /** A parked mail is running: mails it posts queue. */
  #runningParked = false;
  #lastYield = 0;
  #lastIoYield = 0;
  #waiting = false;
  #ended = false;
  /** How `run` ended: a task stopped by a cancel or a failure is no finished one (Flink's). */
  #endState: "FINISHED" | "CANCELED" | "FAILED" | undefined;
  #endedAt: number | undefined;
  #runningAt: number | undefined;
  /** `run` has begun: the task's operators are open (restored) and it processes. */
  #running = false;
  #backPressuredSince = 0;

  /** Creates a task. */
  constructor(
    name: string,
    operators: StreamOperator[],
    writers: ChannelWriter[],
    gate: InputGate | null,
    host: TaskHost,
  ) {
    this.name = name;
    this.operators = operators;
    this.writers = writers;
    this.gate = gate;
    this.#host = host;
    this.#sinks = operators.filter((op): op is SinkOperator<unknown> =>
      op instanceof SinkOperator && typeof op.sink.flush === "function"
    );
    this.#tickers = operators.filter(isTicking) as unknown as TickingOperator[];
    this.#limited = operators.filter(isCapacityLimited) as unknown as CapacityLimited[];
  }

  /** Sends the idle status downstream when it changed. */
  #sendStatus(idle: boolean): void {
    if (idle === this.#idleSent) return;
    this.#idleSent = idle;
    for (const w of this.writers) w.broadcastEvent({ kind: MessageKind.WatermarkStatus, idle });
  }

  /**
   * Ticks the watermark generators; a task whose generators all report idle
   * tells downstream tasks to stop waiting for its watermark. As Flink's
   * timestamps-and-watermarks operator, the generators decide the status of
   * a task after its sources too: its inputs' status does not pass them.
   */
  #tick(): void {
    const t = this.#tickers;
    if (t.length === 0) return;
    let idle = true;
    for (const op of t) {
      op.onProcessingTick();
      if (!op.sourceIdle) idle = false;
    }
    this.#sendStatus(idle);
  }

  /** ms this task waited on full output channels so far, including a wait in progress. */
  get backPressuredMs(): number {
    const since = this.#backPressuredSince;
    return this.metrics.backPressuredMs + (since > 0 ? performance.now() - since : 0);
  }

  /** Where the task is in its life (what the admin API shows). */
  get state(): TaskState {
    return this.#endState ?? (this.#running ? "RUNNING" : "INITIALIZING");
  }

  /** When the task began to process, left INITIALIZING (ms since epoch), once it has. */
  get runningAt(): number | undefined {
    return this.#runningAt;
  }

  /** When `run` ended (ms since epoch), once it has. */
  get endedAt(): number | undefined {
    return this.#endedAt;
  }

  /** Whether the task has stopped running. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Whether the task waits for input (or has ended) with no mail to run. With
   * empty channels, a job whose tasks are all idle is quiet (the test driver's check).
   */
  get idle(): boolean {
    return (this.#waiting || this.#ended) && this.#mails.length === 0;
  }

  /** Runs `mail` on this task between batches (awaited if it returns a promise). */
  postMail(mail: () => void | Promise<void>): void {
    this.#mails.push(mail);
    this.gate?.wake();
    const w = this.#mailWake;
    if (w) {
      this.#mailWake = null;
      w();
    }
  }

  /** This task's mailbox, as operators see it. */
  readonly mailbox: Mailbox = {
    post: (mail) => {
      if (
        this.#parked && !this.#runningParked && this.#mails.length === 0 && !this.#host.cancelled
      ) {
        this.#runParked(this.#parked, mail);
      } else this.postMail(mail);
    },
    yieldUntil: (done) => this.#runMailsUntil(done),
  };

  /**
   * Runs mails until `done()`: the task waits for an operator (async I/O at
   * capacity or finishing) without taking input, but results still flow.
   */
  async #runMailsUntil(done: () => boolean): Promise<void> {
    while (!done()) {
      this.#checkCancelled();
      // No timer: a result, a barrier or cancellation (`wake`) all arrive as mails.
      if (this.#mails.length === 0) {
        this.#flushOutputs();
        await this.#parkUntil(new Promise<void>((r) => this.#mailWake = r), done);
      }
      await this.#runMails();
      await this.#waitForOutputs();
    }
  }

  /**
   * Waits for `wakeUp`, running the operators' mails as they arrive (see
   * `#parked`); a mail that threw fails the task here.
   */
  async #parkUntil(wakeUp: Promise<unknown>, done: () => boolean): Promise<void> {
    const parked: Parked = this.#parked = { done };
    try {
      await wakeUp;
    } finally {
      if (this.#parked === parked) this.#parked = null;
    }
    if (parked.failure) throw parked.failure.error;
    if (parked.pending) await parked.pending;
  }

  /** Runs a mail posted while parked; wakes the task when its wait is over or it must take over. */
  #runParked(parked: Parked, mail: () => void | Promise<void>): void {
    this.#runningParked = true;
    try {
      const pending = mail();
      if (pending) {
        // Awaited when the wait ends (a yield's may end later): a rejection is not unhandled.
        pending.catch(() => {});
        parked.pending = pending;
      }
      this.#flushOutputs();
    } catch (error) {
      parked.failure = { error };
    } finally {
      this.#runningParked = false;
    }
    // The task takes over from here: a failure, a mail to await, mails posted meanwhile, full
    // outputs (backpressure), or the wait is done.
    if (
      parked.failure || parked.pending || this.#mails.length > 0 || parked.done() ||
      this.writers.some((w) => w.isFull())
    ) {
      this.#parked = null;
      const w = this.#mailWake;
      if (w) {
        this.#mailWake = null;
        w();
      }
    }
  }

  /** Wakes the task so it notices cancellation. */
  wake(): void {
    this.postMail(() => {});
  }

  async #runMails(): Promise<void> {
    while (this.#mails.length > 0) {
      const done = this.#mails.shift()!();
      if (done) await done;
      this.#flushOutputs();
    }
  }

  /** Source tasks: snapshots the chain and sends the barrier downstream (run as a mail). */
  injectBarrier(barrier: BarrierMessage): void {
    this.#host.snapshotTask(this, barrier, 0);
    for (const w of this.writers) w.broadcastEvent(barrier);
  }

  #flushOutputs(): void {
    for (const w of this.writers) w.flush();
  }

  /**
   * Between batches: awaits when a downstream channel is full, yields now and
   * then. Partial batches wait in their writers until the task is about to
   * wait or yield (so a record waits at most until the next yield).
   */
  async #afterBatch(): Promise<void> {
    // SinkFunction.flush runs after every batch; awaiting it is the sink's backpressure.
    for (const s of this.#sinks) {
      const pending = s.sink.flush!();
      if (pending) await pending;
    }
    await this.#waitForOutputs();
    // State writes outran background flushes or compactions: take no more
    // input until they caught up or a mail (a barrier, a timer) arrived.
    // One wait per batch: after a failed background job the next batch's
    // writes do the work themselves, and report the failure.
    // (The backend counts the time in its stats.)
    const stall = this.#host.writeStall?.(this);
    if (stall) {
      this.#flushOutputs();
      await this.#untilMailOr(stall);
    }
    const now = performance.now();
    if (now - this.#lastYield > YIELD_EVERY_MS) {
      this.#flushOutputs();
      // Parked while yielding: async results that arrive meanwhile refill their slots at once.
      if (now - this.#lastIoYield > IO_YIELD_EVERY_MS) {
        await this.#parkUntil(new Promise((r) => setTimeout(r, 0)), () => false);
        this.#lastIoYield = performance.now();
      } else await this.#parkUntil(new Promise((r) => setImmediate(r)), () => false);
      this.#lastYield = performance.now();
    }
    // After the yield: while an async operator at capacity still has buffered records, its results
    // refill its call slots during the yield; once it has room the task takes input right away.
    await this.#waitForLimited();
    this.#checkCancelled();
  }

  /** Waits, running mails, while an operator of the chain asks for no input (async I/O). */
  async #waitForLimited(): Promise<void> {
    for (const op of this.#limited) {
      if (op.backPressured) await this.#runMailsUntil(() => !op.backPressured);
    }
  }

  /** Awaits space in full output channels (backpressure), timing the wait. */
  async #waitForOutputs(): Promise<void> {
    for (const w of this.writers) {
      if (!w.isFull()) continue;
      this.#flushOutputs();
      const since = this.#backPressuredSince = performance.now();
      try {
        await w.waitForSpace();
      } finally {
        this.#backPressuredSince = 0;
        this.metrics.backPressuredMs += performance.now() - since;
      }
    }
  }

  #checkCancelled(): void {
    if (this.#host.cancelled) throw new CancelledError(`Task ${this.name} cancelled`);
  }

  /** Opens every operator, head last so downstream operators are ready first. */
  async open(): Promise<void> {
    for (let i = this.operators.length - 1; i >= 0; i--) await this.operators[i]!.open();
  }

  /** Runs until end of input or cancellation. */
  async run(): Promise<void> {
    this.#running = true;
    this.#runningAt = Date.now();
    this.#lastYield = this.#lastIoYield = performance.now();
    try {
      if (this.gate) await this.#runInput(this.gate);
      else await this.#runSource(this.operators[0] as SourceOperator);
      await this.#finish();
      this.#endState = "FINISHED";
    } catch (e) {
      this.#endState = e instanceof CancelledError ? "CANCELED" : "FAILED";
      throw e;
    } finally {
      this.#ended = true;
      this.#endedAt = Date.now();
    }
    // Mails posted while the chain was finishing (the final checkpoint's
    // completion, which commits sinks) would be lost: run them. Later ones
    // see `ended` and the job runs them itself.
    await this.#runMails();
  }

  async #runSource(head: SourceOperator): Promise<void> {
    const reader = head.reader;
    for (;;) {
      if (this.#mails.length > 0) await this.#runMails();
      this.#checkCancelled();
      if (this.#host.stopping) break;
      let status = reader.poll(head.sourceOutput, POLL_RECORDS);
      if (typeof status !== "string") {
        this.#flushOutputs();
        status = await status;
      }
      this.#tick();
      await this.#afterBatch();
      if (status === "end") break;
      if (status === "idle") {
        this.#flushOutputs();
        this.#waiting = true;
        await this.#pause(IDLE_PAUSE_MS);
        this.#waiting = false;
      }
    }
    // A bounded source ends event time: every pending event-time timer fires.
    // A stop without drain does not: windows and timers stay in the savepoint.
    this.#sendStatus(false);
    if (this.#host.drain) head.output.emitWatermark(Infinity);
    // Async I/O in the chain emits its last results before the final checkpoint's barrier.
    await this.#waitForLimited();
    this.#flushOutputs();
    // Keep serving mails (barriers) until the final checkpoint's barrier is out.
    let released = false;
    this.#host.sourceEnded(this).then(() => {
      released = true;
      this.wake();
    }, () => {});
    for (;;) {
      await this.#runMails();
      this.#checkCancelled();
      if (released) break;
      this.#waiting = true;
      await this.#pause(1000);
      this.#waiting = false;
      await this.#afterBatch();
    }
  }

  /** Resolves when `p` settles or a mail arrives, whichever comes first. */
  #untilMailOr(p: Promise<void>): Promise<void> {
    if (this.#mails.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.#mailWake === done) this.#mailWake = null;
        resolve();
      };
      this.#mailWake = done;
      p.then(done, done);
    });
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const id = setTimeout(() => {
        this.#mailWake = null;
        resolve();
      }, ms);
      this.#mailWake = () => {
        clearTimeout(id);
        resolve();
      };
    });
  }

  async #runInput(gate: InputGate): Promise<void> {
    const head = this.operators[0]!;
    const n = gate.channels.length;
    const valve = new WatermarkValve(n, {
      emitWatermark: (timestamp) => {
        this.metrics.inputWatermark = timestamp;
        head.processWatermark(timestamp);
      },
      // All inputs idle: this task is idle for its consumers too, unless its own watermark
      // generators say (see #tick).
      emitStatus: (idle) => {
        if (this.#tickers.length === 0) this.#sendStatus(idle);
      },
    });
    const aligner = new BarrierAligner(gate.blocked, {
      aligned: (barrier, alignmentMs) => {
        this.#host.snapshotTask(this, barrier, alignmentMs);
        for (const w of this.writers) w.broadcastEvent(barrier);
      },
      subsumed: (id, by) =>
        this.#host.declineCheckpoint(
          this,
          id,
          `task ${this.name} received barrier ${by} before aligning checkpoint ${id} (subsumed)`,
        ),
    });
    let ended = 0;
    while (ended < n) {
      if (this.#mails.length > 0) {
        await this.#runMails();
        // A generator's wake-up (see TimestampsAndWatermarksOperator) is a mail: periodic
        // watermarks and idleness go on while no input arrives.
        this.#tick();
      }
      this.#checkCancelled();
      const msg = gate.poll();
      if (msg === undefined) {
        this.#flushOutputs();
        this.#waiting = true;
        await gate.waitForMessage();
        this.#waiting = false;
        continue;
      }
      const channel = gate.lastChannel;
      switch (msg.kind) {
        case MessageKind.Records:
          valve.onRecord(channel);
          this.#processRecords(head, msg, gate.inputOf[channel]!);
          break;
        case MessageKind.Watermark:
          valve.onWatermark(channel, msg.timestamp);
          break;
        case MessageKind.WatermarkStatus:
          valve.onStatus(channel, msg.idle);
          break;
        case MessageKind.EndOfInput:
          ended++;
          valve.onEnd(channel, ended === n);
          aligner.onEnd(channel);
          break;
        case MessageKind.Barrier:
          aligner.onBarrier(channel, msg);
          break;
      }
      this.#tick();
      await this.#afterBatch();
    }
  }

  /**
   * Hands a batch's records to the head of the chain. A method of its own: the
   * optimizing compiler compiles this small loop on its own, where inside the
   * input loop each recompilation (after a new message shape, a deopt) took
   * the whole input loop with it, on a core that the other subtasks need.
   */
  #processRecords(head: StreamOperator, msg: RecordBatch, input: number): void {
    const values = msg.values;
    const ts = msg.timestamps;
    this.metrics.recordsIn += values.length;
    if (msg.sentAt !== undefined) {
      const waited = performance.now() - msg.sentAt;
      const m = this.metrics;
      m.inputLatencyMs = Number.isNaN(m.inputLatencyMs)
        ? waited
        : m.inputLatencyMs + (waited - m.inputLatencyMs) * 0.1;
    }
    const rk = msg.routedKeys;
    if (rk !== null) {
      for (let i = 0; i < values.length; i++) {
        const t = ts === null ? undefined : ts[i];
        head.processElement(values[i], t, input, rk[2 * i], rk[2 * i + 1]);
      }
    } else if (ts === null) {
      for (let i = 0; i < values.length; i++) head.processElement(values[i], undefined, input);
    } else {
      for (let i = 0; i < values.length; i++) head.processElement(values[i], ts[i], input);
    }
  }

  async #finish(): Promise<void> {
    for (const op of this.operators) {
      await op.finish();
      this.#flushOutputs();
    }
    for (const w of this.writers) w.broadcastEvent(END_OF_INPUT);
  }

  /** Closes every operator; errors are collected, not thrown, so all close. */
  async close(): Promise<unknown[]> {
    const errors: unknown[] = [];
    for (const op of this.operators) {
      try {
        await op.close();
      } catch (e) {
        errors.push(e);
      }
    }
    return errors;
  }
}
