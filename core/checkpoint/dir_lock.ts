/**
 * One writer per directory: a running job locks its checkpoint directory, the
 * exactly-once file sink its output directory, `weir checkpoints gc --delete`
 * the checkpoint directory it cleans. Two jobs on one directory would delete
 * each other's pending files and checkpoints.
 *
 * The lock is an OS file lock (`flock`) on `DIR/.weir-lock`: the kernel
 * drops it when the process ends, however it ends (`kill -9` included), so it
 * is never stale and never needs breaking. The file also names its holder
 * (host, pid, process start, job), so the second job's error says who. A
 * release removes the file; one a killed process left is taken over.
 *
 * @module
 */
import { DirectoryInUseError } from "../errors.ts";
import { folderError } from "./checkpoint_fs.ts";
import {
  describeOwner,
  formatOwner,
  hostname,
  parseOwner,
  type ProcessOwner,
  processRuns,
  thisProcess,
} from "../_process_owner.ts";

/** The lock file in a locked directory (hidden, as a name starting with `.` is). */
export const LOCK_FILE = ".weir-lock";

/**
 * A held directory lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockDirectory } from "./dir_lock.ts";
 * const dir = Deno.makeTempDirSync();
 * const lock = lockDirectory(dir, 'job "a"', "Checkpoint directory");
 * assert.throws(() => lockDirectory(dir, 'job "b"', "Checkpoint directory"), /in use by job "a"/);
 * lock.release();
 * lockDirectory(dir, 'job "b"', "Checkpoint directory").release();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface DirectoryLock {
  /** The locked directory. */
  readonly dir: string;
  /** Releases the lock (idempotent). */
  release(): void;
}

/** A lock taken, or who holds it (undefined when its lock file names no one yet). */
export type LockAttempt =
  | { readonly lock: DirectoryLock }
  | { readonly heldBy: ProcessOwner | undefined };

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Locks `dir` (created if missing) for `holder` (`job "word count"`) when no
 * other process or lock in this process holds it; otherwise says who does.
 */
export function tryLockDirectory(dir: string, holder: string): LockAttempt {
  Deno.mkdirSync(dir, { recursive: true });
  const path = `${dir}/${LOCK_FILE}`;
  for (;;) {
    // No truncate on open: the holder's name must stay readable until the lock is ours.
    const file = Deno.openSync(path, { read: true, write: true, create: true });
    let locked = false;
    try {
      locked = file.tryLockSync(true);
      // A holder that released meanwhile unlinked what we opened: lock the file now there.
      if (locked && !isFileAt(file, path)) locked = false;
      else if (!locked) return { heldBy: readHolder(path) };
    } finally {
      if (!locked) file.close();
    }
    if (locked) return { lock: holdLock(file, path, dir, holder) };
  }
}

/** Whether `file` is still the file named `path` (not unlinked or replaced). */
function isFileAt(file: Deno.FsFile, path: string): boolean {
  const mine = file.statSync();
  try {
    const there = Deno.statSync(path);
    return there.ino === mine.ino && there.dev === mine.dev;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Writes this process's name into the locked file; the lock's release removes the file. */
function holdLock(file: Deno.FsFile, path: string, dir: string, holder: string): DirectoryLock {
  try {
    const me = thisProcess(holder) ??
      { host: "(unknown host)", pid: Deno.pid, startedAt: performance.timeOrigin, holder };
    file.truncateSync(0);
    const bytes = new TextEncoder().encode(formatOwner(me) + "\n");
    let n = 0;
    while (n < bytes.length) n += file.writeSync(bytes.subarray(n));
  } catch (e) {
    file.close();
    throw e;
  }
  let held = true;
  return {
    dir,
    release() {
      if (!held) return;
      held = false;
      try {
        // Unlinked while still locked: whoever opened it meanwhile sees it is gone and retries.
        Deno.removeSync(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      } finally {
        file.close(); // closing drops the lock
      }
    },
  };
}

/**
 * Locks `dir` for `holder`, or throws a `DirectoryInUseError` naming the
 * holder; `what` names the directory in it (`Checkpoint directory`). With
 * `shareWithThisProcess`, a lock this process already holds for the same
 * holder (another worker thread of the same job) counts as taken.
 */
export function lockDirectory(
  dir: string,
  holder: string,
  what: string,
  options: { readonly shareWithThisProcess?: boolean } = {},
): DirectoryLock {
  let attempt: LockAttempt;
  try {
    attempt = tryLockDirectory(dir, holder);
  } catch (e) {
    // A directory this process may not write (permissions, a read-only file system).
    throw folderError(e, what, dir, "cannot be written");
  }
  if ("lock" in attempt) return attempt.lock;
  // The worker executor's workers of one job share a process: a sibling worker
  // holding the directory for the same holder is this job, not another one.
  const held = attempt.heldBy;
  if (options.shareWithThisProcess && held?.pid === Deno.pid && held.holder === holder) {
    return { dir, release() {} };
  }
  const by = attempt.heldBy
    ? describeOwner(attempt.heldBy)
    : "another process (its lock file names no holder)";
  throw new DirectoryInUseError(
    `${what} ${dir} is in use by ${by}; lock file ${dir}/${LOCK_FILE}. Two jobs writing ` +
      `one directory destroy each other's files: stop the other one, or use another directory`,
  );
}

/**
 * The holder named in a lock file; a holder that just took the lock gets a
 * moment to write it. Until it has, the file may still name the process that
 * held it before and was killed: a name of this host whose process is gone is
 * not the holder (one worker of a restarted job locks the directory while its
 * sibling reads the previous run's name).
 */
function readHolder(path: string): ProcessOwner | undefined {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const owner = parseOwner(Deno.readTextFileSync(path).trimEnd());
      if (owner && !isGone(owner)) return owner;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    Atomics.wait(sleeper, 0, 0, 10);
  }
  return undefined;
}

/** Whether `owner` is a process of this host that no longer runs. */
function isGone(owner: ProcessOwner): boolean {
  return owner.pid !== Deno.pid && owner.host === hostname() && !processRuns(owner.pid);
}
