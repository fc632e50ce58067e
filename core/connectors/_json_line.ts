/**
 * The file sinks' default line for a record: strings as they are, other values as JSON.
 *
 * @module
 */

/** JSON's number text for a bigint (JSON numbers have no size limit); `JSON.rawJSON` is ES2025. */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

function bigintAsDigits(_key: string, v: unknown): unknown {
  return typeof v === "bigint" ? rawJSON(String(v)) : v;
}

/**
 * `value` as one line: a string as it is, anything else as JSON, a bigint as its digits (as
 * Flink's string encoder writes a long), where `JSON.stringify` throws "Do not know how to
 * serialize a BigInt" and would fail the job. The replacer runs only after that throw: a
 * replacer makes every other record's stringify several times slower.
 */
export function jsonLine(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return JSON.stringify(value, bigintAsDigits);
  }
}
