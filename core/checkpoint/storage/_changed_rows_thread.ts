/**
 * Worker side of `changed_rows_worker.ts`: finds one checkpoint's changed
 * entries per message (reading the segment files itself) and replies with
 * the rows or the error.
 *
 * @module
 */
import { DenoCheckpointFs } from "../checkpoint_fs.ts";
import { changedRows } from "./changed_entries.ts";
import { type ChangedRowsReply, type ChangedRowsRequest, loadedOf } from "./changed_rows_worker.ts";

// Not at a lower priority: the checkpoint's completion must keep pace with the job.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ChangedRowsRequest>) => void) | null;
  postMessage(message: ChangedRowsReply): void;
};

const fs = new DenoCheckpointFs();
scope.onmessage = ({ data: { id, prev, next } }) => {
  try {
    const rows = [...changedRows(fs, loadedOf(prev), loadedOf(next)!)];
    scope.postMessage({ id, rows });
  } catch (e) {
    scope.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
};
