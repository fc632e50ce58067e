/**
 * The database layouts: Redis completes a checkpoint by swapping hashes (the
 * script's work does not grow with the changes, a reset removes what it does
 * not write), and databases written by the layout before versioned parts
 * (PostgreSQL without `weir_versions`, Redis without `states`) are migrated
 * when a job opens them: their state stays visible and is carried on. A job
 * opening a PostgreSQL database while another migrates it waits its turn.
 */
import assert from "node:assert/strict";
import { openRemoteStore } from "../core/checkpoint/storage/open_remote_store.ts";
import { SCHEMA_LOCK_KEY } from "../core/checkpoint/storage/postgres/postgres_store.ts";
import { RedisStore } from "../core/checkpoint/storage/redis/redis_store.ts";
import {
  type RemoteStore,
  SEGMENT_CHUNK,
  type StateRow,
} from "../core/checkpoint/storage/remote_store.ts";
import { startPostgres, startRedis, type TestServer } from "./_helpers/db_servers.ts";
import {
  type DatabaseKind,
  psql,
  redisCli,
  redisCommands,
  stateInDatabase,
  stuckSession,
} from "./_helpers/database_state.ts";

async function withStore(
  kind: DatabaseKind,
  job: string,
  f: (store: RemoteStore, server: TestServer) => Promise<void>,
  before?: (server: TestServer) => void,
): Promise<void> {
  const server = kind === "postgres" ? await startPostgres() : await startRedis();
  try {
    before?.(server);
    const store = await openRemoteStore({ kind, url: server.url }, job);
    try {
      await f(store, server);
    } finally {
      await store.close();
    }
  } finally {
    await server.stop();
  }
}

const row = (state: string, key: string, value: string | null): StateRow => ({
  operator: "counts",
  state,
  keyGroup: 1,
  key: JSON.stringify(key),
  namespace: null,
  userKey: null,
  value,
});
const manifest = new TextEncoder().encode("{}");

Deno.test("redis checkpoint storage: completing a checkpoint swaps hashes, its script's commands do not grow with the changes", async () => {
  await withStore("redis", "swap", async (store, server) => {
    const visible = () => new Map([...stateInDatabase("redis", server.url, "swap", "counts", "n")]);
    /** Commands the completion script ran while checkpoint `id` with `rows` completed. */
    const completing = async (id: number, rows: StateRow[]) => {
      await store.writePart(id, { segments: new Map(), rows });
      const lines = await redisCommands(
        server.url,
        () => store.complete({ id, kind: "checkpoint", manifest }),
      );
      return lines.filter((l) => / lua\] /.test(l));
    };
    const keys = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `k${from + i}`);
    await completing(1, keys(10).map((k) => row("n", k, "1")));
    const small = await completing(2, keys(10).map((k) => row("n", k, "2")));
    const large = await completing(3, [
      ...keys(2000).map((k) => row("n", k, "3")),
      ...keys(5).map((k) => row("n", k, null)),
    ]);
    assert.deepEqual(
      visible(),
      new Map(keys(2000).slice(5).map((k): [string, number] => [JSON.stringify(k), 3])),
    );
    assert.ok(small.length > 0, "the script's commands are seen");
    assert.equal(large.length, small.length, `${small.join("\n")}\n---\n${large.join("\n")}`);
    assert.ok(!large.some((l) => /"(hset|hdel|hgetall)"/i.test(l)), large.join("\n"));
    // After the catch-up the shadow is as of checkpoint 3: the next one copies nothing.
    assert.deepEqual(redisCli(server.url, "GET", "weir:swap:shadow-of"), ["3"]);
    const next = await redisCommands(server.url, async () => {
      await store.writePart(4, { segments: new Map(), rows: [row("n", "k7", "4")] });
      await store.complete({ id: 4, kind: "checkpoint", manifest });
    });
    assert.ok(!next.some((l) => /"copy"/i.test(l)), next.join("\n"));
    assert.equal(visible().get('"k7"'), 4);
    assert.equal(visible().size, 1995);
  });
});

