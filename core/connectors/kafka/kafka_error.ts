/**
 * The error Kafka clients throw.
 *
 * @module
 */
import { WeirError } from "../../errors.ts";

/**
 * A Kafka client call failed. `code` is librdkafka's `rd_kafka_resp_err_t`
 * (negative codes are client-side, positive ones the broker's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaError } from "@weir/weir";
 * const e = new KafkaError("Kafka commit_transaction: Broker: Producer fenced", 90, { fatal: true });
 * assert.ok(e.fatal && !e.retriable && e.code === 90);
 * ```
 */
export class KafkaError extends WeirError {
  /** librdkafka's error code. */
  readonly code: number;
  /** The client cannot be used any more. */
  readonly fatal: boolean;
  /** The same call may succeed when retried. */
  readonly retriable: boolean;
  /** The transaction must be aborted. */
  readonly abortable: boolean;

  /** Creates an error. */
  constructor(
    message: string,
    code: number,
    flags: { fatal?: boolean; retriable?: boolean; abortable?: boolean } = {},
  ) {
    super(message);
    this.code = code;
    this.fatal = flags.fatal ?? false;
    this.retriable = flags.retriable ?? false;
    this.abortable = flags.abortable ?? false;
  }
}
