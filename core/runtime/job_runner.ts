/**
 * Runs a job to its end across failures: picks what to restore (`--restore`,
 * then the latest checkpoint after each failure), starts a {@linkcode Job},
 * and on failure asks the restart strategy whether and when to try again.
 *
 * @module
 */
import {
  ConfigError,
  CorruptionError,
  DirectoryInUseError,
  IncompatibleStateError,
  JobFailedError,
} from "../errors.ts";
import type {
  CheckpointConfig,
  CompletedCheckpoint,
  StopOptions,
} from "../checkpoint/coordinator.ts";
import { type AttemptFailure, classifyFailure } from "../checkpoint/failure_classifier.ts";
import { type RestartStrategy, RestartTracker } from "../checkpoint/restart_strategy.ts";
import { resolveRestore, restoredMaxParallelism } from "../checkpoint/restore.ts";
import { CheckpointStorage, type LoadedManifest, loadManifest } from "../checkpoint/storage.ts";
import type { CheckpointFs } from "../checkpoint/checkpoint_fs.ts";
import { DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";
import { appendHistory } from "../checkpoint/history.ts";
import { type DirectoryLock, lockDirectory } from "../checkpoint/dir_lock.ts";
import type { CheckpointMirror } from "../checkpoint/storage/checkpoint_mirror.ts";
import type { Transformation } from "./graph.ts";
import { Job, type JobConfig, type JobResult } from "./job.ts";
import type { SubtaskReport } from "./subtask_report.ts";
import { rewindCollectResults } from "../connectors/_collect_results.ts";
import { WorkerPool } from "./worker_executor.ts";
import { dirname, resolve as absolute } from "node:path";

/** How to run: the job config without its per-attempt parts, plus recovery settings. */
export interface RunOptions {
  /** The job config (checkpoint and restore are set per attempt). */
  readonly job: Omit<JobConfig, "checkpoint" | "restore">;
  /** Checkpointing, when enabled. */
  readonly checkpoint: CheckpointConfig | undefined;
  /** File system for checkpoints (tests inject faults). */
  readonly fs: CheckpointFs | undefined;
  /** The database checkpoints go to, already pulled into `checkpoint.dir`. */
  readonly mirror?: CheckpointMirror | undefined;
  /** `"latest"`, a checkpoint or savepoint path, or undefined. */
  readonly restore: string | undefined;
  /**
   * Let `latest` fall back past damaged checkpoints whose exactly-once output
   * was committed (that output is emitted again); refused otherwise.
   */
  readonly allowDuplicateOutput?: boolean;
  /** What to do when the job fails. */
  readonly restartStrategy: RestartStrategy;
  /** The same failure this many times from the same snapshot stops the job (see `classifyFailure`). */
  readonly repeatedFailureLimit: number;
  /** Where to report restores and restarts. */
  readonly log: (line: string) => void;
}

/**
 * A running job: await `done`, trigger checkpoints and savepoints, stop or cancel it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type JobClient, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir } });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).map((n: number) => n);
 * const client: JobClient = env.executeAsync("unbounded");
 * const checkpoint = await client.triggerCheckpoint();
 * assert.equal(checkpoint.manifest.kind, "checkpoint");
 * client.cancel();
 * assert.equal((await client.done).cancelled, true);
 * assert.equal(client.restarts, 0);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface JobClient {
  /** Resolves when the job ends; rejects with `JobFailedError` when it fails for good. */
  readonly done: Promise<JobResult>;
  /** The current attempt (a new one after each restart). */
  readonly job: Job;
  /** Restarts so far. */
  readonly restarts: number;
  /** Between a failed attempt and the next one's start (the restart strategy's delay). */
  readonly restarting: boolean;
  /**
   * The failures of this run's attempts, oldest first (the restart history): the newest 100
   * (or `repeatedFailureLimit`, if more), as Flink bounds its exception history; the restart
   * strategy counts them all.
   */
  readonly failures: readonly AttemptFailure[];
  /**
   * @internal The attempts that failed, oldest first, with their subtasks' last reports: the
   * newest {@linkcode ATTEMPTS_KEPT}, which the admin API serves as Flink's prior execution
   * attempts.
   */
  readonly endedAttempts: readonly EndedAttempt[];
  /** Stops the job; `done` then resolves with `cancelled: true`. */
  cancel(): void;
  /** Takes a checkpoint now. */
  triggerCheckpoint(): Promise<CompletedCheckpoint>;
  /**
   * Takes a self-contained savepoint in `DIR/savepoints/<name>`, or in
   * `targetDirectory/<name>` when given (Flink's target directory).
   */
  triggerSavepoint(name?: string, targetDirectory?: string): Promise<CompletedCheckpoint>;
  /**
   * Stops the job with a savepoint, commits, and ends the job; with
   * `{ drain: true }` every window and timer fires first (see {@linkcode StopOptions}).
   * While a stop is in progress another one gets its savepoint, or a
   * `CheckpointError` when it asks for another `drain`. A job that fails after
   * the savepoint but before its commit is done did not stop: the stop rejects
   * with a `CheckpointError` (as Flink's), and the restart strategy decides.
   */
  stopWithSavepoint(name?: string, options?: StopOptions): Promise<CompletedCheckpoint>;
  /**
   * Flink's cancel-with-savepoint: stops the job as `stopWithSavepoint` without drain does, and
   * it ends cancelled (`done` resolves with `cancelled: true`; `execute()` rejects with
   * `JobCancelledError`).
   */
  cancelWithSavepoint(name?: string): Promise<CompletedCheckpoint>;
}

