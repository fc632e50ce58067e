/**
 * Worker 0 of the worker executor, run on the main thread: the main thread
 * has imported the script and weir already, and a Web Worker costs a start
 * of its own (its runtime, the script imported again, its JIT warming up the
 * same code), so at parallelism N only N - 1 Web Workers start.
 *
 * The share talks with the executor through the same messages as a Web
 * Worker (`_worker_protocol.ts`), queued each way in a microtask, in order.
 * Every message but `init` is copied (structured clone), as `postMessage`
 * copies it: neither side sees the other change what it sent, and a message
 * a Worker could not carry fails here too. `init` is not copied: its rings
 * are shared anyway, and its plan is this thread's own.
 *
 * @module
 */
import { type FromWorker, openLink, type ToWorker, type WorkerLink } from "./_worker_protocol.ts";

/** The executor's end of a share run on this thread, shaped as a `Worker`'s. */
export class ThisThreadWorker {
  readonly #receive: (msg: ToWorker) => void;

  /**
   * Starts `run` (the share's body) on worker index `worker`; its messages go
   * to `receive`, and a rejection of `run` to `fail`.
   */
  constructor(
    worker: number,
    run: (link: WorkerLink) => Promise<void>,
    receive: (msg: FromWorker) => void,
    fail: (e: unknown) => void,
  ) {
    const end = openLink(worker, true, (msg) => {
      const copy = structuredClone(msg);
      queueMicrotask(() => receive(copy));
    });
    this.#receive = end.receive;
    run(end.link).catch(fail);
    end.link.post({ type: "ready" });
  }

  /** Sends `msg` to the share. */
  postMessage(msg: ToWorker): void {
    const copy = msg.type === "init" ? msg : structuredClone(msg);
    queueMicrotask(() => this.#receive(copy));
  }

  /** Nothing to stop: `cancel` ended the share's tasks, and no thread of its own is left. */
  terminate(): void {}
}
