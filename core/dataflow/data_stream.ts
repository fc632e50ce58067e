/**
 * DataStream, KeyedStream, ConnectedStreams and BroadcastStream: the fluent
 * API that builds the logical graph, as in Flink.
 *
 * @module
 */
import { ownedCopy } from "../state/_owned_copy.ts";
import {
  describeValue,
  promiseReturnedError,
  returnsRecords,
  undefinedMappedError,
  undefinedReturnedError,
  valueReturnedError,
} from "../runtime/_sync_call.ts";
import { ConfigError } from "../errors.ts";
import { checkUserFunction } from "./_user_function.ts";
import { checkOptionNames, shownValue } from "../_options.ts";
import { checkSerializer } from "../state/_check_serializer.ts";
import { fieldAggregation, type FieldAggregationKind } from "./_field_aggregation.ts";
import type { SinkFunction } from "../connectors/sink.ts";
import { PrintSink } from "../connectors/collect_sink.ts";
import type { MapStateDescriptor } from "../state/descriptors.ts";
import { ValueStateDescriptor } from "../state/descriptors.ts";
import type { Serializer } from "../state/serializer.ts";
import { Serializers } from "../state/serializer.ts";
import { plainStateSerializer } from "../state/plain_serializer.ts";
import type { ValueState } from "../state/state.ts";
import { resolveSchemaCompatibility } from "../state/serializer_schema.ts";
import {
  type Edge,
  outputSerializerOf,
  type Partitioning,
  type Transformation,
} from "../runtime/graph.ts";
import type { StreamOperator } from "../runtime/operator.ts";
import {
  BroadcastProcessOperator,
  checkKeySelector,
  CoProcessOperator,
  FilterOperator,
  FlatMapOperator,
  type KeySelector,
  MapOperator,
  ProcessOperator,
  SinkOperator,
} from "../runtime/operators.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import { TimestampsAndWatermarksOperator } from "../time/timestamps_and_watermarks_operator.ts";
import { checkWatermarkStrategy, type WatermarkStrategy } from "../time/watermark_strategy.ts";
import { GlobalWindows, type WindowAssigner } from "../time/window_assigners.ts";
import { CountTrigger, PurgingTrigger } from "../time/triggers.ts";
import { CountEvictor } from "../time/evictors.ts";
import type { GlobalWindow, Window } from "../time/window.ts";
import { AllWindowedStream, WindowedStream } from "../time/windowed_stream.ts";
import { CoGroupedStreams } from "../time/co_grouped_streams.ts";
import { JoinedStreams } from "../time/joined_streams.ts";
import { IntervalJoin } from "../time/interval_join.ts";
import { RegularJoin } from "./regular_join.ts";
import type {
  BroadcastProcessFunction,
  CoFlatMapFunction,
  Collector,
  CoMapFunction,
  CoProcessFunction,
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  MapFunction,
  ProcessFunction,
  RuntimeContext,
  SyncVoid,
} from "./functions.ts";

/**
 * Builds graph nodes; implemented by the environment.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type GraphBuilder, StreamEnvironment } from "@weir/weir";
 * // Streams add their operators to the graph of the environment that made them.
 * const env = StreamEnvironment.create();
 * const stream = env.fromElements(1, 2);
 * const graph: GraphBuilder = stream.env;
 * assert.equal(graph, env);
 * ```
 */
export interface GraphBuilder {
  /** Adds a node and returns it. */
  addNode(node: Omit<Transformation, "id" | "uid" | "parallelism" | "chainable">): Transformation;
  /** Runs the job built so far and resolves with `stream`'s records (see `DataStream`). */
  executeAndCollect<T>(stream: DataStream<T>, options?: CollectOptions): Promise<T[]>;
}

/**
 * Options of {@linkcode DataStream.executeAndCollect}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CollectOptions, StreamEnvironment } from "@weir/weir";
 * const options: CollectOptions = { jobName: "first two", limit: 2 };
 * const env = StreamEnvironment.create();
 * const first = await env.fromElements(5, 6, 7).executeAndCollect(options);
 * assert.deepEqual(first, [5, 6]);
 * ```
 */
export interface CollectOptions {
  /** The job's name (default "weir job"). */
  jobName?: string;
  /**
   * Resolve with the first `limit` records to arrive and cancel the job then
   * (a positive integer; without it, every record once the input ends).
   */
  limit?: number;
}

/**
 * Options for one operator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type OperatorOptions, StreamEnvironment } from "@weir/weir";
 * const opts: OperatorOptions = { uid: "double", name: "Double", parallelism: 2 };
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<number>();
 * env.fromElements(1, 2).map((n: number) => n * 2, opts).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values.toSorted(), [2, 4]);
 * ```
 */
export interface OperatorOptions {
  /** Display name. */
  name?: string;
  /** Stable id that maps state on restore. */
  uid?: string;
  /** Parallelism of this operator. */
  parallelism?: number;
}