/**
 * Failures a run keeps for {@linkcode JobClient.failures} (Flink's `web.exception-history-size`
 * is 16): a job that restarts for months must not grow. The restart strategy counts them all.
 */
export const FAILURES_KEPT = 100;

/**
 * Ended attempts a run keeps for {@linkcode JobClient.endedAttempts}: Flink's
 * `jobmanager.execution.attempts-history-size` (16).
 */
export const ATTEMPTS_KEPT = 16;

/** @internal A failed attempt as the admin API shows it (see {@linkcode JobClient.endedAttempts}). */
export interface EndedAttempt {
  /** Its number: the restarts before it. */
  readonly attempt: number;
  /** When its tasks were made (ms since epoch). */
  readonly startTime: number;
  /** When it failed. */
  readonly endTime: number;
  /** The task that failed, when one did. */
  readonly failedTask?: string;
  /** Its subtasks' last reports (a worker's, as last sent). */
  readonly reports: readonly SubtaskReport[];
}

function savepointName(): string {
  return `savepoint-${Date.now()}-${crypto.randomUUID().slice(0, 6)}`;
}

/**
 * Starts `nodes` and keeps them running per the restart strategy. What a
 * restart cannot fix fails before the first attempt (a source's or sink's `check`, a
 * snapshot that cannot be restored) or ends the job (a `ConfigError`, the
 * same failure repeated from the same snapshot: see `classifyFailure`).
 */
export function runJob(nodes: readonly Transformation[], options: RunOptions): JobClient {
  const { checkpoint } = options;
  for (const n of nodes) {
    n.source?.check?.();
    n.sink?.check?.();
  }
  const fs = options.fs ?? new DenoCheckpointFs();
  // Taken before the storage creates the directory: a start that fails before its job runs
  // (a snapshot that cannot be restored) leaves a fresh directory as it was, as Flink writes
  // nothing to a job's checkpoint storage before its restore succeeded.
  const undoFresh = checkpoint ? undoFreshDirectory(checkpoint.dir) : undefined;
  const storage = checkpoint ? new CheckpointStorage(checkpoint.dir, fs) : undefined;
  if (storage && options.mirror) {
    storage.mirror = options.mirror;
    options.mirror.log = options.log;
  }
  // Held for every attempt of this run: another job on the directory fails at once, naming this one.
  const lock = storage
    ? lockDirectory(storage.paths.root, `job "${options.job.name}"`, "Checkpoint directory")
    : undefined;
  try {
    storage?.removeLeftovers();
    return runLocked(nodes, options, fs, storage, lock);
  } catch (e) {
    lock?.release();
    try {
      undoFresh?.();
    } catch (undo) {
      options.log(`Cannot remove what this start created in ${checkpoint!.dir}: ${undo}`);
    }
    throw e;
  }
}

