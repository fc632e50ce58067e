/**
 * Serializer schemas (Flink's `TypeSerializerSnapshot`): what a snapshot
 * records about each state's serializers so that bytes written by one
 * version of a job can be read by the next, and the rules that decide, on
 * restore, whether the new serializer reads them as they are, after a
 * migration, or not at all (Flink's `TypeSerializerSchemaCompatibility`).
 *
 * A serializer without schema support of its own is identified by its id
 * and version: the same id and version read as they are; an older version
 * migrates through the serializer's `migrations` (one step per version);
 * anything else is incompatible. The built-in composites (`record`,
 * `tuple`, `array`, `optional`) and `f64` (which reads `i32`) decide
 * structurally, in `serializer.ts`.
 *
 * @module
 */
import { ByteReader, ByteWriter } from "./bytes.ts";
import type { Serializer } from "./serializer.ts";

/**
 * What a snapshot records about one serializer: enough to read its old bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemaOf, Serializers } from "@weir/weir";
 * const s = schemaOf(Serializers.record({ n: Serializers.f64, w: Serializers.string }));
 * assert.deepEqual(s.fields, ["n", "w"]);
 * assert.deepEqual(s.nested?.map((x) => x.id), ["f64", "string"]);
 * ```
 */
export interface SerializerSchema {
  /** The serializer's id, e.g. `"record<n:f64,w:string>"`. */
  readonly id: string;
  /**
   * The serializer's version; absent in schemas derived from the ids of
   * snapshots written before versions were recorded (read as the current one).
   */
  readonly version?: number;
  /** A record's field names, in encoding order (the order of `nested`). */
  readonly fields?: readonly string[];
  /** The nested serializers' schemas: record fields, tuple elements, an array's or optional's element. */
  readonly nested?: readonly SerializerSchema[];
}

/**
 * How a serializer reads bytes written under an old schema.
 * `compatibleAsIs`: unchanged; `compatibleAfterMigration`: `readOld` reads one
 * old value (consuming exactly its bytes) as a new one; `incompatible`:
 * `reason` says why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveSchemaCompatibility, schemaOf, Serializers } from "@weir/weir";
 * const c = resolveSchemaCompatibility(Serializers.f64, schemaOf(Serializers.string));
 * assert.equal(c.type, "incompatible");
 * ```
 */
export type SchemaCompatibility<T> =
  | { readonly type: "compatibleAsIs" }
  | { readonly type: "compatibleAfterMigration"; readonly readOld: (input: ByteReader) => T }
  | { readonly type: "incompatible"; readonly reason: string };

/** The one `compatibleAsIs` result. */
export const COMPATIBLE_AS_IS: SchemaCompatibility<never> = { type: "compatibleAsIs" };

/** An `incompatible` result. */
export function incompatible<T>(reason: string): SchemaCompatibility<T> {
  return { type: "incompatible", reason };
}

/**
 * The schema a snapshot records for `serializer`: its own
 * `snapshotSchema()`, else its id and version.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemaOf, Serializers } from "@weir/weir";
 * assert.deepEqual(schemaOf(Serializers.string), { id: "string", version: 1 });
 * ```
 */
export function schemaOf(serializer: Serializer<unknown>): SerializerSchema {
  return serializer.snapshotSchema?.() ?? { id: serializer.id, version: serializer.version };
}

/**
 * Decides how `serializer` reads bytes written under `old`: the
 * serializer's own `resolveSchemaCompatibility`, else by id, version and
 * declared `migrations`.
 *
 * @example A user serializer migrating from version 1 to 2
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteReader, ByteWriter, resolveSchemaCompatibility, type Serializer } from "@weir/weir";
 * // Version 1 wrote a count as u32; version 2 writes it as f64.
 * const count: Serializer<number> = {
 *   id: "count",
 *   version: 2,
 *   write: (v, out) => out.writeF64(v),
 *   read: (input) => input.readF64(),
 *   migrations: { 1: (input, out) => out.writeF64(input.readU32()) },
 * };
 * const c = resolveSchemaCompatibility(count, { id: "count", version: 1 });
 * assert.equal(c.type, "compatibleAfterMigration");
 * const old = new ByteWriter();
 * old.writeU32(7);
 * if (c.type === "compatibleAfterMigration") assert.equal(c.readOld(new ByteReader(old.bytes())), 7);
 * ```
 */
