/**
 * Kafka errors with the cluster they came from named.
 *
 * @module
 */
import { KafkaError } from "./kafka_error.ts";

/**
 * `e` with the cluster it came from named, when it is a {@linkcode KafkaError}
 * that does not name it (librdkafka's own texts, "Local: Timed out", do not);
 * anything else as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaError } from "./kafka_error.ts";
 * import { naming } from "./_naming.ts";
 * const e = naming(new KafkaError("Kafka flush: Local: Timed out", -185), "h:9092") as KafkaError;
 * assert.equal(e.message, "Kafka flush: Local: Timed out (cluster h:9092)");
 * assert.equal(e.code, -185);
 * ```
 */
export function naming(e: unknown, servers: string): unknown {
  if (!(e instanceof KafkaError) || e.message.includes(servers)) return e;
  const named = new KafkaError(`${e.message} (cluster ${servers})`, e.code, {
    fatal: e.fatal,
    retriable: e.retriable,
    abortable: e.abortable,
  });
  named.cause = e.cause;
  return named;
}
