/**
 * Pieces several queries share: SQL's date formats, the dollar-to-euro price
 * and the price ranks of q15–q17.
 *
 * @module
 */
import type { AggregateFunction } from "../../../mod.ts";

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
// Events come in time order: the last result is nearly always the answer,
// and formatting a Date per event costs more than the rest of a query.
let lastDay = NaN;
let lastDayText = "";
let lastMinute = NaN;
let lastMinuteText = "";

/** `DATE_FORMAT(t, 'yyyy-MM-dd')` in UTC. */
export function day(t: number): string {
  const d = Math.floor(t / DAY_MS);
  if (d !== lastDay) {
    lastDay = d;
    lastDayText = new Date(d * DAY_MS).toISOString().slice(0, 10);
  }
  return lastDayText;
}

/** `DATE_FORMAT(t, 'HH:mm')` in UTC. */
export function hourMinute(t: number): string {
  const m = Math.floor(t / MINUTE_MS);
  if (m !== lastMinute) {
    lastMinute = m;
    lastMinuteText = new Date(m * MINUTE_MS).toISOString().slice(11, 16);
  }
  return lastMinuteText;
}

/** `0.908 * price` as DECIMAL(23, 3): exact to the thousandth. */
export function euros(price: number): number {
  return (price * 908) / 1000;
}

/** The price rank of q15–q17: 1 below 10 000, 2 below 1 000 000, else 3. */
export function rank(price: number): 1 | 2 | 3 {
  return price < 10_000 ? 1 : price < 1_000_000 ? 2 : 3;
}

/** `count(*)` of a window. */
export const countAll: AggregateFunction<unknown, number, number> = {
  createAccumulator: () => 0,
  add: (_e, n) => n + 1,
  getResult: (n) => n,
  merge: (a, b) => a + b,
};
