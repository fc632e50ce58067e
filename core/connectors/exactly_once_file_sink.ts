/**
 * An exactly-once file sink on the two-phase-commit base. Each transaction is
 * the part files a subtask wrote between two checkpoints (one, unless a
 * rolling policy rolls parts within the checkpoint):
 *
 * ```
 * DIR/.in-progress/part-<subtask>-<run>-<n>   written (a rolled part: closed and fsynced), then
 *                                             pre-committed (fsync) at a barrier
 * DIR/.in-progress/part-…-<n>.savepoint       pre-committed at a savepoint's barrier: kept until
 *                                             a checkpoint or a restore of the savepoint commits it
 * DIR/part-<subtask>-<run>-<n>                committed: renamed when the checkpoint completes
 * DIR/<bucket>/part-<subtask>-<run>-<n>       with a bucket assigner: committed into the bucket's
 *                                             folder (made then), pending in DIR/.in-progress/
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
import type { BucketAssigner, BucketAssignerContext } from "./bucket_assigners.ts";
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
  /**
   * When a part rolls within a checkpoint (Flink's `DefaultRollingPolicy`); by default parts roll
   * only at checkpoints (Flink's `OnCheckpointRollingPolicy`). A rolled part is pending and is
   * committed with the checkpoint that follows; every part still rolls at each checkpoint.
   */
  rollingPolicy?: FileRollingPolicy;
  /**
   * Chooses each record's bucket, a subfolder of `dir` with part files of its own (Flink's
   * `BucketAssigner`), as a {@linkcode DateTimeBucketAssigner}; default: every record in `dir`
   * (Flink's default is a `DateTimeBucketAssigner`).
   */
  bucketAssigner?: BucketAssigner<T>;
}

/**
 * When a part file rolls before the next checkpoint (all optional; none: only at checkpoints).
 * Each is a number > 0, else a `ConfigError`.
 *
 * @example
 * ```ts
 * import type { FileRollingPolicy } from "@weir/weir";
 * // Flink's DefaultRollingPolicy defaults: 128 MiB, 60 s, 60 s.
 * const policy: FileRollingPolicy = {
 *   maxPartBytes: 128 * 1024 * 1024,
 *   rolloverIntervalMs: 60_000,
 *   inactivityIntervalMs: 60_000,
 * };
 * ```
 */
export interface FileRollingPolicy {
  /**
   * A part holding more than this many bytes rolls before the next record is written (Flink's
   * `withMaxPartSize`): a part ends at most one record past it.
   */
  maxPartBytes?: number;
  /** A part opened this long ago (processing time) rolls (Flink's `withRolloverInterval`). */
  rolloverIntervalMs?: number;
  /**
   * A part no record reached for this long (processing time) rolls (Flink's
   * `withInactivityInterval`).
   */
  inactivityIntervalMs?: number;
}

const ROLLING_POLICY_OPTIONS: Record<keyof FileRollingPolicy, true> = {
  maxPartBytes: true,
  rolloverIntervalMs: true,
  inactivityIntervalMs: true,
};

/** `policy` checked: each limit a number > 0 (`Infinity` where not given). */
function rollingLimits(policy: unknown): Required<FileRollingPolicy> {
  const limits = {
    maxPartBytes: Infinity,
    rolloverIntervalMs: Infinity,
    inactivityIntervalMs: Infinity,
  };
  if (policy === undefined) return limits;
  checkOptionNames("ExactlyOnceFileSink rollingPolicy", policy, ROLLING_POLICY_OPTIONS);
  for (const [name, value] of Object.entries(policy as FileRollingPolicy)) {
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value > 0) || Number.isNaN(value)) {
      throw new ConfigError(
        `ExactlyOnceFileSink rollingPolicy: ${name} must be a number > 0, got ${
          typeof value === "number" ? value : JSON.stringify(value) ?? String(value)
        }`,
      );
    }
    limits[name as keyof FileRollingPolicy] = value;
  }
  return limits;
}

const EXACTLY_ONCE_FILE_SINK_OPTIONS: Record<keyof ExactlyOnceFileSinkOptions<unknown>, true> = {
  dir: true,
  format: true,
  fs: true,
  partPrefix: true,
  partSuffix: true,
  rollingPolicy: true,
  bucketAssigner: true,
};

/**
 * Why `id` is no bucket id: not a relative folder path, or a part starting with `.` or `_` (the
 * sink's in-progress folder and lock, and what readers skip as not committed).
 */
