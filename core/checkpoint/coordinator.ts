/**
 * The checkpoint coordinator: triggers checkpoints (periodically, by hand, at
 * end of input), collects every task's acknowledgement, completes a
 * checkpoint by writing its manifest atomically, then tells the operators and
 * applies retention. A checkpoint that fails or times out is aborted and its
 * files are collected.
 *
 * Every decision is made by the pure state machine in
 * `coordinator_machine.ts` (its design notes are there); the class here is
 * its effectful shell: it turns calls, tasks' messages and timers into
 * events, and carries out the commands (barriers and notifications to the
 * tasks, manifest writes, garbage collection, history lines, promises).
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { KeyedStateHandle } from "../state/backend.ts";
import type { OperatorStateSnapshot } from "../state/operator_state.ts";
import type { CoordinatorToTask, TaskToCoordinator } from "../runtime/control_messages.ts";
import type { Manifest, OperatorManifest } from "./manifest.ts";
import type { CheckpointStorage } from "./storage.ts";
import { StallWatchdog } from "./_stall_watchdog.ts";
import { appendHistory, type CheckpointHistoryEntry, type OperatorFigures } from "./history.ts";
import {
  type CoordinatorCommand,
  type CoordinatorEvent,
  type CoordinatorState,
  initialCoordinatorState,
  inProgressRecord,
  type Instant,
  type OperatorInfo,
  step,
} from "./coordinator_machine.ts";

/**
 * Checkpointing options, as Flink's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointConfig, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create({ checkpoint: { dir: "/tmp/ckpt", intervalMs: 1000 } });
 * const config: CheckpointConfig | undefined = env.config.checkpoint;
 * assert.equal(config?.mode, "exactly-once");
 * assert.equal(config?.retained, 1);
 * ```
 */
export interface CheckpointConfig {
  /** The checkpoint directory. */
  readonly dir: string;
  /** ms between periodic checkpoints; undefined: only manual and final ones. */
  readonly intervalMs: number | undefined;
  /** Align barriers (exactly-once) or not (at-least-once). */
  readonly mode: "exactly-once" | "at-least-once";
  /** A checkpoint not complete after this many ms is aborted. */
  readonly timeoutMs: number;
  /** ms between the end of one checkpoint and the start of the next. */
  readonly minPauseMs: number;
  /** Checkpoints in flight at once. */
  readonly maxConcurrent: number;
  /** Consecutive failed checkpoints tolerated before the job fails. */
  readonly tolerableFailures: number;
  /** Completed checkpoints kept. */
  readonly retained: number;
  /** Keep checkpoints when the job is cancelled. */
  readonly retainOnCancellation: boolean;
  /**
   * With periodic checkpoints: ms the main thread may stay blocked past the point where its
   * checkpoints would have failed the job, before the process is killed (0: never).
   */
  readonly cancellationTimeoutMs: number;
  /** The database checkpoints go to (`postgres://host:port/db`, no credentials), if any. */
  readonly database?: string;
}

/** One operator subtask's part of a task snapshot. */
export interface OperatorSubtaskSnapshot {
  /** Operator uid. */
  readonly uid: string;
  /** Subtask index. */
  readonly subtaskIndex: number;
  /** Operator state. */
  readonly operatorState: OperatorStateSnapshot;
  /** Keyed state, once written. */
  readonly keyed: KeyedStateHandle | undefined;
}

/** What the coordinator needs from the running job. */
export interface CheckpointTarget {
  /** Number of tasks that acknowledge. */
  readonly taskCount: number;
  /** Operator metadata by uid. */
  operatorInfo(uid: string): OperatorInfo;
  /** Sends `msg` to the tasks: InjectBarrier to the sources, NotifyCheckpointComplete to all. */
  send(msg: CoordinatorToTask): void;
  /** Segments the running backends use. */
  liveSegments(): Set<string>;
  /** The job fails (too many failed checkpoints). */
  fail(error: Error): void;
  /** The operators' figures now, kept with a completed checkpoint's history entry. */
  operatorFigures(): OperatorFigures[];
  /**
   * The split enumerators' states by source uid, taken just before checkpoint
   * `id`'s barriers are sent; kept in the manifest beside the readers' splits.
   */
  snapshotEnumerators?(id: number): Record<string, unknown>;
  /** Job name, backend name, key groups, for the manifest. */
  readonly jobName: string;
  readonly stateBackend: string;
  readonly maxParallelism: number;
}

