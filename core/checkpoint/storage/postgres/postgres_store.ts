/**
 * Checkpoints in PostgreSQL (`--checkpoint-storage postgres://…`), through
 * the maintained `postgres` client (npm:postgres).
 *
 * Tables (created when missing):
 * - `weir_checkpoints(job_id, kind, checkpoint_id, name, manifest, completed_at)`:
 *   one row per completed checkpoint or savepoint;
 * - `weir_segments(job_id, name, data, checkpoint_id, size)`: segment files, shared
 *   between checkpoints (`checkpoint_id`: the checkpoint that uploaded it; `size`: its
 *   length; `data`: empty, or the first bytes in tables of older versions);
 * - `weir_segment_chunks(job_id, name, seq, data)`: a segment's bytes, {@linkcode
 *   SEGMENT_CHUNK} per chunk (1, 2, …), written with a binary COPY in the same
 *   transaction as its `weir_segments` row and read back with one;
 * - `weir_states(state_ref, job_id, operator_uid, state_name)`: each job's states;
 * - `weir_entries(state_ref, entry, checkpoint_id, key_group, key, namespace, user_key,
 *   value, tombstone)`: decoded entries, one row each time an entry changed (or was
 *   removed: `tombstone`) in a checkpoint;
 * - `weir_versions(job_id, checkpoint_id, base)`: the checkpoints whose entry rows are
 *   committed (rows of any other checkpoint id are invisible); `base`: the checkpoint
 *   wrote every entry (a reset), the rows before it no longer count;
 * - `weir_collections(job_id, collected_up_to)`: where the last collection of old rows
 *   stopped (the next one reads only rows written since);
 * - view `weir_state_latest`: every job's state as of its latest completed checkpoint.
 *
 * @module
 */
// A full specifier, as in core/admin/_hono.ts: weir loaded from a URL has no import map.
// deno-lint-ignore no-import-prefix
import postgres from "npm:postgres@3.4.7";
import { Buffer } from "node:buffer";
import { ignoreUncaught } from "../../../runtime/_uncaught.ts";
import { within } from "../_within.ts";
import { CheckpointError, ConfigError, DirectoryInUseError } from "../../../errors.ts";
import {
  type Collected,
  type CollectOptions,
  redactUrl,
  type RemoteCompletion,
  type RemoteEntry,
  type RemotePart,
  type RemoteStore,
  SEGMENT_CHUNK,
  type StateRow,
  type StoreAddress,
} from "../remote_store.ts";
import { copyHeader, CopyReader, copyTrailer, CopyTuple, readInt4 } from "./_binary_copy.ts";

// Rows per DELETE of rows a reset replaced: each statement's time stays bounded.
const ROWS_PER_DELETE = 50_000;

