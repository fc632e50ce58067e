/**
 * One process-wide pool of helper threads for the state stores' background
 * work: the LSM store's flushes and compactions and the heap backend's
 * snapshot sorts. At most one thread per core (`navigator.hardwareConcurrency`)
 * however many stores a process opens: a job of parallelism P used to start
 * up to 2·P store threads, more than the machine has cores.
 *
 * Where the pool lives: in the process's main thread, also under the worker
 * executor. A job worker does not get a pool of its own (W workers would
 * make W pools, W × cores threads); the executor hands each worker a
 * MessagePort to the main thread's pool (`connectHelperPool` on the main
 * side, `useHelperPoolPort` in the worker), and its stores submit through
 * it. A Worker cannot be transferred, but tasks and their buffers can: they
 * move worker → main → helper thread and their results back the same way.
 * The main thread only forwards, so a job worker blocked on its store (a
 * write stall waits in `Atomics.wait`) still gets its queued task started.
 *
 * Threads start lazily (on the first task that finds none free), stop after
 * IDLE_MS without work (an idle worker keeps the process alive, and holds
 * its memory), and all stop when the last lease is released: a store or a
 * snapshot writer holds a lease while open, so a closed job leaves no
 * thread behind (nor does a test). Queued work runs in order, tasks the job
 * waits for (`priority: "normal"`, a flush) ahead of the rest.
 *
 * @module
 */
import { canStartBackgroundWorker, startBackgroundWorker } from "./_background_worker.ts";
import type { HelperReply, HelperRequest } from "./_helper_tasks.ts";

/** How long a thread stays up without work. */
const IDLE_MS = 3000;

const THREAD_URL = new URL("./_helper_thread.ts", import.meta.url);

/** A unit of work for a helper thread. */
export interface HelperTask {
  /** Says what it is, in errors ("flush of 000012.seg"). */
  readonly name: string;
  /** The module that runs it (it exports `runTask`, see `_helper_thread.ts`). */
  readonly module: URL;
  /** The task's input (structured-cloned, `transfer` moved). */
  readonly input: unknown;
  /** Buffers in `input` to move rather than copy. */
  readonly transfer?: Transferable[];
  /**
   * "normal" (default): the job waits for it; it goes ahead of "low" work
   * and keeps its thread's CPU priority. "low" lowers its thread's priority.
   */
  readonly priority?: "normal" | "low";
  /** Called when the task is handed to a thread (it starts without this thread's help then). */
  readonly onDispatch?: () => void;
  /** Messages the task posts while it runs, in order, before it settles. */
  readonly onProgress?: (message: unknown) => void;
  /**
   * Aborting rejects the task with the reason at once: dropped if queued,
   * its thread stopped if running (or, rarely, left to finish unheard).
   */
  readonly signal?: AbortSignal;
}

/** A task's module threw: the message names the task. */
export class HelperTaskFailed extends Error {}

/** The thread running a task died, or none could start: the message names the task. */
export class HelperThreadFailed extends Error {}

/** A holder's view of the pool. */
export interface HelperThreads {
  /** The most tasks that run at once. */
  readonly size: number;
  /**
   * Whether a queued task starts without this thread's event loop (the pool
   * lives in another thread): then this thread may block waiting for it.
   */
  readonly startsElsewhere: boolean;
  /** Runs `task` on a helper thread; resolves with its module's value. */
  submit<R>(task: HelperTask): Promise<R>;
  /**
   * Starts queued tasks on threads that finished their work, though this
   * thread's event loop has not heard it yet (a thread about to block).
   */
  startQueued(): void;
  /**
   * Lets go of the pool: this lease's tasks still queued or running are
   * cancelled; once no lease is left, every thread stops.
   */
  release(): void;
}

/** A task's value and what of it moved (a forwarding thread moves it on). */
interface Outcome {
  value: unknown;
  transfer: Transferable[];
}

interface Queued {
  readonly id: number;
  readonly task: HelperTask;
  resolve(o: Outcome): void;
  reject(e: unknown): void;
  /** Settled: later messages and aborts are ignored. */
  done: boolean;
  /** Its place in its thread's sequence of tasks, once posted. */
  seq: number;
}

