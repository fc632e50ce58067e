/**
 * Worker side of `changed_rows_worker.ts`: per message, finds one
 * checkpoint's changed entries (reading the segment files itself) and replies
 * with the rows, or writes a checkpoint's parts to a store through a
 * connection of its own and replies with what it wrote; or the error.
 *
 * @module
 */
import { DenoCheckpointFs } from "../checkpoint_fs.ts";
import { changedRows } from "./changed_entries.ts";
import {
  type ChangedRowsReply,
  type ChangedRowsRequest,
  loadedOf,
  type PartPlanFiles,
} from "./changed_rows_worker.ts";
import { openRemoteStore } from "./open_remote_store.ts";
import type { PartWriterAddress, RemoteStore } from "./remote_store.ts";
import { type PartsWritten, writeParts } from "./_write_parts.ts";

// Not at a lower priority: the checkpoint's completion must keep pace with the job.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ChangedRowsRequest>) => void) | null;
  postMessage(message: ChangedRowsReply): void;
};

const fs = new DenoCheckpointFs();
// One connection per store; one that failed to open is opened again next time.
const stores = new Map<string, Promise<RemoteStore>>();

function storeAt(a: PartWriterAddress): Promise<RemoteStore> {
  const key = JSON.stringify([a.kind, a.url, a.job]);
  let store = stores.get(key);
  if (!store) {
    store = openRemoteStore({ kind: a.kind, url: a.url }, a.job);
    stores.set(key, store);
    store.catch(() => stores.delete(key));
  }
  return store;
}

type Snapshot = Parameters<typeof changedRows>[2];

function rowsOf(prev: Snapshot | undefined, next: Snapshot) {
  return [...changedRows(fs, prev, next)];
}

async function write(address: PartWriterAddress, plan: PartPlanFiles): Promise<PartsWritten> {
  const store = await storeAt(address);
  return await writeParts(
    store,
    { ...plan, prev: loadedOf(plan.prev), next: loadedOf(plan.next)! },
    {
      // Found as the parts are written: the rows are never all held at once.
      changedRows: (prev, next) => Promise.resolve(changedRows(fs, prev, next)),
      readFile: (path) => fs.readFile(path),
    },
  );
}

async function close(): Promise<void> {
  const open = [...stores.values()];
  stores.clear();
  await Promise.all(open.map((s) => s.then((s) => s.close()).catch(() => {})));
}

scope.onmessage = async ({ data }) => {
  const { id } = data;
  try {
    if (data.op === "rows") {
      scope.postMessage({ id, rows: rowsOf(loadedOf(data.prev), loadedOf(data.next)!) });
    } else if (data.op === "write") {
      scope.postMessage({ id, written: await write(data.store, data.plan) });
    } else {
      await close();
      scope.postMessage({ id, closed: true });
    }
  } catch (e) {
    scope.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
};
