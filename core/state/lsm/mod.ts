/**
 * The LSM state backend.
 *
 * @module
 */
export * from "./lsm_backend.ts";
export { readHandleEntries } from "./handle_reader.ts";
