/**
 * A plain text file sink: one file per subtask, one line per record.
 *
 * @module
 */
import { ConfigError, DirectoryInUseError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";
import { EXTERNAL } from "./_external.ts";
import { localPath } from "./_local_path.ts";
import { OutputDirLock } from "./_output_dir_lock.ts";
import { jsonLine } from "./_json_line.ts";
import type { FunctionInitializationContext } from "../dataflow/functions.ts";
import type { SinkContext, SinkFunction } from "./sink.ts";

/**
 * Options of a {@linkcode TextFileSink}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamEnvironment, TextFileSink, type TextFileSinkOptions } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const options: TextFileSinkOptions<number> = { dir, format: (n) => `n=${n}` };
 * const env = StreamEnvironment.create();
 * env.fromElements(1, 2).addSink(new TextFileSink(options));
 * await env.execute();
 * const text = [...Deno.readDirSync(dir)].map((e) => Deno.readTextFileSync(`${dir}/${e.name}`)).join("");
 * assert.deepEqual(text.trim().split("\n"), ["n=1", "n=2"]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface TextFileSinkOptions<T> {
  /**
   * The folder to write `part-<subtask>-0` files into; created if missing. A path, or a `file:`
   * URL (Flink's `file:///path`); another URL is a `ConfigError`.
   */
  dir: string;
  /** Turns a record into a line (strings as they are, other values as JSON, a bigint as digits). */
  format?: ((value: T) => string) | undefined;
}

const TEXT_FILE_SINK_OPTIONS: Record<keyof TextFileSinkOptions<unknown>, true> = {
  dir: true,
  format: true,
};