/** Settings shared by streams and sinks: name, uid, parallelism, chaining. */
class NodeSettings {
  /** @internal */
  readonly node: Transformation;
  constructor(node: Transformation) {
    this.node = node;
  }
  /**
   * Sets the uid (maps state on restore; keep it stable). Without one, the uid is
   * generated from the operator's kind and position in the job (`operator-3`).
   */
  uid(uid: string): this {
    this.ownNode("uid");
    this.node.uid = uid;
    return this;
  }
  /** Sets the display name (not part of the uid: renaming keeps the operator's state). */
  name(name: string): this {
    this.ownNode("name");
    this.node.name = name;
    return this;
  }
  /** @internal Throws where the node is another stream's (see `DataStream`). */
  protected ownNode(_setting: string): void {}
  /** Sets the parallelism. */
  setParallelism(parallelism: number): this {
    this.ownNode("setParallelism");
    if (!Number.isInteger(parallelism) || parallelism < 1) {
      throw new ConfigError(
        `Operator "${this.node.name}": parallelism must be a positive integer, got ${
          shownValue(parallelism)
        }`,
      );
    }
    // As Flink's "The parallelism of non parallel operator must be 1": the other subtasks
    // would idle, and the one operator would not see every element it needs.
    const nonParallel = (this.node.chainedTo ?? this.node).nonParallel;
    if (nonParallel !== undefined && parallelism !== 1) {
      throw new ConfigError(
        `Operator "${this.node.name}" is non-parallel (${nonParallel} runs on one subtask): ` +
          `its parallelism must be 1, got ${parallelism}`,
      );
    }
    (this.node.chainedTo ?? this.node).parallelism = parallelism;
    return this;
  }
  /**
   * Runs this operator in a task of its own: neither chained to its producer
   * nor its consumers to it (Flink's `disableChaining`).
   */
  disableChaining(): this {
    this.ownNode("disableChaining");
    this.node.chainable = false;
    this.node.chainOutputs = false;
    return this;
  }
  /**
   * Starts a new chain at this operator: it is not chained to its producer,
   * and the operators after it may chain to it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { StreamEnvironment } from "@weir/weir";
   * const env = StreamEnvironment.create();
   * env.fromElements(1, 2).map((n: number) => n + 1).startNewChain().filter((n) => n > 2).print();
   * const chains = env.getExecutionPlan().chains.map((c) => c.vertices.length);
   * assert.deepEqual(chains, [1, 3]); // source | map -> filter -> print
   * ```
   */
  startNewChain(): this {
    this.ownNode("startNewChain");
    this.node.chainable = false;
    return this;
  }
}

/** @internal The names of {@linkcode OperatorOptions}, for `checkOptionNames`. */
export const OPERATOR_OPTIONS: Readonly<Record<keyof OperatorOptions, true>> = {
  name: true,
  uid: true,
  parallelism: true,
};

function apply(node: Transformation, opts: OperatorOptions | undefined): Transformation {
  // A misspelt `uid` would leave a generated one: the operator's state would not restore.
  if (opts !== undefined) checkOptionNames(`Operator "${node.name}"`, opts, OPERATOR_OPTIONS);
  if (opts?.name !== undefined) node.name = opts.name;
  if (opts?.uid !== undefined) node.uid = opts.uid;
  if (opts?.parallelism !== undefined) new NodeSettings(node).setParallelism(opts.parallelism);
  return node;
}

/**
 * The end of a stream: a sink.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type DataStreamSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<string>();
 * // addSink returns the sink node, to name it and give it a stable uid.
 * const node: DataStreamSink = env.fromElements("x").addSink(sink).uid("out").name("Collect");
 * const result = await env.execute();
 * assert.deepEqual(sink.values, ["x"]);
 * assert.equal(result.recordsIn["out"], 1, "the job's figures name the sink by its uid");
 * ```
 */
export class DataStreamSink extends NodeSettings {}

/**
 * A stream of records of type `T`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromCollection(["a b", "c"])
 *   .flatMap((line: string, o) => line.split(" ").forEach((w) => o.collect(w)))
 *   .filter((w) => w !== "c")
 *   .addSink(out);
 * await env.execute("words");
 * assert.ok(out.values.join() === "a,b");
 * ```
 */
export class DataStream<T> extends NodeSettings {
  /** @internal */
  readonly env: GraphBuilder;
  /** @internal */
  readonly partitioning: Partitioning | undefined;
  /** @internal */
  readonly sideOutput: string | undefined;

  /** @internal Use the environment's sources. */
  constructor(
    env: GraphBuilder,
    node: Transformation,
    partitioning?: Partitioning,
    sideOutput?: string,
  ) {
    super(node);
    this.env = env;
    this.partitioning = partitioning;
    this.sideOutput = sideOutput;
  }
  /**
   * A stream made by `keyBy`, a partitioning (`rebalance`, `broadcast`, …) or
   * `getSideOutput` is its producer's node seen another way: a uid, name,
   * parallelism or chaining set on it would silently change that operator's,
   * and Flink has none of these on such streams.
   */
  protected override ownNode(setting: string): void {
    if (this.partitioning === undefined && this.sideOutput === undefined) return;
    const made = this.sideOutput !== undefined
      ? `getSideOutput("${this.sideOutput}")`
      : this.partitioning!.kind === "hash"
      ? "keyBy"
      : this.partitioning!.kind === "custom"
      ? "partitionCustom"
      : `${this.partitioning!.kind}()`;
    throw new ConfigError(
      `${setting}() on the stream ${made} made of operator "${this.node.name}" would set that ` +
        `operator's: call it on the operator's own stream (before ${made}), or on the next operator`,
    );
  }

  /**
   * Gives the serializer of this stream's records, used where they cross
   * workers (the worker executor); without one, records must be plain values
   * (`Serializers.plain`): a class instance or a function is an error naming
   * the edge. On a side output stream (`getSideOutput(tag)`) it is that side
   * output's, and leaves the operator's main output's as it is.
   */
  returns(serializer: Serializer<T>): this {
    checkSerializer(`Operator "${this.node.name}": the serializer given to returns()`, serializer);
    const s = serializer as Serializer<unknown>;
    // A side output stream shares its producer's node: its serializer is the tag's, not the node's.
    if (this.sideOutput === undefined) this.node.outputSerializer = s;
    else (this.node.sideOutputSerializers ??= new Map()).set(this.sideOutput, s);
    return this;
  }

