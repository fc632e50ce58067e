/**
 * A serializer given where weir keeps or sends values (a state descriptor,
 * `keyBy`, `returns`) is checked where it is given: unchecked code (`deno run`
 * does not type-check) that passes `undefined` or a name (`"f64"`) would
 * otherwise fail at the first record with a TypeError from inside weir, or,
 * on the heap backend, not until a checkpoint.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Serializer } from "./serializer.ts";

/**
 * Throws a `ConfigError` unless `s` has a string `id` and `write` and `read`
 * methods; `what` names it (`state "count": the value serializer`).
 */
export function checkSerializer(what: string, s: unknown): asserts s is Serializer<unknown> {
  const o = s as Partial<Serializer<unknown>> | null | undefined;
  if (
    typeof o === "object" && o !== null && typeof o.id === "string" &&
    typeof o.write === "function" && typeof o.read === "function"
  ) return;
  const got = typeof s === "string"
    ? `the string ${JSON.stringify(s.slice(0, 40))}`
    : typeof s === "object" && s !== null
    ? "an object without id, write() and read()"
    : typeof s === "function"
    ? "a function"
    : String(s);
  throw new ConfigError(
    `${what} must be a Serializer (Serializers.f64, Serializers.string, Serializers.plain, …), ` +
      `got ${got}`,
  );
}
