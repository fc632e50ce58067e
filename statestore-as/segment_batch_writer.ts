/**
 * {@linkcode writeSegmentBatchAsync}: a batch sorted, formatted and (through
 * the default file system) written on a helper thread (the process's helper
 * pool, `_helper_pool.ts`, at low priority).
 *
 * @module
 */
import { StateError } from "../core/errors.ts";
import { writeAtomically, writeSegmentBatch } from "./lsm_store.ts";
import { SegmentBatch } from "./segment_batch.ts";
import { WASM_SORT_MAX_BYTES } from "./_batch_entries.ts";
import { DenoSegmentFs, type SegmentFs } from "./segment_fs.ts";
import type { SegmentInfo } from "./lsm_store.ts";
import type { SortReply, SortRequest } from "./_segment_batch_worker.ts";
import { Spare } from "./_spare.ts";
import { type HelperThreads, leaseHelperPool } from "./_helper_pool.ts";

const SORT_MODULE = new URL("./_segment_batch_worker.ts", import.meta.url);

/**
 * Whether `fs` writes files exactly as {@linkcode DenoSegmentFs} does: that
 * class or a subclass, with none of the methods a write uses replaced (a
 * file system that injects faults replaces some). Then a worker may write a
 * file itself.
 */
function writesLikeDenoFs(fs: SegmentFs): boolean {
  const p = DenoSegmentFs.prototype;
  return fs instanceof DenoSegmentFs && fs.create === p.create && fs.rename === p.rename &&
    fs.remove === p.remove;
}

/** How long a sorted batch's buffer waits for the next batch (snapshots a second or two apart). */
const SPARE_MS = 3000;

/** Options of {@linkcode writeSegmentBatchAsync}. */
export interface WriteSegmentBatchOptions {
  /** Batches of fewer entries are written on the calling thread (a round trip costs more). Default 20,000. */
  offThreadFrom?: number;
}

