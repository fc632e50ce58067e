/**
 * weir: a Deno-first stateful stream processor. Jobs are plain Deno scripts
 * that build keyed dataflows (Flink's DataStream model) with synchronous keyed
 * state, timers, side outputs and parallel subtasks over key groups.
 *
 * @example Count words
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, Serializers, StreamEnvironment, ValueStateDescriptor } from "@weir/weir";
 * import type { Collector, KeyedProcessFunction, RuntimeContext, ValueState } from "@weir/weir";
 *
 * // State handles live in `this`, set in open(): every parallel subtask gets
 * // its own copy of the function object (never keep them in module variables).
 * class CountWords implements KeyedProcessFunction<string, string, string> {
 *   count!: ValueState<number>;
 *   open(ctx: RuntimeContext) {
 *     this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
 *   }
 *   processElement(word: string, _ctx: unknown, out: Collector<string>) {
 *     const n = this.count.value()! + 1;
 *     this.count.update(n);
 *     out.collect(`${word}\t${n}`);
 *   }
 * }
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * const out = new CollectSink<string>();
 * env.fromCollection(["a b", "a"])
 *   .flatMap((line: string, o) => line.split(/\s+/).forEach((w) => o.collect(w)))
 *   .keyBy((w) => w)
 *   .process(new CountWords())
 *   .addSink(out);
 * await env.execute("word count");
 * assert.deepEqual(out.values.sort(), ["a\t1", "a\t2", "b\t1"]);
 * ```
 *
 * @module
 */
