/**
 * Event time and windows: watermark strategies and generators, the
 * timestamps-and-watermarks operator, windows, window assigners, triggers,
 * evictors, window functions, the window operator and the windowed stream API.
 *
 * @module
 */
export * from "./window.ts";
export * from "./watermark_strategy.ts";
export * from "./timestamps_and_watermarks_operator.ts";
export * from "./window_assigners.ts";
export * from "./triggers.ts";
export * from "./evictors.ts";
export * from "./window_functions.ts";
export * from "./window_operator.ts";
export * from "./windowed_stream.ts";
export * from "./join_functions.ts";
export * from "./co_grouped_streams.ts";
export * from "./joined_streams.ts";
export * from "./interval_join_operator.ts";
export * from "./interval_join.ts";