  /** @internal The edge from this stream into an operator's input. */
  edge(input = 0): Edge {
    return {
      source: this.node,
      partitioning: this.partitioning,
      input,
      sideOutput: this.sideOutput,
    };
  }

  /** @internal */
  protected addOperator<O>(
    name: string,
    createOperator: () => StreamOperator,
    inputs: Edge[],
    opts: OperatorOptions | undefined,
    keySerializer?: Serializer<unknown>,
  ): DataStream<O> {
    const node = this.env.addNode({
      kind: "operator",
      name,
      inputs,
      createOperator,
      ...(keySerializer ? { keySerializer } : {}),
    });
    return new DataStream<O>(this.env, apply(node, opts));
  }

  /** Transforms every record. */
  map<O>(fn: MapFunction<T, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction("map", fn, ["map"], true);
    return this.addOperator("Map", () => new MapOperator(fn), [this.edge()], opts);
  }

  /** Keeps the records `fn` accepts. */
  filter(fn: FilterFunction<T>, opts?: OperatorOptions): DataStream<T> {
    checkUserFunction("filter", fn, ["filter"], true);
    return this.addOperator("Filter", () => new FilterOperator(fn), [this.edge()], opts);
  }

  /**
   * Emits zero or more records per record, through `out.collect`; a function that returns
   * records instead (anything but undefined or a boolean) fails the job with a `ConfigError`.
   */
  flatMap<O>(fn: FlatMapFunction<T, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction("flatMap", fn, ["flatMap"], true);
    return this.addOperator("FlatMap", () => new FlatMapOperator(fn), [this.edge()], opts);
  }

  /** Runs a {@linkcode ProcessFunction} (side outputs; no keyed state or timers). */
  process<O>(fn: ProcessFunction<T, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction("process", fn, ["processElement"], false);
    return this.addOperator("Process", () => new ProcessOperator(fn), [this.edge()], opts);
  }

  /**
   * Partitions by key: records with equal keys go to the same subtask, and
   * functions applied to the result get keyed state and timers.
   */
  keyBy<K>(
    keySelector: KeySelector<T, K>,
    keySerializer: Serializer<K> = Serializers.key as Serializer<K>,
  ): KeyedStream<T, K> {
    checkSerializer("keyBy's key serializer", keySerializer);
    return new KeyedStream<T, K>(this, keySelector, keySerializer);
  }

  /** Sends records round-robin to the next operator's subtasks. */
  rebalance(): DataStream<T> {
    return new DataStream<T>(this.env, this.node, { kind: "rebalance" }, this.sideOutput);
  }

  /** Sends every record to every subtask of the next operator. */
  broadcast(): DataStream<T>;
  /** Makes a broadcast stream for the broadcast state pattern. */
  broadcast(...descriptors: MapStateDescriptor<unknown, unknown>[]): BroadcastStream<T>;
  broadcast(
    ...descriptors: MapStateDescriptor<unknown, unknown>[]
  ): DataStream<T> | BroadcastStream<T> {
    const s = new DataStream<T>(this.env, this.node, { kind: "broadcast" }, this.sideOutput);
    return descriptors.length ? new BroadcastStream(s, descriptors) : s;
  }

  /**
   * Sends records round-robin to a subset of the next operator's subtasks:
   * each subtask here feeds its own group there (or a group here feeds one
   * there), so fewer channels are needed than with `rebalance`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { StreamEnvironment } from "@weir/weir";
   * const env = StreamEnvironment.create({ parallelism: 4 });
   * env.fromCollection([1, 2, 3, 4]).setParallelism(2).rescale().map((n: number) => n).print();
   * const plan = env.getExecutionPlan();
   * assert.equal(plan.channels.length, 4); // 2 producers x 2 consumers each, not 2 x 4
   * ```
   */
  rescale(): DataStream<T> {
    return new DataStream<T>(this.env, this.node, { kind: "rescale" }, this.sideOutput);
  }

  /**
   * Sends each record to a uniformly random subtask of the next operator.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, StreamEnvironment } from "@weir/weir";
   * const env = StreamEnvironment.create({ parallelism: 2 });
   * const out = new CollectSink<number>();
   * env.fromCollection([1, 2, 3]).shuffle().map((n: number) => n * 2).addSink(out);
   * await env.execute();
   * assert.deepEqual(out.values.toSorted(), [2, 4, 6]);
   * ```
   */
  shuffle(): DataStream<T> {
    return new DataStream<T>(this.env, this.node, { kind: "shuffle" }, this.sideOutput);
  }

  /**
   * Sends each record to the subtask `partitioner(key, numPartitions)` picks
   * for its key (an integer from 0 to `numPartitions - 1`). Unlike `keyBy`,
   * the stream is not keyed: no keyed state after it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, type RuntimeContext, StreamEnvironment } from "@weir/weir";
   * const env = StreamEnvironment.create({ parallelism: 2 });
   * const out = new CollectSink<string>();
   * const tagWithSubtask = {
   *   subtask: -1,
   *   open(ctx: RuntimeContext) { this.subtask = ctx.subtaskIndex; },
   *   map(x: number) { return `${this.subtask}:${x}`; },
   * };
   * env.fromCollection([1, 2, 3, 4])
   *   .partitionCustom((even: boolean) => (even ? 0 : 1), (x) => x % 2 === 0)
   *   .map(tagWithSubtask)
   *   .addSink(out);
   * await env.execute();
   * assert.deepEqual(out.values.toSorted(), ["0:2", "0:4", "1:1", "1:3"]);
   * ```
   */
  partitionCustom<K>(
    partitioner: (key: K, numPartitions: number) => number,
    keySelector: KeySelector<T, K>,
  ): DataStream<T> {
    checkUserFunction("partitionCustom's partitioner", partitioner, [], true);
    checkUserFunction("partitionCustom's key selector", keySelector, [], true);
    return new DataStream<T>(this.env, this.node, {
      kind: "custom",
      partitioner: partitioner as (key: unknown, numPartitions: number) => number,
      keySelector: keySelector as KeySelector,
    }, this.sideOutput);
  }

