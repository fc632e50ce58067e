/**
 * Worker side of `changed_rows_worker.ts`: per message, finds one
 * checkpoint's changed entries (reading the segment files itself) and replies
 * with the rows, or publishes a checkpoint (writes its parts, completes it)
 * to a store through a connection of its own and replies with what it wrote;
 * or the error.
 *
 * @module
 */
import { DenoCheckpointFs } from "../checkpoint_fs.ts";
import { changedRows } from "./changed_entries.ts";
import {
  type ChangedRowsReply,
  type ChangedRowsRequest,
  type Completion,
  loadedOf,
  type PartPlanFiles,
} from "./changed_rows_worker.ts";
import { openRemoteStore } from "./open_remote_store.ts";
import type { RemoteStore, StoreAddress } from "./remote_store.ts";
import { type PartsWritten, publishParts } from "./_write_parts.ts";
import { lowerThreadPriority } from "../../../statestore-as/_thread_priority.ts";

// At a lower priority, as the LSM store's compactions: the job's thread never waits for
// this work, and on a machine with few cores it would otherwise lose a share of its core
// to it (a first checkpoint of a large state decodes and encodes every entry). When the
// job keeps every core busy, checkpoints take longer to complete and the next one starts
// later; the job's throughput is what stays.
lowerThreadPriority();
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ChangedRowsRequest>) => void) | null;
  postMessage(message: ChangedRowsReply): void;
};

const fs = new DenoCheckpointFs();
// One connection per store (a store may keep track of what a checkpoint wrote until it
// completes: all of it goes through the same); one that failed to open is opened again.
const stores = new Map<string, Promise<RemoteStore>>();

function storeAt(a: StoreAddress): Promise<RemoteStore> {
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

async function publish(
  address: StoreAddress,
  plan: PartPlanFiles,
  completion: Completion,
  undiscarded: () => void,
): Promise<PartsWritten> {
  const store = await storeAt(address);
  const loaded = { ...plan, prev: loadedOf(plan.prev), next: loadedOf(plan.next)! };
  return await publishParts(store, loaded, completion, {
    // Found as the parts are written: the rows are never all held at once.
    changedRows: (prev, next) => Promise.resolve(changedRows(fs, prev, next)),
    readFile: (path) => fs.readFile(path),
  }, undiscarded);
}

async function close(): Promise<void> {
  const open = [...stores.values()];
  stores.clear();
  await Promise.all(open.map((s) => s.then((s) => s.close()).catch(() => {})));
}

scope.onmessage = async ({ data }) => {
  const { id } = data;
  let undiscarded = false;
  try {
    if (data.op === "rows") {
      scope.postMessage({ id, rows: rowsOf(loadedOf(data.prev), loadedOf(data.next)!) });
    } else if (data.op === "publish") {
      const written = await publish(data.store, data.plan, data.completion, () => {
        undiscarded = true;
      });
      scope.postMessage({ id, written });
    } else {
      await close();
      scope.postMessage({ id, closed: true });
    }
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    scope.postMessage({ id, error, ...(undiscarded ? { undiscarded } : {}) });
  }
};
