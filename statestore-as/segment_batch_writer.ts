/**
 * {@linkcode writeSegmentBatchAsync}: a batch sorted, formatted and (through
 * the default file system) written on a worker thread.
 *
 * @module
 */
import { StateError } from "../core/errors.ts";
import { writeAtomically, writeSegmentBatch } from "./lsm_store.ts";
import { SegmentBatch } from "./segment_batch.ts";
import { DenoSegmentFs, type SegmentFs } from "./segment_fs.ts";
import type { SegmentInfo } from "./lsm_store.ts";
import type { SortReply, SortRequest } from "./_segment_batch_worker.ts";
import { Spare } from "./_spare.ts";
import { startBackgroundWorker } from "./_background_worker.ts";

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
 * Each call runs its own worker, terminated when it is done. Where no
 * worker can start, the batch is written on the calling thread.
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
 * backend's snapshots): one worker serves them all, started on the first
 * large batch and stopped by {@linkcode SegmentBatchWriter.close}. Starting
 * a worker costs the calling thread a module load and the worker a wasm
 * compile, per batch when each has its own. Batches are sorted in the order
 * they are written.
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
  #worker: Worker | undefined;
  #noWorkers = false;
  #nextId = 1;
  #pending = new Map<number, (reply: SortReply) => void>();

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
    if (batch.count < this.#offThreadFrom) return writeSegmentBatch(fs, path, batch);
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
      if (reply !== undefined && "error" in reply) throw new StateError(reply.error);
    } catch (e) {
      if (tmp !== undefined) fs.remove(tmp);
      throw e;
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

  /** Stops the worker; batches still being sorted fail. */
  close(): void {
    this.#drop("the segment batch writer was closed");
    this.#spare.clear();
  }

  #drop(why: string): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [id, resolve] of pending) resolve({ id, error: why });
  }

  /** Sorts and formats the batch on the worker (writing `tmpPath` when given). Undefined when no worker starts here. */
  #sort(batch: SegmentBatch, tmpPath: string | undefined): Promise<SortReply> | undefined {
    if (this.#worker === undefined) {
      if (this.#noWorkers) return undefined;
      try {
        this.#worker = startBackgroundWorker(
          new URL("./_segment_batch_worker.ts", import.meta.url),
        );
      } catch {
        this.#noWorkers = true; // no worker here (permissions, platform): write on this thread
        return undefined;
      }
      this.#worker.onmessage = (e: MessageEvent<SortReply>) => {
        const resolve = this.#pending.get(e.data.id);
        this.#pending.delete(e.data.id);
        resolve?.(e.data);
      };
      this.#worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#drop(`the segment sort worker failed: ${e.message}`);
      };
    }
    const bytes = batch.bytes();
    const request: SortRequest = { id: this.#nextId++, bytes, count: batch.count, tmpPath };
    const worker = this.#worker;
    return new Promise<SortReply>((resolve) => {
      this.#pending.set(request.id, resolve);
      worker.postMessage(request, [bytes.buffer as ArrayBuffer]);
    });
  }
}
