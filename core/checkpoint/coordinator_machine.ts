/**
 * The checkpoint coordinator's decisions as a pure state machine:
 * `step(state, event) → { state, commands }`. It does no I/O, reads no
 * clock and sets no timer: every event carries the time it happened, and
 * every effect (sending barriers, writing the manifest, notifying tasks,
 * collecting garbage, failing the job) is a command the shell
 * (`CheckpointCoordinator`) carries out. Flink's `CheckpointCoordinator` is
 * the semantic reference.
 *
 * Decisions:
 * - A checkpoint completes in two phases, as in Flink: every task
 *   acknowledges its barrier (BarrierAck: the synchronous part, with its
 *   alignment and sync times), then reports its asynchronous part
 *   (SnapshotDone: state handles and sizes). Only when every task has done
 *   both does the machine build the manifest and ask for it to be written;
 *   the checkpoint completes when the shell reports it written (and, with a
 *   database, committed there).
 * - Periodic checkpoints come from `tick` events: one starts only while
 *   fewer than `maxConcurrent` are in flight and `minPauseMs` has passed
 *   since the last one ended (completed or failed). Manual triggers and
 *   savepoints skip both checks, as Flink's savepoints do.
 * - A checkpoint fails on a decline, a timeout (`timeout` event after
 *   `timeoutMs`, asked for with `scheduleTimeout`) or a failed manifest
 *   write. A failed checkpoint counts against `tolerableFailures` (the job
 *   fails when the consecutive failures exceed it); a failed savepoint fails
 *   its trigger only; checkpoints aborted because the job stops or a task
 *   failed, or declined as subsumed by a newer one, count nothing (as Flink's
 *   `CheckpointFailureManager`).
 * - Every aborted checkpoint, whatever the cause (a decline, also as
 *   subsumed, a timeout, a failed manifest write, a task failure, the job
 *   stopping), is announced to the tasks (NotifyCheckpointAborted), as
 *   Flink's `CheckpointCoordinator` does for each pending checkpoint it
 *   aborts: operators may drop what they prepared for it early. Tasks that
 *   already stopped do not get it.
 * - Messages about a checkpoint no longer pending (a late ack, snapshot or
 *   decline of an aborted or completed checkpoint, a timeout after
 *   completion) are ignored: the segments a late snapshot wrote are in no
 *   manifest, so garbage collection removes them.
 * - A plain savepoint is no recovery point (`--restore latest` ignores it),
 *   so its completion notifies nobody: committing at it would let a crash
 *   before the next checkpoint replay committed output (Flink 1.15+). A
 *   stop-with-savepoint's savepoint does notify: the job ends with it.
 * - The final checkpoint (every source ended, or a stop-with-savepoint) waits
 *   until no checkpoint is in flight, so it is the last one and its
 *   notification is the last commit; periodic ticks are ignored once it is
 *   asked for.
 * - Garbage collection keeps the segments of checkpoints still in flight
 *   (they are in no manifest yet); the shell adds the segments the running
 *   backends use. A task may have written segments for a checkpoint (or
 *   savepoint) without having reported them yet, so the command also names
 *   every checkpoint in flight, reported or not: the shell keeps whatever
 *   any of them may reference (as Flink's `SharedStateRegistry` deletes
 *   nothing a pending checkpoint may use).
 *
 * @module
 */
import type { SerializerSchema } from "../state/serializer_schema.ts";
import type { BarrierOptions } from "../runtime/messages.ts";
import type { CheckpointHistoryEntry } from "./history.ts";
import {
  encodeOperatorState,
  hasPendingTransactions,
  type Manifest,
  MANIFEST_FORMAT,
  type OperatorManifest,
  type SubtaskManifest,
  type TaskCheckpointStats,
} from "./manifest.ts";
import type {
  CheckpointConfig,
  CheckpointRecord,
  OperatorSubtaskSnapshot,
  StopOptions,
} from "./coordinator.ts";

