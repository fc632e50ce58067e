/**
 * A stand-in for a job worker in helper_pool_test.ts: given a port to the
 * main thread's helper pool, it submits tasks through it and reports what
 * came back.
 *
 * @module
 */
import { leaseHelperPool, useHelperPoolPort } from "../_helper_pool.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<{ port: MessagePort; size: number; tasks: string }>) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = async ({ data: { port, size, tasks } }) => {
  useHelperPoolPort(port, size);
  const pool = leaseHelperPool()!;
  const module = new URL(tasks);
  const results = await Promise.all(
    [0, 1, 2, 3, 4, 5].map((n) =>
      pool.submit<number>({ name: `square ${n}`, module, input: { op: "square", n, sleepMs: 5 } })
    ),
  );
  const progress: number[] = [];
  const bytes = new Uint8Array([1, 2, 3]);
  await pool.submit({
    name: "chunks",
    module,
    input: { op: "chunks", bytes },
    transfer: [bytes.buffer],
    onProgress: (m) => progress.push((m as Uint8Array)[0]!),
  });
  const error = await pool.submit({
    name: "task in a worker",
    module,
    input: { op: "throw", message: "boom" },
  }).then(() => "", (e: Error) => `${e.constructor.name}: ${e.message}`);
  pool.release();
  scope.postMessage({ results, progress, error });
};
