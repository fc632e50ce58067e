/**
 * The worker executor: runs a job's subtasks on workers of one thread each,
 * so a job at parallelism N keeps up to N cores busy (Flink's task slots).
 *
 * Decisions:
 * - Placement: subtask `i` of every chain runs on worker `i % W`, with
 *   `W = min(workers, the largest chain parallelism)`. Chains stay inside a
 *   worker, and so do forward edges between equal parallelisms; a hash or
 *   rebalance edge crosses workers for the consumers elsewhere.
 * - Worker 0 is this thread (`_this_thread_worker.ts`), which has the script
 *   loaded: a Web Worker's start (its runtime, the script imported again,
 *   its JIT warming up the same code) is paid W - 1 times, not W. Its share
 *   talks with the executor in the same messages as the others. The job
 *   leaves it out (`shareOnThisThread` unset) when this thread must answer
 *   the network promptly (the admin API, a checkpoint database).
 * - User functions are code, not data: each Web Worker imports the job's main
 *   module (`Deno.mainModule`) again, under the name `weir-worker/<i>`, and
 *   its `env.execute()` rebuilds the graph, checks it against the plan sent
 *   here and runs only its tasks (see `_worker_role.ts`); it never returns
 *   to the rest of the script.
 * - One shared ring per plan channel whose two tasks are on different
 *   workers (credit = ring size: backpressure holds across workers);
 *   channels inside a worker pass object references as inline. The rings
 *   share one budget of memory, as Flink's network memory: each holds 512
 *   KiB while the budget allows, less at high parallelism (a keyed edge has
 *   p × p channels), and never under 32 KiB.
 * - The checkpoint coordinator stays in this thread. Its commands go to the
 *   workers as messages (InjectBarrier, NotifyCheckpointComplete, Stop,
 *   Finish, Cancel), and the tasks' BarrierAck, SnapshotDone and Decline
 *   messages go to it as they came (`control_messages.ts`), as the inline
 *   executor's do. Plan task ids are the coordinator's task indexes.
 * - Live segments: a worker reports its backends' segments when it opens and
 *   with every SnapshotDone. A segment in `shared/` is collectable only when
 *   it was there before the workers started (a crashed run's leftover, or
 *   kept by a retained checkpoint) or a worker once reported it, and no worker
 *   reports it now; one no report named yet (being written by a worker this
 *   instant) is kept.
 * - A worker that fails (a user function throws, a corrupt segment) or dies
 *   fails the attempt: every worker is cancelled, and the restart strategy
 *   starts the next attempt from the latest checkpoint. Web Workers that
 *   closed their tasks serve it ({@linkcode WorkerPool}); those that ended,
 *   died or did not close within a grace period are terminated and replaced.
 * - `CollectSink` records stream back to the main thread's sink (by vertex
 *   id) before a worker reports its tasks ended, so `sink.values` is complete
 *   when `execute()` resolves.
 *
 * @module
 */
import {
  ConfigError,
  CorruptionError,
  DirectoryInUseError,
  JobFailedError,
  WeirError,
} from "../errors.ts";
import type { CheckpointConfig, StopOptions } from "../checkpoint/coordinator.ts";
import type { CheckpointStorage } from "../checkpoint/storage.ts";
import { CollectSink } from "../connectors/collect_sink.ts";
import { CommittedCollectSink } from "../connectors/_collect_results.ts";
import type { Transformation } from "./graph.ts";
import type {
  CoordinatorToTask,
  EnumeratorToReader,
  ReaderToEnumerator,
  TaskToCoordinator,
} from "./control_messages.ts";
import type { PhysicalPlan } from "./physical_plan.ts";
import { createRings, type SharedRing } from "./shared_ring.ts";
import { CancelledError } from "./task.ts";
import { WorkerAdminLink } from "./_worker_admin.ts";
import { collectionItemsForWorkers } from "./_collection_items.ts";
import { connectHelperPool } from "../../statestore-as/_helper_pool.ts";
import {
  type FromWorker,
  type SerializedFailure,
  type ToWorker,
  WORKER_NAME_PREFIX,
  type WorkerInit,
  type WorkerLink,
} from "./_worker_protocol.ts";
import { ThisThreadWorker } from "./_this_thread_worker.ts";

/** Bytes of all of a job's rings between workers, unless its options say. */
export const DEFAULT_RING_MEMORY_BYTES = 256 << 20;
/** The most bytes a ring holds: the credit of one channel while the budget allows. */
export const MAX_RING_BYTES = 1 << 19;
/**
 * The fewest bytes a ring holds, whatever the budget: a frame is at most half
 * a ring, and smaller frames cost more per record.
 */
