import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import type { StateBackend } from "../state/backend.ts";
import { StreamEnvironment } from "./environment.ts";

Deno.test("StreamEnvironment.create: a stateBackend that is not a state backend is a ConfigError naming it", () => {
  for (const bad of ["heap", {}, { name: "heap" }]) {
    assert.throws(
      () => StreamEnvironment.create({ stateBackend: bad as unknown as StateBackend }),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message === `stateBackend must be a state backend (new HeapStateBackend() or new ` +
            `LsmStateBackend(...)), got ${JSON.stringify(bad)}`,
    );
  }
  // The flag takes the names.
  const { env } = StreamEnvironment.fromArgs(["--state-backend", "heap"]);
  assert.equal(env.config.stateBackend.name, "heap");
});

Deno.test("StreamEnvironment.create: a restart strategy, clock, log, restore or timeout of the wrong kind is a ConfigError naming it", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ restartStrategy: "none" }, 'restartStrategy must be { kind: "none" | "fixed-delay"'],
    [{ restartStrategy: { kind: "always" } }, 'got {"kind":"always"}'],
    [{ clock: {} }, "clock must have now() and schedule(at, callback)"],
    [{ log: "yes" }, 'log must be a function of a line, got "yes"'],
    [{ restore: 5 }, 'restore must be "latest", a checkpoint id or a path, got 5'],
    [{ parallelism: "2" }, 'parallelism must be a positive integer, got "2"'],
    [{ workerStartTimeoutMs: 0 }, "workerStartTimeoutMs must be a positive integer (ms), got 0"],
    [{ ringMemoryBytes: "1G" }, 'ringMemoryBytes must be a positive integer (bytes), got "1G"'],
  ];
  for (const [config, message] of cases) {
    assert.throws(
      () => StreamEnvironment.create(config as never),
      (e: Error) => e instanceof ConfigError && e.message.includes(message),
      JSON.stringify(config),
    );
  }
});
