import assert from "node:assert/strict";
import { fixedDelay } from "./_fixed_delay.ts";

Deno.test("fixedDelay resolves each wait with its value after the delay, in call order", async () => {
  const wait = fixedDelay(20);
  const order: number[] = [];
  const started = performance.now();
  const first = wait(1).then((v) => (order.push(v), performance.now() - started));
  await new Promise((r) => setTimeout(r, 10));
  const second = wait(2).then((v) => (order.push(v), performance.now() - started));
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual(order, [1, 2]);
  // Timers may fire a fraction of a ms early against performance.now().
  assert.ok(a >= 19, `first resolved after ${a} ms`);
  assert.ok(b >= 29, `second resolved after ${b} ms (started 10 ms later)`);
});

Deno.test("fixedDelay serves many concurrent waits, and works again once drained", async () => {
  const wait = fixedDelay(1);
  const values = Array.from({ length: 3000 }, (_, i) => i);
  assert.deepEqual(await Promise.all(values.map((v) => wait(v))), values);
  // A chain of waits, each started when the one before resolved (the queue emptied in between).
  let n = 0;
  for (let i = 0; i < 5; i++) n += await wait(1);
  assert.equal(n, 5);
});

Deno.test("fixedDelay keeps one timer pending however many waits are", async () => {
  const realSetTimeout = globalThis.setTimeout;
  let armed = 0;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    armed++;
    return realSetTimeout(fn, ms);
  }) as typeof setTimeout;
  try {
    const wait = fixedDelay(5);
    await Promise.all(Array.from({ length: 500 }, (_, i) => wait(i)));
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  // One timer per firing, not per wait: 500 waits made within a ms or so are due together.
  assert.ok(armed < 10, `${armed} timers for 500 waits`);
});
