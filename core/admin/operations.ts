/**
 * Asynchronous operations the admin API starts (checkpoints, savepoints,
 * stop-with-savepoint): a trigger id now, the result polled later, as in
 * Flink's REST API.
 *
 * @module
 */
import { checkHexId, fail } from "./http.ts";
import { newHexId, type OperationResult } from "./runtime.ts";

/** The state of one operation. */
export interface Operation {
  /** The job it belongs to. */
  readonly jobId: string;
  /** What it does. */
  readonly kind: "checkpoint" | "savepoint";
  /** `IN_PROGRESS` or `COMPLETED` (successfully or not). */
  status: "IN_PROGRESS" | "COMPLETED";
  /** The result once succeeded. */
  result: OperationResult | undefined;
  /** Why it failed. */
  failure: string | undefined;
}

/** Operations kept; the oldest are forgotten first. */
const MAX_OPERATIONS = 1000;

/**
 * Tracks operations by trigger id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Operations } from "./operations.ts";
 * const ops = new Operations();
 * const id = ops.start("a".repeat(32), "savepoint", Promise.resolve({ id: 1, location: "/x" }));
 * await Promise.resolve();
 * assert.equal(ops.get("a".repeat(32), id)?.status, "COMPLETED");
 * ```
 */
export class Operations {
  readonly #ops = new Map<string, Operation>();

  /**
   * Registers `work` and returns its trigger id: `id` when the client chose it (Flink's
   * `triggerId`), else a new one.
   */
  start(
    jobId: string,
    kind: Operation["kind"],
    work: Promise<OperationResult>,
    id: string = newHexId(),
  ): string {
    const op: Operation = {
      jobId,
      kind,
      status: "IN_PROGRESS",
      result: undefined,
      failure: undefined,
    };
    this.#ops.set(id, op);
    if (this.#ops.size > MAX_OPERATIONS) this.#ops.delete(this.#ops.keys().next().value!);
    work.then(
      (r) => {
        op.status = "COMPLETED";
        op.result = r;
      },
      (e) => {
        op.status = "COMPLETED";
        op.failure = e instanceof Error ? e.message : String(e);
      },
    );
    return id;
  }

  /** Whether trigger id `id` names an operation (of any job). */
  taken(id: string): boolean {
    return this.#ops.has(id);
  }

  /** The operation `id` of job `jobId`, if known. */
  get(jobId: string, id: string): Operation | undefined {
    const op = this.#ops.get(id);
    return op && op.jobId === jobId ? op : undefined;
  }
}

/**
 * Flink's optional `triggerId` of a checkpoint, savepoint or stop request body (Flink's REST
 * client sends the field, null when unset): the client's id for the operation, so that it can
 * retry the request without starting the operation twice. `retried` when it names this job's
 * `kind` operation already (answer with it, start nothing); 409 when it names another one.
 */
export function clientTriggerId(
  ops: Operations,
  jobId: string,
  kind: Operation["kind"],
  body: Record<string, unknown>,
): { id: string; retried: boolean } | undefined {
  const v = body.triggerId;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") fail(400, `Field "triggerId" must be a string`);
  const id = checkHexId("triggerId", v);
  if (!ops.taken(id)) return { id, retried: false };
  if (ops.get(jobId, id)?.kind === kind) return { id, retried: true };
  fail(409, `triggerId ${id} already names another operation`);
}
