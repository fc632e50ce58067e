/**
 * Turns the logical graph into tasks and runs them: parallelism per operator,
 * chaining of forward edges, one bounded channel per producer/consumer pair of
 * a network edge, keyed backends and timer services per keyed subtask.
 *
 * @module
 */
import { ConfigError, JobFailedError, StateError } from "../errors.ts";
import type { KeyedStateBackend, StateBackend } from "../state/backend.ts";
import { checkParallelism, keyGroupRangeForSubtask } from "../state/key_group.ts";
import { OperatorStateStore } from "../state/operator_state.ts";
import type { Serializer } from "../state/serializer.ts";
import { Channel, InputGate } from "./channel.ts";
import type { Clock } from "./clock.ts";
import { type Partitioning, type Transformation, uidOf } from "./graph.ts";
import type { OperatorContext, StreamOperator } from "./operator.ts";
import { ChainedTarget, ChannelWriter, FanOutput, type Target } from "./outputs.ts";
import { CancelledError, SourceOperator, Task, type TaskHost } from "./task.ts";
import { InternalTimerService, type TimerTarget } from "./timers.ts";

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
}

/** What `execute` returns. */
export interface JobResult {
  /** The job's name. */
  readonly name: string;
  /** Wall time in ms. */
  readonly durationMs: number;
  /** Whether the job was cancelled before its input ended. */
  readonly cancelled: boolean;
  /** Records each operator (by uid) received, summed over subtasks. */
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
    this.#plan(nodes);
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
    for (const n of nodes) {
      const ops: StreamOperator[] = [];
      for (let i = 0; i < par(n); i++) {
        const op = n.kind === "source" ? new SourceOperator() : n.createOperator!();
        ops.push(op);
      }
      instances.set(n.id, ops);
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
            target = new ChainedTarget(instances.get(n.id)![i]!, e.input);
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
          const placed: PlacedOperator = {
            node: n,
            subtaskIndex: i,
            operator: ops[k]!,
            keyed: undefined,
          };
          this.placed.push(placed);
          ops[k]!.setup(this.#context(placed, task), new FanOutput(t.main, t.side));
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
      placed.keyed ??= config.stateBackend.createKeyedBackend({
        operatorUid: uid,
        subtaskIndex,
        keySerializer,
        maxParallelism: config.maxParallelism,
        keyGroupRange: keyGroupRangeForSubtask(config.maxParallelism, parallelism, subtaskIndex),
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
      operatorState: new OperatorStateStore(uid),
      isRestored: false,
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
      await Promise.all(this.tasks.map(async (task) => {
        try {
          await task.run();
        } catch (error) {
          if (!(error instanceof CancelledError)) failure ??= { task, error };
          this.cancel();
        }
      }));
    } catch (error) {
      failure ??= { task: undefined, error };
    } finally {
      for (const t of this.tasks) await t.close();
      for (const p of this.placed) p.keyed?.dispose();
    }
    if (failure) {
      const cause = failure.error;
      const msg = cause instanceof Error ? cause.message : String(cause);
      const where = failure.task ? ` in task ${failure.task.name}` : "";
      throw new JobFailedError(`Job "${this.config.name}" failed${where}: ${msg}`, { cause });
    }
    const recordsIn: Record<string, number> = {};
    for (const t of this.tasks) {
      const head = this.placed.find((p) => p.operator === t.operators[0])!;
      const uid = uidOf(head.node);
      recordsIn[uid] = (recordsIn[uid] ?? 0) + t.metrics.recordsIn;
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