// Rows per INSERT … unnest() of an upsert (where COPY cannot write a part): few round
// trips, bounded message size.
const ROW_BATCH = 5000;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS weir_checkpoints (
    job_id text NOT NULL, kind text NOT NULL, checkpoint_id bigint NOT NULL, name text,
    manifest bytea NOT NULL, completed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, kind, checkpoint_id))`,
  `CREATE TABLE IF NOT EXISTS weir_segments (
    job_id text NOT NULL, name text NOT NULL, data bytea NOT NULL, PRIMARY KEY (job_id, name))`,
  // A state's identity once, not in every row and every index entry of its entries: the
  // indexes of weir_entries, whose upkeep is most of what writing a row costs the server,
  // stay narrow. Never removed (a row per state).
  `CREATE TABLE IF NOT EXISTS weir_states (
    state_ref int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id text NOT NULL,
    operator_uid text NOT NULL, state_name text NOT NULL,
    UNIQUE (job_id, operator_uid, state_name))`,
  // `entry` compares bytewise (COLLATE "C"): an index entry costs a memcmp, not a call of
  // the database locale's collation, and the primary key orders entries as a part sorts
  // them (see copyRows()).
  `CREATE TABLE IF NOT EXISTS weir_entries (
    state_ref int NOT NULL, entry text COLLATE "C" NOT NULL, checkpoint_id bigint NOT NULL,
    key_group int NOT NULL, key jsonb NOT NULL, namespace jsonb, user_key jsonb, value jsonb,
    tombstone boolean NOT NULL, PRIMARY KEY (state_ref, entry, checkpoint_id))`,
  // Tables of earlier versions compare entries with the database's collation: rebuilt
  // once (the view reads the column, so it goes first; it is created again below).
  `DO $$ BEGIN
    IF (SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
        WHERE a.attrelid = 'weir_entries'::regclass AND a.attname = 'entry') <> 'C' THEN
      DROP VIEW IF EXISTS weir_state_latest;
      ALTER TABLE weir_entries ALTER COLUMN entry TYPE text COLLATE "C";
    END IF;
  END $$`,
  `ALTER TABLE weir_segments ADD COLUMN IF NOT EXISTS checkpoint_id bigint`,
  // Null for a segment written whole (before chunks).
  `ALTER TABLE weir_segments ADD COLUMN IF NOT EXISTS size bigint`,
  `CREATE TABLE IF NOT EXISTS weir_segment_chunks (
    job_id text NOT NULL, name text NOT NULL, seq int NOT NULL, data bytea NOT NULL,
    PRIMARY KEY (job_id, name, seq))`,
  `CREATE TABLE IF NOT EXISTS weir_versions (
    job_id text NOT NULL, checkpoint_id bigint NOT NULL, PRIMARY KEY (job_id, checkpoint_id))`,
  `ALTER TABLE weir_versions ADD COLUMN IF NOT EXISTS base boolean NOT NULL DEFAULT false`,
  `CREATE INDEX IF NOT EXISTS weir_entries_version ON weir_entries (state_ref, checkpoint_id)`,
  // Collection finds tombstones without reading a checkpoint's other rows.
  `CREATE INDEX IF NOT EXISTS weir_entries_tombstones
    ON weir_entries (state_ref, checkpoint_id) WHERE tombstone`,
  `CREATE TABLE IF NOT EXISTS weir_collections (
    job_id text PRIMARY KEY, collected_up_to bigint NOT NULL)`,
  // Invariant (enforced by writePart() and complete()): subtasks write their rows of
  // weir_entries under the checkpoint's id in their own transactions, before the
  // checkpoint completes; a row counts only once its checkpoint id is in weir_versions,
  // which complete() inserts in the same transaction as the weir_checkpoints row. So
  // the view shows exactly the rows of completed checkpoints: a declined, aborted or
  // crashed checkpoint's rows stay invisible until discard() deletes them. An entry's
  // state as of checkpoint C is its newest committed row with B <= checkpoint_id <= C,
  // B the newest base version (a reset, which wrote every entry) at or below C.
  `CREATE OR REPLACE VIEW weir_state_latest AS
    SELECT st.job_id, st.operator_uid, st.state_name, s.key, s.namespace, s.user_key, s.value,
      s.latest AS checkpoint_id, s.checkpoint_id AS written_in_checkpoint, s.key_group
    FROM (
      SELECT DISTINCT ON (e.state_ref, e.entry) e.*, l.latest
      FROM weir_entries e
      JOIN weir_states es ON es.state_ref = e.state_ref
      JOIN weir_versions v ON v.job_id = es.job_id AND v.checkpoint_id = e.checkpoint_id
      JOIN (SELECT c.job_id, max(c.checkpoint_id) AS latest,
              (SELECT coalesce(max(b.checkpoint_id), -1) FROM weir_versions b
                WHERE b.job_id = c.job_id AND b.base AND b.checkpoint_id <= max(c.checkpoint_id))
                AS base
            FROM weir_checkpoints c WHERE c.kind = 'checkpoint' GROUP BY c.job_id) l
        ON l.job_id = es.job_id AND e.checkpoint_id <= l.latest AND e.checkpoint_id >= l.base
      ORDER BY e.state_ref, e.entry, e.checkpoint_id DESC
    ) s
    JOIN weir_states st ON st.state_ref = s.state_ref
    WHERE NOT s.tombstone`,
];

/**
 * Moves the rows of `weir_state_entries`, the layout before `weir_states`
 * (each row naming its job, operator and state), into `weir_entries`, and
 * drops it. Without `weir_versions` (`versionless`) every row was written in
 * the transaction that completed its checkpoint, so every row counts: left
 * out, the rows would be invisible and the first discard() would delete them.
 */
async function migrateStateEntries(
  tx: postgres.TransactionSql,
  versionless: boolean,
): Promise<void> {
  if (versionless) {
    await tx`INSERT INTO weir_versions (job_id, checkpoint_id)
      SELECT DISTINCT job_id, checkpoint_id FROM weir_state_entries ON CONFLICT DO NOTHING`;
  }
  await tx`INSERT INTO weir_states (job_id, operator_uid, state_name)
    SELECT DISTINCT job_id, operator_uid, state_name FROM weir_state_entries
    ON CONFLICT DO NOTHING`;
  await tx`INSERT INTO weir_entries (state_ref, entry, checkpoint_id, key_group, key, namespace,
      user_key, value, tombstone)
    SELECT s.state_ref, e.entry, e.checkpoint_id, e.key_group, e.key, e.namespace, e.user_key,
      e.value, e.tombstone
    FROM weir_state_entries e JOIN weir_states s USING (job_id, operator_uid, state_name)
    ON CONFLICT DO NOTHING`;
  await tx`DROP TABLE weir_state_entries`;
}

/**
 * postgres.js (3.4) under Deno's `node:net` can write to a socket it already
 * destroyed when the server goes away: `connection.js` `nextWrite` throws
 * "Cannot read properties of null (reading 'write')" from a `setImmediate`
 * callback that no promise reaches. That error only means the connection is
 * gone: the statement in flight fails (the checkpoint is declined) and the
 * next one reconnects.
 */
function ignoreClosedSocketWrites(): void {
  ignoreUncaught(
    "Cannot read properties of null (reading 'write')",
    /postgres[\/]src[\/]connection\.js/,
  );
}

/**
 * The advisory lock a job's open holds while it creates or migrates the
 * tables: one open at a time per database.
 */
export const SCHEMA_LOCK_KEY = 7265697201;
/**
 * The first key of a job's lock (`pg_try_advisory_lock(JOB_LOCK_SPACE, hashtext(job))`): the
 * two-key locks are a space of their own, apart from the one-key schema lock. Two job names
 * whose hashes collide share a lock: the second run is refused as if it were the first's.
 */
const JOB_LOCK_SPACE = 0x77656972; // "weir"
/** How long opening a connection may take (s): a server that does not answer fails the open. */
const CONNECT_TIMEOUT_S = 5;
/** How long a statement waits for a table lock before it fails (ms). */
const LOCK_TIMEOUT_MS = 10_000;

/**
 * A {@linkcode RemoteStore} on PostgreSQL. The URL's `job` parameter (or
 * `jobId`) names the job; credentials come from the URL or `PGPASSWORD`,
 * `PGUSER`, ….
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PostgresStore } from "./postgres_store.ts";
 * // No server on port 1: a clear error naming it, without the password.
 * await assert.rejects(
 *   PostgresStore.open("postgres://weir:s3cret@127.0.0.1:1/weir", "word-count"),
 *   (e: Error) => e.message.includes("127.0.0.1:1") && !e.message.includes("s3cret"),
 * );
 * ```
 */
