/**
 * Restoring: which checkpoint to restore (`--restore latest` falls back past
 * damaged checkpoints and says so, and refuses to in exactly-once mode when
 * their output was committed), and how a manifest's state maps onto the
 * operators of the job being started — by uid, with operator state
 * redistributed and keyed state handed out by key-group range (pure).
 *
 * @module
 */
import { CheckpointError, IncompatibleStateError } from "../errors.ts";
import type { KeyedStateHandle } from "../state/backend.ts";
import type { KeyGroupRange } from "../state/key_group.ts";
import type { Serializer } from "../state/serializer.ts";
import { formatSchema, resolveSchemaCompatibility, schemaOf } from "../state/serializer_schema.ts";
import { type OperatorStateSnapshot, redistributeOperatorState } from "../state/operator_state.ts";
import { decideFallback, type SkippedRecoveryPoint } from "./fallback.ts";
import { vanishedCheckpoints, vanishedReason } from "./history.ts";
import { nameBasedUid } from "../runtime/graph.ts";
import {
  decodeOperatorState,
  hasPendingTransactions,
  type Manifest,
  type OperatorManifest,
} from "./manifest.ts";
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
  /** The id of the serializer its keys are stored with (keyed operators), else null. */
  readonly keySerializer: string | null;
  /** That serializer, to check it reads the snapshot's keys as they are (its schema). */
  readonly keySerializerInstance?: Serializer<unknown>;
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
 * The key groups a job restoring `manifest` runs with: the snapshot's when
 * the script gave no `maxParallelism` (its default follows the parallelism,
 * so restoring at a parallelism past 85 would otherwise ask for 256 key
 * groups where the state has 128), as Flink takes the state's when none is
 * configured; else the one given, which {@linkcode planRestore} checks.
 * Throws `CheckpointError` when the job's parallelism exceeds the snapshot's
 * key groups: each subtask needs one at least, and they cannot change.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { restoredMaxParallelism } from "./restore.ts";
 * const manifest = { kind: "checkpoint", checkpointId: 3, maxParallelism: 128 } as const;
 * const job = { parallelism: 100, maxParallelism: 256, maxParallelismGiven: false };
 * assert.equal(restoredMaxParallelism(job, manifest), 128);
 * assert.equal(restoredMaxParallelism({ ...job, maxParallelismGiven: true }, manifest), 256);
 * assert.throws(() => restoredMaxParallelism({ ...job, parallelism: 200 }, manifest), /128 key groups/);
 * ```
 */
export function restoredMaxParallelism(
  job: {
    readonly parallelism: number;
    readonly maxParallelism: number;
    readonly maxParallelismGiven?: boolean;
  },
  manifest: Pick<Manifest, "kind" | "checkpointId" | "maxParallelism">,
): number {
  if (job.maxParallelismGiven) return job.maxParallelism;
  if (job.parallelism > manifest.maxParallelism) {
    throw new CheckpointError(
      `Cannot restore ${manifest.kind} ${manifest.checkpointId} at parallelism ${job.parallelism}: ` +
        `it has ${manifest.maxParallelism} key groups, and a subtask needs one at least; key ` +
        `groups cannot change: run the job at parallelism ${manifest.maxParallelism} or less`,
    );
  }
  return manifest.maxParallelism;
}

/** An operator of the job being started whose uid weir generated (none set by the user). */
export interface GeneratedUidOperator {
  /** The uid generated for it (`operator-3`). */
  readonly uid: string;
  /** Its position in the job (the transformation's id). */
  readonly id: number;
  /** Its name. */
  readonly name: string;
}

/**
 * `manifest` with the state that earlier weir versions kept under a uid made
 * from an operator's name (`count-3`, see `nameBasedUid`) moved under the uid
 * generated now for the operator at that position (`operator-3`), so their
 * snapshots restore into the same job and its next checkpoint keeps the state
 * under the new uid. An entry moves only when its uid is exactly the name-based
 * form of the operator's name now, or of the name the snapshot recorded for it
 * (renamed since, or a default name that changed), the new uid has no entry, and
 * no operator of the job has the old uid; two such entries for one operator
 * are left alone (the restore then names the state it has no operator for).
 * `log` names each entry moved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adoptNameBasedUids } from "./restore.ts";
 * const op = { name: "Count", parallelism: 1, source: false, subtasks: [] };
 * const manifest = { operators: { "count-3": op } } as never;
 * const adopted = adoptNameBasedUids(manifest, [{ uid: "operator-3", id: 3, name: "Tally" }], new Set());
 * assert.deepEqual(Object.keys(adopted.operators), ["operator-3"]);
 * ```
 */
