/**
 * Cheaper forms of `Serializer.copy` for state backends that keep decoded
 * values (the LSM backend's value cache), registered by the built-in
 * serializers. A cache that keeps its own copy of a value and hands out
 * copies of it need not check a value it copied before, and can write an
 * update over its old copy instead of allocating a new one (a long-lived
 * object per update is what the garbage collector pays for most).
 *
 * @module
 */
import type { Serializer } from "./serializer.ts";

/** The copies of one serializer's values; both behave as its `copy`. */
export interface ValueCopies<T> {
  /**
   * `copy(value)`, written over `target` where it can reuse it: `target` is
   * an earlier result of this serializer's `copy` that nothing else holds.
   * Returns `target` or a fresh copy. Throws where `copy` throws, and then
   * leaves `target` as it was.
   */
  over(value: T, target: T): T;
  /** `copy(value)` of a value that is itself such a copy, or that `read` returned: nothing to check. */
  ofCopy(value: T): T;
}

const registry = new WeakMap<Serializer<unknown>, ValueCopies<unknown>>();

/** Registers the copies of `serializer`'s values (built-in serializers). */
export function registerValueCopies<T>(serializer: Serializer<T>, copies: ValueCopies<T>): void {
  registry.set(serializer as Serializer<unknown>, copies as ValueCopies<unknown>);
}

/**
 * The copies of `serializer`'s values: the registered ones, else both are its
 * `copy` (which it must have).
 */
export function valueCopies<T>(serializer: Serializer<T>): ValueCopies<T> {
  const found = registry.get(serializer as Serializer<unknown>);
  if (found !== undefined) return found as ValueCopies<T>;
  const copy = serializer.copy!.bind(serializer);
  return { over: (v) => copy(v), ofCopy: copy };
}
