/**
 * An exactly-once file sink on the two-phase-commit base. Each transaction is
 * one file:
 *
 * ```
 * DIR/.in-progress/part-<subtask>-<run>-<n>   written, then pre-committed (fsync) at a barrier
 * DIR/.in-progress/part-…-<n>.savepoint       pre-committed at a savepoint's barrier: kept until
 *                                             a checkpoint or a restore of the savepoint commits it
 * DIR/part-<subtask>-<run>-<n>                committed: renamed when the checkpoint completes
 * ```
 * Only `part-*` files are output; in-progress and pending files are hidden in
 * a dot-folder. A rename is atomic, so a file is either committed whole or
 * not at all. A transaction records the folder it lives in, so a job restored
 * with another output folder still commits the old run's pending files where
 * they are. A committed file may be moved on by its consumer: a transaction
 * whose file is neither pending nor in place was committed before, and is
 * reported once instead of failing the job. Pre-commit fsyncs the file and
 * its folder, commit fsyncs the output folder after the rename: a committed
 * file survives a crash of the machine, not only of the process. The fsyncs
 * run off the job thread (`syncAsync`/`syncDirAsync` of the file system, when
 * it has them): records flow into the next file while a checkpoint's file
 * is made durable. While a
 * subtask runs, the sink holds a lock on `DIR` (see `dir_lock.ts`): a second
 * job writing there fails at once, naming this one, instead of deleting this
 * one's pending files.
 *
 * @module
 */
import { resolve } from "node:path";
import {
  type CheckpointFs,
  DenoCheckpointFs,
  folderError,
  makeJobFolder,
} from "../checkpoint/checkpoint_fs.ts";
import { ConfigError } from "../errors.ts";
import { checkOptionNames } from "../_options.ts";
import { EXTERNAL } from "./_external.ts";
import { localPath } from "./_local_path.ts";
import { OutputDirLock } from "./_output_dir_lock.ts";
import { jsonLine } from "./_json_line.ts";
import type { SegmentFile } from "../../statestore-as/segment_fs.ts";
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
  /**
   * The output folder; created if missing. A path, or a `file:` URL (Flink's `file:///path`);
   * another URL is a `ConfigError`.
   */
  dir: string;
  /** Turns a record into a line (strings as they are, other values as JSON, a bigint as digits). */
  format?: (value: T) => string;
  /** The file system written through (tests inject faults); default {@linkcode DenoCheckpointFs}. */
  fs?: CheckpointFs;
  /**
   * What a part file's name starts with (Flink's `OutputFileConfig.withPartPrefix`); default
   * `"part"`. Files are named `<partPrefix>-<subtask>-<run>-<n><partSuffix>`. A prefix with a `/`
   * or `\\`, or starting with `.` or `_` (the names of files not committed yet), is a `ConfigError`.
   */
  partPrefix?: string;
  /**
   * What a part file's name ends with, as `".json"` (Flink's `OutputFileConfig.withPartSuffix`);
   * default `""`. A suffix with a `/` or `\\`, or ending with `.savepoint` (the mark of a
   * savepoint's pending file), is a `ConfigError`.
   */
  partSuffix?: string;
}

const EXACTLY_ONCE_FILE_SINK_OPTIONS: Record<keyof ExactlyOnceFileSinkOptions<unknown>, true> = {
  dir: true,
  format: true,
  fs: true,
  partPrefix: true,
  partSuffix: true,
};

/**
 * `value` of option `option` checked as a part-name prefix or suffix: one a consumer or the
 * sink's own clean-up would take for a file not committed yet is a `ConfigError`.
 */
function partAffix(option: "partPrefix" | "partSuffix", value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  const bad = (why: string) =>
    new ConfigError(`ExactlyOnceFileSink: ${option} ${why}, got ${JSON.stringify(value)}`);
  if (typeof value !== "string") throw bad("must be a string");
  if (/[/\\\0]/.test(value)) throw bad("must be a file name, without / or \\");
  if (option === "partPrefix" && /^[._]/.test(value)) {
    throw bad(
      `must not start with "." or "_": such files are the sink's in-progress files (${IN_PROGRESS_DIR}/) ` +
        "and are skipped by readers as not committed",
    );
  }
  if (option === "partSuffix" && value.endsWith(SAVEPOINT_SUFFIX)) {
    throw bad(`must not end with "${SAVEPOINT_SUFFIX}", the mark of a savepoint's pending file`);
  }
  return value;
}

/** A transaction: one file, how many records it holds, and the folder it lives in. */
interface FileTransaction {
  name: string;
  records: number;
  /** Absolute output folder (absent in snapshots of older versions: the sink's folder). */
  dir?: string;
  /** Its pending file's name in the in-progress folder, when not `name` (a savepoint's). */
  file?: string;
}

