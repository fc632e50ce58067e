/**
 * The I/O edge of checkpointing: reads and writes manifests and segments of
 * one checkpoint directory through a {@linkcode CheckpointFs}. Decisions
 * (retention, which checkpoint to restore) are made by pure functions; this
 * class only carries them out.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { SnapshotStorage } from "../state/backend.ts";
import { type CheckpointFs, DenoCheckpointFs, makeJobFolder } from "./checkpoint_fs.ts";
import {
  formatManifest,
  type Manifest,
  parseManifest,
  withoutPendingTransactions,
} from "./manifest.ts";
import {
  type CheckpointPaths,
  checkpointPaths,
  METADATA_FILE,
  parseCheckpointDirName,
  SHARED_DIR,
} from "./paths.ts";
import { planRetention } from "./retention.ts";
import type { CheckpointMirror } from "./storage/checkpoint_mirror.ts";

/** A manifest and the folder it was read from. */
export interface LoadedManifest {
  /** The manifest. */
  readonly manifest: Manifest;
  /** Its folder (`DIR/chk-12`, `DIR/savepoints/x`). */
  readonly dir: string;
  /** A path for a segment the manifest names. */
  segmentPath(name: string): string;
  /**
   * Set when `--restore latest` fell back past damaged snapshots whose output
   * was committed, because `--allow-duplicate-output` accepts duplicates.
   */
  readonly acceptedDuplicates?: { readonly skipped: readonly number[]; readonly message: string };
}

