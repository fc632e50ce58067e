/**
 * Opening the temporary file of a worker's job.
 *
 * @module
 */
import type { SegmentFile } from "./segment_fs.ts";

/**
 * A temporary file the caller created, opened for writing (never created):
 * a job the caller has given up on, and whose file it removed, cannot leave
 * one behind.
 */
export function openExisting(path: string): SegmentFile {
  const f = Deno.openSync(path, { write: true });
  return {
    write(data) {
      let at = 0;
      while (at < data.length) at += f.writeSync(data.subarray(at));
    },
    sync: () => f.syncDataSync(),
    close: () => f.close(),
  };
}
