/**
 * Reads the lines that start in a byte range of a text file (Hadoop's rule):
 * the engine of {@linkcode FileSource}, for one split of a file or a
 * directory.
 *
 * @module
 */
import { ConfigError, SerializationError } from "../errors.ts";
import type { FileSourceEncoding } from "./file_source.ts";
import type { PollStatus, SourceOutput, SourceReader } from "./source.ts";

const NEWLINE = 10;
const CR = 13;
const BOM = "\uFEFF";

/**
 * The `ConfigError` for a file shorter than a split's end or a checkpoint's position: truncated
 * or replaced since they were taken, so reading on would read other bytes (or none).
 */
export function shrunk(path: string, size: number, known: number): ConfigError {
  return new ConfigError(
    `FileSource cannot read "${path}" from where it was: the file has ${size} bytes now, ` +
      `fewer than the ${known} it had (it was truncated or replaced since)`,
  );
}

/** The `ConfigError` for a file that cannot be opened or read. */
export function unreadable(path: string, e: unknown): ConfigError {
  const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
  return new ConfigError(`FileSource cannot read "${path}": ${why}`, { cause: e });
}

/** Extensions Flink's `FileSource` decompresses (`StandardDeCompressors`); weir does not. */
const COMPRESSED = [".deflate", ".gz", ".gzip", ".bz2", ".xz"];

/**
 * The `ConfigError` for a compressed file (by its extension, as Flink picks a
 * decompressor), or undefined: read as text, its bytes would be garbage lines.
 */
export function compressed(path: string): ConfigError | undefined {
  const ext = COMPRESSED.find((x) => path.endsWith(x));
  if (ext === undefined) return undefined;
  return new ConfigError(
    `FileSource cannot read "${path}": it is compressed (${ext}), and weir does not ` +
      `decompress files as Flink's FileSource does; decompress it first`,
  );
}

const EF = 0xef, BF = 0xbf, BD = 0xbd;
const REPLACEMENT = "\uFFFD";

/** Occurrences of U+FFFD in `s`. */
function countReplacementChars(s: string): number {
  let n = 0;
  for (let i = s.indexOf(REPLACEMENT); i >= 0; i = s.indexOf(REPLACEMENT, i + 1)) n++;
  return n;
}

/** Occurrences of U+FFFD's own UTF-8 encoding (EF BF BD) in `b[from, to)`. */
function countEncodedReplacementChars(b: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = b.indexOf(EF, from); i >= 0 && i + 2 < to; i = b.indexOf(EF, i + 1)) {
    if (b[i + 1] === BF && b[i + 2] === BD) n++;
  }
  return n;
}

/** ISO-8859-1: each byte is the code point of the same value. */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** The lines starting in `[start, end)` of a file; the position is the next line's offset. */
export class FileRangeReader implements SourceReader<string | Uint8Array> {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  readonly #encoding: FileSourceEncoding;
  readonly #log: (line: string) => void;
  /** Lines starting at or after this offset belong to the next split. */
  readonly #end: number;
  readonly #decoder: TextDecoder;
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
  /** Invalid UTF-8 sequences replaced with U+FFFD (encoding "utf-8"). */
  #replaced = 0;