Deno.test("redis checkpoint storage: a reset checkpoint shows exactly the entries it writes; one without changes keeps the state", async () => {
  await withStore("redis", "reset", async (store, server) => {
    const visible = () =>
      new Map([...stateInDatabase("redis", server.url, "reset", "counts", "n")].sort());
    await store.writePart(1, {
      segments: new Map(),
      rows: [row("n", "a", "1"), row("n", "b", "1")],
    });
    await store.writePart(1, { segments: new Map(), rows: [row("m", "x", "1")] });
    await store.complete({ id: 1, kind: "checkpoint", manifest });
    // No changes: nothing swapped, the state stays.
    await store.writePart(2, { segments: new Map(), rows: [] });
    await store.complete({ id: 2, kind: "checkpoint", manifest });
    assert.deepEqual(visible(), new Map([['"a"', 1], ['"b"', 1]]));
    assert.equal(await store.latest(), 2);
    // A reset: every entry is written; the rest (b, and state m) goes.
    await store.writePart(3, { segments: new Map(), rows: [row("n", "a", "5")], reset: true });
    await store.complete({ id: 3, kind: "checkpoint", manifest, reset: true });
    assert.deepEqual(visible(), new Map([['"a"', 5]]));
    assert.deepEqual(stateInDatabase("redis", server.url, "reset", "counts", "m"), new Map());
    // Incremental again after it.
    await store.writePart(4, { segments: new Map(), rows: [row("n", "c", "1")] });
    await store.complete({ id: 4, kind: "checkpoint", manifest });
    assert.deepEqual(visible(), new Map([['"a"', 5], ['"c"', 1]]));
  });
});

Deno.test("redis checkpoint storage: a checkpoint that does not complete is invisible; its changes are undone in the shadow field by field, not copied again", async () => {
  await withStore("redis", "undo", async (store, server) => {
    const visible = () =>
      new Map([...stateInDatabase("redis", server.url, "undo", "counts", "n")].sort());
    const rows = Array.from({ length: 3000 }, (_, i) => row("n", `k${i}`, "1"));
    await store.writePart(1, { segments: new Map(), rows });
    await store.complete({ id: 1, kind: "checkpoint", manifest });
    const one = visible();
    assert.equal(one.size, 3000);
    // Checkpoint 2 writes its part (k0 changed, k1 removed, a new key) and fails.
    await store.writePart(2, {
      segments: new Map(),
      rows: [row("n", "k0", "9"), row("n", "k1", null), row("n", "new", "1")],
    });
    assert.deepEqual(visible(), one, "the part is invisible");
    assert.deepEqual(redisCli(server.url, "EXISTS", "weir:undo:shadow-of"), ["0"]);
    const undo = await redisCommands(server.url, () => store.discard({ id: 2 }));
    assert.ok(!undo.some((l) => /"(copy|hgetall)"/i.test(l)), undo.join("\n"));
    assert.deepEqual(redisCli(server.url, "GET", "weir:undo:shadow-of"), ["1"]);
    assert.deepEqual(
      new Map(
        [...stateInDatabase("redis", server.url, "undo", "counts", "n")].sort(),
      ),
      one,
    );
    // The next checkpoint starts from a shadow as of checkpoint 1: nothing copied, and
    // nothing of the failed part shows.
    const next = await redisCommands(server.url, async () => {
      await store.writePart(3, { segments: new Map(), rows: [row("n", "k2", "5")] });
      await store.complete({ id: 3, kind: "checkpoint", manifest });
    });
    assert.ok(!next.some((l) => /"copy"/i.test(l)), next.join("\n"));
    const three = visible();
    assert.equal(three.size, 3000);
    assert.equal(three.get('"k0"'), 1);
    assert.equal(three.get('"k1"'), 1);
    assert.equal(three.get('"k2"'), 5);
    assert.equal(three.get('"new"'), undefined);
  });
});