/**
 * A completed checkpoint or savepoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CompletedCheckpoint, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir } });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).map((n: number) => n);
 * const client = env.executeAsync("job");
 * const done: CompletedCheckpoint = await client.triggerCheckpoint();
 * client.cancel();
 * await client.done;
 * assert.equal(done.manifest.kind, "checkpoint");
 * assert.ok(done.path.startsWith(dir));
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface CompletedCheckpoint {
  /** The manifest written. */
  readonly manifest: Manifest;
  /** Its folder. */
  readonly path: string;
}

/** History entry of a checkpoint, for the admin API and logs. */
export interface CheckpointRecord {
  /** Id. */
  readonly id: number;
  /** Checkpoint or savepoint. */
  readonly savepoint: boolean;
  /** Status. */
  status: "in_progress" | "completed" | "failed";
  /** Trigger time (ms since epoch). */
  readonly triggeredAt: number;
  /** Completion or failure time. */
  endedAt: number | undefined;
  /** Why it failed. */
  failure: string | undefined;
  /** The manifest's folder once completed. */
  path: string | undefined;
  /** Tasks that acknowledged so far. */
  acknowledged: number;
  /** Tasks that acknowledge. */
  readonly tasks: number;
  /** Time of the latest acknowledgement (ms since epoch). */
  latestAckAt: number | undefined;
}

/**
 * How a job stops with a savepoint (Flink's `drain`): with `drain`, sources
 * end event time first, so every window and timer fires before the
 * savepoint; without it (the default) they stay in the savepoint and resume
 * after a restore.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CollectSink, type StopOptions, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy,
 * } from "@weir/weir";
 * for (const stop of [{ drain: false }, { drain: true }] satisfies StopOptions[]) {
 *   const dir = Deno.makeTempDirSync();
 *   const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline" });
 *   const out = new CollectSink<number>();
 *   let made = 0;
 *   env.generate({ generate: (n) => (made++, n), ratePerSecond: 1000 })
 *     .assignTimestampsAndWatermarks(
 *       WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n),
 *     )
 *     .keyBy(() => "all")
 *     .window(TumblingEventTimeWindows.of<number>(1_000_000)) // open for the whole run
 *     .reduce((a, b) => a + b)
 *     .addSink(out);
 *   const client = env.executeAsync("stop");
 *   while (made < 10) await new Promise((r) => setTimeout(r, 10));
 *   await client.stopWithSavepoint("stop", stop);
 *   await client.done;
 *   // Drained, the window fired before the savepoint; else it waits in it for a restore.
 *   assert.equal(out.values.length, stop.drain ? 1 : 0);
 *   Deno.removeSync(dir, { recursive: true });
 * }
 * ```
 */
export interface StopOptions {
  /** Fire every window and timer (watermark to +∞) before the savepoint. */
  readonly drain: boolean;
}

/**
 * Ended checkpoints a coordinator keeps in memory (between this and twice as many): a job
 * checkpointing for weeks must not grow; the history file keeps more (history.ts).
 */
const ENDED_KEPT = 1000;

/**
 * The watchdog of the main thread, which this coordinator shares with the subtasks placed there.
 * A subtask there that never yields would fail the job, were the coordinator free to time its
 * checkpoints out: the first periodic checkpoint after the thread stopped and the tolerated ones
 * after it time out, then Flink would cancel the task and kill its process after the cancellation
 * timeout. So the process is killed when the thread has not run for all of that.
 */
