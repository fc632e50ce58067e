/**
 * A replayable, splittable source of the lines of a text file or of the
 * files of a directory (UTF-8 by default; Latin-1 or raw bytes on request),
 * optionally watching the directory for new files.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";
import { EXTERNAL } from "./_external.ts";
import { localPath } from "./_local_path.ts";
import { compressed, unreadable } from "./_file_range_reader.ts";
import { FileShareReader } from "./_file_share_reader.ts";
import { DirectoryReader } from "./_directory_reader.ts";
import { type FileSplit, FileSplitEnumerator } from "./_file_split_enumerator.ts";
import type { Source, SourceContext, SourceReader } from "./source.ts";
import type { SplitEnumerator, SplitEnumeratorContext } from "./split_enumerator.ts";

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
  /**
   * The file to read, or a directory whose files are read (see {@linkcode FileSource}): a path,
   * or a `file:` URL (Flink's `file:///path`); another URL is a `ConfigError`.
   */
  path: string;
  /** Bytes read from disk at a time (1 MiB); a line longer than this grows the buffer. */
  chunkBytes?: number | undefined;
  /** How lines' bytes become records (`"utf-8"`): see {@linkcode FileSourceEncoding}. */
  encoding?: FileSourceEncoding | undefined;
  /**
   * A directory only: look for new files this often, in ms (continuous mode:
   * the source never ends; 0 is a `ConfigError`, as in Flink). Without it the
   * files there at the job's first start are read and the source ends.
   */
  monitorIntervalMs?: number | undefined;
  /** A directory only: files larger than this are read as several splits of this many bytes (64 MiB). */
  splitBytes?: number | undefined;
}

/** Every option's name, for `checkOptionNames`. */
const FILE_SOURCE_OPTIONS: Record<keyof FileSourceOptions, true> = {
  path: true,
  chunkBytes: true,
  encoding: true,
  monitorIntervalMs: true,
  splitBytes: true,
};

/**
 * How a {@linkcode FileSource} turns a line's bytes into a record:
 * - `"utf-8"` (default): invalid sequences become U+FFFD; the reader counts
 *   them (`replaced_utf8_sequences` in its counters, the admin API's
 *   `weir_source_replaced_utf8_sequences_total`) and logs one warning line
 *   naming the first one's line.
 * - `"utf-8-fatal"`: invalid UTF-8 fails the job with a `SerializationError`
 *   naming the file and the line number.
 * - `"latin1"`: ISO-8859-1, each byte is the code point of the same value,
 *   so every byte sequence reads as a distinct string.
 * - `"bytes"`: records are `Uint8Array`s (use `FileSource<Uint8Array>`).
 *
 * Lines end at `\n` (a `\r` before it is dropped) in every encoding; a UTF-8
 * byte-order mark at the start of the file is dropped in the UTF-8 encodings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, FileSource, type FileSourceEncoding, StreamEnvironment } from "@weir/weir";
 * const path = Deno.makeTempFileSync();
 * Deno.writeFileSync(path, new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a])); // "café" in Latin-1
 * const encoding: FileSourceEncoding = "latin1";
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<string>();
 * env.addSource(new FileSource({ path, encoding })).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values, ["café"]);
 * Deno.removeSync(path);
 * ```
 */
export type FileSourceEncoding = "utf-8" | "utf-8-fatal" | "latin1" | "bytes";

const ENCODINGS: readonly FileSourceEncoding[] = ["utf-8", "utf-8-fatal", "latin1", "bytes"];

/**
 * Checks an encoding name (a flag's value); throws `ConfigError` naming the choices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, fileSourceEncoding } from "@weir/weir";
 * assert.equal(fileSourceEncoding("latin1"), "latin1");
 * assert.equal(fileSourceEncoding(undefined), "utf-8");
 * assert.throws(() => fileSourceEncoding("ascii"), ConfigError);
 * ```
 */
export function fileSourceEncoding(name: string | undefined): FileSourceEncoding {
  if (name === undefined) return "utf-8";
  const e = ENCODINGS.find((x) => x === name.toLowerCase());
  if (e === undefined) {
    throw new ConfigError(
      `Unknown input encoding "${name}": use one of ${ENCODINGS.join(", ")}`,
    );
  }
  return e;
}

