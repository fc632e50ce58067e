// The store's optional extras (background threads, their lower CPU
// priority, huge pages) need permissions a job may not grant. Without them
// the job runs all the same and says, once, what it skipped and why.

/** What this process has said it skipped. */
const noted = new Set<string>();
/** Workers inherit the process's permissions; the main thread speaks for them. */
const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !==
  "undefined";

/**
 * Says on stderr, once per process and `what`, that `what` was skipped
 * for want of the permission `flag`. Returns whether it printed (never in
 * workers).
 */
export function noteSkipped(what: string, flag: string): boolean {
  const line = `weir: skipped ${what}: needs ${flag}`;
  if (inWorker || noted.has(line)) return false;
  noted.add(line);
  console.error(line);
  return true;
}