  /** Sends every record to subtask 0 of the next operator. */
  global(): DataStream<T> {
    return new DataStream<T>(this.env, this.node, { kind: "global" }, this.sideOutput);
  }

  /** Keeps subtask `i`'s records on subtask `i` (needs equal parallelism). */
  forward(): DataStream<T> {
    return new DataStream<T>(this.env, this.node, { kind: "forward" }, this.sideOutput);
  }

  /**
   * Sets each record's event timestamp and generates watermarks with
   * `strategy`; watermarks from upstream are replaced (the final one passes).
   * It runs at its input's parallelism (unless given another), as Flink's
   * does: after a collection source of one subtask, one watermark generator
   * sees the records in order, whatever the job's parallelism.
   */
  assignTimestampsAndWatermarks(
    strategy: WatermarkStrategy<T>,
    opts?: OperatorOptions,
  ): DataStream<T> {
    checkWatermarkStrategy("assignTimestampsAndWatermarks", strategy);
    const input = (this.node.chainedTo ?? this.node).parallelism;
    const stream = this.addOperator<T>(
      "Timestamps/Watermarks",
      () => new TimestampsAndWatermarksOperator(strategy),
      [this.edge()],
      input === undefined || opts?.parallelism !== undefined
        ? opts
        : { ...opts, parallelism: input },
    );
    // An input without a parallelism yet (a source's default, capped by its maxParallelism) gives
    // its own when the plan is made: at the job's default, a generator idle for want of records
    // would hold every window back.
    if (input === undefined && opts?.parallelism === undefined) {
      stream.node.parallelismOfInput = true;
    }
    return stream;
  }

  /** Windows over the whole stream (one subtask sees every element). */
  windowAll<W extends Window>(assigner: WindowAssigner<T, W>): AllWindowedStream<T, W> {
    return new AllWindowedStream(this.keyBy(() => 0, Serializers.f64), assigner);
  }

  /** Count windows over the whole stream: every `size` elements, or sliding by `slide`. */
  countWindowAll(size: number, slide?: number): AllWindowedStream<T, GlobalWindow> {
    const s = this.windowAll(GlobalWindows.create<T>());
    if (slide === undefined) return s.trigger(PurgingTrigger.of(CountTrigger.of(size)));
    return s.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide));
  }

  /** The records this stream's operator emitted to side output `tag`. */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    return new DataStream<X>(this.env, this.node, undefined, tag.id);
  }

  /** Merges streams of the same type. */
  union(...others: DataStream<T>[]): DataStream<T> {
    return this.addOperator(
      "Union",
      () => new MapOperator((v: T) => v),
      [this.edge(), ...others.map((o) => o.edge())],
      undefined,
    );
  }

  /** Connects with another stream (two inputs, one function), or with a broadcast stream. */
  connect<U>(other: DataStream<U>): ConnectedStreams<T, U>;
  connect<U>(other: BroadcastStream<U>): BroadcastConnectedStream<T, U>;
  connect<U>(
    other: DataStream<U> | BroadcastStream<U>,
  ): ConnectedStreams<T, U> | BroadcastConnectedStream<T, U> {
    if (other instanceof BroadcastStream) return new BroadcastConnectedStream(this, other);
    return new ConnectedStreams(this, other);
  }

  /** Window join with `other`: `.where(key).equalTo(otherKey).window(assigner).apply(fn)`. */
  join<U>(other: DataStream<U>): JoinedStreams<T, U> {
    return new JoinedStreams(this, other);
  }

  /** Window coGroup with `other`: `.where(key).equalTo(otherKey).window(assigner).apply(fn)`. */
  coGroup<U>(other: DataStream<U>): CoGroupedStreams<T, U> {
    return new CoGroupedStreams(this, other);
  }

  /** Sends every record to `sink`. */
  addSink(sink: SinkFunction<T>, opts?: OperatorOptions): DataStreamSink {
    checkUserFunction("addSink", sink, ["invoke"], false);
    const node = this.env.addNode({
      kind: "sink",
      name: "Sink",
      inputs: [this.edge()],
      createOperator: () => new SinkOperator(sink),
      sink: sink as SinkFunction<unknown>,
    });
    return new DataStreamSink(apply(node, opts));
  }

  /** Prints every record to stdout. */
  print(prefix = ""): DataStreamSink {
    return this.addSink(new PrintSink<T>(prefix), { name: "Print" });
  }

  /**
   * Runs the job with a sink that brings this stream's records back to the
   * script, as Flink's `executeAndCollect`: resolves with every record once
   * the input ends, or with the first `limit` to arrive, and then cancels the
   * job (for an unbounded stream). Records come in arrival order; from
   * several subtasks, interleaved. With checkpoints, as Flink's, a record
   * counts once the checkpoint after it completes (or the input ended), so a
   * job that restarts from a checkpoint gives each record once; a restart
   * without checkpoints starts the results over too. With the
   * worker executor, each worker sends its records to the main thread, and in
   * a worker this never settles, as `execute` does not.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { StreamEnvironment } from "@weir/weir";
   * const env = StreamEnvironment.create();
   * const words = await env.fromElements("a b", "c")
   *   .flatMap((line: string, out) => line.split(" ").forEach((w) => out.collect(w)))
   *   .executeAndCollect({ jobName: "words" });
   * assert.deepEqual(words, ["a", "b", "c"]);
   * ```
   */
  executeAndCollect(options?: CollectOptions): Promise<T[]> {
    return this.env.executeAndCollect(this, options);
  }
}