/**
 * Reads a text file line by line, emitting each line without its `\n`
 * or `\r\n` (as a string, or as bytes with `encoding: "bytes"`). With `p`
 * subtasks the file is cut into `p` byte ranges, each a split, and a subtask
 * reads the lines that start in its range (Hadoop's rule), so every line is
 * read exactly once. A split's state is the byte offset of its next line, so
 * a restored reader rereads nothing and skips nothing, in every encoding; the
 * splits of all subtasks are kept together, so a restored job may run the
 * source at another parallelism. The file must not change while a job reads it
 * (one found shorter than a split's end is a `ConfigError`). A compressed file
 * (`.gz`, `.gzip`, `.deflate`, `.bz2`, `.xz`: Flink decompresses them) is a
 * `ConfigError` naming it, in a directory too: weir does not decompress.
 *
 * Given a directory, each file in it or in its subdirectories (as Flink's
 * enumerators, recursively) is a split (a file larger than `splitBytes`
 * several, by byte ranges, read by the same rule); files and directories whose
 * names start with `.` or `_` (in progress) are skipped. The
 * source's split enumerator (in the job's main thread) lists the directory
 * and assigns one split at a time to a reader that asks for work, so a reader
 * that finishes early takes over the files not yet started. Its state (the
 * files listed, the splits not assigned) and the readers' unfinished splits
 * with their next line's offset are kept in checkpoints: a restored job may
 * run the source at another parallelism and reads every line exactly once.
 * With `monitorIntervalMs` the enumerator lists the directory again at that
 * interval and new files are read from their start; a file must be complete
 * when its name appears (write it under a hidden name, then rename it).
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
 *
 * @example A directory of files, each a split, read by two subtasks
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, FileSource, StreamEnvironment } from "@weir/weir";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "a1\na2\n");
 * await Deno.writeTextFile(`${dir}/b.txt`, "b1\n");
 * await Deno.writeTextFile(`${dir}/.c.txt.inprogress`, "skipped\n");
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * const sink = new CollectSink<string>();
 * env.addSource(new FileSource({ path: dir })).addSink(sink);
 * await env.execute();
 * assert.deepEqual(sink.values.toSorted(), ["a1", "a2", "b1"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileSource<T extends string | Uint8Array = string> implements Source<T> {
  /** `"file"`. */
  readonly name = "file";
  readonly #path: string;
  readonly #chunkBytes: number;
  readonly #encoding: FileSourceEncoding;
  readonly #monitorIntervalMs: number;
  readonly #splitBytes: number;

  /** Reads `options.path`; throws `ConfigError` naming a bad option. */
  constructor(options: FileSourceOptions) {
    checkOptionNames("FileSource", options, FILE_SOURCE_OPTIONS);
    const chunk = options.chunkBytes ?? 1 << 20;
    if (!Number.isInteger(chunk) || chunk < 1) {
      throw new ConfigError(`FileSource chunkBytes must be a positive integer, got ${chunk}`);
    }
    const monitor = options.monitorIntervalMs ?? 0;
    // 0 is refused, as Flink's monitorContinuously(Duration.ZERO) is: it read the files once and
    // ended, a bounded source where monitoring was asked for.
    if (
      options.monitorIntervalMs !== undefined && (!Number.isSafeInteger(monitor) || monitor < 1)
    ) {
      throw new ConfigError(
        `FileSource monitorIntervalMs must be a positive integer, got ${options.monitorIntervalMs} ` +
          `(leave it out to read the files there once)`,
      );
    }
    const splitBytes = options.splitBytes ?? 64 << 20;
    if (!Number.isSafeInteger(splitBytes) || splitBytes < 1) {
      throw new ConfigError(`FileSource splitBytes must be a positive integer, got ${splitBytes}`);
    }
    this.#path = localPath("FileSource", "path", options.path);
    this.#chunkBytes = chunk;
    this.#encoding = fileSourceEncoding(options.encoding);
    this.#monitorIntervalMs = monitor;
    this.#splitBytes = splitBytes;
  }

  /** The file or directory read. */
  get path(): string {
    return this.#path;
  }

  /** @internal What the plan compares between threads (see `_external.ts`). */
  [EXTERNAL](): string {
    return `reads ${this.#path}`;
  }

  /**
   * Checks that the path is a regular file or a directory (monitoring needs a
   * directory); throws `ConfigError` if not.
   */
  check(): void {
    this.#isDirectory();
  }

  #isDirectory(): boolean {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(this.#path);
    } catch (e) {
      throw unreadable(this.#path, e);
    }
    if (info.isDirectory) return true;
    if (!info.isFile) {
      throw new ConfigError(
        `FileSource cannot read "${this.#path}": not a regular file or a directory`,
      );
    }
    const error = compressed(this.#path);
    if (error) throw error;
    if (this.#monitorIntervalMs > 0) {
      throw new ConfigError(
        `FileSource cannot monitor "${this.#path}" for new files: it is a file, not a directory`,
      );
    }
    return false;
  }

  /** How lines are decoded. */
  get encoding(): FileSourceEncoding {
    return this.#encoding;
  }

  /**
   * Reads one subtask's byte range of the file as its split, or the subtask's splits of
   * the directory; throws `ConfigError` if the path cannot be read.
   */
  createReader(ctx: SourceContext): SourceReader<T> {
    if (this.#isDirectory()) {
      return new DirectoryReader(this.#path, {
        chunkBytes: this.#chunkBytes,
        encoding: this.#encoding,
      }, ctx) as unknown as SourceReader<T>;
    }
    return new FileShareReader(this.#path, {
      chunkBytes: this.#chunkBytes,
      encoding: this.#encoding,
    }, ctx) as unknown as SourceReader<T>;
  }

  /**
   * A directory's split enumerator (it lists the directory, and again at
   * `monitorIntervalMs` when monitoring); undefined for a single file, whose
   * subtasks start with a byte range of it each.
   */
  createEnumerator(
    ctx: SplitEnumeratorContext<unknown>,
    restored: unknown,
  ): SplitEnumerator<unknown, unknown> | undefined {
    if (!this.#isDirectory()) return undefined;
    return new FileSplitEnumerator(
      this.#path,
      { splitBytes: this.#splitBytes, monitorIntervalMs: this.#monitorIntervalMs },
      ctx as SplitEnumeratorContext<FileSplit>,
      restored,
    ) as SplitEnumerator<unknown, unknown>;
  }
}
