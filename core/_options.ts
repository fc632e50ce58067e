/**
 * Options objects are checked for names they do not have: `deno run` does not
 * type-check, and a misspelt option (`parallelizm`, `intervalMS`) would
 * otherwise be dropped without a word, leaving its default in force (where
 * Flink's builder methods cannot be misspelt and compile).
 *
 * @module
 */
import { ConfigError } from "./errors.ts";

/**
 * Throws a `ConfigError` naming the first option of `options` that `known`
 * lacks (and the known one it is closest to); `where` names the options
 * (`StreamEnvironment.create`, `checkpoint`). `options` that is no object is
 * refused too.
 */
export function checkOptionNames(
  where: string,
  options: unknown,
  known: Readonly<Record<string, true>>,
): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ConfigError(
      `${where} takes an object of options, got ${
        Array.isArray(options) ? "an array" : JSON.stringify(options) ?? typeof options
      }`,
    );
  }
  const names = Object.keys(known);
  for (const name of Object.keys(options)) {
    if (Object.hasOwn(known, name)) continue;
    const near = names.find((k) => k.toLowerCase() === name.toLowerCase()) ??
      // Two edits apart only for longer names: "foo" is no misspelt "log".
      names.find((k) => editDistance(k, name) <= (name.length >= 6 ? 2 : 1));
    throw new ConfigError(
      `${where}: unknown option "${name}"` +
        (near !== undefined
          ? ` (did you mean "${near}"?)`
          : `; the options are ${names.join(", ")}`),
    );
  }
}

/** Levenshtein distance: the edits that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * `v` as a message shows it: a string quoted (`"256"` is no 256, which would look valid), NaN
 * and ±Infinity by name (JSON gives null), anything else as JSON where it has some.
 */
export function shownValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "bigint" || v === undefined) return String(v);
  if (typeof v === "function") return "a function";
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