/**
 * Marks a file pre-committed for a savepoint: a restore from an earlier
 * checkpoint leaves it in place, since restoring the savepoint commits it.
 */
const SAVEPOINT_SUFFIX = ".savepoint";

/** The folder holding files not committed yet. */
export const IN_PROGRESS_DIR = ".in-progress";

/**
 * Writes records as lines, exactly once across failures and restores when
 * the job checkpoints (without checkpointing, files are committed at end of
 * input).
 *
 * Ported from Flink's `FileSink.forRowFormat(path, encoder)`, it differs so:
 * files go straight into `dir` (no bucket assigner: Flink's default
 * `DateTimeBucketAssigner` writes into hourly `yyyy-MM-dd--HH` subfolders);
 * each subtask rolls its file at every checkpoint and only then (Flink's
 * `OnCheckpointRollingPolicy`, where the row format's default rolls at
 * 128 MiB or 60 s and may keep a file open across checkpoints), so a
 * checkpoint commits one file per subtask that wrote records since the one
 * before, and none for the others; a file is named `part-<subtask>-<run>-<n>`
 * (Flink: `part-<uuid>-<n>`; `partPrefix` and `partSuffix` replace `part` and
 * add a suffix, as Flink's `OutputFileConfig`) and is written in the hidden `dir/.in-progress/`
 * (Flink: a hidden `.part-…inprogress…` beside it).
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
  /** The output folder (absolute). */
  readonly dir: string;
  private readonly format: (value: T) => string;
  private readonly partPrefix: string;
  private readonly partSuffix: string;
  private run = "";
  private seq = 0;
  private lines: string[] = [];
  private file: SegmentFile | undefined;
  private readonly encoder = new TextEncoder();
  /** Files found committed and moved away while committing restored transactions. */
  private movedAway: FileTransaction[] | undefined;
  private readonly fs: CheckpointFs;
  // One lock for all subtasks (they inherit this object), held while any of them is open.
  private readonly dirLock = new OutputDirLock();
  private holdsDirLock = false;

  /** Writes into `options.dir`. */
  constructor(options: ExactlyOnceFileSinkOptions<T>) {
    super();
    checkOptionNames("ExactlyOnceFileSink", options, EXACTLY_ONCE_FILE_SINK_OPTIONS);
    if (typeof options.dir !== "string" || options.dir === "") {
      throw new ConfigError("ExactlyOnceFileSink needs a dir");
    }
    this.dir = resolve(localPath("ExactlyOnceFileSink", "dir", options.dir));
    this.format = options.format ?? jsonLine;
    this.partPrefix = partAffix("partPrefix", options.partPrefix, "part");
    this.partSuffix = partAffix("partSuffix", options.partSuffix, "");
    this.fs = options.fs ?? new DenoCheckpointFs();
    makeJobFolder(this.fs, this.dir, "Output directory", [IN_PROGRESS_DIR]);
  }
  /** @internal What the plan compares between threads (see `_external.ts`). */
  [EXTERNAL](): string {
    return `writes ${this.dir}`;
  }

  /**
   * Checks that the output folder and its in-progress folder can be written,
   * by making and removing a file in each. A folder that already exists (with
   * its in-progress folder) is "made" without writing, so the constructor
   * does not see it; a task's open would then fail the job once it runs
   * (exit 1). Here it is a `ConfigError` naming the folder, before the job
   * starts (exit 2), as for the checkpoint folder.
   */
  check(): void {
    for (const folder of [this.dir, `${this.dir}/${IN_PROGRESS_DIR}`]) {
      const probe = `${folder}/.weir-write-check-${crypto.randomUUID().slice(0, 8)}`;
      try {
        this.fs.create(probe).close();
        this.fs.remove(probe);
      } catch (e) {
        throw folderError(e, "Output directory", this.dir, "cannot be written");
      }
    }
  }

  /**
   * Picks this attempt's file-name prefix, then opens the base. A restart in
   * the same process makes new subtask objects from this sink: a fixed id
   * would name new files as the ones the failed attempt already committed.
   */
  override async open(ctx: SinkContext): Promise<void> {
    this.run = crypto.randomUUID().slice(0, 8);
    this.seq = 0;
    this.dirLock.acquire(this.dir, `exactly-once file sink "${ctx.operatorUid}"`);
    this.holdsDirLock = true;
    this.movedAway = [];
    try {
      await super.open(ctx);
    } finally {
      const moved = this.movedAway;
      this.movedAway = undefined;
      if (moved.length > 0) this.reportMoved(moved);
    }
  }

  /** Aborts the open transaction; the last subtask to close releases the directory. */
  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      if (this.holdsDirLock) {
        this.holdsDirLock = false;
        this.dirLock.release();
      }
    }
  }

  private reportMoved(moved: FileTransaction[]): void {
    const records = moved.reduce((n, t) => n + t.records, 0);
    const names = moved.slice(0, 3).map((t) => `${t.dir ?? this.dir}/${t.name}`).join(", ");
    const more = moved.length > 3 ? ` and ${moved.length - 3} more` : "";
    (this.subtask.log ?? console.error)(
      `${moved.length} restored transaction(s) of the exactly-once file sink (${records} ` +
        `records: ${names}${more}) were committed before and their files have since been ` +
        `moved or removed; they count as committed`,
    );
  }

  private folderOf(txn: FileTransaction): string {
    return txn.dir ?? this.dir;
  }

  private inProgress(txn: FileTransaction): string {
    return `${this.folderOf(txn)}/${IN_PROGRESS_DIR}/${txn.file ?? txn.name}`;
  }

  protected beginTransaction(): FileTransaction {
    this.lines = [];
    this.file = undefined;
    const name = `${this.partPrefix}-${this.subtask.subtaskIndex}-${this.run}-${this
      .seq++}${this.partSuffix}`;
    return { name, records: 0, dir: this.dir };
  }

  protected write(txn: FileTransaction, value: T): void {
    this.lines.push(this.format(value));
    txn.records++;
  }

  protected override flushTransaction(txn: FileTransaction): void {
    if (this.lines.length === 0) return;
    this.file ??= this.fs.create(this.inProgress(txn));
    const data = this.encoder.encode(this.lines.join("\n") + "\n");
    this.lines = [];
    try {
      this.file.write(data);
    } catch (e) {
      throw this.writeError(txn, e);
    }
  }

  /**
   * `e` naming where the sink writes: a failed write or fsync's own message
   * (a full disk: "No space left on device (os error 28)") names no file.
   * The folder, not the file: its name is new in every attempt, and the same
   * failure again must read the same (see `failureSignature`).
   */
  private writeError(txn: FileTransaction, e: unknown): Error {
    const message = e instanceof Error ? e.message : String(e);
    return new Error(
      `Exactly-once file sink cannot write its pending files in ${
        this.folderOf(txn)
      }/${IN_PROGRESS_DIR}: ${message}`,
      { cause: e },
    );
  }

  protected preCommit(txn: FileTransaction, forSavepoint: boolean): Promise<void> | undefined {
    this.flushTransaction(txn);
    const file = this.file;
    if (!file) return;
    // The next transaction writes a file of its own while this one is made durable.
    this.file = undefined;
    const from = this.inProgress(txn);
    // Decided now: the checkpoint records the name the file will have.
    if (forSavepoint) txn.file = txn.name + SAVEPOINT_SUFFIX;
    const to = this.inProgress(txn);
    return (async () => {
      try {
        await (file.syncAsync?.() ?? file.sync());
      } catch (e) {
        throw this.writeError(txn, e);
      } finally {
        file.close();
      }
      if (from !== to) this.fs.rename(from, to);
      // Its name too: a restore commits it by renaming it.
      await this.syncDir(`${this.folderOf(txn)}/${IN_PROGRESS_DIR}`);
    })();
  }

  private syncDir(path: string): Promise<void> | void {
    return this.fs.syncDirAsync?.(path) ?? this.fs.syncDir(path);
  }

  protected async commit(txn: FileTransaction): Promise<void> {
    if (txn.records === 0) return;
    const from = this.inProgress(txn);
    const to = `${this.folderOf(txn)}/${txn.name}`;
    try {
      this.fs.rename(from, to);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      if (this.fs.size(to) === undefined) {
        // Pre-commit made the file durable and only a commit moves it out of
        // the hidden folder: gone from both places, it was committed and then
        // moved on downstream.
        if (this.movedAway) this.movedAway.push(txn);
        else this.reportMoved([txn]);
        return;
      }
      // Committed before (commit is idempotent); its entry may not be durable yet.
    }
    await this.syncDir(this.folderOf(txn));
  }

  protected abort(txn: FileTransaction): void {
    this.lines = [];
    if (this.file) {
      this.file.close();
      this.file = undefined;
    }
    this.fs.remove(this.inProgress(txn));
  }

  protected override cleanUpLeftovers(keep: FileTransaction[]): void {
    const names = new Set(keep.map((t) => t.file ?? t.name));
    for (const name of this.fs.list(`${this.dir}/${IN_PROGRESS_DIR}`)) {
      if (names.has(name) || name.endsWith(SAVEPOINT_SUFFIX)) continue;
      this.fs.remove(`${this.dir}/${IN_PROGRESS_DIR}/${name}`);
    }
  }
}