/**
 * Makes the client, which reads its defaults from the environment (`PGSSL`,
 * `PGPASSWORD`, …) whatever the URL gives: without `--allow-env` that is a
 * ConfigError saying so, not Deno's stack trace from inside the client.
 */
function withEnvAccess<T>(make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable)) throw e;
    throw new ConfigError(
      `PostgreSQL checkpoint storage needs --allow-env: its client reads PGSSL, PGPASSWORD and ` +
        `the other PG* variables (${e.message})`,
    );
  }
}

export class PostgresStore implements RemoteStore {
  readonly where: string;
  readonly #sql: postgres.Sql;
  readonly #job: string;
  readonly #url: string;
  /** The connection that holds the job's lock, while the run holds it (see `lock`). */
  #lockSession: postgres.ReservedSql | undefined;
  /** `weir_states` refs of this job's states, by {@linkcode stateKey}. */
  readonly #refs = new Map<string, number>();

  private constructor(sql: postgres.Sql, job: string, where: string, url: string) {
    this.#sql = sql;
    this.#job = job;
    this.where = where;
    this.#url = url;
  }

  /** Connects and creates the tables and the view when missing. */
  static async open(url: string, jobId: string): Promise<PostgresStore> {
    ignoreClosedSocketWrites();
    const where = `${redactUrl(url)} (job "${jobId}")`;
    const u = new URL(url);
    u.search = "";
    const sql = withEnvAccess(() =>
      postgres(u.toString(), {
        max: 4,
        onnotice: () => {},
        connect_timeout: CONNECT_TIMEOUT_S,
        // A dead server fails the statement instead of hanging the checkpoint.
        // A lock held by a killed writer's transaction fails the checkpoint (it is retried)
        // rather than waiting for the server to notice.
        connection: {
          application_name: "weir",
          statement_timeout: 60_000,
          lock_timeout: LOCK_TIMEOUT_MS,
          idle_in_transaction_session_timeout: 30_000,
        },
      })
    );
    const store = new PostgresStore(sql, jobId, where, url);
    try {
      // connect_timeout covers the TCP connection only: a host that accepts it and never
      // answers (a half-open path, a proxy) would leave the first statement waiting for ever.
      await within(sql`SELECT 1`, 1000 * CONNECT_TIMEOUT_S, () => {
        throw Object.assign(new Error("timed out"), { code: "CONNECT_TIMEOUT" });
      });
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      const error = store.#error("connect to", e);
      // A wrong password, user or database is the URL's fault: no retry mends it (exit 2).
      const code = (e as { code?: unknown }).code;
      if (code === "28P01" || code === "28000" || code === "3D000") {
        throw new ConfigError(error.message);
      }
      throw error;
    }
    try {
      await sql.begin(async (tx) => {
        // Jobs creating or migrating the tables at once: one at a time. Another job's open
        // holds the lock as long as its migration takes, so wait for it, not for lock_timeout
        // (a killed holder's transaction ends with its connection). Creating an index on a
        // large table of an older layout may take longer than a checkpoint's statements may:
        // it happens once, and the job cannot run without it.
        await tx.unsafe("SET LOCAL lock_timeout = 0");
        await tx.unsafe("SET LOCAL statement_timeout = 0");
        await tx.unsafe(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY})`);
        // The tables themselves: a lock held by a stuck writer fails the open, as it would a
        // checkpoint.
        await tx.unsafe(`SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`);
        const [had] = await tx`SELECT to_regclass('weir_state_entries') IS NOT NULL AS entries,
          to_regclass('weir_versions') IS NOT NULL AS versions`;
        for (const ddl of SCHEMA) await tx.unsafe(ddl);
        if (had?.entries) await migrateStateEntries(tx, !had.versions);
      });
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      // SQLSTATE class 42: a table or column is not what the statements expect.
      if (!String((e as { code?: unknown }).code).startsWith("42")) {
        throw store.#error("connect to", e);
      }
      const msg = e instanceof Error ? e.message : String(e);
      throw new CheckpointError(
        `Cannot use PostgreSQL at ${where}: its weir_* tables are not in a layout this version ` +
          `reads or migrates (${msg}); rename or drop them, or use another database`,
      );
    }
    return store;
  }

  #error(what: string, e: unknown): CheckpointError {
    // postgres.js says "write CONNECT_TIMEOUT host:port".
    const msg = (e as { code?: unknown }).code === "CONNECT_TIMEOUT"
      ? `no answer within ${CONNECT_TIMEOUT_S} s`
      : e instanceof Error
      ? e.message
      : String(e);
    return new CheckpointError(`Cannot ${what} PostgreSQL at ${this.where}: ${msg}`);
  }

  async list(): Promise<RemoteEntry[]> {
    try {
      const rows = await this.#sql`SELECT kind, checkpoint_id, name FROM weir_checkpoints
        WHERE job_id = ${this.#job} ORDER BY checkpoint_id`;
      return rows.map((r) => ({
        id: Number(r.checkpoint_id),
        kind: r.kind as "checkpoint" | "savepoint",
        ...(r.name === null ? {} : { name: r.name as string }),
      }));
    } catch (e) {
      throw this.#error("list checkpoints in", e);
    }
  }

  async manifest(entry: RemoteEntry): Promise<Uint8Array> {
    try {
      const rows = await this.#sql`SELECT manifest FROM weir_checkpoints
        WHERE job_id = ${this.#job} AND kind = ${entry.kind} AND checkpoint_id = ${entry.id}`;
      if (rows.length === 0) throw new Error(`${entry.kind} ${entry.id} does not exist`);
      return new Uint8Array(rows[0]!.manifest as Uint8Array);
    } catch (e) {
      throw this.#error(`read ${entry.kind} ${entry.id} from`, e);
    }
  }

  async segmentNames(): Promise<string[]> {
    try {
      const rows = await this.#sql`SELECT name FROM weir_segments WHERE job_id = ${this.#job}`;
      return rows.map((r) => r.name as string);
    } catch (e) {
      throw this.#error("list segments in", e);
    }
  }

  async segment(name: string): Promise<Uint8Array> {
    const job = this.#job;
    try {
      const rows = await this.#sql`SELECT size, octet_length(data) AS head FROM weir_segments
        WHERE job_id = ${job} AND name = ${name}`;
      if (rows.length === 0) throw new Error(`segment ${name} does not exist`);
      const size = Number(rows[0]!.size ?? rows[0]!.head);
      const bytes = new Uint8Array(size);
      // Its head (empty since segments are written in chunks) is chunk 0. COPY takes no
      // parameters: the names go in as escaped literals.
      const where = `job_id = ${literal(job)} AND name = ${literal(name)}`;
      const stream = await this.#sql.unsafe(
        `COPY (SELECT 0 AS seq, data FROM weir_segments WHERE ${where}
          UNION ALL SELECT seq, data FROM weir_segment_chunks WHERE ${where} ORDER BY seq)
        TO STDOUT (FORMAT binary)`,
      ).readable();
      const reader = new CopyReader();
      let at = 0;
      let next = 0;
      let wrong: string | undefined;
      // Read to the end even past a wrong chunk: leaving the stream early leaves the
      // connection in the middle of the COPY. Read in flowing mode: postgres.js pauses the
      // socket when the stream buffers, and resumes it only when the stream is read again,
      // which does not happen once the stream has ended, so the connection would hang.
      await new Promise<void>((resolve, reject) => {
        stream.on("error", reject);
        stream.on("end", resolve);
        stream.on("data", (piece: Uint8Array) => {
          for (const [seq, data] of reader.push(piece)) {
            if (wrong !== undefined) continue;
            if (readInt4(seq!) !== next) wrong = "missing";
            else if (at + data!.length > size) wrong = "too long";
            else {
              bytes.set(data!, at);
              at += data!.length;
              next++;
            }
          }
        });
      });
      if (wrong === undefined && !reader.ended) {
        throw new Error(`the server ended segment ${name} early`);
      }
      if (wrong !== undefined || at < size) {
        throw new Error(
          `segment ${name} is incomplete: chunk ${next} of its ${size} bytes is ${
            wrong ?? "missing"
          }`,
        );
      }
      return bytes;
    } catch (e) {
      throw this.#error(`read segment ${name} from`, e);
    }
  }

  async latest(): Promise<number | undefined> {
    try {
      const rows = await this.#sql`SELECT max(checkpoint_id) AS id FROM weir_checkpoints
        WHERE job_id = ${this.#job} AND kind = 'checkpoint'`;
      const id = rows[0]?.id;
      return id === null || id === undefined ? undefined : Number(id);
    } catch (e) {
      throw this.#error("read the latest checkpoint in", e);
    }
  }

  address(): StoreAddress {
    return { kind: "postgres", url: this.#url, job: this.#job };
  }

  async writePart(id: number, part: RemotePart): Promise<void> {
    try {
      await this.#writePart(id, part, false);
    } catch (e) {
      if ((e as { code?: unknown }).code !== UNIQUE_VIOLATION) {
        throw this.#error(`write checkpoint ${id} to`, e);
      }
      // Two changed entries of the checkpoint decoded to the same entry (e.g. keys whose
      // JSON is the same): COPY cannot merge them, the upsert can (the last one stays).
      try {
        await this.#writePart(id, part, true);
      } catch (e) {
        throw this.#error(`write checkpoint ${id} to`, e);
      }
    }
  }

  /** The `weir_states` ref of each state `rows` name, created when missing. */
  async #refsOf(rows: readonly StateRow[]): Promise<(r: StateRow) => number> {
    // Rows come state by state: a row of the previous row's state needs no lookup.
    const missing = new Map<string, [string, string]>();
    let prev: StateRow | undefined;
    for (const r of rows) {
      if (prev?.operator === r.operator && prev.state === r.state) continue;
      prev = r;
      const key = stateKey(r.operator, r.state);
      if (!this.#refs.has(key)) missing.set(key, [r.operator, r.state]);
    }
    if (missing.size > 0) {
      const job = this.#job;
      const names = [...missing.values()];
      await this.#sql`INSERT INTO weir_states (job_id, operator_uid, state_name)
        SELECT ${job}, o, s FROM unnest(${names.map(([o]) => o)}::text[],
          ${names.map(([, s]) => s)}::text[]) AS t(o, s)
        ON CONFLICT DO NOTHING`;
      const found = await this.#sql`SELECT state_ref, operator_uid, state_name FROM weir_states
        WHERE job_id = ${job}`;
      for (const f of found) {
        this.#refs.set(stateKey(f.operator_uid, f.state_name), Number(f.state_ref));
      }
    }
    let last: StateRow | undefined;
    let ref = 0;
    return (r) => {
      if (last?.operator !== r.operator || last.state !== r.state) {
        ref = this.#refs.get(stateKey(r.operator, r.state))!;
        last = r;
      }
      return ref;
    };
  }

  /** The `weir_states` refs of this job's states. */
  async #jobRefs(sql: postgres.Sql | postgres.TransactionSql = this.#sql): Promise<string[]> {
    const rows = await sql`SELECT state_ref FROM weir_states WHERE job_id = ${this.#job}`;
    return rows.map((r) => String(r.state_ref));
  }

  async #writePart(id: number, part: RemotePart, upsert: boolean): Promise<void> {
    const job = this.#job;
    const refOf = await this.#refsOf(part.rows);
    await this.#sql.begin(async (tx) => {
      const fresh: [string, Uint8Array][] = [];
      for (const [name, data] of part.segments) {
        const inserted = await tx`INSERT INTO weir_segments (job_id, name, data, checkpoint_id,
            size)
          VALUES (${job}, ${name}, ${EMPTY}, ${id}, ${data.length})
          ON CONFLICT (job_id, name) DO NOTHING RETURNING 1`;
        // Held already (with its chunks): segments are immutable.
        if (inserted.length > 0) fresh.push([name, data]);
      }
      if (fresh.length > 0) await copySegments(tx, job, fresh);
      if (part.rows.length === 0) return;
      if (!upsert) return await copyRows(tx, refOf, id, part.rows);
      const rows = lastOfEachEntry(part.rows);
      for (let i = 0; i < rows.length; i += ROW_BATCH) {
        await upsertRows(tx, refOf, id, rows.slice(i, i + ROW_BATCH));
      }
    });
  }

  async complete(c: RemoteCompletion): Promise<void> {
    const job = this.#job;
    try {
      await this.#sql.begin(async (tx) => {
        // A reset's rows are all the state: it is a base version, the rows before it stop
        // counting at once (collection removes them later, in batches).
        if (c.kind === "checkpoint") {
          await tx`INSERT INTO weir_versions (job_id, checkpoint_id, base)
            VALUES (${job}, ${c.id}, ${c.reset === true})
            ON CONFLICT (job_id, checkpoint_id) DO UPDATE SET base = excluded.base`;
        }
        await tx`INSERT INTO weir_checkpoints (job_id, kind, checkpoint_id, name, manifest)
          VALUES (${job}, ${c.kind}, ${c.id}, ${c.name ?? null},
            ${Buffer.from(c.manifest.buffer, c.manifest.byteOffset, c.manifest.length)})`;
      });
    } catch (e) {
      throw this.#error(`write ${c.kind} ${c.id} to`, e);
    }
  }

  async discard(which?: { id: number } | { below: number }): Promise<void> {
    const job = this.#job;
    const id = which && "id" in which ? which.id : undefined;
    const below = which && "below" in which ? which.below : Number.MAX_SAFE_INTEGER;
    try {
      const refs = await this.#jobRefs();
      // The checkpoint ids each of the job's states has rows of, one index probe each (a
      // loose scan of weir_entries_version), not a read of every row: a restore runs this
      // first. Each is deleted only if it never completed (checked again in the DELETE).
      const ids = id !== undefined ? [id] : (await this.#sql`WITH RECURSIVE ids(ref, id) AS (
          SELECT r, (SELECT min(checkpoint_id) FROM weir_entries
            WHERE state_ref = r AND checkpoint_id < ${below})
          FROM unnest(${refs}::int[]) AS r
          UNION ALL
          SELECT ref, (SELECT min(checkpoint_id) FROM weir_entries
            WHERE state_ref = ids.ref AND checkpoint_id > ids.id AND checkpoint_id < ${below})
          FROM ids WHERE ids.id IS NOT NULL)
        SELECT DISTINCT id FROM ids WHERE id IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM weir_versions v WHERE v.job_id = ${job} AND v.checkpoint_id = ids.id)`)
        .map((r) => Number(r.id));
      for (const version of ids) {
        await this.#sql`DELETE FROM weir_entries WHERE state_ref = ANY(${refs}::int[])
          AND checkpoint_id = ${version}
          AND NOT EXISTS (SELECT 1 FROM weir_versions v
            WHERE v.job_id = ${job} AND v.checkpoint_id = ${version})`;
      }
    } catch (e) {
      throw this.#error("remove the rows of incomplete checkpoints from", e);
    }
  }

  async replaceSavepointManifest(name: string, manifest: Uint8Array): Promise<void> {
    try {
      await this.#sql`UPDATE weir_checkpoints SET manifest = ${Buffer.from(manifest)}
        WHERE job_id = ${this.#job} AND kind = 'savepoint' AND name = ${name}`;
    } catch (e) {
      throw this.#error(`update savepoint ${name} in`, e);
    }
  }

  async collect(
    keepIds: readonly number[],
    keepSegments: ReadonlySet<string>,
    options: CollectOptions = {},
  ): Promise<Collected> {
    const job = this.#job;
    const after = options.keepUploadedAfter ?? null;
    let collected: Collected = { checkpoints: [], segments: [] };
    try {
      await this.#sql.begin(async (tx) => {
        const ids = keepIds.map(String);
        const names = [...keepSegments];
        const drop = await tx`SELECT checkpoint_id FROM weir_checkpoints
          WHERE job_id = ${job} AND kind = 'checkpoint'
            AND NOT (checkpoint_id = ANY(${ids}::bigint[])) ORDER BY checkpoint_id`;
        const segments = await tx`SELECT name, coalesce(size, octet_length(data)) AS size
          FROM weir_segments
          WHERE job_id = ${job} AND NOT (name = ANY(${names}::text[]))
            AND (${after}::bigint IS NULL OR checkpoint_id IS NULL
              OR checkpoint_id <= ${after}::bigint)
          ORDER BY name`;
        collected = {
          checkpoints: drop.map((r) => Number(r.checkpoint_id)),
          segments: segments.map((r) => ({ name: r.name as string, size: Number(r.size) })),
        };
        if (options.dryRun) return;
        await tx`DELETE FROM weir_checkpoints WHERE job_id = ${job} AND kind = 'checkpoint'
          AND checkpoint_id = ANY(${collected.checkpoints.map(String)}::bigint[])`;
        const dropped = collected.segments.map((s) => s.name);
        await tx`DELETE FROM weir_segments WHERE job_id = ${job} AND name = ANY(${dropped}::text[])`;
        await tx`DELETE FROM weir_segment_chunks WHERE job_id = ${job}
          AND name = ANY(${dropped}::text[])`;
        const refs = await this.#jobRefs(tx);
        if (keepIds.length === 0) {
          await tx`DELETE FROM weir_entries WHERE state_ref = ANY(${refs}::int[])`;
          await tx`DELETE FROM weir_versions WHERE job_id = ${job}`;
          await tx`DELETE FROM weir_collections WHERE job_id = ${job}`;
          return;
        }
        // Where the last collection stopped (kept in the database: a restarted job does not
        // go over every row again). Rows at or below it were collected then, so only entries
        // written since can have rows to drop: every other entry has one row at or below the
        // oldest kept checkpoint already (and no tombstone there).
        const oldest = Math.min(...keepIds);
        const [mark] = await tx`SELECT collected_up_to FROM weir_collections
          WHERE job_id = ${job} FOR UPDATE`;
        const upTo = mark === undefined ? undefined : Number(mark.collected_up_to);
        let since = upTo !== undefined && upTo <= oldest ? upTo : -1;
        // Rows before the newest reset the oldest kept checkpoint sees count for no kept
        // checkpoint: they go in batches (a reset replaces a whole state).
        const [base] = await tx`SELECT max(checkpoint_id) AS id FROM weir_versions
          WHERE job_id = ${job} AND base AND checkpoint_id <= ${oldest}`;
        if (base?.id !== null && base?.id !== undefined) {
          const b = Number(base.id);
          for (;;) {
            const gone = await tx`DELETE FROM weir_entries WHERE ctid = ANY(ARRAY(
              SELECT ctid FROM weir_entries
              WHERE state_ref = ANY(${refs}::int[]) AND checkpoint_id < ${b}
              LIMIT ${ROWS_PER_DELETE}))`;
            if (gone.count < ROWS_PER_DELETE) break;
          }
          since = Math.max(since, b - 1);
        }
        // One statement per checkpoint, each over the rows it wrote (the changed entries):
        // none has to go over the whole state, however large. A row superseded by a newer
        // committed one that the oldest kept checkpoint already sees is seen by no kept
        // checkpoint.
        const versions = await tx`SELECT checkpoint_id FROM weir_versions
          WHERE job_id = ${job} AND checkpoint_id <= ${oldest} AND checkpoint_id > ${since}
          ORDER BY checkpoint_id`;
        // Each checkpoint's rows look up their entries' older rows (the primary key): a
        // hash or merge join would read every row of the job instead.
        await tx`SET LOCAL enable_hashjoin = off`;
        await tx`SET LOCAL enable_mergejoin = off`;
        for (const { checkpoint_id: version } of versions) {
          // Nothing below it (a first checkpoint, all of whose rows are new): nothing to drop.
          const [older] = await tx`SELECT 1 AS found FROM weir_entries
            WHERE state_ref = ANY(${refs}::int[]) AND checkpoint_id < ${version} LIMIT 1`;
          if (older === undefined) continue;
          await tx`DELETE FROM weir_entries e USING weir_entries n
            WHERE n.state_ref = ANY(${refs}::int[]) AND n.checkpoint_id = ${version}
              AND e.state_ref = n.state_ref AND e.entry = n.entry
              AND e.checkpoint_id < ${version}`;
        }
        // What remains at or below the oldest kept checkpoint is each entry's only row
        // there: a tombstone among them hides nothing any more.
        await tx`DELETE FROM weir_entries WHERE state_ref = ANY(${refs}::int[])
          AND checkpoint_id <= ${oldest} AND checkpoint_id > ${since} AND tombstone`;
        await tx`DELETE FROM weir_versions v WHERE v.job_id = ${job}
          AND v.checkpoint_id < ${oldest} AND NOT EXISTS (SELECT 1 FROM weir_entries e
            WHERE e.state_ref = ANY(${refs}::int[]) AND e.checkpoint_id = v.checkpoint_id)`;
        await tx`INSERT INTO weir_collections (job_id, collected_up_to) VALUES (${job}, ${oldest})
          ON CONFLICT (job_id) DO UPDATE SET collected_up_to = excluded.collected_up_to`;
      });
    } catch (e) {
      throw this.#error("collect old checkpoints in", e);
    }
    return collected;
  }