export function resolveSchemaCompatibility<T>(
  serializer: Serializer<T>,
  old: SerializerSchema,
): SchemaCompatibility<T> {
  if (serializer.resolveSchemaCompatibility) return serializer.resolveSchemaCompatibility(old);
  return resolveByVersion(serializer, old);
}

/**
 * The default rule: same id and version (or an unrecorded version) as is;
 * an older version through `migrations[n]` (version n → n + 1) up to the
 * current one; anything else incompatible. A serializer's own
 * `resolveSchemaCompatibility` can fall back to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveByVersion, Serializers } from "@weir/weir";
 * assert.equal(resolveByVersion(Serializers.string, { id: "string", version: 1 }).type, "compatibleAsIs");
 * assert.equal(resolveByVersion(Serializers.string, { id: "string", version: 2 }).type, "incompatible");
 * ```
 */
export function resolveByVersion<T>(
  serializer: Serializer<T>,
  old: SerializerSchema,
): SchemaCompatibility<T> {
  if (old.id !== serializer.id) {
    return incompatible(`"${old.id}" cannot be read as "${serializer.id}"`);
  }
  if (old.version === undefined || old.version === serializer.version) return COMPATIBLE_AS_IS;
  if (old.version > serializer.version) {
    return incompatible(
      `"${old.id}" was written by version ${old.version}, newer than this serializer's ` +
        `version ${serializer.version}`,
    );
  }
  const steps: ((input: ByteReader, out: ByteWriter) => void)[] = [];
  for (let v = old.version; v < serializer.version; v++) {
    const step = serializer.migrations?.[v];
    if (!step) {
      return incompatible(
        `"${serializer.id}" has no migration from version ${v} to ${v + 1} ` +
          `(declare it as migrations[${v}])`,
      );
    }
    steps.push(step);
  }
  return {
    type: "compatibleAfterMigration",
    readOld(input) {
      // The first step consumes exactly the old value from the caller's reader.
      let r = input;
      for (const step of steps) {
        const w = new ByteWriter();
        step(r, w);
        r = new ByteReader(w.toBytes());
      }
      return serializer.read(r);
    },
  };
}

/**
 * A schema as text for messages: its id, its version and the versions of
 * nested serializers that are not at version 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSchema } from "./serializer_schema.ts";
 * assert.equal(formatSchema({ id: "record<a:f64>", version: 1 }), "record<a:f64> (version 1)");
 * ```
 */
export function formatSchema(schema: SerializerSchema): string {
  return `${schema.id} (${schemaVersions(schema)})`;
}

/**
 * The versions in a schema: its own and those of nested serializers that
 * are not at version 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemaVersions } from "./serializer_schema.ts";
 * const s = { id: "array<c>", version: 1, nested: [{ id: "c", version: 3 }] };
 * assert.equal(schemaVersions(s), "version 1, c version 3");
 * ```
 */
export function schemaVersions(schema: SerializerSchema): string {
  const versions: string[] = [];
  const walk = (s: SerializerSchema) => {
    for (const n of s.nested ?? []) {
      if (n.version !== undefined && n.version !== 1) versions.push(`${n.id} version ${n.version}`);
      walk(n);
    }
  };
  walk(schema);
  const own = schema.version === undefined ? "version not recorded" : `version ${schema.version}`;
  return [own, ...versions].join(", ");
}

/** A parsed serializer id: `name<args>`; record fields carry a `field` name. */
export interface TypeNode {
  /** `record`, `f64`, a custom id ... */
  readonly name: string;
  /** The field name, inside a record. */
  readonly field?: string;
  /** Type arguments. */
  readonly args: TypeNode[];
}

/** Splits `a<b,c<d>>,e` at top-level commas; throws on unbalanced brackets. */
export function splitTypeArgs(text: string): string[] {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "<") depth++;
    else if (c === ">") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) throw new Error(`unbalanced ">" in ${text}`);
  }
  if (depth !== 0) throw new Error(`unbalanced "<" in ${text}`);
  parts.push(text.slice(start));
  return parts;
}