/**
 * A stream partitioned by key. Functions applied to it have keyed state and
 * timers, scoped to each record's key.
 *
 * @example Running count per key
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<{ k: string; n: number }>();
 * env.fromCollection([{ k: "a", n: 1 }, { k: "b", n: 1 }, { k: "a", n: 1 }])
 *   .keyBy((r) => r.k)
 *   .sum("n")
 *   .addSink(out);
 * await env.execute("sum");
 * assert.ok(out.values.map((r) => r.n).join() === "1,1,2");
 * ```
 */
export class KeyedStream<T, K> extends DataStream<T> {
  /** @internal */
  readonly keySelector: KeySelector<T, K>;
  /** @internal */
  readonly keySerializer: Serializer<K>;

  /** @internal Use `DataStream.keyBy`. */
  constructor(input: DataStream<T>, keySelector: KeySelector<T, K>, keySerializer: Serializer<K>) {
    checkKeySelector(keySelector, "keyBy");
    super(input.env, input.node, {
      kind: "hash",
      keySelector: keySelector as KeySelector,
      keySerializer: keySerializer as Serializer<unknown>,
    }, input.sideOutput);
    this.keySelector = keySelector;
    this.keySerializer = keySerializer;
  }

  /** Runs a {@linkcode KeyedProcessFunction}: keyed state, timers, side outputs. */
  override process<O>(
    fn: KeyedProcessFunction<K, T, O> | ProcessFunction<T, O>,
    opts?: OperatorOptions,
  ): DataStream<O> {
    checkUserFunction("process", fn, ["processElement"], false);
    return this.#keyed<O>(
      "KeyedProcess",
      (k) => new ProcessOperator(fn as KeyedProcessFunction<unknown, T, O>, k),
      opts,
    );
  }

  #keyed<O>(name: string, create: (key: KeySelector) => StreamOperator, opts?: OperatorOptions) {
    const select = this.keySelector as KeySelector;
    const keySerializer = this.keySerializer as Serializer<unknown>;
    return this.addOperator<O>(name, () => create(select), [this.edge()], opts, keySerializer);
  }

  /** `map` with keyed state available to rich functions. */
  override map<O>(fn: MapFunction<T, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction("map", fn, ["map"], true);
    return this.#keyed<O>("Map", (k) => new MapOperator(fn, k), opts);
  }

  /** `filter` with keyed state available to rich functions. */
  override filter(fn: FilterFunction<T>, opts?: OperatorOptions): DataStream<T> {
    checkUserFunction("filter", fn, ["filter"], true);
    return this.#keyed<T>("Filter", (k) => new FilterOperator(fn, k), opts);
  }

  /** `flatMap` with keyed state available to rich functions. */
  override flatMap<O>(fn: FlatMapFunction<T, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction("flatMap", fn, ["flatMap"], true);
    return this.#keyed<O>("FlatMap", (k) => new FlatMapOperator(fn, k), opts);
  }

  /**
   * Interval join with another keyed stream: `.between(lower, upper).process(fn)`
   * joins each record at `t` with `other`'s records of its key in `[t + lower, t + upper]`.
   */
  intervalJoin<R>(other: KeyedStream<R, K>): IntervalJoin<T, R, K> {
    sameKeys(this, other, "intervalJoin");
    return new IntervalJoin(this, other);
  }

  /**
   * Regular (unwindowed) inner join with another keyed stream on the key:
   * `.withStateTtl(ttl).apply(fn)`.
   */
  innerJoin<R>(other: KeyedStream<R, K>): RegularJoin<T, R, K> {
    sameKeys(this, other, "innerJoin");
    return new RegularJoin(this, other);
  }

  /** Groups each key's records into windows. */
  window<W extends Window>(assigner: WindowAssigner<T, W>): WindowedStream<T, K, W> {
    return new WindowedStream(this, assigner);
  }

  /** Count windows per key: every `size` elements, or the last `size` every `slide`. */
  countWindow(size: number, slide?: number): WindowedStream<T, K, GlobalWindow> {
    const s = this.window(GlobalWindows.create<T>());
    if (slide === undefined) return s.trigger(PurgingTrigger.of(CountTrigger.of(size)));
    return s.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide));
  }

  /**
   * Rolling reduce per key: emits the reduced value after every record. A
   * `fn` that returns undefined fails the job with a `ConfigError`.
   * `serializer` keeps the reduced value; default `Serializers.plain` (plain
   * values, Date, bigint and NaN included, come back as they were; give one
   * for class instances or Maps).
   */
  reduce(
    fn: (a: T, b: T) => T,
    serializer?: Serializer<T>,
    opts?: OperatorOptions,
  ): DataStream<T> {
    checkUserFunction("reduce", fn, [], true);
    serializer ??= plainStateSerializer<T>(
      `operator "${opts?.name ?? "Reduce"}"`,
      ".reduce(fn, serializer)",
    );
    return this.#rolling(fn, serializer, opts);
  }

  /**
   * Maps each record with its key's state, as Flink's Scala `mapWithState` (and Bytewax's
   * `stateful_map`): `fn(value, state)` gets the key's state (undefined for a key without one)
   * and returns `[result, newState]`; `result` is emitted, `newState` kept for the key's next
   * record, and undefined (Flink's `None`) clears it. Anything but such a pair, an undefined
   * `result` (as `map`'s) or a promise fails the job with a `ConfigError`. `serializer` keeps the state; default `Serializers.plain`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { StreamEnvironment } from "@weir/weir";
   * const env = StreamEnvironment.create();
   * // A running sum per key that starts again after a sum of 0.
   * const sums = await env.fromElements<[string, number]>(["a", 1], ["a", -1], ["a", 5])
   *   .keyBy(([k]) => k)
   *   .mapWithState(([, n], sum: number | undefined) => {
   *     const next = (sum ?? 0) + n;
   *     return [next, next === 0 ? undefined : next];
   *   })
   *   .executeAndCollect();
   * assert.deepEqual(sums, [1, 0, 5]);
   * ```
   */
  mapWithState<R, S>(
    fn: (value: T, state: S | undefined) => readonly [R, S | undefined],
    serializer?: Serializer<S>,
    opts?: OperatorOptions,
  ): DataStream<R> {
    checkUserFunction("mapWithState", fn, [], true);
    const name = opts?.name ?? "MapWithState";
    serializer ??= plainStateSerializer<S>(
      `operator "${name}"`,
      ".mapWithState(fn, serializer)",
    );
    const descriptor = new ValueStateDescriptor<S>("state", serializer); // Flink's name
    const stateful: KeyedProcessFunction<K, T, R> & { state?: ValueState<S>; name?: string } = {
      open(ctx: RuntimeContext) {
        this.state = ctx.getState(descriptor);
        this.name = ctx.taskName;
      },
      processElement(v, _ctx, out) {
        const r: unknown = fn(v, this.state!.value());
        if (r instanceof Promise) throw promiseReturnedError(r, "mapWithState", this.name!);
        if (!Array.isArray(r) || r.length !== 2) {
          throw new ConfigError(
            `mapWithState of operator "${this.name}" returned ${describeValue(r)}: its function ` +
              `returns [result, newState] (newState undefined clears the key's state), as ` +
              `Flink's (R, Option[S])`,
          );
        }
        // As map's: an undefined result is a missing value, not a record.
        if (r[0] === undefined) throw undefinedMappedError("mapWithState", this.name!);
        this.state!.update(r[1]);
        out.collect(r[0]);
      },
    };
    return this.process<R>(stateful, { name, ...opts });
  }

  /** `reduce`, where `check` sees each key's first record too (`fn` sees the others). */
  #rolling(
    fn: (a: T, b: T) => T,
    serializer: Serializer<T>,
    opts: OperatorOptions | undefined,
    check?: (v: T) => void,
  ): DataStream<T> {
    const reducer: KeyedProcessFunction<K, T, T> & { acc?: ValueState<T>; name?: string } = {
      open(ctx: RuntimeContext) {
        this.acc = ctx.getState(new ValueStateDescriptor("reduce", serializer));
        this.name = ctx.taskName;
      },
      processElement(v, _ctx, out) {
        const acc = this.acc!;
        const prev = acc.value();
        if (prev === undefined) check?.(v);
        // The key's first record is kept as a copy: `fn` may update its first argument in place.
        const next = prev === undefined ? ownedCopy(serializer, v) : fn(prev, v);
        if (next instanceof Promise) throw promiseReturnedError(next, "reduce", this.name!);
        if (next === undefined) {
          throw undefinedReturnedError("reduce", `operator "${this.name}"`, "value");
        }
        acc.update(next);
        out.collect(next);
      },
    };
    return this.process<T>(reducer, { name: "Reduce", ...opts });
  }

  /**
   * The rolling aggregation `op` of `field` (see `fieldAggregation`): the key's first record is
   * checked too, so a missing or mistyped field fails the job instead of turning into NaN or a
   * concatenated string.
   */
  #aggregateField(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    op: FieldAggregationKind,
    first = true,
  ): DataStream<T> {
    const agg = fieldAggregation<T>(field, op, first);
    return this.#rolling(
      agg.reduce,
      aggregationSerializer(
        (outputSerializerOf(this.node, this.sideOutput) ??
          plainStateSerializer<T>(
            `operator "${op[0]!.toUpperCase() + op.slice(1)}"`,
            `.returns(serializer) on its input, or .reduce(fn, serializer) in place of ${op}`,
          )) as Serializer<T>,
      ),
      { name: op[0]!.toUpperCase() + op.slice(1) },
      agg.check,
    );
  }

  /**
   * Rolling sum of `field` per key (other fields come from the first record).
   * A record whose field is not a number fails the job with a `ConfigError`.
   * On a stream of numbers (or strings, for the others) `field` is `0` or
   * `"*"`, the record itself, as Flink's on a basic type: `sum(0)` sums them.
   */
  sum(field: T extends string | number ? 0 | "*" : keyof T & (string | number)): DataStream<T> {
    return this.#aggregateField(field, "sum");
  }

  /**
   * Rolling minimum of `field` per key: numbers, or strings (compared as
   * strings); a missing field, or one of another type, fails the job.
   * Numbers compare as Flink's `Double.compare`: NaN is above every number and
   * -0 below 0, so the minimum is NaN only while every value so far is NaN.
   */
  min(field: T extends string | number ? 0 | "*" : keyof T & (string | number)): DataStream<T> {
    return this.#aggregateField(field, "min");
  }

  /**
   * Rolling maximum of `field` per key: numbers, or strings (compared as
   * strings); a missing field, or one of another type, fails the job.
   * Numbers compare as Flink's `Double.compare`: NaN is above every number
   * (+Infinity too), so once a key's field has been NaN its maximum stays NaN.
   */
  max(field: T extends string | number ? 0 | "*" : keyof T & (string | number)): DataStream<T> {
    return this.#aggregateField(field, "max");
  }

  /**
   * Rolling minimum per key, as whole records: emits, after every record, the
   * record with the smallest `field` so far (on ties the first one, or with
   * `first = false` the latest). `min` only updates the field. Numbers compare
   * as in `min`: a record whose field is NaN is picked only while every record
   * so far has NaN there.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, StreamEnvironment } from "@weir/weir";
   * type Bid = { item: string; price: number; bidder: string };
   * const env = StreamEnvironment.create();
   * const out = new CollectSink<Bid>();
   * env.fromElements<Bid>(
   *   { item: "a", price: 5, bidder: "x" },
   *   { item: "a", price: 3, bidder: "y" },
   *   { item: "a", price: 4, bidder: "z" },
   * ).keyBy((b) => b.item).minBy("price").addSink(out);
   * await env.execute();
   * assert.deepEqual(out.values.map((b) => b.bidder), ["x", "y", "y"]);
   * ```
   */
  minBy(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    first = true,
  ): DataStream<T> {
    return this.#aggregateField(field, "minBy", first);
  }

  /**
   * Rolling maximum per key, as whole records: emits, after every record, the
   * record with the largest `field` so far (on ties the first one, or with
   * `first = false` the latest). `max` only updates the field. Numbers compare
   * as in `max`: a record whose field is NaN is larger than any number.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, StreamEnvironment } from "@weir/weir";
   * const env = StreamEnvironment.create();
   * const out = new CollectSink<[string, number, string]>();
   * env.fromElements<[string, number, string]>(["k", 1, "a"], ["k", 2, "b"], ["k", 2, "c"])
   *   .keyBy((t) => t[0]).maxBy(1, false).addSink(out);
   * await env.execute();
   * assert.deepEqual(out.values.map((t) => t[2]), ["a", "b", "c"]);
   * ```
   */
  maxBy(
    field: T extends string | number ? 0 | "*" : keyof T & (string | number),
    first = true,
  ): DataStream<T> {
    return this.#aggregateField(field, "maxBy", first);
  }
}