export function adoptNameBasedUids(
  manifest: Manifest,
  generated: readonly GeneratedUidOperator[],
  jobUids: ReadonlySet<string>,
  log: (line: string) => void = () => {},
): Manifest {
  let operators: Record<string, OperatorManifest> | undefined;
  for (const g of generated) {
    const ops = operators ?? manifest.operators;
    if (Object.hasOwn(ops, g.uid)) continue;
    const fromName = nameBasedUid(g.name, g.id);
    const candidates = Object.entries(ops)
      .filter(([uid, op]) =>
        !jobUids.has(uid) && (uid === fromName || uid === nameBasedUid(op.name, g.id))
      )
      .map(([uid]) => uid);
    const old = candidates.includes(fromName!)
      ? fromName!
      : candidates.length === 1
      ? candidates[0]!
      : undefined;
    if (old === undefined) continue;
    operators ??= { ...manifest.operators };
    operators[g.uid] = operators[old]!;
    delete operators[old];
    log(
      `${manifest.kind} ${manifest.checkpointId}: restoring the state of operator "${old}" ` +
        `(a uid made from its name by an earlier weir) as "${g.uid}"`,
    );
  }
  return operators ? { ...manifest, operators } : manifest;
}

/**
 * Maps a manifest onto operator subtasks. Throws `CheckpointError` when the
 * key groups differ, a source that keeps a single position (not splits) changed
 * its parallelism, or state has no operator or keyed state's operator is no
 * longer keyed (unless `allowNonRestoredState`: then `log` names what is
 * dropped); `IncompatibleStateError` when a keyed
 * operator's key serializer changed (another id, or a schema it does not read
 * as it is).
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
  log: (line: string) => void = () => {},
): Map<string, OperatorRestore[]> {
  const where = `${manifest.kind} ${manifest.checkpointId}`;
  if (manifest.maxParallelism !== maxParallelism) {
    throw new CheckpointError(
      `Cannot restore ${where}: it has ${manifest.maxParallelism} key groups, the job has ` +
        `maxParallelism ${maxParallelism}; key groups cannot change: run the job with ` +
        `--max-parallelism ${manifest.maxParallelism} (maxParallelism in ` +
        `StreamEnvironment.create), or with neither (a restore then takes the snapshot's), ` +
        `at any parallelism up to it`,
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
  // As Flink logs each operator state it skips: what the flag dropped must show somewhere.
  if (withState.length > 0) {
    log(
      `${where}: dropping the state of operator(s) ${
        withState.map((u) => `"${u}"`).join(", ")
      }, which the job does not have (--allow-non-restored-state)`,
    );
  }
  const plan = new Map<string, OperatorRestore[]>();
  for (const [uid, subtasks] of byUid) {
    const saved = manifest.operators[uid];
    if (!saved) continue;
    const parallelism = subtasks[0]!.parallelism;
    const keySerializer = subtasks[0]!.keySerializer;
    const hasKeyedState = saved.subtasks.some((s) => (s.keyed?.segments.length ?? 0) > 0);
    if (
      saved.keySerializer !== undefined && keySerializer !== null &&
      saved.keySerializer !== keySerializer && hasKeyedState
    ) {
      // Keyed state is stored under each key's serialized bytes and key group: read with
      // another serializer, no key would be found again (Flink refuses it too).
      throw new IncompatibleStateError(
        `Cannot restore ${where}: operator "${uid}" keeps its keyed state under keys written ` +
          `by the key serializer "${saved.keySerializer}", the job keys it with ` +
          `"${keySerializer}"; keys cannot change their serializer (give keyBy the same one)`,
      );
    }
    if (keySerializer === null && hasKeyedState) {
      // An operator without a keyed input has no keyed backend: its keyed state would be
      // dropped from this run and every later snapshot, as state of a removed operator.
      if (!allowNonRestoredState) {
        throw new CheckpointError(
          `Cannot restore ${where}: it holds keyed state of operator "${uid}", which is not ` +
            `keyed in the job (its input has no keyBy), so that state would be dropped; key its ` +
            `input as before, or pass --allow-non-restored-state to drop it`,
        );
      }
      log(
        `${where}: dropping the keyed state of operator "${uid}", which is not keyed in the ` +
          `job (--allow-non-restored-state)`,
      );
    }
    const keyImpl = subtasks[0]!.keySerializerInstance;
    if (saved.keySchema !== undefined && keyImpl !== undefined && hasKeyedState) {
      // The same id in another version writes other bytes (or fails to read them): keys are
      // never migrated, so only a serializer that reads them as they are may restore them,
      // as Flink requires its key serializer to be compatible as is.
      const c = resolveSchemaCompatibility(keyImpl, saved.keySchema);
      if (c.type !== "compatibleAsIs") {
        throw new IncompatibleStateError(
          `Cannot restore ${where}: operator "${uid}" keeps its keyed state under keys written ` +
            `by the key serializer ${formatSchema(saved.keySchema)}, the job keys it with ` +
            `${formatSchema(schemaOf(keyImpl))}: ${
              c.type === "incompatible" ? c.reason : "keys cannot be migrated"
            }; keys must be read as they were written (give keyBy the serializer of the snapshot)`,
        );
      }
    }
    if (saved.source && saved.parallelism !== parallelism && !keepsSplits(saved.subtasks)) {
      throw new CheckpointError(
        `Cannot restore ${where}: source "${uid}" ran with parallelism ${saved.parallelism}, ` +
          `the job gives it ${parallelism}; set the source's parallelism to ${saved.parallelism}`,
      );
    }
    const opStates = redistributeOperatorState(
      [...saved.subtasks].sort((a, b) => a.index - b.index).map((s) => {
        try {
          return decodeOperatorState(s.operatorState);
        } catch (e) {
          throw new CheckpointError(
            `Cannot restore ${where}: operator "${uid}" subtask ${s.index}: ${
              (e as Error).message
            }`,
            { cause: e },
          );
        }
      }),
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

/** How `--restore latest` treats a fallback past damaged snapshots. */
export interface FallbackPolicy {
  /** The job's checkpointing mode. */
  readonly mode: "exactly-once" | "at-least-once";
  /** `--allow-duplicate-output`: fall back past committed output anyway. */
  readonly allowDuplicateOutput: boolean;
}

