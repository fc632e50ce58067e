/**
 * The checkpoint manifest (`_metadata`): JSON with a format version, naming
 * every operator subtask's state and every segment it needs. Small operator
 * state (source positions, pending sink transactions) is stored inline, as
 * Flink stores small state in its `_metadata`.
 *
 * Format 2 ends with a `checksum` field (SHA-256 of the file's bytes with the
 * checksum's digits as zeros), so a damaged manifest is found like a damaged
 * segment instead of restoring wrong state. Format 1 (no checksum) is still read.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { KeyedStateHandle } from "../state/backend.ts";
import type { OperatorStateSnapshot } from "../state/operator_state.ts";
import type { StateSchemas } from "../state/state_keys.ts";
import type { SerializerSchema } from "../state/serializer_schema.ts";

/** The manifest format this version writes (it reads this one and 1, which has no checksum). */
export const MANIFEST_FORMAT = 2;

/** Formats this version reads. */
const READABLE_FORMATS: readonly number[] = [1, MANIFEST_FORMAT];

const CHECKSUM_PREFIX = "sha256:";
const ZERO_DIGEST = "0".repeat(64);
// The checksum is the last field, so it is found at the end of the text without parsing.
const CHECKSUM_TAIL = /"checksum": "sha256:([0-9a-f]{64})"\n\}$/;

/**
 * Per-task statistics of one checkpoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment, type TaskCheckpointStats } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline", parallelism: 2 });
 * let made = 0;
 * env.generate({ generate: (n) => (made++, n), ratePerSecond: 10_000 })
 *   .keyBy((n) => n % 100, Serializers.i32).reduce((a, b) => a + b).uid("sum");
 * const client = env.executeAsync("sum");
 * while (made < 200) await new Promise((r) => setTimeout(r, 5));
 * const { manifest } = await client.stopWithSavepoint("sp");
 * await client.done;
 * const tasks: readonly TaskCheckpointStats[] = manifest.stats.tasks;
 * // One entry per task; the keyed tasks' bytes add up to the checkpoint's, a source holds none.
 * assert.deepEqual(tasks.map((t) => t.task), [
 *   "Generator Source (1/2)", "Generator Source (2/2)", "Reduce (1/2)", "Reduce (2/2)",
 * ]);
 * assert.equal(tasks.reduce((n, t) => n + t.stateSize, 0), manifest.stats.stateSize);
 * assert.ok(tasks.every((t) => t.task.startsWith("Reduce") === t.stateSize > 0));
 * Deno.removeSync(dir, { recursive: true });
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
 * import { Serializers, StreamEnvironment, type SubtaskManifest } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline", parallelism: 2 });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).uid("numbers")
 *   .keyBy((n) => n % 4, Serializers.i32).reduce((a, b) => a + b).uid("sum");
 * const client = env.executeAsync("sum");
 * const { manifest } = await client.stopWithSavepoint("sp");
 * await client.done;
 * // Each subtask of a keyed operator holds the keyed state of its own key groups.
 * const subtasks: readonly SubtaskManifest[] = manifest.operators["sum"]!.subtasks;
 * assert.deepEqual(subtasks.map((s) => [s.index, s.keyed?.keyGroupRange]), [
 *   [0, { start: 0, end: 63 }],
 *   [1, { start: 64, end: 127 }],
 * ]);
 * // A source has no keyed state: its position is operator state.
 * assert.equal(manifest.operators["numbers"]!.subtasks[0]!.keyed, undefined);
 * assert.ok("source-splits" in manifest.operators["numbers"]!.subtasks[0]!.operatorState);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface SubtaskManifest {
  /** Subtask index. */
  readonly index: number;
  /** Keyed state, for keyed operators. */
  readonly keyed?: KeyedStateHandle;
  /** Operator state, items base64-encoded (`schemas` since schemas are recorded). */
  readonly operatorState: Record<
    string,
    { mode: string; typeId: string; schemas?: StateSchemas; items: string[] }
  >;
}

/**
 * One operator's snapshot.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type OperatorManifest, Serializers, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline", parallelism: 2 });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).uid("numbers")
 *   .keyBy((n) => n % 4, Serializers.i32).reduce((a, b) => a + b).uid("sum");
 * const client = env.executeAsync("sum");
 * const { manifest } = await client.stopWithSavepoint("sp");
 * await client.done;
 * const sum: OperatorManifest = manifest.operators["sum"]!;
 * assert.deepEqual(
 *   [sum.name, sum.parallelism, sum.source, sum.keySerializer, sum.subtasks.length],
 *   ["Reduce", 2, false, "i32", 2],
 * );
 * assert.equal(manifest.operators["numbers"]!.source, true);
 * Deno.removeSync(dir, { recursive: true });
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
  /**
   * The key serializer's schema (version included), for keyed operators: a
   * restore refuses a key serializer that would not read these keys as they
   * are (absent in snapshots of earlier versions).
   */
  readonly keySchema?: SerializerSchema;
  /** Subtasks, by index. */
  readonly subtasks: readonly SubtaskManifest[];
  /** A split source's enumerator state (its unassigned splits, the splits it found). */
  readonly enumerator?: unknown;
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
  /** {@linkcode MANIFEST_FORMAT} when written; 1 for manifests of older versions. */
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
  /**
   * `sha256:<hex>` of the file as written (format 2 on): set by
   * {@linkcode formatManifest}, checked by {@linkcode parseManifest}.
   */
  readonly checksum?: string;
}

