/**
 * The checkpoint manifest (`_metadata`): JSON with a format version, naming
 * every operator subtask's state and every segment it needs. Small operator
 * state (source positions, pending sink transactions) is stored inline, as
 * Flink stores small state in its `_metadata`.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { KeyedStateHandle } from "../state/backend.ts";
import type { OperatorStateSnapshot } from "../state/operator_state.ts";

/** The manifest format this version writes and reads. */
export const MANIFEST_FORMAT = 1;

/**
 * Per-task statistics of one checkpoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskCheckpointStats } from "@weir/weir";
 * const t: TaskCheckpointStats = {
 *   task: "Map (1/2)", startDelayMs: 1, alignmentMs: 2, syncMs: 3, asyncMs: 4, stateSize: 10,
 *   checkpointedSize: 5,
 * };
 * assert.equal(t.syncMs + t.asyncMs, 7);
 * ```
 */
export interface TaskCheckpointStats {
  /** Task name. */
  readonly task: string;
  /** ms from trigger to this task's barrier. */
  readonly startDelayMs: number;
  /** ms spent aligning barriers. */
  readonly alignmentMs: number;
  /** ms of the synchronous part. */
  readonly syncMs: number;
  /** ms of the asynchronous part. */
  readonly asyncMs: number;
  /** Bytes of state this task references. */
  readonly stateSize: number;
  /** Bytes this checkpoint newly wrote for this task. */
  readonly checkpointedSize: number;
}

/**
 * One operator subtask's snapshot.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SubtaskManifest } from "@weir/weir";
 * const s: SubtaskManifest = { index: 0, operatorState: {} };
 * assert.equal(s.keyed, undefined);
 * ```
 */
export interface SubtaskManifest {
  /** Subtask index. */
  readonly index: number;
  /** Keyed state, for keyed operators. */
  readonly keyed?: KeyedStateHandle;
  /** Operator state, items base64-encoded. */
  readonly operatorState: Record<string, { mode: string; typeId: string; items: string[] }>;
}

/**
 * One operator's snapshot.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OperatorManifest } from "@weir/weir";
 * const op: OperatorManifest = {
 *   name: "Source", parallelism: 1, source: true, subtasks: [{ index: 0, operatorState: {} }],
 * };
 * assert.equal(op.subtasks.length, op.parallelism);
 * ```
 */
export interface OperatorManifest {
  /** Display name. */
  readonly name: string;
  /** Parallelism at snapshot time. */
  readonly parallelism: number;
  /** Whether the operator is a source (positions cannot be rescaled). */
  readonly source: boolean;
  /** The key serializer's id, for keyed operators (lets tools read keys offline). */
  readonly keySerializer?: string;
  /** Subtasks, by index. */
  readonly subtasks: readonly SubtaskManifest[];
}

/**
 * A completed checkpoint or savepoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Manifest, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir } });
 * env.generate({ generate: (n) => `r${n}`, ratePerSecond: 1000 })
 *   .map((s: string) => s.toUpperCase()).uid("upper");
 * const client = env.executeAsync("upper");
 * const manifest: Manifest = (await client.stopWithSavepoint("sp")).manifest;
 * await client.done;
 * assert.equal(manifest.kind, "savepoint");
 * assert.ok("upper" in manifest.operators);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface Manifest {
  /** Always {@linkcode MANIFEST_FORMAT}. */
  readonly format: number;
  /** Checkpoint or savepoint. */
  readonly kind: "checkpoint" | "savepoint";
  /** The checkpoint id (unique in a checkpoint directory, savepoints included). */
  readonly checkpointId: number;
  /** Job name. */
  readonly jobName: string;
  /** When it was triggered (ms since epoch). */
  readonly triggeredAt: number;
  /** When it completed. */
  readonly completedAt: number;
  /** Number of key groups. */
  readonly maxParallelism: number;
  /** The state backend that wrote it. */
  readonly stateBackend: string;
  /** Checkpointing mode. */
  readonly mode: "exactly-once" | "at-least-once";
  /** Where segments live, relative to the manifest's folder (`../shared` or `.`). */
  readonly segmentDir: string;
  /** Operators by uid. */
  readonly operators: Readonly<Record<string, OperatorManifest>>;
  /** Every segment referenced, with its size. */
  readonly segments: Readonly<Record<string, { size: number }>>;
  /**
   * Taken by stop-with-savepoint: its transactions were committed when the
   * job stopped, so it is a recovery point (`--restore latest` considers it).
   */
  readonly stop?: boolean;
  /** Taken by a stop that drained (fired every window and timer first). */
  readonly drained?: boolean;
  /**
   * Sinks pre-committed transactions at this snapshot: completing it commits
   * output, so restoring an older snapshot would emit that output again.
   */
  readonly transactionalOutput?: boolean;
  /** Statistics. */
  readonly stats: {
    readonly durationMs: number;
    readonly stateSize: number;
    readonly checkpointedSize: number;
    readonly tasks: readonly TaskCheckpointStats[];
  };
}

