/**
 * Checkpoints kept in a database: the glue between the file storage the job
 * writes through (a local working folder) and a {@linkcode RemoteStore}.
 *
 * - Open: the store's completed checkpoints and savepoints are pulled into the
 *   working folder, so restore (`latest`, an id, a savepoint, at any
 *   parallelism) runs the file storage's code on them; parts of checkpoints
 *   that never completed are discarded.
 * - Complete: once the coordinator has written a checkpoint's manifest
 *   locally, {@linkcode CheckpointMirror.publish} writes its parts, several at
 *   once: the segments no earlier checkpoint uploaded and the decoded entries
 *   that changed since the previous checkpoint (found from the segments the
 *   two checkpoints do not share, see `changed_entries.ts`), in parts of
 *   bounded size (`_write_parts.ts`).
 *   Then the manifest makes them visible at once. Only then is the checkpoint
 *   complete: a failure declines it (its parts are discarded, the local copy
 *   removed). This runs on the coordinator's asynchronous completion: the
 *   job's thread never waits for it. Finding and decoding the changed entries
 *   runs on a worker thread (`changed_rows_worker.ts`), and so does writing
 *   the parts and completing the checkpoint, through the worker's own
 *   connection: the rows never come back to the job's thread.
 * - Publications run one at a time, in order. A checkpoint that ended (timed
 *   out, declined) before its turn is not published: a server that stopped
 *   answering and answers again catches up with the newest checkpoint, not
 *   with every one that failed meanwhile. Until its publication ends, a
 *   checkpoint is not complete in the working folder either (see
 *   {@linkcode CheckpointMirror.isPublishing}): retention keeps the checkpoint
 *   the database shows, and an in-process restart restores only what the
 *   database has.
 * - Close waits for background work a bounded time, then abandons it: a job
 *   ends even when the server stopped answering (the parts it left behind are
 *   discarded when the store is next opened).
 * - Retention: after local garbage collection the store drops what no
 *   retained checkpoint or savepoint needs.
 *
 * @module
 */
import { CheckpointError } from "../../errors.ts";
import { DenoCheckpointFs } from "../checkpoint_fs.ts";
import { parseManifest } from "../manifest.ts";
import { METADATA_FILE } from "../paths.ts";
import type { CheckpointStorage, LoadedManifest } from "../storage.ts";
import { loadManifest } from "../storage.ts";
import { ChangedRowsWorker } from "./changed_rows_worker.ts";
import { within } from "./_within.ts";
import type { RemoteEntry, RemoteStore } from "./remote_store.ts";

const decoder = new TextDecoder();

/**
 * How long closing waits for background work (the collection of old
 * checkpoints, a publication that outlived its checkpoint): a healthy
 * server's take milliseconds, and what is left is done or discarded later.
 */
const CLOSE_GRACE_MS = 5000;

/**
 * How long each request of {@linkcode CheckpointMirror.open} may wait for the
 * server: PostgreSQL's statement timeout, which a server that stopped
 * answering (stopped, partitioned) never applies.
 */
const OPEN_ANSWER_MS = 60_000;

/** `request`, or a `CheckpointError` naming `store` and `what` once it waited `ms` for an answer. */
function answeredWithin<T>(store: RemoteStore, ms: number, what: string, request: Promise<T>) {
  return within(request, ms, () => {
    throw new CheckpointError(`${store.where} did not answer (${what}) within ${ms} ms`);
  });
}

