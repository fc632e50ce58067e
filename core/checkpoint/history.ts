/**
 * The checkpoint history file `DIR/_history.jsonl`: one JSON line per
 * completed or failed checkpoint and per restore, appended and fsynced, so
 * checkpoint statistics survive restarts (the admin API reads it back). A
 * name starting with `_` is ignored by retention and restore. Writing it is
 * best effort: a failed append never fails a checkpoint.
 *
 * Bounded: once the file passes {@linkcode HISTORY_MAX_BYTES}, an append
 * rewrites it (a new file renamed over it) with its newest entries, up to a
 * quarter of that, so a job checkpointing for months keeps a file of a few
 * MiB. Restores read only the newest ids from it (the next checkpoint's id, and
 * completed checkpoints newer than the oldest one retention kept).
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import type { TaskCheckpointStats } from "./manifest.ts";
import { checkpointPaths } from "./paths.ts";
import { DenoSegmentFs, writeThroughTemp } from "../../statestore-as/segment_fs.ts";

/** The history file's name inside the checkpoint directory. */
export const HISTORY_FILE = "_history.jsonl";

/**
 * A completed or failed checkpoint (field names as Flink's REST API).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointHistoryEntry, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline", parallelism: 2 });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).map((n) => n + 1);
 * const client = env.executeAsync("job");
 * const { path } = await client.triggerCheckpoint();
 * client.cancel();
 * await client.done;
 * // DIR/_history.jsonl holds one JSON line per checkpoint, savepoint and restore.
 * const lines = Deno.readTextFileSync(`${dir}/_history.jsonl`).trim().split("\n");
 * const e: CheckpointHistoryEntry = JSON.parse(lines[0]!);
 * assert.deepEqual(
 *   [e.kind, e.id, e.status, e.is_savepoint, e.external_path, e.num_acknowledged_subtasks],
 *   ["checkpoint", 1, "COMPLETED", false, path, 2],
 * );
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface CheckpointHistoryEntry {
  /** Entry type. */
  readonly kind: "checkpoint";
  /** Checkpoint id. */
  readonly id: number;
  /** `COMPLETED` or `FAILED`. */
  readonly status: "COMPLETED" | "FAILED";
  /** Savepoint or checkpoint. */
  readonly is_savepoint: boolean;
  /** Trigger time, ms since epoch. */
  readonly trigger_timestamp: number;
  /** Time of the last acknowledgement (or of the failure). */
  readonly latest_ack_timestamp: number;
  /** ms from trigger to completion or failure. */
  readonly end_to_end_duration: number;
  /** Bytes of state referenced. */
  readonly state_size: number;
  /** Bytes newly written. */
  readonly checkpointed_size: number;
  /** Tasks that acknowledge. */
  readonly num_subtasks: number;
  /** Tasks that acknowledged. */
  readonly num_acknowledged_subtasks: number;
  /**
   * Where the checkpoint or savepoint is (completed only): an absolute path (older weir
   * versions recorded it as given, relative to the job's working directory).
   */
  readonly external_path?: string;
  /** Why it failed (failed only). */
  readonly failure_message?: string;
  /** Per-task statistics (completed only). */
  readonly tasks: readonly TaskCheckpointStats[];
  /** weir's: the operators' figures when it completed (completed only; for `weir ui`). */
  readonly operators?: readonly OperatorFigures[];
}

