/**
 * {@linkcode changedRows} and the publication of a checkpoint to a database
 * on a worker thread: reading the segments two checkpoints do not share,
 * comparing and decoding the changed entries costs CPU in proportion to
 * those segments (an LSM compaction's output is read whole), and so does
 * encoding them for the database; both would otherwise be taken from the
 * job's thread. The worker opens its own connection to the store
 * ({@linkcode RemoteStore.address}), writes the checkpoint's parts and
 * completes it: the rows never come back, the job's thread only learns how
 * many were written, or the error. Where no worker starts or loads (the
 * permission to read weir's modules is missing), all of it runs on the
 * calling thread, through its own connection.
 *
 * @module
 */
import { within } from "./_within.ts";
import { CheckpointError } from "../../errors.ts";
import type { CheckpointFs } from "../checkpoint_fs.ts";
import type { Manifest } from "../manifest.ts";
import type { LoadedManifest } from "../storage.ts";
import { type ChangedRow, changedRows } from "./changed_entries.ts";
import type { RemoteCompletion, RemoteStore, StoreAddress } from "./remote_store.ts";
import {
  type PartPlan,
  type PartSources,
  type PartsWritten,
  publishParts,
} from "./_write_parts.ts";

export type { PartPlan, PartSegment, PartsWritten } from "./_write_parts.ts";

/** A snapshot as the worker reads it: its manifest and where its segments are. */
export interface SnapshotFiles {
  /** The manifest. */
  readonly manifest: Manifest;
  /** Its folder. */
  readonly dir: string;
  /** Each segment's path. */
  readonly paths: Readonly<Record<string, string>>;
}

/** What completes a published checkpoint, besides its id. */
export type Completion = Omit<RemoteCompletion, "id" | "reset">;

/** A {@linkcode PartPlan} as posted to the worker. */
export type PartPlanFiles = Omit<PartPlan, "prev" | "next"> & {
  readonly prev: SnapshotFiles | undefined;
  readonly next: SnapshotFiles;
};

/** What the worker is asked to do. */
export type ChangedRowsTask =
  // The changed rows between two checkpoints (none before: every entry of `next`).
  | { readonly op: "rows"; readonly prev: SnapshotFiles | undefined; readonly next: SnapshotFiles }
  // Write a checkpoint's parts to the store at `store`, then complete it.
  | {
    readonly op: "publish";
    readonly store: StoreAddress;
    readonly plan: PartPlanFiles;
    readonly completion: Completion;
  }
  // Close the worker's connections.
  | { readonly op: "close" };

/** A request to the worker. */
export type ChangedRowsRequest = { readonly id: number } & ChangedRowsTask;

/** The worker's reply: the rows, what it wrote, or why not. */
export type ChangedRowsReply =
  & { readonly id: number }
  & (
    | { readonly rows: ChangedRow[] }
    | { readonly written: PartsWritten }
    | { readonly closed: true }
    // `undiscarded`: the failed checkpoint's parts could not be removed either.
    | { readonly error: string; readonly undiscarded?: boolean }
  );

function files(l: LoadedManifest): SnapshotFiles {
  const paths: Record<string, string> = {};
  for (const name of Object.keys(l.manifest.segments)) paths[name] = l.segmentPath(name);
  return { manifest: l.manifest, dir: l.dir, paths };
}

interface Pending {
  // The request's work on this thread, for when the worker died before answering.
  readonly here: () => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  // A publication: its errors are CheckpointErrors; called when its parts stay behind.
  readonly undiscarded?: () => void;
}

// How long close() waits for the worker to end its connections.
const CLOSE_WAIT_MS = 5000;

/**
 * Finds changed entries and writes checkpoint parts on a worker thread, one
 * request at a time or more.
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
 * await worker.close();
 * ```
 */
export class ChangedRowsWorker {
  readonly #fs: CheckpointFs;
  #worker: Worker | undefined;
  #unavailable = false;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();

  /** `fs` reads the segments where no worker runs. */
  constructor(fs: CheckpointFs) {
    this.#fs = fs;
  }

  /** The rows of {@linkcode changedRows}`(fs, prev, next)`. */
  changedRows(prev: LoadedManifest | undefined, next: LoadedManifest): Promise<ChangedRow[]> {
    const here = () => this.#rowsHere(prev, next);
    const worker = this.#start();
    if (!worker) return here();
    return this.#send(worker, { op: "rows", prev: prev && files(prev), next: files(next) }, here);
  }

  /**
   * Writes the parts of `plan` to `store`, then completes the checkpoint with
   * `completion` (none is visible before): on the worker, through its own
   * connection, where the store has an address; else here (the worker, if
   * any, finds the rows). On failure the parts are discarded (`undiscarded`
   * is called when that fails too) and the promise rejects.
   */
  publish(
    store: RemoteStore,
    plan: PartPlan,
    completion: Completion,
    undiscarded: () => void,
  ): Promise<PartsWritten> {
    const address = store.address?.();
    const worker = address && this.#start();
    if (!worker) {
      const sources: PartSources = {
        changedRows: (prev, next) => this.changedRows(prev, next),
        readFile: (path) => this.#fs.readFile(path),
      };
      return publishParts(store, plan, completion, sources, undiscarded);
    }
    const posted: PartPlanFiles = {
      ...plan,
      prev: plan.prev && files(plan.prev),
      next: files(plan.next),
    };
    return this.#send(
      worker,
      { op: "publish", store: address, plan: posted, completion },
      () => publishParts(store, plan, completion, this.#sourcesHere(), undiscarded),
      undiscarded,
    );
  }

  /** Closes the worker's connections, then ends it. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#unavailable = true;
    if (!worker) return;
    const closed = this.#send(worker, { op: "close" }, () => Promise.resolve()).catch(() => {});
    await within(closed, CLOSE_WAIT_MS, () => {});
    worker.terminate();
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error("the changed-rows worker closed"));
    this.#pending.clear();
  }

  #send<T>(
    worker: Worker,
    task: ChangedRowsTask,
    here: () => Promise<T>,
    undiscarded?: () => void,
  ): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, {
        here,
        resolve: resolve as (v: unknown) => void,
        reject,
        ...(undiscarded ? { undiscarded } : {}),
      });
      worker.postMessage({ ...task, id });
    });
  }

  #sourcesHere(): PartSources {
    return {
      changedRows: (prev, next) => this.#rowsHere(prev, next),
      readFile: (path) => this.#fs.readFile(path),
    };
  }

  #rowsHere(prev: LoadedManifest | undefined, next: LoadedManifest): Promise<ChangedRow[]> {
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
      const reply = e.data;
      if ("error" in reply) {
        if (reply.undiscarded) p.undiscarded?.();
        p.reject(p.undiscarded ? new CheckpointError(reply.error) : new Error(reply.error));
      } else if ("rows" in reply) p.resolve(reply.rows);
      else if ("written" in reply) p.resolve(reply.written);
      else p.resolve(undefined);
    };
    // The worker could not load (or died): what it had is done here, and so is what follows.
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#worker?.terminate();
      this.#worker = undefined;
      this.#unavailable = true;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const { here, resolve, reject } of pending) here().then(resolve, reject);
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
