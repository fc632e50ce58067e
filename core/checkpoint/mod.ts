/**
 * Checkpoints as immutable segment files plus a manifest: the coordinator,
 * the on-disk layout, retention, restore, restart strategies and failure classification.
 *
 * @module
 */
export * from "./paths.ts";
export * from "./manifest.ts";
export * from "./checkpoint_fs.ts";
export * from "./storage.ts";
export * from "./retention.ts";
export * from "./restore.ts";
export * from "./restart_strategy.ts";
export * from "./failure_classifier.ts";
export * from "./coordinator.ts";
export * from "./history.ts";
export * from "./fallback.ts";
export * from "./checkpoint_ids.ts";
