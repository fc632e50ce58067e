// Starting the store's background threads (module workers) where the job's
// permissions let them load; where not, callers do the work on their own
// thread, and the process says once what it skipped.

import { ffiDenied } from "./_libc.ts";
import { noteSkipped } from "./_skip_note.ts";

/**
 * Whether a module worker at `url` can load here; when not, says once what
 * the store skips for want of which permission (callers then do the work on
 * their own thread).
 */
export function canStartBackgroundWorker(url: URL): boolean {
  const missing = missingLoadPermission(url);
  if (missing === undefined) return true;
  noteSkipped(
    "background store threads (flushes, compactions and snapshot writes run on the job thread)",
    missing,
  );
  return false;
}

/**
 * Starts the module worker at `url`, a background thread of the store (a
 * helper pool's thread, `_helper_pool.ts`) that lowers its own priority for
 * low-priority work (`_thread_priority.ts`, with FFI).
 * Deno loads a worker's modules only with the permission to: read access
 * for `file:` modules (a checkout: the package's folder, as the worker
 * imports weir's core too), import access for remote ones (JSR's host is
 * allowed by default). Without it this throws, and callers do the work on
 * their own thread. Each step skipped for want of a permission is said once.
 */
export function startBackgroundWorker(url: URL): Worker {
  if (!canStartBackgroundWorker(url)) {
    throw new Deno.errors.NotCapable(`cannot load ${url.href} (${missingLoadPermission(url)})`);
  }
  const worker = new Worker(url.href, { type: "module" });
  if (ffiDenied()) {
    noteSkipped("lowering the CPU priority of background store threads", "--allow-ffi");
  }
  return worker;
}

/** The flag a worker at `url` needs to load and this process lacks, if any. */
function missingLoadPermission(url: URL): string | undefined {
  let desc: Deno.PermissionDescriptor;
  let flag: string;
  if (url.protocol === "file:") {
    const root = new URL("..", url);
    desc = { name: "read", path: root };
    flag = `--allow-read=${decodeURIComponent(root.pathname).replace(/\/$/, "")}`;
  } else if (url.protocol === "https:" || url.protocol === "http:") {
    const host = `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
    desc = { name: "import", host };
    flag = `--allow-import=${host}`;
  } else return undefined;
  try {
    return Deno.permissions.querySync(desc).state === "granted" ? undefined : flag;
  } catch {
    return flag;
  }
}
