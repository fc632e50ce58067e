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
export * from "./core/state/bytes.ts";
export * from "./core/state/serializer.ts";
export * from "./core/state/key_group.ts";
export * from "./core/state/state.ts";
export * from "./core/state/descriptors.ts";
export * from "./core/state/ttl.ts";
export * from "./core/state/ttl_state.ts";
export * from "./core/state/backend.ts";
export * from "./core/state/operator_state.ts";
export * from "./core/state/queryable.ts";
export * from "./core/state/heap/mod.ts";
export * from "./core/runtime/clock.ts";
export * from "./core/runtime/output_tag.ts";
export type { TimeDomain } from "./core/runtime/timers.ts";
export type { JobResult } from "./core/runtime/job.ts";
export type { KeySelector } from "./core/runtime/operators.ts";
export * from "./core/connectors/source.ts";
export * from "./core/connectors/sink.ts";
export * from "./core/connectors/collection_source.ts";
export * from "./core/connectors/collect_sink.ts";
export * from "./core/dataflow/functions.ts";
export * from "./core/dataflow/data_stream.ts";
export * from "./core/dataflow/environment.ts";
export * from "./core/dataflow/flags.ts";
export * from "./core/connectors/generator_source.ts";
export * from "./core/connectors/file_source.ts";
export * from "./core/connectors/file_sink.ts";
export * from "./core/state/state_keys.ts";
export * from "./core/checkpoint/mod.ts";
export * from "./core/admin/mod.ts";
export * from "./core/connectors/two_phase_commit_sink.ts";
export * from "./core/connectors/exactly_once_file_sink.ts";
export * from "./core/state/lsm/mod.ts";
export * from "./core/time/mod.ts";
export * from "./core/dataflow/run_main.ts";