/**
 * An operator's figures when a checkpoint completed, kept in the history so
 * the dashboard of an ended job (`weir ui`) can show its records, watermark
 * and edges.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StreamEnvironment } from "@weir/weir";
 * import type { CheckpointHistoryEntry, OperatorFigures } from "./history.ts";
 * const dir = Deno.makeTempDirSync();
 * const env = StreamEnvironment.create({ checkpoint: { dir }, executor: "inline" });
 * env.generate({ generate: (n) => n, ratePerSecond: 1000 }).uid("numbers")
 *   .keyBy((n) => n % 4, Serializers.i32).reduce((a, b) => a + b).uid("sum");
 * const client = env.executeAsync("job");
 * await client.triggerCheckpoint();
 * client.cancel();
 * await client.done;
 * const line = Deno.readTextFileSync(`${dir}/_history.jsonl`).split("\n")[0]!;
 * const figures: readonly OperatorFigures[] = (JSON.parse(line) as CheckpointHistoryEntry).operators!;
 * assert.deepEqual(figures.map((f) => [f.uid, f.inputs]), [
 *   ["numbers", []],
 *   ["sum", [{ uid: "numbers", partitioning: "HASH", input: 0 }]],
 * ]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface OperatorFigures {
  /** Operator uid. */
  readonly uid: string;
  /** Records it received, summed over its subtasks (0 for sources). */
  readonly records_in: number;
  /** Records it emitted, summed over its subtasks. */
  readonly records_out: number;
  /** Its output watermark, the lowest over its subtasks; null before one and for sinks. */
  readonly watermark: number | null;
  /** Its input edges: the producer's uid, the ship strategy, which input. */
  readonly inputs: readonly {
    readonly uid: string;
    readonly partitioning: string;
    readonly input: number;
  }[];
}

/**
 * A restore of the job from a checkpoint or savepoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type HistoryEntry, type RestoreHistoryEntry, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const run = async (restore?: string) => {
 *   const env = StreamEnvironment.create({
 *     checkpoint: { dir }, executor: "inline", log: () => {}, ...(restore ? { restore } : {}),
 *   });
 *   env.generate({ generate: (n) => n, ratePerSecond: 1000 }).map((n) => n + 1).uid("plus");
 *   const client = env.executeAsync("job");
 *   const { path } = await client.stopWithSavepoint();
 *   await client.done;
 *   return path;
 * };
 * const savepoint = await run();
 * await run(savepoint); // the second run starts from the first one's savepoint
 * const history: HistoryEntry[] = Deno.readTextFileSync(`${dir}/_history.jsonl`).trim()
 *   .split("\n").map((l) => JSON.parse(l));
 * const restore = history.find((e): e is RestoreHistoryEntry => e.kind === "restore")!;
 * assert.deepEqual(
 *   [restore.id, restore.is_savepoint, restore.external_path],
 *   [1, true, savepoint],
 * );
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface RestoreHistoryEntry {
  /** Entry type. */
  readonly kind: "restore";
  /** The restored checkpoint id. */
  readonly id: number;
  /** When the job restored (ms since epoch). */
  readonly restore_timestamp: number;
  /** Whether a savepoint was restored. */
  readonly is_savepoint: boolean;
  /** The restored folder: an absolute path (older weir versions recorded it as given). */
  readonly external_path: string;
  /**
   * Set when `--allow-duplicate-output` let `--restore latest` fall back past
   * damaged snapshots whose output was committed: their ids and the warning.
   */
  readonly duplicates_accepted?: { readonly skipped: number[]; readonly message: string };
}

