/**
 * The admin API's traffic with the worker executor's workers, kept apart
 * from the data and checkpoint protocol. Each worker sends its subtasks'
 * {@linkcode SubtaskReport}s every {@linkcode REPORT_INTERVAL_MS}, when one of
 * its tasks ends and when asked, and answers state queries for the subtasks it runs;
 * {@linkcode WorkerAdminLink} keeps the main thread's side (the latest
 * reports, requests in flight with their timeouts).
 *
 * @module
 */
import type { Job } from "./job.ts";
import {
  querySubtaskState,
  reportSubtasks,
  reportThread,
  type SubtaskReport,
  type SubtaskStateAnswer,
  type ThreadReport,
} from "./subtask_report.ts";
import type { AdminFromWorker, AdminToWorker } from "./_worker_protocol.ts";

/** How often a worker reports its subtasks unasked. */
export const REPORT_INTERVAL_MS = 1000;
/** How long an on-demand report may take before the latest periodic one is used. */
const REPORT_WAIT_MS = 300;

/** Worker side: answers `msg` for `job` (undefined before the worker built it). */
export function answerAdmin(
  job: Job | undefined,
  msg: AdminToWorker,
  post: (m: AdminFromWorker) => void,
): void {
  switch (msg.type) {
    case "report":
      postReport(job, msg.request, post);
      return;
    case "queryState": {
      if (!job) {
        post({
          type: "stateAnswer",
          request: msg.request,
          answer: { kind: "ended", message: "The worker has not started its tasks yet" },
        });
        return;
      }
      querySubtaskState(job, msg, msg.timeoutMs).then((answer) => {
        try {
          post({ type: "stateAnswer", request: msg.request, answer });
        } catch (e) {
          // A value structured clone cannot carry (a class with private fields, a function).
          post({
            type: "stateAnswer",
            request: msg.request,
            answer: {
              kind: "error",
              message: `The value of state "${msg.stateName}" cannot be sent from the worker: ` +
                (e as Error).message,
            },
          });
        }
      });
      return;
    }
  }
}

/**
 * Posts `job`'s report. A figure a message cannot carry (a user gauge that
 * returns a function) drops that report, never the worker.
 */
function postReport(
  job: Job | undefined,
  request: number | null,
  post: (m: AdminFromWorker) => void,
): void {
  const subtasks = job ? reportSubtasks(job) : [];
  try {
    post({ type: "report", request, subtasks, thread: reportThread(job) });
  } catch {
    // The main thread keeps this worker's previous report (an on-demand request times out).
  }
}

/**
 * Worker side: posts `job`'s report now, unasked. Sent before a snapshot's
 * completion message (messages keep their order), so the figures a completed
 * checkpoint keeps in its history are this worker's as of that snapshot; and
 * when a task ends, so its end reaches the main thread before the worker's
 * answer to a cancel does.
 */
export function reportNow(job: Job, post: (m: AdminFromWorker) => void): void {
  postReport(job, null, post);
}

/** Worker side: posts a report every {@linkcode REPORT_INTERVAL_MS}; returns the stop. */
export function reportPeriodically(
  job: () => Job | undefined,
  post: (m: AdminFromWorker) => void,
): () => void {
  const timer = setInterval(() => {
    const j = job();
    if (j) postReport(j, null, post);
  }, REPORT_INTERVAL_MS);
  // Reports never keep a worker alive on their own.
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/** Main-thread side: the latest reports of every worker, and requests to them. */
export class WorkerAdminLink {
  readonly #send: (worker: number, msg: AdminToWorker) => void;
  readonly #reports: (readonly SubtaskReport[])[];
  readonly #threads: (ThreadReport | undefined)[];
  readonly #pending = new Map<number, (msg: AdminFromWorker) => void>();
  #next = 1;
  #closed = false;

  /** A link to `workers` workers that `send` posts to. */
  constructor(workers: number, send: (worker: number, msg: AdminToWorker) => void) {
    this.#send = send;
    this.#reports = Array.from({ length: workers }, () => []);
    this.#threads = Array.from({ length: workers }, () => undefined);
  }

  /** Every worker's latest reported subtasks. */
  reports(): SubtaskReport[] {
    return this.#reports.flat();
  }

  /** Every worker's latest report of its thread (none before its first report). */
  threads(): ThreadReport[] {
    return this.#threads.filter((t) => t !== undefined);
  }

  /** A worker's message for the admin API. */
  receive(worker: number, msg: AdminFromWorker): void {
    if (msg.type === "report") {
      this.#reports[worker] = msg.subtasks;
      this.#threads[worker] = msg.thread;
    }
    if (msg.request !== null) {
      const settle = this.#pending.get(msg.request);
      this.#pending.delete(msg.request);
      settle?.(msg);
    }
  }

  #request<T>(
    worker: number,
    build: (request: number) => AdminToWorker,
    timeoutMs: number,
    onAnswer: (msg: AdminFromWorker) => T,
    onTimeout: () => T,
  ): Promise<T> {
    if (this.#closed) return Promise.resolve(onTimeout());
    const request = this.#next++;
    return new Promise<T>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(request);
        resolve(onTimeout());
      }, timeoutMs);
      this.#pending.set(request, (msg) => {
        clearTimeout(timer);
        resolve(onAnswer(msg));
      });
      this.#send(worker, build(request));
    });
  }

  /**
   * Asks every worker for a report now; resolves when all answered or after a
   * short wait (a busy worker's latest periodic report stands in).
   */
  async refresh(): Promise<void> {
    await Promise.all(
      this.#reports.map((_, w) =>
        this.#request(
          w,
          (request) => ({ type: "report", request }),
          REPORT_WAIT_MS,
          () => {},
          () => {},
        )
      ),
    );
  }

  /** Asks `worker` to read a key's state on one of its subtasks, within `timeoutMs`. */
  queryState(
    worker: number,
    query: { uid: string; subtaskIndex: number; stateName: string; key: unknown },
    timeoutMs: number,
  ): Promise<SubtaskStateAnswer> {
    const timeout = (): SubtaskStateAnswer => ({
      kind: "timeout",
      message: `Worker ${worker} did not answer the state query within ${timeoutMs} ms`,
    });
    return this.#request(
      worker,
      (request) => ({ type: "queryState", request, ...query, timeoutMs }),
      // The worker's own task timeout answers first; this one covers a worker that is gone.
      timeoutMs + 1000,
      (msg) =>
        msg.type === "stateAnswer"
          ? msg.answer
          : { kind: "error", message: `Worker ${worker} answered a state query with a report` },
      timeout,
    );
  }

  /** The job ended: requests in flight get their timeout answer now. */
  close(): void {
    this.#closed = true;
    for (const settle of this.#pending.values()) {
      settle({ type: "stateAnswer", request: 0, answer: { kind: "ended", message: "Job ended" } });
    }
    this.#pending.clear();
  }
}