/** When an event happened: monotonic ms (`performance.now()`) and ms since epoch. */
export interface Instant {
  /** Monotonic ms: durations, pauses. */
  readonly mono: number;
  /** ms since epoch: timestamps in records and manifests. */
  readonly epoch: number;
}

/** Operator metadata the manifest lists. */
export interface OperatorInfo {
  /** Operator name. */
  readonly name: string;
  /** Parallelism. */
  readonly parallelism: number;
  /** Whether it is a source. */
  readonly source: boolean;
  /** Key serializer name, for keyed operators. */
  readonly keySerializer?: string;
  /** Key serializer schema, for keyed operators. */
  readonly keySchema?: SerializerSchema;
}

/** What the machine is configured with for one job run. */
export interface CoordinatorSettings {
  /** Checkpointing options. */
  readonly config: CheckpointConfig;
  /** Number of tasks that acknowledge. */
  readonly taskCount: number;
  /** Job name, backend name, key groups, for the manifest. */
  readonly jobName: string;
  /** State backend name, for the manifest. */
  readonly stateBackend: string;
  /** Number of key groups, for the manifest. */
  readonly maxParallelism: number;
  /** Operator metadata by uid (a pure lookup in the plan). */
  operatorInfo(uid: string): OperatorInfo;
}

/** A task's acknowledgement of its barrier. */
interface AckedTask {
  readonly name: string;
  readonly alignmentMs: number;
  readonly syncMs: number;
  /** ms from trigger to the task's barrier, as Flink's `start_delay`. */
  readonly startDelayMs: number;
}

/** A checkpoint in flight. */
export interface PendingCheckpoint {
  /** Checkpoint id. */
  readonly id: number;
  /** Barrier options. */
  readonly options: BarrierOptions;
  /** Set for a savepoint. */
  readonly savepointName: string | undefined;
  /** Set for a savepoint written into this folder (Flink's target directory). */
  readonly savepointDir?: string;
  /** Set for the savepoint of a stop-with-savepoint: only it commits. */
  readonly stop: StopOptions | undefined;
  /** The shell's request it answers, if any (periodic ones have none). */
  readonly request: number | undefined;
  /** When it was triggered. */
  readonly triggered: Instant;
  /** Acknowledgements by task index. */
  readonly acks: ReadonlyMap<number, AckedTask>;
  /** Asynchronous parts by task index. */
  readonly snapshots: ReadonlyMap<number, readonly OperatorSubtaskSnapshot[]>;
  /** Time of the latest acknowledgement (ms since epoch). */
  readonly latestAckAt: number | undefined;
  /** When the last task acknowledged (the asynchronous phase's start, monotonic). */
  readonly allAckedAt: number | undefined;
  /** The manifest once asked to be written. */
  readonly manifest: Manifest | undefined;
}

/** The coordinator's whole state. Never mutated: `step` returns a new one. */
export interface CoordinatorState {
  /** Settings. */
  readonly settings: CoordinatorSettings;
  /** Id of the next checkpoint. */
  readonly nextId: number;
  /** When the last checkpoint ended (monotonic ms), for the minimum pause. */
  readonly lastEnd: number;
  /** Checkpoints failed in a row. */
  readonly consecutiveFailures: number;
  /** No more checkpoints start. */
  readonly stopped: boolean;
  /** The latest completed checkpoint's manifest. */
  readonly lastCompleted: Manifest | undefined;
  /** Checkpoints in flight, by id (in trigger order). */
  readonly pending: ReadonlyMap<number, PendingCheckpoint>;
  /** The final checkpoint, once asked for. */
  readonly final: FinalRequest | undefined;
}

/** The final checkpoint's request. */
export interface FinalRequest {
  /** The shell's request. */
  readonly request: number;
  /** Set for a stop-with-savepoint. */
  readonly savepointName: string | undefined;
  /** Set for a stop-with-savepoint. */
  readonly stop: StopOptions | undefined;
  /** Whether its barrier was asked for (or its trigger rejected). */
  readonly triggered: boolean;
}