export const MIN_RING_BYTES = 1 << 15;

/**
 * Bytes of each of `rings` rings that share `memoryBytes`: the largest power
 * of two that fits, from {@linkcode MIN_RING_BYTES} to {@linkcode MAX_RING_BYTES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringCapacity } from "./worker_executor.ts";
 * assert.equal(ringCapacity(2, 256 << 20), 512 << 10); // parallelism 2: the most
 * assert.equal(ringCapacity(32 * 31, 256 << 20), 256 << 10); // 32 workers, one keyed edge
 * assert.equal(ringCapacity(20_000, 256 << 20), 32 << 10); // never under the least
 * ```
 */
export function ringCapacity(rings: number, memoryBytes: number): number {
  let capacity = MAX_RING_BYTES;
  while (capacity > MIN_RING_BYTES && capacity * rings > memoryBytes) capacity /= 2;
  return capacity;
}

/**
 * How long a Web Worker may take from its spawn until its script calls
 * `execute()`, as Flink's `slot.request.timeout` (5 minutes): a script that
 * waits forever before `execute()` in a worker fails the job instead of
 * holding it. Restoring the worker's state afterwards is not counted.
 */
export const DEFAULT_WORKER_START_TIMEOUT_MS = 300_000;
/** How long cancelled workers get to close their backends before they are terminated. */
const CLOSE_GRACE_MS = 5000;

/** What the executor needs from the job in this thread. */
export interface WorkerExecutorOptions {
  /** Most workers to start (the cores). */
  readonly workers: number;
  /** Checkpointing: its storage and settings. */
  readonly checkpoint?: { readonly storage: CheckpointStorage; readonly config: CheckpointConfig };
  /** The checkpoint or savepoint folder to restore. */
  readonly restoreDir?: string;
  /** Bytes all rings share ({@linkcode DEFAULT_RING_MEMORY_BYTES}). */
  readonly ringMemoryBytes?: number;
  /** The module workers import (`Deno.mainModule`). */
  readonly mainModule?: string;
  /** Which of the script's jobs this is (0, the first, by default): its workers skip those before. */
  readonly jobIndex?: number;
  /** Ms from a Web Worker's spawn until its script calls `execute()` ({@linkcode DEFAULT_WORKER_START_TIMEOUT_MS}). */
  readonly startTimeoutMs?: number;
  /** A task's message to the coordinator or to a source's enumerator. */
  report(msg: TaskToCoordinator | ReaderToEnumerator): void;
  /** A source task's input ended; resolves once it may end (final barrier injected). */
  sourceEnded(): Promise<void>;
  /** Runs worker 0's share on this thread (else on a Web Worker of its own, as the others). */
  readonly shareOnThisThread?: (link: WorkerLink) => Promise<void>;
  /** The job run's Web Workers kept between attempts (else each attempt's are terminated). */
  readonly pool?: WorkerPool;
}

/** What the executor needs of a worker: a Web Worker, or the share this thread runs. */
interface WorkerEnd {
  postMessage(msg: ToWorker, transfer?: Transferable[]): void;
  terminate(): void;
}

/** Where a Web Worker's messages and errors go while an attempt's executor holds it. */
interface WorkerOwner {
  message(msg: FromWorker): void;
  error(e: ErrorEvent): void;
  messageError(): void;
}

/** A Web Worker of the executor, which the job run's {@linkcode WorkerPool} may keep between attempts. */
class PooledWorker implements WorkerEnd {
  readonly #worker: Worker;
  /** The executor that holds it now; none while it waits in the pool. */
  owner: WorkerOwner | undefined;
  /** Terminated, or its thread ended: never handed out again. */
  dead = false;

  constructor(main: string, name: string) {
    this.#worker = new Worker(main, { type: "module", name });
    this.#worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (this.owner) this.owner.message(e.data);
      // Between attempts a worker says something only when it ends or fails: not reused then.
      else if (e.data.type === "ended" || e.data.type === "failure") this.terminate();
    };
    this.#worker.onerror = (e) => {
      // Not handled here, a worker's error would end this process.
      e.preventDefault();
      if (this.owner) this.owner.error(e);
      else this.terminate();
    };
    this.#worker.onmessageerror = () => this.owner?.messageError();
  }

  postMessage(msg: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(msg, transfer);
  }

  terminate(): void {
    this.dead = true;
    this.owner = undefined;
    this.#worker.terminate();
  }
}

