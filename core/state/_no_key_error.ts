/**
 * Shared by the state backends: the error of keyed state used without a
 * current key.
 *
 * @module
 */
import { StateError } from "../errors.ts";

/**
 * The error for keyed state accessed with no current key. `callEnded`: the
 * key was dropped when the user call that set it returned, so the access
 * came from code that ran later (a `setTimeout` or promise callback, code
 * after an `await`).
 */
export function noKeyError(
  operator: string,
  stateName: string | undefined,
  callEnded: boolean,
): StateError {
  const state = stateName === undefined ? "Keyed state" : `Keyed state "${stateName}"`;
  if (callEnded) {
    return new StateError(
      `${state} of operator "${operator}" accessed after the call that set its key returned ` +
        `(in a setTimeout or promise callback, or after an await): user functions are ` +
        `synchronous, and keyed state belongs to the record or timer being processed only ` +
        `until the call returns. Read and write state before returning; an async function ` +
        `is not supported (for I/O per record use AsyncDataStream: async I/O)`,
    );
  }
  return new StateError(
    `${state} of operator "${operator}" accessed outside a keyed context: ` +
      `use keyed state only in functions applied to a keyed stream (after keyBy), ` +
      `and only in the subtask whose open() created it (keep state in \`this\` fields, ` +
      `not in variables shared by subtasks)`,
  );
}
