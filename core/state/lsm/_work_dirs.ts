/**
 * Working folders of keyed LSM backends. Each gets an owner file naming its
 * host and process, so that a later process on the same host removes the
 * folders of processes that died without disposing them (`kill -9`): their
 * segments are copies (hard links) of what checkpoints hold, or state that
 * no one can restore any more. A folder without an owner file, of another
 * host, or whose owner may still run is left alone.
 *
 * @module
 */
import { formatOwner, hostname, parseOwner, processRuns } from "../../_process_owner.ts";

/** The owner file: `host\npid`. */
const OWNER = ".owner";
/** Parents and prefixes swept by this process already (once each). */
const swept = new Set<string>();

/**
 * Makes a fresh working folder named `prefix…` under `parent` (undefined:
 * the temporary folder) and marks it as this process's. The first call for a
 * parent and prefix also removes that prefix's folders whose owner died.
 */
export function makeWorkDir(parent: string | undefined, prefix: string): string {
  const dir = Deno.makeTempDirSync(parent === undefined ? { prefix } : { dir: parent, prefix });
  const host = hostname();
  if (host === undefined) return dir; // no sys permission: owners cannot be judged
  try {
    Deno.writeTextFileSync(`${dir}/${OWNER}`, formatOwner({ host, pid: Deno.pid }));
  } catch (e) {
    // Without its owner file (a full disk) no later process would remove it.
    Deno.removeSync(dir, { recursive: true });
    throw e;
  }
  const where = dir.slice(0, dir.lastIndexOf("/"));
  if (!swept.has(`${where}/${prefix}`)) {
    swept.add(`${where}/${prefix}`);
    removeStaleWorkDirs(where, prefix);
  }
  return dir;
}

/**
 * Removes the folders named `prefix…` under `parent` whose owner file names
 * this host and a process that no longer runs (Linux: no `/proc/<pid>`).
 * Returns the removed paths. Elsewhere it removes nothing.
 */
export function removeStaleWorkDirs(parent: string, prefix: string): string[] {
  const host = hostname();
  if (Deno.build.os !== "linux" || host === undefined) return [];
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(parent)];
  } catch {
    return removed;
  }
  for (const e of entries) {
    if (!e.isDirectory || !e.name.startsWith(prefix)) continue;
    const dir = `${parent}/${e.name}`;
    let text: string;
    try {
      text = Deno.readTextFileSync(`${dir}/${OWNER}`);
    } catch {
      continue; // no owner file: not a folder this code made
    }
    const owner = parseOwner(text);
    if (owner?.host !== host || owner.pid === Deno.pid || processRuns(owner.pid)) continue;
    try {
      Deno.removeSync(dir, { recursive: true });
      removed.push(dir);
    } catch { /* another process swept it first */ }
  }
  return removed;
}
