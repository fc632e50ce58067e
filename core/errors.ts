/**
 * Every error weir throws on purpose is a {@linkcode WeirError}; the subclass
 * says which part of the system refused, the message says what to fix.
 *
 * @module
 */
import type { JobResult } from "./runtime/job.ts";

/**
 * Base class of every error weir throws on purpose.
 *
 * @example Catching any weir error
 * ```ts
 * import { ConfigError, WeirError } from "@weir/weir";
 * try {
 *   throw new ConfigError("--parallelism must be a positive integer, got 0");
 * } catch (e) {
 *   if (!(e instanceof WeirError)) throw e;
 * }
 * ```
 */
export class WeirError extends Error {
  /** Creates an error with a message that names the problem. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A job, flag or option is invalid (a wrong flag, a parallelism of 0, ...).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "@weir/weir";
 * const e = new ConfigError("--mode must be exactly-once or at-least-once");
 * assert.ok(e.name === "ConfigError");
 * ```
 */
export class ConfigError extends WeirError {}

/**
 * State was used wrongly: outside a keyed context, a descriptor registered
 * twice with different types, a state name unknown on restore.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StateError } from "@weir/weir";
 * const e = new StateError('Keyed state "count" accessed outside a keyed context');
 * assert.ok(e instanceof Error);
 * ```
 */
export class StateError extends WeirError {}

/**
 * A value or key could not be serialized or deserialized.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SerializationError } from "@weir/weir";
 * const e = new SerializationError("Cannot serialize key: a function is not serializable");
 * assert.ok(e.name === "SerializationError");
 * ```
 */
export class SerializationError extends WeirError {}

/**
 * Stored bytes are damaged: a checksum mismatch, a truncated file, a wrong
 * magic number or a missing file. `file` names the damaged file and `block`
 * the block inside it when known.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CorruptionError } from "@weir/weir";
 * const e = new CorruptionError("checksum mismatch", { file: "0007.seg", block: 3 });
 * assert.ok(e.message.includes("0007.seg"));
 * ```
 */
export class CorruptionError extends WeirError {
  /** The damaged file, as the store names it. */
  readonly file: string;
  /** The damaged block index inside `file`, or -1 when not known. */
  readonly block: number;

  /** Creates a corruption error; the message names the file and block. */
  constructor(
    detail: string,
    where: { file: string; block?: number },
    options?: ErrorOptions,
  ) {
    const block = where.block ?? -1;
    super(
      `Corrupt segment ${where.file}${block >= 0 ? ` (block ${block})` : ""}: ${detail}`,
      options,
    );
    this.file = where.file;
    this.block = block;
  }
}

/**
 * A checkpoint or savepoint could not be taken or restored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError } from "@weir/weir";
 * const e = new CheckpointError("Cannot restore checkpoint 12: segment 0007.seg is missing");
 * assert.ok(e.name === "CheckpointError");
 * ```
 */
export class CheckpointError extends WeirError {}

/**
 * A user function threw; the job fails or restarts according to its restart
 * strategy. `cause` holds the original error; `taskName` the task that failed,
 * when one did (not for a failure of the job as a whole); `taskManagerId` the
 * thread it failed on, as the admin API names it (`main` or `weir-worker/<i>`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JobFailedError } from "@weir/weir";
 * const e = new JobFailedError('Operator "parse" failed', {
 *   cause: new Error("bad input"),
 *   taskName: "parse (1/2)",
 *   taskManagerId: "weir-worker/1",
 * });
 * assert.ok(e.cause instanceof Error && e.taskName === "parse (1/2)");
 * assert.equal(e.taskManagerId, "weir-worker/1");
 * ```
 */
export class JobFailedError extends WeirError {
  /** The task that failed (`A -> B (i/p)`), or undefined when the job failed as a whole. */
  readonly taskName: string | undefined;
  /**
   * The thread (Flink's TaskManager) it failed on, `main` or the Web Worker's name
   * `weir-worker/<i>`, when known.
   */
  readonly taskManagerId: string | undefined;

  /** Creates the error; `taskName` names the failed task, if one failed. */
  constructor(
    message: string,
    options?: ErrorOptions & {
      taskName?: string | undefined;
      taskManagerId?: string | undefined;
    },
  ) {
    super(message, options);
    this.taskName = options?.taskName;
    this.taskManagerId = options?.taskManagerId;
  }
}

/**
 * The job was cancelled (through the admin API, `weir cancel`, or a
 * savepoint with `"cancel-job": true`) before its input ended: what
 * `env.execute()` rejects with, as Flink's `execute()` throws a
 * `JobCancellationException`, so a process run through `runMain` exits 1.
 * `result` holds what the job had done (`cancelled: true`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JobCancelledError } from "@weir/weir";
 * const result = { name: "clicks", durationMs: 5, cancelled: true, recordsIn: {} };
 * const e = new JobCancelledError(result);
 * assert.equal(e.message, 'Job "clicks" was cancelled');
 * ```
 */
export class JobCancelledError extends WeirError {
  /** The cancelled job's result. */
  readonly result: JobResult;

  /** Creates the error for the cancelled job's `result`. */
  constructor(result: JobResult) {
    super(`Job "${result.name}" was cancelled`);
    this.result = result;
  }
}

/**
 * A checkpoint or output directory is locked by another running job (or a
 * `weir checkpoints gc`): two writers on one directory destroy each other's
 * files. The message names the holder: its job, process id, host and start.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, DirectoryInUseError } from "@weir/weir";
 * const e = new DirectoryInUseError('Checkpoint directory /ck is in use by job "a" (pid 7 on host h)');
 * assert.ok(e instanceof ConfigError);
 * ```
 */
export class DirectoryInUseError extends ConfigError {}

/**
 * The job's state does not fit the snapshot it restores: a state's kind,
 * mode, namespace or TTL changed, or its schema changed incompatibly (Flink's
 * `StateMigrationException`). No restart makes the snapshot fit, so the job
 * fails at once, as for a `ConfigError`. The message names the operator, the
 * state, both schemas and what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IncompatibleStateError, StateError } from "@weir/weir";
 * const e = new IncompatibleStateError('Cannot restore state "acc" of operator "keep": …');
 * assert.ok(e instanceof StateError);
 * ```
 */
export class IncompatibleStateError extends StateError {}
