/**
 * The async I/O operator (Flink's AsyncWaitOperator): calls an async function
 * per record with at most `capacity` calls in flight, and emits the results on
 * the task through its mailbox, in input order or as they complete. Records in
 * flight are part of the checkpoint and are called again on restore.
 *
 * @module
 */
import { ConfigError, StateError, WeirError } from "../errors.ts";
import type { AsyncFunction, AsyncRetryStrategy } from "../dataflow/async_function.ts";
import type { RichFunction } from "../dataflow/functions.ts";
import { ListStateDescriptor } from "../state/descriptors.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import type { ListState } from "../state/state.ts";
import { describeValue, promiseReturnedError } from "./_sync_call.ts";
import { type CapacityLimited, type Mailbox, StreamOperator } from "./operator.ts";
import { runtimeContext } from "./operators.ts";

/**
 * An async call that ran out of time and has no `timeout` handler: the job
 * fails with it (as its cause).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncDataStream, AsyncTimeoutError, JobFailedError, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const never = () => new Promise<string[]>(() => {});
 * AsyncDataStream.orderedWait(env.fromElements(1), never, 20, 1);
 * await assert.rejects(env.execute(), (e) => e instanceof JobFailedError && e.cause instanceof AsyncTimeoutError);
 * ```
 */
export class AsyncTimeoutError extends WeirError {}

/** How an {@linkcode AsyncWaitOperator} runs. */
export interface AsyncWaitOptions {
  /** Emit in input order (`true`) or as calls complete. */
  readonly ordered: boolean;
  /** ms from the first call of a record until it times out (over all retries); `Infinity`: never. */
  readonly timeoutMs: number;
  /** Calls in flight at most, per subtask. */
  readonly capacity: number;
  /** Retries of failed calls or unwanted results (none by default). */
  readonly retry?: AsyncRetryStrategy<unknown> | undefined;
  /**
   * The serializer of the input records, for those a checkpoint holds in flight: the input
   * stream's (`returns`), else `Serializers.plain`, as where records cross workers.
   */
  readonly inputSerializer?: Serializer<unknown> | undefined;
}

/** A record (or, `watermark` set, a watermark) waiting to be emitted. */
interface Entry {
  readonly value: unknown;
  readonly timestamp: number | undefined;
  readonly watermark: boolean;
  /** Unordered mode: records emit only once every watermark before them has. */
  readonly segment: number;
  results: readonly unknown[] | undefined;
  /** The results are in (or it is a watermark). */
  done: boolean;
  emitted: boolean;
  attempts: number;
  abort: AbortController | undefined;
  /** When its calls time out (clock ms). */
  deadline: number;
  /** Cancels a scheduled retry. */
  cancelRetry: (() => void) | undefined;
}

/** In-flight records in a checkpoint: value and timestamp. */
type SavedRecord = {
  readonly v: unknown;
  readonly t?: number | undefined;
};

/**
 * In-flight records in checkpoints before they were kept with the input's serializer: as JSON,
 * which gave some back changed (a Date as a string, NaN as null, undefined fields gone). Read on
 * restore, then emptied.
 */
const IN_FLIGHT_JSON = new ListStateDescriptor<SavedRecord>(
  "async-in-flight",
  Serializers.json as Serializer<SavedRecord>,
);

/** In-flight records, each kept with the input's serializer, so a restore calls it again as it was. */
function inFlightDescriptor(input: Serializer<unknown>): ListStateDescriptor<SavedRecord> {
  return new ListStateDescriptor<SavedRecord>(
    "async-in-flight-records",
    Serializers.record<SavedRecord>({ v: input, t: Serializers.optional(Serializers.f64) }),
  );
}

/** Checks the options, naming the one that is wrong. */
export function checkAsyncWaitOptions(o: AsyncWaitOptions): void {
  if (!Number.isInteger(o.capacity) || o.capacity < 1) {
    throw new ConfigError(`async I/O capacity must be a positive integer, got ${o.capacity}`);
  }
  if (!(o.timeoutMs > 0)) {
    throw new ConfigError(
      `async I/O timeout must be a positive number of ms (Infinity: none), got ${o.timeoutMs}`,
    );
  }
  const r = o.retry;
  if (!r) return;
  if (!Number.isInteger(r.maxRetries) || r.maxRetries < 0) {
    throw new ConfigError(`async retry maxRetries must be an integer >= 0, got ${r.maxRetries}`);
  }
  // A hand-made strategy is called only at the first retry: a wrong shape would fail the job then,
  // with a TypeError that names no option.
  if (typeof r.delayMs !== "function") {
    throw new ConfigError(
      `async retry delayMs must be a function of the attempts made (ms before the next one), ` +
        `got ${typeof r.delayMs}; AsyncRetryStrategies.fixedDelay({ maxRetries, delayMs }) ` +
        `takes a number`,
    );
  }
  for (const name of ["retryOnResult", "retryOnError"] as const) {
    if (r[name] !== undefined && typeof r[name] !== "function") {
      throw new ConfigError(`async retry ${name} must be a function, got ${typeof r[name]}`);
    }
  }
}

