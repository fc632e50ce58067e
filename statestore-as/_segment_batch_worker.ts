/**
 * Worker side of {@linkcode writeSegmentBatchAsync}: sorts a batch and
 * formats it as a segment file in memory, then hands the file's bytes back.
 * It does no file I/O: the caller writes the bytes through its own
 * `SegmentFs`.
 *
 * @module
 */
import { writeSegmentBatch } from "./lsm_store.ts";
import { SegmentBatch } from "./segment_batch.ts";
import type { SegmentFile, SegmentFs } from "./segment_fs.ts";
import { lowerThreadPriority } from "./_thread_priority.ts";

lowerThreadPriority();

/** A request: the packed entries of a batch. */
export interface SortRequest {
  id: number;
  bytes: Uint8Array;
  count: number;
}

/** A reply: the segment file's bytes (and the request's buffer, for reuse), or why there are none. */
export type SortReply =
  | { id: number; file: Uint8Array; entries: number; spare: ArrayBuffer }
  | { id: number; error: string };

/** A file system of one file, in memory. */
class MemoryFile implements SegmentFs, SegmentFile {
  #chunks: Uint8Array[] = [];
  #length = 0;
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
  write(data: Uint8Array): void {
    this.#chunks.push(data.slice());
    this.#length += data.length;
  }
  sync(): void {}
  close(): void {}
  readAt(): number {
    return 0;
  }
  size(): number {
    return this.#length;
  }
  create(): SegmentFile {
    return this;
  }
  rename(): void {}
  remove(): void {}
  mkdirp(): void {}
}

/** The worker's global scope, as far as it is used here. */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SortRequest>) => void) | null;
  postMessage(message: SortReply, transfer: Transferable[]): void;
};

scope.onmessage = ({ data: { id, bytes, count } }) => {
  let reply: SortReply;
  const file = new MemoryFile();
  try {
    const info = writeSegmentBatch(file, "batch.seg", SegmentBatch.fromBytes(bytes, count));
    reply = { id, file: file.bytes(), entries: info.entries, spare: bytes.buffer as ArrayBuffer };
  } catch (e) {
    reply = { id, error: e instanceof Error ? e.message : String(e) };
  }
  scope.postMessage(reply, "file" in reply ? [reply.file.buffer as ArrayBuffer, reply.spare] : []);
};