/**
 * Parses a serializer id such as `record<n:f64,w:array<string>>`; throws on
 * a malformed one.
 */
export function parseTypeId(text: string, inRecord = false): TypeNode {
  let field: string | undefined;
  let rest = text;
  if (inRecord) {
    const colon = text.indexOf(":");
    if (colon < 0) throw new Error(`record field "${text}" has no name`);
    field = text.slice(0, colon);
    rest = text.slice(colon + 1);
  }
  const lt = rest.indexOf("<");
  if (lt < 0) return { name: rest, args: [], ...(field !== undefined ? { field } : {}) };
  if (!rest.endsWith(">")) throw new Error(`"${rest}" does not end with ">"`);
  const name = rest.slice(0, lt);
  const inner = rest.slice(lt + 1, -1);
  const args = inner === ""
    ? []
    : splitTypeArgs(inner).map((p) => parseTypeId(p, name === "record"));
  return { name, args, ...(field !== undefined ? { field } : {}) };
}

const STRUCTURED = new Set(["record", "tuple", "array", "optional", "ttl"]);

function nodeSchema(node: TypeNode, id: string): SerializerSchema {
  if (!STRUCTURED.has(node.name) || node.args.length === 0) return { id };
  const ids = node.name === "record"
    ? splitTypeArgs(id.slice(id.indexOf("<") + 1, -1)).map((p) => p.slice(p.indexOf(":") + 1))
    : splitTypeArgs(id.slice(id.indexOf("<") + 1, -1));
  const nested = node.args.map((a, i) => nodeSchema(a, ids[i]!));
  return node.name === "record" ? { id, fields: node.args.map((a) => a.field!), nested } : {
    id,
    nested,
  };
}

/**
 * The schema of a serializer id recorded by a snapshot that predates
 * schemas: structure from the id, versions unknown. A custom id that does not
 * parse is a leaf.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemaFromId } from "./serializer_schema.ts";
 * assert.deepEqual(schemaFromId("record<a:i32,b:point>"), {
 *   id: "record<a:i32,b:point>",
 *   fields: ["a", "b"],
 *   nested: [{ id: "i32" }, { id: "point" }],
 * });
 * ```
 */
export function schemaFromId(id: string): SerializerSchema {
  try {
    return nodeSchema(parseTypeId(id), id);
  } catch {
    return { id };
  }
}

/** A state's type id, split into its kind and serializer ids. */
export interface StateType {
  /** `value`, `list`, `map`, `reducing` or `aggregating`. */
  readonly kind: string;
  /** The value's (list element's, accumulator's) serializer id. */
  readonly valueId: string;
  /** The map key's serializer id (map state only). */
  readonly userKeyId?: string;
}

/**
 * Splits a state descriptor's type id (`"map<string,f64>"`); with TTL
 * (`"value<f64>+ttl"`) the value id is `ttl<f64>`: values carry their
 * last-access time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStateTypeId } from "./serializer_schema.ts";
 * assert.deepEqual(parseStateTypeId("map<string,array<f64>>"), {
 *   kind: "map",
 *   userKeyId: "string",
 *   valueId: "array<f64>",
 * });
 * ```
 */
export function parseStateTypeId(typeId: string): StateType | undefined {
  // State with TTL stores each value (list element, map value) as ttl<V>.
  if (typeId.endsWith("+ttl")) {
    const inner = parseStateTypeId(typeId.slice(0, -"+ttl".length));
    return inner && { ...inner, valueId: `ttl<${inner.valueId}>` };
  }
  const lt = typeId.indexOf("<");
  if (lt < 0 || !typeId.endsWith(">")) return undefined;
  const kind = typeId.slice(0, lt);
  const inner = typeId.slice(lt + 1, -1);
  if (kind !== "map") return { kind, valueId: inner };
  let parts: string[];
  try {
    parts = splitTypeArgs(inner);
  } catch {
    return undefined;
  }
  // A custom id may contain commas; only a clean two-way split is trusted.
  if (parts.length !== 2) return undefined;
  return { kind, userKeyId: parts[0]!, valueId: parts[1]! };
}
