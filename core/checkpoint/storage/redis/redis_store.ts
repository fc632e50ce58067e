/**
 * Checkpoints in Redis (`--checkpoint-storage redis://…`), through the
 * maintained `redis` client (npm:redis). Key layout, for job `J`:
 *
 * - `weir:J:checkpoints`: sorted set of completed checkpoint ids (score = id);
 * - `weir:J:savepoints`: hash, savepoint name → checkpoint id;
 * - `weir:J:manifest:<id>`, `weir:J:savepoint:<name>`: manifest bytes (JSON);
 * - `weir:J:segments`: set of segment names;
 *   `weir:J:segment-checkpoints`: hash, segment name → the checkpoint that uploaded it;
 *   `weir:J:segment-chunks`: hash, segment name → its number of chunks `n` (0 when empty);
 *   `weir:J:segment:<name>:<i>` (`i` < `n`): its bytes, {@linkcode SEGMENT_CHUNK} per
 *   chunk, the last one shorter. A segment without a chunk count was written whole, as
 *   the string `weir:J:segment:<name>`, by versions before chunks (still read and collected);
 * - `weir:J:latest`: the latest completed checkpoint id;
 * - `weir:J:state:<operator>:<state>`: hash, field `[key,namespace,userKey]` (JSON)
 *   → value (JSON), the state as of the latest completed checkpoint;
 *   `weir:J:states`: set of those hashes' names;
 * - `weir:J:shadow:<operator>:<state>`: the same hashes one checkpoint behind or
 *   ahead: the checkpoint being written goes there, and completing it swaps each
 *   shadow with its state hash (`RENAME`, O(1) per hash); `weir:J:shadow-of`: the
 *   checkpoint whose state the shadow holds (absent while it is being written).
 *
 * @module
 */
// A full specifier, as in core/admin/_hono.ts: weir loaded from a URL has no import map.
// deno-lint-ignore no-import-prefix
import { commandOptions, createClient } from "npm:redis@4.7.0";
import { Buffer } from "node:buffer";
import { ignoreUncaught } from "../../../runtime/_uncaught.ts";
import { within } from "../_within.ts";
import {
  describeOwner,
  hostname,
  type ProcessOwner,
  processRuns,
  thisProcess,
} from "../../../_process_owner.ts";
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
  type StoreAddress,
} from "../remote_store.ts";

type Client = ReturnType<typeof createClient>;

// Fields per HSET/HDEL: one command must fit the server's query buffer.
const FIELD_BATCH = 10_000;
// Fields per script undoing a part's changes: each script blocks the server briefly.
const RESTORE_BATCH = 1000;