/** What happens to the coordinator. */
export type CoordinatorEvent =
  /**
   * A checkpoint (or a savepoint named `savepointName`, in folder
   * `savepointDir` if set, else in the savepoints folder) asked for by hand.
   */
  | {
    readonly type: "trigger";
    readonly at: Instant;
    readonly request: number;
    readonly savepointName?: string;
    readonly savepointDir?: string;
  }
  /** The periodic timer fired: maybe start a checkpoint. */
  | { readonly type: "tick"; readonly at: Instant }
  /** Every source ended, or the job stops with a savepoint: the last checkpoint. */
  | {
    readonly type: "finalCheckpoint";
    readonly at: Instant;
    readonly request: number;
    readonly savepointName?: string;
    readonly stop?: StopOptions;
  }
  /** A task passed barrier `id` (BarrierAck). */
  | {
    readonly type: "barrierAck";
    readonly at: Instant;
    readonly task: number;
    readonly id: number;
    readonly name: string;
    readonly alignmentMs: number;
    readonly syncMs: number;
  }
  /** A task's asynchronous part of checkpoint `id` is written (SnapshotDone). */
  | {
    readonly type: "snapshotDone";
    readonly at: Instant;
    readonly task: number;
    readonly id: number;
    readonly snapshots: readonly OperatorSubtaskSnapshot[];
  }
  /**
   * Checkpoint `id` cannot complete (a task declined it). `subsumed`: a newer
   * checkpoint's barrier overtook it at a task (Flink's
   * `CHECKPOINT_DECLINED_SUBSUMED`), which counts no failure.
   */
  | {
    readonly type: "decline";
    readonly at: Instant;
    readonly id: number;
    readonly reason: string;
    readonly subsumed?: boolean;
  }
  /** Checkpoint `id`'s timeout (from `scheduleTimeout`) expired. */
  | { readonly type: "timeout"; readonly at: Instant; readonly id: number }
  /** The manifest of `id` is written at `path` (and committed to the database, if any). */
  | {
    readonly type: "manifestWritten";
    readonly at: Instant;
    readonly id: number;
    readonly path: string;
  }
  /** Writing the manifest of `id` failed. */
  | {
    readonly type: "manifestFailed";
    readonly at: Instant;
    readonly id: number;
    readonly reason: string;
  }
  /**
   * A task (named, when known) failed: the job restarts or fails, so no
   * checkpoint in flight can complete and none starts.
   */
  | {
    readonly type: "taskFailure";
    readonly at: Instant;
    readonly task?: string;
    readonly reason: string;
  }
  /** The job stopped: no more checkpoints. */
  | { readonly type: "shutdown"; readonly at: Instant };