/**
 * Writes each record as one line to `DIR/part-<subtask>-0`. A job that starts
 * from its input replaces the files of an earlier run (also those of subtasks
 * an earlier run at a higher parallelism had); a restored one (from a
 * checkpoint or savepoint, or restarted after a failure) appends to them, so
 * that what earlier attempts wrote stays: at-least-once. Lines are buffered and
 * written with one write per batch. It is not transactional: after a failure a
 * file may hold records that a restored job writes again, and a line a killed
 * process left half-written is cut off before the restored job appends.
 * While a subtask runs, the sink holds a lock on `DIR` (`DIR/.weir-lock`, as
 * the exactly-once sink does): another sink writing there, in this job or
 * another, fails at its start naming this one, instead of both truncating
 * and overwriting the same `part-<subtask>-0` files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TextFileSink } from "@weir/weir";
 * const dir = await Deno.makeTempDir();
 * const sink = new TextFileSink<unknown>({ dir });
 * sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "sink" });
 * sink.invoke("a");
 * sink.invoke({ n: 1 });
 * sink.close();
 * assert.ok(await Deno.readTextFile(`${dir}/part-0-0`) === 'a\n{"n":1}\n');
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class TextFileSink<T> implements SinkFunction<T> {
  /** `"text file"`. */
  readonly name = "text file";
  /** The output folder. */
  readonly dir: string;
  // Plain fields, not #private: the runtime gives each subtask an object that
  // inherits this one (Object.create), and open() sets these on it.
  private readonly format: (value: T) => string;
  private file: Deno.FsFile | undefined;
  private restored = false;
  private pending: string[] = [];
  private encoder = new TextEncoder();
  // One lock for all subtasks (they inherit this object), held while any of them is open.
  private readonly dirLock = new OutputDirLock();
  private holdsDirLock = false;

  /** Writes into `options.dir`. */
  constructor(options: TextFileSinkOptions<T>) {
    checkOptionNames("TextFileSink", options, TEXT_FILE_SINK_OPTIONS);
    if (typeof options.dir !== "string" || options.dir === "") {
      throw new ConfigError("TextFileSink needs a dir");
    }
    this.dir = localPath("TextFileSink", "dir", options.dir);
    this.format = options.format ?? jsonLine;
  }

  /** @internal What the plan compares between threads (see `_external.ts`). */
  [EXTERNAL](): string {
    return `writes ${this.dir}`;
  }

  /** Notes whether the job was restored (then open() appends). */
  initializeState(ctx: FunctionInitializationContext): void {
    this.restored = ctx.isRestored;
  }

  /**
   * Creates the folder and this subtask's file, or opens it to append to (restored); locks the
   * folder (`DirectoryInUseError` when another sink holds it).
   */
  open(ctx: SinkContext): void {
    const path = `${this.dir}/part-${ctx.subtaskIndex}-0`;
    try {
      Deno.mkdirSync(this.dir, { recursive: true });
      if (!this.holdsDirLock) {
        this.dirLock.acquire(this.dir, `text file sink "${ctx.operatorUid}"`);
        this.holdsDirLock = true;
      }
      if (!this.restored && ctx.subtaskIndex === 0) removeOtherRunsParts(this.dir, ctx.parallelism);
      this.file = this.restored
        ? openAfterLastLine(path)
        : Deno.openSync(path, { write: true, create: true, truncate: true });
    } catch (e) {
      if (e instanceof DirectoryInUseError) throw e;
      this.releaseDirLock();
      throw new ConfigError(`TextFileSink cannot create ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.pending = [];
  }

  /** Buffers one line. */
  invoke(value: T): void {
    this.pending.push(this.format(value));
  }

  /** Writes the buffered lines. */
  flush(): void {
    if (this.pending.length === 0) return;
    if (!this.file) throw new ConfigError(`TextFileSink for ${this.dir} is not open`);
    const bytes = this.encoder.encode(this.pending.join("\n") + "\n");
    this.pending = [];
    let off = 0;
    // One write normally; a short write continues where it stopped.
    while (off < bytes.length) off += this.file.writeSync(bytes.subarray(off));
  }

  /** Writes what is buffered and closes the file; the last subtask to close releases the folder. */
  close(): void {
    try {
      if (!this.file) return;
      try {
        this.flush();
      } finally {
        this.file.close();
        this.file = undefined;
      }
    } finally {
      this.releaseDirLock();
    }
  }

  private releaseDirLock(): void {
    if (!this.holdsDirLock) return;
    this.holdsDirLock = false;
    this.dirLock.release();
  }
}

/**
 * Removes the `part-<k>-0` files of subtasks `k >= parallelism`: an earlier run at a higher
 * parallelism wrote them, and a job that starts from its input replaces that run's output.
 */
function removeOtherRunsParts(dir: string, parallelism: number): void {
  for (const entry of Deno.readDirSync(dir)) {
    const k = /^part-(\d+)-0$/.exec(entry.name)?.[1];
    if (k !== undefined && entry.isFile && Number(k) >= parallelism) {
      Deno.removeSync(`${dir}/${entry.name}`);
    }
  }
}

/**
 * Opens `path` (created if missing) positioned after its last complete line,
 * cutting off a line without its newline (a write the process was killed in).
 */
function openAfterLastLine(path: string): Deno.FsFile {
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  try {
    let end = file.statSync().size;
    const chunk = new Uint8Array(64 * 1024);
    let kept = 0;
    // Reads backwards from the end, a chunk at a time, to the last newline.
    while (end > 0 && kept === 0) {
      const start = Math.max(0, end - chunk.length);
      file.seekSync(start, Deno.SeekMode.Start);
      const view = chunk.subarray(0, end - start);
      let got = 0;
      while (got < view.length) got += file.readSync(view.subarray(got)) ?? view.length;
      const newline = view.lastIndexOf(0x0a);
      if (newline >= 0) kept = start + newline + 1;
      end = start;
    }
    file.truncateSync(kept);
    file.seekSync(kept, Deno.SeekMode.Start);
    return file;
  } catch (e) {
    file.close();
    throw e;
  }
}
