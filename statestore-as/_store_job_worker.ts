/**
 * Worker side of `_store_jobs.ts`: runs one flush or compaction per message
 * and writes the segment file: to `tmpPath` itself (synced and closed; the
 * store renames it), or, without one, as chunks of about 1 MiB streamed
 * back as the engine writes them, so the worker never holds a whole file.
 * Then it replies with the result. Compaction inputs are read directly
 * (segment files never change).
 *
 * @module
 */
import { runStoreJob, type StoreJobResult } from "./lsm_store.ts";
import { type JobEnvelope, JobSignal } from "./_store_jobs.ts";
import { DenoSegmentFs, type SegmentFile } from "./segment_fs.ts";
import { lowerThreadPriority } from "./_thread_priority.ts";
import { openExisting } from "./_open_existing.ts";

/** A message back about job `id`: the next bytes of the file, then the job's result or its error. */
export type StoreJobReply =
  & { id: number }
  & ({ chunk: Uint8Array } | { ok: StoreJobResult } | { error: string });

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<JobEnvelope>) => void) | null;
  postMessage(message: StoreJobReply, transfer: Transferable[]): void;
};

/** The job running now. */
let jobId = 0;

/** The output file: each write (the engine's staging buffer) goes out as a chunk. */
const chunks: SegmentFile = {
  write(data) {
    const chunk = data.slice();
    scope.postMessage({ id: jobId, chunk }, [chunk.buffer]);
  },
  sync() {},
  close() {},
};

/** Reads compaction inputs; handles are dropped after each job (inputs get deleted). */
const fs = new DenoSegmentFs();

/** Whether this worker's priority is set (by its first job: a worker runs one kind). */
let prioritySet = false;

scope.onmessage = ({ data: { id, request: data, signal } }) => {
  jobId = id;
  if (!prioritySet) {
    // Compactions yield the CPU to the job's thread. Flushes do not: a
    // writer that fills memtables faster than they are written waits for
    // the flush (a write stall), so a starved flush would stall the job
    // (RocksDB runs flushes in its high-priority pool for the same reason).
    if (data.kind === "compact") lowerThreadPriority();
    prioritySet = true;
  }
  let reply: StoreJobReply;
  let done: StoreJobResult | undefined;
  const transfer: ArrayBuffer[] = [];
  let file: SegmentFile | undefined;
  try {
    if (data.tmpPath !== undefined) file = openExisting(data.tmpPath);
    const result = runStoreJob(data, fs, file ?? chunks);
    file?.sync();
    file?.close();
    file = undefined;
    if (data.kind === "flush") {
      // Back to the store for its next flush's copy.
      const spare = {
        arena: data.arena.buffer as ArrayBuffer,
        offsets: data.offsets.buffer as ArrayBuffer,
      };
      transfer.push(spare.arena, spare.offsets);
      result.spare = spare;
    }
    reply = { id, ok: result };
    done = result;
  } catch (e) {
    reply = { id, error: e instanceof Error ? e.message : String(e) };
  } finally {
    try {
      file?.close(); // failed: the store removes the file
    } catch { /* already failed */ }
  }
  // The file is complete (or failed): a store waiting for it goes on now.
  JobSignal.set(signal, done);
  scope.postMessage(reply, transfer);
};