Deno.test("redis checkpoint storage: state hashes written before the states set are found and carried on; old pending parts are removed", async () => {
  const p = "weir:legacy:";
  await withStore("redis", "legacy", async (store, server) => {
    await store.discard();
    assert.deepEqual(redisCli(server.url, "KEYS", `${p}pending*`), []);
    await store.writePart(2, {
      segments: new Map(),
      rows: [row("n", "a", "2"), row("n", "b", null)],
    });
    await store.complete({ id: 2, kind: "checkpoint", manifest });
    assert.deepEqual(
      new Map([...stateInDatabase("redis", server.url, "legacy", "counts", "n")].sort()),
      new Map([['"a"', 2], ['"c"', 1]]),
    );
    assert.deepEqual(redisCli(server.url, "SMEMBERS", `${p}states`), [`${p}state:counts:n`]);
  }, (server) => {
    // What a job of the layout before the `states` set and the shadow hashes left.
    redisCli(server.url, "ZADD", `${p}checkpoints`, "1", "1");
    redisCli(server.url, "SET", `${p}latest`, "1");
    redisCli(server.url, "SET", `${p}manifest:1`, "{}");
    redisCli(
      server.url,
      "HSET",
      `${p}state:counts:n`,
      '["a",null,null]',
      "1",
      '["b",null,null]',
      "1",
      '["c",null,null]',
      "1",
    );
    // A checkpoint that layout never completed.
    redisCli(server.url, "SADD", `${p}pending`, "2");
    redisCli(server.url, "SADD", `${p}pending:2`, `${p}state:counts:n`);
    redisCli(server.url, "HSET", `${p}pending:2|${p}state:counts:n`, '["a",null,null]', "9");
  });
});

