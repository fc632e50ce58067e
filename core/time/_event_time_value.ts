/**
 * Event times, watermarks and timers are numbers of milliseconds (Flink's
 * `long`); ±Infinity stand for Flink's `Long.MIN_VALUE` / `MAX_VALUE`. NaN
 * or a string would pass unnoticed where times are compared (every `<` with
 * NaN is false, strings compare as text) and fire timers and windows out of
 * order or never: they are refused where a user function hands one in.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { shownValue } from "../_options.ts";

/** At most this much of a record is shown in an error. */
const SHOWN_CHARS = 200;

/** `value` in an error message, cut short. */
function show(value: unknown): string {
  let s: string;
  try {
    s = String(JSON.stringify(value)); // undefined (a function, a symbol) shows as such
  } catch {
    s = String(value); // a bigint, a cycle
  }
  return s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}…` : s;
}

/**
 * Throws a `ConfigError` unless `time` is a number other than NaN, naming
 * `what` gave it (`"the timestamp assigner"`, `"registerEventTimeTimer"`)
 * and, for a record's timestamp, the record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkEventTime } from "./_event_time_value.ts";
 * checkEventTime(1_000, "the timestamp assigner");
 * checkEventTime(Infinity, "emitWatermark");
 * assert.throws(() => checkEventTime(NaN, "the timestamp assigner", { at: "?" }), /NaN/);
 * assert.throws(() => checkEventTime("5", "registerEventTimeTimer"), /string "5"/);
 * ```
 */
export function checkEventTime(time: unknown, what: string, record?: unknown): void {
  if (typeof time === "number" && time === time) return;
  const got = typeof time === "number" ? "NaN" : `${typeof time} ${show(time)}`;
  const hint = typeof time === "number"
    ? " (Date.parse of a date it cannot read gives NaN)"
    : " (convert it: Number(...), Date.parse(...))";
  throw new ConfigError(
    `${what} gave ${got}${record === undefined ? "" : ` for the record ${show(record)}`}: ` +
      `event times, watermarks and timers are numbers of milliseconds${hint}`,
  );
}

/**
 * Throws a `ConfigError` unless `ms` is a whole number of milliseconds, as
 * Flink's durations (`Duration`, `Time`) are: a fraction puts window bounds,
 * timers and watermarks between the instants event times take, and lateness
 * then disagrees with the windows (an element at 2 dropped as late at
 * watermark 1.5). `what` names the parameter; `orInfinity` lets `Infinity`
 * stand for Flink's `Long.MAX_VALUE` where that means "for ever".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWholeMs } from "./_event_time_value.ts";
 * checkWholeMs("Session gap", 30);
 * checkWholeMs("Allowed lateness", Infinity, true);
 * assert.throws(() => checkWholeMs("Tumbling window size", 2.5), /Tumbling window size .* got 2\.5/);
 * assert.throws(() => checkWholeMs("Idle timeout", Infinity), /got Infinity/);
 * assert.throws(() => checkWholeMs("Session gap", "30" as unknown as number), /got "30"/);
 * ```
 */
export function checkWholeMs(what: string, ms: number, orInfinity = false): void {
  if (Number.isInteger(ms) || (orInfinity && ms === Infinity)) return;
  // Quoted when a string ("10" read from an argument): a bare 10 would look valid.
  throw new ConfigError(`${what} must be a whole number of ms, got ${shownValue(ms)}`);
}
