/**
 * Checkpoints kept in a database: the glue between the file storage the job
 * writes through (a local working folder) and a {@linkcode RemoteStore}.
 *
 * - Open: the store's completed checkpoints and savepoints are pulled into the
 *   working folder, so restore (`latest`, an id, a savepoint, at any
 *   parallelism) runs the file storage's code on them.
 * - Complete: once the coordinator has written a checkpoint's manifest
 *   locally, {@linkcode CheckpointMirror.publish} commits to the store the
 *   segments no earlier checkpoint uploaded (the backends' segments hold the
 *   entries changed since the previous checkpoint), the decoded entries that
 *   changed, and the manifest, in one atomic commit. Only then is the
 *   checkpoint complete: a failure declines it (and removes the local copy).
 *   This runs on the coordinator's asynchronous completion, never on the job
 *   thread's synchronous part.
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
import { dumpState, openState } from "../../state/state_reader.ts";
import { toJsonValue } from "../../state/serializer_ids.ts";
import type { RemoteEntry, RemoteStore, StateRow } from "./remote_store.ts";

const decoder = new TextDecoder();

/**
 * What the last committed checkpoint's rows said, compactly: entry identity
 * (operator, state, key, namespace, map key) → a hash of its value's JSON.
 */
type StateImage = Map<string, number>;

/** A decoded checkpoint: the image and the rows it consists of. */
interface DecodedState {
  readonly image: StateImage;
  readonly rows: Map<string, StateRow>;
}

const SEP = "\u0000";

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
 *   manifest: () => Promise.reject(new Error("none")),
 *   segmentNames: () => Promise.resolve([]),
 *   segment: () => Promise.reject(new Error("none")),
 *   commit: () => Promise.resolve(),
 *   replaceSavepointManifest: () => Promise.resolve(),
 *   collect: () => Promise.resolve(),
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
  readonly #uploaded: Set<string>;
  #image: StateImage;
  // Commits and collections run one at a time, in order.
  #queue: Promise<unknown> = Promise.resolve();
  #log: (line: string) => void = () => {};

  private constructor(store: RemoteStore, root: string, uploaded: Set<string>, image: StateImage) {
    this.store = store;
    this.root = root;
    this.#uploaded = uploaded;
    this.#image = image;
  }

  /** Pulls the store's checkpoints and savepoints into `root`. */
  static async open(store: RemoteStore, root: string): Promise<CheckpointMirror> {
    const fs = new DenoCheckpointFs();
    const entries = await store.list();
    const uploaded = new Set(await store.segmentNames());
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
      const bytes = await store.manifest(e);
      const manifest = parseManifest(decoder.decode(bytes), `${store.where} ${e.kind} ${e.id}`);
      const segDir = manifest.segmentDir === "." ? dir : `${dir}/${manifest.segmentDir}`;
      for (const name of Object.keys(manifest.segments)) {
        const path = `${segDir}/${name}`;
        // Missing in the store: restore names it (and `latest` falls back past it).
        if (fs.size(path) !== undefined || !uploaded.has(name)) continue;
        fs.writeFileAtomic(path, await store.segment(name));
      }
      fs.writeFileAtomic(`${dir}/${METADATA_FILE}`, bytes);
      if (e.kind === "checkpoint") latest = { manifest, dir, segmentPath: (n) => `${segDir}/${n}` };
    }
    let image: StateImage = new Map();
    try {
      if (latest) image = decodeState(latest).image;
    } catch {
      // Undecodable: the first checkpoint then writes every entry again.
    }
    return new CheckpointMirror(store, root, uploaded, image);
  }

  /** Where problems of background work (garbage collection) are reported. */
  set log(log: (line: string) => void) {
    this.#log = log;
  }

  /**
   * Commits the checkpoint or savepoint the storage just wrote at `path`.
   * Rejects (and the checkpoint is declined) when the store cannot take it.
   */
  publish(storage: CheckpointStorage, path: string): Promise<void> {
    return this.#enqueue(async () => {
      const loaded = loadManifest(this.#fs, path, false);
      const { manifest } = loaded;
      const segments = new Map<string, Uint8Array>();
      for (const name of Object.keys(manifest.segments)) {
        if (this.#uploaded.has(name)) continue;
        const bytes = storage.fs.readFile(loaded.segmentPath(name));
        if (!bytes) throw new CheckpointError(`segment ${name} of ${path} is missing`);
        segments.set(name, bytes);
      }
      const checkpoint = manifest.kind === "checkpoint";
      const decoded = checkpoint ? decodeState(loaded) : undefined;
      const image = decoded?.image ?? this.#image;
      const rows = decoded ? changedRows(this.#image, decoded) : [];
      await this.store.commit({
        id: manifest.checkpointId,
        kind: manifest.kind === "savepoint" ? "savepoint" : "checkpoint",
        ...(checkpoint ? {} : { name: path.slice(path.lastIndexOf("/") + 1) }),
        manifest: storage.fs.readFile(`${loaded.dir}/${METADATA_FILE}`)!,
        segments,
        rows,
      });
      for (const name of segments.keys()) this.#uploaded.add(name);
      this.#image = image;
    });
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
    this.#background("collecting old checkpoints", async () => {
      const ids = storage.completedIds();
      const keep = new Set(live);
      const loaded = [
        ...ids.map((id) => storage.loadCheckpoint(id)),
        ...storage.savepoints().map((s) => storage.load(s.dir)),
      ];
      for (const l of loaded) for (const s of Object.keys(l.manifest.segments)) keep.add(s);
      await this.store.collect(ids, keep);
      for (const s of [...this.#uploaded]) if (!keep.has(s)) this.#uploaded.delete(s);
    });
  }

  /** Waits for background work, then closes the connection. */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.store.close();
  }

  #enqueue<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(f, f);
    this.#queue = run.catch(() => {});
    return run;
  }

  #background(what: string, f: () => Promise<void>): void {
    this.#enqueue(f).catch((e) =>
      this.#log(`${what} failed (retried after the next checkpoint): ${e}`)
    );
  }
}