/**
 * Writes the entries of `batch`, in any order, as one segment file at
 * `path`, like {@linkcode writeSegmentBatch}, with the sort and the block
 * formatting on a worker thread. With a file system that writes as
 * {@linkcode DenoSegmentFs} does, the worker also writes and syncs the
 * temporary file, which the calling thread renames; with any other, the
 * calling thread writes the file's bytes through `fs` (temporary name, sync,
 * rename). The batch is consumed
 * (its buffer moves to the worker). The heap state backend's snapshots use
 * it so that a snapshot of millions of entries does not stall the job.
 *
 * Each call holds the helper pool until it is done. Where no helper thread
 * can start, the batch is written on the calling thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs, readSegment, SegmentBatch, writeSegmentBatchAsync } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const fs = new DenoSegmentFs();
 * const batch = new SegmentBatch();
 * batch.put(new Uint8Array([2]), new Uint8Array([20]));
 * batch.put(new Uint8Array([1]), new Uint8Array([10]));
 * const info = await writeSegmentBatchAsync(fs, `${dir}/a.seg`, batch, { offThreadFrom: 0 });
 * assert.ok(info.entries === 2);
 * assert.deepEqual([...readSegment(fs, `${dir}/a.seg`)].map(([k]) => k[0]), [1, 2]);
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export async function writeSegmentBatchAsync(
  fs: SegmentFs,
  path: string,
  batch: SegmentBatch,
  options: WriteSegmentBatchOptions = {},
): Promise<SegmentInfo> {
  const writer = new SegmentBatchWriter(options);
  try {
    return await writer.write(fs, path, batch);
  } finally {
    writer.close();
  }
}

/**
 * {@linkcode writeSegmentBatchAsync} for a series of batches (the heap state
 * backend's snapshots): the writer holds the process's helper pool from the
 * first large batch until {@linkcode SegmentBatchWriter.close}, so its
 * threads (a module load and a wasm compile to start) serve every batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs, SegmentBatch, SegmentBatchWriter } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const fs = new DenoSegmentFs();
 * const writer = new SegmentBatchWriter({ offThreadFrom: 0 });
 * for (const name of ["a", "b"]) {
 *   const batch = new SegmentBatch();
 *   batch.put(new Uint8Array([1]), new Uint8Array([1]));
 *   assert.ok((await writer.write(fs, `${dir}/${name}.seg`, batch)).entries === 1);
 * }
 * writer.close();
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class SegmentBatchWriter {
  #offThreadFrom: number;
  /** The buffer of the last batch the worker sorted (`from`, `length` bytes), for the next batch. */
  #spare = new Spare<{ buffer: ArrayBuffer; from: SegmentBatch; length: number }>(SPARE_MS);
  #pool: HelperThreads | undefined;
  #noThreads = false;
  /** Aborts the batches being sorted. */
  #sorting = new AbortController();

  /** A writer; `options.offThreadFrom` as for {@linkcode writeSegmentBatchAsync}. */
  constructor(options: WriteSegmentBatchOptions = {}) {
    this.#offThreadFrom = options.offThreadFrom ?? 20_000;
  }

  /**
   * An empty batch of at least `capacity` bytes: in the buffer of a batch
   * this writer sorted before when it is large enough (already mapped).
   */
  batch(capacity: number): SegmentBatch {
    const spare = this.#spare.peek();
    if (spare === undefined || spare.buffer.byteLength < capacity) {
      return new SegmentBatch(capacity);
    }
    this.#spare.clear();
    return new SegmentBatch(spare.buffer);
  }

  /**
   * An empty batch in the buffer of `previous`, a batch this writer sorted
   * last, with its bytes still there (see {@linkcode SegmentBatch.addKept});
   * undefined when that buffer is not back (or gone).
   */
  reuse(previous: SegmentBatch): SegmentBatch | undefined {
    const spare = this.#spare.peek();
    if (spare?.from !== previous) return undefined;
    this.#spare.clear();
    return SegmentBatch.reusing(spare.buffer, spare.length);
  }

  /**
   * Writes `batch` (consumed) as one segment file at `path`, sorted on the
   * worker. With a file system that writes as {@linkcode DenoSegmentFs} does,
   * the worker writes and syncs the temporary file itself; with any other
   * (tests inject faults there) its bytes come back and go through `fs`.
   */
  async write(fs: SegmentFs, path: string, batch: SegmentBatch): Promise<SegmentInfo> {
    try {
      return await this.#write(fs, path, batch);
    } catch (e) {
      // A failed write's own message (a full disk: "No space left on device
      // (os error 28)") names no file: say which, so the folder is known.
      throw new StateError(
        `writing segment ${path} failed: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  async #write(fs: SegmentFs, path: string, batch: SegmentBatch): Promise<SegmentInfo> {
    // A batch too large for the WebAssembly sort is sorted on this thread.
    if (batch.count < this.#offThreadFrom || batch.byteLength > WASM_SORT_MAX_BYTES) {
      return writeSegmentBatch(fs, path, batch);
    }
    const length = batch.byteLength;
    const name = path.slice(path.lastIndexOf("/") + 1);
    // This thread creates the file and the worker only opens it: once this
    // thread has removed it (a failed or dropped batch), a late worker cannot
    // bring it back.
    const tmp = writesLikeDenoFs(fs) ? `${path.slice(0, -name.length)}.${name}.tmp` : undefined;
    if (tmp !== undefined) fs.create(tmp).close();
    let reply: SortReply | undefined;
    try {
      reply = await this.#sort(batch, tmp);
    } catch (e) {
      if (tmp !== undefined) fs.remove(tmp);
      throw new StateError(e instanceof Error ? e.message : String(e), { cause: e });
    }
    if (reply === undefined) {
      if (tmp !== undefined) fs.remove(tmp);
      return writeSegmentBatch(fs, path, batch);
    }
    this.#spare.put({ buffer: reply.spare, from: batch, length });
    if (tmp !== undefined) {
      fs.rename(tmp, path);
      return { name, size: reply.size, entries: reply.entries };
    }
    const file = reply.file!;
    return writeAtomically(fs, path, (out) => {
      out.write(file);
      return reply.entries;
    });
  }

  /** Lets go of the helper pool; batches still being sorted fail. */
  close(): void {
    this.#sorting.abort(new Error("the segment batch writer was closed"));
    this.#sorting = new AbortController();
    this.#pool?.release();
    this.#pool = undefined;
    this.#spare.clear();
  }

  /** Sorts and formats the batch on a helper thread (writing `tmpPath` when given). Undefined when none starts here. */
  #sort(batch: SegmentBatch, tmpPath: string | undefined): Promise<SortReply> | undefined {
    if (this.#pool === undefined) {
      if (this.#noThreads) return undefined;
      this.#pool = leaseHelperPool();
      // No helper threads here (permissions, platform): write on this thread.
      if (this.#pool === undefined) this.#noThreads = true;
      if (this.#pool === undefined) return undefined;
    }
    const bytes = batch.bytes();
    const request: SortRequest = { bytes, count: batch.count, tmpPath };
    return this.#pool.submit<SortReply>({
      name: `the sort of ${batch.count} entries`,
      module: SORT_MODULE,
      input: request,
      transfer: [bytes.buffer as ArrayBuffer],
      priority: "low",
      signal: this.#sorting.signal,
    });
  }
}