  /**
   * A session advisory lock on the job, on a connection of its own kept for the run: the
   * server gives it back when that connection ends, closed or dropped (a killed process's).
   */
  async lock(): Promise<void> {
    let got: boolean;
    try {
      const reserved = await this.#sql.reserve();
      const [row] = await reserved`SELECT pg_try_advisory_lock(${JOB_LOCK_SPACE},
        hashtext(${this.#job})) AS got`;
      got = row?.got === true;
      // Kept (not released to the pool) while the lock is held: the session holds it.
      if (got) this.#lockSession = reserved;
      else reserved.release();
    } catch (e) {
      throw this.#error("lock the job in", e);
    }
    if (!got) {
      throw new DirectoryInUseError(
        `${this.where} is in use by another run of the job (it holds the job's lock in the ` +
          `database): stop that one first, or start this one as another job (?job=NAME)`,
      );
    }
  }

  async close(): Promise<void> {
    // end() waits (up to its timeout) for reserved connections to come back to the pool; the
    // lock's session ends with the others.
    this.#lockSession?.release();
    this.#lockSession = undefined;
    await this.#sql.end({ timeout: 2 });
  }
}

/**
 * Writes `rows` under checkpoint `checkpointId` with COPY: the server parses
 * them as a stream, without the arrays and the conflict checks of an
 * upsert. A row whose entry the checkpoint holds already fails it with a
 * unique violation (see {@linkcode PostgresStore.writePart}).
 */
