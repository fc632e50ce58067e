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
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<number>();
 * env.fromCollection([1, 2, 3]).map((x) => x * 2).addSink(out);
 * await env.execute("double");
 * assert.ok(out.values.join() === "2,4,6");
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
 * As Flink's `String.valueOf(record)`, a string prints as it is, a number,
 * bigint or boolean as `String` gives it (`NaN`, `Infinity`, `10`), and an
 * object with a `toString` of its own (a class's) through it; other values
 * print as JSON, or, where JSON would show them wrong (a `NaN` or bigint in
 * them, a `Map`, a `Set`, an undefined field), as `Deno.inspect` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PrintSink } from "@weir/weir";
 * const lines: string[] = [];
 * const sink = new PrintSink<string>("out", (l) => lines.push(l));
 * sink.open({ subtaskIndex: 1, parallelism: 2, operatorUid: "print" });
 * sink.invoke("hi");
 * sink.flush();
 * assert.ok(lines[0] === "out:2> hi");
 * ```
 */
export class PrintSink<T> implements SinkFunction<T> {
  // Plain fields, not #private: the runtime gives each subtask an object that
  // inherits this one (Object.create), and open() sets the per-subtask ones.
  private readonly prefix: string;
  private readonly write: ((line: string) => void) | undefined;
  private head = "";
  private pending: string[] = [];

  /** Prints with `prefix`; `write` receives each line (defaults to stdout). */
  constructor(prefix = "", write?: (line: string) => void) {
    this.prefix = prefix;
    this.write = write;
  }

  /** Computes the line prefix. */
  open(ctx: SinkContext): void {
    const sub = ctx.parallelism > 1 ? String(ctx.subtaskIndex + 1) : "";
    const head = this.prefix && sub ? `${this.prefix}:${sub}` : this.prefix || sub;
    this.head = head ? `${head}> ` : "";
    this.pending = [];
  }

  /** Buffers a line. */
  invoke(value: T): void {
    this.pending.push(this.head + printed(value));
  }

  /** Writes buffered lines (to stdout with one write). */
  flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    if (this.write) {
      for (const l of lines) this.write(l);
      return;
    }
    const bytes = encoder.encode(lines.join("\n") + "\n");
    // A short write continues where it stopped.
    for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
  }

  /**
   * Writes what the batch buffered before the subtask stopped: after a failure (a later
   * record of the batch threw) or a cancel, as Flink's print() has written each record at once.
   */
  close(): void {
    this.flush();
  }
}

const encoder = new TextEncoder();

/** One line, Deno.inspect's other options are for terminals. */
const INSPECT: Deno.InspectOptions = {
  colors: false,
  compact: true,
  breakLength: Infinity,
  depth: Infinity,
  iterableLimit: Infinity,
  strAbbreviateSize: Infinity,
};

/** A record as {@linkcode PrintSink} shows it. */
function printed(value: unknown): string {
  if (typeof value === "string") return value;
  // JSON.stringify gave null for NaN and Infinity and threw on a bigint.
  if (typeof value !== "object" || value === null) return String(value);
  if (hasOwnToString(value)) return String(value);
  let lossy = false;
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (
      v === undefined || typeof v === "bigint" || typeof v === "function" ||
      typeof v === "symbol" || (typeof v === "number" && !Number.isFinite(v)) ||
      v instanceof Map || v instanceof Set
    ) {
      lossy = true; // JSON would drop it, show null or {}, or throw
      return null;
    }
    return v;
  });
  return lossy ? Deno.inspect(value, INSPECT) : json;
}

/** Whether `value`'s toString is its own (a class's), not Object's or Array's; a Date prints as JSON. */
function hasOwnToString(value: object): boolean {
  const f = (value as { toString?: unknown }).toString;
  return typeof f === "function" && f !== Object.prototype.toString &&
    f !== Array.prototype.toString && !(value instanceof Date);
}