function folderOf(root: string, e: RemoteEntry): string {
  return e.kind === "savepoint" ? `${root}/savepoints/${e.name}` : `${root}/chk-${e.id}`;
}

function json(v: unknown): string {
  return JSON.stringify(toJsonValue(v)) ?? "null";
}

/** Every keyed state entry of a checkpoint, decoded. */
function decodeState(loaded: LoadedManifest): DecodedState {
  const fs = new DenoCheckpointFs();
  const image: StateImage = new Map();
  const rows = new Map<string, StateRow>();
  for (const [uid, op] of Object.entries(loaded.manifest.operators)) {
    const names = new Set<string>();
    for (const s of op.subtasks) for (const m of s.keyed?.states ?? []) names.add(m.name);
    for (const state of names) {
      for (const e of dumpState(loaded, fs, openState(loaded, uid, state))) {
        const row: StateRow = {
          operator: uid,
          state,
          keyGroup: e.keyGroup,
          key: json(e.key),
          namespace: e.namespace === undefined ? null : json(e.namespace),
          userKey: e.userKey === undefined ? null : json(e.userKey),
          value: json(e.value),
        };
        const id = [uid, state, row.key, row.namespace, row.userKey].join(SEP);
        image.set(id, hash(row.value!));
        rows.set(id, row);
      }
    }
  }
  return { image, rows };
}

/** FNV-1a of a string's UTF-16 units, twice with different seeds (53 bits). */
function hash(text: string): number {
  let a = 0x811c9dc5, b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/** Rows for entries new or changed in `next`, and tombstones for those gone. */
function changedRows(prev: StateImage, next: DecodedState): StateRow[] {
  const rows: StateRow[] = [];
  for (const [id, row] of next.rows) if (prev.get(id) !== next.image.get(id)) rows.push(row);
  for (const id of prev.keys()) {
    if (next.image.has(id)) continue;
    const [operator, state, key, namespace, userKey] = id.split(SEP);
    rows.push({
      operator: operator!,
      state: state!,
      keyGroup: 0,
      key: key!,
      namespace: namespace === "null" || namespace === "" ? null : namespace!,
      userKey: userKey === "null" || userKey === "" ? null : userKey!,
      value: null,
    });
  }
  return rows;
}