/** The operator-state name under which two-phase-commit sinks keep pending transactions. */
export const PENDING_TRANSACTIONS_STATE = "two-phase-commit-pending";

/**
 * The operator-state name under which the exactly-once Kafka sink keeps the
 * records of checkpoints it has not committed yet. It counts as pending
 * transactions (the output is committed when its checkpoint completes), but a
 * committed stop-with-savepoint keeps it: each transaction carries a marker,
 * so a restore writes what was committed only once.
 */
export const KAFKA_TRANSACTIONS_STATE = "kafka-sink-transactions";

/**
 * Whether any operator of `m` holds pending two-phase-commit transactions (a
 * `TwoPhaseCommitSink`'s or the exactly-once Kafka sink's; manifests without {@linkcode Manifest.transactionalOutput} predate the field).
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
    op.subtasks.some((s) =>
      (s.operatorState[PENDING_TRANSACTIONS_STATE]?.items.length ?? 0) > 0 ||
      (s.operatorState[KAFKA_TRANSACTIONS_STATE]?.items.length ?? 0) > 0
    )
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

function unb64(text: unknown, state: string): Uint8Array {
  try {
    if (typeof text !== "string") throw new TypeError(`${typeof text}, not a string`);
    return Uint8Array.fromBase64(text);
  } catch (e) {
    throw new CheckpointError(
      `Operator state "${state}" is corrupt: an item is not base64 (${(e as Error).message})`,
      { cause: e },
    );
  }
}

/** Operator state as the manifest stores it. */
export function encodeOperatorState(s: OperatorStateSnapshot): SubtaskManifest["operatorState"] {
  const out: SubtaskManifest["operatorState"] = {};
  for (const [name, e] of Object.entries(s)) {
    const schemas = e.schemas ? { schemas: e.schemas } : {};
    out[name] = {
      mode: e.mode,
      typeId: e.typeId,
      ...schemas,
      items: e.items.map((i) => i.toBase64()),
    };
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
    const schemas = e.schemas ? { schemas: e.schemas } : {};
    out[name] = { mode, typeId: e.typeId, ...schemas, items: e.items.map((i) => unb64(i, name)) };
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
 * assert.throws(
 *   () => parseManifest("{}", "chk-3/_metadata"),
 *   /Cannot read chk-3\/_metadata: manifest format undefined is not supported/,
 * );
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
  if (!READABLE_FORMATS.includes(m.format)) {
    throw new CheckpointError(
      `Cannot read ${where}: manifest format ${m.format} is not supported (this version reads ${
        READABLE_FORMATS.join(" and ")
      })`,
    );
  }
  if (m.format !== 1) checkChecksum(text, m, where);
  for (const field of ["checkpointId", "maxParallelism", "operators", "segments", "segmentDir"]) {
    if (!(field in m)) {
      throw new CheckpointError(`Cannot read ${where}: field "${field}" is missing`);
    }
  }
  return m;
}

/** Throws when the manifest's bytes are not those its checksum was computed over. */
function checkChecksum(text: string, m: Manifest, where: string): void {
  const tail = CHECKSUM_TAIL.exec(text);
  if (!tail || m.checksum !== `${CHECKSUM_PREFIX}${tail[1]}`) {
    throw new CheckpointError(
      `Cannot read ${where}: the manifest is damaged (format ${m.format} ends with a "checksum" field; ${
        typeof m.checksum === "string" ? "this one is malformed or not last" : "this one has none"
      })`,
    );
  }
  const actual = digest(withDigest(text, ZERO_DIGEST));
  if (actual !== tail[1]) {
    throw new CheckpointError(
      `Cannot read ${where}: the manifest is damaged (checksum mismatch: recorded ${
        tail[1]
      }, computed ${actual})`,
    );
  }
}

/** `text` (ending with the checksum field) with `hex` as the checksum's digits. */
function withDigest(text: string, hex: string): string {
  return text.slice(0, text.length - ZERO_DIGEST.length - 3) + hex + text.slice(-3);
}

/**
 * The SHA-256 of `text`, hex. node:crypto loads on the first manifest written
 * or read, not at import: every worker of the worker executor imports this
 * module, and loading Deno's node:crypto layer costs each of them startup
 * time, though only the main thread writes manifests.
 */
function digest(text: string): string {
  return process.getBuiltinModule("node:crypto").createHash("sha256").update(text).digest("hex");
}

/**
 * Serializes a manifest in the current format, its checksum last.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatManifest, type Manifest, MANIFEST_FORMAT, parseManifest } from "./manifest.ts";
 * const m = {
 *   format: MANIFEST_FORMAT, kind: "checkpoint", checkpointId: 1, jobName: "j", triggeredAt: 0,
 *   completedAt: 0, maxParallelism: 128, stateBackend: "heap", mode: "exactly-once",
 *   segmentDir: "../shared", operators: {}, segments: {},
 *   stats: { durationMs: 0, stateSize: 0, checkpointedSize: 0, tasks: [] },
 * } as const satisfies Manifest;
 * const text = formatManifest(m);
 * assert.equal(parseManifest(text, "m").checkpointId, 1);
 * assert.throws(() => parseManifest(text.replace('"j"', '"k"'), "m"), /checksum mismatch/);
 * ```
 */
export function formatManifest(m: Manifest): string {
  const { checksum: _, ...fields } = m;
  const zeroed = JSON.stringify(
    { ...fields, format: MANIFEST_FORMAT, checksum: `${CHECKSUM_PREFIX}${ZERO_DIGEST}` },
    null,
    1,
  );
  return withDigest(zeroed, digest(zeroed));
}
