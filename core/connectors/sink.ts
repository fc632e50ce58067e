/**
 * The sink contract: a {@linkcode SinkFunction} receives every record of its
 * subtask, synchronously, and may flush asynchronously between batches.
 *
 * @module
 */

import type { CheckpointedFunction, CheckpointListener, SyncVoid } from "../dataflow/functions.ts";

/**
 * What a sink subtask is told about its place in the job.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type SinkContext, type SinkFunction, StreamEnvironment } from "@weir/weir";
 * const opened: string[] = [];
 * const sink: SinkFunction<number> = {
 *   open(ctx: SinkContext) { opened.push(`${ctx.operatorUid} ${ctx.subtaskIndex}/${ctx.parallelism}`); },
 *   invoke() {},
 * };
 * const env = StreamEnvironment.create();
 * env.fromElements(1, 2).addSink(sink).uid("out");
 * await env.execute();
 * assert.deepEqual(opened, ["out 0/1"]);
 * ```
 */
export interface SinkContext {
  /** This subtask's index. */
  readonly subtaskIndex: number;
  /** How many subtasks the sink has. */
  readonly parallelism: number;
  /** The operator's uid. */
  readonly operatorUid: string;
  /** Where the job reports what it does (restores, recovered transactions). */
  readonly log?: (line: string) => void;
}

/**
 * Writes records somewhere. `invoke` is called once per record; `flush` (if
 * given) after each batch, where a sink can await I/O and so apply
 * backpressure upstream.
 *
 * @example A sink that counts what it sees
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SinkFunction } from "@weir/weir";
 * let seen = 0;
 * const counter: SinkFunction<string> = { invoke() { seen++; } };
 * counter.invoke("x", undefined);
 * assert.ok(seen === 1);
 * ```
 */
export interface SinkFunction<T> extends CheckpointedFunction, CheckpointListener {
  /**
   * Checks, in the job's main thread before its first attempt, what no
   * restart can fix (an output folder that cannot be written); throws
   * `ConfigError` naming it.
   */
  check?(): void;
  /** Called once per subtask before the first record. */
  open?(ctx: SinkContext): void | Promise<void>;
  /** Receives one record and its timestamp. */
  invoke(value: T, timestamp: number | undefined): SyncVoid;
  /** Called after every batch; awaiting here slows the job down (backpressure). */
  flush?(): void | Promise<void>;
  /** Called once at end of input, before `close`. */
  finish?(): void | Promise<void>;
  /** Called once when the subtask stops, also on failure. */
  close?(): void | Promise<void>;
}