/** Runs an {@linkcode AsyncFunction} per record; see the module doc. */
export class AsyncWaitOperator<I, O> extends StreamOperator<O> implements CapacityLimited {
  readonly #fn: RichFunction;
  readonly #invoke: (input: I, signal: AbortSignal) => Promise<readonly O[]>;
  readonly #timeout: ((input: I) => readonly O[]) | undefined;
  readonly #options: AsyncWaitOptions;
  readonly #queue: Entry[] = [];
  /** Records admitted but not started: a batch may bring more than capacity allows. */
  readonly #pending: Entry[] = [];
  #inFlight = 0;
  /** Records admitted and not yet emitted. */
  #unemitted = 0;
  /** Unordered mode: the segment now emitting, and the one new records join. */
  #headSegment = 0;
  #tailSegment = 0;
  #mailbox!: Mailbox;
  #saved: ListState<SavedRecord> | undefined;
  /** Records in flight in start order (so in deadline order), for the timeout timer. */
  readonly #deadlines: Entry[] = [];
  #cancelTimeoutTimer: (() => void) | undefined;
  /** Closed, or finished after a stop without drain: results that arrive now are dropped. */
  #closed = false;
  /** The final watermark arrived: input has ended. */
  #endOfTime = false;

  /** Creates the operator; `options` are checked by the API. */
  constructor(fn: AsyncFunction<I, O>, options: AsyncWaitOptions) {
    super();
    this.#options = options;
    if (typeof fn === "function") {
      this.#fn = {};
      this.#invoke = fn;
      this.#timeout = undefined;
    } else {
      // Each subtask gets its own instance (fields set in open stay per subtask).
      const own = Object.create(fn) as typeof fn;
      this.#fn = own;
      this.#invoke = fn.asyncInvoke.bind(own);
      this.#timeout = fn.timeout?.bind(own);
    }
  }

  /**
   * Whether the task should stop feeding records until some are emitted; and
   * after the final watermark (end of input), until every record is out: the
   * final checkpoint's barrier follows it, and what is emitted after that
   * barrier would never be committed.
   */
  get backPressured(): boolean {
    return this.#unemitted >= this.#options.capacity ||
      (this.#endOfTime && this.#queue.length > 0);
  }

  /** Opens the function and calls it again for the records a restored checkpoint had in flight. */
  override async open(): Promise<void> {
    const mailbox = this.ctx.mailbox;
    if (!mailbox) {
      throw new ConfigError(`operator "${this.ctx.name}" needs a task mailbox (async I/O)`);
    }
    this.#mailbox = mailbox;
    // Not the keyed-stream error ("use keyBy first"): on a KeyedStream too, an async function has
    // no keyed state (as Flink's RichAsyncFunction): its results arrive after its call returned.
    const noState = (): never => {
      throw new StateError(
        `Keyed state is not available in async functions (operator "${this.ctx.name}"): their ` +
          `results arrive after the record's call has returned; keep state in a keyed ` +
          `operator before or after the async I/O`,
      );
    };
    await this.#fn.open?.({
      ...runtimeContext(this.ctx),
      getState: noState,
      getListState: noState,
      getMapState: noState,
      getReducingState: noState,
      getAggregatingState: noState,
    });
    const store = this.ctx.operatorState;
    this.#saved = store.getListState(
      inFlightDescriptor(this.#options.inputSerializer ?? Serializers.plain),
    );
    const restored: SavedRecord[] = [];
    if (this.ctx.isRestored) {
      const old = store.getListState(IN_FLIGHT_JSON);
      restored.push(...old.get() ?? []);
      old.clear();
    }
    for (const r of [...restored, ...this.#saved.get() ?? []]) this.processElement(r.v, r.t);
  }

  /** Admits a record: calls the function now, or once a call slot frees. */
  processElement(value: unknown, timestamp: number | undefined): void {
    const entry: Entry = {
      value,
      timestamp,
      watermark: false,
      segment: this.#tailSegment,
      results: undefined,
      done: false,
      emitted: false,
      attempts: 0,
      abort: undefined,
      deadline: Infinity,
      cancelRetry: undefined,
    };
    this.#queue.push(entry);
    this.#unemitted++;
    if (this.#inFlight < this.#options.capacity) this.#start(entry);
    else this.#pending.push(entry);
  }

  /** A watermark passes only after every record before it (both modes). */
  override processWatermark(timestamp: number): void {
    if (timestamp === Infinity) this.#endOfTime = true;
    if (this.#queue.length === 0) {
      this.output.emitWatermark(timestamp);
      return;
    }
    this.#queue.push({
      value: undefined,
      timestamp,
      watermark: true,
      segment: this.#tailSegment,
      results: undefined,
      done: true,
      emitted: false,
      attempts: 0,
      abort: undefined,
      deadline: Infinity,
      cancelRetry: undefined,
    });
    this.#tailSegment++;
  }

