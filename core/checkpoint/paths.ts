/**
 * Every file name of a checkpoint directory, built in one place (pure).
 *
 * ```
 * DIR/chk-<id>/_metadata        manifest, written atomically (temp file, fsync, rename)
 * DIR/shared/<name>.seg         immutable segments, shared between checkpoints
 * DIR/savepoints/<name>/_metadata  a savepoint's manifest
 * DIR/savepoints/<name>/<seg>   its own copies of its segments
 * DIR/.weir-lock                the running job's lock (`LOCK_FILE` in dir_lock.ts)
 * ```
 * A checkpoint without a complete `_metadata` does not exist.
 *
 * @module
 */

/** The manifest's file name inside a checkpoint or savepoint folder. */
export const METADATA_FILE = "_metadata";
/** The shared segment folder's name. */
export const SHARED_DIR = "shared";
/** The savepoints folder's name. */
export const SAVEPOINTS_DIR = "savepoints";

/**
 * `chk-<id>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointDirName, parseCheckpointDirName } from "./paths.ts";
 * assert.ok(checkpointDirName(12) === "chk-12" && parseCheckpointDirName("chk-12") === 12);
 * ```
 */
export function checkpointDirName(id: number): string {
  return `chk-${id}`;
}

/** The id in a `chk-<id>` name, or undefined for any other name. */
export function parseCheckpointDirName(name: string): number | undefined {
  const m = /^chk-(\d{1,15})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Paths of one checkpoint directory. */
export interface CheckpointPaths {
  /** The root. */
  readonly root: string;
  /** `root/shared`. */
  readonly shared: string;
  /** `root/savepoints`. */
  readonly savepoints: string;
  /** `root/chk-<id>`. */
  checkpoint(id: number): string;
  /** `root/chk-<id>/_metadata`. */
  metadata(id: number): string;
  /** `root/savepoints/<name>`. */
  savepoint(name: string): string;
}

/**
 * The paths under a checkpoint directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointPaths } from "./paths.ts";
 * const p = checkpointPaths("/data/ck");
 * assert.ok(p.metadata(3) === "/data/ck/chk-3/_metadata" && p.shared === "/data/ck/shared");
 * ```
 */
export function checkpointPaths(root: string): CheckpointPaths {
  const r = root.replace(/\/+$/, "") || "/";
  return {
    root: r,
    shared: `${r}/${SHARED_DIR}`,
    savepoints: `${r}/${SAVEPOINTS_DIR}`,
    checkpoint: (id) => `${r}/${checkpointDirName(id)}`,
    metadata: (id) => `${r}/${checkpointDirName(id)}/${METADATA_FILE}`,
    savepoint: (name) => `${r}/${SAVEPOINTS_DIR}/${name}`,
  };
}
