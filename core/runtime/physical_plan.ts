/**
 * The physical plan: what runs where, as plain data. Built once from the
 * logical graph (pure, deterministic for the same job script), it fixes each
 * operator's parallelism, the chains of operators that run in one task, every
 * task (a chain's subtask, with its key-group range) and every channel (one per
 * producer subtask and consumer subtask of a network edge). Executors
 * instantiate it; because it is structured-cloneable, a worker can receive it
 * and check that the graph it rebuilt from the job's script is the same one.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { shownValue } from "../_options.ts";
import {
  checkParallelism,
  type KeyGroupRange,
  keyGroupRangeForSubtask,
} from "../state/key_group.ts";
import { type Partitioning, type Transformation, uidOf } from "./graph.ts";
import { externalOf } from "../connectors/_external.ts";

/** How records move along a network edge, as data (a hash edge's key selector is code). */
export type PlanPartitioning = Partitioning["kind"];

/** One operator of the job. */
export interface PlanVertex {
  /** The transformation id (creation order). */
  readonly id: number;
  /** The uid its state is kept under. */
  readonly uid: string;
  /** Display name. */
  readonly name: string;
  /** `source`, `operator` or `sink`. */
  readonly kind: Transformation["kind"];
  /** Number of subtasks. */
  readonly parallelism: number;
  /** The key serializer's id on a keyed input, else null. */
  readonly keySerializer: string | null;
  /** The chain it runs in. */
  readonly chain: number;
  /** What its source reads or its sink writes outside the job (a path, a topic), if it says. */
  readonly external?: string;
}

/** An edge of the logical graph. */
export interface PlanEdge {
  /** Producer vertex id. */
  readonly from: number;
  /** Consumer vertex id. */
  readonly to: number;
  /** Which input of the consumer (0 or 1 for two-input operators). */
  readonly input: number;
  /** Only this side output of the producer flows along it. */
  readonly sideOutput: string | null;
  /** Chained edges call the consumer directly, in the same task. */
  readonly chained: boolean;
  /** How records are distributed over the consumer's subtasks. */
  readonly partitioning: PlanPartitioning;
}

/** Operators that run one after another in one task, linked by forward edges. */
export interface PlanChain {
  /** Index in `chains`. */
  readonly id: number;
  /** Vertex ids, the head first, then by id. */
  readonly vertices: readonly number[];
  /** Number of subtasks (the head's parallelism). */
  readonly parallelism: number;
}

/** One subtask of a chain: the unit an executor places. */
export interface PlanTask {
  /** Index in `tasks`. */
  readonly id: number;
  /** Display name: the chain's operators and `(i/n)`. */
  readonly name: string;
  /** The chain. */
  readonly chain: number;
  /** Subtask index. */
  readonly subtaskIndex: number;
  /** Key groups this subtask owns (every subtask has a range; used by keyed operators). */
  readonly keyGroupRange: KeyGroupRange;
  /** Channels read, in the input gate's order. */
  readonly inputs: readonly number[];
}

/** A channel from one producer subtask to one consumer subtask of a network edge. */
export interface PlanChannel {
  /** Index in `channels`. */
  readonly id: number;
  /** Index of the edge in `edges`. */
  readonly edge: number;
  /** The producing task. */
  readonly fromTask: number;
  /** The consuming task. */
  readonly toTask: number;
}

/**
 * A job's physical plan.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * env.fromElements("a", "b").map((w: string) => w.toUpperCase()).keyBy((w) => w).print();
 * const plan = env.getExecutionPlan("plan");
 * // The collection source runs on one subtask (as Flink's): a rebalance to the map's two.
 * assert.deepEqual(plan.chains.map((c) => c.parallelism), [1, 2, 2]); // source, map, print
 * assert.deepEqual(plan.edges.map((e) => e.partitioning), ["rebalance", "hash"]);
 * assert.equal(plan.tasks.length, 5);
 * assert.equal(plan.channels.length, 6); // 1 x 2, then the hash edge's 2 x 2
 * assert.deepEqual(structuredClone(plan), plan);
 * ```
 */
export interface PhysicalPlan {
  /** Format version of this structure. */
  readonly version: 1;
  /** The job's name. */
  readonly jobName: string;
  /** Number of key groups. */
  readonly maxParallelism: number;
  /** Operators, by transformation id. */
  readonly vertices: readonly PlanVertex[];
  /** Edges, in the order the consumers declared their inputs. */
  readonly edges: readonly PlanEdge[];
  /** Chains, in the order of their heads. */
  readonly chains: readonly PlanChain[];
  /** Tasks: each chain's subtasks in order. */
  readonly tasks: readonly PlanTask[];
  /** Network channels. */
  readonly channels: readonly PlanChannel[];
}

