/**
 * weir: a Deno-first stateful stream processor. Jobs are plain Deno scripts
 * that build keyed dataflows (Flink's DataStream model) with synchronous keyed
 * state, timers, side outputs and parallel subtasks over key groups.
 *
 * @example Count words
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, Serializers, StreamEnvironment, ValueStateDescriptor } from "@weir/weir";
 * import type { KeyedProcessFunction, ValueState } from "@weir/weir";
 *
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * let count!: ValueState<number>;
 * const counter: KeyedProcessFunction<string, string, string> = {
 *   open(ctx) {
 *     count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
 *   },
 *   processElement(word, _ctx, o) {
 *     const n = count.value()! + 1;
 *     count.update(n);
 *     o.collect(`${word}\t${n}`);
 *   },
 * };
 * env.fromCollection(["a b", "a"])
 *   .flatMap((line: string, o) => line.split(/\s+/).forEach((w) => o.collect(w)))
 *   .keyBy((w) => w)
 *   .process(counter)
 *   .addSink(out);
 * await env.execute("word count");
 * assert.ok(out.values.join() === "a\t1,b\t1,a\t2");
 * ```
 *
 * @module
 */
export * from "./core/errors.ts";
export { ByteReader, ByteWriter } from "./core/state/bytes.ts";
export { deserialize, serialize, Serializers } from "./core/state/serializer.ts";
export type { SerializedType, Serializer } from "./core/state/serializer.ts";
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
export type { StateMeta } from "./core/state/state_keys.ts";
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
} from "./core/connectors/source.ts";
export type { SinkContext, SinkFunction } from "./core/connectors/sink.ts";
export { ArraySource, IterableSource } from "./core/connectors/collection_source.ts";
export { CollectSink, PrintSink } from "./core/connectors/collect_sink.ts";
export { GeneratorSource } from "./core/connectors/generator_source.ts";
export type { GeneratorOptions } from "./core/connectors/generator_source.ts";
export { FileSource, fileSourceEncoding } from "./core/connectors/file_source.ts";
export type { FileSourceEncoding, FileSourceOptions } from "./core/connectors/file_source.ts";
export { TextFileSink } from "./core/connectors/file_sink.ts";
export type { TextFileSinkOptions } from "./core/connectors/file_sink.ts";
export { TwoPhaseCommitSink } from "./core/connectors/two_phase_commit_sink.ts";
export { ExactlyOnceFileSink } from "./core/connectors/exactly_once_file_sink.ts";
export type { ExactlyOnceFileSinkOptions } from "./core/connectors/exactly_once_file_sink.ts";
export type {
  BroadcastContext,
  BroadcastProcessFunction,
  CheckpointedFunction,
  CheckpointListener,
  Collector,
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
export type { GraphBuilder, OperatorOptions } from "./core/dataflow/data_stream.ts";
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
export { createAdminApp } from "./core/admin/app.ts";
export type { AdminAppOptions } from "./core/admin/app.ts";
export { checkAdminExposure, serveAdmin } from "./core/admin/server.ts";
export type { AdminServer, AdminServerOptions } from "./core/admin/server.ts";
export { jobClientRuntime } from "./core/admin/runtime.ts";
export type {
  AdminJob,
  AdminRuntime,
  InProgressCheckpoint,
  JobStatus,
  OperationResult,
  SegmentInfo,
  StateQueryOutcome,
  VertexInfo,
} from "./core/admin/runtime.ts";
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
  CountTrigger,
  EventTimeTrigger,
  NeverTrigger,
  ProcessingTimeTrigger,
  PurgingTrigger,
} from "./core/time/triggers.ts";
export type {
  OnMergeContext,
  Trigger,
  TriggerContext,
  TriggerResult,
} from "./core/time/triggers.ts";
export { CountEvictor, TimeEvictor } from "./core/time/evictors.ts";
export type { Evictor, EvictorContext, TimestampedValue } from "./core/time/evictors.ts";
export type {
  KeyedStateStore,
  ProcessAllWindowFunction,
  ProcessWindowContext,
  ProcessWindowFunction,
  ReduceFunction,
} from "./core/time/window_functions.ts";
export { AllWindowedStream, WindowedStream } from "./core/time/windowed_stream.ts";
export type { WindowStateOptions } from "./core/time/windowed_stream.ts";
