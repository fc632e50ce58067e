/**
 * The output folder lock of a file sink, shared by its subtasks.
 *
 * @module
 */
import { type DirectoryLock, lockDirectory } from "../checkpoint/dir_lock.ts";
import { inWorkerShare } from "../runtime/_worker_role.ts";

/**
 * One lock for all subtasks of a sink (they inherit the object holding it), taken by the first
 * to open and released by the last to close. Subtasks on the worker executor's other workers have
 * their own copy of the sink, and share the lock as one process.
 */
export class OutputDirLock {
  #lock: DirectoryLock | undefined;
  #users = 0;

  /** Takes the lock for `holder` unless a subtask holds it (`DirectoryInUseError` when taken). */
  acquire(dir: string, holder: string): void {
    if (this.#users === 0) {
      this.#lock = lockDirectory(dir, holder, "Output directory", {
        shareWithThisProcess: inWorkerShare(),
      });
    }
    this.#users++;
  }

  /** One subtask is done with the folder; the last releases the lock. */
  release(): void {
    if (--this.#users === 0) {
      this.#lock?.release();
      this.#lock = undefined;
    }
  }
}
