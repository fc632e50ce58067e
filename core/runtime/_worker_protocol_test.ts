import assert from "node:assert/strict";
import { openLink, type WorkerInit } from "./_worker_protocol.ts";

const init = (jobIndex: number) =>
  ({
    type: "init",
    init: { worker: 1, jobIndex, tasks: [], rings: {}, collections: {} } as unknown as WorkerInit,
  }) as const;

Deno.test("worker link: messages sent before the first init are the first attempt's; those before a later init are dropped", async () => {
  const { link, receive } = openLink(1, false, () => {});
  const got: string[] = [];
  // A checkpoint triggered while the worker still loaded: its barrier comes before the init.
  receive({ type: "run" });
  receive(init(0));
  receive({ type: "finish" });
  assert.equal((await link.nextInit()).jobIndex, 0);
  link.listen((m) => got.push(m.type));
  assert.deepEqual(got, ["run", "finish"]);
  // The next attempt's init ends the first's handler; what came between is the old attempt's.
  receive({ type: "cancel" });
  receive(init(0));
  assert.deepEqual(got, ["run", "finish", "cancel"]);
  receive({ type: "run" });
  assert.equal((await link.nextInit()).jobIndex, 0);
  link.listen((m) => got.push(`${m.type} again`));
  assert.deepEqual(got.slice(3), ["run again"]);
});
