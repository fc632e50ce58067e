/**
 * The file sinks' default line for a record: strings as they are, other values as JSON.
 *
 * @module
 */

/** JSON's number text for a bigint (JSON numbers have no size limit); `JSON.rawJSON` is ES2025. */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * `value` as one line: a string as it is, anything else as JSON, a bigint as its digits (as
 * Flink's string encoder writes a long), where `JSON.stringify` throws "Do not know how to
 * serialize a BigInt" and would fail the job.
 */
export function jsonLine(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value, (_key, v) => typeof v === "bigint" ? rawJSON(String(v)) : v);
}
