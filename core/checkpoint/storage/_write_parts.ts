/**
 * Publishes one checkpoint to a {@linkcode RemoteStore}: writes its parts
 * (its changed entries and the segments the store does not hold yet), then
 * completes it. Runs on the changed-rows worker, through a connection of its
 * own, or on the calling thread where no worker runs; see
 * `changed_rows_worker.ts`.
 *
 * @module
 */
import { CheckpointError } from "../../errors.ts";
import type { LoadedManifest } from "../storage.ts";
import type { ChangedRow } from "./changed_entries.ts";
import type { RemoteCompletion, RemotePart, RemoteStore, StateRow } from "./remote_store.ts";

/** A segment a part uploads. */
export interface PartSegment {
  /** Its name. */
  readonly name: string;
  /** Its file. */
  readonly path: string;
}

/** What to write for one checkpoint or savepoint. */
export interface PartPlan {
  /** Checkpoint id. */
  readonly id: number;
  /** A checkpoint (its changed entries are written), not a savepoint. */
  readonly checkpoint: boolean;
  /** The store's latest checkpoint, whose entries the store shows (none: write every entry). */
  readonly prev: LoadedManifest | undefined;
  /** The checkpoint written. */
  readonly next: LoadedManifest;
  /** The parts hold every entry (see `RemoteCompletion.reset`). */
  readonly reset: boolean;
  /** Segments the store does not hold yet. */
  readonly segments: readonly PartSegment[];
}

/** What {@linkcode writeParts} wrote. */
export interface PartsWritten {
  /** Changed entries written. */
  readonly rows: number;
  /** Segment bytes written. */
  readonly segmentBytes: number;
  /** The parts hold every entry: `complete()` must say so. */
  readonly reset: boolean;
  /** Something to log (the previous checkpoint could not be read). */
  readonly note?: string;
}

/** How {@linkcode writeParts} reads. */
export interface PartSources {
  /**
   * The changed entries between two checkpoints: found already, or found as
   * they are iterated (an error then comes from the iteration).
   */
  changedRows(
    prev: LoadedManifest | undefined,
    next: LoadedManifest,
  ): Promise<Iterable<ChangedRow>>;
  /** A file's bytes, undefined when it is missing. */
  readFile(path: string): Uint8Array | undefined;
}

// Changed entries go in parts of at most this many rows, written while the rest are
// still being found: memory stays bounded however many entries changed.
const ROWS_PER_PART = 50_000;
// Segments go in parts of about this many bytes (a segment is never split).
const SEGMENT_BYTES_PER_PART = 16 * 1024 * 1024;
// Parts being written at once, while the next is prepared. One: a checkpoint keeps one
// statement, one server process, busy; more would take more of the database's cores (of
// the job's, where they share a machine) for a checkpoint that completes a little sooner.
const PARTS_IN_FLIGHT = 1;

/**
 * Writes the parts of `plan` to `store`, one at a time while the next is
 * prepared; none is visible before `complete()`. The changed entries and
 * the segments take as many parts as keep each part's size bounded.
 */
export async function writeParts(
  store: RemoteStore,
  plan: PartPlan,
  sources: PartSources,
): Promise<PartsWritten> {
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let sent = 0;
  // Returns once the part is on its way: the caller prepares the next meanwhile.
  const send = async (part: RemotePart) => {
    while (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
    if (failure) throw failure.error;
    sent++;
    const writing: Promise<void> = store.writePart(plan.id, part).then(
      () => void inFlight.delete(writing),
      (error) => {
        inFlight.delete(writing);
        failure ??= { error };
      },
    );
    inFlight.add(writing);
  };
  const drain = async () => {
    await Promise.all(inFlight);
    if (failure) throw failure.error;
  };

  let reset = plan.reset;
  let note: string | undefined;
  let rows = 0;
  const sendRows = async (changed: Iterable<ChangedRow>) => {
    let part: StateRow[] = [];
    for (const { row } of changed) {
      part.push(row);
      rows++;
      if (part.length >= ROWS_PER_PART) {
        await send({ segments: new Map(), rows: part, ...(reset ? { reset } : {}) });
        part = [];
      }
    }
    if (part.length > 0) {
      await send({ segments: new Map(), rows: part, ...(reset ? { reset } : {}) });
    }
  };
  if (plan.checkpoint) {
    try {
      await sendRows(await sources.changedRows(plan.prev, plan.next));
    } catch (e) {
      if (!plan.prev || failure) throw failure ? failure.error : e;
      note = `reading the previous checkpoint's segments failed, writing every entry: ${e}`;
      // Rows written before the failure go: the checkpoint writes every entry now.
      await drain();
      if (sent > 0) await store.discard({ id: plan.id });
      rows = 0;
      reset = true;
      await sendRows(await sources.changedRows(undefined, plan.next));
    }
  }
  let segmentBytes = 0;
  let segments = new Map<string, Uint8Array>();
  let bytes = 0;
  for (const { name, path } of plan.segments) {
    const data = sources.readFile(path);
    if (!data) throw new CheckpointError(`segment ${name} of ${plan.next.dir} is missing`);
    segments.set(name, data);
    bytes += data.length;
    segmentBytes += data.length;
    if (bytes >= SEGMENT_BYTES_PER_PART) {
      await send({ segments, rows: [] });
      segments = new Map();
      bytes = 0;
    }
  }
  if (segments.size > 0 || sent === 0) await send({ segments, rows: [] });
  await drain();
  return { rows, segmentBytes, reset, ...(note === undefined ? {} : { note }) };
}

/**
 * Writes the parts of `plan`, then completes the checkpoint with
 * `completion`: only then is it visible. On failure its parts are discarded
 * (`undiscarded` is called when that fails too: the server is gone) and the
 * error is thrown.
 */
export async function publishParts(
  store: RemoteStore,
  plan: PartPlan,
  completion: Omit<RemoteCompletion, "id" | "reset">,
  sources: PartSources,
  undiscarded: () => void,
): Promise<PartsWritten> {
  try {
    const written = await writeParts(store, plan, sources);
    await store.complete({
      ...completion,
      id: plan.id,
      ...(written.reset ? { reset: true } : {}),
    });
    return written;
  } catch (e) {
    await store.discard({ id: plan.id }).catch(undiscarded);
    throw e;
  }
}
