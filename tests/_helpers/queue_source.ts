/**
 * Test helpers: an unbounded source the test feeds by hand, and polling waits.
 *
 * @module
 */
import type {
  PollStatus,
  Source,
  SourceOutput,
  SourceReader,
} from "../../core/connectors/source.ts";

/**
 * An unbounded, single-subtask source: `push` queues records, `end` finishes
 * it. While the queue is empty the reader reports `"idle"`, so the job keeps
 * running and waits, as it would on a real stream.
 */
export class QueueSource<T> implements Source<T> {
  /** The source's name. */
  readonly name: string;
  /** One subtask reads everything, in push order. */
  readonly maxParallelism = 1;
  readonly #queue: T[] = [];
  #ended = false;
  /** Records the reader emitted so far. */
  emitted = 0;

  /** Creates a source named `name`. */
  constructor(name = "queue") {
    this.name = name;
  }

  /** Queues records. */
  push(...values: T[]): void {
    this.#queue.push(...values);
  }

  /** Ends the source once the queue is drained. */
  end(): void {
    this.#ended = true;
  }

  /** Creates the reader. */
  createReader(): SourceReader<T> {
    return {
      poll: (out: SourceOutput<T>, max: number): PollStatus => {
        let n = 0;
        while (n < max && this.#queue.length > 0) {
          out.collect(this.#queue.shift()!);
          n++;
          this.emitted++;
        }
        if (this.#queue.length > 0) return "more";
        return this.#ended ? "end" : n > 0 ? "more" : "idle";
      },
      position: () => this.emitted,
      restore: () => {},
    };
  }
}

/** Waits (polling every millisecond) until `cond()` holds, or fails after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

export { rng } from "../../statestore-as/_test_util.ts";
