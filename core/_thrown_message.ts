/**
 * What a thrown value says, for a job's one-line failure: an Error's message,
 * a string as it is, anything else (user code may throw `{ code: 1 }` or
 * nothing at all) shown as a value, not as "[object Object]".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { thrownMessage } from "./_thrown_message.ts";
 * assert.equal(thrownMessage(new Error("boom")), "boom");
 * assert.equal(thrownMessage({ code: 1 }), "a non-Error value was thrown: { code: 1 }");
 * assert.equal(thrownMessage(undefined), "a non-Error value was thrown: undefined");
 * ```
 *
 * @module
 */
export function thrownMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  return `a non-Error value was thrown: ${
    Deno.inspect(e, { depth: 2, colors: false, compact: true })
  }`;
}