/**
 * The state serializer of a rolling aggregation: the records' (Flink's: the stream's type
 * serializer), which keeps NaN, ±Infinity and -0 where JSON turned NaN into null. State that
 * earlier versions kept as JSON still restores.
 */
function aggregationSerializer<T>(records: Serializer<T>): Serializer<T> {
  const s: Serializer<T> = Object.create(records);
  s.resolveSchemaCompatibility = (old) =>
    old.id === Serializers.json.id
      ? { type: "compatibleAfterMigration", readOld: (r) => Serializers.json.read(r) as T }
      : resolveSchemaCompatibility(records, old);
  return s;
}

/** Both inputs of a keyed two-input operator must hash their keys alike. */
function sameKeys(
  a: { keySerializer: { id: string } },
  b: { keySerializer: { id: string } },
  op: string,
) {
  if (a.keySerializer.id !== b.keySerializer.id) {
    throw new ConfigError(
      `${op}: both inputs need the same key serializer, got "${a.keySerializer.id}" and "${b.keySerializer.id}"`,
    );
  }
}

/**
 * Two streams processed by one {@linkcode CoProcessFunction}. When both
 * inputs are keyed (or `keyBy` is called here), the function has keyed state
 * and timers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * env.fromCollection([1, 2]).connect(env.fromCollection(["x"])).process({
 *   processElement1: (v, _c, o) => o.collect(`n${v}`),
 *   processElement2: (v, _c, o) => o.collect(`s${v}`),
 * }).addSink(out);
 * await env.execute("co");
 * assert.ok(out.values.sort().join() === "n1,n2,sx");
 * ```
 */
