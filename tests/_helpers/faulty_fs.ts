/**
 * A {@linkcode CheckpointFs} that injects faults: the Nth create or write
 * fails, fsync fails, the disk fills up after N bytes (an ENOSPC-like error
 * after a short write, as a real disk), writes are slow. Faults apply to
 * paths matching `only` (every path by default), count from when they are
 * armed, and stay until {@linkcode FaultyFs.heal}. It records the calls that
 * decide durability (`create`, file `sync`, `rename`, `syncDir`, `copy`) in
 * order, so tests check what is fsynced before what (an asynchronous fsync
 * when it completes).
 *
 * It is deliberately not a `DenoSegmentFs`: the LSM backend hard-links
 * segments only through a `DenoSegmentFs`, so with this file system every
 * checkpoint byte goes through `create`/`write` here. Manifests go through
 * the real `DenoCheckpointFs.writeFileAtomic` logic, bound to this object's
 * faulty `create`/`rename`/`remove`.
 *
 * @module
 */
import { type CheckpointFs, DenoCheckpointFs } from "../../core/checkpoint/checkpoint_fs.ts";
import type { SegmentFile } from "../../statestore-as/segment_fs.ts";

/** An error as a full disk raises it. */
export class NoSpaceError extends Error {
  /** `"ENOSPC"`. */
  readonly code = "ENOSPC";
}

/** An injected I/O failure. */
export class InjectedFault extends Error {}

/** The faults armed. */
export interface Faults {
  /** The Nth `create` from now (1-based) fails, and the `count - 1` after it. */
  failCreate?: { nth: number; count?: number };
  /** The Nth `write` from now (1-based) fails, and the `count - 1` after it. */
  failWrite?: { nth: number; count?: number };
  /** Every fsync (of files and of folders) fails. */
  failSync?: boolean;
  /** Writes beyond this many bytes from now fail with ENOSPC (the part that fits is written). */
  diskFullAfterBytes?: number;
  /** Each write sleeps this long (synchronously, as a slow disk blocks). */
  writeDelayMs?: number;
  /** Only paths matching this count and fail. */
  only?: RegExp;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The fault-injecting file system. */
export class FaultyFs implements CheckpointFs {
  readonly #inner = new DenoCheckpointFs();
  #faults: Faults = {};
  #creates = 0;
  #writes = 0;
  #bytes = 0;
  /** Faults thrown so far. */
  injected = 0;
  /** Every path created (temp files included), in order. */
  readonly created: string[] = [];
  /**
   * The calls that decide durability, in order: `create P`, `sync P` (a
   * file's fsync), `rename A -> B`, `syncDir P`, `copy A -> B`.
   */
  readonly calls: string[] = [];

  /** Arms `faults` (replacing those armed); counters restart. */
  arm(faults: Faults): void {
    this.#faults = faults;
    this.#creates = 0;
    this.#writes = 0;
    this.#bytes = 0;
  }

  /** Clears every fault. */
  heal(): void {
    this.arm({});
  }

  #applies(path: string): boolean {
    return this.#faults.only === undefined || this.#faults.only.test(path);
  }

  #hit(spec: { nth: number; count?: number } | undefined, n: number): boolean {
    return spec !== undefined && n >= spec.nth && n < spec.nth + (spec.count ?? 1);
  }

  /** Reads at an offset. */
  readAt(path: string, offset: number, dest: Uint8Array): number {
    return this.#inner.readAt(path, offset, dest);
  }

  /** A file's size. */
  size(path: string): number | undefined {
    return this.#inner.size(path);
  }

  /** Creates a file whose writes and fsync are subject to the faults. */
  create(path: string): SegmentFile {
    this.created.push(path);
    this.calls.push(`create ${path}`);
    const faulty = this.#applies(path);
    if (faulty && this.#hit(this.#faults.failCreate, ++this.#creates)) {
      this.injected++;
      throw new InjectedFault(`injected: cannot create ${path}`);
    }
    const f = this.#inner.create(path);
    return {
      write: (data) => {
        if (!faulty) return f.write(data);
        const delay = this.#faults.writeDelayMs;
        if (delay) Atomics.wait(sleeper, 0, 0, delay);
        if (this.#hit(this.#faults.failWrite, ++this.#writes)) {
          this.injected++;
          throw new InjectedFault(`injected: write to ${path} failed`);
        }
        const limit = this.#faults.diskFullAfterBytes;
        if (limit !== undefined && this.#bytes + data.length > limit) {
          const fits = Math.max(0, limit - this.#bytes);
          if (fits > 0) f.write(data.subarray(0, fits));
          this.#bytes += fits;
          this.injected++;
          throw new NoSpaceError(`ENOSPC: no space left on device, write ${path}`);
        }
        this.#bytes += data.length;
        f.write(data);
      },
      sync: () => {
        if (faulty && this.#faults.failSync) {
          this.injected++;
          throw new InjectedFault(`injected: fsync of ${path} failed`);
        }
        f.sync();
        this.calls.push(`sync ${path}`);
      },
      // Recorded as `sync P` too: what counts is the order of completed fsyncs.
      syncAsync: async () => {
        if (faulty && this.#faults.failSync) {
          this.injected++;
          throw new InjectedFault(`injected: fsync of ${path} failed`);
        }
        await f.syncAsync!();
        this.calls.push(`sync ${path}`);
      },
      close: () => f.close(),
    };
  }

  /** Renames. */
  rename(from: string, to: string): void {
    this.#inner.rename(from, to);
    this.calls.push(`rename ${from} -> ${to}`);
  }

  /** fsyncs a folder (subject to `failSync`). */
  syncDir(path: string): void {
    if (this.#applies(path) && this.#faults.failSync) {
      this.injected++;
      throw new InjectedFault(`injected: fsync of folder ${path} failed`);
    }
    this.#inner.syncDir(path);
    this.calls.push(`syncDir ${path}`);
  }

  /** fsyncs a folder off the calling thread (subject to `failSync`). */
  async syncDirAsync(path: string): Promise<void> {
    if (this.#applies(path) && this.#faults.failSync) {
      this.injected++;
      throw new InjectedFault(`injected: fsync of folder ${path} failed`);
    }
    await this.#inner.syncDirAsync(path);
    this.calls.push(`syncDir ${path}`);
  }

  /** Removes a file. */
  remove(path: string): void {
    this.#inner.remove(path);
  }

  /** Creates folders. */
  mkdirp(path: string): void {
    this.#inner.mkdirp(path);
  }

  /** Reads a whole file. */
  readFile(path: string): Uint8Array | undefined {
    return this.#inner.readFile(path);
  }

  /** The real atomic write (temp file, fsync, rename), through this object's faulty operations. */
  writeFileAtomic(path: string, data: Uint8Array): void {
    DenoCheckpointFs.prototype.writeFileAtomic.call(this, path, data);
  }

  /** Lists a folder. */
  list(dir: string): string[] {
    return this.#inner.list(dir);
  }

  /** Removes a tree. */
  removeTree(path: string): void {
    this.#inner.removeTree(path);
  }

  /** Copies through `create`/`write`, so savepoint copies meet the faults too. */
  copy(from: string, to: string): void {
    this.calls.push(`copy ${from} -> ${to}`);
    const data = Deno.readFileSync(from);
    const out = this.create(to);
    try {
      out.write(data);
      out.sync();
    } finally {
      out.close();
    }
  }

  /** Closes cached read handles. */
  close(): void {
    this.#inner.close();
  }
}