/**
 * What removes again what a start creates in checkpoint directory `dir`: the folders it makes
 * (`dir` did not exist) or what it puts in `dir` (it was empty). A directory that held anything
 * before is never touched: nothing is removed.
 */
function undoFreshDirectory(dir: string): () => void {
  // A folder this process may not read (a job allowed to read its checkpoint directory only)
  // counts as there: nothing above it is removed.
  const exists = (path: string) => {
    try {
      Deno.lstatSync(path);
      return true;
    } catch (e) {
      return !(e instanceof Deno.errors.NotFound);
    }
  };
  // The outermost folder a `mkdir -p` of `dir` makes.
  let made: string | undefined;
  for (let d = absolute(dir); !exists(d) && dirname(d) !== d; d = dirname(d)) made = d;
  if (made !== undefined) return () => Deno.removeSync(made, { recursive: true });
  let empty = false;
  try {
    empty = Deno.statSync(dir).isDirectory &&
      Deno.readDirSync(dir)[Symbol.iterator]().next().done === true;
  } catch {
    // Unreadable: the storage says why.
  }
  if (!empty) return () => {};
  return () => {
    for (const e of [...Deno.readDirSync(dir)]) {
      Deno.removeSync(`${dir}/${e.name}`, { recursive: true });
    }
  };
}

