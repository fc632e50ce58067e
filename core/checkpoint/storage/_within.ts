/**
 * A wait with a deadline, for talking to database servers that may stop
 * answering.
 *
 * @module
 */

/**
 * `p`, or what `late()` returns (or throws) if `p` has not settled within `ms`.
 * The timer is cleared either way: a pending one would keep the process alive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { within } from "./_within.ts";
 * assert.equal(await within(new Promise(() => {}), 5, () => "late"), "late");
 * assert.equal(await within(Promise.resolve("on time"), 1000, () => "late"), "on time");
 * ```
 */
export async function within<T>(p: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (e) {
        reject(e);
      }
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
