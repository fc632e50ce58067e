/**
 * The id of a run's first checkpoint (pure): above every id the checkpoint
 * directory has used, savepoints and failed checkpoints included, so that
 * `chk-<id>`, a savepoint's id and the history never name two snapshots with
 * one id, across savepoints, restarts and restores.
 *
 * @module
 */

/** Ids already in use. */
export interface UsedCheckpointIds {
  /** Completed `chk-<id>` folders. */
  readonly completed: readonly number[];
  /** Savepoints in the directory's savepoints folder. */
  readonly savepoints: readonly number[];
  /** Ids in the checkpoint history (completed and failed, checkpoints and savepoints). */
  readonly history: readonly number[];
  /** The snapshot being restored, from anywhere. */
  readonly restored: number | undefined;
  /** Ids a previous attempt of this process handed out (its next id minus one). */
  readonly previousAttempt: number | undefined;
}

/**
 * One past the highest id in use (1 when none is).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firstCheckpointId } from "./checkpoint_ids.ts";
 * const used = { completed: [1], savepoints: [2], history: [1, 2], restored: 1, previousAttempt: undefined };
 * assert.equal(firstCheckpointId(used), 3);
 * ```
 */
export function firstCheckpointId(used: UsedCheckpointIds): number {
  let max = 0;
  for (const list of [used.completed, used.savepoints, used.history]) {
    for (const id of list) if (id > max) max = id;
  }
  for (const id of [used.restored, used.previousAttempt]) {
    if (id !== undefined && id > max) max = id;
  }
  return max + 1;
}
