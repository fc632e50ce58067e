/**
 * Test utilities for weir jobs and operators (`@weir/weir/testing`).
 *
 * @module
 */
export { ManualClock } from "../runtime/clock.ts";