/** A savepoint in the directory's savepoints folder, from its manifest. */
export interface SavepointInfo {
  /** Its checkpoint id. */
  readonly id: number;
  /** Its folder. */
  readonly dir: string;
  /** Taken by stop-with-savepoint (a recovery point). */
  readonly stop: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * One checkpoint directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointStorage } from "./storage.ts";
 * const dir = Deno.makeTempDirSync();
 * const storage = new CheckpointStorage(dir);
 * assert.ok(storage.completedIds().length === 0);
 * assert.ok(storage.newSegmentName().endsWith(".seg"));
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class CheckpointStorage {
  /** The folder layout. */
  readonly paths: CheckpointPaths;
  /** The file system. */
  readonly fs: CheckpointFs;
  /**
   * Set when checkpoints go to a database (`--checkpoint-storage postgres://…`):
   * this directory is then the local working copy, and a checkpoint is complete
   * once the mirror has committed it.
   */
  mirror: CheckpointMirror | undefined;
  readonly #runId = randomId();
  #seq = 0;
  #rootEntrySynced = false;
  /**
   * Set while other threads write segments into `shared/` (the worker
   * executor's workers): a temp file there may be a write in progress, not
   * a crash's leftover.
   */
  otherWriters = false;

  /** Opens (and creates) the directory. */
  constructor(root: string, fs: CheckpointFs = new DenoCheckpointFs()) {
    this.paths = checkpointPaths(root);
    this.fs = fs;
    makeJobFolder(fs, this.paths.root, "Checkpoint directory", [SHARED_DIR]);
  }

  /** A new segment name, unique across runs (`<run id>-<seq>.seg`). */
  newSegmentName(): string {
    return `h${this.#runId}-${String(++this.#seq).padStart(8, "0")}.seg`;
  }

  /** Where snapshots write segments. */
  segmentStorage(): SnapshotStorage {
    return { fs: this.fs, dir: this.paths.shared, newSegmentName: () => this.newSegmentName() };
  }

  /**
   * Writes `chk-<id>/_metadata` atomically: from then on the checkpoint
   * exists, and it survives a crash of the machine. Segment writers fsync
   * their files before renaming (or linking) them into `shared/`; this
   * fsyncs `shared/` before the manifest, and the root after it.
   */
  writeCheckpoint(manifest: Manifest): void {
    const id = manifest.checkpointId;
    this.#checkSegments(manifest, `checkpoint ${id}`);
    this.fs.syncDir(this.paths.shared);
    this.fs.mkdirp(this.paths.checkpoint(id));
    this.fs.writeFileAtomic(this.paths.metadata(id), encoder.encode(formatManifest(manifest)));
    this.#syncRoot();
  }

  /**
   * Throws when a segment the manifest names is not in `shared/` with its
   * size: a manifest is never written for state that is gone.
   */
  #checkSegments(manifest: Manifest, what: string): void {
    const problems = verifyManifest(this.fs, {
      manifest,
      dir: this.paths.root,
      segmentPath: (name) => `${this.paths.shared}/${name}`,
    });
    if (problems.length > 0) {
      throw new CheckpointError(`Cannot complete ${what}: ${problems.join("; ")}`);
    }
  }

  /** fsyncs the root (its `chk-<id>`, `shared` and `savepoints` entries), and once its parent. */
  #syncRoot(): void {
    this.fs.syncDir(this.paths.root);
    if (this.#rootEntrySynced) return;
    const slash = this.paths.root.lastIndexOf("/");
    this.fs.syncDir(slash > 0 ? this.paths.root.slice(0, slash) : slash === 0 ? "/" : ".");
    this.#rootEntrySynced = true;
  }

  /**
   * Writes a self-contained savepoint: copies of its segments and a manifest
   * whose segments are in its own folder, all fsynced. The folder is
   * `parent/<name>` (a target directory), by default `DIR/savepoints/<name>`.
   * Returns the folder.
   */
  writeSavepoint(manifest: Manifest, name: string, parent?: string): string {
    const into = parent === undefined ? this.paths.savepoints : parent.replace(/\/+$/, "") || "/";
    const dir = parent === undefined ? this.paths.savepoint(name) : `${into}/${name}`;
    if (this.fs.size(`${dir}/${METADATA_FILE}`) !== undefined) {
      throw new CheckpointError(`Cannot write savepoint ${dir}: it already exists`);
    }
    this.#checkSegments(manifest, `savepoint ${name}`);
    this.fs.mkdirp(dir);
    try {
      for (const seg of Object.keys(manifest.segments)) {
        this.fs.copy(`${this.paths.shared}/${seg}`, `${dir}/${seg}`);
      }
      // The copies' entries before the manifest that names them; then the folder's own entry.
      this.fs.syncDir(dir);
      const own: Manifest = { ...manifest, kind: "savepoint", segmentDir: "." };
      this.fs.writeFileAtomic(`${dir}/${METADATA_FILE}`, encoder.encode(formatManifest(own)));
      this.fs.syncDir(into);
      this.#syncRoot();
    } catch (e) {
      // Nothing collects savepoints: a failed one must not leave partial copies behind.
      this.fs.removeTree(dir);
      throw e;
    }
    return dir;
  }

  /**
   * Ids of checkpoints with a `_metadata` file, ascending; with a database,
   * only once it has taken them (not while {@linkcode CheckpointMirror.isPublishing}).
   */
  completedIds(): number[] {
    const ids: number[] = [];
    for (const name of this.fs.list(this.paths.root)) {
      const id = parseCheckpointDirName(name);
      if (id === undefined || this.mirror?.isPublishing(id)) continue;
      if (this.fs.size(this.paths.metadata(id)) !== undefined) ids.push(id);
    }
    return ids.sort((a, b) => a - b);
  }

  /** The savepoints of `DIR/savepoints` whose manifest reads, by id. */
  savepoints(): SavepointInfo[] {
    const found: SavepointInfo[] = [];
    for (const name of this.fs.list(this.paths.savepoints)) {
      const dir = this.paths.savepoint(name);
      if (this.fs.size(`${dir}/${METADATA_FILE}`) === undefined) continue;
      try {
        const m = this.load(dir).manifest;
        found.push({ id: m.checkpointId, dir, stop: m.stop === true });
      } catch {
        // Unreadable: not a savepoint anything can restore or number after.
      }
    }
    return found.sort((a, b) => a.id - b.id);
  }

  /**
   * Rewrites the savepoint at `dir` without pending transactions, once a
   * stop-with-savepoint has committed them: restoring it must not commit them
   * again (their files may have been moved on by then). Returns the manifest.
   */
  markSavepointCommitted(dir: string): Manifest {
    const manifest = withoutPendingTransactions(this.load(dir).manifest);
    const bytes = encoder.encode(formatManifest(manifest));
    this.fs.writeFileAtomic(`${dir}/${METADATA_FILE}`, bytes);
    this.mirror?.savepointRewritten(dir, bytes);
    return manifest;
  }

  /** Reads the manifest of a checkpoint id. */
  loadCheckpoint(id: number): LoadedManifest {
    return this.load(this.paths.checkpoint(id));
  }

  /**
   * Reads a manifest from a checkpoint or savepoint folder, or from a
   * `_metadata` file path.
   */
  load(path: string): LoadedManifest {
    return loadManifest(this.fs, path, false);
  }

  /**
   * Checks that every segment a manifest names exists with the recorded size.
   * Returns the problems found, each naming the segment.
   */
  verify(loaded: LoadedManifest): string[] {
    return verifyManifest(this.fs, loaded);
  }

  /** Deletes every checkpoint and shared segment (savepoints stay): a cancelled job's cleanup. */
  discardCheckpoints(): void {
    for (const id of this.completedIds()) this.fs.removeTree(this.paths.checkpoint(id));
    for (const s of this.sharedSegments()) this.fs.remove(`${this.paths.shared}/${s}`);
    this.mirror?.collect(this);
  }

  /** Segment files in the shared folder (temp files excluded). */
  sharedSegments(): string[] {
    return this.fs.list(this.paths.shared).filter((n) => n.endsWith(".seg") && !n.startsWith("."));
  }

  /**
   * Applies retention: keeps the `retain` newest completed checkpoints and
   * deletes every other checkpoint and every segment nothing needs. With
   * `snapshotsInFlight`, a checkpoint is in flight: temp files in `shared/`
   * may be its segments being written, and stay.
   */
  collectGarbage(
    retain: number,
    live: ReadonlySet<string>,
    snapshotsInFlight = false,
  ): { checkpoints: number[]; segments: string[] } {
    const completed = new Map<number, Set<string>>();
    for (const id of this.completedIds()) {
      try {
        completed.set(id, new Set(Object.keys(this.loadCheckpoint(id).manifest.segments)));
      } catch {
        // An unreadable manifest keeps its segments: never delete what might be needed.
        return { checkpoints: [], segments: [] };
      }
    }
    const plan = planRetention({ completed, retain, live, onDisk: this.sharedSegments() });
    for (const id of plan.checkpoints) this.fs.removeTree(this.paths.checkpoint(id));
    for (const s of plan.segments) this.fs.remove(`${this.paths.shared}/${s}`);
    this.#removeCrashLeftovers(snapshotsInFlight);
    return plan;
  }

  /**
   * Removes what an earlier run left half-written (killed mid-checkpoint):
   * temp files in `shared/` and `chk-<id>` folders without a `_metadata`.
   * Only while nothing else writes here: a job's start, under the
   * directory's lock, before its threads run (after it, `otherWriters` keeps
   * temp files, so without this they would stay for good).
   */
  removeLeftovers(): void {
    const others = this.otherWriters;
    this.otherWriters = false;
    try {
      this.#removeCrashLeftovers(false);
    } finally {
      this.otherWriters = others;
    }
  }

  /**
   * Removes what a killed process left: `chk-<id>` folders without a
   * `_metadata` and temp files in `shared/`. Safe while the job runs: this
   * process writes manifests synchronously (folder and manifest in one
   * step), and segments only for a checkpoint in flight (`keepTemp`), as
   * other threads do (`otherWriters`).
   */
  #removeCrashLeftovers(keepTemp: boolean): void {
    for (const name of this.fs.list(this.paths.root)) {
      const id = parseCheckpointDirName(name);
      if (id !== undefined && this.fs.size(this.paths.metadata(id)) === undefined) {
        this.fs.removeTree(this.paths.checkpoint(id));
      }
    }
    for (const name of this.otherWriters || keepTemp ? [] : this.fs.list(this.paths.shared)) {
      if (name.startsWith(".") && name.endsWith(".tmp")) {
        this.fs.remove(`${this.paths.shared}/${name}`);
      }
    }
  }
}