function runLocked(
  nodes: readonly Transformation[],
  options: RunOptions,
  fs: CheckpointFs,
  storage: CheckpointStorage | undefined,
  lock: DirectoryLock | undefined,
): JobClient {
  const { checkpoint, log } = options;
  const policy = checkpoint && {
    mode: checkpoint.mode,
    allowDuplicateOutput: options.allowDuplicateOutput ?? false,
  };
  let restore: LoadedManifest | undefined;
  if (options.restore === "latest") {
    if (!storage) throw new ConfigError("--restore latest needs --checkpoint-dir");
    restore = resolveRestore(storage, "latest", log, undefined, policy);
    if (restore) {
      log(
        `restoring ${restore.manifest.kind} ${restore.manifest.checkpointId} from ${
          absolute(restore.dir)
        }`,
      );
    } else log(`no checkpoint to restore in ${absolute(storage.paths.root)}; starting fresh`);
  } else if (options.restore !== undefined) {
    restore = storage
      ? resolveRestore(storage, options.restore, log)
      : verifiedLoad(fs, options.restore);
    log(
      `restoring ${restore!.manifest.kind} ${restore!.manifest.checkpointId} from ${
        absolute(restore!.dir)
      }`,
    );
  }
  if (options.restore === undefined && storage) refuseFreshStartOver(storage);
  // The run's Web Workers serve all its attempts (terminated when it ends), as Flink's
  // TaskManagers outlive a job's restarts.
  const workerPool = new WorkerPool();
  const start = (from: LoadedManifest | undefined, lastCheckpointId?: number) => {
    if (from?.acceptedDuplicates) log(from.acceptedDuplicates.message);
    if (from?.manifest.drained) {
      log(
        `savepoint ${from.manifest.checkpointId} was taken by a stop with drain: the windows ` +
          `and timers pending then fired early, so records after the stop start them anew ` +
          `(Flink: drain only to end a job for good; stop without drain to upgrade)`,
      );
    }
    // Rewinds, and plans the restore: a snapshot that does not fit the job throws here.
    rewindCollectResults(nodes, from?.manifest.checkpointId);
    const job = new Job(nodes, {
      ...options.job,
      workerPool,
      ...(from ? { maxParallelism: restoredMaxParallelism(options.job, from.manifest) } : {}),
      ...(checkpoint && storage ? { checkpoint: { config: checkpoint, storage } } : {}),
      ...(from ? { restore: from } : {}),
      ...(lastCheckpointId !== undefined ? { lastCheckpointId } : {}),
    });
    // Restores go to the checkpoint history, so the admin API counts them across runs; only
    // one the job accepted (Flink records no restore that failed).
    if (from && storage) {
      const problem = appendHistory(storage.paths.root, {
        kind: "restore",
        id: from.manifest.checkpointId,
        restore_timestamp: Date.now(),
        is_savepoint: from.manifest.kind === "savepoint",
        external_path: from.dir,
        ...(from.acceptedDuplicates
          ? {
            duplicates_accepted: {
              skipped: [...from.acceptedDuplicates.skipped],
              message: from.acceptedDuplicates.message,
            },
          }
          : {}),
      });
      if (problem) log(problem);
    }
    return job;
  };
  let job = start(restore);
  let restarts = 0;
  let restarting = false;
  let cancelled = false;
  let wakeSleep: (() => void) | undefined;
  // Checkpoints found damaged while restoring them (a corrupt segment block is
  // only seen when read): `latest` skips them from then on.
  const damaged = new Set<number>();
  const failures: AttemptFailure[] = [];
  const endedAttempts: EndedAttempt[] = [];
  const restartTracker = new RestartTracker(options.restartStrategy);
  const attempts = async () => {
    for (;;) {
      try {
        return await job.run();
      } catch (e) {
        if (cancelled || !(e instanceof JobFailedError)) throw e;
        // Another job writes there: restarting cannot help, and its name is the message.
        if (e.cause instanceof DirectoryInUseError) throw e.cause;
        const corrupt = corruptSegmentOf(e, restore);
        if (corrupt && restore) {
          damaged.add(restore.manifest.checkpointId);
          log(
            `${restore.manifest.kind} ${restore.manifest.checkpointId} is damaged ` +
              `(${corrupt.message}); a restart skips it`,
          );
        }
        failures.push({
          at: Date.now(),
          signature: e.message,
          ...(e.taskName !== undefined ? { taskName: e.taskName } : {}),
          ...(e.taskManagerId !== undefined ? { taskManagerId: e.taskManagerId } : {}),
          // The error the task threw, for the exception history (Flink's exceptionName, stacktrace).
          ...(e.cause instanceof Error
            ? { errorName: e.cause.name, ...(e.cause.stack ? { stack: e.cause.stack } : {}) }
            : {}),
          restoredFrom: restore && absolute(restore.dir),
          configError: causedByConfig(e),
        });
        if (failures.length > Math.max(FAILURES_KEPT, options.repeatedFailureLimit)) {
          failures.shift();
        }
        // Taken once per failure (not per record): the attempt's figures, as it ended.
        endedAttempts.push({
          attempt: restarts,
          startTime: job.createdAt,
          endTime: failures.at(-1)!.at,
          ...(e.taskName !== undefined ? { failedTask: e.taskName } : {}),
          reports: job.subtaskReports(),
        });
        if (endedAttempts.length > ATTEMPTS_KEPT) endedAttempts.shift();
        restartTracker.record(failures.at(-1)!.at);
        const decision = classifyFailure(
          failures,
          {
            strategy: options.restartStrategy,
            repeatedFailureLimit: options.repeatedFailureLimit,
          },
          Date.now(),
          undefined,
          restartTracker,
        );
        if (!decision.restart) {
          // Without restarts the failure speaks for itself.
          if (options.restartStrategy.kind === "none") throw e;
          throw new JobFailedError(`${e.message} (not restarting: ${decision.reason})`, {
            cause: e.cause,
            taskName: e.taskName,
            taskManagerId: e.taskManagerId,
          });
        }
        log(`${e.message}; restarting in ${decision.delayMs} ms`);
        restarting = true;
        await new Promise<void>((r) => {
          const id = setTimeout(r, decision.delayMs);
          wakeSleep = () => {
            clearTimeout(id);
            r();
          };
        });
        if (cancelled) {
          // Cancelled between attempts: the same cleanup as a cancel while running (Job's
          // conclusion), as Flink's CANCELED discards checkpoints unless retained on cancellation.
          if (storage && checkpoint && !checkpoint.retainOnCancellation) {
            storage.discardCheckpoints();
          }
          return { name: options.job.name, durationMs: 0, cancelled: true, recordsIn: {} };
        }
        const latest = storage
          ? resolveRestore(storage, "latest", log, damaged, policy)
          : undefined;
        restore = latest ??
          (restore && damaged.has(restore.manifest.checkpointId) ? undefined : restore);
        if (restore) {
          log(
            `restoring ${restore.manifest.kind} ${restore.manifest.checkpointId} after a failure`,
          );
        }
        job = start(restore, job.coordinator?.lastTriggeredId);
        restarts++;
        restarting = false;
      }
    }
  };
  const done = attempts().finally(() => workerPool.close());
  done.then(() => lock?.release(), () => lock?.release());
  return {
    done,
    get job() {
      return job;
    },
    get restarts() {
      return restarts;
    },
    get restarting() {
      return restarting;
    },
    get failures() {
      return failures;
    },
    get endedAttempts() {
      return endedAttempts;
    },
    cancel() {
      cancelled = true;
      job.cancel();
      wakeSleep?.();
    },
    triggerCheckpoint() {
      return coordinatorOf(job).trigger();
    },
    triggerSavepoint(name = savepointName(), targetDirectory?: string) {
      return coordinatorOf(job).trigger(name, undefined, targetDirectory);
    },
    stopWithSavepoint(name = savepointName(), stop?: StopOptions) {
      return job.stopWithSavepoint(name, stop);
    },
    cancelWithSavepoint(name = savepointName()) {
      return job.cancelWithSavepoint(name);
    },
  };
}

