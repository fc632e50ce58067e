/**
 * {@linkcode changedRows} on a worker thread: reading the segments two
 * checkpoints do not share, comparing and decoding the changed entries costs
 * CPU in proportion to those segments (an LSM compaction's output is read
 * whole), which would otherwise be taken from the job's thread. Where no
 * worker starts or loads (the permission to read weir's modules is missing),
 * the rows are found on the calling thread.
 *
 * @module
 */
import type { CheckpointFs } from "../checkpoint_fs.ts";
import type { Manifest } from "../manifest.ts";
import type { LoadedManifest } from "../storage.ts";
import { type ChangedRow, changedRows } from "./changed_entries.ts";

/** A snapshot as the worker reads it: its manifest and where its segments are. */
export interface SnapshotFiles {
  /** The manifest. */
  readonly manifest: Manifest;
  /** Its folder. */
  readonly dir: string;
  /** Each segment's path. */
  readonly paths: Readonly<Record<string, string>>;
}

/** A request to the worker. */
export interface ChangedRowsRequest {
  /** Request id. */
  readonly id: number;
  /** The previous checkpoint (none: every entry of `next`). */
  readonly prev: SnapshotFiles | undefined;
  /** The new checkpoint. */
  readonly next: SnapshotFiles;
}

/** The worker's reply: the rows or why there are none. */
export type ChangedRowsReply =
  & { readonly id: number }
  & ({ readonly rows: ChangedRow[] } | { readonly error: string });

function files(l: LoadedManifest): SnapshotFiles {
  const paths: Record<string, string> = {};
  for (const name of Object.keys(l.manifest.segments)) paths[name] = l.segmentPath(name);
  return { manifest: l.manifest, dir: l.dir, paths };
}

/**
 * Finds changed entries on a worker thread, one request at a time or more.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "../checkpoint_fs.ts";
 * import { ChangedRowsWorker } from "./changed_rows_worker.ts";
 * const worker = new ChangedRowsWorker(new DenoCheckpointFs());
 * const next = {
 *   manifest: { operators: {}, segments: {}, maxParallelism: 128 } as never,
 *   dir: "/x",
 *   segmentPath: (n: string) => n,
 * };
 * assert.deepEqual(await worker.changedRows(undefined, next), []);
 * worker.close();
 * ```
 */
export class ChangedRowsWorker {
  readonly #fs: CheckpointFs;
  #worker: Worker | undefined;
  #unavailable = false;
  #nextId = 0;
  readonly #pending = new Map<
    number,
    {
      request: ChangedRowsRequest;
      resolve: (rows: ChangedRow[]) => void;
      reject: (e: Error) => void;
    }
  >();

  /** `fs` reads the segments where no worker runs. */
  constructor(fs: CheckpointFs) {
    this.#fs = fs;
  }

  /** The rows of {@linkcode changedRows}`(fs, prev, next)`. */
  changedRows(prev: LoadedManifest | undefined, next: LoadedManifest): Promise<ChangedRow[]> {
    const worker = this.#start();
    if (!worker) return this.#here(prev, next);
    const request: ChangedRowsRequest = {
      id: this.#nextId++,
      prev: prev && files(prev),
      next: files(next),
    };
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { request, resolve, reject });
      worker.postMessage(request);
    });
  }

  /** Ends the worker. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#unavailable = true;
  }

  #here(prev: LoadedManifest | undefined, next: LoadedManifest): Promise<ChangedRow[]> {
    try {
      return Promise.resolve([...changedRows(this.#fs, prev, next)]);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #start(): Worker | undefined {
    if (this.#worker || this.#unavailable) return this.#worker;
    try {
      const url = new URL("./_changed_rows_thread.ts", import.meta.url);
      // The worker loads weir's modules (state, statestore-as): it needs to read them all.
      const root = new URL("../../../", import.meta.url);
      if (
        url.protocol === "file:" &&
        Deno.permissions.querySync({ name: "read", path: root }).state !== "granted"
      ) throw new Deno.errors.NotCapable(`cannot read ${root.pathname}`);
      this.#worker = new Worker(url.href, { type: "module" });
    } catch {
      // No workers here: every request is done on this thread.
      this.#unavailable = true;
      return undefined;
    }
    this.#worker.onmessage = (e: MessageEvent<ChangedRowsReply>) => {
      const p = this.#pending.get(e.data.id);
      this.#pending.delete(e.data.id);
      if (!p) return;
      if ("rows" in e.data) p.resolve(e.data.rows);
      else p.reject(new Error(e.data.error));
    };
    // The worker could not load (or died): what it had is done here, and so is what follows.
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#worker?.terminate();
      this.#worker = undefined;
      this.#unavailable = true;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const { request, resolve, reject } of pending) {
        this.#here(loadedOf(request.prev), loadedOf(request.next)!).then(resolve, reject);
      }
    };
    return this.#worker;
  }
}

/** @internal The snapshot of `s` (undefined for none). */
export function loadedOf(s: SnapshotFiles | undefined): LoadedManifest | undefined {
  return s && {
    manifest: s.manifest,
    dir: s.dir,
    segmentPath: (name) => s.paths[name] ?? `${s.dir}/${name}`,
  };
}
