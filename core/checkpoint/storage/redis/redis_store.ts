/**
 * Checkpoints in Redis (`--checkpoint-storage redis://…`), through the
 * maintained `redis` client (npm:redis). Key layout, for job `J`:
 *
 * - `weir:J:checkpoints`: sorted set of completed checkpoint ids (score = id);
 * - `weir:J:savepoints`: hash, savepoint name → checkpoint id;
 * - `weir:J:manifest:<id>`, `weir:J:savepoint:<name>`: manifest bytes (JSON);
 * - `weir:J:segments`: set of segment names; `weir:J:segment:<name>`: its bytes;
 * - `weir:J:latest`: the latest completed checkpoint id;
 * - `weir:J:state:<operator>:<state>`: hash, field `[key,namespace,userKey]` (JSON)
 *   → value (JSON), the state as of the latest completed checkpoint.
 *
 * @module
 */
import { commandOptions, createClient } from "redis";
import { Buffer } from "node:buffer";
import { CheckpointError } from "../../../errors.ts";
import {
  redactUrl,
  type RemoteCommit,
  type RemoteEntry,
  type RemoteStore,
} from "../remote_store.ts";

type Client = ReturnType<typeof createClient>;

const FIELD_BATCH = 10_000;

/**
 * A {@linkcode RemoteStore} on Redis. The URL's `job` parameter names the job;
 * `redis:` alone takes the server from `REDIS_URL`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RedisStore } from "./redis_store.ts";
 * // No server on port 1: a clear error naming it, without the password.
 * await assert.rejects(
 *   RedisStore.open("redis://default:s3cret@127.0.0.1:1", "word-count"),
 *   (e: Error) => e.message.includes("127.0.0.1:1") && !e.message.includes("s3cret"),
 * );
 * ```
 */
export class RedisStore implements RemoteStore {
  readonly where: string;
  readonly #client: Client;
  readonly #prefix: string;

  private constructor(client: Client, job: string, where: string) {
    this.#client = client;
    this.#prefix = `weir:${job}:`;
    this.where = where;
  }