async function copyRows(
  tx: postgres.TransactionSql,
  refOf: (r: StateRow) => number,
  checkpointId: number,
  rows: readonly StateRow[],
): Promise<void> {
  // In primary-key order: the server inserts each index entry next to the previous one
  // (pages it has just read) instead of at a random place in the index. A part arrives in
  // the backends' key order (key group, serialized key), which is not the entries' order.
  // JavaScript compares UTF-16 code units and the index UTF-8 bytes: they differ only
  // between astral and U+E000-U+FFFF characters, where the order is then a little off.
  const sorted = rows.map((r) => ({ ref: refOf(r), entry: entryId(r), row: r }))
    .sort((a, b) => a.ref - b.ref || (a.entry < b.entry ? -1 : a.entry > b.entry ? 1 : 0));
  await copyIn(
    tx`COPY weir_entries (state_ref, entry, checkpoint_id, key_group, key, namespace, user_key,
      value, tombstone) FROM STDIN`,
    function* () {
      for (let i = 0; i < sorted.length; i += COPY_CHUNK) {
        let chunk = "";
        for (const { ref, entry, row: r } of sorted.slice(i, i + COPY_CHUNK)) {
          chunk += ref + "\t" + copyText(entry) + "\t" + checkpointId + "\t" +
            r.keyGroup + "\t" + copyText(r.key) + "\t" + copyText(r.namespace) + "\t" +
            copyText(r.userKey) + "\t" + copyText(r.value) + (r.value === null ? "\tt\n" : "\tf\n");
        }
        yield chunk;
      }
    }(),
  );
}

