/**
 * What a database must offer to hold checkpoints (`--checkpoint-storage
 * postgres://…|redis://…`). The job still writes each checkpoint to a local
 * working folder first (the file storage, which restores lazily from
 * segments); a {@linkcode RemoteStore} receives, when the coordinator
 * completes a checkpoint, its parts (the segments no earlier checkpoint
 * uploaded and the decoded state entries that changed, in parts of bounded
 * size), written concurrently, then the manifest, which makes them visible atomically. See
 * `checkpoint_mirror.ts` for the glue.
 *
 * @module
 */

/**
 * Segment bytes per row or command. A database stores and reads a segment in
 * chunks: one value has a size limit an LSM segment of a large state exceeds
 * (a PostgreSQL `bytea`, 1 GB; a Redis string, 512 MB), and the time and the
 * memory each row or command takes on the server stay bounded.
 */
export const SEGMENT_CHUNK = 16 * 1024 * 1024;

/** A decoded keyed state entry as the outside world reads it (JSON texts). */
export interface StateRow {
  /** Operator uid. */
  readonly operator: string;
  /** State name. */
  readonly state: string;
  /** Key group of the key. */
  readonly keyGroup: number;
  /** The key as JSON text. */
  readonly key: string;
  /** The namespace as JSON text, or null outside windows. */
  readonly namespace: string | null;
  /** The map key as JSON text, or null for other kinds. */
  readonly userKey: string | null;
  /** The value as JSON text; null marks a removed entry (a tombstone). */
  readonly value: string | null;
}

/** A share of a checkpoint: written before it completes, invisible until then. */
export interface RemotePart {
  /** Segments the store does not hold yet, by name. */
  readonly segments: ReadonlyMap<string, Uint8Array>;
  /** Entries changed since the previous checkpoint (checkpoints only). */
  readonly rows: readonly StateRow[];
  /** As {@linkcode RemoteCompletion.reset}: the checkpoint's parts hold every entry. */
  readonly reset?: boolean;
}

/**
 * How another thread opens its own connection to the same store and job (see
 * {@linkcode RemoteStore.address}). It holds the URL as given, credentials
 * included: it is posted to that thread, never printed.
 */
export interface StoreAddress {
  /** The store's kind. */
  readonly kind: "postgres" | "redis";
  /** The server's URL. */
  readonly url: string;
  /** The job. */
  readonly job: string;
}

/** What makes a checkpoint or savepoint whose parts were written visible. */
export interface RemoteCompletion {
  /** Checkpoint id. */
  readonly id: number;
  /** `"checkpoint"` or `"savepoint"`. */
  readonly kind: "checkpoint" | "savepoint";
  /** The savepoint's name (its folder name), for savepoints. */
  readonly name?: string;
  /** The manifest's bytes exactly as written (its checksum covers them). */
  readonly manifest: Uint8Array;
  /**
   * The parts hold every entry, not the changes since the latest completed
   * checkpoint (the store's rows did not match it): entries the parts do not
   * write are removed.
   */
  readonly reset?: boolean;
}

/** How {@linkcode RemoteStore.collect} collects. */
export interface CollectOptions {
  /** Only say what would be dropped. */
  readonly dryRun?: boolean;
  /**
   * Keep segments a checkpoint with a higher id uploaded: one in progress (a
   * running job's; ids only grow) may need them before its manifest names them.
   */
  readonly keepUploadedAfter?: number;
}

/** What {@linkcode RemoteStore.collect} dropped. */
export interface Collected {
  /** Checkpoint ids. */
  readonly checkpoints: number[];
  /** Segments, with their sizes in bytes. */
  readonly segments: { name: string; size: number }[];
}

/** A checkpoint or savepoint as listed by the store. */
export interface RemoteEntry {
  /** Checkpoint id. */
  readonly id: number;
  /** Its kind. */
  readonly kind: "checkpoint" | "savepoint";
  /** Savepoint name (savepoints). */
  readonly name?: string;
}

/**
 * A database holding the checkpoints of one job. A checkpoint is written in
 * parts (several at once), then completed: its parts become
 * visible with it, atomically on the server; the parts of a checkpoint that
 * never completes are never visible and are removed by
 * {@linkcode RemoteStore.discard}.
 */
export interface RemoteStore {
  /** The server and job, for messages (never the credentials). */
  readonly where: string;
  /** Completed checkpoints and savepoints of the job, ascending ids. */
  list(): Promise<RemoteEntry[]>;
  /** The latest completed checkpoint's id (the one the state rows show), if any. */
  latest(): Promise<number | undefined>;
  /** A manifest's bytes. */
  manifest(entry: RemoteEntry): Promise<Uint8Array>;
  /** Names of the segments the store holds for the job. */
  segmentNames(): Promise<string[]>;
  /** A segment's bytes. */
  segment(name: string): Promise<Uint8Array>;
  /**
   * How another thread opens the same store: a checkpoint's parts and its
   * completion may be written through a connection of that thread's (all of
   * one checkpoint's through the same). None: only through this object.
   */
  address?(): StoreAddress;
  /** Writes one part of checkpoint `id`, invisible until {@linkcode RemoteStore.complete}. */
  writePart(id: number, part: RemotePart): Promise<void>;
  /** Makes a checkpoint (with the parts written for it) visible, atomically. */
  complete(c: RemoteCompletion): Promise<void>;
  /**
   * Removes the parts of checkpoints that did not complete: of `id` only, or
   * with `below`, of every id below it, or with neither, of every id.
   */
  discard(which?: { id: number } | { below: number }): Promise<void>;
  /** Replaces a savepoint's manifest (after a stop-with-savepoint committed its output). */
  replaceSavepointManifest(name: string, manifest: Uint8Array): Promise<void>;
  /**
   * Drops checkpoints not in `keepIds` (savepoints stay), segments not in
   * `keepSegments`, and state rows no retained checkpoint can see; returns
   * the checkpoints and segments dropped (or, with `dryRun`, to drop).
   */
  collect(
    keepIds: readonly number[],
    keepSegments: ReadonlySet<string>,
    options?: CollectOptions,
  ): Promise<Collected>;
  /**
   * Takes the job's lock, as a running job holds its checkpoint directory's:
   * another run of the job on the same database gets a `DirectoryInUseError`
   * (it would take the same checkpoint ids, and each would collect the
   * other's). Held until {@linkcode RemoteStore.close}; a process that dies
   * without closing loses it (with its connection, or after a short expiry).
   */
  lock(): Promise<void>;
  /** Ends connections (and gives the job's lock back). */
  close(): Promise<void>;
}

/**
 * The URL without its password, for messages: `postgres://weir@127.0.0.1:5432/db`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactUrl } from "./remote_store.ts";
 * assert.equal(redactUrl("postgres://u:secret@h:1/db?job=x"), "postgres://u@h:1/db");
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.search = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//").split("?")[0]!;
  }
}
