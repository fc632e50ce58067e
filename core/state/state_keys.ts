/**
 * The one layout of keyed state as bytes, shared by every backend and by
 * checkpoints and savepoints, so a snapshot of one backend restores into the
 * other.
 *
 * ```
 * store key:  keyGroup (u16 BE) | stateId (u16 BE) | key | namespace | userKey
 *               2 bytes             2 bytes            serializer bytes (self-delimiting)
 * ```
 * - `key` is the key serializer's encoding, `namespace` the namespace
 *   serializer's (absent for state without namespaces), `userKey` the map
 *   key serializer's (map state only, one store entry per map entry).
 * - Serializer encodings are self-delimiting, so `keyGroup|stateId|key|ns`
 *   is a prefix of exactly that key's map entries, and a key-group range is
 *   a key range: rescaling and per-range snapshots are range scans.
 *
 * Values: value state → value bytes; list state → the elements, each as
 * (varint length, bytes), so a list append is a byte append (the LSM store's
 * merge); reducing / aggregating state → the value / accumulator bytes; map
 * state → the map value's bytes.
 *
 * @module
 */
import { ByteReader, ByteWriter } from "./bytes.ts";
import { SerializationError, StateError } from "../errors.ts";
import type { Serializer } from "./serializer.ts";
import type { SerializerSchema } from "./serializer_schema.ts";

/** Bytes before the key: key group and state id. */
export const STATE_KEY_HEADER_BYTES = 4;

/** Highest state id; ids above it are reserved (timers). */
export const MAX_USER_STATE_ID = 0xfff0;

/**
 * Writes the header of a store key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWriter } from "@weir/weir";
 * import { writeStateKeyHeader } from "./state_keys.ts";
 * const w = new ByteWriter();
 * writeStateKeyHeader(w, 3, 1);
 * assert.ok(w.bytes().join() === "0,3,0,1");
 * ```
 */
export function writeStateKeyHeader(out: ByteWriter, keyGroup: number, stateId: number): void {
  out.writeU16(keyGroup);
  out.writeU16(stateId);
}

/** Writes the same header into the first 4 bytes of `key` (no writer: store scratch regions). */
export function putStateKeyHeader(key: Uint8Array, keyGroup: number, stateId: number): void {
  key[0] = keyGroup >>> 8;
  key[1] = keyGroup & 0xff;
  key[2] = stateId >>> 8;
  key[3] = stateId & 0xff;
}

/** The parts of a store key. */
export interface StateKeyParts {
  /** Key group. */
  readonly keyGroup: number;
  /** State id. */
  readonly stateId: number;
  /** Reader positioned after the header (at the key bytes). */
  readonly rest: ByteReader;
}

/**
 * Splits a store key into header and the rest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readStateKeyHeader } from "./state_keys.ts";
 * const parts = readStateKeyHeader(new Uint8Array([0, 3, 0, 1, 9]));
 * assert.ok(parts.keyGroup === 3 && parts.stateId === 1 && parts.rest.readU8() === 9);
 * ```
 */
export function readStateKeyHeader(key: Uint8Array): StateKeyParts {
  if (key.length < STATE_KEY_HEADER_BYTES) {
    throw new SerializationError(`State key of ${key.length} bytes is shorter than its header`);
  }
  const rest = new ByteReader(key);
  const keyGroup = rest.readU16();
  const stateId = rest.readU16();
  return { keyGroup, stateId, rest };
}

/**
 * Encodes a list state value: each element as (varint length, bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers } from "@weir/weir";
 * import { decodeList, encodeList } from "./state_keys.ts";
 * const bytes = encodeList(Serializers.string, ["a", "bc"]);
 * assert.ok(decodeList(Serializers.string, bytes).join() === "a,bc");
 * ```
 */
export function encodeList<T>(serializer: Serializer<T>, values: Iterable<T>): Uint8Array {
  const out = new ByteWriter();
  const el = new ByteWriter();
  for (const v of values) appendListElement(serializer, v, out, el);
  return out.toBytes();
}

