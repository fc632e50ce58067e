/**
 * The file system checkpoints are written through: the segment operations of
 * the state store plus what manifests and folders need. Tests wrap it to
 * inject faults (failed writes, failed fsync, a full disk, slow writes).
 *
 * @module
 */
import { DenoSegmentFs, type SegmentFs, writeThroughTemp } from "../../statestore-as/segment_fs.ts";
import { ConfigError } from "../errors.ts";

/**
 * File operations of the checkpoint layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointFs, DenoCheckpointFs, StreamEnvironment } from "@weir/weir";
 * // Wrap the real file system to observe (or fail) manifest writes.
 * const written: string[] = [];
 * const real = new DenoCheckpointFs();
 * const fs: CheckpointFs = Object.assign(Object.create(real), {
 *   writeFileAtomic(path: string, data: Uint8Array) {
 *     written.push(path);
 *     real.writeFileAtomic(path, data);
 *   },
 * });
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir, fs } });
 * env.fromElements(1, 2).map((n: number) => n);
 * await env.execute();
 * assert.ok(written.some((p) => p.endsWith("_metadata")));
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface CheckpointFs extends SegmentFs {
  /** A whole file, or undefined when it does not exist. */
  readFile(path: string): Uint8Array | undefined;
  /**
   * Writes a file atomically: a temp file in the same folder, fsync, rename,
   * fsync of the folder. Readers see the old file or the new one, never part.
   */
  writeFileAtomic(path: string, data: Uint8Array): void;
  /** Names in a folder (empty when it does not exist). */
  list(dir: string): string[];
  /** Removes a folder and everything in it (no error when gone). */
  removeTree(path: string): void;
  /** Copies a file and fsyncs the copy (savepoints take their own copies of segments). */
  copy(from: string, to: string): void;
  /**
   * fsyncs a folder, so that the files created, renamed or linked into it
   * survive a crash of the machine (their own data needs its own fsync).
   */
  syncDir(path: string): void;
  /**
   * As `syncDir`, without blocking the calling thread. Optional: callers
   * fall back to `syncDir`.
   */
  syncDirAsync?(path: string): Promise<void>;
}

/**
 * {@linkcode CheckpointFs} on Deno's synchronous file API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "@weir/weir";
 * const fs = new DenoCheckpointFs();
 * const dir = Deno.makeTempDirSync();
 * fs.writeFileAtomic(`${dir}/m`, new TextEncoder().encode("{}"));
 * assert.ok(new TextDecoder().decode(fs.readFile(`${dir}/m`)) === "{}");
 * assert.ok(fs.list(dir).join() === "m");
 * fs.removeTree(dir);
 * ```
 */
export class DenoCheckpointFs extends DenoSegmentFs implements CheckpointFs {
  /** Reads a whole file. */
  readFile(path: string): Uint8Array | undefined {
    try {
      return Deno.readFileSync(path);
    } catch (e) {
      // A path through a file (`in.txt/_metadata`) names no file either.
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        return undefined;
      }
      throw e;
    }
  }

  /** Temp file, fsync, rename, fsync of the folder. */
  writeFileAtomic(path: string, data: Uint8Array): void {
    const slash = path.lastIndexOf("/");
    const dir = slash > 0 ? path.slice(0, slash) : ".";
    const tmp = `${dir}/.${path.slice(slash + 1)}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    writeThroughTemp(this, tmp, path, data);
    this.syncDir(dir);
  }

  /** Names in a folder. */
  list(dir: string): string[] {
    try {
      return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  /** Removes a tree. */
  removeTree(path: string): void {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** Copies a file, then fsyncs the copy. */
  copy(from: string, to: string): void {
    Deno.copyFileSync(from, to);
    const f = Deno.openSync(to, { write: true });
    try {
      f.syncSync();
    } finally {
      f.close();
    }
  }

  /** fsync of a folder, on Deno's blocking-I/O threads. */
  async syncDirAsync(path: string): Promise<void> {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { read: true });
    } catch (e) {
      if (cannotSyncFolders(e)) return;
      throw e;
    }
    try {
      await f.sync();
    } catch (e) {
      if (!cannotSyncFolders(e)) throw e;
    } finally {
      f.close();
    }
  }

  /** fsync of a folder. */
  syncDir(path: string): void {
    let f: Deno.FsFile;
    try {
      f = Deno.openSync(path, { read: true });
    } catch (e) {
      if (cannotSyncFolders(e)) return;
      throw e;
    }
    try {
      f.syncSync();
    } catch (e) {
      if (!cannotSyncFolders(e)) throw e;
    } finally {
      f.close();
    }
  }
}

/**
 * Whether an error says this file system does not open or fsync folders (some
 * network and virtual ones): there is nothing more to do there. Any other
 * error (EIO) means the folder's entries may not be durable, and is thrown.
 */
function cannotSyncFolders(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  // NotCapable: Deno's permissions do not cover the folder (the checkpoint
  // directory's parent, typically), so there is nothing this process may sync.
  return e instanceof Deno.errors.NotSupported || e instanceof Deno.errors.PermissionDenied ||
    e instanceof Deno.errors.NotCapable ||
    e instanceof Deno.errors.IsADirectory ||
    (typeof code === "string" && ["EINVAL", "ENOTSUP", "EOPNOTSUPP", "EBADF"].includes(code));
}

/**
 * Makes the folder `path` (and its parents) where a job keeps `what` (its
 * checkpoints, its output), and its `subfolders`: a path that is a file, or
 * one this process may not create or write (permissions, a read-only file
 * system), is a `ConfigError` naming both, not a bare file system error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "../errors.ts";
 * import { DenoCheckpointFs, makeJobFolder } from "./checkpoint_fs.ts";
 * const file = Deno.makeTempFileSync();
 * assert.throws(
 *   () => makeJobFolder(new DenoCheckpointFs(), `${file}/out`, "Output directory"),
 *   (e: unknown) => e instanceof ConfigError && e.message.startsWith(`Output directory ${file}/out cannot be made: `),
 * );
 * Deno.removeSync(file);
 * ```
 */
export function makeJobFolder(
  fs: CheckpointFs,
  path: string,
  what: string,
  subfolders: readonly string[] = [],
): void {
  let made = false;
  try {
    fs.mkdirp(path);
    made = true;
    for (const sub of subfolders) fs.mkdirp(`${path}/${sub}`);
  } catch (e) {
    throw folderError(e, what, path, made ? "cannot be written" : "cannot be made");
  }
}

/**
 * `e`, an error of the file system on the folder `path` where a job keeps
 * `what`, as a `ConfigError` that says what `path` `cannot` and why; any
 * other error as it is. Deno gives an errno without a class of its own (EROFS,
 * ENOSPC) as a bare `Error` with a `code`.
 */
export function folderError(e: unknown, what: string, path: string, cannot: string): unknown {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (
    !(e instanceof Deno.errors.NotADirectory || e instanceof Deno.errors.AlreadyExists ||
      e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.NotCapable || (e instanceof Error && typeof code === "string"))
  ) return e;
  return new ConfigError(`${what} ${path} ${cannot}: ${e.message}`, { cause: e });
}
