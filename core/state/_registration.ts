/**
 * Shared by the state backends: a state name registered twice must keep its type and its
 * namespaces.
 *
 * @module
 */
import { StateError } from "../errors.ts";
import type { AnyStateDescriptor } from "./descriptors.ts";
import type { Serializer } from "./serializer.ts";
import type { StateMeta } from "./state_keys.ts";

/**
 * The state already registered under the descriptor's name, or undefined;
 * throws `StateError` when it was registered with another type, or with
 * namespaces (a window's state) where it is now asked for without (the key's
 * own), or the reverse: one name cannot be both, as a checkpoint keeps one
 * namespace serializer per state (Flink refuses it too, as an incompatible
 * namespace serializer).
 */
export function alreadyRegistered<S>(
  known: { readonly meta: StateMeta; readonly state: S } | undefined,
  descriptor: AnyStateDescriptor,
  operator: string,
  namespace: Serializer<unknown> | undefined,
): S | undefined {
  if (!known) return undefined;
  const typeId = descriptor.typeId();
  if (known.meta.typeId !== typeId) {
    throw new StateError(
      `State "${descriptor.name}" of operator "${operator}" is registered as ${known.meta.typeId}; ` +
        `cannot register it again as ${typeId}`,
    );
  }
  const ns = namespace?.id ?? null;
  if (known.meta.namespace !== ns) {
    const scope = (id: string | null) => id === null ? "per key" : `per key and namespace ${id}`;
    throw new StateError(
      `State "${descriptor.name}" of operator "${operator}" is registered ${
        scope(known.meta.namespace)
      }; cannot register it again ${scope(ns)}: a window's state (windowState()) and the ` +
        `key's own (globalState(), getState()) need names of their own`,
    );
  }
  return known.state;
}
