/**
 * The items of `fromCollection` / `fromElements` sources (an array, a `Set`
 * or a `Map`), from the main thread to the workers of the worker executor.
 *
 * A worker runs the script again, so a collection it builds before
 * `execute()` holds what the script computed there. Data the script read
 * (stdin, which the main thread has already read to its end; a network call;
 * the clock; random values) differs, and the source would emit other records
 * (or none) without a word. As Flink ships a collection's elements with the
 * job, the main thread sends its items, encoded with the source's output
 * serializer (`returns()`, else the plain one), to the workers that run the
 * source, and they read those. Items that serializer cannot carry (class
 * instances without `returns()`) stay as the worker built them; then a digest
 * of the main thread's items is sent instead, and a worker whose items differ
 * fails the job with a `ConfigError` naming the source.
 *
 * @module
 */
import { ArraySource, IterableSource } from "../connectors/collection_source.ts";
import { ConfigError, SerializationError } from "../errors.ts";
import { deserialize, serialize, type Serializer, Serializers } from "../state/serializer.ts";
import type { Transformation } from "./graph.ts";
import type { PhysicalPlan } from "./physical_plan.ts";

/** One source's items as a worker receives them: encoded, or only their digest. */
export type CollectionItems =
  | { readonly encoded: Uint8Array }
  | { readonly digest: string };

/** By vertex id: the items of the array sources that worker `w` runs subtasks of. */
export type CollectionItemsByVertex = Readonly<Record<number, CollectionItems>>;

/**
 * For each worker, the items of the array sources it runs: `placement[t]` is
 * the worker of plan task `t`.
 */
export function collectionItemsForWorkers(
  nodes: readonly Transformation[],
  plan: PhysicalPlan,
  placement: readonly number[],
  workers: number,
): CollectionItemsByVertex[] {
  const out = Array.from({ length: workers }, () => ({} as Record<number, CollectionItems>));
  for (const n of nodes) {
    const own = itemsOf(n);
    if (own === undefined) continue;
    const chain = plan.vertices.find((v) => v.id === n.id)!.chain;
    const items = shippable(own, serializerOf(n));
    for (const t of plan.tasks) if (t.chain === chain) out[placement[t.id]!]![n.id] = items;
  }
  return out;
}

/**
 * In a worker: gives each array source among `nodes` the main thread's items,
 * or checks its own against their digest; throws `ConfigError` naming the
 * source when they differ.
 */
export function adoptCollectionItems(
  nodes: readonly Transformation[],
  plan: PhysicalPlan,
  items: CollectionItemsByVertex,
  worker: number,
): void {
  for (const n of nodes) {
    const shipped = items[n.id];
    const own = itemsOf(n);
    if (!shipped || own === undefined) continue;
    if ("encoded" in shipped) {
      (n.source as ArraySource<unknown> | IterableSource<unknown>)
        .adopt(deserialize(Serializers.array(serializerOf(n)), shipped.encoded));
      continue;
    }
    const mine = valuesDigest(own);
    if (mine === shipped.digest) continue;
    const uid = plan.vertices.find((v) => v.id === n.id)!.uid;
    throw new ConfigError(
      `The items of "${n.name}" [uid ${uid}] built in worker ${worker} differ from the main ` +
        `thread's (${mine} here, ${shipped.digest} there), and they cannot be sent to the ` +
        `worker (no serializer carries them: give one with .returns(serializer)). The script ` +
        `runs again in every worker, so data it reads before execute() (stdin, the network, ` +
        `the clock, random values) must be the same there; or read it inside a source, or run ` +
        `with --executor inline`,
    );
  }
}

/** The items of an array source, or of an iterable source of a `Set` or `Map` (finite, read again alike). */
function itemsOf(n: Transformation): readonly unknown[] | undefined {
  const source = n.source;
  if (source instanceof ArraySource) return source.items;
  if (!(source instanceof IterableSource)) return undefined;
  const it = source.iterable;
  return it instanceof Set || it instanceof Map ? [...it] : undefined;
}

function serializerOf(n: Transformation): Serializer<unknown> {
  return n.outputSerializer ?? Serializers.plain;
}

function shippable(items: readonly unknown[], serializer: Serializer<unknown>): CollectionItems {
  try {
    return { encoded: serialize(Serializers.array(serializer), items as unknown[]) };
  } catch (e) {
    if (!(e instanceof SerializationError)) throw e;
    return { digest: valuesDigest(items) };
  }
}

/**
 * A digest of `values` that two threads building the same values compute
 * alike: their count and a 32-bit FNV-1a hash over a walk of each value (its
 * kind, contents, class name and own enumerable properties; a value met again
 * is a back-reference).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { valuesDigest } from "./_collection_items.ts";
 * class P {
 *   constructor(readonly x: number) {}
 * }
 * assert.equal(valuesDigest([new P(1), "a"]), valuesDigest([new P(1), "a"]));
 * assert.notEqual(valuesDigest([new P(1)]), valuesDigest([{ x: 1 }]));
 * assert.match(valuesDigest([]), /^0 items, digest [0-9a-f]{8}$/);
 * ```
 */
export function valuesDigest(values: readonly unknown[]): string {
  let h = 0x811c9dc5;
  const mix = (s: string) => {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0x1f, 0x01000193); // ends each part: "ab","c" is not "a","bc"
  };
  const seen = new Map<object, number>();
  const walk = (v: unknown): void => {
    switch (typeof v) {
      case "string":
        return mix(`s${v}`);
      case "number":
        return mix(`n${Object.is(v, -0) ? "-0" : v}`);
      case "bigint":
        return mix(`b${v}`);
      case "boolean":
        return mix(v ? "t" : "f");
      case "undefined":
        return mix("u");
      case "symbol":
        return mix(`y${v.description}`);
      case "function":
        return mix(`F${v.name}`);
    }
    if (v === null) return mix("0");
    const o = v as object;
    const at = seen.get(o);
    if (at !== undefined) return mix(`^${at}`);
    seen.set(o, seen.size);
    if (o instanceof Date) return mix(`D${o.getTime()}`);
    if (ArrayBuffer.isView(o)) {
      const bytes = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
      mix(`V${o.constructor.name}${bytes.length}`);
      for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
      return;
    }
    if (o instanceof Map) {
      mix(`M${o.size}`);
      for (const [k, x] of o) walk(k), walk(x);
      return;
    }
    if (o instanceof Set) {
      mix(`S${o.size}`);
      for (const x of o) walk(x);
      return;
    }
    if (Array.isArray(o)) {
      mix(`[${o.length}`);
      for (const x of o) walk(x);
      return;
    }
    mix(`{${Object.getPrototypeOf(o)?.constructor?.name ?? ""}`);
    for (const [k, x] of Object.entries(o)) mix(k), walk(x);
  };
  for (const v of values) walk(v);
  return `${values.length} items, digest ${(h >>> 0).toString(16).padStart(8, "0")}`;
}
