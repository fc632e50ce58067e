/**
 * Runs the split enumerators of a job's sources in the main thread (Flink's
 * SourceCoordinator): it turns readers' messages into enumerator calls and
 * the enumerators' assignments into messages, snapshots the enumerators
 * before each checkpoint's barriers, and remembers which splits were
 * assigned since the last completed checkpoint, to give them back when a
 * reader fails.
 *
 * @module
 */
import type { SplitEnumerator, SplitEnumeratorContext } from "../connectors/split_enumerator.ts";
import type { Source } from "../connectors/source.ts";
import type { EnumeratorToReader, ReaderToEnumerator } from "./control_messages.ts";

/** A source of the job that may have an enumerator. */
export interface EnumeratedSource {
  /** Its uid (where its state lives). */
  readonly uid: string;
  /** The source. */
  readonly source: Source<unknown>;
  /** Its parallelism in this run. */
  readonly parallelism: number;
  /** Its enumerator's state from the checkpoint restored, if any. */
  readonly restoredState?: unknown;
  /** Its readers' unfinished splits from the checkpoint restored: given back to the enumerator. */
  readonly restoredSplits?: readonly unknown[];
}

/** How the source coordinator reaches the rest of the job. */
export interface SourceCoordinatorTarget {
  /** Sends a message to the reader it names (on this thread or a worker). */
  send(msg: EnumeratorToReader): void;
  /** The job fails (an enumerator threw: a directory that cannot be listed). */
  fail(error: Error): void;
  /** The job's clock. */
  now(): number;
}

interface Running {
  readonly enumerator: SplitEnumerator<unknown, unknown>;
  readonly registered: Set<number>;
  /** Splits assigned per subtask after the snapshot of checkpoint `id` (key 0: before any). */
  readonly assigned: Map<number, Map<number, unknown[]>>;
}

