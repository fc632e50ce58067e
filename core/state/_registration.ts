/**
 * Shared by the state backends: a state name registered twice must keep its type.
 *
 * @module
 */
import { StateError } from "../errors.ts";
import type { AnyStateDescriptor } from "./descriptors.ts";
import type { StateMeta } from "./state_keys.ts";

/**
 * The state already registered under the descriptor's name, or undefined;
 * throws `StateError` when it was registered with another type.
 */
export function alreadyRegistered<S>(
  known: { readonly meta: StateMeta; readonly state: S } | undefined,
  descriptor: AnyStateDescriptor,
  operator: string,
): S | undefined {
  if (!known) return undefined;
  const typeId = descriptor.typeId();
  if (known.meta.typeId !== typeId) {
    throw new StateError(
      `State "${descriptor.name}" of operator "${operator}" is registered as ${known.meta.typeId}; ` +
        `cannot register it again as ${typeId}`,
    );
  }
  return known.state;
}
