/**
 * Worker side of {@linkcode writeSegmentBatchAsync}: sorts a batch and
 * formats it as a segment file, either into the temporary file the caller
 * created (written and synced here; the caller renames it) or in memory,
 * handing the file's bytes back for the caller's own `SegmentFs`.
 *
 * @module
 */
import { writeSegmentBatch } from "./lsm_store.ts";
import { SegmentBatch } from "./segment_batch.ts";
import type { SegmentFile, SegmentFs } from "./segment_fs.ts";
import { lowerThreadPriority } from "./_thread_priority.ts";

lowerThreadPriority();

/** A request: the packed entries of a batch, and the file to write them to, if any. */
export interface SortRequest {
  id: number;
  bytes: Uint8Array;
  count: number;
  /** A file the caller created: written and synced here. Without it, the file's bytes go back. */
  tmpPath?: string | undefined;
}

/**
 * A reply: the segment file's size and bytes (unless written to `tmpPath`),
 * the request's buffer (for reuse); or why there are none.
 */
export type SortReply =
  | { id: number; file?: Uint8Array; size: number; entries: number; spare: ArrayBuffer }
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

/** A file system of one existing file (the caller's temporary file): opened, never created. */
class ExistingFile implements SegmentFs, SegmentFile {
  #file: Deno.FsFile;
  #length = 0;
  constructor(path: string) {
    this.#file = Deno.openSync(path, { write: true });
  }
  write(data: Uint8Array): void {
    let at = 0;
    while (at < data.length) at += this.#file.writeSync(data.subarray(at));
    this.#length += data.length;
  }
  sync(): void {
    this.#file.syncDataSync();
  }
  close(): void {
    this.#file.close();
  }
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

scope.onmessage = ({ data: { id, bytes, count, tmpPath } }) => {
  let reply: SortReply;
  let file: ExistingFile | undefined;
  try {
    const batch = SegmentBatch.fromBytes(bytes, count);
    const spare = bytes.buffer as ArrayBuffer;
    if (tmpPath !== undefined) {
      file = new ExistingFile(tmpPath);
      const info = writeSegmentBatch(file, "batch.seg", batch); // syncs and closes it
      file = undefined;
      reply = { id, size: info.size, entries: info.entries, spare };
    } else {
      const memory = new MemoryFile();
      const info = writeSegmentBatch(memory, "batch.seg", batch);
      reply = { id, file: memory.bytes(), size: info.size, entries: info.entries, spare };
    }
  } catch (e) {
    reply = { id, error: e instanceof Error ? e.message : String(e) };
    try {
      file?.close(); // the caller removes the file
    } catch { /* already closed */ }
  }
  const transfer = "spare" in reply
    ? [reply.spare, ...(reply.file ? [reply.file.buffer as ArrayBuffer] : [])]
    : [];
  scope.postMessage(reply, transfer);
};