function stallWatchdog(config: CheckpointConfig, jobName: string): StallWatchdog | undefined {
  if (config.intervalMs === undefined || config.cancellationTimeoutMs === 0) return undefined;
  const limitMs = config.intervalMs +
    (config.tolerableFailures + 1) * (config.timeoutMs + config.minPauseMs) +
    config.cancellationTimeoutMs;
  return new StallWatchdog(
    limitMs,
    `weir: job "${jobName}": the main thread has not run for ${limitMs} ms (the checkpoint ` +
      `interval, ${config.tolerableFailures + 1} checkpoint timeout(s) and ` +
      `checkpoint.cancellationTimeoutMs): a function of a subtask there never returns ` +
      `(inline, or in worker 0's share), and its checkpoints cannot time out. Killing the ` +
      `process, as Flink's task cancellation watchdog kills a stuck TaskManager; restore it ` +
      `with --restore latest.`,
  );
}

/** Triggers, tracks and completes checkpoints of one job run. */
export class CheckpointCoordinator {
  readonly #config: CheckpointConfig;
  readonly #storage: CheckpointStorage;
  readonly #target: CheckpointTarget;
  readonly #log: (line: string) => void;
  #state: CoordinatorState;
  /** Events that arrived while commands ran: handled after them, in order. */
  readonly #queue: CoordinatorEvent[] = [];
  #stepping = false;
  readonly #timeouts = new Map<number, ReturnType<typeof setTimeout>>();
  #periodic: ReturnType<typeof setInterval> | undefined;
  #watchdog: StallWatchdog | undefined;
  #nextRequest = 1;
  readonly #requests = new Map<number, PromiseWithResolvers<CompletedCheckpoint>>();
  /** Called once the request's barriers are sent (or its trigger was refused). */
  readonly #onTriggered = new Map<number, () => void>();
  readonly #ended: CheckpointRecord[] = [];
  #final: { triggered: Promise<void>; completed: Promise<CompletedCheckpoint> } | undefined;
  #finalRequest: number | undefined;
  /** Enumerator states of checkpoints in flight, by checkpoint id. */
  readonly #enumeratorStates = new Map<number, Record<string, unknown>>();
  /**
   * By checkpoint in flight: the segments it cannot reference, those in
   * `shared/` when it was triggered that no backend used then. Its snapshots
   * name segments written since, or ones their backend's chain held then.
   */
  readonly #unreferenced = new Map<number, Set<string>>();