/** What the shell must do. */
export type CoordinatorCommand =
  /** Send barrier `id` from every source task (InjectBarrier). */
  | {
    readonly type: "injectBarrier";
    readonly id: number;
    readonly options: BarrierOptions;
    readonly request: number | undefined;
  }
  /** Request `request` is refused: checkpointing has stopped. */
  | { readonly type: "rejectTrigger"; readonly request: number; readonly reason: string }
  /** Send a `timeout` event for `id` after `delayMs`. */
  | { readonly type: "scheduleTimeout"; readonly id: number; readonly delayMs: number }
  /** `id` ended: its timeout is not needed. */
  | { readonly type: "cancelTimeout"; readonly id: number }
  /**
   * Write `manifest` (as savepoint `savepointName`, if set: in `savepointDir`
   * if set, else in the savepoints folder), then report it.
   */
  | {
    readonly type: "writeManifest";
    readonly id: number;
    readonly manifest: Manifest;
    readonly savepointName: string | undefined;
    readonly savepointDir?: string;
  }
  /** Tell every operator that `id` completed (NotifyCheckpointComplete): sinks commit. */
  | { readonly type: "notifyComplete"; readonly id: number }
  /** Tell every operator that `id` was aborted (NotifyCheckpointAborted). */
  | { readonly type: "notifyAborted"; readonly id: number }
  /**
   * Apply retention; keep `inFlight`, the segments the running backends use,
   * and every segment the checkpoints `pending` (all in flight, reported or
   * not) may reference.
   */
  | {
    readonly type: "collectGarbage";
    readonly retained: number;
    readonly inFlight: readonly string[];
    readonly pending: readonly number[];
  }
  /** `id` completed: record it, append its history line, answer its request. */
  | {
    readonly type: "completed";
    readonly id: number;
    readonly request: number | undefined;
    readonly manifest: Manifest;
    readonly path: string;
    readonly record: CheckpointRecord;
    readonly history: CheckpointHistoryEntry;
  }
  /** `id` failed: log it, record it, append its history line, reject its request. */
  | {
    readonly type: "aborted";
    readonly id: number;
    readonly request: number | undefined;
    readonly reason: string;
    readonly record: CheckpointRecord;
    readonly history: CheckpointHistoryEntry;
  }
  /** Too many checkpoints failed in a row: the job fails. */
  | { readonly type: "failJob"; readonly reason: string };

/** What `step` returns. */
export interface StepResult {
  /** The new state. */
  readonly state: CoordinatorState;
  /** The commands to carry out, in order. */
  readonly commands: readonly CoordinatorCommand[];
}

/**
 * The state before any event: the first checkpoint gets id `firstId`;
 * `lastCompleted` is the restored manifest (its segments are not new).
 */
export function initialCoordinatorState(
  settings: CoordinatorSettings,
  firstId: number,
  lastCompleted?: Manifest,
): CoordinatorState {
  return {
    settings,
    nextId: firstId,
    lastEnd: 0,
    consecutiveFailures: 0,
    stopped: false,
    lastCompleted,
    pending: new Map(),
    final: undefined,
  };
}

/** Applies `event` to `state`: the new state and what the shell must do. */
export function step(state: CoordinatorState, event: CoordinatorEvent): StepResult {
  const out: CoordinatorCommand[] = [];
  const next = apply(state, event, out);
  return { state: next, commands: out };
}

function apply(
  s: CoordinatorState,
  e: CoordinatorEvent,
  out: CoordinatorCommand[],
): CoordinatorState {
  switch (e.type) {
    case "trigger":
      if (s.stopped) {
        out.push({ type: "rejectTrigger", request: e.request, reason: STOPPED });
        return s;
      }
      return start(s, e.at, e.request, e.savepointName, undefined, out, e.savepointDir);
    case "tick": {
      const c = s.settings.config;
      if (s.stopped || s.final) return s;
      if (s.pending.size >= c.maxConcurrent) return s;
      if (e.at.mono - s.lastEnd < c.minPauseMs) return s;
      return start(s, e.at, undefined, undefined, undefined, out);
    }
    case "finalCheckpoint":
      if (s.final) return s;
      return triggerFinal(
        {
          ...s,
          final: {
            request: e.request,
            savepointName: e.savepointName,
            stop: e.stop,
            triggered: false,
          },
        },
        e.at,
        out,
      );
    case "barrierAck": {
      const p = s.pending.get(e.id);
      if (!p) return s;
      const acks = new Map(p.acks);
      acks.set(e.task, {
        name: e.name,
        alignmentMs: e.alignmentMs,
        syncMs: e.syncMs,
        startDelayMs: e.at.mono - p.triggered.mono - e.alignmentMs - e.syncMs,
      });
      const allAcked = acks.size === s.settings.taskCount;
      return maybeFinish(
        s,
        {
          ...p,
          acks,
          latestAckAt: e.at.epoch,
          allAckedAt: allAcked && p.allAckedAt === undefined ? e.at.mono : p.allAckedAt,
        },
        e.at,
        out,
      );
    }
    case "snapshotDone": {
      const p = s.pending.get(e.id);
      if (!p) return s;
      const snapshots = new Map(p.snapshots);
      snapshots.set(e.task, e.snapshots);
      return maybeFinish(s, { ...p, snapshots }, e.at, out);
    }
    case "decline": {
      const p = s.pending.get(e.id);
      return p ? abort(s, p, e.reason, e.subsumed !== true, e.at, out) : s;
    }
    case "timeout": {
      const p = s.pending.get(e.id);
      const ms = s.settings.config.timeoutMs;
      return p ? abort(s, p, `timed out after ${ms} ms`, true, e.at, out) : s;
    }
    case "manifestFailed": {
      const p = s.pending.get(e.id);
      return p ? abort(s, p, e.reason, true, e.at, out) : s;
    }
    case "manifestWritten": {
      const p = s.pending.get(e.id);
      if (!p || !p.manifest) return s; // aborted meanwhile (a restore recommits it)
      return complete(s, p, p.manifest, e.path, e.at, out);
    }
    case "taskFailure":
      return shutdown(
        s,
        e.task === undefined ? e.reason : `task ${e.task} failed: ${e.reason}`,
        e.at,
        out,
      );
    case "shutdown":
      return shutdown(s, "the job stopped", e.at, out);
  }
}

