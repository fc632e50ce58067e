/**
 * The heap state backend.
 *
 * @module
 */
export * from "./heap_backend.ts";