/**
 * The enumerators of one job run.
 *
 * @example One directory source, two readers asking in turn
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileSource } from "@weir/weir";
 * import { SourceCoordinator } from "./_source_coordinator.ts";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a.txt`, "a\n");
 * const sent: string[] = [];
 * const sources = new SourceCoordinator([{ uid: "files", source: new FileSource({ path: dir }), parallelism: 2 }], {
 *   send: (m) => void sent.push(`${m.type} ${m.subtask}`),
 *   fail: (e) => { throw e; },
 *   now: () => 0,
 * });
 * sources.start();
 * sources.receive({ type: "splitRequest", uid: "files", subtask: 1 });
 * sources.receive({ type: "splitRequest", uid: "files", subtask: 0 });
 * assert.deepEqual(sent, ["addSplits 1", "noMoreSplits 0"]);
 * sources.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class SourceCoordinator {
  readonly #sources: readonly EnumeratedSource[];
  readonly #target: SourceCoordinatorTarget;
  readonly #running = new Map<string, Running>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** Messages that arrived before `start`. */
  #early: ReaderToEnumerator[] | undefined = [];
  #lastSnapshot = 0;
  #closed = false;

  /** Creates the coordinator of `sources` (those without an enumerator are left out). */
  constructor(sources: readonly EnumeratedSource[], target: SourceCoordinatorTarget) {
    this.#sources = sources;
    this.#target = target;
  }

  /** Creates and starts the enumerators, gives restored splits back, then handles early messages. */
  start(): void {
    for (const s of this.#sources) this.#guard(() => this.#startOne(s));
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const msg of early) this.receive(msg);
  }

  #startOne(s: EnumeratedSource): void {
    const registered = new Set<number>();
    const assigned: Running["assigned"] = new Map();
    const ctx: SplitEnumeratorContext<unknown> = {
      parallelism: s.parallelism,
      registeredReaders: () => [...registered],
      assignSplits: (subtask, splits) => {
        const since = assigned.get(this.#lastSnapshot) ?? new Map<number, unknown[]>();
        assigned.set(this.#lastSnapshot, since);
        since.set(subtask, [...(since.get(subtask) ?? []), ...splits]);
        this.#target.send({ type: "addSplits", uid: s.uid, subtask, splits });
      },
      signalNoMoreSplits: (subtask) =>
        this.#target.send({ type: "noMoreSplits", uid: s.uid, subtask }),
      callPeriodically: (fn, intervalMs) => {
        if (this.#closed) return;
        this.#timers.add(setInterval(() => this.#guard(fn), intervalMs));
      },
      callAsync: (work, handle, intervalMs) => this.#callAsync(work, handle, intervalMs),
      now: () => this.#target.now(),
    };
    const enumerator = s.source.createEnumerator?.(ctx, s.restoredState);
    if (!enumerator) return;
    this.#running.set(s.uid, { enumerator, registered, assigned });
    // A restored job's readers start empty: their splits are assigned again, at any
    // parallelism. Given back before the first discovery, which then knows them.
    if (s.restoredSplits?.length) enumerator.addSplitsBack([...s.restoredSplits], -1);
    enumerator.start();
  }

  /** A reader's message. */
  receive(msg: ReaderToEnumerator): void {
    if (this.#early) {
      this.#early.push(msg);
      return;
    }
    const running = this.#running.get(msg.uid);
    if (!running || this.#closed) return;
    this.#guard(() => {
      if (msg.type === "readerRegistered") {
        running.registered.add(msg.subtask);
        running.enumerator.addReader(msg.subtask);
      } else running.enumerator.handleSplitRequest(msg.subtask);
    });
  }

  /** The enumerators' states for checkpoint `checkpointId`, taken before its barriers go out. */
  snapshot(checkpointId: number): Record<string, unknown> {
    const states: Record<string, unknown> = {};
    for (const [uid, r] of this.#running) states[uid] = r.enumerator.snapshotState(checkpointId);
    this.#lastSnapshot = checkpointId;
    return states;
  }

  /** Checkpoint `checkpointId` completed: its splits are held by the checkpoint now. */
  notifyCheckpointComplete(checkpointId: number): void {
    for (const r of this.#running.values()) {
      for (const id of [...r.assigned.keys()]) if (id < checkpointId) r.assigned.delete(id);
      this.#guard(() => r.enumerator.notifyCheckpointComplete?.(checkpointId));
    }
  }

  /** Checkpoint `checkpointId` was aborted: the enumerators are told (its splits stay assigned). */
  notifyCheckpointAborted(checkpointId: number): void {
    for (const r of this.#running.values()) {
      this.#guard(() => r.enumerator.notifyCheckpointAborted?.(checkpointId));
    }
  }

  /**
   * The reader of `subtask` failed: the splits assigned to it since the last
   * completed checkpoint go back to the enumerator (its older splits are in
   * that checkpoint, restored with the reader).
   */
  readerFailed(uid: string, subtask: number): void {
    const r = this.#running.get(uid);
    if (!r) return;
    const back: unknown[] = [];
    for (const since of r.assigned.values()) {
      back.push(...(since.get(subtask) ?? []));
      since.delete(subtask);
    }
    r.registered.delete(subtask);
    if (back.length > 0) this.#guard(() => r.enumerator.addSplitsBack(back, subtask));
  }

  /** Runs `work`, then `handle` with its result unless closed; again after `intervalMs`. */
  #callAsync<T>(work: () => Promise<T>, handle: (result: T) => void, intervalMs?: number): void {
    if (this.#closed) return;
    let pending: Promise<T>;
    try {
      pending = work();
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending.then((result) => {
      if (this.#closed) return;
      this.#guard(() => handle(result));
      if (intervalMs === undefined || this.#closed) return;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#callAsync(work, handle, intervalMs);
      }, intervalMs);
      this.#timers.add(timer);
    }, (e) => {
      if (!this.#closed) this.#target.fail(e instanceof Error ? e : new Error(String(e)));
    });
  }

  /** Stops periodic discovery and closes the enumerators (their I/O, too). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    const closing: Promise<void>[] = [];
    for (const r of this.#running.values()) {
      this.#guard(() => {
        const done = r.enumerator.close?.();
        if (done) closing.push(done.catch((e) => this.#target.fail(e)));
      });
    }
    await Promise.all(closing);
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#target.fail(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
