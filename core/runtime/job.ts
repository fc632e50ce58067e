/**
 * Turns the logical graph into tasks and runs them: parallelism per operator,
 * chaining of forward edges, one bounded channel per producer/consumer pair of
 * a network edge, keyed backends and timer services per keyed subtask.
 *
 * @module
 */
import { ConfigError, JobFailedError, StateError } from "../errors.ts";
import {
  type CheckpointConfig,
  CheckpointCoordinator,
  type CompletedCheckpoint,
  type OperatorSubtaskSnapshot,
} from "../checkpoint/coordinator.ts";
import { type OperatorRestore, planRestore } from "../checkpoint/restore.ts";
import type { CheckpointStorage, LoadedManifest } from "../checkpoint/storage.ts";
import type { KeyedStateBackend, StateBackend } from "../state/backend.ts";
import { checkParallelism, keyGroupRangeForSubtask } from "../state/key_group.ts";
import { OperatorStateStore } from "../state/operator_state.ts";
import type { Serializer } from "../state/serializer.ts";
import { Channel, InputGate } from "./channel.ts";
import type { Clock } from "./clock.ts";
import { type Partitioning, type Transformation, uidOf } from "./graph.ts";
import type { OperatorContext, StreamOperator } from "./operator.ts";
import {
  ChainedTarget,
  ChannelWriter,
  FanOutput,
  newCounters,
  type OperatorCounters,
  type Target,
} from "./outputs.ts";
import type { BarrierMessage, BarrierOptions } from "./messages.ts";
import { CancelledError, SourceOperator, Task, type TaskHost } from "./task.ts";
import { InternalTimerService, type TimerTarget } from "./timers.ts";
import { MessageKind } from "./messages.ts";
import { DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";

/** What a job runs with. */
export interface JobConfig {
  /** Job name. */
  readonly name: string;
  /** Default parallelism. */
  readonly parallelism: number;
  /** Number of key groups. */
  readonly maxParallelism: number;
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
  /** Restore even when the snapshot holds state of operators the job lacks. */
  readonly allowNonRestoredState?: boolean;
  /** Where the job reports what it does (restores, failed checkpoints). */
  readonly log?: (line: string) => void;
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
 * assert.equal(typeof result.recordsIn, "object");
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
}

function resolvePartitioning(
  p: Partitioning | undefined,
  from: number,
  to: number,
  name: string,
): Partitioning {
  if (p === undefined) return from === to ? { kind: "forward" } : { kind: "rebalance" };
  if (p.kind === "forward" && from !== to) {
    throw new ConfigError(
      `Operator "${name}": a forward edge needs equal parallelism on both sides (${from} → ${to})`,
    );
  }
  return p;
}

/** A job built from a graph, ready to run once. */
export class Job implements TaskHost {
  /** The config. */
  readonly config: JobConfig;
  /** Tasks, sources first. */
  readonly tasks: Task[] = [];
  /** Every operator subtask. */
  readonly placed: PlacedOperator[] = [];
  /** Parallelism chosen per transformation id. */
  readonly parallelism: Map<number, number> = new Map();
  #cancelled = false;
  #channels: Channel[] = [];
  #restorePlan: Map<string, OperatorRestore[]> | undefined;
  #byTask = new Map<Task, PlacedOperator[]>();
  #coordinator: CheckpointCoordinator | undefined;
  #sourceTasks: Task[] = [];
  #endedSources = 0;
  #final: FinalCheckpoint | undefined;
  #failure: Error | undefined;
  #stopSavepoint: string | undefined;
  #notifications: Promise<void>[] = [];

  /** Plans the job. */
  constructor(nodes: readonly Transformation[], config: JobConfig) {
    this.config = config;
    if (nodes.length === 0) throw new ConfigError("The job has no operators: add a source");
    const uids = new Map<string, Transformation>();
    for (const n of nodes) {
      const uid = uidOf(n);
      if (uids.has(uid)) {
        throw new ConfigError(
          `Duplicate operator uid "${uid}" (operators "${uids.get(uid)!.name}" and "${n.name}")`,
        );
      }
      uids.set(uid, n);
      const p = n.parallelism ??
        Math.min(config.parallelism, n.source?.maxParallelism ?? Infinity);
      checkParallelism(p, config.maxParallelism, n.name);
      if (n.source?.maxParallelism !== undefined && p > n.source.maxParallelism) {
        throw new ConfigError(
          `Source "${n.name}" supports parallelism up to ${n.source.maxParallelism}, got ${p}`,
        );
      }
      this.parallelism.set(n.id, p);
    }
    if (config.restore) {
      const ops = nodes.flatMap((n) => {
        const p = this.parallelism.get(n.id)!;
        return Array.from({ length: p }, (_, i) => ({
          uid: uidOf(n),
          parallelism: p,
          subtaskIndex: i,
          keyGroupRange: keyGroupRangeForSubtask(config.maxParallelism, p, i),
        }));
      });
      this.#restorePlan = planRestore(
        config.restore.manifest,
        config.maxParallelism,
        ops,
        config.allowNonRestoredState ?? false,
      );
    }
    this.#plan(nodes);
    this.#sourceTasks = this.tasks.filter((t) => t.gate === null);
    if (config.checkpoint) {
      const { config: cc, storage } = config.checkpoint;
      const lastId = Math.max(
        config.restore?.manifest.checkpointId ?? 0,
        ...storage.completedIds(),
      );
      this.#coordinator = new CheckpointCoordinator(
        cc,
        storage,
        {
          taskCount: this.tasks.length,
          jobName: config.name,
          stateBackend: config.stateBackend.name,
          maxParallelism: config.maxParallelism,
          operatorInfo: (uid) => this.#operatorInfo(uid),
          injectBarriers: (id, options) => this.#injectBarriers(id, options),
          notifyComplete: (id) => this.#notifyComplete(id),
          liveSegments: () => this.#liveSegments(),
          fail: (e) => this.#fail(e),
        },
        lastId + 1,
        config.log ?? (() => {}),
        config.restore?.manifest,
      );
    }
  }

  /** The checkpoint coordinator, when checkpointing is on. */
  get coordinator(): CheckpointCoordinator | undefined {
    return this.#coordinator;
  }

  #operatorInfo(
    uid: string,
  ): { name: string; parallelism: number; source: boolean; keySerializer?: string } {
    const p = this.placed.find((x) => uidOf(x.node) === uid)!;
    return {
      name: p.node.name,
      parallelism: this.parallelism.get(p.node.id)!,
      source: p.node.kind === "source",
      ...(p.node.keySerializer ? { keySerializer: p.node.keySerializer.id } : {}),
    };
  }

  #injectBarriers(checkpointId: number, options: BarrierOptions): void {
    const barrier: BarrierMessage = { kind: MessageKind.Barrier, checkpointId, options };
    for (const t of this.#sourceTasks) t.postMail(() => t.injectBarrier(barrier));
  }

  #notifyComplete(id: number): void {
    for (const t of this.tasks) {
      const notify = async () => {
        for (const op of t.operators) await op.notifyCheckpointComplete(id);
      };
      if (t.ended) this.#notifications.push(notify());
      else t.postMail(notify);
    }
  }

  #liveSegments(): Set<string> {
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

  /** @internal Snapshots the operators of `task` (synchronous part) and acknowledges. */
  snapshotTask(task: Task, barrier: BarrierMessage, alignmentMs: number): void {
    const coordinator = this.#coordinator;
    if (!coordinator) return;
    const id = barrier.checkpointId;
    const start = performance.now();
    const storage = this.config.checkpoint!.storage.segmentStorage();
    const parts = this.#byTask.get(task)!.map((p) => {
      p.operator.snapshotState(id);
      return {
        uid: uidOf(p.node),
        subtaskIndex: p.subtaskIndex,
        operatorState: p.operatorState.snapshot(),
        keyed: p.keyed?.snapshot(id, storage),
      };
    });
    const syncMs = performance.now() - start;
    const snapshots = Promise.all(parts.map(async (s): Promise<OperatorSubtaskSnapshot> => ({
      uid: s.uid,
      subtaskIndex: s.subtaskIndex,
      operatorState: s.operatorState,
      keyed: await s.keyed,
    })));
    coordinator.acknowledge(this.tasks.indexOf(task), id, {
      task: task.name,
      alignmentMs,
      syncMs,
      snapshots,
    });
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

  sourceEnded(_task: Task): Promise<void> {
    const coordinator = this.#coordinator;
    if (!coordinator) return Promise.resolve();
    if (++this.#endedSources === this.#sourceTasks.length) {
      this.#final = coordinator.finalCheckpoint(this.#stopSavepoint);
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

  /**
   * Stops the job with a savepoint: sources stop reading, the pipeline drains,
   * a savepoint is taken and committed, and the job ends. Resolves with it.
   */
  stopWithSavepoint(name = `savepoint-${Date.now()}`): Promise<CompletedCheckpoint> {
    if (!this.#coordinator) {
      return Promise.reject(
        new ConfigError("stop-with-savepoint needs checkpointing (--checkpoint-dir)"),
      );
    }
    this.#stopSavepoint ??= name;
    for (const t of this.#sourceTasks) t.wake();
    return this.#finalPromise.then((f) => f.completed);
  }

  /** Whether the job is being cancelled. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  #plan(nodes: readonly Transformation[]): void {
    const par = (n: Transformation) => this.parallelism.get(n.id)!;
    const consumers = new Map<number, { node: Transformation; edgeIndex: number }[]>();
    for (const n of nodes) {
      n.inputs.forEach((e, i) => {
        const list = consumers.get(e.source.id) ?? [];
        list.push({ node: n, edgeIndex: i });
        consumers.set(e.source.id, list);
      });
    }
    const chainedToInput = (n: Transformation): boolean => {
      if (n.inputs.length !== 1 || !n.chainable) return false;
      const e = n.inputs[0]!;
      if (e.source.kind === "sink") return false;
      const p = resolvePartitioning(e.partitioning, par(e.source), par(n), n.name);
      return p.kind === "forward";
    };

    // Operator instances per node and subtask.
    const instances = new Map<number, StreamOperator[]>();
    const counters = new Map<number, OperatorCounters[]>();
    for (const n of nodes) {
      const ops: StreamOperator[] = [];
      for (let i = 0; i < par(n); i++) {
        const op = n.kind === "source" ? new SourceOperator() : n.createOperator!();
        ops.push(op);
      }
      instances.set(n.id, ops);
      counters.set(n.id, ops.map(() => newCounters()));
    }

    // Network edges: channels and writers.
    const gates = new Map<string, { channels: Channel[]; inputOf: number[] }>();
    const gateOf = (n: Transformation, i: number) => {
      const k = `${n.id}/${i}`;
      let g = gates.get(k);
      if (!g) gates.set(k, g = { channels: [], inputOf: [] });
      return g;
    };
    const targets = new Map<string, { main: Target[]; side: Map<string, Target[]> }>();
    const targetsOf = (n: Transformation, i: number) => {
      const k = `${n.id}/${i}`;
      let t = targets.get(k);
      if (!t) targets.set(k, t = { main: [], side: new Map() });
      return t;
    };
    const writersOf = new Map<string, ChannelWriter[]>();
    for (const n of nodes) {
      for (const e of n.inputs) {
        const from = e.source;
        const pFrom = par(from), pTo = par(n);
        const partitioning = resolvePartitioning(e.partitioning, pFrom, pTo, n.name);
        const chained = chainedToInput(n);
        for (let i = 0; i < pFrom; i++) {
          let target: Target;
          if (chained) {
            target = new ChainedTarget(
              instances.get(n.id)![i]!,
              e.input,
              counters.get(n.id)![i]!,
            );
          } else {
            const chans: Channel[] = [];
            const to = partitioning.kind === "forward"
              ? [i]
              : partitioning.kind === "global"
              ? [0]
              : [...Array(pTo).keys()];
            for (const j of to) {
              const c = new Channel(this.config.channelCapacity);
              this.#channels.push(c);
              chans.push(c);
              const g = gateOf(n, j);
              g.channels.push(c);
              g.inputOf.push(e.input);
            }
            const w = new ChannelWriter(chans, partitioning, i, this.config.maxParallelism);
            target = w;
            const k = `${from.id}/${i}`;
            writersOf.set(k, [...(writersOf.get(k) ?? []), w]);
          }
          const t = targetsOf(from, i);
          if (e.sideOutput === undefined) t.main.push(target);
          else t.side.set(e.sideOutput, [...(t.side.get(e.sideOutput) ?? []), target]);
        }
      }
    }

    // Tasks: each chain head and what is chained behind it.
    for (const head of nodes) {
      if (chainedToInput(head)) continue;
      const chain: Transformation[] = [head];
      for (let k = 0; k < chain.length; k++) {
        for (const c of consumers.get(chain[k]!.id) ?? []) {
          if (chainedToInput(c.node) && !chain.includes(c.node)) chain.push(c.node);
        }
      }
      chain.sort((a, b) => a.id - b.id);
      for (let i = 0; i < par(head); i++) {
        const ops = chain.map((n) => instances.get(n.id)![i]!);
        const writers = chain.flatMap((n) => writersOf.get(`${n.id}/${i}`) ?? []);
        const g = gates.get(`${head.id}/${i}`);
        const gate = head.kind === "source"
          ? null
          : new InputGate(g?.channels ?? [], g?.inputOf ?? []);
        const task = new Task(
          `${chain.map((n) => n.name).join(" -> ")} (${i + 1}/${par(head)})`,
          ops,
          writers,
          gate,
          this,
        );
        chain.forEach((n, k) => {
          const t = targetsOf(n, i);
          const restored = this.#restorePlan?.get(uidOf(n))?.[i];
          const placed: PlacedOperator = {
            node: n,
            subtaskIndex: i,
            operator: ops[k]!,
            keyed: undefined,
            operatorState: new OperatorStateStore(uidOf(n), restored?.operatorState),
            counters: counters.get(n.id)![i]!,
          };
          this.placed.push(placed);
          this.#byTask.set(task, [...(this.#byTask.get(task) ?? []), placed]);
          ops[k]!.setup(
            this.#context(placed, task),
            new FanOutput(t.main, t.side, placed.counters),
          );
        });
        this.tasks.push(task);
      }
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
        p.operator.reader = p.node.source!.createReader({
          subtaskIndex: p.subtaskIndex,
          parallelism: this.parallelism.get(p.node.id)!,
          now: () => this.config.clock.now(),
        });
      }
    }
    for (const t of this.tasks) await t.open();
  }

  /** Runs every task to the end; on the first failure cancels the rest and throws. */
  async run(): Promise<JobResult> {
    const start = performance.now();
    let failure: { task: Task | undefined; error: unknown } | undefined;
    try {
      await this.open();
      this.#coordinator?.start();
      await Promise.all(this.tasks.map(async (task) => {
        try {
          await task.run();
        } catch (error) {
          if (!(error instanceof CancelledError)) failure ??= { task, error };
          this.cancel();
        }
      }));
      // The final checkpoint commits what the sinks pre-committed at its barrier.
      if (!failure && !this.#cancelled && this.#final) await this.#final.completed;
      await Promise.all(this.#notifications);
    } catch (error) {
      failure ??= { task: undefined, error };
    } finally {
      this.#coordinator?.stop();
      for (const t of this.tasks) await t.close();
      for (const p of this.placed) p.keyed?.dispose();
    }
    if (!failure && this.#failure) failure = { task: undefined, error: this.#failure };
    if (!failure && this.#cancelled && this.config.checkpoint) {
      const { config: cc, storage } = this.config.checkpoint;
      if (!cc.retainOnCancellation) storage.discardCheckpoints();
    }
    if (failure) {
      const cause = failure.error;
      const msg = cause instanceof Error ? cause.message : String(cause);
      const where = failure.task ? ` in task ${failure.task.name}` : "";
      throw new JobFailedError(`Job "${this.config.name}" failed${where}: ${msg}`, { cause });
    }
    // A chain head counts what its task took from channels; chained operators count calls.
    const heads = new Map(this.tasks.map((t) => [t.operators[0], t]));
    const recordsIn: Record<string, number> = {};
    for (const p of this.placed) {
      const uid = uidOf(p.node);
      const n = heads.get(p.operator)?.metrics.recordsIn ?? p.counters.recordsIn;
      recordsIn[uid] = (recordsIn[uid] ?? 0) + n;
    }
    return {
      name: this.config.name,
      durationMs: performance.now() - start,
      cancelled: this.#cancelled,
      recordsIn,
    };
  }

  /** Stops every task; `run` then resolves with `cancelled: true` unless a task failed. */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    for (const c of this.#channels) c.close();
    for (const t of this.tasks) t.wake();
  }
}