/**
 * A working folder mirrored into a {@linkcode RemoteStore}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointMirror } from "./checkpoint_mirror.ts";
 * import type { RemoteStore } from "./remote_store.ts";
 * // A store without checkpoints: the working copy starts empty.
 * const empty: RemoteStore = {
 *   where: "nowhere",
 *   list: () => Promise.resolve([]),
 *   latest: () => Promise.resolve(undefined),
 *   manifest: () => Promise.reject(new Error("none")),
 *   segmentNames: () => Promise.resolve([]),
 *   segment: () => Promise.reject(new Error("none")),
 *   writePart: () => Promise.resolve(),
 *   complete: () => Promise.resolve(),
 *   discard: () => Promise.resolve(),
 *   replaceSavepointManifest: () => Promise.resolve(),
 *   collect: () => Promise.resolve({ checkpoints: [], segments: [] }),
 *   lock: () => Promise.resolve(),
 *   close: () => Promise.resolve(),
 * };
 * const dir = Deno.makeTempDirSync();
 * const mirror = await CheckpointMirror.open(empty, dir);
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["shared"]);
 * await mirror.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class CheckpointMirror {
  /** The store. */
  readonly store: RemoteStore;
  /** The local working folder (a checkpoint directory). */
  readonly root: string;
  readonly #fs = new DenoCheckpointFs();
  // Finding and decoding the changed entries costs CPU the job's thread should not give.
  readonly #changes = new ChangedRowsWorker(this.#fs);
  /** How long a request may go unanswered (see `open`). */
  readonly #answerMs: number;
  readonly #uploaded: Set<string>;
  // Checkpoints that failed and whose parts are still to be removed from the store.
  readonly #undiscarded = new Set<number>();
  // The latest checkpoint the store completed: what its state rows show.
  #baseline: LoadedManifest | undefined;
  // Commits and collections run one at a time, in order.
  #queue: Promise<unknown> = Promise.resolve();
  // Checkpoints whose publication is queued or running, and their segments.
  readonly #publishing = new Map<number, string[]>();
  // The segments the running backends use, while a collection waits for its turn.
  #collectLive: ReadonlySet<string> | undefined;
  // Closed: queued work that has not started is dropped.
  #closed = false;
  #log: (line: string) => void = () => {};

  private constructor(
    store: RemoteStore,
    root: string,
    uploaded: Set<string>,
    baseline: LoadedManifest | undefined,
    answerMs: number,
  ) {
    this.store = store;
    this.root = root;
    this.#uploaded = uploaded;
    this.#baseline = baseline;
    this.#answerMs = answerMs;
  }

  /**
   * Pulls the store's checkpoints and savepoints into `root`. Each request
   * must be answered within `answerMs` (a server that stopped answering fails
   * the open instead of holding the job's start), and so must a publication's
   * look-ups later.
   */
  static async open(
    store: RemoteStore,
    root: string,
    options: { readOnly?: boolean; answerMs?: number } = {},
  ): Promise<CheckpointMirror> {
    const fs = new DenoCheckpointFs();
    const answerMs = options.answerMs ?? OPEN_ANSWER_MS;
    const answered = <T>(what: string, request: () => Promise<T>) =>
      answeredWithin(store, answerMs, what, request());
    // A killed writer's parts: nobody completes them now.
    if (!options.readOnly) await answered("discarding parts", () => store.discard());
    const entries = await answered("listing checkpoints", () => store.list());
    const uploaded = new Set(await answered("listing segments", () => store.segmentNames()));
    fs.mkdirp(`${root}/shared`);
    // Invariant: the working copy holds only what the store committed. A checkpoint
    // a killed process wrote locally but never committed must not be restored.
    const committed = new Set(entries.map((e) => folderOf(root, e)));
    for (const name of fs.list(root)) {
      if (/^chk-\d+$/.test(name) && !committed.has(`${root}/${name}`)) {
        fs.removeTree(`${root}/${name}`);
      }
    }
    for (const name of fs.list(`${root}/savepoints`)) {
      if (!committed.has(`${root}/savepoints/${name}`)) fs.removeTree(`${root}/savepoints/${name}`);
    }
    let latest: LoadedManifest | undefined;
    for (const e of entries) {
      const dir = folderOf(root, e);
      fs.mkdirp(dir);
      const bytes = await answered(`reading ${e.kind} ${e.id}`, () => store.manifest(e));
      const manifest = parseManifest(decoder.decode(bytes), `${store.where} ${e.kind} ${e.id}`);
      const segDir = manifest.segmentDir === "." ? dir : `${dir}/${manifest.segmentDir}`;
      for (const name of Object.keys(manifest.segments)) {
        const path = `${segDir}/${name}`;
        // Missing in the store: restore names it (and `latest` falls back past it).
        if (fs.size(path) !== undefined || !uploaded.has(name)) continue;
        fs.writeFileAtomic(path, await answered(`reading ${name}`, () => store.segment(name)));
      }
      fs.writeFileAtomic(`${dir}/${METADATA_FILE}`, bytes);
      if (e.kind === "checkpoint") latest = { manifest, dir, segmentPath: (n) => `${segDir}/${n}` };
    }
    return new CheckpointMirror(store, root, uploaded, latest, answerMs);
  }

  /** Where problems of background work (garbage collection) are reported. */
  set log(log: (line: string) => void) {
    this.#log = log;
  }

  /**
   * Commits the checkpoint or savepoint the storage just wrote at `path`.
   * Rejects (and the checkpoint is declined) when the store cannot take it,
   * and without writing anything when `wanted()` is false by its turn (the
   * checkpoint ended meanwhile).
   */
  publish(storage: CheckpointStorage, path: string, wanted: () => boolean): Promise<void> {
    let loaded: LoadedManifest;
    try {
      loaded = loadManifest(this.#fs, path, false);
    } catch (e) {
      return Promise.reject(e);
    }
    const { manifest } = loaded;
    const id = manifest.checkpointId;
    const checkpoint = manifest.kind === "checkpoint";
    if (checkpoint) this.#publishing.set(id, Object.keys(manifest.segments));
    const published = this.#enqueue(async () => {
      if (!wanted()) {
        throw new CheckpointError(
          `${manifest.kind} ${id} ended before ${this.store.where} took it`,
        );
      }
      // The store shows another checkpoint than ours (the server lost its data, or
      // another writer): it may lack segments uploaded before (they go again), and
      // a checkpoint writes every entry (the rest goes).
      // Bounded as the open's requests are: one that never comes back (a connection the
      // client stalled on) would hold every later checkpoint behind it in this queue.
      const answered = <T>(what: string, request: Promise<T>) =>
        answeredWithin(this.store, this.#answerMs, what, request);
      const latest = await answered("reading the latest checkpoint", this.store.latest());
      const lost = latest !== this.#baseline?.manifest.checkpointId;
      if (lost) {
        const held = new Set(await answered("listing segments", this.store.segmentNames()));
        for (const name of [...this.#uploaded]) if (!held.has(name)) this.#uploaded.delete(name);
      }
      const segments = Object.keys(manifest.segments)
        .filter((name) => !this.#uploaded.has(name))
        .map((name) => ({ name, path: loaded.segmentPath(name) }));
      // The parts, one at a time, then the manifest that makes them visible: on the
      // worker, through its own connection, where it runs. A failure declines the
      // checkpoint; parts the server did not let go are retried with the next collection.
      const written = await this.#changes.publish(
        this.store,
        {
          id,
          checkpoint,
          prev: lost ? undefined : this.#baseline,
          next: loaded,
          reset: checkpoint && lost,
          segments,
        },
        {
          kind: checkpoint ? "checkpoint" : "savepoint",
          ...(checkpoint ? {} : { name: path.slice(path.lastIndexOf("/") + 1) }),
          manifest: storage.fs.readFile(`${loaded.dir}/${METADATA_FILE}`)!,
        },
        () => this.#undiscarded.add(id),
      );
      if (written.note) this.#log(written.note);
      for (const { name } of segments) this.#uploaded.add(name);
      if (checkpoint) this.#baseline = loaded;
    });
    if (!checkpoint) return published;
    return published.finally(() => this.#publishing.delete(id));
  }

  /**
   * Whether checkpoint `id`'s publication is queued or running: it is not
   * complete yet, whatever the working folder holds.
   */
  isPublishing(id: number): boolean {
    return this.#publishing.has(id);
  }

  /**
   * Segments publications read: the previous checkpoint's (to find what
   * changed) and those of checkpoints being published, which may be no
   * longer pending. Local garbage collection must keep them.
   */
  pinnedSegments(): string[] {
    const pinned = Object.keys(this.#baseline?.manifest.segments ?? {});
    for (const segments of this.#publishing.values()) pinned.push(...segments);
    return pinned;
  }

  /** Replaces a savepoint's manifest in the store (in the background). */
  savepointRewritten(dir: string, manifest: Uint8Array): void {
    const name = dir.slice(dir.lastIndexOf("/") + 1);
    this.#background(
      `updating savepoint ${name}`,
      () => this.store.replaceSavepointManifest(name, manifest),
    );
  }

  /**
   * Drops from the store what the local folder no longer holds: checkpoints
   * retention removed and segments none of the rest (nor `live`) needs.
   */
  collect(storage: CheckpointStorage, live: ReadonlySet<string> = new Set()): void {
    // One collection waiting is enough: it reads the folder when it runs. (Each failed
    // checkpoint asks for one, and a server that answers again would otherwise work
    // through one per checkpoint that failed while it was away.)
    const queued = this.#collectLive !== undefined;
    this.#collectLive = live;
    if (queued) return;
    this.#background("collecting old checkpoints", async () => {
      const keep = new Set(this.#collectLive);
      this.#collectLive = undefined;
      const ids = storage.completedIds();
      const loaded = [
        ...ids.map((id) => storage.loadCheckpoint(id)),
        ...storage.savepoints().map((s) => storage.load(s.dir)),
      ];
      for (const l of loaded) for (const s of Object.keys(l.manifest.segments)) keep.add(s);
      for (const id of [...this.#undiscarded]) {
        await this.store.discard({ id });
        this.#undiscarded.delete(id);
      }
      await this.store.collect(ids, keep);
      for (const s of [...this.#uploaded]) if (!keep.has(s)) this.#uploaded.delete(s);
    });
  }

  /**
   * Waits for background work (at most `graceMs`), then closes the
   * connections, which ends what is still waiting for the server.
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    const done = await within(this.#queue.then(() => true), graceMs, () => false);
    this.#closed = true;
    if (!done) {
      this.#log(
        `${this.store.where} did not finish its background work within ${graceMs} ms; ` +
          "closing the connection (parts it leaves are discarded when it is next opened)",
      );
    }
    await this.#changes.close();
    await this.store.close();
  }

  #enqueue<T>(f: () => Promise<T>): Promise<T> {
    const g = () => {
      if (this.#closed) throw new CheckpointError(`${this.store.where} is closed`);
      return f();
    };
    const run = this.#queue.then(g, g);
    this.#queue = run.catch(() => {});
    return run;
  }

  #background(what: string, f: () => Promise<void>): void {
    this.#enqueue(f).catch((e) => {
      if (!this.#closed) this.#log(`${what} failed (retried after the next checkpoint): ${e}`);
    });
  }
}

function folderOf(root: string, e: RemoteEntry): string {
  return e.kind === "savepoint" ? `${root}/savepoints/${e.name}` : `${root}/chk-${e.id}`;
}