const STOPPED = "Checkpointing has stopped";

function shutdown(
  s: CoordinatorState,
  reason: string,
  at: Instant,
  out: CoordinatorCommand[],
): CoordinatorState {
  let next: CoordinatorState = { ...s, stopped: true };
  for (const p of s.pending.values()) next = abort(next, p, reason, false, at, out);
  return next;
}

function start(
  s: CoordinatorState,
  at: Instant,
  request: number | undefined,
  savepointName: string | undefined,
  stop: StopOptions | undefined,
  out: CoordinatorCommand[],
  savepointDir?: string,
): CoordinatorState {
  const id = s.nextId;
  const options: BarrierOptions = {
    savepoint: savepointName !== undefined,
    aligned: s.settings.config.mode === "exactly-once",
  };
  const p: PendingCheckpoint = {
    id,
    options,
    savepointName,
    ...(savepointDir !== undefined ? { savepointDir } : {}),
    stop,
    request,
    triggered: at,
    acks: new Map(),
    snapshots: new Map(),
    latestAckAt: undefined,
    allAckedAt: undefined,
    manifest: undefined,
  };
  const pending = new Map(s.pending);
  pending.set(id, p);
  out.push({ type: "scheduleTimeout", id, delayMs: s.settings.config.timeoutMs });
  out.push({ type: "injectBarrier", id, options, request });
  return { ...s, nextId: id + 1, pending };
}

/** Triggers the final checkpoint once none is in flight. */
function triggerFinal(
  s: CoordinatorState,
  at: Instant,
  out: CoordinatorCommand[],
): CoordinatorState {
  const f = s.final;
  if (!f || f.triggered || s.pending.size > 0) return s;
  const next: CoordinatorState = { ...s, final: { ...f, triggered: true } };
  if (s.stopped) {
    out.push({ type: "rejectTrigger", request: f.request, reason: STOPPED });
    return next;
  }
  return start(next, at, f.request, f.savepointName, f.stop, out);
}

/** Stores `p`; once every task acknowledged and wrote its part, asks for the manifest. */
function maybeFinish(
  s: CoordinatorState,
  p: PendingCheckpoint,
  at: Instant,
  out: CoordinatorCommand[],
): CoordinatorState {
  const n = s.settings.taskCount;
  let q = p;
  if (!p.manifest && p.acks.size === n && p.snapshots.size === n) {
    const manifest = buildManifest(s, p, at);
    q = { ...p, manifest };
    out.push({
      type: "writeManifest",
      id: p.id,
      manifest,
      savepointName: p.savepointName,
      ...(p.savepointDir !== undefined ? { savepointDir: p.savepointDir } : {}),
    });
  }
  const pending = new Map(s.pending);
  pending.set(p.id, q);
  return { ...s, pending };
}