/**
 * Writes the chunks of new segments (numbered from 1; each `weir_segments`
 * row's own `data` stays empty) with a binary COPY: the bytes go as they are,
 * not as hex text.
 */
async function copySegments(
  tx: postgres.TransactionSql,
  job: string,
  segments: readonly [string, Uint8Array][],
): Promise<void> {
  // Chunks of a segment whose row is gone (removed by hand) would collide.
  await tx`DELETE FROM weir_segment_chunks WHERE job_id = ${job}
    AND name = ANY(${segments.map(([name]) => name)}::text[])`;
  await copyIn(
    tx`COPY weir_segment_chunks (job_id, name, seq, data) FROM STDIN (FORMAT binary)`,
    function* () {
      yield copyHeader();
      for (const [name, data] of segments) {
        for (let at = 0, seq = 1; at < data.length; at += SEGMENT_CHUNK, seq++) {
          const chunk = data.subarray(at, Math.min(at + SEGMENT_CHUNK, data.length));
          yield* new CopyTuple(4).text(job).text(name).int4(seq).bytea(chunk).pieces();
        }
      }
      yield copyTrailer();
    }(),
  );
}

/** Runs a `COPY … FROM STDIN` statement, writing `pieces` to it with backpressure. */
async function copyIn(
  statement: postgres.PendingQuery<postgres.Row[]>,
  pieces: Iterable<string | Uint8Array>,
): Promise<void> {
  const stream = await statement.writable();
  const failed = new Promise<never>((_, reject) => stream.on("error", reject));
  failed.catch(() => {});
  const finished = new Promise<void>((resolve) => stream.on("finish", resolve));
  for (const piece of pieces) {
    const chunk = typeof piece === "string"
      ? piece
      : Buffer.from(piece.buffer, piece.byteOffset, piece.length);
    if (!stream.write(chunk)) {
      await Promise.race([new Promise((resolve) => stream.once("drain", resolve)), failed]);
    }
  }
  stream.end();
  await Promise.race([finished, failed]);
}

