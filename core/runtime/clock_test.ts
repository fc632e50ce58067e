import assert from "node:assert/strict";
import { SystemClock } from "./clock.ts";

Deno.test("SystemClock: a time more than 2^31 - 1 ms ahead, or +Infinity, is not called back at once", async () => {
  const clock = new SystemClock();
  const fired: string[] = [];
  const cancels = [
    clock.schedule(Date.now() + 30 * 24 * 3_600_000, () => fired.push("in 30 days")),
    clock.schedule(Infinity, () => fired.push("never")),
  ];
  // setTimeout ran a longer delay after 1 ms: by the time a near callback runs, it had.
  await new Promise<void>((resolve) => clock.schedule(Date.now() + 20, resolve));
  assert.equal(fired.join(), "");
  for (const cancel of cancels) cancel();
  // A near time still fires, and a cancelled one does not.
  const cancelled = clock.schedule(Date.now() + 5, () => fired.push("cancelled"));
  cancelled();
  await new Promise<void>((resolve) => clock.schedule(Date.now() + 20, resolve));
  assert.deepEqual(fired, []);
});
