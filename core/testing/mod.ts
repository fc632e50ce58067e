/**
 * Test utilities for weir jobs and operators (`@weir/weir/testing`), as
 * Kafka Streams' `TopologyTestDriver` and Flink's operator test harnesses:
 *
 * - Operator harnesses run one user function in its real operator,
 *   synchronously, with a {@linkcode ManualClock}: feed records and
 *   watermarks, move processing time, read outputs, side outputs, keyed state
 *   and pending timers. {@linkcode WindowHarness} does the same for a keyed
 *   window: assigner, trigger, evictor, lateness and window function.
 * - {@linkcode JobTestDriver} runs a whole job on a `ManualClock`, fed by
 *   {@linkcode TestSource}s, and waits until the job is quiet.
 *
 * @module
 */
export { ManualClock } from "../runtime/clock.ts";
export * from "./operator_harness.ts";
export * from "./process_function_harness.ts";
export * from "./keyed_process_function_harness.ts";
export * from "./co_process_function_harness.ts";
export * from "./broadcast_process_function_harness.ts";
export * from "./window_harness.ts";
export * from "./test_source.ts";
export * from "./job_test_driver.ts";