/** Whether completing `m` committed transactions (older manifests: whether it lists any). */
function transactionalOutput(m: Manifest): boolean {
  return m.transactionalOutput ?? hasPendingTransactions(m);
}

/**
 * Finds what `--restore` names: `"latest"` is the newest recovery point — a
 * checkpoint, or a stop-with-savepoint's savepoint in `DIR/savepoints` (its
 * output was committed when the job stopped) — whose manifest and segments
 * are intact (and not in `skip`: found damaged while restoring), falling back
 * past damaged ones (each reported through `log`); `undefined` when there is
 * none. A plain savepoint is not a recovery point: its completion commits
 * nothing. With a `policy` in exactly-once mode, a fallback past a snapshot
 * whose output was committed throws a `CheckpointError` that says so, unless
 * the policy allows duplicates (then the result's `acceptedDuplicates` says
 * what will be emitted again). A path must be intact, or a `CheckpointError`
 * names what is wrong.
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
  policy?: FallbackPolicy,
): LoadedManifest | undefined {
  if (target !== "latest") return loadManifest(storage.fs, target, true);
  const completed = storage.completedIds();
  const vanished = vanishedCheckpoints(storage.paths.root, completed);
  const candidates: { id: number; kind: "checkpoint" | "savepoint"; load(): LoadedManifest }[] = [
    ...completed.map((id) => ({
      id,
      kind: "checkpoint" as const,
      load: () => storage.loadCheckpoint(id),
    })),
    // Completed once (the history says so, and its output was committed) but gone since:
    // falling back past it must count as past a damaged one, not go unnoticed.
    ...vanished.map((id) => ({
      id,
      kind: "checkpoint" as const,
      load: (): LoadedManifest => {
        throw new CheckpointError(vanishedReason(storage.paths.root, id));
      },
    })),
    ...storage.savepoints().filter((s) => s.stop).map((s) => ({
      id: s.id,
      kind: "savepoint" as const,
      load: () => storage.load(s.dir),
    })),
  ].sort((a, b) => b.id - a.id);
  const skipped: SkippedRecoveryPoint[] = [];
  const readable = (c: (typeof candidates)[number]): Manifest | undefined => {
    try {
      return c.load().manifest;
    } catch {
      return undefined;
    }
  };
  for (const c of candidates) {
    const what = `${c.kind} ${c.id}`;
    if (skip.has(c.id)) {
      const m = readable(c);
      skipped.push({
        id: c.id,
        kind: c.kind,
        why: `${what} is damaged`,
        transactionalOutput: m && transactionalOutput(m),
      });
      continue;
    }
    let loaded: LoadedManifest;
    try {
      loaded = c.load();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      skipped.push({ id: c.id, kind: c.kind, why, transactionalOutput: undefined });
      log(`${what} cannot be restored (${why}); trying an older one`);
      continue;
    }
    const problems = storage.verify(loaded);
    if (problems.length === 0) {
      if (skipped.length === 0) return loaded;
      log(`restoring ${what}, the newest intact one`);
      return applyPolicy(storage, loaded, skipped, policy);
    }
    const why = `Cannot restore ${what}: ${problems.join("; ")}`;
    skipped.push({
      id: c.id,
      kind: c.kind,
      why,
      transactionalOutput: transactionalOutput(loaded.manifest),
    });
    log(`${why}; trying an older one`);
  }
  if (policy && skipped.length > 0 && skipped.every((s) => vanished.includes(s.id))) {
    // Every checkpoint is gone, none damaged: nothing to repair, so starting from the input
    // again is the one way on, a fallback past committed output like any other.
    const decision = decideFallback({
      dir: storage.paths.root,
      mode: policy.mode,
      restoring: undefined,
      skipped,
      allowDuplicateOutput: policy.allowDuplicateOutput,
    });
    if (decision.kind === "refuse") throw new CheckpointError(decision.message);
    if (decision.kind === "accept-duplicates") log(decision.message);
    return undefined;
  }
  if (skipped.length > 0) {
    throw new CheckpointError(
      `No intact checkpoint in ${storage.paths.root}: ${
        skipped.map((s) => `${s.kind} ${s.id}: ${s.why}`).join(" | ")
      }`,
    );
  }
  return undefined;
}

function applyPolicy(
  storage: CheckpointStorage,
  loaded: LoadedManifest,
  skipped: SkippedRecoveryPoint[],
  policy: FallbackPolicy | undefined,
): LoadedManifest {
  if (!policy) return loaded;
  const m = loaded.manifest;
  const decision = decideFallback({
    dir: storage.paths.root,
    mode: policy.mode,
    restoring: { id: m.checkpointId, kind: m.kind, transactionalOutput: transactionalOutput(m) },
    skipped,
    allowDuplicateOutput: policy.allowDuplicateOutput,
  });
  if (decision.kind === "refuse") throw new CheckpointError(decision.message);
  if (decision.kind === "restore") return loaded;
  return {
    ...loaded,
    acceptedDuplicates: { skipped: decision.skipped, message: decision.message },
  };
}
