/**
 * PostgreSQL collection after each checkpoint looks only at the rows written
 * since the previous one: after a chain of checkpoints (updates, removals, a
 * declined checkpoint), each collected through the same store, a collection
 * over every row (a fresh store's) finds nothing more to remove, and the view
 * shows the latest state.
 */
import assert from "node:assert/strict";
import { PostgresStore } from "../core/checkpoint/storage/postgres/postgres_store.ts";
import type { StateRow } from "../core/checkpoint/storage/remote_store.ts";
import { startPostgres } from "./_helpers/db_servers.ts";
import { psql, stateInDatabase } from "./_helpers/database_state.ts";

const row = (k: number, value: string | null): StateRow => ({
  operator: "op",
  state: "count",
  keyGroup: k % 128,
  key: `"k${k}"`,
  namespace: null,
  userKey: null,
  value,
});

Deno.test("postgres checkpoint storage: collecting after each checkpoint removes what a collection over every row would", async () => {
  const server = await startPostgres();
  const url = `${server.url}?job=collect`;
  const store = await PostgresStore.open(url, "collect");
  const rowCount = () =>
    Number(
      psql(
        server.url,
        "SELECT count(*) FROM weir_entries JOIN weir_states USING (state_ref) WHERE job_id = 'collect'",
      )[0]![0],
    );
  try {
    const expected = new Map<string, number>();
    let id = 0;
    const checkpoint = async (rows: StateRow[], complete = true) => {
      id++;
      await store.writePart(id, { segments: new Map(), rows });
      if (!complete) {
        await store.discard({ id });
        return;
      }
      await store.complete({ id, kind: "checkpoint", manifest: new Uint8Array([123, 125]) });
      for (const r of rows) {
        if (r.value === null) expected.delete(r.key);
        else expected.set(r.key, Number(r.value));
      }
      // Retention keeps the two newest.
      await store.collect([Math.max(1, id - 1), id], new Set());
    };
    await checkpoint(Array.from({ length: 200 }, (_, k) => row(k, String(k))));
    for (let c = 1; c <= 8; c++) {
      // A tenth of the keys change; some go, some come back.
      const rows = Array.from({ length: 20 }, (_, j) => {
        const k = (j * 10 + c) % 200;
        return row(k, (j + c) % 5 === 0 ? null : String(k * 100 + c));
      });
      // The fourth one is declined: written, never completed.
      await checkpoint(rows, c !== 4);
    }
    assert.deepEqual(
      new Map([...stateInDatabase("postgres", server.url, "collect", "op", "count")]),
      new Map([...expected].map(([k, v]) => [k, v])),
    );
    const before = rowCount();
    // Where the collections stopped is kept in the database, for the next job's store.
    assert.deepEqual(
      psql(server.url, "SELECT collected_up_to FROM weir_collections WHERE job_id = 'collect'"),
      [[String(id - 1)]],
    );
    // Without it, a fresh store collects over every row: nothing more goes.
    psql(server.url, "DELETE FROM weir_collections WHERE job_id = 'collect'");
    const fresh = await PostgresStore.open(url, "collect");
    try {
      await fresh.collect([id - 1, id], new Set());
    } finally {
      await fresh.close();
    }
    assert.equal(rowCount(), before);
    assert.deepEqual(
      new Map([...stateInDatabase("postgres", server.url, "collect", "op", "count")]),
      new Map([...expected]),
    );
  } finally {
    await store.close();
    await server.stop();
  }
});