interface Thread {
  readonly worker: Worker;
  /** Tasks posted to it whose reply has not arrived, oldest first. */
  inFlight: Queued[];
  /** Tasks posted to it so far. */
  posted: number;
  /** Tasks it finished: it counts them in shared memory before it replies. */
  readonly finished: Int32Array;
  /** Its priority was lowered by a low task. */
  low: boolean;
  idle: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Whether `t` has finished every task posted to it. Read from shared memory,
 * not from its replies: a thread that blocks (a write stall waiting for a
 * flush) processes no replies, and its next task may still go to a thread
 * that finished (the reply comes first, then the task runs).
 */
function free(t: Thread): boolean {
  return Atomics.load(t.finished, 0) === t.posted;
}

/** Options of {@linkcode HelperPool}. */
export interface HelperPoolOptions {
  /** Threads at most (default: the number of cores). */
  size?: number;
  /** Starts a thread running `_helper_thread.ts` (tests count them). */
  startThread?: (url: URL) => Worker;
}

/** The pool of one thread: its own threads and queue. */
export class HelperPool {
  /** The most threads (and tasks running at once). */
  readonly size: number;
  readonly #startThread: (url: URL) => Worker;
  #threads: Thread[] = [];
  #queue: Queued[] = [];
  #leases = 0;
  #nextId = 1;

  constructor(options: HelperPoolOptions = {}) {
    this.size = Math.max(1, options.size ?? navigator.hardwareConcurrency ?? 1);
    this.#startThread = options.startThread ?? startBackgroundWorker;
  }

  /** Threads running now. */
  get threads(): number {
    return this.#threads.length;
  }

  /** Tasks waiting for a thread. */
  get queued(): number {
    return this.#queue.length;
  }

  /** A lease on the pool (see {@linkcode HelperThreads.release}). */
  lease(): HelperThreads & { submitMoving(task: HelperTask): Promise<Outcome> } {
    this.#leases++;
    return leaseOver(
      { size: this.size, startsElsewhere: false, startQueued: () => this.#dispatch() },
      (task) => this.#submit(task),
      () => {
        if (--this.#leases === 0) this.#stopAll();
      },
    );
  }

  #submit(task: HelperTask): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const q: Queued = { id: this.#nextId++, task, resolve, reject, done: false, seq: -1 };
      const signal = task.signal;
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", () => this.#cancel(q, signal.reason), { once: true });
      // Work the job waits for goes ahead of low-priority work, in order otherwise.
      const at = task.priority === "low"
        ? this.#queue.length
        : this.#queue.findIndex((o) => o.task.priority === "low");
      this.#queue.splice(at < 0 ? this.#queue.length : at, 0, q);
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const q = this.#queue[0]!;
      const low = q.task.priority === "low";
      const idle = this.#threads.filter(free);
      // A thread of the task's priority; else a new one; else any free one
      // (normal work on a lowered thread rather than none).
      let t = idle.find((t) => t.low === low);
      if (t === undefined && this.#threads.length < this.size) {
        try {
          t = this.#spawn();
        } catch (e) {
          for (const w of this.#queue.splice(0)) {
            settle(w, () =>
              w.reject(
                new HelperThreadFailed(`${w.task.name}: no helper thread could start: ${e}`),
              ));
          }
          return;
        }
      }
      t ??= idle[0];
      if (t === undefined) return;
      this.#queue.shift();
      this.#run(t, q);
    }
  }

  #run(t: Thread, q: Queued): void {
    if (t.idle !== undefined) clearTimeout(t.idle);
    t.idle = undefined;
    const low = q.task.priority === "low";
    if (low) t.low = true;
    const request: HelperRequest = {
      id: q.id,
      module: q.task.module.href,
      input: q.task.input,
      low,
      finished: t.finished.buffer as SharedArrayBuffer,
    };
    try {
      t.worker.postMessage(request, q.task.transfer ?? []);
    } catch (e) {
      settle(q, () => q.reject(e));
      if (t.inFlight.length === 0) this.#idle(t);
      return;
    }
    q.seq = t.posted++;
    t.inFlight.push(q);
    q.task.onDispatch?.();
  }