function buildManifest(s: CoordinatorState, p: PendingCheckpoint, at: Instant): Manifest {
  const settings = s.settings;
  // Task order, not arrival order: the manifest lists operators the same way every time.
  const tasks = [...p.acks.keys()].sort((a, b) => a - b);
  const asyncMs = at.mono - (p.allAckedAt ?? at.mono);
  const operators: Record<string, OperatorManifest & { subtasks: SubtaskManifest[] }> = {};
  const segments: Record<string, { size: number }> = {};
  const previous = new Set(Object.keys(s.lastCompleted?.segments ?? {}));
  const taskStats: TaskCheckpointStats[] = [];
  let stateSize = 0, checkpointedSize = 0;
  for (const t of tasks) {
    const ack = p.acks.get(t)!;
    let taskState = 0, taskNew = 0;
    for (const snap of p.snapshots.get(t) ?? []) {
      const op = operators[snap.uid] ??= { ...settings.operatorInfo(snap.uid), subtasks: [] };
      op.subtasks.push({
        index: snap.subtaskIndex,
        operatorState: encodeOperatorState(snap.operatorState),
        ...(snap.keyed ? { keyed: snap.keyed } : {}),
      });
      for (const seg of snap.keyed?.segments ?? []) {
        if (segments[seg.name]) continue;
        segments[seg.name] = { size: seg.size };
        taskState += seg.size;
        if (!previous.has(seg.name)) taskNew += seg.size;
      }
    }
    stateSize += taskState;
    checkpointedSize += taskNew;
    taskStats.push({
      task: ack.name,
      startDelayMs: Math.max(0, ack.startDelayMs),
      alignmentMs: ack.alignmentMs,
      syncMs: ack.syncMs,
      asyncMs,
      stateSize: taskState,
      checkpointedSize: taskNew,
    });
  }
  for (const op of Object.values(operators)) op.subtasks.sort((a, b) => a.index - b.index);
  return {
    format: MANIFEST_FORMAT,
    kind: p.options.savepoint ? "savepoint" : "checkpoint",
    checkpointId: p.id,
    jobName: settings.jobName,
    triggeredAt: p.triggered.epoch,
    completedAt: at.epoch,
    maxParallelism: settings.maxParallelism,
    stateBackend: settings.stateBackend,
    mode: settings.config.mode,
    segmentDir: "../shared",
    operators,
    segments,
    ...(p.stop ? { stop: true, drained: p.stop.drain } : {}),
    transactionalOutput: hasPendingTransactions({ operators }),
    stats: {
      durationMs: at.mono - p.triggered.mono,
      stateSize,
      checkpointedSize,
      tasks: taskStats,
    },
  };
}

/** Segments written by checkpoints still in flight: in no manifest yet, so kept. */
function inFlightSegments(pending: ReadonlyMap<number, PendingCheckpoint>): string[] {
  const live = new Set<string>();
  for (const p of pending.values()) {
    for (const snaps of p.snapshots.values()) {
      for (const snap of snaps) for (const seg of snap.keyed?.segments ?? []) live.add(seg.name);
    }
  }
  return [...live];
}

function record(
  s: CoordinatorState,
  p: PendingCheckpoint,
  status: CheckpointRecord["status"],
  endedAt: number | undefined,
  failure: string | undefined,
  path: string | undefined,
): CheckpointRecord {
  return {
    id: p.id,
    savepoint: p.options.savepoint,
    status,
    triggeredAt: p.triggered.epoch,
    endedAt,
    failure,
    path,
    acknowledged: p.acks.size,
    tasks: s.settings.taskCount,
    latestAckAt: p.latestAckAt,
  };
}