/**
 * One line of the history file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type HistoryEntry, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const run = async (restore?: string) => {
 *   const env = StreamEnvironment.create({
 *     checkpoint: { dir }, executor: "inline", log: () => {}, ...(restore ? { restore } : {}),
 *   });
 *   env.generate({ generate: (n) => n, ratePerSecond: 1000 }).map((n) => n + 1).uid("plus");
 *   const client = env.executeAsync("job");
 *   const { path } = await client.stopWithSavepoint();
 *   await client.done;
 *   return path;
 * };
 * const savepoint = await run();
 * await run(savepoint); // the second run starts from the first one's savepoint
 * const history: HistoryEntry[] = Deno.readTextFileSync(`${dir}/_history.jsonl`).trim()
 *   .split("\n").map((l) => JSON.parse(l));
 // In order: the first run's savepoint, the restore from it, the second run's savepoint.
 * assert.deepEqual(history.map((e) => [e.kind, e.id]), [
 *   ["checkpoint", 1],
 *   ["restore", 1],
 *   ["checkpoint", 2],
 * ]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export type HistoryEntry = CheckpointHistoryEntry | RestoreHistoryEntry;

const encoder = new TextEncoder();

/** Past this size an append rewrites the history with its newest entries (see the module doc). */
export const HISTORY_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Appends `entry` to `root/_history.jsonl` and fsyncs it, with its `external_path`
 * made absolute (against this process's working directory, the one a relative
 * path was given in), as Flink's URIs are: a reader elsewhere can use it. Returns an error
 * message instead of throwing (history must never fail a checkpoint).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendHistory, readHistory } from "./history.ts";
 * const dir = Deno.makeTempDirSync();
 * appendHistory(dir, {
 *   kind: "restore", id: 3, restore_timestamp: 1, is_savepoint: false, external_path: "x",
 * });
 * assert.equal(readHistory(dir).length, 1);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function appendHistory(
  root: string,
  entry: HistoryEntry,
  maxBytes: number = HISTORY_MAX_BYTES,
): string | undefined {
  let f: Deno.FsFile | undefined;
  let before: number | undefined;
  try {
    f = Deno.openSync(`${root}/${HISTORY_FILE}`, { append: true, create: true });
    before = f.statSync().size;
    const absolute = entry.external_path === undefined
      ? entry
      : { ...entry, external_path: resolve(entry.external_path) };
    const data = encoder.encode(JSON.stringify(absolute) + "\n");
    let off = 0;
    while (off < data.length) off += f.writeSync(data.subarray(off));
    f.syncSync();
    before = undefined; // appended: a failed rewrite below keeps it
    if (f.statSync().size > maxBytes) keepNewest(root, maxBytes / 4);
    return undefined;
  } catch (e) {
    // Cut off the part written (a full disk): the next append would join it
    // on one unreadable line, losing that entry (a completed checkpoint's).
    if (before !== undefined) {
      try {
        f!.truncateSync(before);
      } catch { /* the entries before it stand; the torn line is skipped */ }
    }
    return `Cannot append to the checkpoint history ${root}/${HISTORY_FILE}: ${e}`;
  } finally {
    f?.close();
  }
}

/**
 * Rewrites the history with its newest whole lines of at most `bytes` bytes: written to a
 * temporary file, fsynced and renamed over the history, so a crash leaves one or the other.
 */
function keepNewest(root: string, bytes: number): void {
  const path = `${root}/${HISTORY_FILE}`;
  const data = Deno.readFileSync(path);
  let from = Math.max(0, data.length - bytes);
  // From the start of a line: after the newline before `from` (none: from the start).
  if (from > 0) from = data.indexOf(0x0a, from - 1) + 1 || data.length;
  writeThroughTemp(new DenoSegmentFs(), `${path}.tmp`, path, data.subarray(from));
}

/**
 * Reads the history of checkpoint directory `root`, oldest first. A missing
 * file is an empty history; a torn last line (a crash mid-append) and lines
 * that are not history entries are skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readHistory } from "./history.ts";
 * assert.deepEqual(readHistory("/nonexistent/checkpoints"), []);
 * ```
 */
export function readHistory(root: string): HistoryEntry[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${root}/${HISTORY_FILE}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const out: HistoryEntry[] = [];
  parseLines(text, resolve(root), out);
  return out;
}

/**
 * Adds the history entries of `text`'s lines to `out`. A relative `external_path` an older weir
 * recorded is relative to that job's working directory, unknown here: a checkpoint's is
 * `chk-<id>` of this directory (`root`, absolute), anything else is kept as recorded.
 */
function parseLines(text: string, root: string, out: HistoryEntry[]): void {
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const v = JSON.parse(line);
      if (v && (v.kind === "checkpoint" || v.kind === "restore") && typeof v.id === "number") {
        if (
          v.kind === "checkpoint" && !v.is_savepoint && typeof v.external_path === "string" &&
          !isAbsolute(v.external_path)
        ) {
          v.external_path = checkpointPaths(root).checkpoint(v.id);
        }
        out.push(v as HistoryEntry);
      }
    } catch {
      // A torn line from a crash during an append: the entries before it stand.
    }
  }
}

