/**
 * Pieces several queries share: SQL's date formats, the dollar-to-euro price
 * and the price ranks of q15–q17.
 *
 * @module
 */
import type { AggregateFunction } from "../../../mod.ts";

/** `DATE_FORMAT(t, 'yyyy-MM-dd')` in UTC. */
export function day(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

/** `DATE_FORMAT(t, 'HH:mm')` in UTC. */
export function hourMinute(t: number): string {
  return new Date(t).toISOString().slice(11, 16);
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
