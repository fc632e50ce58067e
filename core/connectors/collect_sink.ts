/**
 * Sinks for tests and quick looks: collect into an array, or print.
 *
 * @module
 */
import type { SinkContext, SinkFunction } from "./sink.ts";

/**
 * Collects every record (of all subtasks) into `values`, in arrival order.
 *
 * @example
 * ```ts
 * import { CollectSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * env.fromCollection([1, 2, 3]).map((x) => x * 2).addSink(out);
 * await env.execute("double");
 * console.assert(out.values.join() === "2,4,6");
 * ```
 */
export class CollectSink<T> implements SinkFunction<T> {
  /** Every record received. */
  readonly values: T[] = [];
  /** Timestamps, parallel to `values`. */
  readonly timestamps: (number | undefined)[] = [];

  /** Appends a record. */
  invoke(value: T, timestamp: number | undefined): void {
    this.values.push(value);
    this.timestamps.push(timestamp);
  }
}

/**
 * Prints every record on its own line to stdout, prefixed by
 * `prefix` and (with parallelism > 1) the subtask number, as Flink does.
 *
 * @example
 * ```ts
 * import { PrintSink } from "@weir/weir";
 * const lines: string[] = [];
 * const sink = new PrintSink<string>("out", (l) => lines.push(l));
 * sink.open({ subtaskIndex: 1, parallelism: 2, operatorUid: "print" });
 * sink.invoke("hi");
 * sink.flush();
 * console.assert(lines[0] === "out:2> hi");
 * ```
 */
export class PrintSink<T> implements SinkFunction<T> {
  readonly #prefix: string;
  readonly #write: (text: string) => void;
  #head = "";
  #pending: string[] = [];

  /** Prints with `prefix`; `write` receives each line (defaults to stdout). */
  constructor(prefix = "", write?: (line: string) => void) {
    this.#prefix = prefix;
    const enc = new TextEncoder();
    this.#write = write ?? ((line) => Deno.stdout.writeSync(enc.encode(line + "\n")));
  }

  /** Computes the line prefix. */
  open(ctx: SinkContext): void {
    const sub = ctx.parallelism > 1 ? String(ctx.subtaskIndex + 1) : "";
    const head = this.#prefix && sub ? `${this.#prefix}:${sub}` : this.#prefix || sub;
    this.#head = head ? `${head}> ` : "";
  }

  /** Buffers a line. */
  invoke(value: T): void {
    this.#pending.push(this.#head + (typeof value === "string" ? value : JSON.stringify(value)));
  }

  /** Writes buffered lines. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const lines = this.#pending;
    this.#pending = [];
    for (const l of lines) this.#write(l);
  }
}
