/**
 * Queryable state: reading one key's value of a named state from outside the
 * operator (the admin API's `GET /jobs/:jobid/state/:operatorUid/:stateName`).
 * Backends implement `KeyedStateBackend.queryState` with these helpers.
 *
 * @module
 */
import { StateError } from "../errors.ts";
import type { StateMeta } from "./state_keys.ts";

/**
 * What a state query found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, Serializers, type StateQueryResult, ValueStateDescriptor } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * const count = backend.state(new ValueStateDescriptor("count", Serializers.f64));
 * backend.setCurrentKey("a");
 * count.update(3);
 * const hit: StateQueryResult | undefined = backend.queryState?.("count", "a");
 * const miss: StateQueryResult | undefined = backend.queryState?.("count", "zzz");
 * assert.deepEqual([hit, miss], [{ found: true, value: 3 }, { found: false }]);
 * ```
 */
export interface StateQueryResult {
  /** Whether the key has a value in the state. */
  readonly found: boolean;
  /** The value: a list's elements, a map as an object (string keys) or entries. */
  readonly value?: unknown;
}

/**
 * Throws `StateError` unless state `meta` can be queried by key alone (state
 * with namespaces, such as window state, needs its namespace too).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkQueryable } from "./queryable.ts";
 * assert.throws(() =>
 *   checkQueryable({ id: 1, name: "w", kind: "value", typeId: "value<f64>", namespace: "window" }, "op")
 * );
 * ```
 */
export function checkQueryable(meta: StateMeta, operator: string): void {
  if (meta.typeId.endsWith("+ttl")) {
    // Reading it would show the stored timestamps, and expired values until cleaned up,
    // or refresh what it reads; Flink refuses queryable state with a TTL too.
    throw new StateError(
      `State "${meta.name}" of operator "${operator}" has a time-to-live: it cannot be ` +
        `queried (as in Flink)`,
    );
  }
  if (meta.namespace !== null) {
    throw new StateError(
      `State "${meta.name}" of operator "${operator}" has namespaces (${meta.namespace}): ` +
        `it cannot be queried by key alone`,
    );
  }
}

interface Readable {
  value?(): unknown;
  get?(): unknown;
  entries?(): Iterable<[unknown, unknown]>;
}

/**
 * Reads the current key's value of a state object of kind `kind` as a
 * JSON-friendly value; `undefined` when the key has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readStateValue } from "./queryable.ts";
 * const fake = { entries: () => new Map([["a", 1]]).entries() };
 * assert.deepEqual(readStateValue("map", fake), { a: 1 });
 * ```
 */
export function readStateValue(kind: string, state: unknown): unknown {
  const s = state as Readable;
  switch (kind) {
    case "value":
      return s.value!();
    case "list": {
      // An empty list is no value, as an unset value state is.
      const list = s.get!() as unknown[];
      return list.length === 0 ? undefined : list;
    }
    case "reducing":
    case "aggregating":
      return s.get!();
    case "map": {
      const entries = [...s.entries!()];
      if (entries.length === 0) return undefined;
      return entries.every(([k]) => typeof k === "string") ? Object.fromEntries(entries) : entries;
    }
    default:
      throw new StateError(`Cannot query state of unknown kind "${kind}"`);
  }
}
