/**
 * Finding and checking checkpoints on disk for the CLI: what a path names
 * (a checkpoint, a savepoint, a `_metadata` file or a whole checkpoint
 * directory) and whether each snapshot is intact.
 *
 * @module
 */
import { CheckpointError } from "../core/errors.ts";
import { type CheckpointFs, DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
import {
  checkpointPaths,
  METADATA_FILE,
  parseCheckpointDirName,
  SAVEPOINTS_DIR,
} from "../core/checkpoint/paths.ts";
import { type LoadedManifest, loadManifest } from "../core/checkpoint/storage.ts";
import { readHistory, vanishedCheckpoints, vanishedReason } from "../core/checkpoint/history.ts";
import { readSegment } from "../statestore-as/lsm_store.ts";

/** One snapshot folder found on disk, readable or not. */
export interface FoundSnapshot {
  /** `checkpoint` (`chk-<id>`) or `savepoint` (under `savepoints/`). */
  readonly kind: "checkpoint" | "savepoint";
  /** The folder. */
  readonly dir: string;
  /** Its path relative to the checkpoint directory. */
  readonly name: string;
  /** The id from the folder name (checkpoints) or the manifest. */
  readonly id: number | undefined;
  /** The manifest, when it could be read. */
  readonly loaded: LoadedManifest | undefined;
  /** `completed`, `incomplete: ...` or `damaged: ...`. */
  readonly status: string;
  /** What is wrong, one line each. */
  readonly problems: string[];
  /** A checkpoint the history records as completed whose `_metadata` is gone (damaged). */
  readonly vanished?: boolean;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Checks one snapshot folder: the manifest parses, every segment exists with
 * its recorded size and, with `deep`, every segment reads back (checksums;
 * those in `verified` are not read again; see `checkSegments`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
 * import { examineSnapshot } from "./checkpoint_dir.ts";
 * const dir = Deno.makeTempDirSync();
 * const s = examineSnapshot(new DenoCheckpointFs(), dir, "chk-1", "checkpoint", 1, false);
 * assert.ok(s.status.startsWith("incomplete"));
 * Deno.removeSync(dir);
 * ```
 */
export function examineSnapshot(
  fs: CheckpointFs,
  dir: string,
  name: string,
  kind: "checkpoint" | "savepoint",
  id: number | undefined,
  deep: boolean,
  verified: Set<string> = new Set(),
): FoundSnapshot {
  if (fs.size(`${dir}/${METADATA_FILE}`) === undefined) {
    return {
      kind,
      dir,
      name,
      id,
      loaded: undefined,
      status: `incomplete: no ${METADATA_FILE}`,
      problems: [`${name} has no ${METADATA_FILE}`],
    };
  }
  let loaded: LoadedManifest;
  try {
    loaded = loadManifest(fs, dir, false);
  } catch (e) {
    return {
      kind,
      dir,
      name,
      id,
      loaded: undefined,
      status: `damaged: ${message(e)}`,
      problems: [message(e)],
    };
  }
  const problems = checkSegments(fs, loaded, deep, verified);
  return {
    kind: loaded.manifest.kind === "savepoint" ? "savepoint" : kind,
    dir,
    name,
    id: id ?? loaded.manifest.checkpointId,
    loaded,
    status: problems.length === 0 ? "completed" : `damaged: ${problems.join("; ")}`,
    problems,
  };
}

/**
 * Checks that every segment of a snapshot is there with its recorded size and, with `deep`, reads
 * back (`readBackSegments`); one problem per segment, naming it. Each segment is opened as it is
 * checked and read through that descriptor: a running job deleting the snapshot meanwhile (a
 * newer one subsumed it) does not cut the read short, and one it deleted before (the manifest is
 * gone too, as the job deletes the folder first) shows as missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
 * import { checkSegments } from "./checkpoint_dir.ts";
 * const manifest = { segments: { "a.seg": { size: 1 } } } as never;
 * const problems = checkSegments(new DenoCheckpointFs(), {
 *   manifest,
 *   dir: "/nonexistent",
 *   segmentPath: (n) => `/nonexistent/${n}`,
 * }, true);
 * assert.deepEqual(problems, ["segment a.seg is missing"]);
 * ```
 */
export function checkSegments(
  fs: CheckpointFs,
  loaded: LoadedManifest,
  deep: boolean,
  verified: Set<string> = new Set(),
): string[] {
  const problems: string[] = [];
  const sizes = new Map<string, number>();
  for (const [name, { size }] of Object.entries(loaded.manifest.segments)) {
    const path = loaded.segmentPath(name);
    const actual = fs.size(path);
    try {
      if (actual === undefined) throw new Deno.errors.NotFound(path);
      fs.readAt(path, 0, new Uint8Array(0)); // opens it: the descriptor stays cached in fs
    } catch {
      problems.push(`segment ${name} is missing`);
      continue;
    }
    sizes.set(path, actual);
    if (actual !== size) {
      problems.push(`segment ${name} has ${actual} bytes, the manifest says ${size}`);
    }
  }
  if (!deep || problems.length > 0) return problems;
  // Made from fs, whose descriptors it reads through; sizes as they were when opened.
  const pinned = Object.create(fs) as CheckpointFs;
  pinned.size = (path: string) => sizes.get(path) ?? fs.size(path);
  return readBackSegments(pinned, loaded, verified);
}

/**
 * Reads every segment of a snapshot back (checking each block's checksum);
 * one problem per segment that does not read, naming it. Segments are
 * immutable: paths in `verified` are not read again, and each that reads is
 * added (a snapshot read again after a newer one replaced it reads only
 * what is new).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
 * import { readBackSegments } from "./checkpoint_dir.ts";
 * const manifest = { segments: { "a.seg": { size: 1 } } } as never;
 * const problems = readBackSegments(new DenoCheckpointFs(), {
 *   manifest,
 *   dir: "/nonexistent",
 *   segmentPath: (n) => `/nonexistent/${n}`,
 * });
 * assert.match(problems[0]!, /^segment a\.seg does not read back/);
 * ```
 */
export function readBackSegments(
  fs: CheckpointFs,
  loaded: LoadedManifest,
  verified: Set<string> = new Set(),
): string[] {
  const problems: string[] = [];
  for (const seg of Object.keys(loaded.manifest.segments)) {
    const path = loaded.segmentPath(seg);
    if (verified.has(path)) continue;
    try {
      for (const _ of readSegment(fs, path)) { /* reading checks checksums */ }
      verified.add(path);
    } catch (e) {
      problems.push(`segment ${seg} does not read back: ${message(e)}`);
    }
  }
  return problems;
}

/**
 * Every checkpoint (`chk-<id>`, by id) and savepoint (`savepoints/*`, and
 * `savepoints/<target>/*` of a relative `target-directory`) folder of a
 * checkpoint directory; throws a `CheckpointError` when `root` does
 * not exist. Beside a running job, a checkpoint the job deletes while it is
 * read (a newer one subsumed it) is left out, not reported damaged, and its
 * name added to `deleted`; the folder is listed again for the newer one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSnapshots } from "./checkpoint_dir.ts";
 * assert.throws(() => findSnapshots("/nonexistent/ck", false), /does not exist/);
 * ```
 */
export function findSnapshots(
  root: string,
  deep: boolean,
  fs: CheckpointFs = new DenoCheckpointFs(),
  deleted: string[] = [],
): FoundSnapshot[] {
  const paths = checkpointPaths(root);
  if (!exists(paths.root)) {
    throw new CheckpointError(`Checkpoint directory ${paths.root} does not exist`);
  }
  if (!Deno.statSync(paths.root).isDirectory) {
    throw new CheckpointError(`${paths.root} is a file, not a checkpoint directory`);
  }
  const byId = new Map<number, FoundSnapshot>();
  const gone = new Set<number>();
  const verified = new Set<string>();
  // A running job deletes the checkpoints a newer one subsumes, also while they are read: one
  // that fails to read and whose _metadata is gone since was deleted, not damaged. Left out, and
  // the folder listed again for the newer one (a few rounds: a job may checkpoint faster).
  for (let round = 0; round < 20; round++) {
    const fresh = listIds(fs, paths.root).filter((id) => !byId.has(id) && !gone.has(id));
    let deletedNow = false;
    for (const id of fresh) {
      const dir = paths.checkpoint(id);
      const s = examineSnapshot(fs, dir, `chk-${id}`, "checkpoint", id, deep, verified);
      if (s.status !== "completed" && deletedMeanwhile(fs, dir, s)) {
        gone.add(id);
        deletedNow = true;
      } else byId.set(id, s);
    }
    if (!deletedNow) break;
  }
  deleted.push(...[...gone].sort((a, b) => a - b).map((id) => `chk-${id}`));
  // Completed once (the history says so) but without a manifest now: damaged, as restore sees it.
  const vanished = vanishedNow(fs, paths.root);
  for (const id of vanished) {
    const why = vanishedReason(paths.root, id);
    byId.set(id, {
      kind: "checkpoint",
      dir: paths.checkpoint(id),
      name: `chk-${id}`,
      id,
      loaded: undefined,
      status: `damaged: ${why}`,
      problems: [why],
      vanished: true,
    });
  }
  const out = [...byId.keys()].sort((a, b) => a - b).map((id) => byId.get(id)!);
  const savepoints = (rel: string): void => {
    for (const name of fs.list(`${paths.root}/${rel}`)) {
      if (name.startsWith(".")) continue;
      const path = `${rel}/${name}`;
      const dir = `${paths.root}/${path}`;
      // A `target-directory` under savepoints/ holds savepoint folders rather than being one
      // (`savepoints/<target>/<name>`): list those, not the target as an incomplete savepoint.
      if (fs.size(`${dir}/${METADATA_FILE}`) === undefined && hasSubfolder(dir)) savepoints(path);
      else out.push(examineSnapshot(fs, dir, path, "savepoint", undefined, deep));
    }
  };
  savepoints(SAVEPOINTS_DIR);
  return out;
}

function listIds(fs: CheckpointFs, root: string): number[] {
  return fs.list(root).map(parseCheckpointDirName).filter((i) => i !== undefined)
    .sort((a, b) => a - b);
}

/**
 * Whether snapshot `s` at `dir`, which did not read as completed, was deleted while it was read:
 * its manifest read but is gone now, or its folder is.
 */
function deletedMeanwhile(fs: CheckpointFs, dir: string, s: FoundSnapshot): boolean {
  return fs.size(`${dir}/${METADATA_FILE}`) === undefined &&
    (s.status.startsWith("damaged") || !exists(dir));
}

/**
 * The checkpoints the history records as completed whose `_metadata` is gone. The history is read
 * first (a job writes a checkpoint's manifest before its history entry), and the folder listed
 * again after the manifests were looked for: a checkpoint completing meanwhile deletes the one it
 * subsumes, which would otherwise look vanished with nothing newer listed to compare it with.
 */
function vanishedNow(fs: CheckpointFs, root: string): number[] {
  const paths = checkpointPaths(root);
  for (let attempt = 1;; attempt++) {
    const history = readHistory(root);
    const ids = listIds(fs, root);
    const completed = ids.filter((id) => fs.size(paths.metadata(id)) !== undefined);
    if (attempt === 5 || listIds(fs, root).join() === ids.join()) {
      return vanishedCheckpoints(root, completed, history);
    }
  }
}

/** Whether `dir` is a folder with a folder in it (a savepoint's own folder holds only files). */
function hasSubfolder(dir: string): boolean {
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory && !e.name.startsWith(".")) return true;
    }
  } catch { /* not a folder: examineSnapshot says what it is */ }
  return false;
}