Deno.test("redis checkpoint storage: a segment is stored and read chunk by chunk, collected with every chunk; one stored whole by the layout before chunks still reads and is collected", async () => {
  const server = await startRedis();
  const p = "weir:chunks:";
  const keys = (pattern: string) => redisCli(server.url, "KEYS", pattern).sort();
  const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
  const store = await RedisStore.open(server.url, "chunks", { segmentChunk: 1000 });
  const reader = await RedisStore.open(server.url, "chunks");
  try {
    // Three chunks, the last short; exactly three chunks; no chunk at all.
    const big = pattern(2500);
    const exact = pattern(3000).reverse();
    const empty = new Uint8Array(0);
    const segments = new Map([["big.seg", big], ["exact.seg", exact], ["empty.seg", empty]]);
    await store.writePart(1, { segments, rows: [] });
    await store.complete({ id: 1, kind: "checkpoint", manifest });
    assert.deepEqual(
      keys(`${p}segment:*`),
      [0, 1, 2].flatMap((i) => [`${p}segment:big.seg:${i}`, `${p}segment:exact.seg:${i}`]).sort(),
    );
    assert.deepEqual(
      ["big.seg:0", "big.seg:2", "exact.seg:2"].map((k) =>
        redisCli(server.url, "STRLEN", `${p}segment:${k}`)[0]
      ),
      ["1000", "500", "1000"],
    );
    assert.deepEqual(
      redisCli(server.url, "HMGET", `${p}segment-chunks`, "big.seg", "exact.seg", "empty.seg"),
      ["3", "3", "0"],
    );
    // Byte for byte, whatever chunk size the reader writes with.
    for (const s of [store, reader]) {
      for (const [name, bytes] of segments) assert.deepEqual(await s.segment(name), bytes);
    }

    // What the layout before chunks left: the segment whole, in one string, no chunk count.
    const old = "written whole by an older weir; ".repeat(40);
    redisCli(server.url, "SET", `${p}segment:old.seg`, old);
    redisCli(server.url, "SADD", `${p}segments`, "old.seg");
    redisCli(server.url, "HSET", `${p}segment-checkpoints`, "old.seg", "1");
    assert.deepEqual(await store.segment("old.seg"), new TextEncoder().encode(old));
    assert.deepEqual((await store.segmentNames()).sort(), [
      "big.seg",
      "empty.seg",
      "exact.seg",
      "old.seg",
    ]);

    // A missing chunk, a missing segment: clear errors naming them.
    await store.writePart(2, { segments: new Map([["gap.seg", pattern(1500)]]), rows: [] });
    await store.complete({ id: 2, kind: "checkpoint", manifest });
    redisCli(server.url, "DEL", `${p}segment:gap.seg:1`);
    await assert.rejects(
      store.segment("gap.seg"),
      (e: Error) => e.message.includes("segment gap.seg is incomplete: chunk 1 of 2 is missing"),
    );
    await assert.rejects(
      store.segment("nowhere.seg"),
      (e: Error) => e.message.includes("segment nowhere.seg does not exist"),
    );

    // Collection reports each segment's size and removes every key of it.
    const expected = {
      checkpoints: [1],
      segments: [
        { name: "big.seg", size: 2500 },
        { name: "empty.seg", size: 0 },
        { name: "exact.seg", size: 3000 },
        { name: "old.seg", size: old.length },
      ],
    };
    const keep = new Set(["gap.seg"]);
    assert.deepEqual(await store.collect([2], keep, { dryRun: true }), expected);
    assert.equal(keys(`${p}segment:*`).length, 8);
    assert.deepEqual(await store.collect([2], keep), expected);
    assert.deepEqual(keys(`${p}segment:*`), [`${p}segment:gap.seg:0`]);
    assert.deepEqual(redisCli(server.url, "HKEYS", `${p}segment-chunks`), ["gap.seg"]);
    assert.deepEqual(redisCli(server.url, "HKEYS", `${p}segment-checkpoints`), ["gap.seg"]);
    assert.deepEqual(await store.segmentNames(), ["gap.seg"]);
    assert.deepEqual(await store.collect([], new Set()), {
      checkpoints: [2],
      segments: [{ name: "gap.seg", size: 1000 }],
    });
    assert.deepEqual(keys(`${p}*`), []);

    // The default chunk: SEGMENT_CHUNK bytes (a Redis string holds at most 512 MB).
    const large = pattern(SEGMENT_CHUNK + 5);
    await reader.writePart(3, { segments: new Map([["large.seg", large]]), rows: [] });
    assert.deepEqual(
      [0, 1].map((i) => redisCli(server.url, "STRLEN", `${p}segment:large.seg:${i}`)[0]),
      [String(SEGMENT_CHUNK), "5"],
    );
    assert.deepEqual(await store.segment("large.seg"), large);
  } finally {
    await store.close();
    await reader.close();
    await server.stop();
  }
});