export class ConnectedStreams<A, B> {
  readonly #first: DataStream<A>;
  readonly #second: DataStream<B>;

  /** @internal Use `DataStream.connect`. */
  constructor(first: DataStream<A>, second: DataStream<B>) {
    this.#first = first;
    this.#second = second;
  }

  /** Keys both inputs. */
  keyBy<K>(
    first: KeySelector<A, K>,
    second: KeySelector<B, K>,
    keySerializer: Serializer<K> = Serializers.key as Serializer<K>,
  ): ConnectedStreams<A, B> {
    return new ConnectedStreams(
      this.#first.keyBy(first, keySerializer),
      this.#second.keyBy(second, keySerializer),
    );
  }

  /** Maps both inputs to one stream: `fn.map1` for the first, `fn.map2` for the second. */
  map<O>(fn: CoMapFunction<A, B, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction("ConnectedStreams.map", fn, ["map1", "map2"], false);
    // A promise or undefined (a missing return) would be emitted as the record: refused, as map's.
    const mapped = (r: O, method: string) => {
      if (r instanceof Promise) throw promiseReturnedError(r, method, stream.node.name);
      if (r === undefined) throw undefinedMappedError(method, stream.node.name);
      return r;
    };
    // The process function inherits from `fn`, so `open`, `close`, state hooks and fields set
    // in `open` are the user's, on the per-subtask copy the operator makes.
    const co: CoProcessFunction<A, B, O> = Object.assign(Object.create(fn), {
      processElement1(this: CoMapFunction<A, B, O>, v: A, _c: unknown, out: Collector<O>) {
        out.collect(mapped(this.map1(v), "map1"));
      },
      processElement2(this: CoMapFunction<A, B, O>, v: B, _c: unknown, out: Collector<O>) {
        out.collect(mapped(this.map2(v), "map2"));
      },
    });
    const stream: DataStream<O> = this.process(co, { name: "CoMap", ...opts });
    return stream;
  }

