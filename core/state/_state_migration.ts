/**
 * Shared by the keyed backends: what a snapshot records about a state
 * (`stateMeta`), and what restoring it into a job's descriptor takes
 * (`restoredStateMigration`): nothing, a rewrite of each stored value, or an
 * `IncompatibleStateError` naming the state, the old and the new schema.
 *
 * @module
 */
import { IncompatibleStateError, StateError } from "../errors.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";
import type { AnyStateDescriptor } from "./descriptors.ts";
import type { Serializer } from "./serializer.ts";
import {
  formatSchema,
  parseStateTypeId,
  resolveSchemaCompatibility,
  schemaFromId,
  schemaOf,
  type SerializerSchema,
} from "./serializer_schema.ts";
import type { StateMeta, StateSchemas } from "./state_keys.ts";
import { innerTtlConfig } from "./ttl_state.ts";

/** The serializers of a descriptor's stored values and map keys. */
function serializersOf(d: AnyStateDescriptor): {
  value: Serializer<unknown>;
  userKey?: Serializer<unknown>;
} {
  switch (d.kind) {
    case "value":
    case "reducing":
      return { value: d.serializer };
    case "list":
      return { value: d.elementSerializer };
    case "map":
      return { value: d.valueSerializer, userKey: d.keySerializer };
    case "aggregating":
      return { value: d.accumulatorSerializer };
  }
}

/** What states marked with {@linkcode withContents} hold. */
const contentsOf = new WeakMap<AnyStateDescriptor, string>();

/**
 * Marks `d` as holding the values of a `what` function (a window's `"reduce"` value or
 * `"aggregate"` accumulator). Snapshots record it, and a restore into a state marked otherwise
 * is refused: the state's type, even its bytes, can be the same for both while the values mean
 * something else, as Flink refuses a reducing state restored as an aggregating one.
 */
export function withContents<D extends AnyStateDescriptor>(d: D, what: string): D {
  contentsOf.set(d, what);
  return d;
}

/** The schemas of state `d`'s serializers. */
export function stateSchemas(d: AnyStateDescriptor): StateSchemas {
  const s = serializersOf(d);
  return {
    value: schemaOf(s.value),
    ...(s.userKey ? { userKey: schemaOf(s.userKey) } : {}),
  };
}

/** What a snapshot records about state `d` (id `id`), schemas included. */
export function stateMeta(
  id: number,
  d: AnyStateDescriptor,
  namespace: Serializer<unknown> | undefined,
): StateMeta {
  const ttl = innerTtlConfig(d);
  return {
    id,
    name: d.name,
    kind: d.kind,
    typeId: d.typeId(),
    namespace: namespace?.id ?? null,
    schemas: stateSchemas(d),
    ...(contentsOf.has(d) ? { contents: contentsOf.get(d)! } : {}),
    ...(ttl ? { ttlMs: ttl.ttlMs } : {}),
  };
}

/** The recorded schemas, or for an older snapshot the ones its type id implies. */
function recordedSchemas(meta: StateMeta): StateSchemas | undefined {
  if (meta.schemas) return meta.schemas;
  const t = parseStateTypeId(meta.typeId);
  if (!t) return undefined;
  return {
    value: schemaFromId(t.valueId),
    ...(t.userKeyId !== undefined ? { userKey: schemaFromId(t.userKeyId) } : {}),
  };
}

/**
 * How restored state `old` becomes the job's state `d`: undefined when its
 * bytes read as they are, else a function rewriting one stored value (one
 * list element, map value, accumulator) from the old encoding to the new
 * one. Throws `IncompatibleStateError` naming the state, both schemas and what to do
 * when it cannot be restored. `label` names the kind of state in messages.
 */
