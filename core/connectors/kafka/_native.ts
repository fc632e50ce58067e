/**
 * Shared pieces of the librdkafka binding: client handles, error objects,
 * topic-partition lists and metadata, read from librdkafka's C structs.
 *
 * @module
 */
import { cstr, errBuf, errBufText, errorText, pinned, rdkafka, readCString } from "./_ffi.ts";
import { KafkaError } from "./kafka_error.ts";

/** `RD_KAFKA_PRODUCER` / `RD_KAFKA_CONSUMER`. */
export const enum ClientType {
  Producer = 0,
  Consumer = 1,
}

/** The `rd_kafka_resp_err_t` codes the binding acts on (negative: the client's own). */
export const enum KafkaErrorCode {
  /** `RD_KAFKA_RESP_ERR__PARTITION_EOF`: a consumer reached the end of a partition. */
  PartitionEof = -191,
  /** `RD_KAFKA_RESP_ERR__QUEUE_FULL`: the producer's queue is full. */
  QueueFull = -184,
  /** `RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART`: the cluster has no such topic. */
  UnknownTopic = 3,
}

/** Client properties: librdkafka's configuration names (`bootstrap.servers`, ...). */
export type KafkaProperties = Record<string, string | number | boolean>;

/** Creates a librdkafka client handle from properties. */
export function createHandle(
  type: ClientType,
  properties: KafkaProperties,
  events: number,
): Deno.PointerObject {
  const k = rdkafka();
  const conf = k.rd_kafka_conf_new();
  const err = errBuf();
  for (const [name, value] of Object.entries(properties)) {
    if (k.rd_kafka_conf_set(conf, cstr(name), cstr(String(value)), err, BigInt(err.length)) !== 0) {
      k.rd_kafka_conf_destroy(conf);
      throw new KafkaError(`Kafka property ${name}=${value}: ${errBufText(err)}`, -1);
    }
  }
  if (events !== 0) k.rd_kafka_conf_set_events(conf, events);
  const rk = k.rd_kafka_new(type, conf, err, BigInt(err.length));
  if (rk === null) {
    k.rd_kafka_conf_destroy(conf);
    throw new KafkaError(`Cannot create a Kafka client: ${errBufText(err)}`, -1);
  }
  return rk;
}

/** Throws a {@linkcode KafkaError} for a non-zero `rd_kafka_resp_err_t`. */
export function check(code: number, what: string): void {
  if (code !== 0) throw new KafkaError(`${what}: ${errorText(code)}`, code);
}

/** Converts (and frees) an `rd_kafka_error_t*`; null means success. */
export function takeError(error: Deno.PointerValue, what: string): KafkaError | null {
  if (error === null) return null;
  const k = rdkafka();
  const e = new KafkaError(
    `${what}: ${readCString(k.rd_kafka_error_string(error))}`,
    k.rd_kafka_error_code(error),
    {
      fatal: k.rd_kafka_error_is_fatal(error) !== 0,
      retriable: k.rd_kafka_error_is_retriable(error) !== 0,
      abortable: k.rd_kafka_error_txn_requires_abort(error) !== 0,
    },
  );
  k.rd_kafka_error_destroy(error);
  return e;
}

/** A topic partition and an offset. */
export interface PartitionOffset {
  /** Topic name. */
  topic: string;
  /** Partition number. */
  partition: number;
  /** Offset (or a negative librdkafka logical offset). */
  offset: number;
}

const TP_SIZE = 64;

/** Builds an `rd_kafka_topic_partition_list_t` (caller destroys it). */
export function toList(items: readonly PartitionOffset[]): Deno.PointerObject {
  const k = rdkafka();
  const list = k.rd_kafka_topic_partition_list_new(Math.max(1, items.length))!;
  for (const it of items) {
    const t = cstr(it.topic);
    k.rd_kafka_topic_partition_list_add(list, t, it.partition);
    k.rd_kafka_topic_partition_list_set_offset(list, t, it.partition, BigInt(it.offset));
  }
  return list;
}

/** Reads a topic-partition list: entries and their per-partition errors. */
export function fromList(list: Deno.PointerObject): (PartitionOffset & { err: number })[] {
  const view = new Deno.UnsafePointerView(list);
  const cnt = view.getInt32(0);
  const elems = view.getPointer(8);
  const out: (PartitionOffset & { err: number })[] = [];
  if (elems === null) return out;
  const ev = new Deno.UnsafePointerView(elems);
  for (let i = 0; i < cnt; i++) {
    const at = i * TP_SIZE;
    out.push({
      topic: readCString(ev.getPointer(at)),
      partition: ev.getInt32(at + 8),
      offset: Number(ev.getBigInt64(at + 16)),
      err: ev.getInt32(at + 48),
    });
  }
  return out;
}

/** A topic's partitions as the cluster reports them. */
export interface TopicMetadata {
  /** Topic name. */
  topic: string;
  /** Partition ids with their leaders. */
  partitions: { id: number; leader: number }[];
  /** Topic-level error code (0 = none). */
  err: number;
}

/**
 * Reads the cluster's topic metadata without blocking the thread: all topics, or only `topic`
 * (a topic handle; a broker that creates topics on demand creates it).
 */
export async function fetchMetadata(
  rk: Deno.PointerObject,
  timeoutMs: number,
  topic: Deno.PointerObject | null = null,
): Promise<TopicMetadata[]> {
  const k = rdkafka();
  const out = new BigUint64Array(pinned(8));
  check(
    await k.rd_kafka_metadata(rk, topic === null ? 1 : 0, topic, out, timeoutMs),
    "Kafka metadata request",
  );
  const md = Deno.UnsafePointer.create(out[0]!)!;
  try {
    const view = new Deno.UnsafePointerView(md);
    const topicCnt = view.getInt32(16);
    const topics = view.getPointer(24);
    const result: TopicMetadata[] = [];
    if (topics === null) return result;
    const tv = new Deno.UnsafePointerView(topics);
    for (let i = 0; i < topicCnt; i++) {
      const at = i * 32;
      const pcnt = tv.getInt32(at + 8);
      const parts = tv.getPointer(at + 16);
      const partitions: { id: number; leader: number }[] = [];
      if (parts !== null) {
        const pv = new Deno.UnsafePointerView(parts);
        for (let j = 0; j < pcnt; j++) {
          partitions.push({ id: pv.getInt32(j * 40), leader: pv.getInt32(j * 40 + 8) });
        }
      }
      result.push({ topic: readCString(tv.getPointer(at)), partitions, err: tv.getInt32(at + 24) });
    }
    return result;
  } finally {
    k.rd_kafka_metadata_destroy(md);
  }
}

/** The fatal error of a client, if it has one. */
export function fatalError(rk: Deno.PointerObject): KafkaError | null {
  const err = errBuf();
  const code = rdkafka().rd_kafka_fatal_error(rk, err, BigInt(err.length));
  return code === 0 ? null : new KafkaError(`Kafka fatal error: ${errBufText(err)}`, code, {
    fatal: true,
  });
}