  #spawn(): Thread {
    const worker = this.#startThread(THREAD_URL);
    const t: Thread = {
      worker,
      inFlight: [],
      posted: 0,
      finished: new Int32Array(new SharedArrayBuffer(4)),
      low: false,
      idle: undefined,
    };
    worker.onmessage = (e: MessageEvent<HelperReply>) => this.#reply(t, e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#remove(t);
      for (const q of t.inFlight) {
        settle(q, () =>
          q.reject(
            new HelperThreadFailed(`the helper thread running ${q.task.name} failed: ${e.message}`),
          ));
      }
      this.#dispatch();
    };
    this.#threads.push(t);
    return t;
  }

  #reply(t: Thread, r: HelperReply): void {
    const q = t.inFlight.find((q) => q.id === r.id);
    if (q === undefined) return;
    if ("progress" in r) {
      if (!q.done) q.task.onProgress?.(r.progress);
      return;
    }
    t.inFlight = t.inFlight.filter((o) => o !== q);
    if ("value" in r) settle(q, () => q.resolve({ value: r.value, transfer: r.transfer }));
    else settle(q, () => q.reject(new HelperTaskFailed(`${q.task.name} failed: ${r.error}`)));
    if (t.inFlight.length === 0) this.#idle(t);
    this.#dispatch();
  }

  /** Stops `t` after IDLE_MS unless it gets work. */
  #idle(t: Thread): void {
    if (t.idle !== undefined) clearTimeout(t.idle);
    t.idle = setTimeout(() => {
      if (t.inFlight.length === 0) this.#remove(t);
    }, IDLE_MS);
    Deno.unrefTimer(t.idle);
  }

  #cancel(q: Queued, reason: unknown): void {
    if (q.done) return;
    const at = this.#queue.indexOf(q);
    if (at >= 0) this.#queue.splice(at, 1);
    const t = this.#threads.find((t) => t.inFlight.includes(q));
    settle(q, () => q.reject(reason));
    // A task still running cannot be interrupted but by stopping its thread.
    // Not while the replies of tasks it finished are still on their way (the
    // thread runs on, its result is dropped): they belong to other holders.
    const running = t !== undefined && q.seq >= Atomics.load(t.finished, 0);
    if (!running || t.inFlight.length > 1) return;
    this.#remove(t);
    this.#dispatch();
  }

  #remove(t: Thread): void {
    if (t.idle !== undefined) clearTimeout(t.idle);
    t.worker.terminate();
    this.#threads = this.#threads.filter((o) => o !== t);
  }

  #stopAll(): void {
    const why = new Error("the helper pool stopped: no lease is left");
    for (const q of this.#queue.splice(0)) settle(q, () => q.reject(why));
    for (const t of [...this.#threads]) {
      this.#remove(t);
      for (const q of t.inFlight) settle(q, () => q.reject(why));
    }
  }
}

/**
 * A lease over `submit`: a task's own abort signal still works, and
 * releasing cancels the lease's tasks not yet settled, then calls `onRelease`.
 */
function leaseOver(
  base: Pick<HelperThreads, "size" | "startsElsewhere" | "startQueued">,
  submit: (task: HelperTask) => Promise<Outcome>,
  onRelease: () => void,
): HelperThreads & { submitMoving(task: HelperTask): Promise<Outcome> } {
  const mine = new Set<AbortController>();
  let released = false;
  const submitMoving = (task: HelperTask): Promise<Outcome> => {
    if (released) return Promise.reject(new Error(`${task.name}: the lease was released`));
    const ac = new AbortController();
    const outer = task.signal;
    if (outer?.aborted) ac.abort(outer.reason);
    const forward = () => ac.abort(outer!.reason);
    outer?.addEventListener("abort", forward, { once: true });
    mine.add(ac);
    return submit({ ...task, signal: ac.signal }).finally(() => {
      mine.delete(ac);
      outer?.removeEventListener("abort", forward);
    });
  };
  return {
    ...base,
    submitMoving,
    submit: async <R>(task: HelperTask) => (await submitMoving(task)).value as R,
    release: () => {
      if (released) return;
      released = true;
      for (const ac of mine) ac.abort(new Error("the helper pool lease was released"));
      onRelease();
    },
  };
}

function settle(q: Queued, how: () => void): void {
  if (q.done) return;
  q.done = true;
  how();
}

/** A message from a job worker to the main thread's pool. */
type ToPool =
  | {
    op: "submit";
    id: number;
    name: string;
    module: string;
    input: unknown;
    priority: "normal" | "low";
    transfer: Transferable[];
  }
  | { op: "cancel"; id: number; reason: string };

/** The pool's answer about task `id`. */
type FromPool =
  & { id: number }
  & (
    | { progress: unknown; transfer: Transferable[] }
    | { value: unknown; transfer: Transferable[] }
    | { error: string; kind: "task" | "thread" | "cancelled" }
  );

/**
 * The main thread's pool as a job worker sees it: tasks go through `port`.
 * Leases are counted here; the connection holds one lease on the pool.
 */
class RemoteHelperPool {
  readonly size: number;
  #port: MessagePort;
  #nextId = 1;
  #pending = new Map<
    number,
    { task: HelperTask; resolve(o: Outcome): void; reject(e: unknown): void }
  >();

  constructor(port: MessagePort, size: number) {
    this.#port = port;
    this.size = size;
    port.onmessage = (e: MessageEvent<FromPool>) => this.#answer(e.data);
    // Only while tasks are out does the port keep this thread's loop alive.
    (port as MessagePort & { unref?(): void }).unref?.();
  }

