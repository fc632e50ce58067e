/**
 * Checkpoints in Redis (`--checkpoint-storage redis://…`), through the
 * maintained `redis` client (npm:redis). Key layout, for job `J`:
 *
 * - `weir:J:checkpoints`: sorted set of completed checkpoint ids (score = id);
 * - `weir:J:savepoints`: hash, savepoint name → checkpoint id;
 * - `weir:J:manifest:<id>`, `weir:J:savepoint:<name>`: manifest bytes (JSON);
 * - `weir:J:segments`: set of segment names; `weir:J:segment:<name>`: its bytes;
 *   `weir:J:segment-checkpoints`: hash, segment name → the checkpoint that uploaded it;
 * - `weir:J:latest`: the latest completed checkpoint id;
 * - `weir:J:state:<operator>:<state>`: hash, field `[key,namespace,userKey]` (JSON)
 *   → value (JSON), the state as of the latest completed checkpoint;
 *   `weir:J:states`: set of those hashes' names;
 * - while checkpoint `<id>` is written: `weir:J:pending` (set of such ids),
 *   `weir:J:pending:<id>` (set of the state hashes it changes) and
 *   `weir:J:pending:<id>|<state hash>` (hash of the changes, `""` for a removed entry).
 *
 * @module
 */
import { commandOptions, createClient } from "redis";
import { Buffer } from "node:buffer";
import { CheckpointError } from "../../../errors.ts";
import {
  type Collected,
  type CollectOptions,
  redactUrl,
  type RemoteCompletion,
  type RemoteEntry,
  type RemotePart,
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

  latest(): Promise<number | undefined> {
    return this.#try("read the latest checkpoint in", async () => {
      const id = await this.#client.get(`${this.#prefix}latest`);
      return id === null ? undefined : Number(id);
    });
  }

  writePart(id: number, part: RemotePart): Promise<void> {
    return this.#try(`write checkpoint ${id} to`, async () => {
      const p = this.#prefix;
      const pending = `${p}pending:${id}`;
      // Pipelined (no MULTI): the part is invisible until complete() applies it anyway.
      const m = this.#client.multi();
      m.sAdd(`${p}pending`, String(id));
      for (const [name, data] of part.segments) {
        m.set(`${p}segment:${name}`, bytes(data));
        m.hSet(`${p}segment-checkpoints`, name, String(id));
        m.sAdd(`${p}segments`, name);
      }
      const byState = new Map<string, string[]>();
      for (const r of part.rows) {
        const key = `${p}state:${r.operator}:${r.state}`;
        let fields = byState.get(key);
        if (!fields) byState.set(key, fields = []);
        fields.push(`[${r.key},${r.namespace ?? "null"},${r.userKey ?? "null"}]`, r.value ?? "");
      }
      for (const [key, fields] of byState) {
        m.sAdd(pending, key);
        // Bounded commands: one must fit the server's query buffer.
        for (let i = 0; i < fields.length; i += 2 * FIELD_BATCH) {
          m.hSet(`${pending}|${key}`, fields.slice(i, i + 2 * FIELD_BATCH));
        }
      }
      await m.execAsPipeline();
    });
  }

  complete(c: RemoteCompletion): Promise<void> {
    return this.#try(`write ${c.kind} ${c.id} to`, async () => {
      // sendCommand: the manifest goes as bytes.
      await this.#client.sendCommand([
        "EVAL",
        COMPLETE,
        "0",
        this.#prefix,
        String(c.id),
        c.kind,
        c.name ?? "",
        this.#manifestKey(c),
        bytes(c.manifest),
        c.reset ? "1" : "0",
      ]);
    });
  }

  discard(which?: { id: number } | { below: number }): Promise<void> {
    return this.#try("remove the parts of incomplete checkpoints from", async () => {
      const p = this.#prefix;
      for (const id of await this.#client.sMembers(`${p}pending`)) {
        if (which && ("id" in which ? Number(id) !== which.id : Number(id) >= which.below)) {
          continue;
        }
        const pending = `${p}pending:${id}`;
        const m = this.#client.multi();
        for (const key of await this.#client.sMembers(pending)) m.del(`${pending}|${key}`);
        m.del(pending);
        m.sRem(`${p}pending`, id);
        await m.exec();
      }
    });
  }

  replaceSavepointManifest(name: string, manifest: Uint8Array): Promise<void> {
    return this.#try(`update savepoint ${name} in`, async () => {
      await this.#client.set(`${this.#prefix}savepoint:${name}`, bytes(manifest));
    });
  }

  collect(
    keepIds: readonly number[],
    keepSegments: ReadonlySet<string>,
    options: CollectOptions = {},
  ): Promise<Collected> {
    return this.#try("collect old checkpoints in", async () => {
      const p = this.#prefix;
      const keep = new Set(keepIds.map(String));
      const ids = await this.#client.zRange(`${p}checkpoints`, 0, -1);
      const names = await this.#client.sMembers(`${p}segments`);
      const uploadedBy = await this.#client.hGetAll(`${p}segment-checkpoints`);
      const after = options.keepUploadedAfter;
      const checkpoints = ids.filter((id) => !keep.has(id)).map(Number);
      const segments: { name: string; size: number }[] = [];
      for (const n of names.sort()) {
        if (keepSegments.has(n)) continue;
        const by = uploadedBy[n];
        if (after !== undefined && by !== undefined && Number(by) > after) continue;
        segments.push({ name: n, size: await this.#client.strLen(`${p}segment:${n}`) });
      }
      if (options.dryRun) return { checkpoints, segments };
      const m = this.#client.multi();
      for (const id of checkpoints) {
        m.zRem(`${p}checkpoints`, String(id));
        m.del(`${p}manifest:${id}`);
      }
      for (const { name } of segments) {
        m.sRem(`${p}segments`, name);
        m.hDel(`${p}segment-checkpoints`, name);
        m.del(`${p}segment:${name}`);
      }
      if (keepIds.length === 0) {
        m.del(`${p}latest`);
        for (const key of await this.#client.sMembers(`${p}states`)) m.del(key);
        m.del(`${p}states`);
      }
      await m.exec();
      return { checkpoints, segments };
    });
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}

// Invariant (enforced here): the state hashes, `latest`, `checkpoints` and the
// manifest change only in this script, which Redis runs atomically. It applies the
// parts the subtasks wrote under `pending:<id>` and records the checkpoint, so a
// reader sees a checkpoint with all its parts or none of them; the parts of a
// checkpoint that never completes stay under `pending:` until discard() removes them.
const COMPLETE = `
local p, id, kind, name, mkey, manifest, reset =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local pending = p .. 'pending:' .. id
if reset == '1' then
  for _, t in ipairs(redis.call('SMEMBERS', p .. 'states')) do redis.call('DEL', t) end
end
for _, t in ipairs(redis.call('SMEMBERS', pending)) do
  local h = pending .. '|' .. t
  local kv = redis.call('HGETALL', h)
  local set, del = {}, {}
  for i = 1, #kv, 2 do
    if kv[i + 1] == '' then del[#del + 1] = kv[i]
    else set[#set + 1] = kv[i]; set[#set + 1] = kv[i + 1] end
    if #set >= 1000 then redis.call('HSET', t, unpack(set)); set = {} end
    if #del >= 1000 then redis.call('HDEL', t, unpack(del)); del = {} end
  end
  if #set > 0 then redis.call('HSET', t, unpack(set)) end
  if #del > 0 then redis.call('HDEL', t, unpack(del)) end
  redis.call('DEL', h)
  redis.call('SADD', p .. 'states', t)
end
redis.call('DEL', pending)
redis.call('SREM', p .. 'pending', id)
redis.call('SET', mkey, manifest)
if kind == 'savepoint' then
  redis.call('HSET', p .. 'savepoints', name, id)
else
  redis.call('ZADD', p .. 'checkpoints', id, id)
  redis.call('SET', p .. 'latest', id)
end
return 1
`;

function bytes(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}
