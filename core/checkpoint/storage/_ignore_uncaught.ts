/**
 * Database client libraries run under Deno's `node:` layer can throw from a
 * socket callback that no promise reaches once their connection is gone; an
 * uncaught error ends the process. The stores name exactly those errors here
 * (their reasons are at the call sites); any other uncaught error still ends
 * the process.
 *
 * @module
 */

const registered = new Set<string>();

/**
 * Stops the uncaught errors whose message starts with `message` and whose
 * stack passes through a file matching `file` from ending the process
 * (registered once per message).
 */
export function ignoreUncaught(message: string, file: RegExp): void {
  if (registered.has(message)) return;
  registered.add(message);
  globalThis.addEventListener("error", (e) => {
    const err = e.error as { message?: unknown; stack?: unknown } | undefined;
    if (
      typeof err?.message === "string" && err.message.startsWith(message) &&
      typeof err.stack === "string" && file.test(err.stack)
    ) {
      e.preventDefault();
    }
  });
}