/**
 * Reads a manifest from a checkpoint or savepoint folder, or a `_metadata`
 * path; with `verify`, also checks its segments and throws a
 * `CheckpointError` naming what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "@weir/weir";
 * import { loadManifest } from "./storage.ts";
 * try {
 *   loadManifest(new DenoCheckpointFs(), "/nonexistent/chk-1", true);
 * } catch (e) {
 *   assert.ok(String(e).includes("does not exist"));
 * }
 * ```
 */
export function loadManifest(fs: CheckpointFs, path: string, verify: boolean): LoadedManifest {
  const dir = path.endsWith(`/${METADATA_FILE}`)
    ? path.slice(0, -METADATA_FILE.length - 1)
    : path.replace(/\/+$/, "");
  const file = `${dir}/${METADATA_FILE}`;
  const bytes = fs.readFile(file);
  if (bytes === undefined) {
    throw new CheckpointError(`Cannot restore from ${dir}: ${file} does not exist`);
  }
  const manifest = parseManifest(decoder.decode(bytes), file);
  const segDir = manifest.segmentDir === "." ? dir : `${dir}/${manifest.segmentDir}`;
  const loaded: LoadedManifest = { manifest, dir, segmentPath: (name) => `${segDir}/${name}` };
  if (verify) {
    const problems = verifyManifest(fs, loaded);
    if (problems.length > 0) {
      throw new CheckpointError(
        `Cannot restore ${manifest.kind} ${manifest.checkpointId} from ${dir}: ${
          problems.join("; ")
        }`,
      );
    }
  }
  return loaded;
}

/** The problems of a manifest's segments: missing, or not the recorded size. */
export function verifyManifest(fs: CheckpointFs, loaded: LoadedManifest): string[] {
  const problems: string[] = [];
  for (const [name, { size }] of Object.entries(loaded.manifest.segments)) {
    const actual = fs.size(loaded.segmentPath(name));
    if (actual === undefined) problems.push(`segment ${name} is missing`);
    else if (actual !== size) {
      problems.push(`segment ${name} has ${actual} bytes, the manifest says ${size}`);
    }
  }
  return problems;
}
