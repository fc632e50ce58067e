/**
 * Connectors: the {@linkcode Source} and {@linkcode SinkFunction} contracts
 * and the built-in sources (collections, generator, text files) and sinks
 * (collect, print, text files).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArraySource } from "@weir/weir";
 * assert.ok(new ArraySource([1]).name === "array");
 * ```
 *
 * @module
 */
export * from "./source.ts";
export * from "./split_enumerator.ts";
export * from "./sink.ts";
export * from "./collection_source.ts";
export * from "./collect_sink.ts";
export * from "./generator_source.ts";
export * from "./file_source.ts";
export * from "./split_watermarks.ts";
export * from "./file_sink.ts";
export * from "./two_phase_commit_sink.ts";
export * from "./exactly_once_file_sink.ts";
