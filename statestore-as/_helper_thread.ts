/**
 * The entry script of a helper pool thread (`_helper_pool.ts`): the task
 * modules weir's stores submit, each imported the first time a task names it.
 *
 * @module
 */
import { type HelperTaskModule, serveHelperTasks } from "./_helper_tasks.ts";

const known: Record<string, () => Promise<HelperTaskModule>> = {
  [new URL("./_store_job_worker.ts", import.meta.url).href]: () => import("./_store_job_worker.ts"),
  [new URL("./_segment_batch_worker.ts", import.meta.url).href]: () =>
    import("./_segment_batch_worker.ts"),
};

serveHelperTasks((module) => known[module]?.());
