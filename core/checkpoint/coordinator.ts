/**
 * The checkpoint coordinator: triggers checkpoints (periodically, by hand, at
 * end of input), collects every task's acknowledgement, completes a
 * checkpoint by writing its manifest atomically, then tells the operators and
 * applies retention. A checkpoint that fails or times out is aborted and its
 * files are collected.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { KeyedStateHandle } from "../state/backend.ts";
import type { OperatorStateSnapshot } from "../state/operator_state.ts";
import type { BarrierOptions } from "../runtime/messages.ts";
import {
  encodeOperatorState,
  hasPendingTransactions,
  type Manifest,
  MANIFEST_FORMAT,
  type OperatorManifest,
  type SubtaskManifest,
  type TaskCheckpointStats,
} from "./manifest.ts";
import type { CheckpointStorage } from "./storage.ts";
import { appendHistory, type CheckpointHistoryEntry } from "./history.ts";

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

/** What a task acknowledges a checkpoint with. */
export interface TaskAck {
  /** The task. */
  readonly task: string;
  /** ms aligning. */
  readonly alignmentMs: number;
  /** ms of the synchronous part. */
  readonly syncMs: number;
  /** The asynchronous part. */
  readonly snapshots: Promise<OperatorSubtaskSnapshot[]>;
}

