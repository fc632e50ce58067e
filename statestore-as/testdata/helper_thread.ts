/**
 * The entry script of helper_pool_test.ts's pool threads: they know the test
 * task module only.
 *
 * @module
 */
import { serveHelperTasks } from "../_helper_tasks.ts";

const TASKS = new URL("./helper_tasks.ts", import.meta.url).href;

serveHelperTasks((module) => module === TASKS ? import("./helper_tasks.ts") : undefined);