function badBucketId(id: unknown): string | undefined {
  if (typeof id !== "string") return "it is no string";
  if (id === "") return undefined;
  if (/[\\\0]/.test(id)) return "it has a \\ or NUL";
  for (const part of id.split("/")) {
    if (part === "") {
      return "it is no relative folder path (an empty part, or a leading or trailing /)";
    }
    if (part.startsWith(".") || part.startsWith("_")) {
      return `its part "${part}" starts with "." or "_", as files not committed yet (${IN_PROGRESS_DIR}/)`;
    }
  }
  return undefined;
}

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

/**
 * A transaction: the part files written between two checkpoints and the folder they live in.
 * Snapshots of older versions hold one file, in `name`, `records` and `file`, and no `parts`.
 */
interface FileTransaction {
  parts?: FilePart[];
  /** Absolute output folder (absent in snapshots of older versions: the sink's folder). */
  dir?: string;
  name?: string;
  records?: number;
  file?: string;
}

/** A part file of a transaction. */
interface FilePart {
  /** Its committed path, relative to the output folder. */
  name: string;
  records: number;
  /** Its pending file's name in the in-progress folder, when not `name`'s last segment. */
  file?: string;
}

/** A part being written: its data not yet written, its size, and when it was opened and written. */
interface OpenPart {
  part: FilePart;
  bucket: string;
  lines: string[];
  /** UTF-16 code units in `lines`, newlines included: at most a third of their UTF-8 bytes. */
  chars: number;
  /** Bytes written to `file`. */
  bytes: number;
  file: SegmentFile | undefined;
  /** Processing time when opened and when last written (only kept with a time limit). */
  opened: number;
  written: number;
  /** `part.records` when `written` was last set. */
  seen: number;
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
 * without a `bucketAssigner` files go straight into `dir` (Flink's default
 * `DateTimeBucketAssigner` writes into hourly `yyyy-MM-dd--HH` subfolders;
 * weir's, given, formats in UTC, not the machine's zone);
 * each subtask rolls its part at every checkpoint (Flink's
 * `OnCheckpointRollingPolicy`), and within a checkpoint only as `rollingPolicy`
 * says (Flink's `DefaultRollingPolicy`, the row format's default, rolls at
 * 128 MiB, 60 s or 60 s inactive and keeps a part open across checkpoints
 * until then: here a part never spans checkpoints), so a checkpoint commits
 * the parts of every subtask that wrote records since the one before, and
 * none for the others; a file is named `part-<subtask>-<run>-<n>`
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
  private readonly maxPartBytes: number;
  private readonly rolloverMs: number;
  private readonly inactivityMs: number;
  /** Whether parts roll on processing time. */
  private readonly timed: boolean;
  private readonly assigner: BucketAssigner<T> | undefined;
  private assignerContext: BucketAssignerContext | undefined;
  /** The timestamp of the record being assigned. */
  private timestamp: number | undefined;
  private run = "";
  private seq = 0;
  /** The open transaction's parts being written, by bucket. */
  private parts = new Map<string, OpenPart>();
  /** fsyncs of the open transaction's parts that rolled: each resolves to its error, if any. */
  private rolled: Promise<Error | undefined>[] = [];
  /**
   * The clock is read once per batch, when its first record needs it: records
   * in a batch share one processing time, as they arrive together.
   */
  private clockStale = true;
  private now = 0;
  private readonly encoder = new TextEncoder();
  /** Files found committed and moved away while committing restored transactions. */
  private movedAway: { dir: string; part: FilePart }[] | undefined;
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
    const limits = rollingLimits(options.rollingPolicy);
    this.maxPartBytes = limits.maxPartBytes;
    this.rolloverMs = limits.rolloverIntervalMs;
    this.inactivityMs = limits.inactivityIntervalMs;
    this.timed = this.rolloverMs !== Infinity || this.inactivityMs !== Infinity;
    if (
      options.bucketAssigner !== undefined &&
      typeof options.bucketAssigner?.getBucketId !== "function"
    ) {
      throw new ConfigError(
        "ExactlyOnceFileSink: bucketAssigner must have a getBucketId(value, context) method",
      );
    }
    this.assigner = options.bucketAssigner;
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
    this.parts = new Map();
    this.rolled = [];
    this.clockStale = true;
    this.assignerContext = {
      currentProcessingTime: () => this.clock(),
      timestamp: () => this.timestamp,
    };
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

