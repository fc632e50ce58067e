/**
 * Flink's field aggregations (`sum`, `min`, `max`, `minBy`, `maxBy`) as a reduce function, shared
 * by the rolling aggregations of a keyed stream and the aggregations of windows.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/** The aggregations by field. */
export type FieldAggregationKind = "sum" | "min" | "max" | "minBy" | "maxBy";

/** A field aggregation: `reduce` combines two records, `check` sees a record `reduce` never saw. */
export interface FieldAggregation<T> {
  /** The result so far (`kept`) with the next record. */
  reduce(kept: T, next: T): T;
  /** Checks the field of a record that `reduce` is not called with (a key's or window's first). */
  check(record: T): void;
}

/** The field types min, max, minBy and maxBy compare (Flink's: any Comparable). */
const COMPARABLE = ["number", "string"];

/**
 * The aggregation `op` of `field`: each record's field is checked as Flink checks the field's type
 * when the job is built (sum: numbers; min, max, minBy, maxBy: numbers or strings, all of one
 * type), so a missing or mistyped field fails the job with a `ConfigError` instead of turning into
 * NaN or a concatenated string. `sum`, `min` and `max` update the field in a copy of the first
 * record; `minBy` and `maxBy` keep whole records, on ties the first one (or with `first = false`
 * the latest).
 */
export function fieldAggregation<T>(
  field: string | number,
  op: FieldAggregationKind,
  first = true,
): FieldAggregation<T> {
  const types = op === "sum" ? ["number"] : COMPARABLE;
  // As Flink's field expressions on a basic type (Integer, String): position 0 or "*" is the
  // record itself; any other field is an error there (a string's characters are no fields).
  const whole = field === 0 || field === "*";
  const valueOf = (record: T, type?: string): never => {
    if (isBasic(record) && !whole) {
      throw new ConfigError(
        `${op}(${JSON.stringify(field)}): the records are ${typeof record}s, whose only ` +
          `field is 0 (or "*"), the record itself, as in Flink`,
      );
    }
    const v = isBasic(record)
      ? record
      : (record as Record<string | number, unknown> | null | undefined)?.[field];
    const t = typeof v;
    if (type === undefined ? !types.includes(t) : t !== type) {
      throw new ConfigError(
        `${op}(${JSON.stringify(field)}): a record's field ${JSON.stringify(field)} is ` +
          `${v === undefined ? "missing" : `${describeType(v)} (${String(v).slice(0, 40)})`}; ` +
          (type === undefined
            ? `${op} takes ${types.join(", ")} values`
            : `earlier records of the key had a ${type}`),
      );
    }
    return v as never;
  };
  const withField = (kept: T, v: unknown): T => {
    if (isBasic(kept)) return v as T;
    const copy = (Array.isArray(kept) ? [...kept] : { ...kept }) as T;
    (copy as Record<string | number, unknown>)[field] = v;
    return copy;
  };
  const better = op === "min" || op === "minBy" ? -1 : 1;
  const reduce = (kept: T, next: T): T => {
    const a: number | string = valueOf(kept);
    const b: number | string = valueOf(next, typeof a);
    if (op === "sum") return withField(kept, (a as number) + (b as number));
    const c = compareField(b, a);
    if (op === "min" || op === "max") return withField(kept, c === better ? b : a);
    return c === better || (!first && c === 0) ? next : kept;
  };
  return { reduce, check: (record) => void valueOf(record) };
}

/**
 * Compares two fields of one type as Flink's `compareTo` does: strings as strings, numbers as
 * Java's `Double.compare` (NaN equal to itself and above +Infinity, -0 below 0), so that NaN
 * has a place in the order instead of losing every comparison.
 */
function compareField(a: number | string, b: number | string): -1 | 0 | 1 {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return a !== 0 || Object.is(a, b) ? 0 : Object.is(a, -0) ? -1 : 1;
  const aNaN = Number.isNaN(a), bNaN = Number.isNaN(b);
  return aNaN === bNaN ? 0 : aNaN ? 1 : -1;
}

/** Whether a record is a basic value (a number, a string…), not an object with fields. */
function isBasic(record: unknown): boolean {
  return record != null && typeof record !== "object" && typeof record !== "function";
}

/** A value's type, for messages: its class for an object. */
function describeType(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return `a ${v.constructor?.name ?? "object"}`;
  return `a ${typeof v}`;
}
