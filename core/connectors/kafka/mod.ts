/**
 * Kafka connectors over librdkafka (through Deno's FFI; run with
 * `--allow-ffi`): {@linkcode KafkaSource}, {@linkcode KafkaSink} and the
 * small clients they use, {@linkcode KafkaProducer} and {@linkcode KafkaConsumer}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kafkaSplitOwner } from "@weir/weir";
 * assert.ok(kafkaSplitOwner("t", 0, 1) === 0);
 * ```
 *
 * @module
 */
export * from "./kafka_error.ts";
export type { KafkaProperties, PartitionOffset, TopicMetadata } from "./_native.ts";
export * from "./producer.ts";
export * from "./consumer.ts";
export * from "./serde.ts";
export * from "./kafka_source.ts";
export * from "./kafka_sink.ts";