  /** Connects. */
  static async open(url: string, jobId: string): Promise<RedisStore> {
    const where = `${redactUrl(url)} (job "${jobId}")`;
    const u = new URL(url);
    u.search = "";
    const client = createClient({
      url: u.toString(),
      // Commands fail while the server is away (the checkpoint is declined) instead of queueing.
      disableOfflineQueue: true,
      socket: { connectTimeout: 5000, reconnectStrategy: (n: number) => Math.min(100 * n, 1000) },
    });
    // Without a listener a lost connection would end the process; commands report it.
    client.on("error", () => {});
    const store = new RedisStore(client, jobId, where);
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), 5000)),
      ]);
    } catch (e) {
      await client.disconnect().catch(() => {});
      throw store.#error("connect to", e);
    }
    return store;
  }

  #error(what: string, e: unknown): CheckpointError {
    const msg = e instanceof Error ? e.message : String(e);
    return new CheckpointError(`Cannot ${what} Redis at ${this.where}: ${msg}`);
  }

  async #try<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw this.#error(what, e);
    }
  }

  list(): Promise<RemoteEntry[]> {
    return this.#try("list checkpoints in", async () => {
      const ids = await this.#client.zRange(`${this.#prefix}checkpoints`, 0, -1);
      const sps = await this.#client.hGetAll(`${this.#prefix}savepoints`);
      const entries: RemoteEntry[] = ids.map((id) => ({ id: Number(id), kind: "checkpoint" }));
      for (const [name, id] of Object.entries(sps)) {
        entries.push({ id: Number(id), kind: "savepoint", name });
      }
      return entries.sort((a, b) => a.id - b.id);
    });
  }

  #manifestKey(e: { kind: string; id: number; name?: string }): string {
    return e.kind === "savepoint"
      ? `${this.#prefix}savepoint:${e.name}`
      : `${this.#prefix}manifest:${e.id}`;
  }

  manifest(entry: RemoteEntry): Promise<Uint8Array> {
    return this.#try(`read ${entry.kind} ${entry.id} from`, async () => {
      const b = await this.#client.get(
        commandOptions({ returnBuffers: true }),
        this.#manifestKey(entry),
      );
      if (b === null) throw new Error(`${entry.kind} ${entry.id} does not exist`);
      return new Uint8Array(b);
    });
  }

  segmentNames(): Promise<string[]> {
    return this.#try("list segments in", () => this.#client.sMembers(`${this.#prefix}segments`));
  }

  segment(name: string): Promise<Uint8Array> {
    return this.#try(`read segment ${name} from`, async () => {
      const b = await this.#client.get(
        commandOptions({ returnBuffers: true }),
        `${this.#prefix}segment:${name}`,
      );
      if (b === null) throw new Error(`segment ${name} does not exist`);
      return new Uint8Array(b);
    });
  }

  commit(c: RemoteCommit): Promise<void> {
    return this.#try(`write ${c.kind} ${c.id} to`, async () => {
      const p = this.#prefix;
      // Invariant: one MULTI/EXEC carries the segments, the state changes and the
      // manifest, so a reader sees a checkpoint with all its parts or nothing.
      const m = this.#client.multi();
      for (const [name, data] of c.segments) {
        m.set(`${p}segment:${name}`, bytes(data));
        m.sAdd(`${p}segments`, name);
      }
      const byState = new Map<string, { set: string[]; del: string[] }>();
      for (const r of c.rows) {
        const key = `${p}state:${r.operator}:${r.state}`;
        let s = byState.get(key);
        if (!s) byState.set(key, s = { set: [], del: [] });
        const field = `[${r.key},${r.namespace ?? "null"},${r.userKey ?? "null"}]`;
        if (r.value === null) s.del.push(field);
        else s.set.push(field, r.value);
      }
      // Bounded commands: a big state's fields go in batches (one command must fit the
      // server's query buffer), still inside the one MULTI.
      for (const [key, s] of byState) {
        for (let i = 0; i < s.set.length; i += 2 * FIELD_BATCH) {
          m.hSet(key, s.set.slice(i, i + 2 * FIELD_BATCH));
        }
        for (let i = 0; i < s.del.length; i += FIELD_BATCH) {
          m.hDel(key, s.del.slice(i, i + FIELD_BATCH));
        }
      }
      m.set(this.#manifestKey(c), bytes(c.manifest));
      if (c.kind === "savepoint") m.hSet(`${p}savepoints`, c.name!, String(c.id));
      else {
        m.zAdd(`${p}checkpoints`, { score: c.id, value: String(c.id) });
        m.set(`${p}latest`, String(c.id));
      }
      await m.exec();
    });
  }

  replaceSavepointManifest(name: string, manifest: Uint8Array): Promise<void> {
    return this.#try(`update savepoint ${name} in`, async () => {
      await this.#client.set(`${this.#prefix}savepoint:${name}`, bytes(manifest));
    });
  }

  collect(keepIds: readonly number[], keepSegments: ReadonlySet<string>): Promise<void> {
    return this.#try("collect old checkpoints in", async () => {
      const p = this.#prefix;
      const keep = new Set(keepIds.map(String));
      const ids = await this.#client.zRange(`${p}checkpoints`, 0, -1);
      const names = await this.#client.sMembers(`${p}segments`);
      const m = this.#client.multi();
      for (const id of ids) {
        if (keep.has(id)) continue;
        m.zRem(`${p}checkpoints`, id);
        m.del(`${p}manifest:${id}`);
      }
      for (const n of names) {
        if (keepSegments.has(n)) continue;
        m.sRem(`${p}segments`, n);
        m.del(`${p}segment:${n}`);
      }
      if (keepIds.length === 0) {
        m.del(`${p}latest`);
        for (const key of await this.#client.keys(`${p}state:*`)) m.del(key);
      }
      await m.exec();
    });
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}

function bytes(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}
