/**
 * An exactly-once file sink on the two-phase-commit base. Each transaction is
 * one file:
 *
 * ```
 * DIR/.in-progress/part-<subtask>-<run>-<n>   written, then pre-committed (fsync) at a barrier
 * DIR/part-<subtask>-<run>-<n>                committed: renamed when the checkpoint completes
 * ```
 * Only `part-*` files are output; in-progress and pending files are hidden in
 * a dot-folder. A rename is atomic, so a file is either committed whole or
 * not at all.
 *
 * @module
 */
import { CheckpointError, ConfigError } from "../errors.ts";
import { TwoPhaseCommitSink } from "./two_phase_commit_sink.ts";
import type { SinkContext } from "./sink.ts";

/**
 * Options of an {@linkcode ExactlyOnceFileSink}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExactlyOnceFileSink, type ExactlyOnceFileSinkOptions, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const options: ExactlyOnceFileSinkOptions<number> = { dir, format: (n) => String(n * 10) };
 * const checkpoints = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir: checkpoints } });
 * env.fromElements(1, 2).addSink(new ExactlyOnceFileSink(options));
 * await env.execute();
 * // The final checkpoint at end of input commits the part files.
 * const parts = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("part-"));
 * const text = parts.map((e) => Deno.readTextFileSync(`${dir}/${e.name}`)).join("");
 * assert.deepEqual(text.trim().split("\n"), ["10", "20"]);
 * for (const d of [dir, checkpoints]) Deno.removeSync(d, { recursive: true });
 * ```
 */
export interface ExactlyOnceFileSinkOptions<T> {
  /** The output folder; created if missing. */
  dir: string;
  /** Turns a record into a line (strings as they are, other values as JSON). */
  format?: (value: T) => string;
}

/** A transaction: one file, and how many records it holds. */
interface FileTransaction {
  name: string;
  records: number;
}

/** The folder holding files not committed yet. */
export const IN_PROGRESS_DIR = ".in-progress";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Writes records as lines, exactly once across failures and restores when
 * the job checkpoints (without checkpointing, files are committed at end of
 * input).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExactlyOnceFileSink, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create();
 * env.fromCollection(["a", "b"]).addSink(new ExactlyOnceFileSink<string>({ dir }));
 * await env.execute("write");
 * const parts = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("part-"));
 * assert.ok(parts.length === 1);
 * assert.ok(Deno.readTextFileSync(`${dir}/${parts[0]!.name}`) === "a\nb\n");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class ExactlyOnceFileSink<T> extends TwoPhaseCommitSink<T, FileTransaction> {
  /** `"exactly-once file"`. */
  readonly name = "exactly-once file";
  /** The output folder. */
  readonly dir: string;
  private readonly format: (value: T) => string;
  private run = "";
  private seq = 0;
  private lines: string[] = [];
  private file: Deno.FsFile | undefined;
  private readonly encoder = new TextEncoder();

  /** Writes into `options.dir`. */
  constructor(options: ExactlyOnceFileSinkOptions<T>) {
    super();
    if (typeof options.dir !== "string" || options.dir === "") {
      throw new ConfigError("ExactlyOnceFileSink needs a dir");
    }
    this.dir = options.dir;
    this.format = options.format ??
      ((v: T) => (typeof v === "string" ? v : JSON.stringify(v)));
    Deno.mkdirSync(`${this.dir}/${IN_PROGRESS_DIR}`, { recursive: true });
  }

  /**
   * Picks this attempt's file-name prefix, then opens the base. A restart in
   * the same process makes new subtask objects from this sink: a fixed id
   * would name new files as the ones the failed attempt already committed.
   */
  override open(ctx: SinkContext): void {
    this.run = crypto.randomUUID().slice(0, 8);
    this.seq = 0;
    super.open(ctx);
  }

  private inProgress(txn: FileTransaction): string {
    return `${this.dir}/${IN_PROGRESS_DIR}/${txn.name}`;
  }

  protected beginTransaction(): FileTransaction {
    this.lines = [];
    this.file = undefined;
    return { name: `part-${this.subtask.subtaskIndex}-${this.run}-${this.seq++}`, records: 0 };
  }

  protected write(txn: FileTransaction, value: T): void {
    this.lines.push(this.format(value));
    txn.records++;
  }

  protected override flushTransaction(txn: FileTransaction): void {
    if (this.lines.length === 0) return;
    this.file ??= Deno.openSync(this.inProgress(txn), { write: true, create: true, append: true });
    const data = this.encoder.encode(this.lines.join("\n") + "\n");
    this.lines = [];
    let n = 0;
    while (n < data.length) n += this.file.writeSync(data.subarray(n));
  }

  protected preCommit(txn: FileTransaction): void {
    this.flushTransaction(txn);
    if (this.file) {
      this.file.syncSync();
      this.file.close();
      this.file = undefined;
    }
  }

  protected commit(txn: FileTransaction): void {
    if (txn.records === 0) return;
    const from = this.inProgress(txn);
    const to = `${this.dir}/${txn.name}`;
    try {
      Deno.renameSync(from, to);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      if (exists(to)) return; // committed before: commit is idempotent
      throw new CheckpointError(
        `Cannot commit ${txn.name}: neither ${from} nor ${to} exists (${txn.records} records lost)`,
      );
    }
  }

  protected abort(txn: FileTransaction): void {
    this.lines = [];
    if (this.file) {
      this.file.close();
      this.file = undefined;
    }
    try {
      Deno.removeSync(this.inProgress(txn));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  protected override cleanUpLeftovers(keep: FileTransaction[]): void {
    const names = new Set(keep.map((t) => t.name));
    for (const e of Deno.readDirSync(`${this.dir}/${IN_PROGRESS_DIR}`)) {
      if (!names.has(e.name)) Deno.removeSync(`${this.dir}/${IN_PROGRESS_DIR}/${e.name}`);
    }
  }
}
