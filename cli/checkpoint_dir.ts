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
import { type LoadedManifest, loadManifest, verifyManifest } from "../core/checkpoint/storage.ts";
import { vanishedCheckpoints, vanishedReason } from "../core/checkpoint/history.ts";
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
 * its recorded size and, with `deep`, every segment reads back (checksums).
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
  const problems = verifyManifest(fs, loaded);
  if (deep && problems.length === 0) problems.push(...readBackSegments(fs, loaded));
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
 * Reads every segment of a snapshot back (checking each block's checksum);
 * one problem per segment that does not read, naming it.
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
export function readBackSegments(fs: CheckpointFs, loaded: LoadedManifest): string[] {
  const problems: string[] = [];
  for (const seg of Object.keys(loaded.manifest.segments)) {
    try {
      for (const _ of readSegment(fs, loaded.segmentPath(seg))) { /* reading checks checksums */ }
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
 * not exist.
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
): FoundSnapshot[] {
  const paths = checkpointPaths(root);
  if (!exists(paths.root)) {
    throw new CheckpointError(`Checkpoint directory ${paths.root} does not exist`);
  }
  if (!Deno.statSync(paths.root).isDirectory) {
    throw new CheckpointError(`${paths.root} is a file, not a checkpoint directory`);
  }
  const out: FoundSnapshot[] = [];
  const ids = fs.list(paths.root).map(parseCheckpointDirName).filter((i) => i !== undefined);
  const completed = ids.filter((id) => fs.size(paths.metadata(id)) !== undefined);
  // Completed once (the history says so) but without a manifest now: damaged, as restore sees it.
  const vanished = new Set(vanishedCheckpoints(paths.root, completed));
  for (const id of [...new Set([...ids, ...vanished])].sort((a, b) => a - b)) {
    if (vanished.has(id)) {
      const why = vanishedReason(paths.root, id);
      out.push({
        kind: "checkpoint",
        dir: paths.checkpoint(id),
        name: `chk-${id}`,
        id,
        loaded: undefined,
        status: `damaged: ${why}`,
        problems: [why],
        vanished: true,
      });
    } else {
      out.push(examineSnapshot(fs, paths.checkpoint(id), `chk-${id}`, "checkpoint", id, deep));
    }
  }
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
  if (fs.size(`${dir}/${METADATA_FILE}`) !== undefined) return loadManifest(fs, dir, false);
  const ids = fs.list(dir).map(parseCheckpointDirName).filter((i) => i !== undefined)
    .sort((a, b) => b - a);
  if (ids.length === 0) {
    throw new CheckpointError(
      `${clean} is not a checkpoint, a savepoint or a checkpoint directory (no ${METADATA_FILE}, no chk-* folders)`,
    );
  }
  for (const id of ids) {
    const chk = checkpointPaths(dir).checkpoint(id);
    if (fs.size(`${chk}/${METADATA_FILE}`) !== undefined) return loadManifest(fs, chk, false);
  }
  throw new CheckpointError(`${clean} holds no completed checkpoint (no chk-*/${METADATA_FILE})`);
}
