/**
 * Which checkpoints and segments to delete: a pure function over what is on
 * disk, what the retained checkpoints reference and what the running state
 * backends still use. A segment is deleted only when nothing needs it.
 *
 * @module
 */

/** What the plan is computed from. */
export interface RetentionFacts {
  /** Completed checkpoint ids with the segments each references. */
  readonly completed: ReadonlyMap<number, ReadonlySet<string>>;
  /** How many of the newest completed checkpoints to keep. */
  readonly retain: number;
  /** Segments the running job's backends still use (or are writing). */
  readonly live: ReadonlySet<string>;
  /** Segment files in the shared folder. */
  readonly onDisk: readonly string[];
}

/** What to delete. */
export interface RetentionPlan {
  /** Checkpoints to remove, oldest first. */
  readonly checkpoints: number[];
  /** Segments to remove. */
  readonly segments: string[];
}

/**
 * Keeps the `retain` newest checkpoints; deletes the others, and every
 * segment on disk that no kept checkpoint references and no backend uses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planRetention } from "./retention.ts";
 * const plan = planRetention({
 *   completed: new Map([[1, new Set(["a", "b"])], [2, new Set(["b", "c"])]]),
 *   retain: 1,
 *   live: new Set(["d"]),
 *   onDisk: ["a", "b", "c", "d", "e"],
 * });
 * assert.ok(plan.checkpoints.join() === "1" && plan.segments.join() === "a,e");
 * ```
 */
export function planRetention(facts: RetentionFacts): RetentionPlan {
  const ids = [...facts.completed.keys()].sort((a, b) => a - b);
  const keep = ids.slice(Math.max(0, ids.length - Math.max(1, facts.retain)));
  const drop = ids.slice(0, ids.length - keep.length);
  const needed = new Set<string>(facts.live);
  for (const id of keep) for (const s of facts.completed.get(id)!) needed.add(s);
  return {
    checkpoints: drop,
    segments: facts.onDisk.filter((s) => !needed.has(s)),
  };
}