/** What the plan is built with. */
export interface PlanOptions {
  /** The job's name. */
  readonly jobName: string;
  /** Default parallelism. */
  readonly parallelism: number;
  /** Number of key groups. */
  readonly maxParallelism: number;
}

function resolvePartitioning(
  p: Partitioning | undefined,
  from: number,
  to: number,
  name: string,
): Partitioning["kind"] {
  if (p === undefined) return from === to ? "forward" : "rebalance";
  if (p.kind === "forward" && from !== to) {
    throw new ConfigError(
      `Operator "${name}": a forward edge needs equal parallelism on both sides (${from} → ${to})`,
    );
  }
  return p.kind;
}

/**
 * The consumer subtasks producer subtask `i` of a rescale edge sends to
 * (Flink's pointwise pattern): with more consumers, each producer gets its
 * own contiguous group of them; with fewer, each consumer reads from a
 * contiguous group of producers; with as many, `i` sends to `i`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rescaleTargets } from "./physical_plan.ts";
 * // 2 producers, 4 consumers: each producer feeds two of them, its own.
 * assert.deepEqual([0, 1].map((i) => rescaleTargets(i, 2, 4)), [[0, 1], [2, 3]]);
 * // 4 producers, 2 consumers: each consumer reads from two of them.
 * assert.deepEqual([0, 1, 2, 3].map((i) => rescaleTargets(i, 4, 2)), [[0], [0], [1], [1]]);
 * // 3 producers, 2 consumers (uneven): consumer 0 reads producer 0, consumer 1 producers 1, 2.
 * assert.deepEqual([0, 1, 2].map((i) => rescaleTargets(i, 3, 2)), [[0], [1], [1]]);
 * // 2 producers, 3 consumers (uneven): producer 0 feeds consumers 0, 1 and producer 1 feeds 2.
 * assert.deepEqual([0, 1].map((i) => rescaleTargets(i, 2, 3)), [[0, 1], [2]]);
 * ```
 */
export function rescaleTargets(i: number, from: number, to: number): number[] {
  if (from <= to) {
    // Producer i feeds [ceil(i * to / from), ceil((i + 1) * to / from)), as Flink's
    // EdgeManagerBuildUtil.connectPointwise: with 2 -> 3, producer 0 feeds 0-1 and 1 feeds 2.
    const start = Math.ceil((i * to) / from);
    const end = Math.ceil(((i + 1) * to) / from);
    return Array.from({ length: end - start }, (_, k) => start + k);
  }
  // Consumer j reads producers [floor(j * from / to), floor((j + 1) * from / to)).
  for (let j = 0; j < to; j++) {
    if (i < Math.floor(((j + 1) * from) / to)) return [j];
  }
  return [to - 1];
}

/**
 * Builds the physical plan of `nodes` (pure). Throws a ConfigError for a
 * duplicate uid, a parallelism out of range, or a forward edge between
 * different parallelisms.
 */
