/**
 * Asynchronous operations the admin API starts (checkpoints, savepoints,
 * stop-with-savepoint): a trigger id now, the result polled later, as in
 * Flink's REST API.
 *
 * @module
 */
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

  /** Registers `work` and returns its trigger id. */
  start(jobId: string, kind: Operation["kind"], work: Promise<OperationResult>): string {
    const id = newHexId();
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

  /** The operation `id` of job `jobId`, if known. */
  get(jobId: string, id: string): Operation | undefined {
    const op = this.#ops.get(id);
    return op && op.jobId === jobId ? op : undefined;
  }
}
