// Background threads yield the CPU to the job's thread.
//
// On a machine with few cores a worker that flushes or compacts competes
// with the job's thread (and V8's GC threads) for a core; the scheduler
// splits the time evenly, so the job loses throughput to work that could
// wait. RocksDB lowers its background threads' priority for the same reason
// (Env::LowerThreadPoolCPUPriority). Work the job's thread waits for is
// the exception: the LSM store's flush worker keeps its priority (writes
// stall on a flush that falls behind). Linux only, with the FFI permission:
// setpriority() on the calling thread's id raises its nice value; anything
// else leaves the thread as it is.

import { openLibc } from "./_libc.ts";

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
