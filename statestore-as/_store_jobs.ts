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
 * Cancelling a job terminates its worker, and a terminated worker's memory
 * is not given back soon: so the store waits for a job (`finishNow`, a
 * write stall) rather than cancelling it.
 *
 * @module
 */
import type { StoreJobRequest, StoreJobResult } from "./lsm_store.ts";
import type { StoreJobReply } from "./_store_job_worker.ts";
import { startBackgroundWorker } from "./_background_worker.ts";

const IDLE_MS = 3000;

/**
 * A job as posted to a worker. `signal` is shared memory the worker sets
 * when the job's file is complete, so the store's thread can wait for it
 * without its event loop (see {@linkcode JobSignal}).
 */
export interface JobEnvelope {
  id: number;
  request: StoreJobRequest;
  signal: SharedArrayBuffer;
}

/**
 * The layout of a job's signal: an i32 state at byte 0 (RUNNING, DONE or
 * FAILED) and, once DONE, the result's counts as f64 from byte 8.
 */
export const JobSignal = {
  BYTES: 48,
  RUNNING: 0,
  DONE: 1,
  FAILED: 2,
  /** Writes `result` and the state, and wakes a waiting thread. */
  set(signal: SharedArrayBuffer, result: StoreJobResult | undefined): void {
    const state = new Int32Array(signal, 0, 1);
    if (result) {
      const f = new Float64Array(signal, 8, 4);
      f[0] = result.entries;
      f[1] = result.bytesWritten;
      f[2] = result.bytesRead;
      f[3] = result.blockReads;
    }
    Atomics.store(state, 0, result ? JobSignal.DONE : JobSignal.FAILED);
    Atomics.notify(state, 0);
  },
} as const;

interface Pending {
  resolve: (r: StoreJobResult) => void;
  reject: (e: Error) => void;
  chunk: (bytes: Uint8Array) => void;
  /** Whether the worker writes the file itself (then the store may wait for it). */
  direct: boolean;
}

interface Slot {
  worker: Worker;
  /** Jobs whose final message has not arrived, by id. */
  jobs: Map<number, Pending>;
  /** The job the worker is running or will run; undefined once it finished. */
  current: number | undefined;
  signal: SharedArrayBuffer;
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
  #nextId = 1;

  /**
   * Starts `req` on its kind's worker (the arena and offsets of a flush move
   * there); `chunk` receives the file's bytes in order, before the promise
   * resolves. Undefined when no worker can start here: run it on this thread.
   * The promise settles when the worker's reply arrives, also for a job that
   * `finishNow` already finished.
   */
  run(
    req: StoreJobRequest,
    chunk: (bytes: Uint8Array) => void,
  ): Promise<StoreJobResult> | undefined {
    const slot = this.#slot(req.kind);
    if (slot === undefined) return undefined;
    if (slot.current !== undefined) throw new Error(`a ${req.kind} job is already running`);
    if (slot.idle !== undefined) clearTimeout(slot.idle);
    slot.idle = undefined;
    const id = this.#nextId++;
    return new Promise<StoreJobResult>((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject, chunk, direct: req.tmpPath !== undefined });
      slot.current = id;
      Atomics.store(new Int32Array(slot.signal, 0, 1), 0, JobSignal.RUNNING);
      const transfer = req.kind === "flush"
        ? [req.arena.buffer as ArrayBuffer, req.offsets.buffer as ArrayBuffer]
        : [];
      const envelope: JobEnvelope = { id, request: req, signal: slot.signal };
      slot.worker.postMessage(envelope, transfer);
    });
  }

  /**
   * Blocks this thread up to `timeoutMs` until the running job of `kind`
   * has written its file, and returns its result (an Error when it failed).
   * Undefined when it did not finish in time, or when its bytes stream back
   * through this thread's event loop (then it cannot finish while this
   * thread waits). The worker is free for the next job at once.
   */
  finishNow(kind: StoreJobRequest["kind"], timeoutMs: number): StoreJobResult | Error | undefined {
    const slot = this.#slots.get(kind);
    const id = slot?.current;
    if (slot === undefined || id === undefined || !slot.jobs.get(id)?.direct) return undefined;
    const state = new Int32Array(slot.signal, 0, 1);
    Atomics.wait(state, 0, JobSignal.RUNNING, timeoutMs);
    const st = Atomics.load(state, 0);
    if (st === JobSignal.RUNNING) return undefined;
    slot.current = undefined;
    if (st === JobSignal.FAILED) return new Error(`the ${kind} job failed on its worker`);
    const f = new Float64Array(slot.signal, 8, 4);
    return { entries: f[0]!, bytesWritten: f[1]!, bytesRead: f[2]!, blockReads: f[3]! };
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
    const jobs = [...slot.jobs.values()];
    slot.jobs.clear(); // chunks still queued go nowhere
    slot.current = undefined;
    for (const p of jobs) p.reject(reason);
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
    const slot: Slot = {
      worker,
      jobs: new Map(),
      current: undefined,
      signal: new SharedArrayBuffer(JobSignal.BYTES),
      idle: undefined,
    };
    worker.onmessage = (e: MessageEvent<StoreJobReply>) => {
      const reply = e.data;
      const p = slot.jobs.get(reply.id);
      if ("chunk" in reply) return p?.chunk(reply.chunk);
      slot.jobs.delete(reply.id);
      if (slot.current === reply.id) slot.current = undefined;
      if (slot.jobs.size === 0) {
        const idle = setTimeout(() => {
          if (this.#slots.get(kind) === slot && slot.jobs.size === 0) {
            this.#stop(kind, new JobCancelled(""));
          }
        }, IDLE_MS);
        Deno.unrefTimer(idle);
        slot.idle = idle;
      }
      if ("ok" in reply) p?.resolve(reply.ok);
      else p?.reject(new Error(reply.error));
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#stop(kind, new WorkerFailed(`the ${kind} worker failed: ${e.message}`));
    };
    this.#slots.set(kind, slot);
    return slot;
  }
}