  /** Creates a coordinator whose first checkpoint gets id `firstId`. */
  constructor(
    config: CheckpointConfig,
    storage: CheckpointStorage,
    target: CheckpointTarget,
    firstId: number,
    log: (line: string) => void,
    lastCompleted?: Manifest,
  ) {
    this.#config = config;
    this.#storage = storage;
    this.#target = target;
    this.#log = log;
    this.#state = initialCoordinatorState(
      {
        config,
        taskCount: target.taskCount,
        jobName: target.jobName,
        stateBackend: target.stateBackend,
        maxParallelism: target.maxParallelism,
        operatorInfo: (uid) => target.operatorInfo(uid),
      },
      firstId,
      lastCompleted,
    );
  }

  /** Keeps an ended checkpoint's record: the newest {@linkcode ENDED_KEPT} of them. */
  #end(record: CheckpointRecord): void {
    this.#ended.push(record);
    if (this.#ended.length >= 2 * ENDED_KEPT) this.#ended.splice(0, ENDED_KEPT);
  }

  /** The newest ended checkpoints (up to a thousand or so) and those in progress, oldest first. */
  get history(): readonly CheckpointRecord[] {
    const s = this.#state;
    const inProgress = [...s.pending.values()].map((p) => inProgressRecord(s, p));
    return [...this.#ended, ...inProgress].sort((a, b) => a.id - b.id);
  }

  /** The highest id handed out so far (a restart numbers on from it). */
  get lastTriggeredId(): number {
    return this.#state.nextId - 1;
  }

  /** The latest completed checkpoint's manifest. */
  get lastCompleted(): Manifest | undefined {
    return this.#state.lastCompleted;
  }

  /** Starts periodic checkpoints, and the watchdog of the thread they run on. */
  start(): void {
    const interval = this.#config.intervalMs;
    if (interval === undefined) return;
    this.#periodic = setInterval(() => this.#handle({ type: "tick", at: now() }), interval);
    this.#watchdog = stallWatchdog(this.#config, this.#target.jobName);
    this.#watchdog?.start();
  }

  /** Stops triggering; pending checkpoints are aborted. */
  stop(): void {
    if (this.#periodic !== undefined) clearInterval(this.#periodic);
    this.#watchdog?.stop();
    this.#handle({ type: "shutdown", at: now() });
  }

  /**
   * Triggers a checkpoint (or a savepoint named `savepointName`, written to
   * `savepointDir/<name>` when given, as Flink's target directory, else to
   * `DIR/savepoints/<name>`). As in Flink 1.15+, a savepoint's completion
   * commits no side effects (sinks commit its transactions with the next
   * checkpoint), except a stop-with-savepoint's.
   */
  trigger(
    savepointName?: string,
    onBarriersSent?: () => void,
    savepointDir?: string,
  ): Promise<CompletedCheckpoint> {
    const request = this.#request();
    const { promise } = this.#requests.get(request)!;
    if (onBarriersSent) this.#onTriggered.set(request, onBarriersSent);
    this.#handle({
      type: "trigger",
      at: now(),
      request,
      ...(savepointName !== undefined ? { savepointName } : {}),
      ...(savepointName !== undefined && savepointDir !== undefined ? { savepointDir } : {}),
    });
    return promise;
  }

  /**
   * Every source has ended (or the job stops with a savepoint: `stop`): takes
   * the final checkpoint once those in flight have ended. `triggered` resolves
   * when its barriers are sent, `completed` when it is complete.
   */
  finalCheckpoint(savepointName?: string, stop?: StopOptions): {
    triggered: Promise<void>;
    completed: Promise<CompletedCheckpoint>;
  } {
    if (!this.#final) {
      const request = this.#request();
      const triggered = new Promise<void>((r) => this.#onTriggered.set(request, r));
      const completed = this.#requests.get(request)!.promise;
      this.#final = { triggered, completed };
      this.#finalRequest = request;
      this.#handle({
        type: "finalCheckpoint",
        at: now(),
        request,
        ...(savepointName !== undefined ? { savepointName } : {}),
        ...(stop ? { stop } : {}),
      });
    }
    return this.#final;
  }

  /** A task's message about a checkpoint: BarrierAck, SnapshotDone or Decline. */
  receive(msg: TaskToCoordinator): void {
    const at = now();
    switch (msg.type) {
      case "barrierAck":
        return this.#handle({
          type: "barrierAck",
          at,
          task: msg.task,
          id: msg.id,
          name: msg.name,
          alignmentMs: msg.alignmentMs,
          syncMs: msg.syncMs,
        });
      case "snapshotDone":
        return this.#handle({
          type: "snapshotDone",
          at,
          task: msg.task,
          id: msg.id,
          snapshots: msg.snapshots,
        });
      case "decline":
        return this.#handle({
          type: "decline",
          at,
          id: msg.id,
          reason: msg.reason,
          ...(msg.subsumed ? { subsumed: true } : {}),
        });
    }
  }

  /**
   * A task failed (`task` names it when known): checkpoints in flight are
   * aborted with the failure as their reason, and none starts any more.
   */
  taskFailed(task: string | undefined, error: unknown): void {
    if (this.#periodic !== undefined) clearInterval(this.#periodic);
    const reason = error instanceof Error ? error.message : String(error);
    this.#handle({
      type: "taskFailure",
      at: now(),
      ...(task !== undefined ? { task } : {}),
      reason,
    });
  }

  /** Checkpoint `id` cannot complete (a task could not take its part). */
  decline(id: number, reason: string): void {
    this.#handle({ type: "decline", at: now(), id, reason });
  }

  #request(): number {
    const request = this.#nextRequest++;
    const p = Promise.withResolvers<CompletedCheckpoint>();
    // A periodic or final checkpoint's failure is recorded in history; nobody may await it.
    p.promise.catch(() => {});
    this.#requests.set(request, p);
    return request;
  }

  /** Steps the state machine with `event` and carries out its commands. */
  #handle(event: CoordinatorEvent): void {
    this.#queue.push(event);
    if (this.#stepping) return;
    this.#stepping = true;
    try {
      for (let e = this.#queue.shift(); e !== undefined; e = this.#queue.shift()) {
        const { state, commands } = step(this.#state, e);
        this.#state = state;
        for (const c of commands) this.#run(c);
      }
    } finally {
      this.#stepping = false;
    }
  }

  #run(c: CoordinatorCommand): void {
    switch (c.type) {
      case "injectBarrier": {
        // Before the barriers: a split assigned after this reaches its reader after the barrier.
        const states = this.#target.snapshotEnumerators?.(c.id);
        if (states && Object.keys(states).length > 0) this.#enumeratorStates.set(c.id, states);
        this.#unreferenced.set(c.id, this.#unusedSegments());
        this.#target.send({ type: "injectBarrier", id: c.id, options: c.options });
        if (c.request !== undefined) this.#triggered(c.request);
        return;
      }
      case "rejectTrigger":
        // The final checkpoint's `triggered` settles either way (sources may then end).
        if (c.request === this.#finalRequest) this.#triggered(c.request);
        else this.#onTriggered.delete(c.request);
        this.#answer(c.request)?.reject(new CheckpointError(c.reason));
        return;
      case "scheduleTimeout":
        this.#timeouts.set(
          c.id,
          setTimeout(() => this.#handle({ type: "timeout", at: now(), id: c.id }), c.delayMs),
        );
        return;
      case "cancelTimeout":
        clearTimeout(this.#timeouts.get(c.id));
        this.#timeouts.delete(c.id);
        return;
      case "writeManifest":
        return this.#write(c.id, c.manifest, c.savepointName, c.savepointDir);
      case "notifyComplete":
        return this.#target.send({ type: "notifyComplete", id: c.id });
      case "notifyAborted":
        return this.#target.send({ type: "notifyAborted", id: c.id });
      case "collectGarbage":
        return this.#collectGarbage(c.retained, c.inFlight, c.pending);
      case "completed": {
        this.#unreferenced.delete(c.id);
        this.#end(c.record);
        // Checkpoints come every interval and are not logged; a savepoint is an operator's act,
        // and where it went is what the next `--restore PATH` needs.
        if (c.manifest.kind === "savepoint") {
          this.#log(
            `savepoint ${c.id} completed: ${c.path}` +
              (c.manifest.stop
                ? `; the job stops${c.manifest.drained ? ", drained" : ""} ` +
                  `(--restore latest resumes from it)`
                : ""),
          );
        }
        const figures = this.#operatorFigures(c.id);
        this.#appendHistory(figures ? { ...c.history, operators: figures } : c.history);
        if (c.request !== undefined) {
          this.#answer(c.request)?.resolve({ manifest: c.manifest, path: c.path });
        }
        return;
      }
      case "aborted": {
        const error = new CheckpointError(`Checkpoint ${c.id} failed: ${c.reason}`);
        this.#log(error.message);
        this.#end(c.record);
        this.#enumeratorStates.delete(c.id);
        this.#unreferenced.delete(c.id);
        this.#appendHistory(c.history);
        if (c.request !== undefined) this.#answer(c.request)?.reject(error);
        return;
      }
      case "failJob":
        return this.#target.fail(new CheckpointError(c.reason));
    }
  }

  #triggered(request: number): void {
    this.#onTriggered.get(request)?.();
    this.#onTriggered.delete(request);
  }

  #answer(request: number): PromiseWithResolvers<CompletedCheckpoint> | undefined {
    const p = this.#requests.get(request);
    this.#requests.delete(request);
    return p;
  }

  #write(
    id: number,
    written: Manifest,
    savepointName: string | undefined,
    savepointDir: string | undefined,
  ): void {
    const manifest = withEnumerators(written, this.#enumeratorStates.get(id));
    this.#enumeratorStates.delete(id);
    let path: string;
    try {
      if (savepointName !== undefined) {
        path = this.#storage.writeSavepoint(manifest, savepointName, savepointDir);
      } else {
        this.#storage.writeCheckpoint(manifest);
        path = this.#storage.paths.checkpoint(id);
      }
    } catch (e) {
      this.#handle({ type: "manifestFailed", at: now(), id, reason: String(e) });
      return;
    }
    const mirror = this.#storage.mirror;
    if (!mirror) {
      this.#handle({ type: "manifestWritten", at: now(), id, path });
      return;
    }
    // With a database as checkpoint storage the checkpoint completes when the
    // database has committed it; otherwise it is declined, and its local copy goes.
    mirror.publish(this.#storage, path, () => this.#state.pending.has(id)).then(
      () => this.#handle({ type: "manifestWritten", at: now(), id, path }),
      (e) => {
        this.#storage.fs.removeTree(path);
        this.#handle({ type: "manifestFailed", at: now(), id, reason: String(e) });
      },
    );
  }

  /** The operators' figures for checkpoint `id`'s history line; undefined if reading them failed. */
  #operatorFigures(id: number): OperatorFigures[] | undefined {
    try {
      return this.#target.operatorFigures();
    } catch (e) {
      // Figures are for display: a failure to read them never fails the checkpoint.
      this.#log(`operator figures for checkpoint ${id} not recorded: ${e}`);
      return undefined;
    }
  }

  // One line per ended checkpoint in DIR/_history.jsonl: statistics survive restarts.
  #appendHistory(entry: CheckpointHistoryEntry): void {
    const problem = appendHistory(this.#storage.paths.root, entry);
    if (problem) this.#log(problem);
  }

  /** Segments in `shared/` that no running backend uses now. */
  #unusedSegments(): Set<string> {
    try {
      const live = this.#target.liveSegments();
      return new Set(this.#storage.sharedSegments().filter((s) => !live.has(s)));
    } catch (e) {
      // Unknown: garbage collection keeps every segment while this checkpoint is in flight.
      this.#log(`segments in use not listed: ${e}`);
      return new Set();
    }
  }

  #collectGarbage(retained: number, inFlight: readonly string[], pending: readonly number[]): void {
    const live = this.#target.liveSegments();
    for (const s of inFlight) live.add(s);
    // A task may have written segments for a checkpoint in flight and not
    // reported them yet: keep all it may reference until it ends.
    if (pending.length > 0) {
      for (const s of this.#storage.sharedSegments()) {
        if (pending.some((id) => !this.#unreferenced.get(id)?.has(s))) live.add(s);
      }
    }
    // The database mirror reads the previous checkpoint's segments to find what changed.
    for (const s of this.#storage.mirror?.pinnedSegments() ?? []) live.add(s);
    try {
      this.#storage.collectGarbage(retained, live, pending.length > 0);
      this.#storage.mirror?.collect(this.#storage, live);
    } catch (e) {
      this.#log(
        `checkpoint garbage collection failed (will retry after the next checkpoint): ${e}`,
      );
    }
  }
}

function now(): Instant {
  return { mono: performance.now(), epoch: Date.now() };
}

/** `m` with each source's enumerator state (if any) in its operator's entry. */
function withEnumerators(m: Manifest, states: Record<string, unknown> | undefined): Manifest {
  if (!states) return m;
  const operators: Record<string, OperatorManifest> = { ...m.operators };
  for (const [uid, enumerator] of Object.entries(states)) {
    const op = operators[uid];
    if (op) operators[uid] = { ...op, enumerator };
  }
  return { ...m, operators };
}