/** The history record of a checkpoint still in flight. */
export function inProgressRecord(s: CoordinatorState, p: PendingCheckpoint): CheckpointRecord {
  return record(s, p, "in_progress", undefined, undefined, undefined);
}

function complete(
  s: CoordinatorState,
  p: PendingCheckpoint,
  manifest: Manifest,
  path: string,
  at: Instant,
  out: CoordinatorCommand[],
): CoordinatorState {
  const pending = new Map(s.pending);
  pending.delete(p.id);
  const savepoint = p.savepointName !== undefined;
  const next: CoordinatorState = {
    ...s,
    pending,
    lastEnd: at.mono,
    consecutiveFailures: 0,
    lastCompleted: savepoint ? s.lastCompleted : manifest,
  };
  out.push({ type: "cancelTimeout", id: p.id });
  if (!savepoint || p.stop) out.push({ type: "notifyComplete", id: p.id });
  if (!savepoint) {
    out.push({
      type: "collectGarbage",
      retained: s.settings.config.retained,
      inFlight: inFlightSegments(pending),
      pending: [...pending.keys()],
    });
  }
  out.push({
    type: "completed",
    id: p.id,
    request: p.request,
    manifest,
    path,
    record: record(s, p, "completed", at.epoch, undefined, path),
    history: {
      kind: "checkpoint",
      id: p.id,
      status: "COMPLETED",
      is_savepoint: p.options.savepoint,
      trigger_timestamp: p.triggered.epoch,
      latest_ack_timestamp: p.latestAckAt ?? at.epoch,
      end_to_end_duration: manifest.stats.durationMs,
      state_size: manifest.stats.stateSize,
      checkpointed_size: manifest.stats.checkpointedSize,
      num_subtasks: s.settings.taskCount,
      num_acknowledged_subtasks: p.acks.size,
      external_path: path,
      tasks: manifest.stats.tasks,
    },
  });
  return triggerFinal(next, at, out);
}

function abort(
  s: CoordinatorState,
  p: PendingCheckpoint,
  reason: string,
  countsAsFailure: boolean,
  at: Instant,
  out: CoordinatorCommand[],
): CoordinatorState {
  const pending = new Map(s.pending);
  pending.delete(p.id);
  let next: CoordinatorState = { ...s, pending, lastEnd: at.mono };
  out.push({ type: "cancelTimeout", id: p.id });
  out.push({ type: "notifyAborted", id: p.id });
  out.push({
    type: "aborted",
    id: p.id,
    request: p.request,
    reason,
    record: record(s, p, "failed", at.epoch, reason, undefined),
    history: {
      kind: "checkpoint",
      id: p.id,
      status: "FAILED",
      is_savepoint: p.options.savepoint,
      trigger_timestamp: p.triggered.epoch,
      latest_ack_timestamp: p.latestAckAt ?? at.epoch,
      end_to_end_duration: at.epoch - p.triggered.epoch,
      state_size: 0,
      checkpointed_size: 0,
      num_subtasks: s.settings.taskCount,
      num_acknowledged_subtasks: p.acks.size,
      failure_message: reason,
      tasks: [],
    },
  });
  // As in Flink, a failed savepoint fails its trigger only, not the job.
  if (countsAsFailure && p.savepointName === undefined) {
    out.push({
      type: "collectGarbage",
      retained: s.settings.config.retained,
      inFlight: inFlightSegments(pending),
      pending: [...pending.keys()],
    });
    const failures = s.consecutiveFailures + 1;
    next = { ...next, consecutiveFailures: failures };
    const tolerable = s.settings.config.tolerableFailures;
    if (failures > tolerable) {
      out.push({
        type: "failJob",
        reason:
          `${failures} consecutive checkpoints failed (tolerable: ${tolerable}); last: ${reason}`,
      });
    }
  }
  return triggerFinal(next, at, out);
}
