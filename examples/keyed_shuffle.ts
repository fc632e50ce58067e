/**
 * Keyed running sums across a network shuffle:
 *
 *   deno run -A examples/keyed_shuffle.ts --input FILE --output DIR [common flags]
 *
 * The narrowest permissions (docs/install.md; TMP is the temporary folder,
 * where the LSM backend keeps its working segments):
 *
 *   deno run --allow-read=FILE,DIR,CKPT,TMP --allow-write=DIR,CKPT,TMP \
 *     examples/keyed_shuffle.ts --input FILE --output DIR --checkpoint-dir CKPT
 *
 * Reads FILE through the replayable file source (with `--parallelism 2`, two
 * subtasks reading a byte range each), parses each line `user amount` into an
 * event, keys by user (a shuffle: every source subtask sends to every
 * counting subtask), keeps each user's event count and running sum in state,
 * and for every event emits `user<TAB>n<TAB>sum` (n = the user's event
 * sequence number, sum = the sum of the user's first n amounts) to the
 * exactly-once file sink at DIR. Blank lines are skipped; a malformed line
 * fails the job.
 *
 * Exactly-once means: over all committed files (`DIR/part-*`), each user with
 * `c` events appears as exactly the lines for n = 1 … c, each once, and the
 * differences of consecutive sums are that user's amounts (in an order the
 * shuffle decides). tests/_helpers/keyed_shuffle_check.ts checks it.
 *
 * @module
 */
import {
  type Collector,
  ConfigError,
  ExactlyOnceFileSink,
  type KeyedProcessFunction,
  runMain,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";

/** One parsed input line. */
export interface Event {
  /** The key. */
  user: string;
  /** A finite number. */
  amount: number;
}

/**
 * Parses `user amount`; undefined for a blank line. Throws `ConfigError` on a malformed line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEvent } from "./keyed_shuffle.ts";
 * assert.deepEqual(parseEvent("u7 42"), { user: "u7", amount: 42 });
 * assert.equal(parseEvent("  "), undefined);
 * assert.throws(() => parseEvent("u7"), /expected "user amount"/);
 * ```
 */
export function parseEvent(line: string): Event | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts.length === 1 && parts[0] === "") return undefined;
  const amount = Number(parts[1]);
  if (parts.length !== 2 || parts[1] === "" || !Number.isFinite(amount)) {
    throw new ConfigError(`keyed_shuffle: expected "user amount", got ${JSON.stringify(line)}`);
  }
  return { user: parts[0]!, amount };
}

/** Keeps a user's event count and running sum; emits `user<TAB>n<TAB>sum` per event. */
export class RunningSum implements KeyedProcessFunction<string, Event, string> {
  /** Events of the current user so far. */
  n!: ValueState<number>;
  /** Sum of the current user's amounts so far. */
  sum!: ValueState<number>;

  /** Declares the state. */
  open(ctx: RuntimeContext): void {
    this.n = ctx.getState(new ValueStateDescriptor("n", Serializers.f64, 0));
    this.sum = ctx.getState(new ValueStateDescriptor("sum", Serializers.f64, 0));
  }

  /** Bumps count and sum and emits them. */
  processElement(e: Event, _ctx: unknown, out: Collector<string>): void {
    const n = this.n.value()! + 1;
    const sum = this.sum.value()! + e.amount;
    this.n.update(n);
    this.sum.update(sum);
    out.collect(`${e.user}\t${n}\t${sum}`);
  }
}

/** Builds and runs the job with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    input: { type: "string" },
    output: { type: "string" },
  });
  const input = values.input as string | undefined;
  const output = values.output as string | undefined;
  if (!input) throw new ConfigError("--input FILE is required");
  if (!output) throw new ConfigError("--output DIR is required");
  env.readTextFile(input).uid("lines")
    .flatMap((line: string, out: Collector<Event>) => {
      const e = parseEvent(line);
      if (e) out.collect(e);
    }).uid("parse")
    .keyBy((e) => e.user, Serializers.string)
    .process(new RunningSum()).uid("sum")
    .addSink(new ExactlyOnceFileSink<string>({ dir: output }), { uid: "sink" });
  await env.execute("keyed shuffle");
}

if (import.meta.main) await runMain("keyed_shuffle", main);
