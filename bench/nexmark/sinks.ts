/**
 * The sinks the Nexmark job uses besides the exactly-once file sink: a
 * discarding sink (Flink Nexmark's `blackhole`) and the events dump.
 *
 * @module
 */
import { ConfigError, type SinkFunction } from "../../mod.ts";

/** Drops every record (counts them per subtask). */
export class DiscardingSink<T> implements SinkFunction<T> {
  /** Records this subtask dropped. */
  count = 0;
  /** Drops `_value`. */
  invoke(_value: T): void {
    this.count++;
  }
}

/**
 * Writes every record as a JSON line to one file (run it with parallelism 1):
 * the file is truncated when the job starts.
 */
export class JsonLinesFileSink<T> implements SinkFunction<T> {
  /** The file. */
  readonly path: string;
  // Plain fields: each subtask's copy (Object.create) sets its own in open().
  private file: Deno.FsFile | undefined;
  private pending: string[] = [];

  /** Writes to `path`. */
  constructor(path: string) {
    this.path = path;
  }

  /** Creates (truncates) the file. */
  open(): void {
    try {
      this.file = Deno.openSync(this.path, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new ConfigError(`Cannot write ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    this.pending = [];
  }

  /** Buffers one line. */
  invoke(value: T): void {
    this.pending.push(JSON.stringify(value));
  }

  /** Writes the buffered lines. */
  flush(): void {
    if (this.pending.length === 0 || !this.file) return;
    const bytes = new TextEncoder().encode(this.pending.join("\n") + "\n");
    this.pending = [];
    let off = 0;
    while (off < bytes.length) off += this.file.writeSync(bytes.subarray(off));
  }

  /** Writes what is buffered and closes the file. */
  close(): void {
    if (!this.file) return;
    try {
      this.flush();
    } finally {
      this.file.close();
      this.file = undefined;
    }
  }
}
