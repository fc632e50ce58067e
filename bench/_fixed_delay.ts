/**
 * A fixed delay for many concurrent waits on one timer: what the async I/O
 * benchmark's simulated lookups and its test server wait with.
 *
 * Why not one `setTimeout` per wait: in Deno 2.9.6, with such timers pending
 * at all times, every young-generation GC after the process's first full GC
 * keeps far more of what was allocated since the last one (plain loops of
 * `setTimeout(5)` waits, nothing else: survival 1-3% before a full GC, 16-25%
 * after with 10 or 100 loops, each pause going from under 1 ms to 10-80 ms),
 * and every timer due during a pause waits for it. The same loops waiting on
 * one timer for the earliest wait keep 2-3% after a full GC as before it.
 *
 * @module
 */

/**
 * Returns `wait(value)`: resolves to `value` after `ms` milliseconds (or a
 * little more: the timer's own granularity). All waits of one `fixedDelay`
 * share one timer, armed for the earliest; they are due in call order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixedDelay } from "./_fixed_delay.ts";
 * const wait = fixedDelay(5);
 * const t = performance.now();
 * assert.deepEqual(await Promise.all([wait(1), wait(2)]), [1, 2]);
 * assert.ok(performance.now() - t >= 4.5);
 * ```
 */
export function fixedDelay(ms: number): <T>(value: T) => Promise<T> {
  // Waits in call order (so in due order): due times and resolvers, from `head` on.
  let due: number[] = [];
  let resolvers: (() => void)[] = [];
  let head = 0;
  let armed = false;
  const arm = (now: number) => {
    armed = true;
    setTimeout(fire, Math.max(0, due[head]! - now));
  };
  const fire = () => {
    armed = false;
    const now = performance.now();
    while (head < due.length && due[head]! <= now) resolvers[head++]!();
    if (head === due.length) {
      due = [];
      resolvers = [];
      head = 0;
    } else if (head > 1024 && head * 2 > due.length) {
      due = due.slice(head);
      resolvers = resolvers.slice(head);
      head = 0;
    }
    if (head < due.length) arm(now);
  };
  return <T>(value: T) =>
    new Promise<T>((resolve) => {
      const now = performance.now();
      due.push(now + ms);
      resolvers.push(() => resolve(value));
      if (!armed) arm(now);
    });
}