/** Appends one list element's encoding to `out` (`scratch` is reused). */
export function appendListElement<T>(
  serializer: Serializer<T>,
  value: T,
  out: ByteWriter,
  scratch: ByteWriter = new ByteWriter(),
): void {
  scratch.reset();
  serializer.write(value, scratch);
  out.writeBytes(scratch.bytes());
}

/**
 * Rejects a null (or undefined) list element as Flink does ("You cannot add null to a
 * ListState"), on every backend and at the call: one stored would fail the next snapshot.
 */
export function checkListElement(value: unknown, state: string): void {
  if (value == null) {
    throw new StateError(`You cannot add ${value} to a ListState (state "${state}")`);
  }
}

/** Decodes a list state value. */
export function decodeList<T>(serializer: Serializer<T>, bytes: Uint8Array): T[] {
  const r = new ByteReader(bytes);
  const out: T[] = [];
  while (r.remaining() > 0) {
    const len = r.readVarUint();
    const el = new ByteReader(r.readRaw(len));
    out.push(serializer.read(el));
  }
  return out;
}

/**
 * Per-operator table of state ids: what a snapshot records about each state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, DenoCheckpointFs, Serializers, type StateMeta, ValueStateDescriptor } from "@weir/weir";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * backend.state(new ValueStateDescriptor("count", Serializers.f64));
 * const dir = Deno.makeTempDirSync();
 * const handle = await backend.snapshot(1, {
 *   fs: new DenoCheckpointFs(), dir, newSegmentName: () => "1.seg",
 * });
 * const meta: StateMeta = handle.states[0]!;
 * assert.deepEqual([meta.name, meta.kind, meta.namespace], ["count", "value", null]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface StateMeta {
  /** The id used in store keys. */
  readonly id: number;
  /** The state's name. */
  readonly name: string;
  /** The descriptor's kind. */
  readonly kind: string;
  /** The descriptor's type id (kind and serializer ids). */
  readonly typeId: string;
  /** The namespace serializer's id, or null for state without namespaces. */
  readonly namespace: string | null;
  /**
   * The serializers' schemas, to read the bytes when the job's serializers
   * have changed; absent in snapshots written before schemas were recorded
   * (they are derived from `typeId` then).
   */
  readonly schemas?: StateSchemas;
  /**
   * What function's values the state holds, when its operator says (a window's `reduce` or
   * `aggregate`): a restore into the other is refused. Absent in older snapshots.
   */
  readonly contents?: string;
  /**
   * The state's time-to-live in ms (state with TTL), so that offline readers tell expired
   * values. Absent without TTL, and in older snapshots.
   */
  readonly ttlMs?: number;
}

/**
 * The schemas of one state's serializers, as a snapshot records them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   DenoCheckpointFs, HeapStateBackend, MapStateDescriptor, schemaOf, Serializers,
 *   ValueStateDescriptor,
 * } from "@weir/weir";
 * import type { StateSchemas } from "./state_keys.ts";
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 },
 * });
 * backend.state(new ValueStateDescriptor("count", Serializers.f64));
 * backend.state(new MapStateDescriptor("seen", Serializers.string, Serializers.i32));
 * const dir = Deno.makeTempDirSync();
 * const handle = await backend.snapshot(1, {
 *   fs: new DenoCheckpointFs(), dir, newSegmentName: () => "1.seg",
 * });
 * // Each state's serializers, as a restore checks them; a map's key serializer too.
 * const schemas: StateSchemas[] = handle.states.map((m) => m.schemas!);
 * assert.deepEqual(schemas, [
 *   { value: schemaOf(Serializers.f64) },
 *   { value: schemaOf(Serializers.i32), userKey: schemaOf(Serializers.string) },
 * ]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface StateSchemas {
  /** The value's (list element's, map value's, accumulator's) serializer. */
  readonly value: SerializerSchema;
  /** The map key's serializer (map state only). */
  readonly userKey?: SerializerSchema;
}