/**
 * Loads the snapshot a path names: a checkpoint or savepoint folder, its
 * `_metadata` file, or a checkpoint directory (its latest completed
 * checkpoint). Throws a `CheckpointError` that says what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveSnapshot } from "./checkpoint_dir.ts";
 * assert.throws(() => resolveSnapshot("/nonexistent/chk-3"), /does not exist/);
 * const file = Deno.makeTempFileSync();
 * assert.throws(() => resolveSnapshot(file), /is a file, not a checkpoint/);
 * Deno.removeSync(file);
 * ```
 */
export function resolveSnapshot(
  path: string,
  fs: CheckpointFs = new DenoCheckpointFs(),
): LoadedManifest {
  const clean = path.replace(/\/+$/, "") || "/";
  if (!exists(clean)) throw new CheckpointError(`${clean} does not exist`);
  const dir = clean.endsWith(`/${METADATA_FILE}`) || clean === METADATA_FILE
    ? clean.slice(0, -METADATA_FILE.length - 1) || "."
    : clean;
  if (!Deno.statSync(dir).isDirectory) {
    // Else the look for dir/_metadata fails with the system's "Not a directory".
    throw new CheckpointError(
      `${clean} is a file, not a checkpoint, a savepoint, their ${METADATA_FILE} or a checkpoint directory`,
    );
  }
  if (fs.size(`${dir}/${METADATA_FILE}`) !== undefined) return loadManifest(fs, dir, false);
  let ids = listIds(fs, dir);
  if (ids.length === 0) {
    throw new CheckpointError(
      `${clean} is not a checkpoint, a savepoint or a checkpoint directory (no ${METADATA_FILE}, no chk-* folders)`,
    );
  }
  // A running job deletes a checkpoint once a newer one completed, maybe after this listing:
  // one found gone is passed over and, when none is left, the folder listed again.
  for (let attempt = 1;; attempt++) {
    for (const id of ids.toReversed()) {
      const chk = checkpointPaths(dir).checkpoint(id);
      if (fs.size(`${chk}/${METADATA_FILE}`) === undefined) continue;
      try {
        return loadManifest(fs, chk, false);
      } catch (e) {
        if (fs.size(`${chk}/${METADATA_FILE}`) !== undefined) throw e;
      }
    }
    const again = listIds(fs, dir);
    if (attempt === 5 || again.join() === ids.join()) {
      throw new CheckpointError(
        `${clean} holds no completed checkpoint (no chk-*/${METADATA_FILE})`,
      );
    }
    ids = again;
  }
}
