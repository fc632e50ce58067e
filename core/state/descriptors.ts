/**
 * State descriptors: a state's name, kind and serializers. Operators declare
 * state through descriptors; the runtime and its state backend own it.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Serializer } from "./serializer.ts";
import { checkSerializer } from "./_check_serializer.ts";
import type { AggregateFunction } from "./state.ts";
import type { StateTtlConfig } from "./ttl.ts";

/**
 * The kinds of keyed state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ListStateDescriptor, Serializers, type StateKind } from "@weir/weir";
 * const kind: StateKind = new ListStateDescriptor("l", Serializers.f64).kind;
 * assert.equal(kind, "list");
 * ```
 */
export type StateKind = "value" | "list" | "map" | "reducing" | "aggregating";

/**
 * What every descriptor has in common.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type StateDescriptor, ValueStateDescriptor, Serializers } from "@weir/weir";
 * const d: StateDescriptor = new ValueStateDescriptor("v", Serializers.string);
 * assert.ok(d.kind === "value" && d.typeId() === "value<string>");
 * ```
 */
export abstract class StateDescriptor {
  /** The state's name, unique within its operator. */
  readonly name: string;
  /** The kind of state. */
  abstract readonly kind: StateKind;

  /** Creates a descriptor named `name` (a non-empty string: it keys the state in snapshots). */
  constructor(name: string) {
    if (typeof name !== "string" || name === "") {
      throw new ConfigError(
        `A state descriptor's name must be a non-empty string, got ${
          typeof name === "string" ? '""' : String(name)
        }`,
      );
    }
    this.name = name;
  }

  /** The state's time to live, if {@linkcode StateDescriptor.enableTimeToLive} was called. */
  ttlConfig: StateTtlConfig | undefined = undefined;

  /**
   * Lets entries of this state expire (as Flink's `enableTimeToLive`). The
   * type id gets the suffix `+ttl`: state written with TTL restores only into
   * a descriptor with TTL.
   */
  enableTimeToLive(config: StateTtlConfig): void {
    this.ttlConfig = config;
  }

  /** Identifies kind and serializers (`+ttl` with TTL); two registrations of a name must agree on it. */
  abstract typeId(): string;

  /** `id`, with `+ttl` when TTL is enabled. */
  protected withTtl(id: string): string {
    return this.ttlConfig ? `${id}+ttl` : id;
  }
}

/**
 * Describes a {@linkcode ValueState}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ValueStateDescriptor, Serializers } from "@weir/weir";
 * const count = new ValueStateDescriptor("count", Serializers.f64, 0);
 * assert.ok(count.defaultValue === 0);
 * ```
 */
export class ValueStateDescriptor<T> extends StateDescriptor {
  /** Always `"value"`. */
  readonly kind = "value" as const;
  /** Serializes the value. */
  readonly serializer: Serializer<T>;
  /** Returned by `value()` when the key has no value. */
  readonly defaultValue: T | undefined;

  /** Creates a descriptor. */
  constructor(name: string, serializer: Serializer<T>, defaultValue?: T) {
    super(name);
    checkSerializer(`State "${name}": the value serializer`, serializer);
    this.serializer = serializer;
    this.defaultValue = defaultValue;
  }

  /** `value<serializer id>`. */
  typeId(): string {
    return this.withTtl(`value<${this.serializer.id}>`);
  }
}

/**
 * Describes a {@linkcode ListState}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ListStateDescriptor, Serializers } from "@weir/weir";
 * const seen = new ListStateDescriptor("seen", Serializers.string);
 * assert.ok(seen.typeId() === "list<string>");
 * ```
 */
export class ListStateDescriptor<T> extends StateDescriptor {
  /** Always `"list"`. */
  readonly kind = "list" as const;
  /** Serializes one element. */
  readonly elementSerializer: Serializer<T>;

  /** Creates a descriptor. */
  constructor(name: string, elementSerializer: Serializer<T>) {
    super(name);
    checkSerializer(`State "${name}": the element serializer`, elementSerializer);
    this.elementSerializer = elementSerializer;
  }

  /** `list<element serializer id>`. */
  typeId(): string {
    return this.withTtl(`list<${this.elementSerializer.id}>`);
  }
}

/**
 * Describes a {@linkcode MapState}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MapStateDescriptor, Serializers } from "@weir/weir";
 * const pages = new MapStateDescriptor("pages", Serializers.string, Serializers.f64);
 * assert.ok(pages.typeId() === "map<string,f64>");
 * ```
 */
export class MapStateDescriptor<K, V> extends StateDescriptor {
  /** Always `"map"`. */
  readonly kind = "map" as const;
  /** Serializes map keys. */
  readonly keySerializer: Serializer<K>;
  /** Serializes map values. */
  readonly valueSerializer: Serializer<V>;

