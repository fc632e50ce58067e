/**
 * The task module of `_store_jobs.ts` (run on a helper pool thread,
 * `_helper_pool.ts`): runs one flush or compaction and writes the segment
 * file: to `tmpPath` itself (synced and closed; the store renames it), or,
 * without one, as chunks of about 1 MiB streamed back as the engine writes
 * them (progress messages), so the thread never holds a whole file. Then it
 * returns the result. Compaction inputs are read directly (segment files
 * never change).
 *
 * @module
 */
import { runStoreJob, type StoreJobResult } from "./lsm_store.ts";
import { type JobEnvelope, JobSignal } from "./_store_jobs.ts";
import { DenoSegmentFs, type SegmentFile } from "./segment_fs.ts";
import type { HelperTaskOutput } from "./_helper_tasks.ts";
import { openExisting } from "./_open_existing.ts";

/** Reads compaction inputs; handles are dropped after each job (inputs get deleted). */
const fs = new DenoSegmentFs();

/**
 * Runs the job of `envelope`; each chunk of the file (without `tmpPath`)
 * goes to `progress` as a Uint8Array. Throws what failed.
 */
export function runTask(
  input: unknown,
  progress: (chunk: Uint8Array, transfer: Transferable[]) => void,
): HelperTaskOutput {
  const { request: data, signal } = input as JobEnvelope;
  const state = new Int32Array(signal, 0, 1);
  Atomics.store(state, 0, JobSignal.RUNNING);
  Atomics.notify(state, 0); // a store waiting for the job to start waits for its end now
  const chunks: SegmentFile = {
    write(bytes) {
      const chunk = bytes.slice();
      progress(chunk, [chunk.buffer]);
    },
    sync() {},
    close() {},
  };
  let done: StoreJobResult | undefined;
  let file: SegmentFile | undefined;
  try {
    if (data.tmpPath !== undefined) file = openExisting(data.tmpPath);
    const result = runStoreJob(data, fs, file ?? chunks);
    file?.sync();
    file?.close();
    file = undefined;
    const transfer: ArrayBuffer[] = [];
    if (data.kind === "flush") {
      // Back to the store for its next flush's copy.
      const spare = {
        arena: data.arena.buffer as ArrayBuffer,
        offsets: data.offsets.buffer as ArrayBuffer,
      };
      transfer.push(spare.arena, spare.offsets);
      result.spare = spare;
    }
    done = result;
    return { value: result, transfer };
  } finally {
    try {
      file?.close(); // failed: the store removes the file
    } catch { /* already failed */ }
    // The file is complete (or failed): a store waiting for it goes on now.
    JobSignal.set(signal, done);
  }
}