/**
 * The Web Workers of one job run, kept across its attempts as Flink keeps its
 * TaskManagers across a job's restarts: an attempt's executor takes them,
 * and hands back those that closed their tasks. Besides the start it saves,
 * Deno frees a worker's thread (its event loop's descriptors, its heap) only
 * once its main module finished evaluating, which a job script's awaited
 * `execute()` never does in a worker: a worker terminated at every restart
 * would leak them. {@linkcode close} at the run's end terminates them.
 */
export class WorkerPool {
  readonly #idle = new Map<string, PooledWorker>();
  #closed = false;

  /** The idle worker kept under `key` (the main module, the job's index, the worker's). */
  take(key: string): PooledWorker | undefined {
    const w = this.#idle.get(key);
    this.#idle.delete(key);
    return w && !w.dead ? w : undefined;
  }

  /** Keeps `worker` under `key` for the next attempt (terminated once the pool is closed). */
  give(key: string, worker: PooledWorker): void {
    if (this.#closed || worker.dead) return worker.terminate();
    worker.owner = undefined;
    this.#idle.get(key)?.terminate();
    this.#idle.set(key, worker);
  }

  /** The run ended: terminates the idle workers, and those given back later. */
  close(): void {
    this.#closed = true;
    for (const w of this.#idle.values()) w.terminate();
    this.#idle.clear();
  }
}

/** Which worker runs each plan task: subtask `i` on worker `i % workers`. */
export function placeTasks(plan: PhysicalPlan, workers: number): number[] {
  const most = Math.max(...plan.chains.map((c) => c.parallelism));
  const w = Math.max(1, Math.min(workers, most));
  return plan.tasks.map((t) => t.subtaskIndex % w);
}

/** A failure worker `taskManagerId` (its thread, as the admin API names it) reported. */
function rebuildFailure(f: SerializedFailure, taskManagerId: string): JobFailedError {
  let cause: Error;
  if (f.cause.name === "ConfigError") cause = new ConfigError(f.cause.message);
  // Another job holds a directory: as inline, not restarted (a restart cannot fix it).
  else if (f.cause.name === "DirectoryInUseError") cause = new DirectoryInUseError(f.cause.message);
  else if (f.cause.name === "CorruptionError" && f.cause.file !== undefined) {
    cause = new CorruptionError("", {
      file: f.cause.file,
      ...(f.cause.block !== undefined ? { block: f.cause.block } : {}),
    });
    cause.message = f.cause.message;
  } else {
    cause = new Error(f.cause.message);
    cause.name = f.cause.name;
  }
  // The trace of the worker's code that threw, not of this thread's message handler.
  if (f.cause.stack !== undefined) cause.stack = f.cause.stack;
  return new JobFailedError(f.message, { cause, taskName: f.taskName, taskManagerId });
}

/** Counts reports from every worker; resolves when all arrived. */
class Quorum {
  readonly #seen = new Set<number>();
  readonly #size: number;
  readonly #done = Promise.withResolvers<void>();
  constructor(size: number) {
    this.#size = size;
  }
  get promise(): Promise<void> {
    return this.#done.promise;
  }
  arrive(worker: number): void {
    this.#seen.add(worker);
    if (this.#seen.size === this.#size) this.#done.resolve();
  }
}

/** Runs a plan's tasks on this thread and Web Workers; the job in this thread drives it. */
export class WorkerExecutor {
  /** Worker of each plan task. */
  readonly placement: readonly number[];
  /** Number of workers. */
  readonly size: number;
  /** Bytes of each ring between two workers ({@linkcode ringCapacity}); 0 without rings. */
  readonly ringBytes: number;
  /** The admin API's link to the workers: their subtasks' reports and state queries. */
  readonly admin: WorkerAdminLink;
  readonly #plan: PhysicalPlan;
  readonly #options: WorkerExecutorOptions;
  readonly #workers: WorkerEnd[] = [];
  /** Each worker's link to this thread's helper pool (closed at shutdown). */
  readonly #helperLinks: { close(): void }[] = [];
  readonly #inits: WorkerInit[] = [];
  readonly #opened: Quorum;
  readonly #tasksEnded: Quorum;
  readonly #finished: Quorum;
  readonly #closed: Quorum;
  readonly #recordsIn: Record<string, number> = {};
  readonly #live: Set<string>[];
  readonly #reported = new Set<string>();
  readonly #collect = new Map<number, CollectSink<unknown>>();
  readonly #collectCommitted = new Map<number, CommittedCollectSink<unknown>>();
  /** The workers were terminated: what they sent before is not read. */
  #terminated = false;
  readonly #interrupt = Promise.withResolvers<void>();
  #failure: Error | undefined;
  #cancelled = false;
  #started = false;
  /** How far each Web Worker got towards running its share (the main thread's is there). */
  readonly #progress: ("spawned" | "loaded" | "executing")[] = [];
  /** Each Web Worker's key in the pool. */
  readonly #keys: string[] = [];
  /** Web Workers that closed this attempt's tasks and can serve the next one. */
  readonly #reusable = new Set<number>();

  /** Places `plan` (built from `nodes`) on workers; `start` spawns them. */
  constructor(
    plan: PhysicalPlan,
    nodes: readonly Transformation[],
    options: WorkerExecutorOptions,
  ) {
    this.#plan = plan;
    this.#options = options;
    this.placement = placeTasks(plan, options.workers);
    this.size = Math.max(...this.placement) + 1;
    this.admin = new WorkerAdminLink(this.size, (w, msg) => this.#post(w, msg));
    this.#opened = new Quorum(this.size);
    this.#tasksEnded = new Quorum(this.size);
    this.#finished = new Quorum(this.size);
    this.#closed = new Quorum(this.size);
    this.#live = Array.from({ length: this.size }, () => new Set());
    for (const n of nodes) {
      if (n.sink instanceof CollectSink) this.#collect.set(n.id, n.sink);
      if (n.sink instanceof CommittedCollectSink) this.#collectCommitted.set(n.id, n.sink);
    }
    const storage = options.checkpoint?.storage;
    if (storage) {
      for (const name of storage.fs.list(storage.paths.shared)) this.#reported.add(name);
    }
    const rings = Array.from({ length: this.size }, () => ({} as Record<number, SharedRing>));
    const crossing = plan.channels.filter((c) =>
      this.placement[c.fromTask] !== this.placement[c.toTask]
    );
    const capacity = ringCapacity(
      crossing.length,
      options.ringMemoryBytes ?? DEFAULT_RING_MEMORY_BYTES,
    );
    const memory = createRings(crossing.length, capacity);
    this.ringBytes = crossing.length === 0 ? 0 : capacity;
    crossing.forEach((c, i) => {
      rings[this.placement[c.fromTask]!]![c.id] = memory[i]!;
      rings[this.placement[c.toTask]!]![c.id] = memory[i]!;
    });
    const collections = collectionItemsForWorkers(nodes, plan, this.placement, this.size);
    for (let w = 0; w < this.size; w++) {
      this.#inits.push({
        worker: w,
        jobIndex: options.jobIndex ?? 0,
        plan,
        collections: collections[w]!,
        tasks: plan.tasks.filter((t) => this.placement[t.id] === w).map((t) => t.id),
        rings: rings[w]!,
        ...(options.checkpoint
          ? {
            checkpoint: {
              dir: options.checkpoint.storage.paths.root,
              config: options.checkpoint.config,
            },
          }
          : {}),
        ...(options.restoreDir !== undefined ? { restoreDir: options.restoreDir } : {}),
      });
    }
  }

  /** The first failure of a worker, once one failed. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Spawns the workers; resolves once every one has opened its tasks (then call `run`). */
  async start(): Promise<void> {
    const main = this.#options.mainModule ?? Deno.mainModule;
    if (!main) {
      throw new ConfigError("The worker executor needs a main module to import in its workers");
    }
    this.#started = true;
    const here = this.#options.shareOnThisThread;
    for (let w = 0; w < this.size; w++) {
      this.#progress.push(w === 0 && here ? "executing" : "spawned");
      if (w === 0 && here) {
        this.#workers.push(
          new ThisThreadWorker(w, here, (msg) => this.#receive(w, msg), (e) => {
            this.#fail(
              new JobFailedError(`Job "${this.#plan.jobName}" failed in worker 0: ${e}`, {
                cause: e,
                taskManagerId: this.#thread(w),
              }),
            );
            this.#closed.arrive(w);
          }),
        );
        continue;
      }
      // Only the same job of the same script, at the same place, may run in a kept worker.
      const key = `${main}#${this.#options.jobIndex ?? 0}#${w}`;
      this.#keys[w] = key;
      const kept = this.#options.pool?.take(key);
      const worker = kept ?? new PooledWorker(main, `${WORKER_NAME_PREFIX}${w}`);
      worker.owner = {
        message: (msg) => this.#receive(w, msg),
        error: (e) => {
          this.#reusable.delete(w);
          this.#fail(
            new JobFailedError(
              `Job "${this.#plan.jobName}" failed: worker ${w} died: ${e.message}`,
              { cause: e.error, taskManagerId: this.#thread(w) },
            ),
          );
          this.#closed.arrive(w);
        },
        messageError: () => {
          this.#reusable.delete(w);
          this.#fail(new JobFailedError(`Worker ${w} sent a message that could not be read`));
        },
      };
      this.#workers.push(worker);
      if (kept) {
        // Its script called execute() in an earlier attempt, and waits for this one's init.
        this.#progress[w] = "executing";
        this.#sendInit(w);
      }
    }
    const timeoutMs = this.#options.startTimeoutMs ?? DEFAULT_WORKER_START_TIMEOUT_MS;
    const timer = setTimeout(() => this.#checkStarted(timeoutMs), timeoutMs);
    try {
      await this.guard(this.#opened.promise);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Tells every worker to run its opened tasks; returns that moment (`performance.now()`), the
   * end of the start-up. It is taken here: this thread's own share starts running in the
   * microtasks that follow, and its first batches are no start-up.
   */
  run(): number {
    this.#broadcast({ type: "run" });
    return performance.now();
  }

  /** Resolves once every worker's tasks have ended. */
  tasksEnded(): Promise<void> {
    return this.#tasksEnded.promise;
  }

  /** Tells workers to finish (after the final checkpoint's notifications); their records-in counts. */
  async finish(): Promise<Record<string, number>> {
    this.#broadcast({ type: "finish" });
    await this.#finished.promise;
    return this.#recordsIn;
  }

  /**
   * The records-in counts the workers sent with their ends: every worker's after `finish()`;
   * after a cancel and `shutdown()`, those of the workers that closed in time.
   */
  get recordsIn(): Record<string, number> {
    return this.#recordsIn;
  }

  /** `p`, unless the job fails or is cancelled first (then it rejects). */
  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([
      p,
      this.#interrupt.promise.then((): never => {
        throw this.#failure ?? new CancelledError(`Job "${this.#plan.jobName}" cancelled`);
      }),
    ]);
  }