/** The operator-state name under which two-phase-commit sinks keep pending transactions. */
export const PENDING_TRANSACTIONS_STATE = "two-phase-commit-pending";

/**
 * Whether any operator of `m` holds pending two-phase-commit transactions
 * (manifests without {@linkcode Manifest.transactionalOutput} predate the field).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasPendingTransactions } from "./manifest.ts";
 * const sub = (items: string[]) => ({
 *   index: 0,
 *   operatorState: { "two-phase-commit-pending": { mode: "union", typeId: "json", items } },
 * });
 * const op = (items: string[]) => ({ name: "s", parallelism: 1, source: false, subtasks: [sub(items)] });
 * assert.equal(hasPendingTransactions({ operators: { sink: op(["e30="]) } }), true);
 * assert.equal(hasPendingTransactions({ operators: { sink: op([]) } }), false);
 * ```
 */
export function hasPendingTransactions(m: Pick<Manifest, "operators">): boolean {
  return Object.values(m.operators).some((op) =>
    op.subtasks.some((s) => (s.operatorState[PENDING_TRANSACTIONS_STATE]?.items.length ?? 0) > 0)
  );
}

/**
 * `m` with no pending two-phase-commit transactions: what a stop-with-savepoint
 * stores once its commit is done (restoring it must not commit them again).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasPendingTransactions, withoutPendingTransactions } from "./manifest.ts";
 * const m = {
 *   operators: {
 *     sink: {
 *       name: "s", parallelism: 1, source: false,
 *       subtasks: [{ index: 0, operatorState: {
 *         "two-phase-commit-pending": { mode: "union", typeId: "json", items: ["e30="] },
 *       } }],
 *     },
 *   },
 * };
 * assert.equal(hasPendingTransactions(withoutPendingTransactions(m)), false);
 * ```
 */
export function withoutPendingTransactions<M extends Pick<Manifest, "operators">>(m: M): M {
  const operators: Record<string, OperatorManifest> = {};
  for (const [uid, op] of Object.entries(m.operators)) {
    operators[uid] = {
      ...op,
      subtasks: op.subtasks.map((s) => {
        const pending = s.operatorState[PENDING_TRANSACTIONS_STATE];
        if (!pending) return s;
        return {
          ...s,
          operatorState: {
            ...s.operatorState,
            [PENDING_TRANSACTIONS_STATE]: { ...pending, items: [] },
          },
        };
      }),
    };
  }
  return { ...m, operators };
}

function b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function unb64(text: unknown, state: string): Uint8Array {
  let s: string;
  try {
    if (typeof text !== "string") throw new TypeError(`${typeof text}, not a string`);
    s = atob(text);
  } catch (e) {
    throw new CheckpointError(
      `Operator state "${state}" is corrupt: an item is not base64 (${(e as Error).message})`,
      { cause: e },
    );
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Operator state as the manifest stores it. */
export function encodeOperatorState(s: OperatorStateSnapshot): SubtaskManifest["operatorState"] {
  const out: SubtaskManifest["operatorState"] = {};
  for (const [name, e] of Object.entries(s)) {
    out[name] = { mode: e.mode, typeId: e.typeId, items: e.items.map(b64) };
  }
  return out;
}

/** Operator state from the manifest. */
export function decodeOperatorState(m: SubtaskManifest["operatorState"]): OperatorStateSnapshot {
  const out: OperatorStateSnapshot = {};
  for (const [name, e] of Object.entries(m)) {
    const mode = e.mode;
    if (mode !== "split" && mode !== "union" && mode !== "broadcast") {
      throw new CheckpointError(`Operator state "${name}" has an unknown mode "${mode}"`);
    }
    if (!Array.isArray(e.items)) {
      throw new CheckpointError(`Operator state "${name}" is corrupt: its items are not a list`);
    }
    out[name] = { mode, typeId: e.typeId, items: e.items.map((i) => unb64(i, name)) };
  }
  return out;
}

/**
 * Parses and checks a manifest; `where` names it in errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseManifest } from "./manifest.ts";
 * try {
 *   parseManifest("{}", "chk-3/_metadata");
 * } catch (e) {
 *   assert.ok(String(e).includes("chk-3/_metadata"));
 * }
 * ```
 */
export function parseManifest(text: string, where: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`Cannot read ${where}: not valid JSON (${e})`);
  }
  if (typeof m !== "object" || m === null) {
    throw new CheckpointError(`Cannot read ${where}: not a manifest object`);
  }
  if (m.format !== MANIFEST_FORMAT) {
    throw new CheckpointError(
      `Cannot read ${where}: manifest format ${m.format} is not supported (this version reads ${MANIFEST_FORMAT})`,
    );
  }
  for (const field of ["checkpointId", "maxParallelism", "operators", "segments", "segmentDir"]) {
    if (!(field in m)) {
      throw new CheckpointError(`Cannot read ${where}: field "${field}" is missing`);
    }
  }
  return m;
}

/** Serializes a manifest. */
export function formatManifest(m: Manifest): string {
  return JSON.stringify(m, null, 1);
}