Deno.test("postgres checkpoint storage: rows of the layout before weir_versions and weir_states move to weir_entries, stay visible and count when the job opens the database", async () => {
  await withStore("postgres", "legacy", async (store, server) => {
    const visible = () =>
      new Map([...stateInDatabase("postgres", server.url, "legacy", "counts", "n")].sort());
    // Opening moved the rows to weir_entries, one weir_states row for their state.
    assert.deepEqual(
      psql(
        server.url,
        `SELECT to_regclass('weir_state_entries') IS NULL;
         SELECT job_id, operator_uid, state_name, count(*) FROM weir_entries
           JOIN weir_states USING (state_ref) GROUP BY 1, 2, 3`,
      ),
      [["t"], ["legacy", "counts", "n", "5"]],
    );
    // What a job opening the store does first (CheckpointMirror.open): the rows are kept.
    await store.discard();
    assert.deepEqual(visible(), new Map([['"a"', 2], ['"b"', 1]]));
    await store.writePart(3, {
      segments: new Map(),
      rows: [row("n", "b", null), row("n", "d", "1")],
    });
    await store.complete({ id: 3, kind: "checkpoint", manifest });
    assert.deepEqual(visible(), new Map([['"a"', 2], ['"d"', 1]]));
  }, (server) => {
    // The tables of the layout before versioned parts, with two checkpoints' rows.
    psql(
      server.url,
      `CREATE TABLE weir_checkpoints (
        job_id text NOT NULL, kind text NOT NULL, checkpoint_id bigint NOT NULL, name text,
        manifest bytea NOT NULL, completed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, kind, checkpoint_id));
      CREATE TABLE weir_segments (
        job_id text NOT NULL, name text NOT NULL, data bytea NOT NULL, PRIMARY KEY (job_id, name));
      CREATE TABLE weir_state_entries (
        job_id text NOT NULL, operator_uid text NOT NULL, state_name text NOT NULL,
        entry text NOT NULL, key_group int NOT NULL, key jsonb NOT NULL, namespace jsonb,
        user_key jsonb, value jsonb, tombstone boolean NOT NULL, checkpoint_id bigint NOT NULL,
        PRIMARY KEY (job_id, operator_uid, state_name, entry, checkpoint_id));
      INSERT INTO weir_checkpoints (job_id, kind, checkpoint_id, manifest)
        VALUES ('legacy', 'checkpoint', 1, '\\x7b7d'), ('legacy', 'checkpoint', 2, '\\x7b7d');
      INSERT INTO weir_state_entries VALUES
        ('legacy', 'counts', 'n', '["a",null,null]', 1, '"a"', NULL, NULL, '1', false, 1),
        ('legacy', 'counts', 'n', '["b",null,null]', 1, '"b"', NULL, NULL, '1', false, 1),
        ('legacy', 'counts', 'n', '["c",null,null]', 1, '"c"', NULL, NULL, '1', false, 1),
        ('legacy', 'counts', 'n', '["a",null,null]', 1, '"a"', NULL, NULL, '2', false, 2),
        ('legacy', 'counts', 'n', '["c",null,null]', 1, '"c"', NULL, NULL, NULL, true, 2);`,
    );
  });
});

Deno.test("postgres checkpoint storage: entries compare bytewise, a table of the previous version is converted, and a part goes in in primary-key order", async () => {
  await withStore("postgres", "bytewise", async (store, server) => {
    const collation = () =>
      psql(
        server.url,
        `SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
         WHERE a.attrelid = 'weir_entries'::regclass AND a.attname = 'entry'`,
      );
    assert.deepEqual(collation(), [["C"]]);
    const visible = () =>
      new Map([...stateInDatabase("postgres", server.url, "bytewise", "counts", "n")].sort());
    assert.deepEqual(visible(), new Map([['"a"', 1], ['"b"', 2]]));
    // Keys in an order that is neither the entries' order nor its reverse.
    await store.writePart(2, {
      segments: new Map(),
      rows: ["k", "c", "z", "a", "Q", "m"].map((k) => row("n", k, "3")),
    });
    await store.complete({ id: 2, kind: "checkpoint", manifest });
    assert.deepEqual(
      psql(
        server.url,
        "SELECT key #>> '{}' FROM weir_entries WHERE checkpoint_id = 2 ORDER BY ctid",
      )
        .flat(),
      ["Q", "a", "c", "k", "m", "z"],
    );
    assert.deepEqual(visible().get('"b"'), 2);
    assert.deepEqual(visible().get('"Q"'), 3);
  }, (server) => {
    // The tables as the previous version created them: `entry` in the database's collation,
    // and a view reading it (which the conversion must drop and create again).
    psql(
      server.url,
      `CREATE TABLE weir_checkpoints (
        job_id text NOT NULL, kind text NOT NULL, checkpoint_id bigint NOT NULL, name text,
        manifest bytea NOT NULL, completed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, kind, checkpoint_id));
      CREATE TABLE weir_states (
        state_ref int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id text NOT NULL,
        operator_uid text NOT NULL, state_name text NOT NULL,
        UNIQUE (job_id, operator_uid, state_name));
      CREATE TABLE weir_entries (
        state_ref int NOT NULL, entry text NOT NULL, checkpoint_id bigint NOT NULL,
        key_group int NOT NULL, key jsonb NOT NULL, namespace jsonb, user_key jsonb,
        value jsonb, tombstone boolean NOT NULL, PRIMARY KEY (state_ref, entry, checkpoint_id));
      CREATE TABLE weir_versions (
        job_id text NOT NULL, checkpoint_id bigint NOT NULL, base boolean NOT NULL DEFAULT false,
        PRIMARY KEY (job_id, checkpoint_id));
      CREATE VIEW weir_state_latest AS
        SELECT st.job_id, st.operator_uid, st.state_name, e.key, e.namespace, e.user_key,
          e.value, e.checkpoint_id, e.checkpoint_id AS written_in_checkpoint, e.key_group
        FROM weir_entries e JOIN weir_states st USING (state_ref) WHERE e.entry <> '';
      INSERT INTO weir_states (job_id, operator_uid, state_name) VALUES ('bytewise', 'counts', 'n');
      INSERT INTO weir_checkpoints (job_id, kind, checkpoint_id, manifest)
        VALUES ('bytewise', 'checkpoint', 1, '\\x7b7d');
      INSERT INTO weir_versions VALUES ('bytewise', 1, true);
      INSERT INTO weir_entries VALUES
        (1, '["a",null,null]', 1, 1, '"a"', NULL, NULL, '1', false),
        (1, '["b",null,null]', 1, 1, '"b"', NULL, NULL, '2', false);`,
    );
  });
});