/** What the coordinator needs from the running job. */
export interface CheckpointTarget {
  /** Number of tasks that acknowledge. */
  readonly taskCount: number;
  /** Operator metadata by uid. */
  operatorInfo(
    uid: string,
  ): { name: string; parallelism: number; source: boolean; keySerializer?: string };
  /** Sends barrier `id` from every source task. */
  injectBarriers(id: number, options: BarrierOptions): void;
  /** Tells every operator that checkpoint `id` completed. */
  notifyComplete(id: number): void;
  /** Segments the running backends use. */
  liveSegments(): Set<string>;
  /** The job fails (too many failed checkpoints). */
  fail(error: Error): void;
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
 * import type { StopOptions } from "@weir/weir";
 * const upgrade: StopOptions = { drain: false };
 * assert.equal(upgrade.drain, false);
 * ```
 */
export interface StopOptions {
  /** Fire every window and timer (watermark to +∞) before the savepoint. */
  readonly drain: boolean;
}

interface Pending {
  id: number;
  options: BarrierOptions;
  savepointName: string | undefined;
  /** Set for the savepoint of a stop-with-savepoint: only it commits. */
  stop: StopOptions | undefined;
  triggeredAt: number;
  start: number;
  acks: Map<number, TaskAck>;
  startDelays: Map<number, number>;
  written: Set<string>;
  timer: ReturnType<typeof setTimeout>;
  resolve: (c: CompletedCheckpoint) => void;
  reject: (e: Error) => void;
  record: CheckpointRecord;
}

/** Triggers, tracks and completes checkpoints of one job run. */
export class CheckpointCoordinator {
  readonly #config: CheckpointConfig;
  readonly #storage: CheckpointStorage;
  readonly #target: CheckpointTarget;
  readonly #log: (line: string) => void;
  readonly #pending = new Map<number, Pending>();
  readonly #history: CheckpointRecord[] = [];
  #nextId: number;
  #lastEnd = 0;
  #consecutiveFailures = 0;
  #periodic: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #lastCompleted: Manifest | undefined;
  #final: { triggered: Promise<void>; completed: Promise<CompletedCheckpoint> } | undefined;

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
    this.#nextId = firstId;
    this.#log = log;
    this.#lastCompleted = lastCompleted;
  }

  /** Checkpoints so far, oldest first. */
  get history(): readonly CheckpointRecord[] {
    return this.#history;
  }

  /** The highest id handed out so far (a restart numbers on from it). */
  get lastTriggeredId(): number {
    return this.#nextId - 1;
  }

  /** The latest completed checkpoint's manifest. */
  get lastCompleted(): Manifest | undefined {
    return this.#lastCompleted;
  }

  /** Starts periodic checkpoints. */
  start(): void {
    const interval = this.#config.intervalMs;
    if (interval === undefined) return;
    this.#periodic = setInterval(() => {
      if (this.#stopped || this.#final) return;
      if (this.#pending.size >= this.#config.maxConcurrent) return;
      if (performance.now() - this.#lastEnd < this.#config.minPauseMs) return;
      this.trigger().catch(() => {/* recorded in history; failures counted */});
    }, interval);
  }

  /** Stops triggering; pending checkpoints are aborted. */
  stop(): void {
    this.#stopped = true;
    if (this.#periodic !== undefined) clearInterval(this.#periodic);
    for (const p of [...this.#pending.values()]) this.#abort(p, "the job stopped", false);
  }

  /**
   * Triggers a checkpoint (or a savepoint named `savepointName`). As in Flink
   * 1.15+, a savepoint's completion commits no side effects (sinks commit its
   * transactions with the next checkpoint), except a stop-with-savepoint's.
   */
  trigger(savepointName?: string, onBarriersSent?: () => void): Promise<CompletedCheckpoint> {
    return this.#trigger(savepointName, undefined, onBarriersSent);
  }

  #trigger(
    savepointName: string | undefined,
    stop: StopOptions | undefined,
    onBarriersSent?: () => void,
  ): Promise<CompletedCheckpoint> {
    if (this.#stopped) return Promise.reject(new CheckpointError("Checkpointing has stopped"));
    const id = this.#nextId++;
    const options: BarrierOptions = {
      savepoint: savepointName !== undefined,
      aligned: this.#config.mode === "exactly-once",
    };
    const record: CheckpointRecord = {
      id,
      savepoint: options.savepoint,
      status: "in_progress",
      triggeredAt: Date.now(),
      endedAt: undefined,
      failure: undefined,
      path: undefined,
      acknowledged: 0,
      tasks: this.#target.taskCount,
      latestAckAt: undefined,
    };
    this.#history.push(record);
    const promise = new Promise<CompletedCheckpoint>((resolve, reject) => {
      const p: Pending = {
        id,
        options,
        savepointName,
        stop,
        triggeredAt: record.triggeredAt,
        start: performance.now(),
        acks: new Map(),
        startDelays: new Map(),
        written: new Set(),
        timer: setTimeout(
          () => this.#abort(p, `timed out after ${this.#config.timeoutMs} ms`, true),
          this.#config.timeoutMs,
        ),
        resolve,
        reject,
        record,
      };
      this.#pending.set(id, p);
    });
    this.#target.injectBarriers(id, options);
    onBarriersSent?.();
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
      let triggered!: () => void;
      const whenTriggered = new Promise<void>((r) => (triggered = r));
      const completed = (async () => {
        while (this.#pending.size > 0) {
          const first = this.#pending.values().next().value!;
          await new Promise<void>((r) => this.#whenEnded(first.id, r));
        }
        try {
          return await this.#trigger(savepointName, stop, triggered);
        } finally {
          triggered();
        }
      })();
      this.#final = { triggered: whenTriggered, completed };
    }
    return this.#final;
  }

  readonly #endWaiters = new Map<number, (() => void)[]>();
  #whenEnded(id: number, fn: () => void): void {
    const list = this.#endWaiters.get(id) ?? [];
    list.push(fn);
    this.#endWaiters.set(id, list);
  }
  #ended(id: number): void {
    for (const fn of this.#endWaiters.get(id) ?? []) fn();
    this.#endWaiters.delete(id);
  }

  /** A task passed barrier `id`; `ack.snapshots` completes its asynchronous part. */
  acknowledge(taskIndex: number, id: number, ack: TaskAck): void {
    const p = this.#pending.get(id);
    if (!p) return;
    p.acks.set(taskIndex, ack);
    p.record.acknowledged = p.acks.size;
    p.record.latestAckAt = Date.now();
    p.startDelays.set(taskIndex, performance.now() - p.start - ack.alignmentMs - ack.syncMs);
    ack.snapshots.then(
      (snaps) => {
        for (const s of snaps) for (const seg of s.keyed?.segments ?? []) p.written.add(seg.name);
      },
      (e) => this.decline(id, `task ${ack.task} failed its snapshot: ${e}`),
    );
    if (p.acks.size === this.#target.taskCount) {
      this.#complete(p).catch((e) => this.#abort(p, String(e), true));
    }
  }

  /** A task could not take its part of checkpoint `id`. */
  decline(id: number, reason: string): void {
    const p = this.#pending.get(id);
    if (p) this.#abort(p, reason, true);
  }

  async #complete(p: Pending): Promise<void> {
    // Task order, not arrival order: the manifest lists operators the same way every time.
    const tasks = [...p.acks.keys()].sort((a, b) => a - b);
    const acks = tasks.map((t) => p.acks.get(t)!);
    const startDelays = tasks.map((t) => Math.max(0, p.startDelays.get(t)!));
    const asyncStart = performance.now();
    const parts = await Promise.all(acks.map((a) => a.snapshots));
    const asyncMs = performance.now() - asyncStart;
    if (!this.#pending.has(p.id)) return; // aborted meanwhile
    const operators: Record<string, OperatorManifest & { subtasks: SubtaskManifest[] }> = {};
    const segments: Record<string, { size: number }> = {};
    const previous = new Set(Object.keys(this.#lastCompleted?.segments ?? {}));
    const taskStats: TaskCheckpointStats[] = [];
    let stateSize = 0, checkpointedSize = 0;
    parts.forEach((snaps, i) => {
      const ack = acks[i]!;
      let taskState = 0, taskNew = 0;
      for (const s of snaps) {
        const info = this.#target.operatorInfo(s.uid);
        const op = operators[s.uid] ??= { ...info, subtasks: [] };
        const sub: SubtaskManifest = {
          index: s.subtaskIndex,
          operatorState: encodeOperatorState(s.operatorState),
          ...(s.keyed ? { keyed: s.keyed } : {}),
        };
        op.subtasks.push(sub);
        for (const seg of s.keyed?.segments ?? []) {
          if (segments[seg.name]) continue;
          segments[seg.name] = { size: seg.size };
          taskState += seg.size;
          if (!previous.has(seg.name)) taskNew += seg.size;
        }
      }
      stateSize += taskState;
      checkpointedSize += taskNew;
      taskStats.push({
        task: ack.task,
        startDelayMs: startDelays[i]!,
        alignmentMs: ack.alignmentMs,
        syncMs: ack.syncMs,
        asyncMs,
        stateSize: taskState,
        checkpointedSize: taskNew,
      });
    });
    for (const op of Object.values(operators)) op.subtasks.sort((a, b) => a.index - b.index);
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      kind: p.options.savepoint ? "savepoint" : "checkpoint",
      checkpointId: p.id,
      jobName: this.#target.jobName,
      triggeredAt: p.triggeredAt,
      completedAt: Date.now(),
      maxParallelism: this.#target.maxParallelism,
      stateBackend: this.#target.stateBackend,
      mode: this.#config.mode,
      segmentDir: "../shared",
      operators,
      segments,
      ...(p.stop ? { stop: true, drained: p.stop.drain } : {}),
      transactionalOutput: hasPendingTransactions({ operators }),
      stats: {
        durationMs: performance.now() - p.start,
        stateSize,
        checkpointedSize,
        tasks: taskStats,
      },
    };
    let path: string;
    if (p.savepointName !== undefined) {
      path = this.#storage.writeSavepoint(manifest, p.savepointName);
    } else {
      this.#storage.writeCheckpoint(manifest);
      path = this.#storage.paths.checkpoint(p.id);
    }
    const mirror = this.#storage.mirror;
    if (mirror) {
      // With a database as checkpoint storage the checkpoint completes when the
      // database has committed it; otherwise it is declined, and its local copy goes.
      try {
        await mirror.publish(this.#storage, path);
      } catch (e) {
        this.#storage.fs.removeTree(path);
        throw e;
      }
      if (!this.#pending.has(p.id)) return; // aborted meanwhile: restore recommits it
    }
    if (p.savepointName === undefined) this.#lastCompleted = manifest;
    this.#pending.delete(p.id);
    clearTimeout(p.timer);
    this.#lastEnd = performance.now();
    this.#consecutiveFailures = 0;
    p.record.status = "completed";
    p.record.endedAt = Date.now();
    p.record.path = path;
    // A plain savepoint is no recovery point (`--restore latest` ignores it):
    // committing at it would let a crash before the next checkpoint replay
    // committed output. Its transactions commit with the next checkpoint.
    if (p.savepointName === undefined || p.stop) this.#target.notifyComplete(p.id);
    if (p.savepointName === undefined) this.#collectGarbage();
    this.#appendHistory({
      kind: "checkpoint",
      id: p.id,
      status: "COMPLETED",
      is_savepoint: p.options.savepoint,
      trigger_timestamp: p.triggeredAt,
      latest_ack_timestamp: p.record.latestAckAt ?? p.record.endedAt,
      end_to_end_duration: manifest.stats.durationMs,
      state_size: stateSize,
      checkpointed_size: checkpointedSize,
      num_subtasks: this.#target.taskCount,
      num_acknowledged_subtasks: p.acks.size,
      external_path: path,
      tasks: taskStats,
    });
    this.#ended(p.id);
    p.resolve({ manifest, path });
  }

  // One line per ended checkpoint in DIR/_history.jsonl: statistics survive restarts.
  #appendHistory(entry: CheckpointHistoryEntry): void {
    const problem = appendHistory(this.#storage.paths.root, entry);
    if (problem) this.#log(problem);
  }

  #collectGarbage(): void {
    // Segments of checkpoints still in flight are not in any manifest yet.
    const live = this.#target.liveSegments();
    for (const q of this.#pending.values()) for (const s of q.written) live.add(s);
    // The database mirror reads the previous checkpoint's segments to find what changed.
    for (const s of this.#storage.mirror?.pinnedSegments() ?? []) live.add(s);
    try {
      this.#storage.collectGarbage(this.#config.retained, live);
      this.#storage.mirror?.collect(this.#storage, live);
    } catch (e) {
      this.#log(
        `checkpoint garbage collection failed (will retry after the next checkpoint): ${e}`,
      );
    }
  }

  #abort(p: Pending, reason: string, countsAsFailure: boolean): void {
    if (!this.#pending.delete(p.id)) return;
    clearTimeout(p.timer);
    this.#lastEnd = performance.now();
    p.record.status = "failed";
    p.record.endedAt = Date.now();
    p.record.failure = reason;
    const error = new CheckpointError(`Checkpoint ${p.id} failed: ${reason}`);
    this.#log(error.message);
    this.#appendHistory({
      kind: "checkpoint",
      id: p.id,
      status: "FAILED",
      is_savepoint: p.options.savepoint,
      trigger_timestamp: p.triggeredAt,
      latest_ack_timestamp: p.record.latestAckAt ?? p.record.endedAt,
      end_to_end_duration: p.record.endedAt - p.triggeredAt,
      state_size: 0,
      checkpointed_size: 0,
      num_subtasks: this.#target.taskCount,
      num_acknowledged_subtasks: p.acks.size,
      failure_message: reason,
      tasks: [],
    });
    this.#ended(p.id);
    p.reject(error);
    // As in Flink, a failed savepoint fails its trigger only, not the job.
    if (!countsAsFailure || p.savepointName !== undefined) return;
    this.#collectGarbage();
    if (++this.#consecutiveFailures > this.#config.tolerableFailures) {
      this.#target.fail(
        new CheckpointError(
          `${this.#consecutiveFailures} consecutive checkpoints failed (tolerable: ${this.#config.tolerableFailures}); last: ${reason}`,
        ),
      );
    }
  }
}
