/**
 * Writes one checkpoint's parts (one per subtask: its changed entries and the
 * segments it uploads) to a {@linkcode RemoteStore}: on the changed-rows
 * worker for stores whose parts any connection may write, else on the
 * calling thread. See `changed_rows_worker.ts`.
 *
 * @module
 */
import { CheckpointError } from "../../errors.ts";
import type { LoadedManifest } from "../storage.ts";
import type { ChangedRow } from "./changed_entries.ts";
import type { RemotePart, RemoteStore, StateRow } from "./remote_store.ts";

/** A segment a part uploads. */
export interface PartSegment {
  /** Its name. */
  readonly name: string;
  /** Its file. */
  readonly path: string;
  /** The subtask whose part carries it. */
  readonly subtask: number;
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
  /** The changed entries between two checkpoints. */
  changedRows(prev: LoadedManifest | undefined, next: LoadedManifest): Promise<ChangedRow[]>;
  /** A file's bytes, undefined when it is missing. */
  readFile(path: string): Uint8Array | undefined;
}

/** Writes the parts of `plan` to `store`, concurrently; none is visible before `complete()`. */
export async function writeParts(
  store: RemoteStore,
  plan: PartPlan,
  sources: PartSources,
): Promise<PartsWritten> {
  const parts = new Map<
    number,
    { segments: Map<string, Uint8Array>; rows: StateRow[]; reset?: boolean }
  >();
  const partOf = (subtask: number) => {
    let part = parts.get(subtask);
    if (!part) parts.set(subtask, part = { segments: new Map(), rows: [] });
    return part;
  };
  let reset = plan.reset;
  let note: string | undefined;
  let rows = 0;
  if (plan.checkpoint) {
    let changed;
    try {
      changed = await sources.changedRows(plan.prev, plan.next);
    } catch (e) {
      if (!plan.prev) throw e;
      note = `reading the previous checkpoint's segments failed, writing every entry: ${e}`;
      changed = await sources.changedRows(undefined, plan.next);
      reset = true;
    }
    for (const { row, subtask } of changed) partOf(subtask).rows.push(row);
    rows = changed.length;
  }
  if (reset) { for (const p of parts.values()) p.reset = true; }
  let segmentBytes = 0;
  for (const { name, path, subtask } of plan.segments) {
    const bytes = sources.readFile(path);
    if (!bytes) throw new CheckpointError(`segment ${name} of ${plan.next.dir} is missing`);
    partOf(subtask).segments.set(name, bytes);
    segmentBytes += bytes.length;
  }
  if (parts.size === 0) partOf(0);
  await Promise.all([...parts.values()].map((p: RemotePart) => store.writePart(plan.id, p)));
  return { rows, segmentBytes, reset, ...(note === undefined ? {} : { note }) };
}