  lease(): HelperThreads {
    return leaseOver(
      { size: this.size, startsElsewhere: true, startQueued: () => {} },
      (task) => this.#submit(task),
      () => {},
    );
  }

  #submit(task: HelperTask): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const signal = task.signal;
      if (signal?.aborted) return reject(signal.reason);
      const id = this.#nextId++;
      this.#pending.set(id, { task, resolve, reject });
      signal?.addEventListener("abort", () => {
        if (!this.#pending.delete(id)) return;
        this.#port.postMessage({ op: "cancel", id, reason: String(signal.reason) } as ToPool);
        this.#refresh();
        reject(signal.reason);
      }, { once: true });
      const transfer = task.transfer ?? [];
      const msg: ToPool = {
        op: "submit",
        id,
        name: task.name,
        module: task.module.href,
        input: task.input,
        priority: task.priority ?? "normal",
        transfer,
      };
      this.#port.postMessage(msg, transfer);
      this.#refresh();
    });
  }

  #answer(a: FromPool): void {
    const p = this.#pending.get(a.id);
    if (p === undefined) return;
    if ("progress" in a) return p.task.onProgress?.(a.progress);
    this.#pending.delete(a.id);
    this.#refresh();
    if ("value" in a) return p.resolve({ value: a.value, transfer: a.transfer });
    const E = a.kind === "task"
      ? HelperTaskFailed
      : a.kind === "thread"
      ? HelperThreadFailed
      : Error;
    p.reject(new E(a.error));
  }

  /** The port keeps this thread alive while a task is out (its answer is awaited). */
  #refresh(): void {
    const port = this.#port as MessagePort & { ref?(): void; unref?(): void };
    if (this.#pending.size > 0) port.ref?.();
    else port.unref?.();
  }
}

let local: HelperPool | undefined;
let remote: RemoteHelperPool | undefined;

/** This thread's own pool (created on first use). */
function localPool(): HelperPool {
  return local ??= new HelperPool();
}

/**
 * A lease on the process's helper pool: the main thread's (through the port
 * a job worker was given), or this thread's own. Undefined where no helper
 * thread can start (the job lacks the permission to load its module): the
 * caller does the work on its own thread.
 */
export function leaseHelperPool(): HelperThreads | undefined {
  if (remote !== undefined) return remote.lease();
  if (!canStartBackgroundWorker(THREAD_URL)) return undefined;
  return localPool().lease();
}

/** In a job worker: submit to the main thread's pool through `port` (see {@linkcode connectHelperPool}). */
export function useHelperPoolPort(port: MessagePort, size: number): void {
  remote = new RemoteHelperPool(port, size);
}

/**
 * The main side of a job worker's link to this thread's pool: the port to
 * hand the worker, and `close` (its tasks are cancelled, its lease released).
 */
export function connectHelperPool(pool: HelperPool = localPool()): {
  port: MessagePort;
  size: number;
  close(): void;
} {
  const { port1, port2 } = new MessageChannel();
  const lease = pool.lease();
  const running = new Map<number, AbortController>();
  port1.onmessage = (e: MessageEvent<ToPool>) => {
    const m = e.data;
    if (m.op === "cancel") {
      running.get(m.id)?.abort(new Error(m.reason));
      running.delete(m.id);
      return;
    }
    const ac = new AbortController();
    running.set(m.id, ac);
    lease.submitMoving({
      name: m.name,
      module: new URL(m.module),
      input: m.input,
      transfer: m.transfer,
      priority: m.priority,
      signal: ac.signal,
      onProgress: (progress) => {
        const transfer = progress instanceof Uint8Array ? [progress.buffer as ArrayBuffer] : [];
        port1.postMessage({ id: m.id, progress, transfer } as FromPool, transfer);
      },
    }).then(
      ({ value, transfer }) =>
        port1.postMessage({ id: m.id, value, transfer } as FromPool, transfer),
      (e: unknown) => {
        if (ac.signal.aborted) return; // the worker cancelled it, or the link closed
        const kind = e instanceof HelperTaskFailed
          ? "task"
          : e instanceof HelperThreadFailed
          ? "thread"
          : "cancelled";
        const error = e instanceof Error ? e.message : String(e);
        port1.postMessage({ id: m.id, error, kind } as FromPool);
      },
    ).finally(() => running.delete(m.id));
  };
  return {
    port: port2,
    size: pool.size,
    close: () => {
      for (const ac of running.values()) ac.abort(new Error("the job worker's link closed"));
      running.clear();
      lease.release();
      port1.close();
    },
  };
}
