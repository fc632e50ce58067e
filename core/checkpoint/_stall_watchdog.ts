/**
 * The main thread's watchdog. The checkpoint coordinator runs on the main
 * thread beside the subtasks placed there (every subtask inline, worker 0's
 * share on workers). A user function there that never returns holds the
 * coordinator too: no checkpoint times out, the job never fails, and it
 * hangs. Flink's answer to a task that does not stop is its task
 * cancellation watchdog, which kills the TaskManager process after
 * `task.cancellation.timeout`. This one is a Web Worker that imports
 * nothing: a timer of the main thread moves a deadline forward while its
 * event loop turns, and the watchdog kills the process (SIGKILL, as `kill -9`,
 * after which `--restore latest` resumes) once the deadline has passed.
 *
 * Layout of the shared buffer: one Float64, the deadline in ms since the
 * epoch (0: not armed).
 *
 * @module
 */

/** The Web Worker's whole code: no imports, so its start costs a bare worker's. */
const WATCHDOG_SOURCE = `
let deadline, message, timer;
self.onmessage = (e) => {
  ({ message } = e.data);
  deadline = new Float64Array(e.data.buffer);
  timer = setInterval(() => {
    const at = deadline[0];
    if (at === 0 || Date.now() <= at) return;
    clearInterval(timer);
    console.error(message);
    try {
      Deno.kill(Deno.pid, "SIGKILL");
    } catch (err) {
      console.error("weir: the watchdog cannot kill the process (" + err.message +
        "): run the job with --allow-run, or end it by hand");
    }
  }, e.data.checkEveryMs);
};`;

/**
 * Kills the process when the main thread's event loop has not turned for
 * `limitMs`: a timer there moves the deadline forward while it runs.
 */
export class StallWatchdog {
  readonly #limitMs: number;
  readonly #message: string;
  readonly #deadline = new Float64Array(new SharedArrayBuffer(8));
  #worker: Worker | undefined;
  #beats: ReturnType<typeof setInterval> | undefined;

  /** `message`: what the process prints before it is killed. */
  constructor(limitMs: number, message: string) {
    this.#limitMs = limitMs;
    this.#message = message;
  }

  /** Arms it: starts the Web Worker and the main thread's beats. */
  start(): void {
    if (this.#worker) return;
    const beat = () => void (this.#deadline[0] = Date.now() + this.#limitMs);
    beat();
    // Beats and checks both often enough that the kill comes late by at most a tenth of the limit.
    const every = Math.max(1, Math.min(1000, Math.ceil(this.#limitMs / 10)));
    this.#beats = setInterval(beat, every);
    this.#worker = new Worker(
      `data:application/javascript,${encodeURIComponent(WATCHDOG_SOURCE)}`,
      { type: "module", name: "weir-watchdog" },
    );
    this.#worker.postMessage({
      buffer: this.#deadline.buffer,
      message: this.#message,
      checkEveryMs: every,
    });
  }

  /** Disarms it and ends its Web Worker (which would keep the process alive). */
  stop(): void {
    this.#deadline[0] = 0;
    clearInterval(this.#beats);
    this.#worker?.terminate();
    this.#worker = undefined;
  }
}