/**
 * Reads a history again and again (the admin API, for every request) at the cost of what was
 * appended since the last read: it keeps the entries read and where it stopped, and starts over
 * when the file was rewritten (another file, or a shorter one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendHistory, HistoryReader } from "./history.ts";
 * const dir = Deno.makeTempDirSync();
 * const reader = new HistoryReader(dir);
 * const restore = { kind: "restore", restore_timestamp: 1, is_savepoint: false, external_path: "x" } as const;
 * appendHistory(dir, { ...restore, id: 1 });
 * assert.equal(reader.read().length, 1);
 * appendHistory(dir, { ...restore, id: 2 });
 * assert.deepEqual(reader.read().map((e) => e.id), [1, 2]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class HistoryReader {
  readonly #path: string;
  readonly #root: string;
  #entries: HistoryEntry[] = [];
  /** Bytes read, up to the end of the last whole line. */
  #offset = 0;
  #ino: number | null | undefined;

  /** A reader of checkpoint directory `root`'s history. */
  constructor(root: string) {
    this.#path = `${root}/${HISTORY_FILE}`;
    this.#root = resolve(root);
  }

  /** The history, oldest first (as {@linkcode readHistory}); do not change the array. */
  read(): readonly HistoryEntry[] {
    let f: Deno.FsFile;
    try {
      f = Deno.openSync(this.#path, { read: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      this.#entries = [];
      this.#offset = 0;
      return this.#entries;
    }
    try {
      const { size, ino } = f.statSync();
      if (ino !== this.#ino || size < this.#offset) {
        this.#entries = [];
        this.#offset = 0;
        this.#ino = ino;
      }
      if (size === this.#offset) return this.#entries;
      const bytes = new Uint8Array(size - this.#offset);
      f.seekSync(this.#offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < bytes.length) {
        const n = f.readSync(bytes.subarray(got));
        if (n === null) break;
        got += n;
      }
      // Up to the last newline: a line being appended is read once it is whole.
      const end = bytes.subarray(0, got).lastIndexOf(0x0a) + 1;
      if (end === 0) return this.#entries;
      // A new array: one a caller still holds keeps what it had.
      const entries = [...this.#entries];
      parseLines(new TextDecoder().decode(bytes.subarray(0, end)), this.#root, entries);
      this.#entries = entries;
      this.#offset += end;
      return this.#entries;
    } finally {
      f.close();
    }
  }
}

/**
 * Ids the history of `root` records as completed checkpoints that
 * `completed` (those with a `_metadata` on disk) lacks and that retention did
 * not remove: it removes the oldest first, so those newer than the oldest one
 * on disk (with none on disk, the newest one). Their output may have been
 * committed: restore and `weir checkpoints list` count them as damaged.
 * `history` is the history read before `completed` was looked for (by
 * default, read now), so that a checkpoint completing meanwhile is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vanishedCheckpoints } from "./history.ts";
 * assert.deepEqual(vanishedCheckpoints("/nonexistent/checkpoints", []), []);
 * ```
 */
export function vanishedCheckpoints(
  root: string,
  completed: readonly number[],
  history: readonly HistoryEntry[] = readHistory(root),
): number[] {
  const present = new Set(completed);
  const ids = new Set<number>();
  for (const e of history) {
    if (e.kind === "checkpoint" && e.status === "COMPLETED" && !e.is_savepoint) ids.add(e.id);
  }
  const gone = [...ids].filter((id) => !present.has(id));
  if (completed.length === 0) return gone.length === 0 ? [] : [Math.max(...gone)];
  const oldest = Math.min(...completed);
  return gone.filter((id) => id > oldest);
}

/** Why vanished checkpoint `id` of `root` is damaged. */
export function vanishedReason(root: string, id: number): string {
  return `its completion is in ${root}/${HISTORY_FILE}, but ${
    checkpointPaths(root).metadata(id)
  } is gone`;
}
