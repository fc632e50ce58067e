/**
 * A replayable, splittable source of the lines of a UTF-8 text file.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { PollStatus, Source, SourceContext, SourceOutput, SourceReader } from "./source.ts";

/**
 * Options of a {@linkcode FileSource}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, FileSource, type FileSourceOptions, StreamEnvironment } from "@weir/weir";
 * const path = Deno.makeTempFileSync();
 * Deno.writeTextFileSync(path, "one\ntwo\n");
 * const options: FileSourceOptions = { path, chunkBytes: 4 };
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<string>();
 * env.addSource(new FileSource(options)).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values, ["one", "two"]);
 * Deno.removeSync(path);
 * ```
 */
export interface FileSourceOptions {
  /** The file to read. */
  path: string;
  /** Bytes read from disk at a time (1 MiB); a line longer than this grows the buffer. */
  chunkBytes?: number | undefined;
}

const NEWLINE = 10;
const CR = 13;
const BOM = "\uFEFF";

/**
 * Reads a UTF-8 text file line by line, emitting each line without its `\n`
 * or `\r\n`. With `p` subtasks the file is cut into `p` byte ranges and a
 * subtask reads the lines that start in its range (Hadoop's rule), so every
 * line is read exactly once. The position is the byte offset of the next
 * line, so a restored reader rereads nothing and skips nothing. The file must
 * not change while a job reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileSource } from "@weir/weir";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "one\r\ntwo\n\nthree");
 * const reader = new FileSource({ path }).createReader({
 *   subtaskIndex: 0,
 *   parallelism: 1,
 *   now: () => 0,
 * });
 * const lines: string[] = [];
 * while (reader.poll({ collect: (l) => lines.push(l) }, 100) !== "end");
 * reader.close?.();
 * assert.ok(JSON.stringify(lines) === '["one","two","","three"]');
 * await Deno.remove(path);
 * ```
 */
export class FileSource implements Source<string> {
  /** `"file"`. */
  readonly name = "file";
  readonly #path: string;
  readonly #chunkBytes: number;

  /** Reads `options.path`; throws `ConfigError` on a bad `chunkBytes`. */
  constructor(options: FileSourceOptions) {
    const chunk = options.chunkBytes ?? 1 << 20;
    if (!Number.isInteger(chunk) || chunk < 1) {
      throw new ConfigError(`FileSource chunkBytes must be a positive integer, got ${chunk}`);
    }
    this.#path = options.path;
    this.#chunkBytes = chunk;
  }

  /** The file read. */
  get path(): string {
    return this.#path;
  }

