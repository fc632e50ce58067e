/**
 * {@linkcode writeSegmentBatchAsync}: a batch sorted and formatted on a
 * worker thread, written by the caller.
 *
 * @module
 */
import { StateError } from "../core/errors.ts";
import { writeAtomically, writeSegmentBatch } from "./lsm_store.ts";
import type { SegmentBatch } from "./segment_batch.ts";
import type { SegmentFs } from "./segment_fs.ts";
import type { SegmentInfo } from "./lsm_store.ts";
import type { SortReply, SortRequest } from "./_segment_batch_worker.ts";

/** Options of {@linkcode writeSegmentBatchAsync}. */
export interface WriteSegmentBatchOptions {
  /** Batches of fewer entries are written on the calling thread (a round trip costs more). Default 20,000. */
  offThreadFrom?: number;
}

/**
 * Writes the entries of `batch`, in any order, as one segment file at
 * `path`, like {@linkcode writeSegmentBatch}, with the sort and the block
 * formatting on a worker thread: the calling thread only copies the file's
 * bytes through `fs` (temporary name, sync, rename). The batch is consumed
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
  if (batch.count < (options.offThreadFrom ?? 20_000)) return writeSegmentBatch(fs, path, batch);
  const reply = await sortOffThread(batch);
  if (reply === undefined) return writeSegmentBatch(fs, path, batch);
  if ("error" in reply) throw new StateError(reply.error);
  return writeAtomically(fs, path, (out) => {
    out.write(reply.file);
    return reply.entries;
  });
}

/**
 * Sorts and formats the batch on a worker started for it and terminated
 * when it answers: an idle worker would keep the process alive, and
 * starting one costs the calling thread ~15 ms (measured with 1M-entry
 * batches, which take the worker ~0.5 s). Undefined when no worker starts.
 */
function sortOffThread(batch: SegmentBatch): Promise<SortReply> | undefined {
  let worker: Worker;
  try {
    worker = new Worker(new URL("./_segment_batch_worker.ts", import.meta.url).href, {
      type: "module",
    });
  } catch {
    return undefined; // no worker here (permissions, platform): write on this thread
  }
  const bytes = batch.bytes();
  const request: SortRequest = { id: 1, bytes, count: batch.count };
  return new Promise<SortReply>((resolve) => {
    worker.onmessage = (e: MessageEvent<SortReply>) => resolve(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      resolve({ id: 1, error: `the segment sort worker failed: ${e.message}` });
    };
    worker.postMessage(request, [bytes.buffer as ArrayBuffer]);
  }).finally(() => worker.terminate());
}
