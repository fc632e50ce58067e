/**
 * Flushes and compactions on worker threads. The store's thread copies the
 * frozen memtable out (one memcpy) and installs the finished segment; the
 * sort, merge, encoding, CRCs and (with the default file system) the file
 * writes and fsync run on a worker. One worker per job kind, so a long
 * compaction never holds up the flush a checkpoint waits for.
 *
 * Workers stay up between jobs (a start costs the calling thread a module
 * load and the worker a wasm compile) and stop after IDLE_MS without work,
 * or when the store closes: an idle worker keeps the process alive.
 *
 * @module
 */
import type { StoreJobRequest, StoreJobResult } from "./lsm_store.ts";
import type { StoreJobReply } from "./_store_job_worker.ts";
import { startBackgroundWorker } from "./_background_worker.ts";

const IDLE_MS = 3000;

interface Pending {
  resolve: (r: StoreJobResult) => void;
  reject: (e: Error) => void;
  chunk: (bytes: Uint8Array) => void;
}

interface Slot {
  worker: Worker;
  pending: Pending | undefined;
  idle: ReturnType<typeof setTimeout> | undefined;
}

/** Thrown into a job's promise when it was cancelled (its result is not wanted). */
export class JobCancelled extends Error {}

/** Thrown into a job's promise when its worker died or never started. */
export class WorkerFailed extends Error {}

/** Runs store jobs on workers, one job per kind at a time. */
export class StoreJobWorkers {
  #slots = new Map<StoreJobRequest["kind"], Slot>();
  #broken = false;

  /**
   * Starts `req` on its kind's worker (the arena and offsets of a flush move
   * there); `chunk` receives the file's bytes in order, before the promise
   * resolves. Undefined when no worker can start here: run it on this thread.
   */
  run(
    req: StoreJobRequest,
    chunk: (bytes: Uint8Array) => void,
  ): Promise<StoreJobResult> | undefined {
    const slot = this.#slot(req.kind);
    if (slot === undefined) return undefined;
    if (slot.pending) throw new Error(`a ${req.kind} job is already running`);
    if (slot.idle !== undefined) clearTimeout(slot.idle);
    slot.idle = undefined;
    return new Promise<StoreJobResult>((resolve, reject) => {
      slot.pending = { resolve, reject, chunk };
      const transfer = req.kind === "flush"
        ? [req.arena.buffer as ArrayBuffer, req.offsets.buffer as ArrayBuffer]
        : [];
      slot.worker.postMessage(req, transfer);
    });
  }

  /** Stops the worker running a job of `kind` (its promise rejects with JobCancelled). */
  cancel(kind: StoreJobRequest["kind"]): void {
    this.#stop(kind, new JobCancelled(`${kind} cancelled`));
  }

  /** Stops every worker. */
  close(): void {
    for (const kind of [...this.#slots.keys()]) this.#stop(kind, new JobCancelled("store closed"));
  }

  #stop(kind: StoreJobRequest["kind"], reason: Error): void {
    const slot = this.#slots.get(kind);
    if (slot === undefined) return;
    this.#slots.delete(kind);
    if (slot.idle !== undefined) clearTimeout(slot.idle);
    slot.worker.terminate();
    const pending = slot.pending;
    slot.pending = undefined; // chunks still queued go nowhere
    pending?.reject(reason);
  }

  #slot(kind: StoreJobRequest["kind"]): Slot | undefined {
    const have = this.#slots.get(kind);
    if (have) return have;
    if (this.#broken) return undefined;
    let worker: Worker;
    try {
      worker = startBackgroundWorker(new URL("./_store_job_worker.ts", import.meta.url));
    } catch {
      this.#broken = true; // no workers here (permissions, platform)
      return undefined;
    }
    const slot: Slot = { worker, pending: undefined, idle: undefined };
    worker.onmessage = (e: MessageEvent<StoreJobReply>) => {
      if ("chunk" in e.data) return slot.pending?.chunk(e.data.chunk);
      const p = slot.pending;
      slot.pending = undefined;
      const idle = setTimeout(() => {
        if (this.#slots.get(kind) === slot && !slot.pending) this.#stop(kind, new JobCancelled(""));
      }, IDLE_MS);
      Deno.unrefTimer(idle);
      slot.idle = idle;
      if ("ok" in e.data) p?.resolve(e.data.ok);
      else p?.reject(new Error(e.data.error));
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#stop(kind, new WorkerFailed(`the ${kind} worker failed: ${e.message}`));
    };
    this.#slots.set(kind, slot);
    return slot;
  }
}
