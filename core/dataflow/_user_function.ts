/**
 * User functions are checked when the job is built: unchecked code (`deno run`
 * does not type-check) that passes `null`, a string, or an object without the
 * method would otherwise fail at the first record with a TypeError from inside
 * weir (`fn.map.bind`, `this.sink.invoke is not a function`), or not at all
 * for an input that never sees a record. Java's compiler does this for Flink.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { describeValue } from "../runtime/_sync_call.ts";

/**
 * Throws a `ConfigError` unless `fn` is a function (when `alone`, as `map(x => …)`
 * takes) or an object with every one of `methods` (none: only a function will do); `call` names the API call
 * (`"map"`, `"addSink"`), as the message starts with it.
 */
export function checkUserFunction(
  call: string,
  fn: unknown,
  methods: readonly string[],
  alone: boolean,
): void {
  if (alone && typeof fn === "function") return;
  const isObject = typeof fn === "object" && fn !== null;
  const missing = methods.filter((m) =>
    !isObject || typeof (fn as Record<string, unknown>)[m] !== "function"
  );
  if (isObject && methods.length > 0 && missing.length === 0) return;
  const list = (names: readonly string[]) => names.map((m) => `${m}()`).join(" and ");
  const wanted = methods.length === 0
    ? "a function"
    : alone
    ? `a function, or an object with ${list(methods)}`
    : `an object with ${list(methods)}`;
  const got = !isObject
    ? describeValue(fn)
    : methods.length === 0
    ? "an object"
    : `an object without ${list(missing)}`;
  throw new ConfigError(`${call} needs ${wanted}, got ${got}`);
}