  /** Emits zero or more records per record of either input (`fn.flatMap1`, `fn.flatMap2`). */
  flatMap<O>(fn: CoFlatMapFunction<A, B, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction("ConnectedStreams.flatMap", fn, ["flatMap1", "flatMap2"], false);
    // What flatMap1/flatMap2 return is never emitted: returned records would be lost.
    const emitted = (r: unknown, method: string) => {
      if (returnsRecords(r)) throw valueReturnedError(r, method, stream.node.name);
      return r as SyncVoid;
    };
    const co: CoProcessFunction<A, B, O> = Object.assign(Object.create(fn), {
      processElement1(this: CoFlatMapFunction<A, B, O>, v: A, _c: unknown, out: Collector<O>) {
        return emitted(this.flatMap1(v, out), "flatMap1");
      },
      processElement2(this: CoFlatMapFunction<A, B, O>, v: B, _c: unknown, out: Collector<O>) {
        return emitted(this.flatMap2(v, out), "flatMap2");
      },
    });
    const stream: DataStream<O> = this.process(co, { name: "CoFlatMap", ...opts });
    return stream;
  }

  /** Runs `fn` over both inputs. */
  process<O>(fn: CoProcessFunction<A, B, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction(
      "ConnectedStreams.process",
      fn,
      ["processElement1", "processElement2"],
      false,
    );
    const a = this.#first, b = this.#second;
    const ka = a instanceof KeyedStream ? a : undefined;
    const kb = b instanceof KeyedStream ? b : undefined;
    if ((ka === undefined) !== (kb === undefined)) {
      throw new ConfigError(
        "connect: either both inputs are keyed or neither is (use ConnectedStreams.keyBy)",
      );
    }
    // Keys hashed by different serializers go to different subtasks: equal keys would never meet.
    if (ka && kb) sameKeys(ka, kb, "connect");
    const selectors: [KeySelector | undefined, KeySelector | undefined] = [
      ka?.keySelector as KeySelector | undefined,
      kb?.keySelector as KeySelector | undefined,
    ];
    const node = a.env.addNode({
      kind: "operator",
      name: "CoProcess",
      inputs: [a.edge(0), b.edge(1)],
      createOperator: () => new CoProcessOperator(fn, selectors),
      ...(ka ? { keySerializer: ka.keySerializer as Serializer<unknown> } : {}),
    });
    return new DataStream<O>(a.env, apply(node, opts));
  }
}

/**
 * A stream whose records reach every subtask, with broadcast state descriptors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BroadcastStream, MapStateDescriptor, Serializers, StreamEnvironment } from "@weir/weir";
 * const limits = new MapStateDescriptor("limits", Serializers.string, Serializers.f64);
 * const env = StreamEnvironment.create();
 * const rules: BroadcastStream<[string, number]> = env
 *   .fromCollection([["a", 1] as [string, number]])
 *   .broadcast(limits);
 * assert.deepEqual(rules.descriptors, [limits]);
 * ```
 */
export class BroadcastStream<T> {
  /** @internal */
  readonly stream: DataStream<T>;
  /** The broadcast state this stream writes. */
  readonly descriptors: readonly MapStateDescriptor<unknown, unknown>[];

  /** @internal Use `DataStream.broadcast(descriptor)`. */
  constructor(stream: DataStream<T>, descriptors: MapStateDescriptor<unknown, unknown>[]) {
    this.stream = stream;
    this.descriptors = descriptors;
  }
}

/**
 * A (keyed or non-keyed) stream connected with a broadcast stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, MapStateDescriptor, Serializers, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const limits = new MapStateDescriptor("limits", Serializers.string, Serializers.f64);
 * const out = new CollectSink<string>();
 * const rules = env.fromCollection([["a", 1] as [string, number]]).broadcast(limits);
 * env.fromCollection([["a", 5] as [string, number], ["b", 9] as [string, number]])
 *   .keyBy(([k]) => k)
 *   .connect(rules)
 *   .process({
 *     processElement([k, v], ctx, o) {
 *       const limit = ctx.getBroadcastState(limits).get(k);
 *       if (limit !== undefined && v > limit) o.collect(k);
 *     },
 *     processBroadcastElement([k, v], ctx) { ctx.getBroadcastState(limits).put(k, v); },
 *   })
 *   .addSink(out);
 * await env.execute("rules");
 * assert.ok(out.values.length <= 1);
 * ```
 */
export class BroadcastConnectedStream<A, B> {
  readonly #main: DataStream<A>;
  readonly #broadcast: BroadcastStream<B>;

  /** @internal Use `DataStream.connect(broadcastStream)`. */
  constructor(main: DataStream<A>, broadcast: BroadcastStream<B>) {
    this.#main = main;
    this.#broadcast = broadcast;
  }

  /** Runs `fn` over the main and the broadcast input. */
  process<O>(fn: BroadcastProcessFunction<A, B, O>, opts?: OperatorOptions): DataStream<O> {
    checkUserFunction(
      "BroadcastConnectedStream.process",
      fn,
      ["processElement", "processBroadcastElement"],
      false,
    );
    const main = this.#main;
    const keyed = main instanceof KeyedStream ? main : undefined;
    const select = keyed?.keySelector as KeySelector | undefined;
    const node = main.env.addNode({
      kind: "operator",
      name: "BroadcastProcess",
      inputs: [main.edge(0), this.#broadcast.stream.edge(1)],
      createOperator: () => new BroadcastProcessOperator(fn, select, this.#broadcast.descriptors),
      ...(keyed ? { keySerializer: keyed.keySerializer as Serializer<unknown> } : {}),
    });
    return new DataStream<O>(main.env, apply(node, opts));
  }
}
