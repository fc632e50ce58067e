/**
 * Turns the logical graph into tasks and runs them: parallelism per operator,
 * chaining of forward edges, one bounded channel per producer/consumer pair of
 * a network edge, keyed backends and timer services per keyed subtask.
 *
 * @module
 */
import { thrownMessage } from "../_thrown_message.ts";
import { checkOptionNames, shownValue } from "../_options.ts";
import { CheckpointError, ConfigError, JobFailedError, StateError } from "../errors.ts";
import {
  type CheckpointConfig,
  CheckpointCoordinator,
  type CompletedCheckpoint,
  type OperatorSubtaskSnapshot,
  type StopOptions,
} from "../checkpoint/coordinator.ts";
import { firstCheckpointId } from "../checkpoint/checkpoint_ids.ts";
import { readHistory } from "../checkpoint/history.ts";
import { adoptNameBasedUids, type OperatorRestore, planRestore } from "../checkpoint/restore.ts";
import type { Manifest } from "../checkpoint/manifest.ts";
import type { CheckpointStorage, LoadedManifest } from "../checkpoint/storage.ts";
import type { KeyedStateBackend, StateBackend } from "../state/backend.ts";
import { keyGroupRangeForSubtask } from "../state/key_group.ts";
import { OperatorStateStore } from "../state/operator_state.ts";
import type { Serializer } from "../state/serializer.ts";
import { schemaOf } from "../state/serializer_schema.ts";
import type { OperatorInfo } from "../checkpoint/coordinator_machine.ts";
import { Channel, type InputChannel, InputGate, type OutputChannel } from "./channel.ts";
import type { Clock } from "./clock.ts";
import { type Partitioning, type Transformation, uidOf } from "./graph.ts";
import type { OperatorContext, StreamOperator } from "./operator.ts";
import {
  BATCH_SIZE,
  ChainedTarget,
  ChannelWriter,
  FanOutput,
  newCounters,
  type OperatorCounters,
  type Target,
} from "./outputs.ts";
import type { BarrierMessage, BarrierOptions } from "./messages.ts";
import { CancelledError, SOURCE_SPLITS, SourceOperator, Task, type TaskHost } from "./task.ts";
import { InternalTimerService, type TimerTarget } from "./timers.ts";
import { MessageKind } from "./messages.ts";
import { buildPhysicalPlan, type PhysicalPlan } from "./physical_plan.ts";
import { DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";
import { MetricGroup } from "./metric_group.ts";
import { failOnUncaught } from "./_uncaught.ts";
import type { WorkerLink, WorkerRoleHooks } from "./_worker_protocol.ts";
import type {
  CoordinatorToTask,
  EnumeratorToReader,
  ReaderToEnumerator,
  TaskToCoordinator,
} from "./control_messages.ts";
import { SourceCoordinator } from "./_source_coordinator.ts";
import { WatermarkAlignmentGroups } from "./_watermark_alignment.ts";
import { isEnumeratedSplitReader } from "../connectors/split_enumerator.ts";
import { isAlignedReader } from "../connectors/_watermarked_source.ts";
import { WorkerExecutor, type WorkerPool } from "./worker_executor.ts";
import {
  operatorFigures,
  querySubtaskState,
  reportSubtasks,
  reportThread,
  type SubtaskReport,
  type SubtaskStateAnswer,
  THREAD,
  type ThreadReport,
} from "./subtask_report.ts";

/**
 * Where a job's subtasks run: `inline` on this thread (one core), `workers`
 * spread over Deno Web Workers, one core each (docs/execution.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ExecutorKind, StreamEnvironment } from "@weir/weir";
 * const executor: ExecutorKind = "inline";
 * const env = StreamEnvironment.create({ executor, parallelism: 2 });
 * assert.equal(env.config.executor, "inline");
 * ```
 */
export type ExecutorKind = "inline" | "workers";

/** What a job runs with. */
export interface JobConfig {
  /** Job name. */
  readonly name: string;
  /** Default parallelism. */
  readonly parallelism: number;
  /** Number of key groups. */
  readonly maxParallelism: number;
  /**
   * Whether the script gave `maxParallelism`. When it did not (Flink's default for the
   * parallelism), a restore takes the snapshot's, as Flink does: key groups cannot change.
   */
  readonly maxParallelismGiven?: boolean;
  /** Keyed state backend. */
  readonly stateBackend: StateBackend;
  /** Processing time. */
  readonly clock: Clock;
  /** Records a channel buffers before its writer waits. */
  readonly channelCapacity: number;
  /** Checkpointing, when enabled. */
  readonly checkpoint?: { readonly config: CheckpointConfig; readonly storage: CheckpointStorage };
  /** The checkpoint or savepoint to restore. */
  readonly restore?: LoadedManifest;
  /**
   * Restore even when the snapshot holds state of operators the job lacks, or
   * keyed state of an operator the job no longer keys (that state is dropped).
   */
  readonly allowNonRestoredState?: boolean;
  /** The highest checkpoint id a previous attempt of this job handed out. */
  readonly lastCheckpointId?: number;
  /** Where the job reports what it does (restores, failed checkpoints). */
  readonly log?: (line: string) => void;
  /** Where subtasks run (inline). */
  readonly executor?: ExecutorKind;
  /** Workers of the worker executor (the cores, at most the parallelism). */
  readonly workers?: number;
  /** Ms from a Web Worker's spawn until its script calls `execute()` (5 minutes). */
  readonly workerStartTimeoutMs?: number;
  /** Bytes the rings between workers share (256 MiB). */
  readonly ringMemoryBytes?: number;
  /**
   * @internal Which of the script's jobs this is (0: its first `execute()`): the worker
   * executor's Web Workers run the script again and skip the jobs before it.
   */
  readonly jobIndex?: number;
  /** @internal Set in a worker of the worker executor: what it runs and how it reports. */
  readonly workerRole?: WorkerRoleHooks;
  /**
   * @internal Runs worker 0's share of the worker executor on this thread
   * (else every share runs on a Web Worker of its own).
   */
  readonly shareOnThisThread?: (link: WorkerLink) => Promise<void>;
  /** @internal The job run's Web Workers, kept across its attempts (see `WorkerPool`). */
  readonly workerPool?: WorkerPool;
}

/** The checkpoint that ends a job: barriers sent, then completed. */
interface FinalCheckpoint {
  readonly triggered: Promise<void>;
  readonly completed: Promise<CompletedCheckpoint>;
}

/** One operator subtask, as the plan placed it. */
export interface PlacedOperator {
  /** Its transformation. */
  readonly node: Transformation;
  /** Subtask index. */
  readonly subtaskIndex: number;
  /** The instance. */
  readonly operator: StreamOperator;
  /** Its keyed backend, once created. */
  keyed: KeyedStateBackend | undefined;
  /** Its operator state. */
  operatorState: OperatorStateStore;
  /** Records in and out (records in counted here when chained; a chain head's are its task's). */
  readonly counters: OperatorCounters;
  /** User-defined metrics of this subtask. */
  readonly metricGroup: MetricGroup;
}

/**
 * What `execute` returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type JobResult, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * env.fromElements(1, 2, 3).filter((n: number) => n > 1).uid("big");
 * const result: JobResult = await env.execute("filter");
 * assert.equal(result.name, "filter");
 * assert.equal(result.cancelled, false);
 * assert.ok(result.durationMs >= 0);
 * assert.equal(result.recordsIn["big"], 3, "the filter received all three");
 * ```
 */
export interface JobResult {
  /** The job's name. */
  readonly name: string;
  /** Wall time in ms. */
  readonly durationMs: number;
  /** Whether the job was cancelled before its input ended. */
  readonly cancelled: boolean;
  /** Records each operator (by uid) received, summed over subtasks (0 for sources). */
  readonly recordsIn: Record<string, number>;
  /**
   * ms from the start until every subtask was open and running (with the
   * worker executor: its workers started, imported the script and restored).
   */
  readonly startupMs?: number;
  /**
   * The workers the subtasks ran on (the worker executor: Web Workers, and
   * as worker 0 the main thread unless it served the network); absent when
   * they ran inline.
   */
  readonly workers?: number;
  /**
   * Bytes of each ring between two workers (the credit of a channel that
   * crosses workers: 512 KiB, less at high parallelism); absent when no
   * channel crosses workers (inline, or one worker).
   */
  readonly ringBytes?: number;
}

/** A job built from a graph, ready to run once. */
export class Job implements TaskHost {
  /** The config. */
  readonly config: JobConfig;
  /** Tasks, sources first. */
  readonly tasks: Task[] = [];
  /** Every operator subtask. */
  readonly placed: PlacedOperator[] = [];
  /** The physical plan it instantiates. */
  readonly plan: PhysicalPlan;
  /** The transformations it was built from (key serializers, names). */
  readonly nodes: readonly Transformation[];
  /** Parallelism chosen per transformation id. */
  readonly parallelism: Map<number, number> = new Map();
  /** When this attempt was made (ms since epoch): a restart makes a new one. */
  readonly createdAt: number = Date.now();
  #cancelled = false;
  #startupMs: number | undefined;
  /** The worker executor, when this job (in the main thread) runs on workers. */
  #workers: WorkerExecutor | undefined;
  #role: WorkerRoleHooks | undefined;
  /** Plan task id of each local task. */
  #taskIds = new Map<Task, number>();
  /** Source tasks of the whole plan (not only the local ones). */
  #sourceTaskCount = 0;
  /** Keyed operator subtasks of the whole plan: they share the state backend's memory. */
  readonly #keyedSubtasks: number;
  /** The task being opened, so a failure while restoring its state names it. */
  #opening: Task | undefined;
  #channels: { close(): void }[] = [];
  #restorePlan: Map<string, OperatorRestore[]> | undefined;
  /** The restored manifest, its operators under this job's uids (`adoptNameBasedUids`). */
  #restoreManifest: Manifest | undefined;
  #byTask = new Map<Task, PlacedOperator[]>();
  #coordinator: CheckpointCoordinator | undefined;
  /** The sources' split enumerators (main thread only). */
  #sources: SourceCoordinator | undefined;
  /** The watermark alignment groups (main thread only; readers report by message). */
  readonly #alignment = new WatermarkAlignmentGroups();
  #sourceTasks: Task[] = [];
  #endedSources = 0;
  #final: FinalCheckpoint | undefined;
  #failure: Error | undefined;
  #stopSavepoint: string | undefined;
  #stopOptions: StopOptions = { drain: false };
  /** The stop is Flink's cancel-with-savepoint: the job ends cancelled, not finished. */
  #stopCancels = false;
  /** The job ended with its stop's savepoint. */
  #stopped = false;
  #notifications: Promise<void>[] = [];
  /**
   * Settles once a stop-with-savepoint's commit is done, or the job ended without it: with
   * why, when it failed.
   */
  #stopCommitted = Promise.withResolvers<CompletedCheckpoint | { failed: unknown } | undefined>();

  /** Plans the job. */
  constructor(nodes: readonly Transformation[], config: JobConfig) {
    this.config = config;
    this.nodes = nodes;
    this.plan = buildPhysicalPlan(nodes, {
      jobName: config.name,
      parallelism: config.parallelism,
      maxParallelism: config.maxParallelism,
    });
    for (const v of this.plan.vertices) this.parallelism.set(v.id, v.parallelism);
    if (config.restore) {
      // Once per job, from the main thread, not from every worker's copy of the plan.
      const log = config.workerRole
        ? undefined
        : config.log ?? ((line: string) => console.error(`weir: ${line}`));
      this.#restoreManifest = adoptNameBasedUids(
        config.restore.manifest,
        nodes.filter((n) => n.uid === undefined).map((n) => ({
          uid: uidOf(n),
          id: n.id,
          name: n.name,
        })),
        new Set(nodes.map(uidOf)),
        log,
      );
      const ops = nodes.flatMap((n) => {
        const p = this.parallelism.get(n.id)!;
        return Array.from({ length: p }, (_, i) => ({
          uid: uidOf(n),
          parallelism: p,
          subtaskIndex: i,
          keyGroupRange: keyGroupRangeForSubtask(config.maxParallelism, p, i),
          keySerializer: n.keySerializer?.id ?? null,
          ...(n.keySerializer ? { keySerializerInstance: n.keySerializer } : {}),
        }));
      });
      this.#restorePlan = planRestore(
        this.#restoreManifest,
        config.maxParallelism,
        ops,
        config.allowNonRestoredState ?? false,
        log,
      );
    }
    this.#role = config.workerRole;
    const vertexKind = new Map(this.plan.vertices.map((v) => [v.id, v.kind]));
    this.#sourceTaskCount =
      this.plan.tasks.filter((t) =>
        vertexKind.get(this.plan.chains[t.chain]!.vertices[0]!) === "source"
      ).length;
    this.#keyedSubtasks = Math.max(
      1,
      this.plan.vertices.reduce((n, v) => n + (v.keySerializer === null ? 0 : v.parallelism), 0),
    );
    // One subtask per chain (`--parallelism 1`) stays on this thread: one core either way.
    const spread = Math.max(...this.plan.chains.map((c) => c.parallelism)) > 1;
    if (config.executor === "workers" && spread && !this.#role) {
      if (config.checkpoint) config.checkpoint.storage.otherWriters = true;
      this.#workers = new WorkerExecutor(this.plan, nodes, {
        workers: config.workers ?? navigator.hardwareConcurrency,
        ...(config.checkpoint ? { checkpoint: config.checkpoint } : {}),
        ...(config.restore ? { restoreDir: config.restore.dir } : {}),
        report: (msg) => this.#receive(msg),
        sourceEnded: () => this.#sourceEnded(),
        ...(config.shareOnThisThread ? { shareOnThisThread: config.shareOnThisThread } : {}),
        ...(config.workerPool ? { pool: config.workerPool } : {}),
        ...(config.jobIndex !== undefined ? { jobIndex: config.jobIndex } : {}),
        ...(config.workerStartTimeoutMs !== undefined
          ? { startTimeoutMs: config.workerStartTimeoutMs }
          : {}),
        ...(config.ringMemoryBytes !== undefined
          ? { ringMemoryBytes: config.ringMemoryBytes }
          : {}),
      });
    } else this.#instantiate(nodes);
    this.#sourceTasks = this.tasks.filter((t) => t.gate === null);
    if (!this.#role) this.#sources = this.#sourceCoordinator(nodes, config);
    if (config.checkpoint && !this.#role) {
      const { config: cc, storage } = config.checkpoint;
      const firstId = firstCheckpointId({
        completed: storage.completedIds(),
        savepoints: storage.savepoints().map((s) => s.id),
        history: readHistory(storage.paths.root).map((e) => e.id),
        restored: config.restore?.manifest.checkpointId,
        previousAttempt: config.lastCheckpointId,
      });
      this.#coordinator = new CheckpointCoordinator(
        cc,
        storage,
        {
          taskCount: this.plan.tasks.length,
          jobName: config.name,
          stateBackend: config.stateBackend.name,
          maxParallelism: config.maxParallelism,
          operatorInfo: (uid) => this.#operatorInfo(uid),
          send: (msg) => {
            if (msg.type === "notifyComplete") this.#sources?.notifyCheckpointComplete(msg.id);
            if (msg.type === "notifyAborted") this.#sources?.notifyCheckpointAborted(msg.id);
            this.#toTasks(msg);
          },
          snapshotEnumerators: (id) => this.#sources?.snapshot(id) ?? {},
          liveSegments: () => this.#liveSegments(),
          fail: (e) => this.#fail(e),
          operatorFigures: () => operatorFigures(this.plan, this.subtaskReports()),
        },
        firstId,
        config.log ?? (() => {}),
        this.#restoreManifest,
      );
    }
  }

  /**
   * Whether the subtasks run on the worker executor's workers: this thread
   * then holds no operator instances (`placed` and `tasks` are empty).
   */
  get onWorkers(): boolean {
    return this.#workers !== undefined;
  }

  /**
   * Every operator subtask's figures: read here (inline), or the workers'
   * latest reports (see {@linkcode refreshReports}).
   */
  subtaskReports(): SubtaskReport[] {
    return this.#workers ? this.#workers.admin.reports() : reportSubtasks(this);
  }

  /** Every thread's figures: this one now (inline), or the workers' latest reports. */
  threadReports(): ThreadReport[] {
    return this.#workers ? this.#workers.admin.threads() : [reportThread(this)];
  }

  /** Asks the workers for fresh reports (nothing to do inline). */
  refreshReports(): Promise<void> {
    return this.#workers ? this.#workers.admin.refresh() : Promise.resolve();
  }

  /** Reads a key's state on the subtask given, in this thread or on its worker. */
  queryState(
    query: { uid: string; subtaskIndex: number; stateName: string; key: unknown },
    timeoutMs: number,
  ): Promise<SubtaskStateAnswer> {
    if (!this.#workers) return querySubtaskState(this, query, timeoutMs);
    const vertex = this.plan.vertices.find((v) => v.uid === query.uid);
    const task = this.plan.tasks.find((t) =>
      t.chain === vertex?.chain && t.subtaskIndex === query.subtaskIndex
    );
    if (!task) {
      return Promise.resolve({
        kind: "error",
        message: `Operator "${query.uid}" has no subtask ${query.subtaskIndex}`,
      });
    }
    return this.#workers.admin.queryState(this.#workers.placement[task.id]!, query, timeoutMs);
  }

  /** The checkpoint coordinator, when checkpointing is on. */
  get coordinator(): CheckpointCoordinator | undefined {
    return this.#coordinator;
  }

  #operatorInfo(
    uid: string,
  ): OperatorInfo {
    // From the plan: with the worker executor, the main thread has no operator instances.
    const v = this.plan.vertices.find((x) => x.uid === uid)!;
    const keySerializer = this.nodes.find((n) => n.id === v.id)?.keySerializer;
    return {
      name: v.name,
      parallelism: v.parallelism,
      source: v.kind === "source",
      ...(v.keySerializer !== null ? { keySerializer: v.keySerializer } : {}),
      ...(keySerializer ? { keySchema: schemaOf(keySerializer) } : {}),
    };
  }

  /**
   * The split enumerators of the sources that have one; a restored job gives
   * each its state and its readers' unfinished splits (union state: any subtask's copy).
   */
  #sourceCoordinator(
    nodes: readonly Transformation[],
    config: JobConfig,
  ): SourceCoordinator | undefined {
    const sources = nodes.filter((n) => n.kind === "source" && n.source?.createEnumerator);
    if (sources.length === 0) return undefined;
    return new SourceCoordinator(
      sources.map((n) => {
        const uid = uidOf(n);
        const restored = this.#restorePlan?.get(uid)?.[0];
        let splits: Iterable<unknown> | undefined;
        try {
          splits = restored
            ? new OperatorStateStore(uid, restored.operatorState).getUnionListState(SOURCE_SPLITS)
              .get()
            : undefined;
        } catch (e) {
          // As a reader's state that does not decode: the attempt fails, the restart strategy decides.
          this.#fail(
            new CheckpointError(
              `Cannot restore the splits of source "${n.name}" (uid ${uid}): ${
                (e as Error).message
              }`,
              { cause: e },
            ),
          );
        }
        return {
          uid,
          source: n.source!,
          parallelism: this.parallelism.get(n.id)!,
          ...(config.restore
            ? { restoredState: this.#restoreManifest?.operators[uid]?.enumerator }
            : {}),
          ...(splits ? { restoredSplits: [...splits] } : {}),
        };
      }),
      {
        send: (msg) => this.#toTasks(msg),
        fail: (e) => this.#fail(e),
        now: () => config.clock.now(),
      },
    );
  }

  /** Sends a message to the tasks: on the workers, or on this thread. */
  #toTasks(msg: CoordinatorToTask | EnumeratorToReader): void {
    if (this.#workers) this.#workers.send(msg);
    else this.deliver(msg);
  }

  /** A task's message (from this thread or a worker): to the enumerators or the coordinator. */
  #receive(msg: TaskToCoordinator | ReaderToEnumerator): void {
    if (msg.type === "reportedWatermark") this.#toTasks(this.#alignment.receive(msg));
    else if (msg.type === "splitRequest" || msg.type === "readerRegistered") {
      this.#sources?.receive(msg);
    } else this.#coordinator?.receive(msg);
  }

  /** @internal Hands the coordinator's or an enumerator's `msg` to this thread's tasks. */
  deliver(msg: CoordinatorToTask | EnumeratorToReader): void {
    if (msg.type === "injectBarrier") this.#injectBarriers(msg.id, msg.options);
    else if (msg.type === "notifyComplete") this.#notifyCheckpointComplete(msg.id);
    else if (msg.type === "notifyAborted") this.#notifyCheckpointAborted(msg.id);
    else this.#toReader(msg);
  }

  /**
   * Hands an assignment or an alignment to the reader it names, if it runs on
   * this thread (between batches).
   */
  #toReader(msg: EnumeratorToReader): void {
    for (const [task, placed] of this.#byTask) {
      const p = placed[0];
      if (!p || !(p.operator instanceof SourceOperator)) continue;
      if (uidOf(p.node) !== msg.uid || p.subtaskIndex !== msg.subtask) continue;
      const reader = p.operator.reader;
      if (msg.type === "watermarkAlignment") {
        const max = msg.maxAllowedWatermark;
        if (isAlignedReader(reader)) task.postMail(() => reader.alignWatermarks(max));
        return;
      }
      if (!isEnumeratedSplitReader(reader)) return;
      const splits = msg.type === "addSplits" ? msg.splits : undefined;
      task.postMail(() => splits ? reader.addSplits(splits) : reader.notifyNoMoreSplits());
      return;
    }
  }

  /** Sends barrier `checkpointId` from this thread's source tasks. */
  #injectBarriers(checkpointId: number, options: BarrierOptions): void {
    const barrier: BarrierMessage = { kind: MessageKind.Barrier, checkpointId, options };
    for (const t of this.#sourceTasks) t.postMail(() => t.injectBarrier(barrier));
  }

  /** Tells this thread's operators that checkpoint `id` completed. */
  #notifyCheckpointComplete(id: number): void {
    for (const t of this.tasks) {
      const notify = async () => {
        for (const op of t.operators) await op.notifyCheckpointComplete(id);
      };
      if (t.ended) this.#notifications.push(notify());
      else t.postMail(notify);
    }
  }

  /**
   * Tells this thread's operators that checkpoint `id` was aborted. Only
   * tasks still running hear it: an ended task's operators close once the
   * final checkpoint's notifications are done, and an abort does not hold
   * them open (nor does a cancelled task run mail).
   */
  #notifyCheckpointAborted(id: number): void {
    for (const t of this.tasks) {
      if (t.ended) continue;
      t.postMail(async () => {
        for (const op of t.operators) await op.notifyCheckpointAborted(id);
      });
    }
  }

  #liveSegments(): Set<string> {
    if (this.#workers) return this.#workers.liveSegments();
    return this.liveSegments();
  }

  /** @internal Segments this thread's keyed backends use. */
  liveSegments(): Set<string> {
    const live = new Set<string>();
    for (const p of this.placed) {
      const keyed = p.keyed as (KeyedStateBackend & { liveSegments?(): string[] }) | undefined;
      for (const s of keyed?.liveSegments?.() ?? []) live.add(s);
    }
    return live;
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.cancel();
  }

  /**
   * Sends a task's message to the coordinator: directly (inline), or to the
   * main thread (in a worker). The same messages either way.
   */
  #report(msg: TaskToCoordinator | ReaderToEnumerator): void {
    if (this.#role) this.#role.report(msg);
    else this.#receive(msg);
  }

  /**
   * @internal Snapshots the operators of `task` (synchronous part), sends
   * BarrierAck, then SnapshotDone (or Decline) once the asynchronous part is written.
   */
  snapshotTask(task: Task, barrier: BarrierMessage, alignmentMs: number): void {
    if ((!this.#role && !this.#coordinator) || !this.config.checkpoint) return;
    const id = barrier.checkpointId;
    const start = performance.now();
    const storage = this.config.checkpoint!.storage.segmentStorage();
    const parts = this.#byTask.get(task)!.map((p) => {
      // The asynchronous part (a sink's fsync or flush) runs on while the task goes on.
      const operatorAsync = p.operator.snapshotState(id, barrier.options.savepoint);
      return {
        uid: uidOf(p.node),
        subtaskIndex: p.subtaskIndex,
        operatorAsync,
        operatorState: p.operatorState.snapshot(),
        keyed: p.keyed?.snapshot(id, storage),
      };
    });
    const syncMs = performance.now() - start;
    const snapshots = Promise.all(parts.map(async (s): Promise<OperatorSubtaskSnapshot> => {
      // Both awaited at once: a rejection of either must not leave the other unobserved.
      const [, keyed] = await Promise.all([s.operatorAsync, s.keyed]);
      return {
        uid: s.uid,
        subtaskIndex: s.subtaskIndex,
        operatorState: s.operatorState,
        keyed,
      };
    }));
    const taskId = this.#taskIds.get(task)!;
    this.#report({ type: "barrierAck", task: taskId, name: task.name, id, alignmentMs, syncMs });
    snapshots.then(
      (snapshots) => this.#report({ type: "snapshotDone", task: taskId, id, snapshots }),
      (e) =>
        this.#report({
          type: "decline",
          task: taskId,
          id,
          reason: `task ${task.name} failed its snapshot: ${e}`,
        }),
    );
  }

  /** @internal `task` gives up checkpoint `checkpointId`: a newer barrier overtook it. */
  declineCheckpoint(task: Task, checkpointId: number, reason: string): void {
    if ((!this.#role && !this.#coordinator) || !this.config.checkpoint) return;
    const taskId = this.#taskIds.get(task)!;
    this.#report({ type: "decline", task: taskId, id: checkpointId, reason, subsumed: true });
  }

  /** @internal A source task ran out of input (or the job stops). */
  /** @internal Waits for the write stall of a keyed backend of `task`'s chain, if one is due. */
  writeStall(task: Task): Promise<void> | undefined {
    for (const p of this.#byTask.get(task) ?? []) {
      const stall = p.keyed?.writeStall?.();
      if (stall) return stall;
    }
    return undefined;
  }

  sourceEnded(task: Task): Promise<void> {
    if (this.#role) return this.#role.sourceEnded(this.#taskIds.get(task)!);
    return this.#sourceEnded();
  }

  /** Counts ended source tasks of the plan; the last one triggers the final checkpoint. */
  #sourceEnded(): Promise<void> {
    const coordinator = this.#coordinator;
    if (!coordinator) return Promise.resolve();
    if (++this.#endedSources === this.#sourceTaskCount) {
      this.#final = this.#stopSavepoint === undefined
        ? coordinator.finalCheckpoint()
        : coordinator.finalCheckpoint(this.#stopSavepoint, this.#stopOptions);
      // A failed final checkpoint fails the job through the coordinator; when the job is
      // cancelled or failed first nothing awaits this promise, and an unobserved rejection
      // would end the process with a stack trace.
      this.#final.completed.catch(() => {});
      this.#finalSet(this.#final);
    }
    return this.#finalPromise.then((f) => f.triggered);
  }

  #finalSet!: (f: FinalCheckpoint) => void;
  #finalPromise: Promise<FinalCheckpoint> = new Promise((r) => (this.#finalSet = r));

  /** @internal Whether sources should stop reading (stop-with-savepoint). */
  get stopping(): boolean {
    return this.#stopSavepoint !== undefined;
  }

  /** @internal Whether ending sources end event time (not so for a stop without drain). */
  get drain(): boolean {
    return this.#stopSavepoint === undefined || this.#stopOptions.drain;
  }

  /**
   * Stops the job with a savepoint (Flink's stop): sources stop reading, the
   * records in flight reach the operators, the savepoint is taken, its
   * transactions are committed, and the job ends. With `drain`, sources end
   * event time first, so every window and timer fires; without it (the
   * default) they stay in the savepoint. Resolves with the savepoint once its
   * commit is done; its manifest then lists no pending transactions. A job
   * that fails before that (a sink's commit throws) did not stop: the stop
   * rejects with a `CheckpointError`, as Flink's does. A stop
   * while one is in progress resolves with that one's savepoint, and rejects
   * with a `CheckpointError` when it asks for another `drain`. Options it does
   * not have (`{ drian: true }`) or a `drain` that is no boolean reject with a
   * `ConfigError`: the stop would otherwise not drain.
   */
  stopWithSavepoint(
    name = `savepoint-${Date.now()}`,
    options: StopOptions = { drain: false },
  ): Promise<CompletedCheckpoint> {
    try {
      checkOptionNames("stopWithSavepoint", options, { drain: true });
      // "false" would drain: any string is truthy.
      if (options.drain !== undefined && typeof options.drain !== "boolean") {
        throw new ConfigError(
          `stopWithSavepoint: drain must be true or false, got ${shownValue(options.drain)}`,
        );
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#stop(name, options, false);
  }

  /**
   * Flink's cancel-with-savepoint (a savepoint with `"cancel-job": true`): a stop without drain
   * (its savepoint committed, the newest recovery point), after which the job ends cancelled:
   * `run` resolves with `cancelled: true` and, as on a cancel, checkpoints are discarded unless
   * retained on cancellation (savepoints stay). A job whose input ended first ends finished.
   */
  cancelWithSavepoint(name = `savepoint-${Date.now()}`): Promise<CompletedCheckpoint> {
    return this.#stop(name, { drain: false }, true);
  }

  #stop(name: string, options: StopOptions, cancels: boolean): Promise<CompletedCheckpoint> {
    if (!this.#coordinator) {
      const what = cancels ? "cancel-with-savepoint" : "stop-with-savepoint";
      return Promise.reject(new ConfigError(`${what} needs checkpointing (--checkpoint-dir)`));
    }
    // One stop per job: a later one of the same kind shares its savepoint, but not one that asks
    // for another drain, which that savepoint did not do (windows fired or kept for the
    // restore), nor a cancel during a stop or a stop during a cancel (how the job ends differs).
    if (
      this.#stopSavepoint !== undefined &&
      (this.#stopCancels !== cancels || this.#stopOptions.drain !== options.drain)
    ) {
      const how = (c: boolean, drain: boolean) =>
        c ? "cancel with savepoint" : `stop with savepoint ${drain ? "with" : "without"} drain`;
      return Promise.reject(
        new CheckpointError(
          `A ${how(this.#stopCancels, this.#stopOptions.drain)} is already in progress ` +
            `(${this.#stopSavepoint}): cannot also ${how(cancels, options.drain)}`,
        ),
      );
    }
    this.stopSources(name, options);
    this.#stopCancels = cancels;
    this.#workers?.stopSources(name, options);
    return this.#finalPromise.then((f) => f.completed).then(async (c) => {
      if (c.manifest.kind !== "savepoint") return c; // the input ended first
      const committed = await this.#stopCommitted.promise;
      if (committed && "failed" in committed) {
        // As Flink's stop ("Inconsistent execution state after stopping with savepoint"): the
        // job did not stop, and the savepoint's output is not committed.
        const why = committed.failed instanceof Error
          ? committed.failed.message
          : String(committed.failed);
        throw new CheckpointError(
          `Stop with savepoint ${c.path} failed: the savepoint completed, but the job failed ` +
            `before committing its output (${why}), so the job did not stop (its restart ` +
            `strategy decides whether it runs on); restoring the savepoint commits that output`,
          { cause: committed.failed },
        );
      }
      return committed ?? c;
    });
  }

  /** @internal Sources of this thread stop reading, for savepoint `name`. */
  stopSources(name: string, options: StopOptions): void {
    if (this.#stopSavepoint === undefined) {
      this.#stopSavepoint = name;
      this.#stopOptions = options;
    }
    for (const t of this.#sourceTasks) t.wake();
  }

  /** Whether the job is being cancelled. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Instantiates the physical plan: operators, channels, writers, tasks. */
  #instantiate(nodes: readonly Transformation[]): void {
    const plan = this.plan;
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const par = (id: number) => this.parallelism.get(id)!;

    // Operator instances per node and subtask.
    const instances = new Map<number, StreamOperator[]>();
    const counters = new Map<number, OperatorCounters[]>();
    for (const n of nodes) {
      const ops: StreamOperator[] = [];
      for (let i = 0; i < par(n.id); i++) {
        ops.push(n.kind === "source" ? new SourceOperator() : n.createOperator!());
      }
      instances.set(n.id, ops);
      counters.set(n.id, ops.map(() => newCounters()));
    }

    // In a worker, only its tasks and its ends of their channels; inline, all of them.
    const role = this.#role;
    const localTask = (id: number) => !role || role.tasks.has(id);
    const outEnds: (OutputChannel | undefined)[] = [];
    const inEnds: (InputChannel | undefined)[] = [];
    for (const c of plan.channels) {
      const ends = role ? role.channel(c.id) : new Channel(this.config.channelCapacity);
      if (!ends) continue;
      this.#channels.push(ends);
      outEnds[c.id] = ends instanceof Channel ? ends : ends.out;
      inEnds[c.id] = ends instanceof Channel ? ends : ends.in;
    }
    // Each local producer subtask's channels of an edge, in consumer order.
    const channelsOf = new Map<string, OutputChannel[]>(); // `${edge}/${producer subtask}`
    for (const c of plan.channels) {
      if (!localTask(c.fromTask)) continue;
      const k = `${c.edge}/${plan.tasks[c.fromTask]!.subtaskIndex}`;
      channelsOf.set(k, [...(channelsOf.get(k) ?? []), outEnds[c.id]!]);
    }
    const taskOf = new Map(plan.tasks.map((t) => [`${t.chain}/${t.subtaskIndex}`, t.id]));
    const chainOf = new Map(plan.vertices.map((v) => [v.id, v.chain]));
    const localSubtask = (vertex: number, i: number) =>
      localTask(taskOf.get(`${chainOf.get(vertex)}/${i}`)!);

    // Every edge's target in each producer subtask: the chained operator or a channel writer.
    const targets = new Map<string, { main: Target[]; side: Map<string, Target[]> }>();
    const targetsOf = (id: number, i: number) => {
      const k = `${id}/${i}`;
      let t = targets.get(k);
      if (!t) targets.set(k, t = { main: [], side: new Map() });
      return t;
    };
    const writersOf = new Map<string, ChannelWriter[]>();
    const logicalEdges = nodes.flatMap((n) => n.inputs);
    plan.edges.forEach((e, k) => {
      const logical = logicalEdges[k]!;
      // Hash and custom edges carry code (key selectors): take them from the logical graph.
      const partitioning: Partitioning =
        logical.partitioning?.kind === "hash" || logical.partitioning?.kind === "custom"
          ? logical.partitioning
          : { kind: e.partitioning } as Partitioning;
      for (let i = 0; i < par(e.from); i++) {
        if (!localSubtask(e.from, i)) continue;
        let target: Target;
        if (e.chained) {
          target = new ChainedTarget(instances.get(e.to)![i]!, e.input, counters.get(e.to)![i]!);
        } else {
          const w = new ChannelWriter(
            channelsOf.get(`${k}/${i}`) ?? [],
            partitioning,
            i,
            this.config.maxParallelism,
            Math.min(BATCH_SIZE, Math.max(1, this.config.channelCapacity >> 1)),
          );
          target = w;
          writersOf.set(`${e.from}/${i}`, [...(writersOf.get(`${e.from}/${i}`) ?? []), w]);
        }
        const t = targetsOf(e.from, i);
        if (e.sideOutput === null) t.main.push(target);
        else t.side.set(e.sideOutput, [...(t.side.get(e.sideOutput) ?? []), target]);
      }
    });

    for (const pt of plan.tasks) {
      if (!localTask(pt.id)) continue;
      const chain = plan.chains[pt.chain]!.vertices.map((id) => byId.get(id)!);
      const i = pt.subtaskIndex;
      const ops = chain.map((n) => instances.get(n.id)![i]!);
      const writers = chain.flatMap((n) => writersOf.get(`${n.id}/${i}`) ?? []);
      const gate = chain[0]!.kind === "source" ? null : new InputGate(
        pt.inputs.map((c) => inEnds[c]!),
        pt.inputs.map((c) => plan.edges[plan.channels[c]!.edge]!.input),
      );
      const task = new Task(pt.name, ops, writers, gate, this);
      chain.forEach((n, k) => {
        const t = targetsOf(n.id, i);
        const restored = this.#restorePlan?.get(uidOf(n))?.[i];
        const placed: PlacedOperator = {
          node: n,
          subtaskIndex: i,
          operator: ops[k]!,
          keyed: undefined,
          operatorState: new OperatorStateStore(uidOf(n), restored?.operatorState),
          counters: counters.get(n.id)![i]!,
          metricGroup: new MetricGroup(),
        };
        this.placed.push(placed);
        this.#byTask.set(task, [...(this.#byTask.get(task) ?? []), placed]);
        ops[k]!.setup(this.#context(placed, task), new FanOutput(t.main, t.side, placed.counters));
      });
      this.tasks.push(task);
      this.#taskIds.set(task, pt.id);
    }
  }

  #context(placed: PlacedOperator, task: Task): OperatorContext {
    const { node, subtaskIndex } = placed;
    const config = this.config;
    const parallelism = this.parallelism.get(node.id)!;
    const uid = uidOf(node);
    const keySerializer = node.keySerializer;
    const keyedBackend = (): KeyedStateBackend => {
      if (!keySerializer) {
        throw new StateError(
          `Keyed state is only available on a keyed stream: operator "${node.name}" ` +
            `is not applied to a KeyedStream (use keyBy first)`,
        );
      }
      const restored = this.#restorePlan?.get(uid)?.[subtaskIndex];
      const fromSnapshot = config.restore;
      placed.keyed ??= config.stateBackend.createKeyedBackend({
        operatorUid: uid,
        subtaskIndex,
        keySerializer,
        maxParallelism: config.maxParallelism,
        keyGroupRange: keyGroupRangeForSubtask(config.maxParallelism, parallelism, subtaskIndex),
        ttlTimeProvider: config.clock,
        memoryShare: 1 / this.#keyedSubtasks,
        ...(restored && fromSnapshot && restored.keyed.length > 0
          ? {
            restore: {
              handles: restored.keyed,
              fs: config.checkpoint?.storage.fs ?? new DenoCheckpointFs(),
              segmentPath: fromSnapshot.segmentPath,
            },
          }
          : {}),
      });
      return placed.keyed;
    };
    return {
      uid,
      name: node.name,
      subtaskIndex,
      parallelism,
      maxParallelism: config.maxParallelism,
      clock: config.clock,
      stateBackend: config.stateBackend,
      operatorState: placed.operatorState,
      isRestored: this.#restorePlan !== undefined,
      ...(config.log ? { log: config.log } : {}),
      mailbox: task.mailbox,
      metricGroup: placed.metricGroup,
      keySerializer,
      keyedBackend,
      timerService<N>(target: TimerTarget<N>, ns?: Serializer<N>): InternalTimerService<N> {
        const backend = keyedBackend();
        return new InternalTimerService<N>(
          {
            now: () => config.clock.now(),
            scheduleProcessingTime: (at, fire) =>
              config.clock.schedule(at, () => task.postMail(fire)),
            setCurrentKey: (k) => backend.setCurrentKey(k),
            currentKey: () => backend.currentKey(),
            backend,
            maxParallelism: config.maxParallelism,
          },
          target,
          keySerializer!,
          ns,
        );
      },
    };
  }

  /** Opens the sources' readers and every operator. */
  async open(): Promise<void> {
    for (const p of this.placed) {
      if (p.operator instanceof SourceOperator) {
        const uid = uidOf(p.node);
        const subtask = p.subtaskIndex;
        const reader = p.node.source!.createReader({
          subtaskIndex: subtask,
          parallelism: this.parallelism.get(p.node.id)!,
          now: () => this.config.clock.now(),
          log: this.config.log ?? ((line) => console.error(`weir: ${line}`)),
          sendSplitRequest: () => this.#report({ type: "splitRequest", uid, subtask }),
          reportWatermark: (group, maxDriftMs, watermark) =>
            this.#report({ type: "reportedWatermark", uid, subtask, group, maxDriftMs, watermark }),
        });
        p.operator.reader = reader;
        if (isEnumeratedSplitReader(reader)) {
          this.#report({ type: "readerRegistered", uid, subtask });
        }
      }
    }
    for (const t of this.tasks) {
      this.#opening = t;
      await t.open();
    }
    this.#opening = undefined;
  }

  /**
   * Runs every task to the end; on the first failure cancels the rest and throws. On the main
   * thread, an error nothing caught while it runs (`_uncaught.ts`) is such a failure.
   */
  run(): Promise<JobResult> {
    // A worker's share (worker 0's too, on this thread) is part of a job that listens already.
    if (this.#role) return this.#runHere();
    return this.#runCatchingUncaught();
  }

  async #runCatchingUncaught(): Promise<JobResult> {
    let uncaught: JobFailedError | undefined;
    // As a Web Worker's report names its worker (_worker_role.ts); worker 0 may be this thread.
    const where = this.#workers && this.config.shareOnThisThread
      ? "worker 0 (the main thread)"
      : "the main thread";
    const stop = failOnUncaught((e) => {
      if (uncaught) return;
      uncaught = new JobFailedError(
        `Job "${this.config.name}" failed: ${where} had an error nothing caught: ` +
          thrownMessage(e),
        { cause: e instanceof Error ? e : new Error(thrownMessage(e)) },
      );
      this.#fail(uncaught);
    });
    try {
      const result = await (this.#workers ? this.#runOnWorkers(this.#workers) : this.#runHere());
      // A promise rejected in the attempt's last turn is reported after that turn: wait for it.
      await new Promise((r) => setTimeout(r, 0));
      if (uncaught) throw uncaught;
      return result;
    } finally {
      stop();
    }
  }

  async #runOnWorkers(workers: WorkerExecutor): Promise<JobResult> {
    const start = performance.now();
    let failure: { task: undefined; error: unknown } | undefined;
    let recordsIn: Record<string, number> = {};
    try {
      await workers.guard(workers.start());
      // As inline: the enumerators and the checkpoint timer start before the tasks run.
      this.#sources?.start();
      this.#coordinator?.start();
      this.#startupMs = workers.run() - start;
      await workers.guard(workers.tasksEnded());
      const final = !this.#cancelled && this.#final
        ? await workers.guard(this.#final.completed)
        : undefined;
      // After the final checkpoint's notifications: the workers commit, then finish.
      recordsIn = await workers.guard(workers.finish());
      if (final?.manifest.stop) {
        this.#stopped = true;
        const manifest = this.config.checkpoint!.storage.markSavepointCommitted(final.path);
        this.#stopCommitted.resolve({ manifest, path: final.path });
      }
    } catch (error) {
      if (!(error instanceof CancelledError)) {
        failure = { task: undefined, error };
        // The failure names its worker; checkpoints in flight fail with it.
        this.#coordinator?.taskFailed(undefined, error);
      }
    } finally {
      const failed = failure?.error ?? workers.failure;
      this.#stopCommitted.resolve(failed === undefined ? undefined : { failed });
      this.#coordinator?.stop();
      await this.#sources?.close();
      await workers.shutdown();
    }
    failure ??= workers.failure && { task: undefined, error: workers.failure };
    // A cancelled job reports what its subtasks read, as inline: each worker's share ended
    // (and sent its counts) before it answered the cancel.
    if (this.#cancelled) recordsIn = workers.recordsIn;
    return this.#conclude(failure, start, recordsIn);
  }

  async #runHere(): Promise<JobResult> {
    const start = performance.now();
    let failure: { task: Task | undefined; error: unknown } | undefined;
    try {
      await this.open();
      if (this.#role) await this.#role.opened();
      this.#startupMs = performance.now() - start;
      this.#sources?.start();
      this.#coordinator?.start();
      await Promise.all(this.tasks.map(async (task) => {
        try {
          await task.run();
        } catch (error) {
          if (!(error instanceof CancelledError)) {
            failure ??= { task, error };
            this.#coordinator?.taskFailed(task.name, error);
          }
          this.cancel();
        } finally {
          this.#role?.taskEnded();
        }
      }));
      // The final checkpoint commits what the sinks pre-committed at its barrier.
      const final = !failure && !this.#cancelled && this.#final
        ? await this.#final.completed
        : undefined;
      // In a worker, the main thread says when the final checkpoint's notifications were sent.
      if (this.#role && !failure && !this.#cancelled) await this.#role.tasksEnded();
      await Promise.all(this.#notifications);
      if (final?.manifest.stop) {
        this.#stopped = true;
        // Committed: restoring the savepoint must not commit (nor find) those files again.
        const manifest = this.config.checkpoint!.storage.markSavepointCommitted(final.path);
        this.#stopCommitted.resolve({ manifest, path: final.path });
      }
    } catch (error) {
      failure ??= { task: this.#opening, error };
    } finally {
      this.#stopCommitted.resolve(failure && { failed: failure.error });
      this.#coordinator?.stop();
      await this.#sources?.close();
      for (const t of this.tasks) {
        const errors = await t.close();
        // As in Flink, a close() that throws fails a task that ended well; after a failure
        // or a cancel its error would only hide the first one.
        if (errors.length > 0 && !failure && !this.#cancelled) {
          failure = { task: t, error: errors[0] };
        }
      }
      for (const p of this.placed) p.keyed?.dispose();
    }
    // A chain head counts what its task took from channels; chained operators count calls.
    const heads = new Map(this.tasks.map((t) => [t.operators[0], t]));
    const recordsIn: Record<string, number> = {};
    for (const p of this.placed) {
      const uid = uidOf(p.node);
      const n = heads.get(p.operator)?.metrics.recordsIn ?? p.counters.recordsIn;
      recordsIn[uid] = (recordsIn[uid] ?? 0) + n;
    }
    return this.#conclude(failure, start, recordsIn);
  }

  #conclude(
    failure: { task: Task | undefined; error: unknown } | undefined,
    start: number,
    recordsIn: Record<string, number>,
  ): JobResult {
    if (!failure && this.#failure) failure = { task: undefined, error: this.#failure };
    const cancelled = this.#cancelled || (this.#stopCancels && this.#stopped);
    if (!failure && cancelled && this.config.checkpoint && !this.#role) {
      const { config: cc, storage } = this.config.checkpoint;
      if (!cc.retainOnCancellation) storage.discardCheckpoints();
    }
    if (failure) {
      const cause = failure.error;
      const msg = thrownMessage(cause);
      // On the worker executor, also the worker (thread) that ran the task, as Flink names the
      // TaskManager.
      const where = failure.task
        ? ` in task ${failure.task.name}${this.#role ? ` on worker ${this.#role.worker}` : ""}`
        : "";
      // A worker's failure already says where it happened.
      if (cause instanceof JobFailedError) throw cause;
      throw new JobFailedError(`Job "${this.config.name}" failed${where}: ${msg}`, {
        cause,
        taskName: failure.task?.name,
        // The thread its task ran on (a worker's is set again where the main thread hears of it).
        taskManagerId: failure.task ? THREAD : undefined,
      });
    }
    return {
      name: this.config.name,
      durationMs: performance.now() - start,
      cancelled,
      recordsIn,
      ...(this.#startupMs !== undefined ? { startupMs: this.#startupMs } : {}),
      ...(this.#workers ? { workers: this.#workers.size } : {}),
      ...(this.#workers?.ringBytes ? { ringBytes: this.#workers.ringBytes } : {}),
    };
  }

  /** Stops every task; `run` then resolves with `cancelled: true` unless a task failed. */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#workers?.cancel();
    for (const c of this.#channels) c.close();
    for (const t of this.tasks) t.wake();
  }
}
