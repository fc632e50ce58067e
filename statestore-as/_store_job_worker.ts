/**
 * Worker side of `_store_jobs.ts`: runs one flush or compaction per message
 * on a fresh engine and streams the segment file's bytes back in chunks of
 * about 1 MiB as the engine writes them (so the worker never holds a whole
 * file), then the result. It reads the compaction's input files (immutable)
 * but writes nothing.
 *
 * @module
 */
import { runStoreJob, type StoreJobRequest, type StoreJobResult } from "./lsm_store.ts";
import { DenoSegmentFs, type SegmentFile } from "./segment_fs.ts";
import { lowerThreadPriority } from "./_thread_priority.ts";

lowerThreadPriority();

/** A message back: the next bytes of the file, then the job's result or its error. */
export type StoreJobReply =
  | { chunk: Uint8Array }
  | { ok: StoreJobResult }
  | { error: string };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<StoreJobRequest>) => void) | null;
  postMessage(message: StoreJobReply, transfer: Transferable[]): void;
};

/** The output file: each write (the engine's staging buffer) goes out as a chunk. */
const chunks: SegmentFile = {
  write(data) {
    const chunk = data.slice();
    scope.postMessage({ chunk }, [chunk.buffer]);
  },
  sync() {},
  close() {},
};

/** Reads compaction inputs; handles are dropped after each job (inputs get deleted). */
const fs = new DenoSegmentFs();

scope.onmessage = ({ data }) => {
  let reply: StoreJobReply;
  try {
    reply = { ok: runStoreJob(data, fs, chunks) };
  } catch (e) {
    reply = { error: e instanceof Error ? e.message : String(e) };
  }
  scope.postMessage(reply, []);
};
