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
 * Database client libraries run under Deno's `node:` layer can throw from a
 * socket callback that no promise reaches once their connection is gone; the
 * stores name exactly those errors ({@linkcode ignoreUncaught}, their reasons
 * at the call sites), and neither end the process nor fail a job: the
 * statement in flight fails on its own and the checkpoint is declined.
 *
 * @module
 */

const failers = new Set<(error: unknown) => void>();
/** The errors {@linkcode ignoreUncaught} names: a message's start and a file the stack passes. */
const ignored = new Map<string, RegExp>();

function isIgnored(error: unknown): boolean {
  const err = error as { message?: unknown; stack?: unknown } | undefined;
  if (typeof err?.message !== "string" || typeof err.stack !== "string") return false;
  for (const [message, file] of ignored) {
    if (err.message.startsWith(message) && file.test(err.stack)) return true;
  }
  return false;
}

function onIgnored(e: ErrorEvent): void {
  if (isIgnored(e.error)) e.preventDefault();
}

function onRejection(e: PromiseRejectionEvent): void {
  e.preventDefault();
  if (isIgnored(e.reason)) return;
  for (const fail of [...failers]) fail(e.reason);
}

function onError(e: ErrorEvent): void {
  e.preventDefault();
  if (isIgnored(e.error)) return;
  for (const fail of [...failers]) fail(e.error ?? e.message);
}

/**
 * Neither ends the process nor fails a job for an uncaught error whose
 * message starts with `message` and whose stack passes through a file
 * matching `file` (once per message; on the thread that calls it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failOnUncaught, ignoreUncaught } from "./_uncaught.ts";
 * ignoreUncaught("socket gone", /example_client\.js/);
 * const seen: unknown[] = [];
 * const stop = failOnUncaught((e) => seen.push(e));
 * const gone = new Error("socket gone (fd 7)");
 * gone.stack = "Error: socket gone (fd 7)\n    at nextWrite (file:///x/example_client.js:9:3)";
 * setTimeout(() => {
 *   throw gone;
 * }, 0);
 * setTimeout(() => {
 *   throw new Error("a bug");
 * }, 0);
 * await new Promise((r) => setTimeout(r, 10));
 * stop();
 * assert.deepEqual(seen.map((e) => (e as Error).message), ["a bug"]);
 * ```
 */
export function ignoreUncaught(message: string, file: RegExp): void {
  if (ignored.has(message)) return;
  if (ignored.size === 0) globalThis.addEventListener("error", onIgnored);
  ignored.set(message, file);
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
 * // Deno reports an unhandled rejection at the end of an event loop turn, which a timer may
 * // come before: wait for it (at most a second), not for one timer.
 * for (let i = 0; i < 1000 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 1));
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