  /** Sends the coordinator's or an enumerator's `msg` to every worker's tasks. */
  send(msg: CoordinatorToTask | EnumeratorToReader): void {
    this.#broadcast(msg);
  }

  /** Sources stop reading, for the stop-with-savepoint `name`. */
  stopSources(name: string, options: StopOptions): void {
    this.#broadcast({ type: "stop", name, drain: options.drain });
  }

  /**
   * Segments of `shared/` the running job may still need: every one but
   * those a worker reported once and no worker reports now.
   */
  liveSegments(): Set<string> {
    const storage = this.#options.checkpoint?.storage;
    const live = new Set<string>();
    if (!storage) return live;
    const current = new Set(this.#live.flatMap((s) => [...s]));
    for (const name of storage.fs.list(storage.paths.shared)) {
      if (!this.#reported.has(name) || current.has(name)) live.add(name);
    }
    return live;
  }

  /** Stops the job: workers cancel their tasks. */
  cancel(): void {
    this.#cancelled = true;
    this.#interrupt.resolve();
  }

  /** Cancels what still runs and terminates every worker. */
  async shutdown(): Promise<void> {
    this.admin.close();
    if (!this.#started) return;
    this.#broadcast({ type: "cancel" });
    // A worker whose script never called execute() has no tasks or backends to close.
    for (const [w, p] of this.#progress.entries()) if (p !== "executing") this.#closed.arrive(w);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#closed.promise,
      new Promise((r) => (timer = setTimeout(r, CLOSE_GRACE_MS))),
    ]);
    clearTimeout(timer);
    // A message a worker sent before it was terminated must not reach the next attempt's
    // results (a restart has rewound them).
    this.#terminated = true;
    const pool = this.#options.pool;
    for (const [w, worker] of this.#workers.entries()) {
      // A worker that closed its tasks serves the next attempt; one that ended, died, or did
      // not close in time is terminated.
      if (pool && worker instanceof PooledWorker && this.#reusable.has(w)) {
        pool.give(this.#keys[w]!, worker);
      } else worker.terminate();
    }
    for (const link of this.#helperLinks.splice(0)) link.close();
  }

  /** Sends worker `w` this attempt's `init`. */
  #sendInit(w: number): void {
    if (this.#workers[w] instanceof ThisThreadWorker) {
      this.#post(w, { type: "init", init: this.#inits[w]! });
      return;
    }
    // The worker's stores submit background work to this thread's helper pool.
    const link = connectHelperPool();
    this.#helperLinks.push(link);
    const helpers = { port: link.port, size: link.size };
    this.#post(w, { type: "init", init: { ...this.#inits[w]!, helpers } }, [link.port]);
  }

  /** Fails the job if a Web Worker's script has not called `execute()` `timeoutMs` after its spawn. */
  #checkStarted(timeoutMs: number): void {
    const w = this.#progress.findIndex((p) => p !== "executing");
    if (w < 0) return;
    const doing = this.#progress[w] === "spawned"
      ? "it is still loading the job's script and its modules"
      : "its script runs but has not called execute()";
    this.#fail(
      new JobFailedError(
        `Job "${this.#plan.jobName}" failed: worker ${w} did not start within ${timeoutMs} ms: ` +
          `${doing}. What runs before execute() runs in every worker (docs/execution.md): a ` +
          `script that waits there (for input, the network, a timer) waits in each worker too; ` +
          `a script that takes this long may raise workerStartTimeoutMs`,
      ),
    );
  }

  /** Worker `w`'s thread as the admin API names it (`GET /taskmanagers`). */
  #thread(w: number): string {
    return w === 0 && this.#options.shareOnThisThread ? "main" : `${WORKER_NAME_PREFIX}${w}`;
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    this.#interrupt.resolve();
  }