  /** Checks that the file exists and is a regular file; throws `ConfigError` if not. */
  check(): void {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(this.#path);
    } catch (e) {
      throw unreadable(this.#path, e);
    }
    if (!info.isFile) {
      throw new ConfigError(`FileSource cannot read "${this.#path}": not a regular file`);
    }
  }

  /** Opens the file for one subtask's range; throws `ConfigError` if it cannot be read. */
  createReader(ctx: SourceContext): SourceReader<string> {
    return new FileSplitReader(this.#path, this.#chunkBytes, ctx.subtaskIndex, ctx.parallelism);
  }
}

function unreadable(path: string, e: unknown): ConfigError {
  const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
  return new ConfigError(`FileSource cannot read "${path}": ${why}`, { cause: e });
}

/** One subtask's byte range of the file. */
class FileSplitReader implements SourceReader<string> {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  /** Lines starting at or after this offset belong to the next subtask. */
  readonly #end: number;
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #buf: Uint8Array;
  /** File offset of `#buf[0]`. */
  #bufPos = 0;
  /** Valid bytes in `#buf`. */
  #bufLen = 0;
  /** The last read hit the end of the file. */
  #eof = false;
  /** File offset of the next line. */
  #next = 0;
  #closed = false;

  constructor(path: string, chunkBytes: number, index: number, parallelism: number) {
    this.#path = path;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true });
    } catch (e) {
      throw unreadable(path, e);
    }
    this.#file = file;
    const info = file.statSync();
    if (!info.isFile) {
      file.close();
      throw new ConfigError(`FileSource cannot read "${path}": not a regular file`);
    }
    const size = info.size;
    const start = Math.floor(size * index / parallelism);
    this.#end = Math.floor(size * (index + 1) / parallelism);
    this.#buf = new Uint8Array(chunkBytes);
    if (start > 0 && start < this.#end) this.#skipPartialLine(start);
    else this.#seek(start);
  }

  /** Moves to the first line starting at or after `start` (looking from `start - 1`). */
  #skipPartialLine(start: number): void {
    this.#seek(start - 1);
    for (;;) {
      const nl = this.#buf.subarray(0, this.#bufLen).indexOf(NEWLINE, this.#next - this.#bufPos);
      if (nl >= 0) {
        this.#next = this.#bufPos + nl + 1;
        return;
      }
      // Nothing here is kept: the scanned bytes belong to the previous subtask's line.
      this.#next = this.#bufPos + this.#bufLen;
      if (this.#eof) return;
      this.#fill();
    }
  }

  #seek(offset: number): void {
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    this.#bufPos = offset;
    this.#bufLen = 0;
    this.#eof = false;
    this.#next = offset;
  }

  /** Keeps the bytes from `#next` on and reads one more chunk after them. */
  #fill(): void {
    const from = this.#next - this.#bufPos;
    const keep = this.#bufLen - from;
    if (from > 0) this.#buf.copyWithin(0, from, this.#bufLen);
    this.#bufPos = this.#next;
    this.#bufLen = keep;
    if (keep === this.#buf.length) {
      // A line longer than the buffer.
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    const n = this.#file.readSync(this.#buf.subarray(keep));
    if (n === null || n === 0) this.#eof = true;
    else this.#bufLen += n;
  }

  #decode(from: number, to: number): string {
    const s = this.#decoder.decode(this.#buf.subarray(from, to));
    return this.#bufPos + from === 0 && s.startsWith(BOM) ? s.slice(1) : s;
  }

  poll(out: SourceOutput<string>, max: number): PollStatus {
    if (this.#closed) throw new ConfigError(`FileSource reader of "${this.#path}" is closed`);
    let emitted = 0;
    while (emitted < max) {
      if (this.#next >= this.#end) return "end";
      const data = this.#buf.subarray(0, this.#bufLen);
      const first = this.#next - this.#bufPos;
      let i = first;
      let lines = 0;
      let lastNl = -1;
      while (emitted + lines < max && this.#bufPos + i < this.#end) {
        const nl = data.indexOf(NEWLINE, i);
        if (nl < 0) break;
        lines++;
        lastNl = nl;
        i = nl + 1;
      }
      if (lines > 0) {
        // One decode for the whole batch; `\n` never occurs inside a UTF-8 sequence.
        const text = this.#decode(first, lastNl);
        const parts = lines === 1 ? [text] : text.split("\n");
        for (const p of parts) {
          out.collect(p.charCodeAt(p.length - 1) === CR ? p.slice(0, -1) : p);
        }
        emitted += lines;
        this.#next = this.#bufPos + lastNl + 1;
      } else if (this.#eof) {
        // The last line has no newline.
        out.collect(this.#decode(first, this.#bufLen));
        this.#next = this.#bufPos + this.#bufLen;
        return "end";
      } else {
        this.#fill();
      }
    }
    return this.#next < this.#end ? "more" : "end";
  }

  position(): number {
    return this.#next;
  }

  restore(position: unknown): void {
    if (typeof position !== "number" || !Number.isSafeInteger(position) || position < 0) {
      throw new ConfigError(
        `FileSource cannot resume "${this.#path}" at position ${String(position)}`,
      );
    }
    this.#seek(position);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}