Deno.test("postgres checkpoint storage: tables of a layout it cannot read are a clear error naming the problem", async () => {
  const server = await startPostgres();
  try {
    psql(server.url, `CREATE TABLE weir_state_entries (job_id text, payload text)`);
    await assert.rejects(
      openRemoteStore({ kind: "postgres", url: server.url }, "x"),
      (e: Error) =>
        /not in a layout this version reads or migrates/.test(e.message) &&
        /checkpoint_id/.test(e.message) && /rename or drop them/.test(e.message) &&
        !e.message.includes(server.password),
    );
  } finally {
    await server.stop();
  }
});

Deno.test("postgres checkpoint storage: a job opening while another migrates the tables waits for it, longer than the lock timeout, then opens", async () => {
  const server = await startPostgres();
  // Another job's open, migrating a large old layout: it holds the schema lock until this test
  // ends its session, longer than a statement may wait for a table lock (10 s).
  let migrating: { release(): Promise<void> } | undefined;
  try {
    migrating = await stuckSession(
      server.url,
      `SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY})`,
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
    );
    let settled = false;
    const opening = openRemoteStore({ kind: "postgres", url: server.url }, "waits");
    opening.then(() => settled = true, () => settled = true);
    await new Promise((r) => setTimeout(r, 11_000));
    assert.equal(settled, false, "the open still waits after 11 s");
    await migrating.release();
    // The lock gone, the open completes, and the store works.
    const store = await opening;
    try {
      assert.deepEqual(await store.list(), []);
    } finally {
      await store.close();
    }
  } finally {
    await migrating?.release();
    await server.stop();
  }
});