  /** Opens `path` for the lines starting in `[range.start, range.end)`. */
  constructor(
    path: string,
    chunkBytes: number,
    encoding: FileSourceEncoding,
    log: ((line: string) => void) | undefined,
    range: { start: number; end: number },
  ) {
    this.#path = path;
    this.#encoding = encoding;
    this.#log = log ?? (() => {});
    this.#decoder = new TextDecoder("utf-8", {
      ignoreBOM: true,
      fatal: encoding === "utf-8-fatal",
    });
    try {
      this.#file = Deno.openSync(path, { read: true });
    } catch (e) {
      throw unreadable(path, e);
    }
    const start = range.start;
    this.#end = range.end;
    try {
      this.#checkSize(range.end);
    } catch (e) {
      this.#file.close();
      throw e;
    }
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

  /** Throws {@linkcode shrunk} when the file is shorter than `known` bytes. */
  #checkSize(known: number): void {
    const size = this.#file.statSync().size;
    if (size < known) throw shrunk(this.#path, size, known);
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

  /** The text of `#buf[from, to)` (whole lines; `\n` never occurs inside a UTF-8 sequence). */
  #decode(from: number, to: number): string {
    const bytes = this.#buf.subarray(from, to);
    if (this.#encoding === "latin1") return latin1(bytes);
    let s: string;
    try {
      s = this.#decoder.decode(bytes);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      throw this.#invalidUtf8(from, to, e);
    }
    if (this.#bufPos + from === 0 && s.startsWith(BOM)) s = s.slice(1);
    // A native scan; the exact count (U+FFFD can also be in the file) runs only on a hit.
    if (s.indexOf(REPLACEMENT) >= 0) this.#countReplaced(s, from, to);
    return s;
  }

  #countReplaced(s: string, from: number, to: number): void {
    const n = countReplacementChars(s) - countEncodedReplacementChars(this.#buf, from, to);
    if (n <= 0) return;
    if (this.#replaced === 0) {
      const at = this.#firstInvalidLine(from, to);
      this.#log(
        `FileSource "${this.#path}": invalid UTF-8 at line ${this.#lineNumber(at)} was replaced ` +
          `with U+FFFD; replaced sequences are counted (replaced_utf8_sequences). Use encoding ` +
          `"utf-8-fatal" to fail instead, "latin1" or "bytes" to keep every byte`,
      );
    }
    this.#replaced += n;
  }

  /** The file offset of the first line in `#buf[from, to)` that is not valid UTF-8. */
  #firstInvalidLine(from: number, to: number): number {
    const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    let start = from;
    while (start < to) {
      let nl = this.#buf.indexOf(NEWLINE, start);
      if (nl < 0 || nl > to) nl = to;
      try {
        strict.decode(this.#buf.subarray(start, nl));
      } catch {
        return this.#bufPos + start;
      }
      start = nl + 1;
    }
    return this.#bufPos + from;
  }

  /** The 1-based number of the line at file offset `offset` (counts newlines before it). */
  #lineNumber(offset: number): number {
    const file = Deno.openSync(this.#path, { read: true });
    try {
      const chunk = new Uint8Array(1 << 16);
      let line = 1;
      let at = 0;
      while (at < offset) {
        const n = file.readSync(chunk.subarray(0, Math.min(chunk.length, offset - at)));
        if (n === null || n === 0) break;
        for (let i = chunk.indexOf(NEWLINE); i >= 0 && i < n; i = chunk.indexOf(NEWLINE, i + 1)) {
          line++;
        }
        at += n;
      }
      return line;
    } finally {
      file.close();
    }
  }

  #invalidUtf8(from: number, to: number, cause: unknown): SerializationError {
    const at = this.#firstInvalidLine(from, to);
    return new SerializationError(
      `FileSource "${this.#path}": invalid UTF-8 at line ${this.#lineNumber(at)} (the line ` +
        `starts at byte ${at}); the encoding is "utf-8-fatal". Use "utf-8" to replace invalid ` +
        `sequences with U+FFFD, "latin1" or "bytes" to keep every byte`,
      { cause },
    );
  }

  #emitBytes(out: SourceOutput<string | Uint8Array>, from: number, to: number): void {
    const buf = this.#buf;
    let start = from;
    // `to` is the last line's newline: an empty last line starts there.
    while (start <= to) {
      let nl = buf.indexOf(NEWLINE, start);
      if (nl < 0 || nl > to) nl = to;
      const end = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
      out.collect(buf.slice(start, end));
      start = nl + 1;
    }
  }

  #emit(out: SourceOutput<string | Uint8Array>, from: number, to: number, lines: number): void {
    if (this.#encoding === "bytes") return this.#emitBytes(out, from, to);
    // One decode for the whole batch.
    const text = this.#decode(from, to);
    const parts = lines === 1 ? [text] : text.split("\n");
    for (const p of parts) out.collect(p.charCodeAt(p.length - 1) === CR ? p.slice(0, -1) : p);
  }

  poll(out: SourceOutput<string | Uint8Array>, max: number): PollStatus {
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
        this.#emit(out, first, lastNl, lines);
        emitted += lines;
        this.#next = this.#bufPos + lastNl + 1;
      } else if (this.#eof) {
        // The file ends before the split does: it was truncated while read. What is left is not
        // the rest of a line (or is nothing), so fail as a restore of a shorter file does.
        if (this.#bufPos + this.#bufLen < this.#end) {
          throw shrunk(this.#path, this.#bufPos + this.#bufLen, this.#end);
        }
        // The last line has no newline (a lone `\r` at its end stays).
        if (this.#encoding === "bytes") out.collect(this.#buf.slice(first, this.#bufLen));
        else out.collect(this.#decode(first, this.#bufLen));
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
    this.#checkSize(position);
    this.#seek(position);
  }

  /** `replaced_utf8_sequences`: invalid UTF-8 sequences replaced with U+FFFD so far. */
  counters(): Readonly<Record<string, number>> {
    return { replaced_utf8_sequences: this.#replaced };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}