export function buildPhysicalPlan(
  nodes: readonly Transformation[],
  options: PlanOptions,
): PhysicalPlan {
  if (nodes.length === 0) throw new ConfigError("The job has no operators: add a source");
  const { maxParallelism } = options;
  const uids = new Map<string, Transformation>();
  const parallelism = new Map<number, number>();
  for (const n of nodes) {
    // An empty or non-string uid (unchecked code) would name the operator's state in every
    // snapshot with something no later job can give again.
    if (n.uid !== undefined && (typeof n.uid !== "string" || n.uid === "")) {
      throw new ConfigError(
        `Operator "${n.name}": a uid must be a non-empty string, got ${shownValue(n.uid)}`,
      );
    }
    const uid = uidOf(n);
    if (uids.has(uid)) {
      throw new ConfigError(
        `Duplicate operator uid "${uid}" (operators "${uids.get(uid)!.name}" and "${n.name}")`,
      );
    }
    uids.set(uid, n);
    const p = n.chainedTo !== undefined ? parallelism.get(n.chainedTo.id)! : n.parallelism ??
      (n.parallelismOfInput && n.inputs[0] !== undefined
        ? parallelism.get(n.inputs[0].source.id)!
        : Math.min(options.parallelism, n.source?.maxParallelism ?? Infinity));
    checkParallelism(p, maxParallelism, n.name);
    if (n.source?.maxParallelism !== undefined && p > n.source.maxParallelism) {
      throw new ConfigError(
        `Source "${n.name}" supports parallelism up to ${n.source.maxParallelism}, got ${p}`,
      );
    }
    parallelism.set(n.id, p);
  }
  const par = (n: Transformation) => parallelism.get(n.id)!;

  const edges: PlanEdge[] = [];
  const edgeIndex = new Map<Transformation["inputs"][number], number>();
  for (const n of nodes) {
    for (const e of n.inputs) {
      const partitioning = resolvePartitioning(e.partitioning, par(e.source), par(n), n.name);
      const chained = n.chainedTo !== undefined || (n.inputs.length === 1 && n.chainable &&
        e.source.kind !== "sink" && e.source.chainOutputs !== false && partitioning === "forward");
      edgeIndex.set(e, edges.length);
      edges.push({
        from: e.source.id,
        to: n.id,
        input: e.input,
        sideOutput: e.sideOutput ?? null,
        chained,
        partitioning,
      });
    }
  }
  const chainedIn = (n: Transformation) =>
    n.inputs.length === 1 && edges[edgeIndex.get(n.inputs[0]!)!]!.chained;

  // Chains: each head and what is chained behind it, transitively.
  const consumers = new Map<number, Transformation[]>();
  for (const n of nodes) {
    for (const e of n.inputs) {
      consumers.set(e.source.id, [...(consumers.get(e.source.id) ?? []), n]);
    }
  }
  const chainOf = new Map<number, number>();
  const chains: PlanChain[] = [];
  for (const head of nodes) {
    if (chainedIn(head)) continue;
    const members: Transformation[] = [head];
    for (let k = 0; k < members.length; k++) {
      for (const c of consumers.get(members[k]!.id) ?? []) {
        if (chainedIn(c) && !members.includes(c)) members.push(c);
      }
    }
    members.sort((a, b) => a.id - b.id);
    const id = chains.length;
    for (const m of members) chainOf.set(m.id, id);
    chains.push({ id, vertices: members.map((m) => m.id), parallelism: par(head) });
  }

  const byId = new Map(nodes.map((n) => [n.id, n]));
  const tasks: PlanTask[] = [];
  const taskOf = new Map<string, number>(); // `${chain}/${subtask}`
  for (const chain of chains) {
    const names = chain.vertices.map((v) => byId.get(v)!.name).join(" -> ");
    for (let i = 0; i < chain.parallelism; i++) {
      taskOf.set(`${chain.id}/${i}`, tasks.length);
      tasks.push({
        id: tasks.length,
        name: `${names} (${i + 1}/${chain.parallelism})`,
        chain: chain.id,
        subtaskIndex: i,
        keyGroupRange: keyGroupRangeForSubtask(maxParallelism, chain.parallelism, i),
        inputs: [],
      });
    }
  }

  // Channels, created in the order the consumers' input gates list them.
  const channels: PlanChannel[] = [];
  edges.forEach((e, edge) => {
    if (e.chained) return;
    const pFrom = par(byId.get(e.from)!), pTo = par(byId.get(e.to)!);
    for (let i = 0; i < pFrom; i++) {
      const to = e.partitioning === "forward"
        ? [i]
        : e.partitioning === "global"
        ? [0]
        : e.partitioning === "rescale"
        ? rescaleTargets(i, pFrom, pTo)
        : [...Array(pTo).keys()];
      for (const j of to) {
        const toTask = taskOf.get(`${chainOf.get(e.to)}/${j}`)!;
        (tasks[toTask]!.inputs as number[]).push(channels.length);
        channels.push({
          id: channels.length,
          edge,
          fromTask: taskOf.get(`${chainOf.get(e.from)}/${i}`)!,
          toTask,
        });
      }
    }
  });

  const vertices: PlanVertex[] = nodes.map((n) => ({
    id: n.id,
    uid: uidOf(n),
    name: n.name,
    kind: n.kind,
    parallelism: par(n),
    keySerializer: n.keySerializer?.id ?? null,
    chain: chainOf.get(n.id)!,
    ...external(n),
  }));
  return {
    version: 1,
    jobName: options.jobName,
    maxParallelism,
    vertices,
    edges,
    chains,
    tasks,
    channels,
  };
}

/**
 * The plan as readable text: one line per chain with its operators, one per
 * network edge with its partitioning and channel count.
 */
export function formatPhysicalPlan(plan: PhysicalPlan): string {
  const v = (id: number) => plan.vertices.find((x) => x.id === id)!;
  const lines = [`Job "${plan.jobName}" (max parallelism ${plan.maxParallelism})`];
  for (const c of plan.chains) {
    const ops = c.vertices.map((id) => {
      const x = v(id);
      return `${x.name} [${x.uid}${x.keySerializer ? `, keyed by ${x.keySerializer}` : ""}]`;
    });
    lines.push(`  chain ${c.id} x${c.parallelism}: ${ops.join(" -> ")}`);
  }
  plan.edges.forEach((e, i) => {
    if (e.chained) return;
    const n = plan.channels.filter((c) => c.edge === i).length;
    const side = e.sideOutput === null ? "" : ` (side output "${e.sideOutput}")`;
    lines.push(
      `  edge ${v(e.from).name} -> ${v(e.to).name}${side}: ${e.partitioning}, ${n} channel(s)`,
    );
  });
  return lines.join("\n");
}

function external(n: Transformation): { external?: string } {
  const said = externalOf(n.source ?? n.sink);
  return said === undefined ? {} : { external: said };
}
