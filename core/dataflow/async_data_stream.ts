/**
 * Async I/O (Flink's AsyncDataStream): calls an async function per record, a
 * `fetch` or a database lookup, with many calls in flight per subtask.
 *
 * @module
 */
import { AsyncWaitOperator, checkAsyncWaitOptions } from "../runtime/async_wait_operator.ts";
import type { AsyncFunction, AsyncRetryStrategy } from "./async_function.ts";
import { DataStream } from "./data_stream.ts";
import { checkUserFunction } from "./_user_function.ts";
import { ConfigError } from "../errors.ts";
import { describeValue } from "../runtime/_sync_call.ts";
import { outputSerializerOf } from "../runtime/graph.ts";

/** The default number of calls in flight per subtask (Flink's default). */
export const DEFAULT_ASYNC_CAPACITY = 100;

function asyncWait<I, O>(
  ordered: boolean,
  stream: DataStream<I>,
  fn: AsyncFunction<I, O>,
  timeoutMs: number,
  capacity: number,
  retry: AsyncRetryStrategy<O> | undefined,
): DataStream<O> {
  const options = {
    ordered,
    timeoutMs,
    capacity,
    retry: retry as AsyncRetryStrategy<unknown> | undefined,
  };
  const call = `AsyncDataStream.${ordered ? "orderedWait" : "unorderedWait"}`;
  checkUserFunction(call, fn, ["asyncInvoke"], true);
  const timeout: unknown = (fn as { timeout?: unknown }).timeout;
  if (typeof fn === "object" && timeout !== undefined && typeof timeout !== "function") {
    throw new ConfigError(
      `${call}: the function's timeout must be a method, got ${describeValue(timeout)}`,
    );
  }
  checkAsyncWaitOptions(options);
  const node = stream.env.addNode({
    kind: "operator",
    name: ordered ? "Async Wait (ordered)" : "Async Wait (unordered)",
    inputs: [stream.edge()],
    // The input's serializer when the job is built (`returns` may come after this call).
    createOperator: () =>
      new AsyncWaitOperator<I, O>(fn, {
        ...options,
        inputSerializer: outputSerializerOf(stream.node, stream.sideOutput),
      }),
  });
  return new DataStream<O>(stream.env, node);
}

/**
 * Async I/O on a stream. Each record's call resolves to its results; at most
 * `capacity` calls are in flight per subtask, and at capacity the task stops
 * taking input (backpressure) while results keep coming. `orderedWait` emits
 * results in input order, `unorderedWait` as calls complete; in both modes a
 * watermark is emitted only after every record before it, and records after
 * it wait for it. A call that does not finish within `timeoutMs` (over all
 * retries) calls the function's `timeout`, or fails the job. Records in
 * flight are stored in checkpoints (with the input's serializer: `returns`, else
 * `Serializers.plain`) and called again on restore as they were, so
 * exactly-once jobs lose and double nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncDataStream, CollectSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create();
 * const out = new CollectSink<string>();
 * // Later records answer sooner: unordered emits them first, ordered keeps input order.
 * const lookup = (n: number) =>
 *   new Promise<string[]>((resolve) => setTimeout(() => resolve([`user${n}`]), 40 - n * 10));
 * AsyncDataStream.orderedWait(env.fromElements(1, 2, 3), lookup, 1000, 10).addSink(out);
 * await env.execute();
 * assert.deepEqual(out.values, ["user1", "user2", "user3"]);
 * ```
 */
export class AsyncDataStream {
  private constructor() {}
  /** Emits each record's results in input order. */
  static orderedWait<I, O>(
    stream: DataStream<I>,
    fn: AsyncFunction<I, O>,
    timeoutMs: number,
    capacity: number = DEFAULT_ASYNC_CAPACITY,
    retryStrategy?: AsyncRetryStrategy<O>,
  ): DataStream<O> {
    return asyncWait(true, stream, fn, timeoutMs, capacity, retryStrategy);
  }
  /** Emits results as calls complete (watermarks still keep their place). */
  static unorderedWait<I, O>(
    stream: DataStream<I>,
    fn: AsyncFunction<I, O>,
    timeoutMs: number,
    capacity: number = DEFAULT_ASYNC_CAPACITY,
    retryStrategy?: AsyncRetryStrategy<O>,
  ): DataStream<O> {
    return asyncWait(false, stream, fn, timeoutMs, capacity, retryStrategy);
  }
}