export * from "./core/errors.ts";
export { ByteReader, ByteWriter } from "./core/state/bytes.ts";
export { deserialize, serialize, Serializers } from "./core/state/serializer.ts";
export type { SerializedType, Serializer } from "./core/state/serializer.ts";
export {
  resolveByVersion,
  resolveSchemaCompatibility,
  schemaOf,
} from "./core/state/serializer_schema.ts";
export type { SchemaCompatibility, SerializerSchema } from "./core/state/serializer_schema.ts";
export {
  defaultMaxParallelism,
  keyGroupOf,
  keyGroupRangeForSubtask,
  subtaskForKeyGroup,
  UPPER_BOUND_MAX_PARALLELISM,
} from "./core/state/key_group.ts";
export type { KeyGroupRange } from "./core/state/key_group.ts";
export type {
  AggregateFunction,
  AggregatingState,
  AppendingState,
  ListState,
  MapState,
  ReducingState,
  State,
  ValueState,
} from "./core/state/state.ts";
export {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from "./core/state/descriptors.ts";
export type { AnyStateDescriptor, StateKind } from "./core/state/descriptors.ts";
export { StateTtlConfig, StateTtlConfigBuilder } from "./core/state/ttl.ts";
export type {
  IncrementalCleanup,
  TtlCleanupStrategies,
  TtlStateVisibility,
  TtlTimeCharacteristic,
  TtlTimeProvider,
  TtlUpdateType,
} from "./core/state/ttl.ts";
export type {
  KeyedBackendOptions,
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  NamespacedState,
  RawSnapshotSource,
  SegmentRef,
  SnapshotStorage,
  StateBackend,
  StateFor,
} from "./core/state/backend.ts";
export { OperatorStateStore } from "./core/state/operator_state.ts";
export type {
  OperatorStateEntry,
  OperatorStateMode,
  OperatorStateSnapshot,
} from "./core/state/operator_state.ts";
export type { StateQueryResult } from "./core/state/queryable.ts";
export type { StateMeta, StateSchemas } from "./core/state/state_keys.ts";
export { HeapKeyedStateBackend, HeapStateBackend } from "./core/state/heap/heap_backend.ts";
export { LsmKeyedStateBackend, LsmStateBackend } from "./core/state/lsm/lsm_backend.ts";
export type { LsmStateBackendOptions } from "./core/state/lsm/lsm_backend.ts";
export { ManualClock, SystemClock } from "./core/runtime/clock.ts";
export type { Clock } from "./core/runtime/clock.ts";
export { OutputTag } from "./core/runtime/output_tag.ts";
export type { TimeDomain } from "./core/runtime/timers.ts";
export type { ExecutorKind, JobResult } from "./core/runtime/job.ts";
export type { JobClient } from "./core/runtime/job_runner.ts";
export type { KeySelector } from "./core/runtime/operators.ts";
export type {
  PollStatus,
  Source,
  SourceContext,
  SourceOutput,
  SourceReader,
  SplitInfo,
  SplitReader,
} from "./core/connectors/source.ts";
export { isSplitReader } from "./core/connectors/source.ts";
export type {
  EnumeratedSplitReader,
  SplitEnumerator,
  SplitEnumeratorContext,
} from "./core/connectors/split_enumerator.ts";
export { isEnumeratedSplitReader } from "./core/connectors/split_enumerator.ts";
export type { SinkContext, SinkFunction } from "./core/connectors/sink.ts";
export { ArraySource, IterableSource } from "./core/connectors/collection_source.ts";
export { CollectSink, PrintSink } from "./core/connectors/collect_sink.ts";
export { GeneratorSource } from "./core/connectors/generator_source.ts";
export type { GeneratorOptions } from "./core/connectors/generator_source.ts";
export { FileSource, fileSourceEncoding } from "./core/connectors/file_source.ts";
export type { FileSourceEncoding, FileSourceOptions } from "./core/connectors/file_source.ts";
export {
  splitsToPauseOrResume,
  SplitWatermarks,
  WatermarkAlignmentGroup,
} from "./core/connectors/split_watermarks.ts";
export { TextFileSink } from "./core/connectors/file_sink.ts";
export type { TextFileSinkOptions } from "./core/connectors/file_sink.ts";
export { TwoPhaseCommitSink } from "./core/connectors/two_phase_commit_sink.ts";
export { ExactlyOnceFileSink } from "./core/connectors/exactly_once_file_sink.ts";
export type {
  ExactlyOnceFileSinkOptions,
  FileRollingPolicy,
} from "./core/connectors/exactly_once_file_sink.ts";
export {
  BasePathBucketAssigner,
  type BucketAssigner,
  type BucketAssignerContext,
  DateTimeBucketAssigner,
} from "./core/connectors/bucket_assigners.ts";
export {
  KafkaConsumer,
  KafkaDeserializers,
  KafkaError,
  KafkaProducer,
  KafkaSerializers,
  KafkaSink,
  KafkaSource,
  kafkaSplitOwner,
} from "./core/connectors/kafka/mod.ts";
export type {
  ConsumedRecord,
  DeliveryGuarantee,
  KafkaSinkOptions,
  KafkaSourceOptions,
  StartingOffsets,
} from "./core/connectors/kafka/mod.ts";
export type {
  BroadcastContext,
  BroadcastProcessFunction,
  CheckpointedFunction,
  CheckpointListener,
  CoFlatMapFunction,
  Collector,
  CoMapFunction,
  CoProcessFunction,
  FilterFunction,
  FlatMapFunction,
  FunctionInitializationContext,
  FunctionSnapshotContext,
  KeyedProcessContext,
  KeyedProcessFunction,
  MapFunction,
  OnTimerContext,
  ProcessContext,
  ProcessFunction,
  ReadOnlyBroadcastContext,
  ReadOnlyBroadcastState,
  RichFunction,
  RuntimeContext,
  SyncVoid,
  TimerService,
} from "./core/dataflow/functions.ts";
export {
  BroadcastConnectedStream,
  BroadcastStream,
  ConnectedStreams,
  DataStream,
  DataStreamSink,
  KeyedStream,
} from "./core/dataflow/data_stream.ts";
export type { CollectOptions, GraphBuilder, OperatorOptions } from "./core/dataflow/data_stream.ts";
export { AsyncDataStream } from "./core/dataflow/async_data_stream.ts";
export { AsyncRetryStrategies } from "./core/dataflow/async_function.ts";
export type {
  AsyncFunction,
  AsyncRetryStrategy,
  RetryPredicates,
  RichAsyncFunction,
} from "./core/dataflow/async_function.ts";
export { AsyncTimeoutError } from "./core/runtime/async_wait_operator.ts";
export { MetricGroup } from "./core/runtime/metric_group.ts";
export type {
  Counter,
  Histogram,
  HistogramStatistics,
  MetricSample,
} from "./core/runtime/metric_group.ts";
export { StreamEnvironment } from "./core/dataflow/environment.ts";
export type {
  AdminOptions,
  CheckpointingOptions,
  EnvironmentConfig,
} from "./core/dataflow/environment.ts";
export { parseJobFlags } from "./core/dataflow/flags.ts";
export type { FlagOptions, FlagValues, JobFlags, StateBackendName } from "./core/dataflow/flags.ts";
export { runMain } from "./core/dataflow/run_main.ts";
export { exitStatusOf } from "./core/exit_status.ts";
export type { ExitStatus } from "./core/exit_status.ts";
export { DenoCheckpointFs } from "./core/checkpoint/checkpoint_fs.ts";
export type { CheckpointFs } from "./core/checkpoint/checkpoint_fs.ts";
export type {
  CheckpointConfig,
  CompletedCheckpoint,
  StopOptions,
} from "./core/checkpoint/coordinator.ts";
export type {
  CheckpointHistoryEntry,
  HistoryEntry,
  RestoreHistoryEntry,
} from "./core/checkpoint/history.ts";
export type {
  Manifest,
  OperatorManifest,
  SubtaskManifest,
  TaskCheckpointStats,
} from "./core/checkpoint/manifest.ts";
export { DEFAULT_EXPONENTIAL_DELAY } from "./core/checkpoint/restart_strategy.ts";
export type { RestartStrategy } from "./core/checkpoint/restart_strategy.ts";
export type { AttemptFailure } from "./core/checkpoint/failure_classifier.ts";
export { GlobalWindow, TimeWindow } from "./core/time/window.ts";
export type { Window } from "./core/time/window.ts";
export {
  BoundedOutOfOrdernessWatermarks,
  DEFAULT_WATERMARK_INTERVAL_MS,
  WatermarkStrategy,
  WatermarksWithIdleness,
} from "./core/time/watermark_strategy.ts";
export type {
  TimestampAssigner,
  WatermarkAlignment,
  WatermarkGenerator,
  WatermarkGeneratorContext,
  WatermarkOutput,
} from "./core/time/watermark_strategy.ts";
export {
  EventTimeSessionWindows,
  GlobalWindows,
  ProcessingTimeSessionWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
} from "./core/time/window_assigners.ts";
export type {
  SessionGapExtractor,
  WindowAssigner,
  WindowAssignerContext,
} from "./core/time/window_assigners.ts";
export {
  ContinuousEventTimeTrigger,
  ContinuousProcessingTimeTrigger,
  CountTrigger,
  DeltaTrigger,
  EventTimeTrigger,
  NeverTrigger,
  ProcessingTimeoutTrigger,
  ProcessingTimeTrigger,
  PurgingTrigger,
} from "./core/time/triggers.ts";
export type {
  DeltaFunction,
  OnMergeContext,
  Trigger,
  TriggerContext,
  TriggerResult,
} from "./core/time/triggers.ts";
export { CountEvictor, DeltaEvictor, TimeEvictor } from "./core/time/evictors.ts";
export type { Evictor, EvictorContext, TimestampedValue } from "./core/time/evictors.ts";
export type {
  AllWindowFunction,
  KeyedStateStore,
  ProcessAllWindowFunction,
  ProcessWindowContext,
  ProcessWindowFunction,
  ReduceFunction,
  WindowFunction,
} from "./core/time/window_functions.ts";
export { AllWindowedStream, WindowedStream } from "./core/time/windowed_stream.ts";
export type { WindowStateOptions } from "./core/time/windowed_stream.ts";
export {
  CoGroupedStreams,
  CoGroupEqualTo,
  CoGroupWhere,
  CoGroupWithWindow,
} from "./core/time/co_grouped_streams.ts";
export type { TaggedUnion } from "./core/time/co_grouped_streams.ts";
export {
  JoinedStreams,
  JoinEqualTo,
  JoinWhere,
  JoinWithWindow,
} from "./core/time/joined_streams.ts";
export type {
  CoGroupFunction,
  FlatJoinFunction,
  JoinFunction,
  ProcessJoinContext,
  ProcessJoinFunction,
} from "./core/time/join_functions.ts";
export { IntervalJoin, IntervalJoined } from "./core/time/interval_join.ts";
export type { IntervalJoinOptions } from "./core/time/interval_join.ts";
export { RegularJoin } from "./core/dataflow/regular_join.ts";
export type { RegularJoinOptions } from "./core/dataflow/regular_join.ts";