  /** Creates a descriptor. */
  constructor(name: string, keySerializer: Serializer<K>, valueSerializer: Serializer<V>) {
    super(name);
    checkSerializer(`State "${name}": the key serializer`, keySerializer);
    checkSerializer(`State "${name}": the value serializer`, valueSerializer);
    this.keySerializer = keySerializer;
    this.valueSerializer = valueSerializer;
  }

  /** `map<key id,value id>`. */
  typeId(): string {
    return this.withTtl(`map<${this.keySerializer.id},${this.valueSerializer.id}>`);
  }
}

/**
 * Describes a {@linkcode ReducingState}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReducingStateDescriptor, Serializers } from "@weir/weir";
 * const sum = new ReducingStateDescriptor("sum", (a: number, b: number) => a + b, Serializers.f64);
 * assert.ok(sum.reduce(1, 2) === 3);
 * ```
 */
export class ReducingStateDescriptor<T> extends StateDescriptor {
  /** Always `"reducing"`. */
  readonly kind = "reducing" as const;
  /** Combines the stored value with an added one. */
  readonly reduce: (a: T, b: T) => T;
  /** Serializes the value. */
  readonly serializer: Serializer<T>;

  /** Creates a descriptor. */
  constructor(name: string, reduce: (a: T, b: T) => T, serializer: Serializer<T>) {
    super(name);
    if (typeof reduce !== "function") {
      throw new ConfigError(
        `State "${name}": the reduce function must be a function, got ${typeof reduce}`,
      );
    }
    checkSerializer(`State "${name}": the serializer`, serializer);
    this.reduce = reduce;
    this.serializer = serializer;
  }

  /** `reducing<serializer id>`. */
  typeId(): string {
    return this.withTtl(`reducing<${this.serializer.id}>`);
  }
}

/**
 * Describes an {@linkcode AggregatingState}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AggregatingStateDescriptor, Serializers } from "@weir/weir";
 * const count = new AggregatingStateDescriptor("n", {
 *   createAccumulator: () => 0,
 *   add: (_v: string, acc: number) => acc + 1,
 *   getResult: (acc: number) => acc,
 * }, Serializers.f64);
 * assert.ok(count.typeId() === "aggregating<f64>");
 * ```
 */
export class AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptor {
  /** Always `"aggregating"`. */
  readonly kind = "aggregating" as const;
  /** The aggregation. */
  readonly aggregateFunction: AggregateFunction<IN, ACC, OUT>;
  /** Serializes the accumulator. */
  readonly accumulatorSerializer: Serializer<ACC>;

  /** Creates a descriptor. */
  constructor(
    name: string,
    aggregateFunction: AggregateFunction<IN, ACC, OUT>,
    accumulatorSerializer: Serializer<ACC>,
  ) {
    super(name);
    const f = aggregateFunction as Partial<AggregateFunction<IN, ACC, OUT>> | null;
    const missing = (["createAccumulator", "add", "getResult"] as const).filter((m) =>
      typeof f?.[m] !== "function"
    );
    if (missing.length > 0) {
      throw new ConfigError(
        `State "${name}": the aggregate function needs ${missing.map((m) => `${m}()`).join(", ")}`,
      );
    }
    checkSerializer(`State "${name}": the accumulator serializer`, accumulatorSerializer);
    this.aggregateFunction = aggregateFunction;
    this.accumulatorSerializer = accumulatorSerializer;
  }

  /** `aggregating<accumulator serializer id>`. */
  typeId(): string {
    return this.withTtl(`aggregating<${this.accumulatorSerializer.id}>`);
  }
}

/**
 * Any keyed state descriptor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AnyStateDescriptor, MapStateDescriptor, Serializers, ValueStateDescriptor } from "@weir/weir";
 * const descriptors: AnyStateDescriptor[] = [
 *   new ValueStateDescriptor("count", Serializers.f64, 0),
 *   new MapStateDescriptor("seen", Serializers.string, Serializers.boolean),
 * ];
 * assert.deepEqual(descriptors.map((d) => `${d.name}:${d.kind}`), ["count:value", "seen:map"]);
 * ```
 */
export type AnyStateDescriptor =
  // deno-lint-ignore no-explicit-any
  | ValueStateDescriptor<any>
  // deno-lint-ignore no-explicit-any
  | ListStateDescriptor<any>
  // deno-lint-ignore no-explicit-any
  | MapStateDescriptor<any, any>
  // deno-lint-ignore no-explicit-any
  | ReducingStateDescriptor<any>
  // deno-lint-ignore no-explicit-any
  | AggregatingStateDescriptor<any, any, any>;