/** `s` as a string literal (for COPY, which takes no parameters). */
function literal(s: string): string {
  return `E'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

const EMPTY = Buffer.alloc(0);

// Rows per string handed to the COPY stream.
const COPY_CHUNK = 1000;
// SQLSTATE unique_violation.
const UNIQUE_VIOLATION = "23505";

/** A field in COPY's text format (`\N`: null). */
function copyText(s: string | null): string {
  if (s === null) return "\\N";
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : s;
}

const COPY_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};

/** `rows` with one row per entry, the last of each (an upsert cannot affect a row twice). */
function lastOfEachEntry(rows: readonly StateRow[]): StateRow[] {
  const byEntry = new Map<string, StateRow>();
  for (const r of rows) {
    const id = `${r.operator}\u0000${r.state}\u0000${entryId(r)}`;
    byEntry.delete(id);
    byEntry.set(id, r);
  }
  return [...byEntry.values()];
}

async function upsertRows(
  tx: postgres.TransactionSql,
  refOf: (r: StateRow) => number,
  checkpointId: number,
  rows: readonly StateRow[],
): Promise<void> {
  const col = <T>(f: (r: StateRow) => T) => rows.map(f);
  await tx`INSERT INTO weir_entries (state_ref, entry, checkpoint_id, key_group, key, namespace,
      user_key, value, tombstone)
    SELECT ref, en, ${checkpointId}, kg, k::jsonb, ns::jsonb, uk::jsonb, v::jsonb, v IS NULL
    FROM unnest(${col(refOf)}::int[], ${col((r) => entryId(r))}::text[],
      ${col((r) => r.keyGroup)}::int[], ${col((r) => r.key)}::text[],
      ${col((r) => r.namespace)}::text[], ${col((r) => r.userKey)}::text[],
      ${col((r) => r.value)}::text[])
      AS t(ref, en, kg, k, ns, uk, v)
    ON CONFLICT (state_ref, entry, checkpoint_id) DO UPDATE SET
      key_group = excluded.key_group, value = excluded.value, tombstone = excluded.tombstone`;
}

/** A state's key in {@linkcode PostgresStore}'s map of refs. */
function stateKey(operator: string, state: string): string {
  return `${operator}\u0000${state}`;
}

/** An entry's identity within its state: key, namespace and map key. */
function entryId(r: StateRow): string {
  return `[${r.key},${r.namespace ?? "null"},${r.userKey ?? "null"}]`;
}