/** A state hash's changes: field → value (JSON), null for a removed entry. */
type Changes = Map<string, string | null>;

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
  readonly #job: string;
  readonly #url: string;
  readonly #segmentChunk: number;
  // The shadow's preparation for the checkpoint being written (once per checkpoint id):
  // resolves to the checkpoint whose state the shadow then holds (null: none, a reset).
  #preparing: { id: number; done: Promise<string | null> } | undefined;
  // What each checkpoint being written put into the shadow, by state hash: after the
  // swap the shadow (the old state) gets the same changes, to be one checkpoint ahead.
  readonly #written = new Map<number, Map<string, Changes>>();
  /** Renews the job's lock while the run holds it (see `lock`). */
  #lockRenewal: ReturnType<typeof setInterval> | undefined;
  /** Gives the job's lock back, while the run holds it. */
  #lockRelease: (() => Promise<void>) | undefined;

  private constructor(
    client: Client,
    job: string,
    where: string,
    url: string,
    segmentChunk: number,
  ) {
    this.#client = client;
    this.#segmentChunk = segmentChunk;
    this.#prefix = `weir:${job}:`;
    this.#job = job;
    this.#url = url;
    this.where = where;
  }

  /**
   * Connects. `segmentChunk`: bytes per chunk of a segment it writes (tests
   * take a small one; segments of any chunk size are read).
   */
  static async open(
    url: string,
    jobId: string,
    options: { segmentChunk?: number } = {},
  ): Promise<RedisStore> {
    const segmentChunk = options.segmentChunk ?? SEGMENT_CHUNK;
    if (!Number.isSafeInteger(segmentChunk) || segmentChunk < 1) {
      throw new RangeError(`segmentChunk must be a positive integer, got ${segmentChunk}`);
    }
    const where = `${redactUrl(url)} (job "${jobId}")`;
    const u = new URL(url);
    u.search = "";
    let connected = false;
    const client = createClient({
      url: u.toString(),
      // Commands fail while the server is away (the checkpoint is declined) instead of queueing.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: CONNECT_WAIT_MS,
        // A server that refuses the first connection fails open() at once, with the refusal as
        // the reason; once connected, the client reconnects after a lost connection.
        reconnectStrategy: (n: number, cause: Error) => connected ? Math.min(100 * n, 1000) : cause,
      },
    });
    // Without a listener a lost connection would end the process; commands report it.
    client.on("error", () => {});
    ignoreRepliesAfterDisconnect();
    const store = new RedisStore(client, jobId, where, url, segmentChunk);
    try {
      await within(client.connect(), CONNECT_WAIT_MS, () => {
        throw new Error("timed out");
      });
      connected = true;
    } catch (e) {
      await client.disconnect().catch(() => {});
      const error = store.#error("connect to", e);
      // A wrong password or database number is the URL's fault: no retry mends it (exit 2).
      const message = e instanceof Error ? e.message : "";
      if (/^(WRONGPASS|NOAUTH)|DB index is out of range/.test(message)) {
        throw new ConfigError(error.message);
      }
      throw error;
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
      // `?? undefined`: a missing field is null at run time, whatever the client's type says.
      const chunks = (await this.#client.hGet(`${this.#prefix}segment-chunks`, name)) ??
        undefined;
      const keys = this.#segmentKeys(name, chunks);
      const lengths = await this.#lengths(keys);
      const segment = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
      // One chunk per command: none of them holds the whole segment.
      for (let i = 0, at = 0; i < keys.length; at += lengths[i]!, i++) {
        const b = await this.#client.get(commandOptions({ returnBuffers: true }), keys[i]!);
        if (b === null && chunks === undefined) throw new Error(`segment ${name} does not exist`);
        if (b === null || b.length !== lengths[i]) {
          throw new Error(
            `segment ${name} is incomplete: chunk ${i} of ${keys.length} is ${
              b === null ? "missing" : "changed while read"
            }`,
          );
        }
        segment.set(b, at);
      }
      return segment;
    });
  }

  /**
   * The keys holding segment `name`'s bytes, in order, given its chunk count
   * (`segment-chunks`). The layout before chunks wrote no count (an empty
   * segment's is 0, so a missing one means just that): the whole segment is
   * one string.
   */
  #segmentKeys(name: string, chunks: string | undefined): string[] {
    const key = `${this.#prefix}segment:${name}`;
    if (chunks === undefined) return [key];
    return Array.from({ length: Number(chunks) }, (_, i) => `${key}:${i}`);
  }

  /** The strings' lengths (0: missing), in one round trip. */
  async #lengths(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const m = this.#client.multi();
    for (const key of keys) m.strLen(key);
    return (await m.execAsPipeline()).map(Number);
  }

  latest(): Promise<number | undefined> {
    return this.#try("read the latest checkpoint in", async () => {
      const id = await this.#client.get(`${this.#prefix}latest`);
      return id === null ? undefined : Number(id);
    });
  }

  address(): StoreAddress {
    return { kind: "redis", url: this.#url, job: this.#job };
  }

  writePart(id: number, part: RemotePart): Promise<void> {
    return this.#try(`write checkpoint ${id} to`, async () => {
      const p = this.#prefix;
      const byState = new Map<string, Changes>();
      for (const r of part.rows) {
        const key = `${p}state:${r.operator}:${r.state}`;
        let changes = byState.get(key);
        if (!changes) byState.set(key, changes = new Map());
        changes.set(`[${r.key},${r.namespace ?? "null"},${r.userKey ?? "null"}]`, r.value);
      }
      if (byState.size > 0) await this.#prepareShadow(id, part.reset === true);
      let written = this.#written.get(id);
      if (!written) this.#written.set(id, written = new Map());
      // Pipelined (no MULTI): the shadow is invisible until complete() swaps it in.
      const m = this.#client.multi();
      const size = this.#segmentChunk;
      for (const [name, data] of part.segments) {
        let chunks = 0;
        for (let at = 0; at < data.length; at += size) {
          m.set(`${p}segment:${name}:${chunks++}`, bytes(data.subarray(at, at + size)));
        }
        // After the chunks: the server runs a pipeline in order, so whoever sees the
        // count sees every chunk.
        m.hSet(`${p}segment-chunks`, name, String(chunks));
        m.hSet(`${p}segment-checkpoints`, name, String(id));
        m.sAdd(`${p}segments`, name);
      }
      for (const [key, changes] of byState) {
        m.sAdd(`${p}states`, key);
        writeChanges(m, this.#shadowOf(key), changes);
        const all = written.get(key);
        if (!all) written.set(key, changes);
        else for (const [f, v] of changes) all.set(f, v);
      }
      await m.execAsPipeline();
    });
  }

  #shadowOf(stateKey: string): string {
    return `${this.#prefix}shadow:${stateKey.slice(this.#prefix.length + "state:".length)}`;
  }

  /**
   * Makes the shadow hashes hold the latest completed checkpoint's state (or
   * nothing, for a `reset`), once per checkpoint, before its parts write into them.
   */
  #prepareShadow(id: number, reset: boolean): Promise<string | null> {
    if (this.#preparing?.id !== id) {
      this.#preparing = { id, done: this.#rebuildShadow(reset) };
      // A failed preparation is retried by the next part or checkpoint.
      this.#preparing.done.catch(() => this.#preparing = undefined);
    }
    return this.#preparing.done;
  }

  async #rebuildShadow(reset: boolean): Promise<string | null> {
    const p = this.#prefix;
    const [latest = null, shadowOf] = await this.#client.mGet([`${p}latest`, `${p}shadow-of`]);
    // From here until complete() swaps it in, the shadow is not any checkpoint's state.
    await this.#client.del(`${p}shadow-of`);
    if (reset) {
      for (const key of await this.#stateKeys(latest)) {
        await this.#client.unlink(this.#shadowOf(key));
      }
      return null;
    }
    if (latest !== null && shadowOf === latest) return latest;
    // The shadow is behind, or half-written by a checkpoint that never completed (a
    // failure, a killed job): copied from the state hashes, on the server.
    const m = this.#client.multi();
    for (const key of await this.#stateKeys(latest)) {
      m.unlink(this.#shadowOf(key));
      m.copy(key, this.#shadowOf(key));
    }
    await m.execAsPipeline();
    return latest;
  }

  /**
   * Undoes in the shadow the changes a checkpoint that will not complete wrote
   * there (each field as the state hashes have it): the shadow is as of
   * checkpoint `base` again, without copying every entry.
   */
  async #restoreShadow(written: Map<string, Changes>, base: string): Promise<void> {
    const m = this.#client.multi();
    for (const [key, changes] of written) {
      const fields = [...changes.keys()];
      for (let i = 0; i < fields.length; i += RESTORE_BATCH) {
        m.eval(RESTORE, {
          arguments: [key, this.#shadowOf(key), ...fields.slice(i, i + RESTORE_BATCH)],
        });
      }
    }
    await m.execAsPipeline();
    // Only once every field is back (a pipeline runs the commands after a failed one).
    await this.#client.set(`${this.#prefix}shadow-of`, base);
  }

  /**
   * The state hashes' names. Databases written before `states` existed have
   * the hashes only: they are found by name and recorded.
   */
  async #stateKeys(latest: string | null): Promise<string[]> {
    const p = this.#prefix;
    const keys = await this.#client.sMembers(`${p}states`);
    if (keys.length > 0 || latest === null) return keys;
    const match = `${p.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}state:*`;
    for await (const key of this.#client.scanIterator({ MATCH: match, TYPE: "hash" })) {
      keys.push(key);
    }
    if (keys.length > 0) await this.#client.sAdd(`${p}states`, keys);
    return keys;
  }

  complete(c: RemoteCompletion): Promise<void> {
    return this.#try(`write ${c.kind} ${c.id} to`, async () => {
      const written = this.#written.get(c.id);
      const changed = written !== undefined && written.size > 0;
      const swap = c.kind === "checkpoint" && (changed || c.reset === true);
      // A reset without a part writing rows: the state becomes empty.
      if (swap) await this.#prepareShadow(c.id, c.reset === true);
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
        swap ? "1" : "0",
      ]);
      this.#written.delete(c.id);
      this.#preparing = undefined;
      if (!swap || c.reset || !written) return;
      // The shadow now holds the previous checkpoint's state: it gets this one's
      // changes, so the next checkpoint writes only its own. If that fails, the next
      // checkpoint copies the shadow from the state hashes instead.
      const m = this.#client.multi();
      for (const [key, changes] of written) writeChanges(m, this.#shadowOf(key), changes);
      try {
        await m.execAsPipeline();
        // Only once every change is in (a pipeline runs the commands after a failed one).
        await this.#client.set(`${this.#prefix}shadow-of`, String(c.id));
      } catch {
        // The checkpoint is complete; the shadow stays no checkpoint's state.
      }
    });
  }

  discard(which?: { id: number } | { below: number }): Promise<void> {
    return this.#try("remove the parts of incomplete checkpoints from", async () => {
      const p = this.#prefix;
      const dropped = (id: number) =>
        !which || ("id" in which ? id === which.id : id < which.below);
      // Their changes stay in the shadow, which is no checkpoint's state now (`shadow-of`
      // is absent): they are undone where this store knows them, else the next checkpoint
      // copies the shadow from the state hashes.
      for (const [id, written] of [...this.#written]) {
        if (!dropped(id)) continue;
        const prepared = this.#preparing?.id === id ? this.#preparing.done : undefined;
        const base = await prepared?.catch(() => null);
        if (typeof base === "string") await this.#restoreShadow(written, base);
        this.#written.delete(id);
      }
      if (this.#preparing && dropped(this.#preparing.id)) this.#preparing = undefined;
      // Parts written by the layout before the shadow hashes (pending hashes per checkpoint).
      for (const id of await this.#client.sMembers(`${p}pending`)) {
        if (!dropped(Number(id))) continue;
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
      const chunks = await this.#client.hGetAll(`${p}segment-chunks`);
      const after = options.keepUploadedAfter;
      const checkpoints = ids.filter((id) => !keep.has(id)).map(Number);
      const dropped: { name: string; keys: string[] }[] = [];
      for (const n of names.sort()) {
        if (keepSegments.has(n)) continue;
        const by = uploadedBy[n];
        if (after !== undefined && by !== undefined && Number(by) > after) continue;
        dropped.push({ name: n, keys: this.#segmentKeys(n, chunks[n]) });
      }
      const lengths = await this.#lengths(dropped.flatMap((d) => d.keys));
      let at = 0;
      const segments = dropped.map(({ name, keys }) => ({
        name,
        size: lengths.slice(at, at += keys.length).reduce((a, b) => a + b, 0),
      }));
      if (options.dryRun) return { checkpoints, segments };
      const m = this.#client.multi();
      for (const id of checkpoints) {
        m.zRem(`${p}checkpoints`, String(id));
        m.del(`${p}manifest:${id}`);
      }
      for (const { name, keys } of dropped) {
        m.sRem(`${p}segments`, name);
        m.hDel(`${p}segment-checkpoints`, name);
        m.hDel(`${p}segment-chunks`, name);
        // With the string of the layout before chunks, which a segment uploaded again
        // since (chunked) may have left.
        m.del([...new Set([`${p}segment:${name}`, ...keys])]);
      }
      if (keepIds.length === 0) {
        m.del(`${p}latest`);
        for (const key of await this.#client.sMembers(`${p}states`)) {
          m.del(key);
          m.del(this.#shadowOf(key));
        }
        m.del(`${p}states`);
        m.del(`${p}shadow-of`);
      }
      await m.exec();
      return { checkpoints, segments };
    });
  }

  /**
   * `weir:J:lock` set to a token of this run with an expiry, renewed while the run lasts: a
   * process that dies without closing loses it when it expires. A lock held at the start is
   * taken over at once when its token names a process of this host that no longer runs (a run
   * killed here, as the checkpoint directory's lock is), otherwise waited for up to one expiry
   * (a run killed elsewhere, about to lose it); then it is another live run's.
   */
  async lock(): Promise<void> {
    const key = `${this.#prefix}lock`;
    const token = lockToken(thisProcess(`job ${JSON.stringify(this.#job)}`));
    const deadline = Date.now() + LOCK_EXPIRY_MS + LOCK_RENEW_MS;
    try {
      while (await this.#client.set(key, token, { NX: true, PX: LOCK_EXPIRY_MS }) !== "OK") {
        const held = await this.#client.get(key);
        const holder = held === null ? undefined : lockHolder(held);
        if (
          held !== null && holder !== undefined && holder.host === hostname() &&
          !processRuns(holder.pid) &&
          await this.#client.eval(TAKE_OVER_LOCK, {
              keys: [key],
              arguments: [held, token, String(LOCK_EXPIRY_MS)],
            }) === 1
        ) break;
        if (Date.now() > deadline) {
          throw new DirectoryInUseError(
            `${this.where} is in use by another run of the job (${
              holder === undefined ? "a process" : describeOwner(holder)
            } holds the job's lock in the database, renewing it): stop that one first, or ` +
              `start this one as another job (?job=NAME)`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } catch (e) {
      if (e instanceof DirectoryInUseError) throw e;
      throw this.#error("lock the job in", e);
    }
    // Renewed only while it is still this run's; a renewal that fails (the server away) is
    // tried again at the next one, as the checkpoints are.
    this.#lockRenewal = setInterval(() => {
      this.#client.eval(RENEW_LOCK, { keys: [key], arguments: [token, String(LOCK_EXPIRY_MS)] })
        .catch(() => {});
    }, LOCK_RENEW_MS);
    // The run ends the process, not the renewal: a job that failed before closing still exits.
    Deno.unrefTimer(this.#lockRenewal);
    this.#lockRelease = () =>
      this.#client.eval(RELEASE_LOCK, { keys: [key], arguments: [token] }).then(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.#lockRenewal);
    const release = this.#lockRelease;
    this.#lockRelease = undefined;
    if (release && this.#client.isReady) {
      await within(release().catch(() => {}), QUIT_WAIT_MS, () => {});
    }
    // quit() waits for the server's answer, and a client that lost its server (retrying to
    // connect, or not yet aware the connection is gone) would wait for ever: disconnect()
    // closes the socket at once.
    if (!this.#client.isReady) return await this.#client.disconnect().catch(() => {});
    const answered = await within(
      this.#client.quit().then(() => true, () => false),
      QUIT_WAIT_MS,
      () => false,
    );
    if (!answered) await this.#client.disconnect().catch(() => {});
  }
}

/**
 * node-redis (4.7) under Deno's `node:net` can still receive the replies of a
 * server that stopped answering (SIGSTOP, a partition) and answers again after
 * `disconnect()` dropped the commands waiting for them: `commands-queue.js`
 * `onReply` then throws "Cannot destructure property 'resolve' …" from a socket
 * event no promise reaches. Those replies belong to commands that already
 * failed (the checkpoint was declined or abandoned).
 */
function ignoreRepliesAfterDisconnect(): void {
  ignoreUncaught(
    "Cannot destructure property 'resolve'",
    /@redis[\/]client[\/].*commands-queue\.js/,
  );
}

// How long open() waits for the server to connect and answer.
const CONNECT_WAIT_MS = 5000;
// How long close() waits for the server to answer QUIT before it closes the socket.
const QUIT_WAIT_MS = 2000;
/** How long the job's lock outlives a run that stopped renewing it (killed). */
const LOCK_EXPIRY_MS = 6000;
/** How often a run renews the job's lock. */
const LOCK_RENEW_MS = 2000;
/** Renews the lock `KEYS[1]` for `ARGV[2]` ms if it holds this run's token `ARGV[1]`. */
const RENEW_LOCK = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`;
/** Sets the lock `KEYS[1]` to `ARGV[2]` for `ARGV[3]` ms if it still holds the dead run's `ARGV[1]`. */
const TAKE_OVER_LOCK = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3]) return 1 end return 0`;
/** Deletes the lock `KEYS[1]` if it holds this run's token `ARGV[1]`. */
const RELEASE_LOCK = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1]) end return 0`;

/**
 * A run's lock token: its process (as an owner file names one; none without `--allow-sys`)
 * and a random id, so that two runs of one process hold different tokens.
 */
function lockToken(owner: ProcessOwner | undefined): string {
  return JSON.stringify({ owner: owner ?? null, run: crypto.randomUUID() });
}

/** The process a lock token names, if any. */
function lockHolder(token: string): ProcessOwner | undefined {
  try {
    const { owner } = JSON.parse(token);
    return typeof owner?.host === "string" && Number.isSafeInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

// Invariant (enforced here): the state hashes, `latest`, `checkpoints` and the
// manifest change only in this script, which Redis runs atomically. The parts of a
// checkpoint go into the shadow hashes, which no reader looks at; the script swaps
// each shadow with its state hash (three RENAMEs: no copying, O(state hashes)) and
// records the checkpoint, so a reader sees the state of one completed checkpoint,
// never a part of one that did not complete. `shadow-of` stays absent after a swap:
// complete() sets it once the shadow has caught up.
const COMPLETE = `
local p, id, kind, name, mkey, manifest, swap =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if swap == '1' then
  local tmp = p .. 'swapping'
  for _, t in ipairs(redis.call('SMEMBERS', p .. 'states')) do
    local s = p .. 'shadow:' .. string.sub(t, #p + 7)
    local live, shadow = redis.call('EXISTS', t) == 1, redis.call('EXISTS', s) == 1
    if live and shadow then
      redis.call('RENAME', t, tmp); redis.call('RENAME', s, t); redis.call('RENAME', tmp, s)
    elseif shadow then redis.call('RENAME', s, t)
    elseif live then redis.call('RENAME', t, s) end
  end
  redis.call('DEL', p .. 'shadow-of')
elseif kind == 'checkpoint' and redis.call('GET', p .. 'shadow-of') == redis.call('GET', p .. 'latest') then
  -- Nothing changed: a shadow as of the previous checkpoint is as of this one too.
  redis.call('SET', p .. 'shadow-of', id)
end
redis.call('SET', mkey, manifest)
if kind == 'savepoint' then
  redis.call('HSET', p .. 'savepoints', name, id)
else
  redis.call('ZADD', p .. 'checkpoints', id, id)
  redis.call('SET', p .. 'latest', id)
end
return 1
`;

// A shadow hash's fields as the state hash has them (ARGV: state hash, shadow, fields).
const RESTORE = `
local live, shadow = ARGV[1], ARGV[2]
for i = 3, #ARGV do
  local v = redis.call('HGET', live, ARGV[i])
  if v then redis.call('HSET', shadow, ARGV[i], v) else redis.call('HDEL', shadow, ARGV[i]) end
end
return 1
`;

/** Queues `changes` to hash `key` in bounded commands. */
function writeChanges(m: ReturnType<Client["multi"]>, key: string, changes: Changes): void {
  let set: string[] = [];
  let del: string[] = [];
  for (const [field, value] of changes) {
    if (value === null) del.push(field);
    else set.push(field, value);
    if (set.length >= 2 * FIELD_BATCH) {
      m.hSet(key, set);
      set = [];
    }
    if (del.length >= FIELD_BATCH) {
      m.hDel(key, del);
      del = [];
    }
  }
  if (set.length > 0) m.hSet(key, set);
  if (del.length > 0) m.hDel(key, del);
}

function bytes(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}
