/**
 * The task module of {@linkcode writeSegmentBatchAsync} (run on a helper
 * pool thread, `_helper_pool.ts`, at low priority): sorts a batch and
 * formats it as a segment file, either into the temporary file the caller
 * created (written and synced here; the caller renames it) or in memory,
 * handing the file's bytes back for the caller's own `SegmentFs`.
 *
 * @module
 */
import { writeSegmentBatch } from "./lsm_store.ts";
import { SegmentBatch } from "./segment_batch.ts";
import type { SegmentFile, SegmentFs } from "./segment_fs.ts";
import { openExisting } from "./_open_existing.ts";
import type { HelperTaskOutput } from "./_helper_tasks.ts";

/** A request: the packed entries of a batch, and the file to write them to, if any. */
export interface SortRequest {
  bytes: Uint8Array;
  count: number;
  /** A file the caller created: written and synced here. Without it, the file's bytes go back. */
  tmpPath?: string | undefined;
}

/**
 * A reply: the segment file's size and bytes (unless written to `tmpPath`),
 * the request's buffer (for reuse).
 */
export interface SortReply {
  file?: Uint8Array;
  size: number;
  entries: number;
  spare: ArrayBuffer;
}

/** A file system of the one file a segment write goes to: `create` returns it, the rest does nothing. */
abstract class OneFile implements SegmentFs, SegmentFile {
  /** Bytes written. */
  length = 0;
  abstract write(data: Uint8Array): void;
  sync(): void {}
  close(): void {}
  readAt(): number {
    return 0;
  }
  size(): number {
    return this.length;
  }
  create(): SegmentFile {
    return this;
  }
  rename(): void {}
  remove(): void {}
  mkdirp(): void {}
}

/** The file in memory. */
class MemoryFile extends OneFile {
  #chunks: Uint8Array[] = [];
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
  write(data: Uint8Array): void {
    this.#chunks.push(data.slice());
    this.length += data.length;
  }
}

/** The caller's temporary file (opened, never created). */
class ExistingFile extends OneFile {
  #file: SegmentFile;
  constructor(path: string) {
    super();
    this.#file = openExisting(path);
  }
  write(data: Uint8Array): void {
    this.#file.write(data);
    this.length += data.length;
  }
  override sync(): void {
    this.#file.sync();
  }
  override close(): void {
    this.#file.close();
  }
}

/** Sorts and writes the batch of `input` (a {@linkcode SortRequest}); throws what failed. */
export function runTask(input: unknown): HelperTaskOutput {
  const { bytes, count, tmpPath } = input as SortRequest;
  let reply: SortReply;
  let file: ExistingFile | undefined;
  try {
    const batch = SegmentBatch.fromBytes(bytes, count);
    const spare = bytes.buffer as ArrayBuffer;
    if (tmpPath !== undefined) {
      file = new ExistingFile(tmpPath);
      const info = writeSegmentBatch(file, "batch.seg", batch); // syncs and closes it
      file = undefined;
      reply = { size: info.size, entries: info.entries, spare };
    } else {
      const memory = new MemoryFile();
      const info = writeSegmentBatch(memory, "batch.seg", batch);
      reply = { file: memory.bytes(), size: info.size, entries: info.entries, spare };
    }
  } catch (e) {
    try {
      file?.close(); // the caller removes the file
    } catch { /* already closed */ }
    throw e;
  }
  const transfer = [reply.spare, ...(reply.file ? [reply.file.buffer as ArrayBuffer] : [])];
  return { value: reply, transfer };
}
