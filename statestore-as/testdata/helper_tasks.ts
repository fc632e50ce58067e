/**
 * Task module for helper_pool_test.ts: what a helper thread runs for each
 * `op` of the input.
 *
 * @module
 */
import type { HelperTaskOutput } from "../_helper_tasks.ts";

type Input =
  | { op: "square"; n: number; sleepMs?: number }
  | { op: "echo"; value: string; sleepMs?: number }
  | { op: "throw"; message: string }
  | { op: "die" }
  | { op: "chunks"; bytes: Uint8Array }
  | { op: "whoami" };

/** This thread, told apart from the pool's others. */
const THREAD = crypto.randomUUID();

/** This thread's nice value where Linux shows it, else undefined. */
function nice(): number | undefined {
  try {
    const stat = Deno.readTextFileSync("/proc/thread-self/stat");
    return Number(stat.split(") ")[1]!.split(" ")[16]);
  } catch {
    return undefined;
  }
}

/** Runs one test task. */
export async function runTask(
  input: unknown,
  progress: (message: unknown, transfer: Transferable[]) => void,
): Promise<HelperTaskOutput> {
  const i = input as Input;
  if ("sleepMs" in i && i.sleepMs) await new Promise((r) => setTimeout(r, i.sleepMs));
  switch (i.op) {
    case "square":
      return { value: i.n * i.n };
    case "echo":
      return { value: i.value };
    case "throw":
      throw new Error(i.message);
    case "die":
      // An error outside the task's promise: the thread itself fails.
      setTimeout(() => {
        throw new Error("the thread died");
      });
      return await new Promise<never>(() => {});
    case "whoami":
      return { value: { thread: THREAD, nice: nice() } };
    case "chunks": {
      for (const b of i.bytes) {
        const chunk = new Uint8Array([b]);
        progress(chunk, [chunk.buffer]);
      }
      const out = i.bytes.map((b) => b * 2);
      return { value: out, transfer: [out.buffer] };
    }
  }
}
