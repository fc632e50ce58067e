/**
 * Runs a whole job deterministically, as Kafka Streams' `TopologyTestDriver`.
 *
 * @module
 */
import { ConfigError, StateError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";
import type { JobClient, StreamEnvironment } from "../dataflow/environment.ts";
import { ManualClock } from "../runtime/clock.ts";
import type { Job, JobResult } from "../runtime/job.ts";
import type { Task } from "../runtime/task.ts";
import { TestSource } from "./test_source.ts";
import { WatermarkedSource } from "../connectors/_watermarked_source.ts";

/**
 * Options of {@linkcode JobTestDriver.start}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, ManualClock, StreamEnvironment } from "@weir/weir";
 * import { JobTestDriver, type JobTestDriverOptions, TestSource } from "@weir/weir/testing";
 * const env = StreamEnvironment.create({ clock: new ManualClock(0) });
 * const input = new TestSource<number>();
 * const out = new CollectSink<number>();
 * env.addSource(input).map((n: number) => n + 1).addSink(out);
 * const options: JobTestDriverOptions = { name: "inc", maxSettleTurns: 1000 };
 * const driver = await JobTestDriver.start(env, options);
 * input.push(1, 2);
 * await driver.settle();
 * assert.deepEqual(out.values, [2, 3]);
 * assert.equal((await driver.close()).name, "inc");
 * ```
 */
export interface JobTestDriverOptions {
  /** The job's name ("test job"). */
  name?: string;
  /** Most event-loop turns one `settle` may take before it gives up (100000). */
  maxSettleTurns?: number;
}

/** Lets timers, I/O callbacks and the tasks run (a macrotask, not a sleep). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Runs a job built on a {@linkcode StreamEnvironment} created with a
 * {@linkcode ManualClock}. The test pushes records into
 * {@linkcode TestSource}s, awaits `settle()` (until every task waits for input
 * with its channels empty and every test source read), moves processing time
 * with `advanceProcessingTime` and event time with `TestSource.pushWatermark`,
 * and reads sinks such as `CollectSink`. Nothing
 * depends on wall-clock time: processing time is the manual clock's.
 *
 * @example A keyed count that reports on a processing-time timer
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, type Collector, type KeyedProcessContext, type KeyedProcessFunction,
 *   type OnTimerContext, type RuntimeContext, Serializers, StreamEnvironment,
 *   type ValueState, ValueStateDescriptor,
 * } from "@weir/weir";
 * import { JobTestDriver, ManualClock, TestSource } from "@weir/weir/testing";
 *
 * class Report implements KeyedProcessFunction<string, string, string> {
 *   count!: ValueState<number>;
 *   open(ctx: RuntimeContext) {
 *     this.count = ctx.getState(new ValueStateDescriptor("n", Serializers.f64, 0));
 *   }
 *   processElement(_v: string, ctx: KeyedProcessContext<string>) {
 *     this.count.update(this.count.value()! + 1);
 *     ctx.timerService().registerProcessingTimeTimer(1_000);
 *   }
 *   onTimer(_t: number, ctx: OnTimerContext<string>, out: Collector<string>) {
 *     out.collect(`${ctx.getCurrentKey()}=${this.count.value()}`);
 *   }
 * }
 *
 * const clock = new ManualClock(0);
 * const env = StreamEnvironment.create({ parallelism: 2, clock });
 * const words = new TestSource<string>();
 * const out = new CollectSink<string>();
 * env.addSource(words).keyBy((w) => w).process(new Report()).addSink(out);
 *
 * const driver = await JobTestDriver.start(env);
 * words.push("a", "b", "a");
 * await driver.settle();
 * assert.deepEqual(out.values, []);
 * await driver.advanceProcessingTime(1_000);
 * assert.deepEqual(out.values.sort(), ["a=2", "b=1"]);
 * await driver.close();
 * ```
 */
export class JobTestDriver {
  /** The running job. */
  readonly job: Job;
  /** The job's clock. */
  readonly clock: ManualClock;
  readonly #client: JobClient;
  readonly #sources: { source: TestSource<unknown>; task: Task }[] = [];
  readonly #maxTurns: number;
  #failure: { error: unknown } | undefined;
  #result: JobResult | undefined;

  private constructor(client: JobClient, clock: ManualClock, maxTurns: number) {
    this.#client = client;
    this.job = client.job;
    this.clock = clock;
    this.#maxTurns = maxTurns;
    for (const task of this.job.tasks) {
      const placed = this.job.placed.find((p) => p.operator === task.operators[0]);
      let source = placed?.node.source;
      // `env.fromSource` wraps the source its reader reads: a TestSource there is fed and
      // ended by the test as well (settle would not wait for it, close would never end it).
      if (source instanceof WatermarkedSource) source = source.inner;
      if (source instanceof TestSource) this.#sources.push({ source, task });
    }
    client.done.then(
      (r) => void (this.#result = r),
      (error) => void (this.#failure = { error }),
    );
  }

  /**
   * Starts the job of `env` and waits until it is quiet. `env` must have been
   * created with a `ManualClock`.
   */
  static async start(
    env: StreamEnvironment,
    options: JobTestDriverOptions = {},
  ): Promise<JobTestDriver> {
    checkOptionNames("JobTestDriver.start", options, { name: true, maxSettleTurns: true });
    const clock = env.config.clock;
    if (!(clock instanceof ManualClock)) {
      throw new ConfigError(
        "JobTestDriver needs an environment created with a ManualClock: " +
          "StreamEnvironment.create({ clock: new ManualClock(0) })",
      );
    }
    const client = env.executeAsync(options.name ?? "test job");
    const driver = new JobTestDriver(client, clock, options.maxSettleTurns ?? 100_000);
    await driver.settle();
    return driver;
  }

  /** Current processing time. */
  get processingTime(): number {
    return this.clock.now();
  }

  /** Whether the job has ended (its input ended, it was cancelled, or it failed). */
  get finished(): boolean {
    return this.#result !== undefined || this.#failure !== undefined;
  }

  #quiet(): boolean {
    for (const { source } of this.#sources) if (source.pending > 0) return false;
    for (const task of this.job.tasks) {
      if (!task.idle) return false;
      for (const c of task.gate?.channels ?? []) if (c.hasMessage()) return false;
    }
    return true;
  }

  /**
   * Runs the job until it is quiet: every test source read, every channel
   * empty, every task waiting for input (or ended) with no mail pending.
   * Throws the job's error if it failed.
   */
  async settle(): Promise<void> {
    let quietTurns = 0;
    for (let turn = 0; turn < this.#maxTurns; turn++) {
      if (this.#failure) throw this.#failure.error;
      if (this.#result) return;
      // A source task pausing after "idle" would poll again only after a pause: wake it.
      for (const { source, task } of this.#sources) {
        const work = source.pending > 0 || (source.ended && !source.drained);
        if (work && task.idle) task.wake();
      }
      // Quiet on two turns in a row: nothing was about to run in between.
      quietTurns = this.#quiet() ? quietTurns + 1 : 0;
      if (quietTurns >= 2) return;
      await nextTurn();
    }
    throw new StateError(
      `Job "${this.job.config.name}" did not settle within ${this.#maxTurns} event-loop turns ` +
        `(a source that never idles, or a task blocked?)`,
    );
  }

  /** Moves processing time forward by `ms` (timers that became due fire), then settles. */
  async advanceProcessingTime(ms: number): Promise<void> {
    await this.setProcessingTime(this.clock.now() + ms);
  }

  /** Moves processing time to `t` (timers that became due fire), then settles. */
  async setProcessingTime(t: number): Promise<void> {
    this.clock.set(t);
    // Sources look at processing time between polls (periodic watermarks, idleness):
    // wake them so they do at the new time, not after their next real-time pause.
    for (const { task } of this.#sources) task.wake();
    await this.settle();
    // Timers that the fired ones registered at or before `t` are due too. The clock's
    // callbacks only post mails, so a drop in its pending count means some ran.
    for (let round = 0; round < this.#maxTurns; round++) {
      const before = this.clock.pendingCount();
      this.clock.set(t);
      if (this.clock.pendingCount() === before) return;
      await this.settle();
    }
    throw new StateError(
      `Processing-time timers keep firing at ${t} in job "${this.job.config.name}"`,
    );
  }

  /**
   * Ends every test source, waits for the job to finish (event time ends, so
   * pending event-time timers fire), and returns its result.
   */
  async close(): Promise<JobResult> {
    for (const { source } of this.#sources) source.end();
    for (const { source, task } of this.#sources) if (!source.drained) task.wake();
    return await this.#client.done;
  }

  /** Cancels the job and waits for it to stop. */
  async cancel(): Promise<JobResult> {
    this.#client.cancel();
    return await this.#client.done;
  }
}
