/**
 * What a source reads or a sink writes outside the job (a path, a Kafka
 * topic), as a short text. The physical plan carries it, so the plan a worker
 * of the worker executor rebuilds is compared with the main thread's on it
 * too: a temporary folder the script made before `execute()` is another
 * folder in each worker, and the job would write where nobody looks.
 *
 * @module
 */

/** The method that says it; built-in file and Kafka sources and sinks have it. */
export const EXTERNAL: unique symbol = Symbol("weir.external");

/** A source or sink that says what it reads or writes. */
export interface HasExternal {
  /** `reads <path>`, `writes Kafka <servers> <topic>`, … */
  [EXTERNAL](): string;
}

/** What `x` reads or writes outside the job, if it says. */
export function externalOf(x: unknown): string | undefined {
  return typeof x === "object" && x !== null && EXTERNAL in x
    ? (x as HasExternal)[EXTERNAL]()
    : undefined;
}
