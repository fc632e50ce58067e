/**
 * Kafka (de)serializers: bytes, UTF-8 strings and JSON, for keys and values.
 *
 * @module
 */
import { SerializationError } from "../../errors.ts";
import type { ConsumedRecord } from "./consumer.ts";

/** Turns record bytes into a value (null for an absent key or a tombstone). */
export type KafkaDeserializer<T> = (bytes: Uint8Array | null) => T;

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * The built-in deserializers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaDeserializers } from "@weir/weir";
 * assert.equal(KafkaDeserializers.string(new TextEncoder().encode("hé")), "hé");
 * assert.deepEqual(KafkaDeserializers.json(new TextEncoder().encode('{"a":1}')), { a: 1 });
 * ```
 */
export const KafkaDeserializers: {
  readonly bytes: KafkaDeserializer<Uint8Array | null>;
  readonly string: KafkaDeserializer<string | null>;
  readonly json: KafkaDeserializer<unknown>;
} = {
  bytes: (b) => b,
  string: (b) => {
    if (b === null) return null;
    try {
      return decoder.decode(b);
    } catch {
      throw new SerializationError(`A Kafka record is not valid UTF-8 (${b.length} bytes)`);
    }
  },
  json: (b) => {
    const text = KafkaDeserializers.string(b);
    if (text === null) return null;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new SerializationError(`A Kafka record is not JSON: ${(e as Error).message}`);
    }
  },
};

/** Strings up to this many UTF-16 units are encoded into a shared chunk. */
const SMALL_STRING = 1024;
const CHUNK_BYTES = 16 * 1024;
let chunk = new Uint8Array(0);
let chunkAt = 0;

/**
 * UTF-8 bytes of `s`. Small strings are encoded into a shared chunk: an
 * ArrayBuffer per record costs more than the encoding, and a value kept long
 * keeps at most the chunk alive.
 */
function encodeUtf8(s: string): Uint8Array<ArrayBuffer> {
  if (s.length > SMALL_STRING) return encoder.encode(s);
  const most = s.length * 3; // UTF-8 bytes per UTF-16 unit, at most
  if (chunkAt + most > chunk.length) {
    chunk = new Uint8Array(CHUNK_BYTES);
    chunkAt = 0;
  }
  const { written } = encoder.encodeInto(s, chunk.subarray(chunkAt));
  const out = chunk.subarray(chunkAt, chunkAt + written);
  chunkAt += written;
  return out;
}

/** Turns a value into record bytes. */
export type KafkaSerializer<T> = (value: T) => Uint8Array<ArrayBuffer> | null;

/**
 * The built-in serializers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaSerializers } from "@weir/weir";
 * assert.deepEqual(KafkaSerializers.string("a"), new Uint8Array([97]));
 * assert.equal(new TextDecoder().decode(KafkaSerializers.json({ n: 1 })!), '{"n":1}');
 * ```
 */
export const KafkaSerializers: {
  readonly bytes: KafkaSerializer<Uint8Array<ArrayBuffer> | null>;
  readonly string: KafkaSerializer<string | null>;
  readonly json: KafkaSerializer<unknown>;
} = {
  bytes: (v) => v,
  string: (v) => v === null ? null : encodeUtf8(v),
  json: (v) => encodeUtf8(JSON.stringify(v) ?? ""),
};

/** A consumed record with its key and value deserialized. */
export type KafkaRecord<K, V> = Omit<ConsumedRecord, "key" | "value"> & {
  readonly key: K;
  readonly value: V;
};
