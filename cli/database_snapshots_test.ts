import assert from "node:assert/strict";
import { ConfigError } from "../core/errors.ts";
import { openDatabase } from "./database_snapshots.ts";

Deno.test("openDatabase: the snapshot readers' URL takes checkpoint and savepoint; a misspelt parameter fails before any connection, naming the nearest", async () => {
  const readers = { job: true, checkpoint: true, savepoint: true } as const;
  await assert.rejects(
    openDatabase("redis://127.0.0.1:1?job=wc&checkpiont=3", readers),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        `The checkpoint storage URL's parameters: unknown option "checkpiont" (did you mean "checkpoint"?)`,
  );
  // gc's URL names the job only.
  await assert.rejects(
    openDatabase("redis://127.0.0.1:1?job=wc&checkpoint=3"),
    (e) => e instanceof ConfigError && e.message.endsWith('"checkpoint"; the options are job'),
  );
});