Deno.test("postgres checkpoint storage: parts go in with COPY, text escaped; entries a checkpoint writes twice keep the last", async () => {
  await withStore("postgres", "copy", async (store, server) => {
    // Backslashes, tabs and line breaks are COPY's own syntax: they must arrive as written.
    const odd = "tab\there\\back\nline\r";
    await store.writePart(1, {
      segments: new Map(),
      rows: [
        { ...row("n", odd, JSON.stringify(odd)), operator: "op\t\\1" },
        { ...row("n", "m", "1"), namespace: JSON.stringify("w\\1"), userKey: '{"k":"a\\tb"}' },
        row("n", "a", "1"),
      ],
    });
    // Entries written twice in one checkpoint: within one part, and again in a later one.
    await store.writePart(1, {
      segments: new Map(),
      rows: [row("n", "b", "1"), row("n", "b", "2"), row("n", "a", "3")],
    });
    await store.writePart(1, { segments: new Map(), rows: [row("n", "b", "4")] });
    await store.complete({ id: 1, kind: "checkpoint", manifest });
    assert.deepEqual(
      psql(
        server.url,
        // The operator as JSON text: psql's output separates fields by tabs.
        `SELECT to_json(operator_uid)::text, key::text, namespace::text, user_key::text,
          value::text FROM weir_state_latest WHERE job_id = 'copy' ORDER BY operator_uid, key::text`,
      ),
      [
        ['"counts"', '"a"', "", "", "3"],
        ['"counts"', '"b"', "", "", "4"],
        ['"counts"', '"m"', '"w\\\\1"', '{"k": "a\\tb"}', "1"],
        [JSON.stringify("op\t\\1"), JSON.stringify(odd), "", "", JSON.stringify(odd)],
      ],
    );
  });
});

Deno.test("postgres checkpoint storage: a segment larger than a chunk is stored and read chunk by chunk; a missing chunk is a clear error", async () => {
  await withStore("postgres", "chunks", async (store, server) => {
    // Larger than one statement may carry (see SEGMENT_CHUNK): three chunks, the last short.
    const big = new Uint8Array(2 * SEGMENT_CHUNK + 123);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    big[big.length - 1] = 7;
    await store.writePart(1, { segments: new Map([["big.seg", big]]), rows: [] });
    await store.complete({ id: 1, kind: "checkpoint", manifest });
    // Uploaded again by a later checkpoint (another writer's copy): nothing changes.
    await store.writePart(2, { segments: new Map([["big.seg", big]]), rows: [] });
    await store.complete({ id: 2, kind: "checkpoint", manifest });
    assert.deepEqual(
      psql(
        server.url,
        `SELECT octet_length(data), size FROM weir_segments WHERE job_id = 'chunks';
         SELECT seq, octet_length(data) FROM weir_segment_chunks WHERE job_id = 'chunks'
           ORDER BY seq`,
      ),
      [
        ["0", String(big.length)],
        ["1", String(SEGMENT_CHUNK)],
        ["2", String(SEGMENT_CHUNK)],
        ["3", "123"],
      ],
    );
    assert.deepEqual(await store.segment("big.seg"), big);
    psql(server.url, "DELETE FROM weir_segment_chunks WHERE seq = 2");
    await assert.rejects(
      store.segment("big.seg"),
      (e: Error) =>
        /segment big\.seg is incomplete: chunk 2 of its \d+ bytes is missing/.test(e.message),
    );
    // Collection drops the chunks with the segment.
    await store.collect([2], new Set());
    assert.deepEqual(
      psql(server.url, "SELECT count(*) FROM weir_segment_chunks WHERE job_id = 'chunks'"),
      [["0"]],
    );
    // Layouts of older versions: a segment whole in its row (no size), and one whose row
    // holds its first bytes with the rest in chunks.
    psql(
      server.url,
      `INSERT INTO weir_segments (job_id, name, data) VALUES ('chunks', 'whole.seg', '\\x010203');
       INSERT INTO weir_segments (job_id, name, data, size)
         VALUES ('chunks', 'head.seg', '\\x0102', 5);
       INSERT INTO weir_segment_chunks (job_id, name, seq, data)
         VALUES ('chunks', 'head.seg', 1, '\\x030405')`,
    );
    assert.deepEqual(await store.segment("whole.seg"), new Uint8Array([1, 2, 3]));
    assert.deepEqual(await store.segment("head.seg"), new Uint8Array([1, 2, 3, 4, 5]));
  });
});

