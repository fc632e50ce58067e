/**
 * Errors nothing caught on the main thread while jobs run there: a promise
 * rejected with no handler, or an exception thrown from a callback (a timer's).
 * A Web Worker of the worker executor reports such an error as its failure
 * (`_worker_role.ts`) and the attempt fails; on the main thread (the inline
 * executor, worker 0 of the worker executor) it would end the process. While
 * a job attempt runs here it fails that attempt instead, so the restart
 * strategy applies as it does on a worker; every job running on this thread
 * fails, as every task of a Flink TaskManager fails when the TaskManager does.
 * With no job running, Deno's default stays: the process ends.
 *
 * @module
 */

const failers = new Set<(error: unknown) => void>();

function onRejection(e: PromiseRejectionEvent): void {
  e.preventDefault();
  for (const fail of [...failers]) fail(e.reason);
}

function onError(e: ErrorEvent): void {
  e.preventDefault();
  for (const fail of [...failers]) fail(e.error ?? e.message);
}

/**
 * Calls `fail` with what nothing caught on this thread until the returned
 * function is called. Only on the main thread: a Web Worker's own listeners
 * report its errors (nothing is listened to there).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failOnUncaught } from "./_uncaught.ts";
 * const seen: unknown[] = [];
 * const stop = failOnUncaught((e) => seen.push(e));
 * Promise.reject(new Error("lost"));
 * await new Promise((r) => setTimeout(r, 0));
 * stop();
 * assert.equal((seen[0] as Error).message, "lost");
 * ```
 */
export function failOnUncaught(fail: (error: unknown) => void): () => void {
  if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
    return () => {};
  }
  if (failers.size === 0) {
    globalThis.addEventListener("unhandledrejection", onRejection);
    globalThis.addEventListener("error", onError);
  }
  failers.add(fail);
  return () => {
    if (!failers.delete(fail) || failers.size > 0) return;
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}
