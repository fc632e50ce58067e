// Background threads yield the CPU to the job's thread.
//
// On a machine with few cores a worker that flushes or compacts competes
// with the job's thread (and V8's GC threads) for a core; the scheduler
// splits the time evenly, so the job loses throughput to work that could
// wait. RocksDB lowers its background threads' priority for the same reason
// (Env::LowerThreadPoolCPUPriority). Linux only, with the FFI permission:
// setpriority() on the calling thread's id raises its nice value; anything
// else leaves the thread as it is.

import { ffiDenied, openLibc } from "./_libc.ts";
import { noteSkipped } from "./_skip_note.ts";

/** The nice value background workers take (0 is the default, 19 the lowest). */
export const BACKGROUND_NICE = 10;
const PRIO_PROCESS = 0;

/**
 * Lowers the calling thread's CPU priority to `nice`. Returns whether it
 * did (false off Linux, without the FFI permission, or when libc refuses).
 */
export function lowerThreadPriority(nice = BACKGROUND_NICE): boolean {
  const libc = openLibc({
    gettid: { parameters: [], result: "i32" },
    setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
  });
  if (libc === undefined) return false;
  try {
    return libc.symbols.setpriority(PRIO_PROCESS, libc.symbols.gettid(), nice) === 0;
  } finally {
    libc.close();
  }
}

/**
 * Starts the module worker at `url`, a background thread of the store that
 * lowers its own priority first (see {@linkcode lowerThreadPriority}).
 * Deno loads a worker's modules only with the permission to: read access
 * for `file:` modules (a checkout: the package's folder, as the worker
 * imports weir's core too), import access for remote ones (JSR's host is
 * allowed by default). Without it this throws, and callers do the work on
 * their own thread. Each step skipped for want of a permission is said once.
 */
export function startBackgroundWorker(url: URL): Worker {
  const missing = missingLoadPermission(url);
  if (missing !== undefined) {
    noteSkipped(
      "background store threads (flushes, compactions and snapshot writes run on the job thread)",
      missing,
    );
    throw new Deno.errors.NotCapable(`cannot load ${url.href} (${missing})`);
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