Deno.test("postgres checkpoint storage: segments of a job whose id holds quotes and backslashes read back", async () => {
  const job = "it's a \\ job";
  await withStore("postgres", job, async (store) => {
    const bytes = new Uint8Array([9, 8, 7]);
    await store.writePart(1, { segments: new Map([["a'b\\.seg", bytes]]), rows: [] });
    await store.complete({ id: 1, kind: "checkpoint", manifest });
    assert.deepEqual(await store.segment("a'b\\.seg"), bytes);
    await assert.rejects(store.segment("a'b.seg"), /segment a'b\.seg does not exist/);
  });
});

Deno.test("postgres checkpoint storage: a reset checkpoint shows exactly the entries it writes without a statement over the old rows; collection then drops them in bounded batches", async () => {
  await withStore("postgres", "reset", async (store, server) => {
    const visible = (state = "n") =>
      new Map([...stateInDatabase("postgres", server.url, "reset", "counts", state)].sort());
    const rowCount = () =>
      Number(
        psql(
          server.url,
          "SELECT count(*) FROM weir_entries JOIN weir_states USING (state_ref) WHERE job_id = 'reset'",
        )[0]![0],
      );
    await store.writePart(1, {
      segments: new Map(),
      rows: [row("n", "a", "1"), row("n", "b", "1"), row("m", "x", "1")],
    });
    await store.complete({ id: 1, kind: "checkpoint", manifest });
    await store.writePart(2, { segments: new Map(), rows: [row("n", "b", "2")] });
    await store.complete({ id: 2, kind: "checkpoint", manifest });
    assert.deepEqual(visible(), new Map([['"a"', 1], ['"b"', 2]]));
    // A reset: every entry is written; the rest (b, and state m) goes. Completing it writes
    // nothing for the entries it leaves out (no tombstones: the old rows are not read).
    await store.writePart(3, { segments: new Map(), rows: [row("n", "a", "5")], reset: true });
    await store.complete({ id: 3, kind: "checkpoint", manifest, reset: true });
    assert.deepEqual(visible(), new Map([['"a"', 5]]));
    assert.deepEqual(visible("m"), new Map());
    assert.equal(rowCount(), 5);
    // Incremental again after it.
    await store.writePart(4, { segments: new Map(), rows: [row("n", "c", "1")] });
    await store.complete({ id: 4, kind: "checkpoint", manifest });
    assert.deepEqual(visible(), new Map([['"a"', 5], ['"c"', 1]]));
    // Kept: 2 (before the reset) and 4: only what checkpoint 2 does not see goes (b of 1).
    await store.collect([2, 4], new Set());
    assert.equal(rowCount(), 5);
    // Once the oldest kept checkpoint is past the reset, the rows before it go.
    await store.collect([3, 4], new Set());
    assert.deepEqual(
      psql(
        server.url,
        `SELECT state_name, key::text, checkpoint_id FROM weir_entries JOIN weir_states USING (state_ref)
          WHERE job_id = 'reset' ORDER BY checkpoint_id, key::text`,
      ),
      [["n", '"a"', "3"], ["n", '"c"', "4"]],
    );
    assert.deepEqual(visible(), new Map([['"a"', 5], ['"c"', 1]]));
  });
});

Deno.test("redis checkpoint storage: close() returns when the server is gone, noticed or not", async () => {
  const server = await startRedis();
  try {
    for (const noticed of [false, true]) {
      const store = await RedisStore.open(server.url, "gone");
      assert.equal(await store.latest(), undefined);
      await server.kill();
      // Noticed: a command found the connection gone (the client is retrying to connect).
      if (noticed) await assert.rejects(store.latest());
      const t = performance.now();
      await store.close();
      assert.ok(performance.now() - t < 4000, `close() took ${performance.now() - t} ms`);
      await server.start();
    }
  } finally {
    await server.stop();
  }
});