  private reportMoved(moved: { dir: string; part: FilePart }[]): void {
    const records = moved.reduce((n, m) => n + m.part.records, 0);
    const names = moved.slice(0, 3).map((m) => `${m.dir}/${m.part.name}`).join(", ");
    const more = moved.length > 3 ? ` and ${moved.length - 3} more` : "";
    (this.subtask.log ?? console.error)(
      `${moved.length} restored part file(s) of the exactly-once file sink (${records} ` +
        `records: ${names}${more}) were committed before and have since been ` +
        `moved or removed; they count as committed`,
    );
  }

  private folderOf(txn: FileTransaction): string {
    return txn.dir ?? this.dir;
  }

  /** The transaction's parts (an older version's transaction is one part). */
  private partsOf(txn: FileTransaction): FilePart[] {
    if (txn.parts) return txn.parts;
    if (txn.name === undefined || !txn.records) return [];
    return [{ name: txn.name, records: txn.records, ...(txn.file ? { file: txn.file } : {}) }];
  }

  /** A part's pending file's name in the in-progress folder. */
  private pendingName(part: FilePart): string {
    return part.file ?? part.name.slice(part.name.lastIndexOf("/") + 1);
  }

  private inProgress(txn: FileTransaction, part: FilePart): string {
    return `${this.folderOf(txn)}/${IN_PROGRESS_DIR}/${this.pendingName(part)}`;
  }

  /** The processing time of this batch (read at its first call in the batch). */
  private clock(): number {
    if (this.clockStale) {
      this.clockStale = false;
      this.now = Date.now();
    }
    return this.now;
  }

  protected beginTransaction(): FileTransaction {
    this.parts = new Map();
    this.rolled = [];
    return { dir: this.dir, parts: [] };
  }

  protected write(txn: FileTransaction, value: T, timestamp: number | undefined): void {
    // With a time limit, the first record of a batch rolls the parts that reached it
    // (Flink checks on a timer; a part no record reaches waits for the checkpoint either way).
    if (this.timed && this.clockStale) this.rollOnTime(txn, this.clock());
    let bucket = "";
    if (this.assigner !== undefined) {
      this.timestamp = timestamp;
      bucket = this.assigner.getBucketId(value, this.assignerContext!);
    }
    let open = this.parts.get(bucket);
    // `chars * 3` bounds the bytes not yet written: the exact size is only counted near the limit.
    if (open !== undefined && open.bytes + open.chars * 3 > this.maxPartBytes) {
      this.writePart(txn, open);
      if (open.bytes > this.maxPartBytes) {
        this.roll(txn, open);
        open = undefined;
      }
    }
    open ??= this.openPart(txn, bucket);
    const line = this.format(value);
    open.lines.push(line);
    open.chars += line.length + 1;
    open.part.records++;
  }

  private openPart(txn: FileTransaction, bucket: string): OpenPart {
    const bad = badBucketId(bucket);
    if (bad !== undefined) {
      throw new ConfigError(
        `ExactlyOnceFileSink: the bucket assigner returned ${
          typeof bucket === "string" ? JSON.stringify(bucket) : String(bucket)
        }, which is no bucket: ${bad}; a bucket is "" (dir itself) or a folder path relative to ` +
          "dir, as 2024-05-01--13 or country=NL/day=1",
      );
    }
    const file = `${this.partPrefix}-${this.subtask.subtaskIndex}-${this.run}-${this
      .seq++}${this.partSuffix}`;
    const part: FilePart = { name: bucket === "" ? file : `${bucket}/${file}`, records: 0 };
    txn.parts!.push(part);
    const now = this.timed ? this.clock() : 0;
    const open: OpenPart = {
      part,
      bucket,
      lines: [],
      chars: 0,
      bytes: 0,
      file: undefined,
      opened: now,
      written: now,
      seen: 0,
    };
    this.parts.set(bucket, open);
    return open;
  }

  /** Rolls the parts opened `rolloverMs` or last written `inactivityMs` before `now`. */
  private rollOnTime(txn: FileTransaction, now: number): void {
    for (const open of this.parts.values()) {
      if (now - open.opened >= this.rolloverMs || now - open.written >= this.inactivityMs) {
        this.roll(txn, open);
      }
    }
  }

  /**
   * Closes a part before the checkpoint: it is pending, fsynced off the job
   * thread now, and committed with the transaction.
   */
  private roll(txn: FileTransaction, open: OpenPart): void {
    this.writePart(txn, open);
    this.parts.delete(open.bucket);
    const file = open.file!;
    this.rolled.push(this.syncAndClose(txn, file).then(() => undefined, (e: Error) => e));
  }

  private async syncAndClose(txn: FileTransaction, file: SegmentFile): Promise<void> {
    try {
      await (file.syncAsync?.() ?? file.sync());
    } catch (e) {
      throw this.writeError(txn, e);
    } finally {
      file.close();
    }
  }