/**
 * A job started without `--restore` on a checkpoint directory that holds completed checkpoints
 * would start its input over (emitting again what that run committed) and, as its own
 * checkpoints complete, delete that run's: its recovery point lost without a word. Flink gives
 * each run a folder of its own; here the directory is the job's, so say what to do instead.
 */
function refuseFreshStartOver(storage: CheckpointStorage): void {
  const ids = storage.completedIds();
  if (ids.length === 0) return;
  const latest = Math.max(...ids);
  // Checkpoints in a database: its working copy's folder is none of the user's business.
  const store = storage.mirror?.store.where;
  throw new ConfigError(
    store === undefined
      ? `Checkpoint directory ${storage.paths.root} already holds completed checkpoints (the ` +
        `latest: chk-${latest}): resume from them with --restore latest, or start over in an ` +
        `empty directory (a fresh start here would delete them as its own complete)`
      : `${store} already holds completed checkpoints (the latest: ${latest}): resume from ` +
        `them with --restore latest, or start over as another job (?job=NAME in the URL) or ` +
        `after \`weir checkpoints gc URL --keep 0\` (a fresh start here would delete them as ` +
        `its own complete)`,
  );
}

/**
 * Whether a `ConfigError` or an `IncompatibleStateError` (the job's state does not fit the
 * snapshot) is among `e`'s causes: what no restart fixes.
 */
function causedByConfig(e: Error): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof ConfigError || c instanceof IncompatibleStateError) return true;
  }
  return false;
}

/** The CorruptionError in `e`'s causes when it names a segment of `restored`. */
function corruptSegmentOf(
  e: unknown,
  restored: LoadedManifest | undefined,
): CorruptionError | undefined {
  if (!restored) return undefined;
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof CorruptionError) {
      const name = c.file.slice(c.file.lastIndexOf("/") + 1);
      return name in restored.manifest.segments ? c : undefined;
    }
  }
  return undefined;
}

function coordinatorOf(job: Job) {
  const c = job.coordinator;
  if (!c) throw new ConfigError("Checkpoints and savepoints need checkpointing (--checkpoint-dir)");
  return c;
}

function verifiedLoad(fs: CheckpointFs, path: string): LoadedManifest {
  return loadManifest(fs, path, true);
}
