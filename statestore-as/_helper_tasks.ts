/**
 * What runs on a thread of the helper pool (`_helper_pool.ts`): the message
 * types, and the loop that runs one task at a time. A task names the module
 * that does it (by URL); the thread's entry script maps that name to an
 * import of a known module ({@linkcode serveHelperTasks}), so every module a
 * thread may load is a static import of its entry. A task of low priority
 * lowers the thread's CPU priority first, for good (an unprivileged thread
 * cannot raise it again): the pool remembers which threads are low.
 *
 * @module
 */
import { lowerThreadPriority } from "./_thread_priority.ts";

/** What a task module exports. */
export interface HelperTaskModule {
  /**
   * Runs the task on `input`. `progress` posts a message to the submitter
   * before the result (moving `transfer`). Returns the result and what of it
   * to move rather than copy.
   */
  runTask(
    input: unknown,
    progress: (message: unknown, transfer: Transferable[]) => void,
  ): HelperTaskOutput | Promise<HelperTaskOutput>;
}

/** A task's result, and the buffers in it to move back. */
export interface HelperTaskOutput {
  value: unknown;
  transfer?: Transferable[];
}

/** A task, as the pool posts it. */
export interface HelperRequest {
  id: number;
  module: string;
  input: unknown;
  low: boolean;
  /** The thread's count of finished tasks, raised before each reply. */
  finished: SharedArrayBuffer;
}

/** What the thread posts back about task `id`; `transfer` lists what moved. */
export type HelperReply =
  & { id: number; transfer: Transferable[] }
  & ({ progress: unknown } | { value: unknown } | { error: string });

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<HelperRequest>) => void) | null;
  postMessage(message: HelperReply, transfer: Transferable[]): void;
};

/**
 * Runs the tasks posted to this thread; `load` imports the module a task
 * names, or returns undefined for a module this thread does not know.
 */
export function serveHelperTasks(
  load: (module: string) => Promise<HelperTaskModule> | undefined,
): void {
  const modules = new Map<string, Promise<HelperTaskModule>>();
  let lowered = false;
  scope.onmessage = async ({ data: { id, module, input, low, finished } }) => {
    if (low && !lowered) {
      lowerThreadPriority();
      lowered = true;
    }
    let reply: HelperReply;
    try {
      let m = modules.get(module);
      if (m === undefined) {
        m = load(module);
        if (m === undefined) throw new Error(`a helper thread has no task module ${module}`);
        modules.set(module, m);
      }
      const out = await (await m).runTask(input, (progress, transfer) => {
        scope.postMessage({ id, progress, transfer }, transfer);
      });
      const transfer = out.transfer ?? [];
      reply = { id, value: out.value, transfer };
    } catch (e) {
      reply = { id, error: e instanceof Error ? e.message : String(e), transfer: [] };
    }
    // Free for the next task: the pool may post it before this reply is read.
    Atomics.add(new Int32Array(finished), 0, 1);
    scope.postMessage(reply, reply.transfer);
  };
}
