/**
 * A value for state to own. Records pass between the operators of a thread by
 * reference (as with Flink's object reuse), and the heap backend keeps what it
 * is given: a reduce function that updates its first argument in place
 * (`a.n += b.n; return a`, a common Flink idiom) would otherwise change the
 * input record itself, which other windows of a sliding assigner, other
 * branches of the stream and the source may hold too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers } from "./serializer.ts";
 * import { ownedCopy } from "./_owned_copy.ts";
 * const record = { n: 1 };
 * const owned = ownedCopy(Serializers.json, record);
 * assert.deepEqual(owned, record);
 * assert.notEqual(owned, record);
 * assert.equal(ownedCopy(Serializers.f64, 3), 3);
 * ```
 *
 * @module
 */
import { deserialize, serialize, type Serializer } from "./serializer.ts";

/** `value` itself when it is no object; else a copy (the serializer's `copy`, else its bytes read back). */
export function ownedCopy<T>(serializer: Serializer<T>, value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (serializer.copy) return serializer.copy(value);
  return deserialize(serializer, serialize(serializer, value));
}

/**
 * What a value state's `value()` returns for a key without a value, as Flink's
 * `StateDescriptor.getDefaultValue()`: for an object default a new copy on each
 * call, since the usual read-modify-update (`a = value(); a.n++; update(a)`)
 * changes what it was given and must not change the default of other keys;
 * any other default as it is.
 */
export function defaultValueOf<T>(
  serializer: Serializer<T>,
  value: T | undefined,
): () => T | undefined {
  if (typeof value !== "object" || value === null) return () => value;
  if (serializer.copy) return () => serializer.copy!(value);
  let bytes: Uint8Array | undefined;
  return () => deserialize(serializer, bytes ??= serialize(serializer, value));
}
