/**
 * The small synchronous file-system interface the store reads and writes
 * segment files through, and its Deno implementation. Tests inject faults
 * by wrapping it.
 *
 * @module
 */
type NodeFs = typeof import("node:fs");

let loadedNodeFs: NodeFs | undefined;

/**
 * node:fs, loaded on the first segment read rather than at import: every
 * worker of the worker executor imports the store, and loading Deno's node:fs
 * layer costs each of them startup time, though many never read a segment.
 */
function nodeFs(): NodeFs {
  return loadedNodeFs ??= process.getBuiltinModule("node:fs");
}

/** A file being written (segments are written once, then renamed into place). */
export interface SegmentFile {
  /** Appends all of `data`. */
  write(data: Uint8Array): void;
  /** Flushes the file's data to stable storage. */
  sync(): void;
  /**
   * As `sync`, without blocking the calling thread (the fsync runs on
   * another thread). Optional: callers fall back to `sync`.
   */
  syncAsync?(): Promise<void>;
  /** Closes the file. */
  close(): void;
}

/**
 * Synchronous file operations on segment files. Paths are plain strings
 * (`dir + "/" + name`).
 *
 * @example Wrapping the Deno implementation to fail writes
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs, type SegmentFs } from "./segment_fs.ts";
 * const real = new DenoSegmentFs();
 * const failing: SegmentFs = {
 *   readAt: (p, o, d) => real.readAt(p, o, d),
 *   size: (p) => real.size(p),
 *   create: () => { throw new Error("disk full"); },
 *   rename: (a, b) => real.rename(a, b),
 *   remove: (p) => real.remove(p),
 *   mkdirp: (p) => real.mkdirp(p),
 * };
 * assert.throws(() => failing.create("/tmp/any-segment"), /disk full/);
 * ```
 */
export interface SegmentFs {
  /** Reads up to `dest.length` bytes at `offset`; returns how many were read (short at EOF). */
  readAt(path: string, offset: number, dest: Uint8Array): number;
  /** The file's size in bytes, or `undefined` when it does not exist. */
  size(path: string): number | undefined;
  /** Creates (truncates) a file for writing. */
  create(path: string): SegmentFile;
  /** Atomically renames `from` to `to`. */
  rename(from: string, to: string): void;
  /** Removes a file (no error when it is already gone). */
  remove(path: string): void;
  /** Creates a directory and its parents. */
  mkdirp(path: string): void;
}

/**
 * Writes `data` into `tmp`, syncs it and renames it to `path`, so `path` appears whole or not at
 * all. On failure `tmp` is removed: a part written to a full disk would hold its space, in
 * folders (a savepoint's, `shared/` beside other threads) that nothing else sweeps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs, writeThroughTemp } from "./segment_fs.ts";
 * const dir = Deno.makeTempDirSync();
 * writeThroughTemp(new DenoSegmentFs(), `${dir}/.a.tmp`, `${dir}/a`, new Uint8Array([7]));
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a"]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeThroughTemp(fs: SegmentFs, tmp: string, path: string, data: Uint8Array): void {
  const f = fs.create(tmp);
  try {
    try {
      f.write(data);
      f.sync();
    } finally {
      f.close();
    }
    fs.rename(tmp, path);
  } catch (e) {
    try {
      fs.remove(tmp);
    } catch { /* the write's error is the one to report */ }
    throw e;
  }
}

/**
 * {@linkcode SegmentFs} on Deno's synchronous file API. Open read handles are
 * cached per path (segment files never change once written).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs } from "./segment_fs.ts";
 * const fs = new DenoSegmentFs();
 * const dir = Deno.makeTempDirSync();
 * const f = fs.create(`${dir}/a`);
 * f.write(new Uint8Array([1, 2, 3]));
 * f.close();
 * const buf = new Uint8Array(2);
 * assert.ok(fs.readAt(`${dir}/a`, 1, buf) === 2 && buf[1] === 3);
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class DenoSegmentFs implements SegmentFs {
  // File descriptors of node:fs: its positioned readSync is one pread, where
  // Deno.FsFile needs a seek and a read (two ops, each a call into the runtime).
  #open = new Map<string, number>();

  /**
   * The cached descriptors of `fs`: its own, or those of the file system it
   * was made from with `Object.create(real)` (how tests and users wrap one
   * to observe or fail some calls), which has no private fields itself.
   */
  static #fds(fs: object): Map<string, number> {
    let o: object | null = fs;
    while (o !== null && !(#open in o)) o = Object.getPrototypeOf(o);
    if (o === null) throw new TypeError("not a DenoSegmentFs or an object made from one");
    return (o as DenoSegmentFs).#open;
  }

  /** Reads at an offset (pread) through a cached read descriptor. */
  readAt(path: string, offset: number, dest: Uint8Array): number {
    const fds = DenoSegmentFs.#fds(this);
    const fs = nodeFs();
    let fd = fds.get(path);
    if (fd === undefined) {
      fd = fs.openSync(path, "r");
      fds.set(path, fd);
    }
    let n = 0;
    while (n < dest.length) {
      const r = fs.readSync(fd, dest, n, dest.length - n, offset + n);
      if (r === 0) break;
      n += r;
    }
    return n;
  }

  /** File size, or undefined when missing. */
  size(path: string): number | undefined {
    try {
      return Deno.statSync(path).size;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /** Creates a file for writing. */
  create(path: string): SegmentFile {
    const f = Deno.openSync(path, { write: true, create: true, truncate: true });
    return {
      write(data: Uint8Array): void {
        let n = 0;
        while (n < data.length) n += f.writeSync(n === 0 ? data : data.subarray(n));
      },
      sync(): void {
        f.syncDataSync();
      },
      // Deno runs asynchronous file operations on its blocking-I/O threads.
      syncAsync(): Promise<void> {
        return f.syncData();
      },
      close(): void {
        f.close();
      },
    };
  }

  /** Renames atomically. */
  rename(from: string, to: string): void {
    Deno.renameSync(from, to);
  }

  /** Removes a file and drops its cached handle. */
  remove(path: string): void {
    this.forget(path);
    try {
      Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** Creates a directory tree. */
  mkdirp(path: string): void {
    // A folder that exists needs no write permission: a reader of a checkpoint (the CLI) may
    // open a store where it has read access only.
    try {
      if (Deno.statSync(path).isDirectory) return;
    } catch {
      // Absent (or not readable): make it, or let mkdir name the problem.
    }
    Deno.mkdirSync(path, { recursive: true });
  }

  /** Closes the cached read handle of one file. */
  forget(path: string): void {
    const fds = DenoSegmentFs.#fds(this);
    const fd = fds.get(path);
    if (fd !== undefined) {
      nodeFs().closeSync(fd);
      fds.delete(path);
    }
  }

  /** Closes every cached read handle. */
  close(): void {
    const fds = DenoSegmentFs.#fds(this);
    for (const fd of fds.values()) nodeFs().closeSync(fd);
    fds.clear();
  }
}
