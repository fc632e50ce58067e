/**
 * The logical dataflow graph the DataStream API builds: transformations and
 * the edges between them. The runtime turns it into tasks.
 *
 * @module
 */
import type { SinkFunction } from "../connectors/sink.ts";
import type { Source } from "../connectors/source.ts";
import type { Serializer } from "../state/serializer.ts";
import type { StreamOperator } from "./operator.ts";
import type { KeySelector } from "./operators.ts";

/** How records move along an edge. */
export type Partitioning =
  | { readonly kind: "forward" }
  | { readonly kind: "rebalance" }
  /** Round-robin over a subset of the consumer's subtasks (see `rescaleTargets`). */
  | { readonly kind: "rescale" }
  /** A uniformly random subtask per record. */
  | { readonly kind: "shuffle" }
  | {
    readonly kind: "custom";
    /** Picks the consumer subtask of a key: an integer in `[0, numPartitions)`. */
    readonly partitioner: (key: unknown, numPartitions: number) => number;
    readonly keySelector: KeySelector;
  }
  | { readonly kind: "broadcast" }
  | { readonly kind: "global" }
  | {
    readonly kind: "hash";
    readonly keySelector: KeySelector;
    readonly keySerializer: Serializer<unknown>;
  };

/** An edge into a transformation. */
export interface Edge {
  /** The producer. */
  readonly source: Transformation;
  /** How records are distributed; `undefined` = forward when parallelisms match, else rebalance. */
  readonly partitioning: Partitioning | undefined;
  /** Which input of a two-input operator (0 or 1). */
  readonly input: number;
  /** Only this side output of the producer flows along the edge. */
  readonly sideOutput: string | undefined;
}

/** A node of the logical graph. */
export interface Transformation {
  /** Creation order; stable for a job built the same way. */
  readonly id: number;
  /** Display name. */
  name: string;
  /** User-set uid, if any. */
  uid: string | undefined;
  /** Parallelism, or `undefined` for the job default. */
  parallelism: number | undefined;
  /** `source`, `operator` or `sink`. */
  readonly kind: "source" | "operator" | "sink";
  /** Inputs. */
  readonly inputs: Edge[];
  /** For sources. */
  readonly source?: Source<unknown>;
  /** For operators and sinks. */
  readonly createOperator?: () => StreamOperator;
  /** Whether keyed state is available (the input is a keyed stream). */
  readonly keySerializer?: Serializer<unknown>;
  /** For sinks: the user's sink function (the worker executor streams a `CollectSink` back). */
  readonly sink?: SinkFunction<unknown>;
  /**
   * Serializer of the records this transformation emits, where they cross
   * workers (`returns`); the plain-value serializer otherwise.
   */
  outputSerializer?: Serializer<unknown>;
  /** Per side output tag id, the serializer of its records (`getSideOutput(tag).returns`). */
  sideOutputSerializers?: Map<string, Serializer<unknown>>;
  /** Chaining with the producer is allowed. */
  chainable: boolean;
  /** `false`: consumers may not chain to this operator (`disableChaining`). */
  chainOutputs?: boolean;
  /**
   * The source whose subtask's reader this operator reads (`fromSource`'s
   * watermarks): it always runs chained to it, at its parallelism, and setting
   * this operator's parallelism sets the source's.
   */
  readonly chainedTo?: Transformation;
  /**
   * Runs at its input's parallelism when none is set (`assignTimestampsAndWatermarks`, as
   * Flink's), resolved with the plan: a source's is known only then (one capped by its
   * `maxParallelism`, such as a `TestSource`'s 1).
   */
  parallelismOfInput?: boolean;
  /**
   * What makes this operator run on one subtask (`"windowAll"`), if anything: as
   * Flink's non-parallel operators, its parallelism is 1 and cannot be set higher.
   */
  nonParallel?: string;
}

/**
 * The serializer of what `t` emits to its main output (`sideOutput` null or undefined) or to a
 * side output: the one `returns` gave that stream, else none (the plain-value serializer).
 */
export function outputSerializerOf(
  t: Transformation,
  sideOutput: string | null | undefined,
): Serializer<unknown> | undefined {
  return sideOutput == null ? t.outputSerializer : t.sideOutputSerializers?.get(sideOutput);
}

/**
 * The uid of a transformation: the user's, or one generated from its kind and
 * its position in the job (`operator-3`), never from its name, so renaming an
 * operator (or a default name changing) keeps its state, as Flink's generated
 * ids depend on the job's structure only.
 */
export function uidOf(t: Transformation): string {
  return t.uid ?? `${t.kind}-${t.id}`;
}

/**
 * The uid earlier weir versions generated for the transformation at position
 * `id` named `name` (`count-words-3`): snapshots they wrote keep state under it,
 * so a restore maps it onto {@linkcode uidOf}'s (see `adoptNameBasedUids`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameBasedUid } from "./graph.ts";
 * assert.equal(nameBasedUid("Count words", 3), "count-words-3");
 * assert.equal(nameBasedUid("()", 3), undefined);
 * ```
 */
export function nameBasedUid(name: string, id: number): string | undefined {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  // An empty slug gave `${kind}-${id}`: the uid generated now.
  return slug ? `${slug}-${id}` : undefined;
}