  #start(entry: Entry): void {
    this.#inFlight++;
    const t = this.#options.timeoutMs;
    if (t !== Infinity) {
      // Every record has the same timeout, so deadlines grow in start order: one timer, for the
      // earliest, instead of one per record.
      entry.deadline = this.ctx.clock.now() + t;
      this.#deadlines.push(entry);
      if (this.#cancelTimeoutTimer === undefined) this.#scheduleTimeouts();
    }
    this.#attempt(entry);
  }

  /** Schedules the timer for the earliest deadline of a record still in flight. */
  #scheduleTimeouts(): void {
    const q = this.#deadlines;
    while (q.length > 0 && q[0]!.done) q.shift();
    const first = q[0];
    if (first === undefined) {
      this.#cancelTimeoutTimer = undefined;
      return;
    }
    this.#cancelTimeoutTimer = this.ctx.clock.schedule(
      first.deadline,
      () => this.#post(() => this.#timeoutsDue()),
    );
  }

  #timeoutsDue(): void {
    const now = this.ctx.clock.now();
    const q = this.#deadlines;
    while (q.length > 0 && (q[0]!.done || q[0]!.deadline <= now)) {
      const e = q.shift()!;
      if (!e.done) this.#timedOut(e);
    }
    this.#scheduleTimeouts();
  }

  /**
   * Posts unless closed: a late callback after cancellation has no task to run on. A mail that
   * runs once closed does nothing (after a stop without drain its record is in the savepoint).
   */
  #post(mail: () => void): void {
    if (!this.#closed) {
      this.#mailbox.post(() => {
        if (!this.#closed) mail();
      });
    }
  }

  #attempt(entry: Entry): void {
    entry.attempts++;
    const abort = entry.abort = new AbortController();
    let call: Promise<readonly O[]>;
    try {
      call = this.#invoke(entry.value as I, abort.signal);
    } catch (e) {
      call = Promise.reject(e);
    }
    const attempt = entry.attempts;
    // A call that finishes after a timeout or a newer attempt is ignored.
    const current = () => !entry.done && entry.attempts === attempt;
    Promise.resolve(call).then(
      (results) => this.#post(() => current() && this.#completed(entry, results)),
      (error) => this.#post(() => current() && this.#failed(entry, error)),
    );
  }

  #completed(entry: Entry, results: readonly O[]): void {
    if (!Array.isArray(results)) {
      throw new ConfigError(
        `the async function of operator "${this.ctx.name}" resolved to ${
          describeValue(results)
        }: ` +
          `it must resolve to an array of results (empty for none)`,
      );
    }
    const retry = this.#options.retry;
    if (retry?.retryOnResult?.(results) && this.#retry(entry)) return;
    this.#finishEntry(entry, results);
  }

  #failed(entry: Entry, error: unknown): void {
    const retry = this.#options.retry;
    if (retry && (retry.retryOnError?.(error) ?? true) && this.#retry(entry)) return;
    throw new WeirError(
      `the async function of operator "${this.ctx.name}" failed ` +
        `(attempt ${entry.attempts}): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }

  /** Schedules another attempt; false once the retries are used up. */
  #retry(entry: Entry): boolean {
    const retry = this.#options.retry!;
    if (entry.attempts > retry.maxRetries) return false;
    const delay = retry.delayMs(entry.attempts);
    // NaN or a negative delay would retry at once, undefined never.
    if (!(delay >= 0) || !Number.isFinite(delay)) {
      throw new ConfigError(
        `the retry strategy of operator "${this.ctx.name}" gave delayMs(${entry.attempts}) = ` +
          `${delay}: it must be a finite number of ms >= 0`,
      );
    }
    const clock = this.ctx.clock;
    entry.cancelRetry = clock.schedule(
      clock.now() + delay,
      () => this.#post(() => !entry.done && this.#attempt(entry)),
    );
    return true;
  }

  #timedOut(entry: Entry): void {
    if (entry.done) return;
    entry.abort?.abort(new AsyncTimeoutError("async call timed out"));
    if (!this.#timeout) {
      throw new AsyncTimeoutError(
        `the async function of operator "${this.ctx.name}" timed out after ` +
          `${this.#options.timeoutMs} ms (attempt ${entry.attempts}); give the function a ` +
          `timeout(input) to emit something else instead`,
      );
    }
    const results = this.#timeout(entry.value as I);
    if (results instanceof Promise) throw promiseReturnedError(results, "timeout", this.ctx.name);
    if (!Array.isArray(results)) {
      throw new ConfigError(
        `the timeout function of operator "${this.ctx.name}" returned ${describeValue(results)}: ` +
          `it must return an array of results (empty for none)`,
      );
    }
    this.#finishEntry(entry, results);
  }

  #finishEntry(entry: Entry, results: readonly unknown[]): void {
    entry.results = results;
    entry.done = true;
    entry.abort = undefined;
    entry.cancelRetry?.();
    entry.cancelRetry = undefined;
    // Finished records leave the deadline queue from its head (the timer skips any others).
    const d = this.#deadlines;
    while (d.length > 0 && d[0]!.done) d.shift();
    this.#inFlight--;
    const next = this.#pending.shift();
    if (next) this.#start(next);
    if (this.#options.ordered) this.#emitHead();
    else {
      if (entry.segment === this.#headSegment) this.#emit(entry);
      this.#emitHead();
    }
  }

  #emit(entry: Entry): void {
    entry.emitted = true;
    if (entry.watermark) {
      this.output.emitWatermark(entry.timestamp!);
      return;
    }
    this.#unemitted--;
    for (const r of entry.results!) this.output.collect(r as O, entry.timestamp);
    entry.results = undefined;
  }

  /** Emits from the head of the queue what may go now. */
  #emitHead(): void {
    const q = this.#queue;
    if (this.#options.ordered) {
      while (q.length > 0 && q[0]!.done) this.#emit(q.shift()!);
      return;
    }
    while (q.length > 0 && (q[0]!.emitted || q[0]!.watermark)) {
      const head = q.shift()!;
      if (!head.watermark) continue;
      // Every record before the watermark is out: it goes, and its segment's finished records.
      this.#emit(head);
      this.#headSegment++;
      for (const e of q) {
        if (e.watermark) break;
        if (e.done && !e.emitted) this.#emit(e);
      }
    }
  }

  /** Stores the records not yet emitted; they are called again on restore. */
  override snapshotState(): void {
    const saved: SavedRecord[] = [];
    for (const e of this.#queue) {
      if (e.watermark || e.emitted) continue;
      saved.push(e.timestamp === undefined ? { v: e.value } : { v: e.value, t: e.timestamp });
    }
    this.#saved!.update(saved);
  }

  /**
   * End of input: waits until every record's results are out. Not after a stop without drain
   * (input ended, event time did not), as Flink calls no endInput then: the records still
   * unemitted are in its savepoint and called again on restore, so emitting them now would
   * double them, and waiting on a call that never answers would hold the stop forever.
   */
  override async finish(): Promise<void> {
    if (!this.#endOfTime) {
      this.#closed = true;
      return;
    }
    await this.#mailbox.yieldUntil(() => this.#queue.length === 0);
  }

  /** Aborts calls still in flight and closes the function. */
  override async close(): Promise<void> {
    this.#closed = true;
    this.#cancelTimeoutTimer?.();
    for (const e of this.#queue) {
      e.cancelRetry?.();
      e.abort?.abort(new WeirError("the job stopped"));
    }
    await this.#fn.close?.();
  }
}
