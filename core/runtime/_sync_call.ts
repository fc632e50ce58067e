/**
 * User functions are synchronous: the operators check what a user function
 * returned with `result instanceof Promise` (no allocation, no call) and
 * throw {@linkcode promiseReturnedError} when it is a promise; a flatMap or process function
 * that returns records gets {@linkcode valueReturnedError}; a reduce or
 * aggregate that returns undefined gets {@linkcode undefinedReturnedError}, a map or filter that
 * does {@linkcode undefinedMappedError} or {@linkcode undefinedPredicateError}.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * The error for a user function (`method` of operator `operator`) that
 * returned `promise`. The promise's own later rejection (its code after an
 * `await` fails once the job stops) is silenced: this error already says
 * what is wrong.
 */
export function promiseReturnedError(
  promise: Promise<unknown>,
  method: string,
  operator: string,
): ConfigError {
  promise.catch(() => {});
  return new ConfigError(
    `${method} of operator "${operator}" returned a promise: user functions are synchronous ` +
      `(an async function is one). Keyed state, timers and the collector belong to the record ` +
      `being processed only until the call returns, and nothing waits for the promise. For ` +
      `I/O per record use AsyncDataStream.orderedWait/unorderedWait (async I/O), or load ` +
      `what the function needs in open(), which may be async`,
  );
}

/**
 * Whether `r`, what a flatMap function returned, holds records that would be lost: nothing
 * reads what it returns (its type is void, as Flink's). A falsy value or `true`
 * (`s && out.collect(s)`) and an array of what `collect` returns (`xs.map((x) =>
 * out.collect(x))`, undefined) carry none; a promise has an error of its own.
 */
export function returnsRecords(r: unknown): boolean {
  return !!r && r !== true && !(r instanceof Promise) && !(Array.isArray(r) && r[0] === undefined);
}

/**
 * The error for a flatMap function, or a process function (`kind` "process": its
 * `processElement`, `onTimer`, a window's `process`), whose `method` of operator `operator`
 * returned `value`, records (see {@linkcode returnsRecords}), instead of emitting them through
 * its collector.
 */
export function valueReturnedError(
  value: unknown,
  method: string,
  operator: string,
  kind: "flatMap" | "process" = "flatMap",
): ConfigError {
  const what = Array.isArray(value) ? `an array of ${value.length}` : describeValue(value);
  return new ConfigError(
    `${method} of operator "${operator}" returned ${what}: ` +
      (kind === "flatMap"
        ? `a flatMap function emits its records with out.collect(record) and returns nothing ` +
          `(what it returns is not emitted); for one record per input use map`
        : `a process function emits its records with out.collect(record) and returns nothing, ` +
          `as Flink's (what it returns is not emitted): call out.collect for each record`),
  );
}

/**
 * Fails the job when a process function's `method` (void, as Flink's) returned a promise or
 * records. Callers on the per-record path call it only for a result that is not undefined, so
 * the usual call costs one comparison.
 */
export function checkVoidResult(r: unknown, method: string, operator: string): void {
  if (r instanceof Promise) throw promiseReturnedError(r, method, operator);
  if (returnsRecords(r)) throw valueReturnedError(r, method, operator, "process");
}

/** `v` as an error names what a user function was given or returned. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "function") return "a function";
  if (typeof v === "string") return `the string ${JSON.stringify(v.slice(0, 40))}`;
  if (typeof v === "object") {
    const name: unknown = v.constructor?.name;
    if (typeof name !== "string" || name === "" || name === "Object") return "an object";
    return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
  }
  return `the ${typeof v} ${String(v)}`;
}

/**
 * The error for a reduce or aggregate function (`method` of `operator`, e.g. `operator "sum"`)
 * that returned undefined where it must return the new `what` (value, accumulator): stored,
 * undefined is no state, and the key or window would start again from its next record.
 */
export function undefinedReturnedError(
  method: string,
  operator: string,
  what: string,
): ConfigError {
  return new ConfigError(
    `${method} of ${operator} returned undefined: it must return the new ${what} ` +
      `(one updated in place too)`,
  );
}

/**
 * The error for a map function (`method` of operator `operator`: `map`, a CoMap's `map1` or
 * `map2`) that returned undefined: a missing `return` (`(x) => { x + 1; }`), whose undefined
 * records would go on as blank lines in a file, `"undefined"` keys, empty results. Java's compiler
 * refuses a map without its return, and Flink's serializers a null record.
 */
export function undefinedMappedError(method: string, operator: string): ConfigError {
  return new ConfigError(
    `${method} of operator "${operator}" returned undefined: a map function returns the record ` +
      `to emit (a missing return?); to emit nothing for some records use flatMap or filter`,
  );
}

/**
 * The error for a filter function (`method` of operator `operator`) that returned undefined: a
 * missing `return` (`(x) => { x > 1; }`), which would drop every record without a word. Flink's
 * filter returns a `boolean` its compiler insists on, and Bytewax's refuses anything but a bool;
 * other falsy values (`null`, `0`, `""`) still drop the record, as JavaScript's `Array.filter`.
 */
export function undefinedPredicateError(method: string, operator: string): ConfigError {
  return new ConfigError(
    `${method} of operator "${operator}" returned undefined: a filter function returns true to ` +
      `keep the record and false to drop it (a missing return?)`,
  );
}
