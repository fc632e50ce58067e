/**
 * Flushes and compactions on helper threads. The store's thread copies the
 * frozen memtable out (one memcpy) and installs the finished segment; the
 * sort, merge, encoding, CRCs and (with the default file system) the file
 * writes and fsync run on a thread of the process's helper pool
 * (`_helper_pool.ts`), shared by every store. A store runs one job per kind
 * at a time; a flush goes ahead of queued compactions and keeps its thread's
 * priority (a checkpoint waits for it), a compaction runs at low priority.
 *
 * Threads stay up between jobs (a start costs a module load and a wasm
 * compile) and stop when idle or when the last store closes. Cancelling a
 * running job stops its thread, and a stopped thread's memory is not given
 * back soon: so the store waits for a job (`finishNow`, a write stall)
 * rather than cancelling it.
 *
 * @module
 */
import type { StoreJobRequest, StoreJobResult } from "./lsm_store.ts";
import { HelperThreadFailed, type HelperThreads, leaseHelperPool } from "./_helper_pool.ts";

const JOB_MODULE = new URL("./_store_job_worker.ts", import.meta.url);

/**
 * A job as posted to a helper thread. `signal` is shared memory the thread
 * sets when the job starts and when its file is complete, so the store's
 * thread can wait for it without its event loop (see {@linkcode JobSignal}).
 */
export interface JobEnvelope {
  request: StoreJobRequest;
  signal: SharedArrayBuffer;
}

/**
 * The layout of a job's signal: an i32 state at byte 0 (QUEUED, RUNNING,
 * DONE or FAILED) and, once DONE, the result's counts as f64 from byte 8.
 */
export const JobSignal = {
  BYTES: 48,
  RUNNING: 0,
  DONE: 1,
  FAILED: 2,
  /** Waiting in the helper pool's queue for a thread. */
  QUEUED: 3,
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

interface Slot {
  /** The job of this kind the store waits for, until it finished; its signal. */
  current: { id: number; signal: SharedArrayBuffer; direct: boolean } | undefined;
  /** Jobs whose result has not arrived, by id: aborting one cancels it. */
  jobs: Map<number, AbortController>;
}

/** Thrown into a job's promise when it was cancelled (its result is not wanted). */
export class JobCancelled extends Error {}

/** Thrown into a job's promise when its thread died or never started. */
export class WorkerFailed extends Error {}

/** Runs a store's jobs on the helper pool, one job per kind at a time. */
export class StoreJobWorkers {
  #slots = new Map<StoreJobRequest["kind"], Slot>();
  #pool: HelperThreads | undefined;
  #broken = false;
  #nextId = 1;

  /**
   * Starts `req` on a helper thread (the arena and offsets of a flush move
   * there); `chunk` receives the file's bytes in order, before the promise
   * resolves. Undefined when no helper thread can start here: run it on this
   * thread. The promise settles when the thread's reply arrives, also for a
   * job that `finishNow` already finished.
   */
  run(
    req: StoreJobRequest,
    chunk: (bytes: Uint8Array) => void,
  ): Promise<StoreJobResult> | undefined {
    if (this.#pool === undefined && !this.#broken) {
      this.#pool = leaseHelperPool();
      this.#broken = this.#pool === undefined; // no threads here (permissions, platform)
    }
    const pool = this.#pool;
    if (pool === undefined) return undefined;
    let slot = this.#slots.get(req.kind);
    if (slot === undefined) {
      this.#slots.set(req.kind, slot = { current: undefined, jobs: new Map() });
    }
    if (slot.current !== undefined) throw new Error(`a ${req.kind} job is already running`);
    const id = this.#nextId++;
    const signal = new SharedArrayBuffer(JobSignal.BYTES);
    Atomics.store(new Int32Array(signal, 0, 1), 0, JobSignal.QUEUED);
    const envelope: JobEnvelope = { request: req, signal };
    const abort = new AbortController();
    slot.jobs.set(id, abort);
    slot.current = { id, signal, direct: req.tmpPath !== undefined };
    const done = () => {
      slot.jobs.delete(id);
      if (slot.current?.id === id) slot.current = undefined;
    };
    return pool.submit<StoreJobResult>({
      name: `the ${req.kind} job`,
      module: JOB_MODULE,
      input: envelope,
      transfer: req.kind === "flush"
        ? [req.arena.buffer as ArrayBuffer, req.offsets.buffer as ArrayBuffer]
        : [],
      priority: req.kind === "flush" ? "normal" : "low",
      // On a thread now: it runs to the end whatever this thread does.
      onDispatch: () => Atomics.store(new Int32Array(signal, 0, 1), 0, JobSignal.RUNNING),
      onProgress: (bytes) => chunk(bytes as Uint8Array),
      signal: abort.signal,
    }).then((result) => {
      done();
      return result;
    }, (e: unknown) => {
      done();
      if (e instanceof HelperThreadFailed) throw new WorkerFailed(e.message);
      throw e;
    });
  }

  /**
   * Blocks this thread up to `timeoutMs` until the running job of `kind`
   * has written its file, and returns its result (an Error when it failed).
   * Undefined when it did not finish in time, when its bytes stream back
   * through this thread's event loop (then it cannot finish while this
   * thread waits), or when it still waits for a thread of a pool that only
   * this thread's event loop can start it on. The kind is free for the next
   * job at once.
   */
  finishNow(kind: StoreJobRequest["kind"], timeoutMs: number): StoreJobResult | Error | undefined {
    const job = this.#slots.get(kind)?.current;
    if (job === undefined || !job.direct || this.#pool === undefined) return undefined;
    const state = new Int32Array(job.signal, 0, 1);
    const deadline = performance.now() + timeoutMs;
    if (Atomics.load(state, 0) === JobSignal.QUEUED) {
      this.#pool.startQueued();
      if (Atomics.load(state, 0) === JobSignal.QUEUED && !this.#pool.startsElsewhere) {
        return undefined; // only this thread's event loop could start it
      }
      Atomics.wait(state, 0, JobSignal.QUEUED, timeoutMs);
    }
    // Woken also when the job starts: wait on until it ends or time is up.
    for (let left = timeoutMs; left > 0; left = deadline - performance.now()) {
      if (Atomics.wait(state, 0, JobSignal.RUNNING, left) === "not-equal") break;
    }
    const st = Atomics.load(state, 0);
    if (st === JobSignal.RUNNING || st === JobSignal.QUEUED) return undefined;
    this.#slots.get(kind)!.current = undefined;
    if (st === JobSignal.FAILED) return new Error(`the ${kind} job failed on its helper thread`);
    const f = new Float64Array(job.signal, 8, 4);
    return { entries: f[0]!, bytesWritten: f[1]!, bytesRead: f[2]!, blockReads: f[3]! };
  }

  /** Cancels the jobs of `kind` (their promises reject with JobCancelled). */
  cancel(kind: StoreJobRequest["kind"]): void {
    const slot = this.#slots.get(kind);
    if (slot === undefined) return;
    this.#slots.delete(kind);
    for (const abort of slot.jobs.values()) abort.abort(new JobCancelled(`${kind} cancelled`));
  }

  /** Cancels every job and lets go of the helper pool. */
  close(): void {
    for (const kind of [...this.#slots.keys()]) this.cancel(kind);
    this.#pool?.release();
    this.#pool = undefined;
  }
}