  #post(w: number, msg: ToWorker, transfer: Transferable[] = []): void {
    try {
      this.#workers[w]?.postMessage(msg, transfer);
    } catch (e) {
      if (!(e instanceof WeirError)) this.#fail(e as Error);
    }
  }

  #broadcast(msg: ToWorker): void {
    for (let w = 0; w < this.#workers.length; w++) this.#post(w, msg);
  }

  #setLive(w: number, live: string[]): void {
    this.#live[w] = new Set(live);
    for (const s of live) this.#reported.add(s);
  }

  #receive(w: number, msg: FromWorker): void {
    if (this.#terminated) return;
    switch (msg.type) {
      case "ready": {
        if (this.#progress[w] === "spawned") this.#progress[w] = "loaded";
        this.#sendInit(w);
        return;
      }
      case "executing":
        this.#progress[w] = "executing";
        return;
      case "opened":
        this.#setLive(w, msg.live);
        this.#opened.arrive(w);
        return;
      case "barrierAck":
      case "decline":
      case "splitRequest":
      case "readerRegistered":
      case "reportedWatermark":
        this.#options.report(msg);
        return;
      case "snapshotDone": {
        for (const s of msg.snapshots) {
          for (const seg of s.keyed?.segments ?? []) this.#reported.add(seg.name);
        }
        this.#setLive(w, msg.live);
        const { live: _, ...done } = msg;
        this.#options.report(done);
        return;
      }
      case "sourceEnded":
        this.#options.sourceEnded().then(
          () => this.#post(w, { type: "finalTriggered", task: msg.task }),
          () => {},
        );
        return;
      case "collect": {
        const sink = this.#collect.get(msg.vertex);
        if (sink) {
          for (let i = 0; i < msg.values.length; i++) {
            sink.invoke(msg.values[i], msg.timestamps[i]);
          }
        }
        return;
      }
      case "collectCommitted":
        this.#collectCommitted.get(msg.vertex)?.deliver(msg.id, msg.values, msg.checkpoint);
        return;
      case "tasksEnded":
        this.#tasksEnded.arrive(w);
        return;
      case "finished":
        for (const [uid, n] of Object.entries(msg.recordsIn)) {
          this.#recordsIn[uid] = (this.#recordsIn[uid] ?? 0) + n;
        }
        this.#finished.arrive(w);
        return;
      case "failure":
        if (!this.#cancelled) this.#fail(rebuildFailure(msg.failure, this.#thread(w)));
        return;
      case "ended":
        if (!this.#cancelled) this.#fail(rebuildFailure(msg.failure, this.#thread(w)));
        this.#reusable.delete(w);
        // Nothing is left there to close.
        this.#closed.arrive(w);
        return;
      case "closed":
        this.#reusable.add(w);
        this.#closed.arrive(w);
        return;
      case "report":
      case "stateAnswer":
        this.admin.receive(w, msg);
        return;
    }
  }
}
