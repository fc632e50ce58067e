/**
 * Restoring: which checkpoint to restore (`--restore latest` falls back past
 * damaged checkpoints and says so), and how a manifest's state maps onto the
 * operators of the job being started — by uid, with operator state
 * redistributed and keyed state handed out by key-group range (pure).
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { KeyedStateHandle } from "../state/backend.ts";
import type { KeyGroupRange } from "../state/key_group.ts";
import { type OperatorStateSnapshot, redistributeOperatorState } from "../state/operator_state.ts";
import { decodeOperatorState, type Manifest } from "./manifest.ts";
import { type CheckpointStorage, type LoadedManifest, loadManifest } from "./storage.ts";

/** An operator subtask of the job being started. */
export interface RestoringOperator {
  /** Operator uid. */
  readonly uid: string;
  /** Its parallelism in this job. */
  readonly parallelism: number;
  /** Subtask index. */
  readonly subtaskIndex: number;
  /** Key groups this subtask will own. */
  readonly keyGroupRange: KeyGroupRange;
}

/** What one operator subtask restores. */
export interface OperatorRestore {
  /** Operator state (redistributed). */
  readonly operatorState: OperatorStateSnapshot;
  /** Keyed state handles overlapping its key groups. */
  readonly keyed: KeyedStateHandle[];
}

/**
 * Whether a source's saved state is splits only (split readers keep their
 * splits as union state and rescale); a single reader position cannot move.
 */
function keepsSplits(
  subtasks: readonly {
    operatorState: Manifest["operators"][string]["subtasks"][number]["operatorState"];
  }[],
): boolean {
  return subtasks.every((s) =>
    !(decodeOperatorState(s.operatorState)["source-position"]?.items.length)
  );
}

function overlaps(a: KeyGroupRange, b: KeyGroupRange): boolean {
  return a.start <= b.end && b.start <= a.end;
}

/**
 * Maps a manifest onto operator subtasks. Throws `CheckpointError` when the
 * key groups differ, a source that keeps a single position (not splits) changed
 * its parallelism, or state has no operator
 * (unless `allowNonRestoredState`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planRestore } from "./restore.ts";
 * const manifest = {
 *   format: 1, kind: "checkpoint", checkpointId: 1, jobName: "j", triggeredAt: 0, completedAt: 0,
 *   maxParallelism: 128, stateBackend: "heap", mode: "exactly-once", segmentDir: "../shared",
 *   operators: {}, segments: {}, stats: { durationMs: 0, stateSize: 0, checkpointedSize: 0, tasks: [] },
 * } as const;
 * const plan = planRestore(manifest, 128, [], false);
 * assert.ok(plan.size === 0);
 * ```
 */
export function planRestore(
  manifest: Manifest,
  maxParallelism: number,
  operators: readonly RestoringOperator[],
  allowNonRestoredState: boolean,
): Map<string, OperatorRestore[]> {
  const where = `${manifest.kind} ${manifest.checkpointId}`;
  if (manifest.maxParallelism !== maxParallelism) {
    throw new CheckpointError(
      `Cannot restore ${where}: it has ${manifest.maxParallelism} key groups, the job has ` +
        `maxParallelism ${maxParallelism}; key groups cannot change`,
    );
  }
  const byUid = new Map<string, RestoringOperator[]>();
  for (const op of operators) byUid.set(op.uid, [...(byUid.get(op.uid) ?? []), op]);
  const unmatched = Object.keys(manifest.operators).filter((uid) => !byUid.has(uid));
  const withState = unmatched.filter((uid) =>
    manifest.operators[uid]!.subtasks.some((s) =>
      (s.keyed?.segments.length ?? 0) > 0 || Object.keys(s.operatorState).length > 0
    )
  );
  if (withState.length > 0 && !allowNonRestoredState) {
    throw new CheckpointError(
      `Cannot restore ${where}: it holds state of operator(s) ${
        withState.map((u) => `"${u}"`).join(", ")
      } that the job does not have (set their uid, or pass --allow-non-restored-state)`,
    );
  }
  const plan = new Map<string, OperatorRestore[]>();
  for (const [uid, subtasks] of byUid) {
    const saved = manifest.operators[uid];
    if (!saved) continue;
    const parallelism = subtasks[0]!.parallelism;
    if (saved.source && saved.parallelism !== parallelism && !keepsSplits(saved.subtasks)) {
      throw new CheckpointError(
        `Cannot restore ${where}: source "${uid}" ran with parallelism ${saved.parallelism}, ` +
          `the job gives it ${parallelism}; set the source's parallelism to ${saved.parallelism}`,
      );
    }
    const opStates = redistributeOperatorState(
      [...saved.subtasks].sort((a, b) => a.index - b.index).map((s) =>
        decodeOperatorState(s.operatorState)
      ),
      parallelism,
    );
    const restores: OperatorRestore[] = [];
    for (const sub of [...subtasks].sort((a, b) => a.subtaskIndex - b.subtaskIndex)) {
      restores[sub.subtaskIndex] = {
        operatorState: opStates[sub.subtaskIndex] ?? {},
        keyed: saved.subtasks
          .map((s) => s.keyed)
          .filter((k): k is KeyedStateHandle =>
            k !== undefined && overlaps(k.keyGroupRange, sub.keyGroupRange)
          ),
      };
    }
    plan.set(uid, restores);
  }
  return plan;
}

/**
 * Finds what `--restore` names: `"latest"` is the newest checkpoint whose
 * manifest and segments are intact (and not in `skip`: found damaged while
 * restoring), falling back past damaged ones (each reported through `log`);
 * `undefined` when there is none. A path must be
 * intact, or a `CheckpointError` names what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointStorage } from "./storage.ts";
 * import { resolveRestore } from "./restore.ts";
 * const dir = Deno.makeTempDirSync();
 * const found = resolveRestore(new CheckpointStorage(dir), "latest", () => {});
 * assert.ok(found === undefined);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function resolveRestore(
  storage: CheckpointStorage,
  target: string,
  log: (line: string) => void,
  skip: ReadonlySet<number> = new Set(),
): LoadedManifest | undefined {
  if (target !== "latest") return loadManifest(storage.fs, target, true);
  const ids = storage.completedIds().reverse();
  const skipped: string[] = [];
  for (const id of ids) {
    if (skip.has(id)) {
      skipped.push(`checkpoint ${id} is damaged`);
      continue;
    }
    let loaded: LoadedManifest;
    try {
      loaded = storage.loadCheckpoint(id);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      skipped.push(why);
      log(`checkpoint ${id} cannot be restored (${why}); trying an older one`);
      continue;
    }
    const problems = storage.verify(loaded);
    if (problems.length === 0) {
      if (skipped.length > 0) log(`restoring checkpoint ${id}, the newest intact one`);
      return loaded;
    }
    const why = `Cannot restore checkpoint ${id}: ${problems.join("; ")}`;
    skipped.push(why);
    log(`${why}; trying an older one`);
  }
  if (skipped.length > 0) {
    throw new CheckpointError(
      `No intact checkpoint in ${storage.paths.root}: ${skipped.join(" | ")}`,
    );
  }
  return undefined;
}