  /** Writes a part's buffered lines to its pending file. */
  private writePart(txn: FileTransaction, open: OpenPart): void {
    if (open.lines.length === 0) return;
    open.file ??= this.fs.create(this.inProgress(txn, open.part));
    const data = this.encoder.encode(open.lines.join("\n") + "\n");
    open.lines = [];
    open.chars = 0;
    open.bytes += data.length;
    try {
      open.file.write(data);
    } catch (e) {
      throw this.writeError(txn, e);
    }
  }

  protected override flushTransaction(txn: FileTransaction): void {
    for (const open of this.parts.values()) {
      this.writePart(txn, open);
      if (this.timed && open.part.records !== open.seen) {
        open.seen = open.part.records;
        open.written = this.now;
      }
    }
    this.clockStale = true;
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
    for (const open of this.parts.values()) this.writePart(txn, open);
    const parts = txn.parts!;
    if (parts.length === 0) return;
    // The next transaction writes files of its own while these are made durable.
    const syncs = [...this.rolled];
    for (const open of this.parts.values()) {
      syncs.push(this.syncAndClose(txn, open.file!).then(() => undefined, (e: Error) => e));
    }
    this.parts = new Map();
    this.rolled = [];
    const renames: [string, string][] = [];
    if (forSavepoint) {
      for (const part of parts) {
        const from = this.inProgress(txn, part);
        // Decided now: the checkpoint records the name the file will have.
        part.file = this.pendingName(part) + SAVEPOINT_SUFFIX;
        renames.push([from, this.inProgress(txn, part)]);
      }
    }
    return (async () => {
      const errors = (await Promise.all(syncs)).filter((e) => e !== undefined);
      if (errors.length > 0) throw errors[0];
      for (const [from, to] of renames) this.fs.rename(from, to);
      // Their names too: a restore commits them by renaming them.
      await this.syncDir(`${this.folderOf(txn)}/${IN_PROGRESS_DIR}`);
    })();
  }

  private syncDir(path: string): Promise<void> | void {
    return this.fs.syncDirAsync?.(path) ?? this.fs.syncDir(path);
  }

  protected async commit(txn: FileTransaction): Promise<void> {
    const dir = this.folderOf(txn);
    const folders = new Set<string>();
    for (const part of this.partsOf(txn)) {
      if (part.records === 0) continue;
      const from = this.inProgress(txn, part);
      const to = `${dir}/${part.name}`;
      const folder = to.slice(0, to.lastIndexOf("/"));
      try {
        this.fs.rename(from, to);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        if (this.fs.size(from) !== undefined) {
          // Pending, and its bucket's folder is not there (yet, or no more).
          await this.makeBucketFolder(dir, folder);
          this.fs.rename(from, to);
        } else if (this.fs.size(to) === undefined) {
          // Pre-commit made the file durable and only a commit moves it out of
          // the hidden folder: gone from both places, it was committed and then
          // moved on downstream.
          if (this.movedAway) this.movedAway.push({ dir, part });
          else this.reportMoved([{ dir, part }]);
          continue;
        }
        // Else committed before (commit is idempotent); its entry may not be durable yet.
      }
      folders.add(folder);
    }
    for (const folder of folders) await this.syncDir(folder);
  }

  /** Makes a bucket's folder under `dir`, and its entry and its parents' durable. */
  private async makeBucketFolder(dir: string, folder: string): Promise<void> {
    this.fs.mkdirp(folder);
    for (let f = folder; f !== dir && f.length > dir.length;) {
      f = f.slice(0, f.lastIndexOf("/"));
      await this.syncDir(f);
    }
  }

  protected abort(txn: FileTransaction): void {
    for (const open of this.parts.values()) open.file?.close();
    this.parts = new Map();
    // Rolled parts close themselves once their fsync ends.
    this.rolled = [];
    for (const part of this.partsOf(txn)) this.fs.remove(this.inProgress(txn, part));
  }

  protected override cleanUpLeftovers(keep: FileTransaction[]): void {
    const names = new Set(keep.flatMap((t) => this.partsOf(t).map((p) => this.pendingName(p))));
    for (const name of this.fs.list(`${this.dir}/${IN_PROGRESS_DIR}`)) {
      if (names.has(name) || name.endsWith(SAVEPOINT_SUFFIX)) continue;
      this.fs.remove(`${this.dir}/${IN_PROGRESS_DIR}/${name}`);
    }
  }
}