export function restoredValueMigration(
  old: StateMeta,
  d: AnyStateDescriptor,
  namespace: Serializer<unknown> | undefined,
  operator: string,
  label = "state",
): ((value: Uint8Array) => Uint8Array) | undefined {
  const where = `Cannot restore ${label} "${d.name}" of operator "${operator}"`;
  const typeId = d.typeId();
  const nsId = namespace?.id ?? null;
  if (old.kind !== d.kind || old.namespace !== nsId) {
    throw new IncompatibleStateError(
      `${where}: the snapshot holds ${old.typeId} (namespace ${old.namespace}), the job asks ` +
        `for ${typeId} (namespace ${nsId}); the kind of a state and its namespace cannot change`,
    );
  }
  // Snapshots from before the mark record none: they restore as they did.
  const contents = contentsOf.get(d);
  if (old.contents !== undefined && contents !== undefined && old.contents !== contents) {
    const a = (w: string) => `${/^[aeiou]/.test(w) ? "an" : "a"} ${w}`;
    throw new IncompatibleStateError(
      `${where}: the snapshot holds the state of ${a(old.contents)} function, the job has ` +
        `${a(contents)} function under this uid; ${a(old.contents)}'s values cannot be restored ` +
        `as ${a(contents)}'s (Flink refuses it too). Give the operator a new uid to start it ` +
        `empty (with allowNonRestoredState, the old state is dropped)`,
    );
  }
  if (old.typeId.endsWith("+ttl") !== typeId.endsWith("+ttl")) {
    throw new IncompatibleStateError(
      `${where}: the snapshot holds ${old.typeId}, the job asks for ${typeId}; TTL cannot be ` +
        `enabled or disabled on restored state (give the state a new name to start it afresh)`,
    );
  }
  const schemas = recordedSchemas(old);
  if (!schemas) {
    if (old.typeId === typeId) return undefined;
    throw new IncompatibleStateError(
      `${where}: the snapshot holds ${old.typeId}, the job asks for ${typeId}`,
    );
  }
  const now = serializersOf(d);
  const refuse = (part: string, was: SerializerSchema, is: Serializer<unknown>, why: string) =>
    new IncompatibleStateError(
      `${where}: its ${part} schema changed incompatibly, from ${formatSchema(was)} in the ` +
        `snapshot to ${formatSchema(schemaOf(is))} in the job: ${why}. Make the change ` +
        `compatible (records may add fields with Serializers.withDefault, remove and reorder ` +
        `fields; i32 may widen to f64; a serializer's new version may declare migrations), ` +
        `or give the state a new name to start it empty`,
    );
  if (now.userKey && schemas.userKey) {
    const c = resolveSchemaCompatibility(now.userKey, schemas.userKey);
    if (c.type !== "compatibleAsIs") {
      // Map keys are part of the store key, so their order would change with them.
      const why = c.type === "incompatible" ? c.reason : "map keys cannot be migrated";
      throw refuse("map key", schemas.userKey, now.userKey, why);
    }
  }
  const c = resolveSchemaCompatibility(now.value, schemas.value);
  if (c.type === "incompatible") throw refuse("value", schemas.value, now.value, c.reason);
  if (c.type === "compatibleAsIs") return undefined;
  const readOld = c.readOld;
  const ser = now.value;
  const out = new ByteWriter();
  return (bytes) => {
    const r = new ByteReader(bytes);
    const v = readOld(r);
    if (r.remaining() !== 0) {
      throw new StateError(
        `${where}: a stored value has ${r.remaining()} bytes left after migrating it; it was ` +
          `not written with the schema the snapshot records`,
      );
    }
    out.reset();
    ser.write(v, out);
    return out.toBytes();
  };
}

/**
 * {@linkcode restoredValueMigration} for keyed state, whose list state
 * stores a key's whole list as one value (`state_keys.ts`).
 *
 * Cost: a migration reads and rewrites every stored value of that state
 * once, when the state is first registered after the restore (the heap
 * backend while loading it, the LSM backend by a scan and rewrite of its
 * entries); states whose schemas are compatible as they are cost nothing
 * and stay lazily restored.
 */
export function restoredStateMigration(
  old: StateMeta,
  d: AnyStateDescriptor,
  namespace: Serializer<unknown> | undefined,
  operator: string,
): ((value: Uint8Array) => Uint8Array) | undefined {
  const migrate = restoredValueMigration(old, d, namespace, operator);
  if (!migrate || d.kind !== "list") return migrate;
  const out = new ByteWriter();
  return (bytes) => {
    const r = new ByteReader(bytes);
    out.reset();
    while (r.remaining() > 0) {
      const el = migrate(r.readRaw(r.readVarUint()));
      out.writeVarUint(el.length);
      out.writeRaw(el);
    }
    return out.toBytes();
  };
}
