/**
 * Whether `--restore latest` (or a restart) may fall back past damaged
 * checkpoints (pure). A newer checkpoint whose completion committed
 * exactly-once output has already made that output visible: restoring an
 * older one replays the records and emits it again. In exactly-once mode such
 * a fallback is refused unless the user accepts duplicates explicitly.
 *
 * @module
 */

/** A recovery point newer than the one chosen, skipped because it is damaged. */
export interface SkippedRecoveryPoint {
  /** Its checkpoint id. */
  readonly id: number;
  /** A checkpoint, or a stop-with-savepoint's savepoint. */
  readonly kind: "checkpoint" | "savepoint";
  /** What is wrong with it. */
  readonly why: string;
  /**
   * Whether its completion committed transactions (from its manifest);
   * undefined when the manifest cannot be read.
   */
  readonly transactionalOutput: boolean | undefined;
}

/** What the decision is made from. */
export interface FallbackFacts {
  /** The checkpoint directory (named in messages). */
  readonly dir: string;
  /** The job's checkpointing mode. */
  readonly mode: "exactly-once" | "at-least-once";
  /** The intact recovery point chosen; undefined: none, the job would start from scratch. */
  readonly restoring:
    | {
      readonly id: number;
      readonly kind: "checkpoint" | "savepoint";
      readonly transactionalOutput: boolean;
    }
    | undefined;
  /** Damaged recovery points newer than `restoring`, newest first. */
  readonly skipped: readonly SkippedRecoveryPoint[];
  /** `--allow-duplicate-output`: fall back anyway. */
  readonly allowDuplicateOutput: boolean;
}

/** What to do. */
export type FallbackDecision =
  /** Nothing committed is skipped (or duplicates are allowed by the mode): go on. */
  | { readonly kind: "restore" }
  /** Stop with this message: the fallback would duplicate committed output. */
  | { readonly kind: "refuse"; readonly message: string }
  /** Go on, saying loudly that output of `skipped` will be emitted again. */
  | { readonly kind: "accept-duplicates"; readonly message: string; readonly skipped: number[] };

/**
 * Decides a fallback. A skipped point whose manifest cannot be read counts as
 * having committed output when the job writes transactional output (as the
 * restored manifest shows), or when nothing intact is left to tell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decideFallback } from "./fallback.ts";
 * const facts = {
 *   dir: "/ck",
 *   mode: "exactly-once" as const,
 *   restoring: { id: 4, kind: "checkpoint" as const, transactionalOutput: true },
 *   skipped: [{ id: 5, kind: "checkpoint" as const, why: "segment x is missing", transactionalOutput: true }],
 *   allowDuplicateOutput: false,
 * };
 * assert.equal(decideFallback(facts).kind, "refuse");
 * assert.equal(decideFallback({ ...facts, allowDuplicateOutput: true }).kind, "accept-duplicates");
 * assert.equal(decideFallback({ ...facts, mode: "at-least-once" }).kind, "restore");
 * ```
 */
export function decideFallback(facts: FallbackFacts): FallbackDecision {
  if (facts.mode !== "exactly-once") return { kind: "restore" };
  const committed = facts.skipped.filter((s) =>
    s.transactionalOutput ?? facts.restoring?.transactionalOutput ?? true
  );
  if (committed.length === 0) return { kind: "restore" };
  const names = committed.map((s) => `${s.kind} ${s.id} (${s.why})`).join("; ");
  const target = facts.restoring
    ? `${facts.restoring.kind} ${facts.restoring.id}`
    : "no checkpoint (starting from the beginning of the input)";
  const ids = committed.map((s) => s.id);
  const what = `the output committed by ${committed.length === 1 ? "" : "each of "}${
    committed.map((s) => `${s.kind} ${s.id}`).join(", ")
  } in ${facts.dir}`;
  if (facts.allowDuplicateOutput) {
    return {
      kind: "accept-duplicates",
      skipped: ids,
      message: `WARNING: restoring ${target} past damaged ${names}; --allow-duplicate-output is ` +
        `set, so ${what} will be emitted AGAIN (exactly-once output is duplicated)`,
    };
  }
  return {
    kind: "refuse",
    message:
      `Refusing to restore ${target}: the newer ${names} ${
        committed.length === 1 ? "is" : "are"
      } damaged, and ${what} is already visible; restoring an older snapshot would emit it ` +
      `again (duplicates in exactly-once output). Repair the damaged snapshot (or put back an ` +
      `intact copy), restore a savepoint with --restore PATH, or pass --allow-duplicate-output ` +
      `to restore ${target} and accept the duplicates`,
  };
}
