/**
 * Turning the serializer ids a checkpoint records (`"f64"`,
 * `"array<string>"`, `"record<n:f64,w:string>"`, a state's type id such as
 * `"map<string,f64>"`) back into serializers, so state can be read offline.
 * Custom serializers cannot be rebuilt from their id; their bytes are shown
 * raw.
 *
 * @module
 */
import type { ByteReader, ByteWriter } from "./bytes.ts";
import { type Serializer, Serializers } from "./serializer.ts";
import { parseTypeId, type TypeNode } from "./serializer_schema.ts";

function build(node: TypeNode): Serializer<unknown> | undefined {
  const a = node.args;
  const all = () => {
    const out = a.map(build);
    return out.every((s) => s !== undefined) ? out as Serializer<unknown>[] : undefined;
  };
  switch (node.name) {
    case "f64":
    case "i32":
    case "bigint":
    case "boolean":
    case "string":
    case "bytes":
    case "json":
    case "plain":
    case "key":
      return a.length === 0 ? Serializers[node.name] as Serializer<unknown> : undefined;
    case "array": {
      const el = a.length === 1 ? build(a[0]!) : undefined;
      return el && Serializers.array(el) as Serializer<unknown>;
    }
    case "optional": {
      const el = a.length === 1 ? build(a[0]!) : undefined;
      return el && Serializers.optional(el) as Serializer<unknown>;
    }
    case "tuple": {
      const fs = all();
      return fs && Serializers.tuple(...fs) as Serializer<unknown>;
    }
    case "record": {
      const fs = all();
      if (!fs) return undefined;
      const fields: Record<string, Serializer<unknown>> = {};
      a.forEach((n, i) => fields[n.field!] = fs[i]!);
      return Serializers.record(fields) as Serializer<unknown>;
    }
    case "time-window":
      // weir's window serializers (core/time/window.ts): namespaces of window state.
      return a.length === 0 ? timeWindow : undefined;
    case "global-window":
      return a.length === 0 ? globalWindow : undefined;
    case "timestamped": {
      const el = a.length === 1 ? build(a[0]!) : undefined;
      return el && timestamped(el);
    }
    case "ttl": {
      const el = a.length === 1 ? build(a[0]!) : undefined;
      return el && ttl(el);
    }
  }
  return undefined;
}

const timeWindow: Serializer<unknown> = {
  id: "time-window",
  version: 1,
  write(v, out) {
    const w = v as { start: number; end: number };
    out.writeF64(w.start);
    out.writeF64(w.end);
  },
  read: (r) => ({ start: r.readF64(), end: r.readF64() }),
};

const globalWindow: Serializer<unknown> = {
  id: "global-window",
  version: 1,
  write() {},
  read: () => "GlobalWindow",
};

/** A window element with its timestamp (core/time/window_operator.ts). */
function timestamped(inner: Serializer<unknown>): Serializer<unknown> {
  return {
    id: `timestamped<${inner.id}>`,
    version: 1,
    write(v, out) {
      const t = v as { value: unknown; timestamp?: number };
      inner.write(t.value, out);
      if (t.timestamp === undefined) out.writeU8(0);
      else {
        out.writeU8(1);
        out.writeF64(t.timestamp);
      }
    },
    read(r) {
      const value = inner.read(r);
      return r.readU8() === 0 ? { value } : { value, timestamp: r.readF64() };
    },
  };
}

/** A value with its last-access time, as state with TTL stores it (core/state/ttl.ts). */
function ttl(inner: Serializer<unknown>): Serializer<unknown> {
  return {
    id: `ttl<${inner.id}>`,
    version: 1,
    write(v, out) {
      const t = v as { v: unknown; ts: number };
      out.writeU32(Math.floor(t.ts / 0x1_0000_0000));
      out.writeU32(t.ts >>> 0);
      inner.write(t.v, out);
    },
    read(r) {
      const hi = r.readU32();
      const lo = r.readU32();
      return { v: inner.read(r), ts: hi * 0x1_0000_0000 + lo };
    },
  };
}

/**
 * The built-in serializer an id names, or undefined for a custom (or
 * malformed) id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serializerFromId } from "./serializer_ids.ts";
 * assert.equal(serializerFromId("array<tuple<string,f64>>")?.id, "array<tuple<string,f64>>");
 * assert.equal(serializerFromId("point"), undefined);
 * ```
 */
export function serializerFromId(id: string): Serializer<unknown> | undefined {
  try {
    const s = build(parseTypeId(id));
    // The rebuilt serializer must name exactly the recorded encoding.
    return s && s.id === id ? s : undefined;
  } catch {
    return undefined;
  }
}

export { parseStateTypeId, type StateType } from "./serializer_schema.ts";

/** Marks bytes a serializer could not decode (shown as base64). */
export class RawBytes {
  /** The undecoded bytes. */
  readonly bytes: Uint8Array;
  /** Wraps `bytes`. */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

/**
 * A serializer that reads every remaining byte as {@linkcode RawBytes}: the
 * stand-in for a custom serializer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteReader } from "./bytes.ts";
 * import { RawBytes, rawSerializer } from "./serializer_ids.ts";
 * const v = rawSerializer.read(new ByteReader(new Uint8Array([1, 2])));
 * assert.ok(v instanceof RawBytes && v.bytes.length === 2);
 * ```
 */
export const rawSerializer: Serializer<unknown> = {
  id: "raw",
  version: 1,
  write(v: unknown, out: ByteWriter) {
    out.writeRaw((v as RawBytes).bytes);
  },
  read: (r: ByteReader) => new RawBytes(r.readRaw(r.remaining()).slice()),
};

/**
 * A decoded value as JSON: bigints and the numbers JSON has no form for (NaN,
 * ±Infinity) become strings, dates ISO strings, byte arrays and raw bytes
 * `{ "base64": ... }`, maps arrays of `[key, value]` and sets arrays,
 * `undefined` null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJsonValue } from "./serializer_ids.ts";
 * assert.deepEqual(toJsonValue([1n, undefined, new Uint8Array([255])]), ["1", null, { base64: "/w==" }]);
 * assert.deepEqual(toJsonValue(new Map([[NaN, -0], [Infinity, 2]])), [["NaN", 0], ["Infinity", 2]]);
 * ```
 */
export function toJsonValue(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? (v === 0 ? 0 : v) : String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Map) return [...v].map(([k, x]) => [toJsonValue(k), toJsonValue(x)]);
  if (v instanceof Set) return [...v].map(toJsonValue);
  if (v instanceof RawBytes || v instanceof Uint8Array) {
    return { base64: (v instanceof RawBytes ? v.bytes : v).toBase64() };
  }
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (typeof v === "object" && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJsonValue(x);
    return o;
  }
  return v;
}
