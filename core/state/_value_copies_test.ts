import assert from "node:assert/strict";
import { SerializationError } from "../errors.ts";
import { type Serializer, Serializers } from "./serializer.ts";
import { valueCopies } from "./_value_copies.ts";

const { f64, i32, string, bytes, array, tuple, record, optional, withDefault } = Serializers;
const point = record({ y: f64, x: f64, tags: array(string), at: optional(tuple(i32, bytes)) });

/** Serializer, an earlier value (its copy is the target), a new value. */
const CASES: [Serializer<unknown>, unknown, unknown][] = [
  [array(f64), [1, 2, 3], [4, -0, NaN, Infinity, 5]], // grows
  [array(f64), [1, 2, 3, 4, 5], [6]], // shrinks
  [array(f64), [1], []],
  [array(array(string)), [["a"]], [["b"], []]],
  [tuple(f64, string), [1, "a"], [2, "b"]],
  [point, { x: 1, y: 2, tags: ["t"], at: undefined }, {
    x: 3,
    y: 4,
    tags: ["u", "v"],
    at: [5, new Uint8Array([9])],
    extra: "dropped",
  }],
  [optional(array(f64)), [1], [2, 3]],
  [optional(array(f64)), [1], undefined],
  [withDefault(array(f64), []), [1], [2]],
] as [Serializer<unknown>, unknown, unknown][];

function sharesObject(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null) return false;
  if (a === b) return true;
  if (typeof b !== "object" || b === null) return false;
  return Object.keys(a).some((k) =>
    sharesObject((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

Deno.test("value copies: over gives what copy gives, sharing nothing with the value", () => {
  for (const [s, was, v] of CASES) {
    const target = s.copy!(was);
    const got = valueCopies(s).over(v, target);
    const want = s.copy!(v);
    assert.deepStrictEqual(got, want, s.id);
    if (typeof want === "object" && want !== null) {
      assert.deepEqual(Object.keys(got as object), Object.keys(want), `${s.id}: field order`);
    }
    assert.ok(!sharesObject(got, v), `${s.id}: shares nothing with the value`);
  }
});

Deno.test("value copies: over writes numbers, tuples and records over the target", () => {
  for (const [s, was, v] of CASES.slice(0, 6)) {
    if (s.id === "array<array<string>>") continue; // a fresh copy: its elements may throw
    const target = s.copy!(was);
    assert.equal(valueCopies(s).over(v, target), target, s.id);
  }
  // A value that is the target itself (never the case in a cache) still gives a copy.
  const a = [1, 2];
  const got = valueCopies(array(f64)).over(a, a);
  assert.notEqual(got, a);
  assert.deepEqual(got, a);
});

Deno.test("value copies: over throws where copy throws, and leaves the target as it was", () => {
  const bad: [Serializer<unknown>, unknown, unknown][] = [
    [array(f64), [1, 2], [3, "4"]],
    [array(f64), [1, 2], "not an array"],
    [tuple(f64, string), [1, "a"], [2, 3]],
    [point, { x: 1, y: 2, tags: ["t"], at: undefined }, { x: 3, y: 4, tags: [5], at: undefined }],
  ] as [Serializer<unknown>, unknown, unknown][];
  for (const [s, was, v] of bad) {
    const target = s.copy!(was);
    const before = structuredClone(target);
    let copyError: unknown;
    try {
      s.copy!(v);
    } catch (e) {
      copyError = e;
    }
    assert.ok(copyError instanceof SerializationError, s.id);
    assert.throws(
      () => valueCopies(s).over(v, target),
      (e) => e instanceof SerializationError && e.message === copyError.message,
    );
    assert.deepStrictEqual(target, before, `${s.id}: target unchanged`);
  }
});

Deno.test("value copies: ofCopy of a copy is an equal copy sharing nothing with it", () => {
  for (const [s, , v] of CASES) {
    const c = s.copy!(v);
    const again = valueCopies(s).ofCopy(c);
    assert.deepStrictEqual(again, c, s.id);
    assert.ok(!sharesObject(again, c), `${s.id}: shares nothing with the copy`);
  }
  // Without registered copies (a serializer of the user's), both are its copy.
  const own: Serializer<{ n: number }> = {
    id: "own",
    version: 1,
    write: (v, out) => out.writeF64(v.n),
    read: (r) => ({ n: r.readF64() }),
    copy: (v) => ({ n: v.n }),
  };
  const t = { n: 1 };
  const got = valueCopies(own).over({ n: 2 }, t);
  assert.deepEqual(got, { n: 2 });
  assert.notEqual(got, t);
  assert.deepEqual(valueCopies(own).ofCopy(t), t);
});
