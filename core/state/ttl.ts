/**
 * State time-to-live, as Flink's `StateTtlConfig`: a keyed state entry
 * expires `ttlMs` after its last access (creation and writes, and reads with
 * {@linkcode TtlUpdateType} `"OnReadAndWrite"`), measured in processing time
 * from the job's clock. List state keeps a timestamp per element, map state
 * per entry.
 *
 * Stored layout (both backends, so a snapshot of one restores into the
 * other): a value with TTL is `lastAccess (u64 BE, ms) | value bytes`; a list
 * element is `(varint length, lastAccess | element bytes)`; a map entry's
 * value is `lastAccess | value bytes`. The state's type id gets the suffix
 * `+ttl` (e.g. `value<f64>+ttl`), so restoring state with TTL into a
 * descriptor without it (or the reverse) fails with a `StateError` that names
 * both types.
 *
 * @module
 */
import { ConfigError, SerializationError } from "../errors.ts";
import { shownValue } from "../_options.ts";
import type { ByteReader, ByteWriter } from "./bytes.ts";
import type { Serializer } from "./serializer.ts";
import {
  incompatible,
  resolveSchemaCompatibility,
  type SchemaCompatibility,
  schemaOf,
} from "./serializer_schema.ts";

/**
 * When an entry's last-access timestamp is refreshed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StateTtlConfig, type TtlUpdateType } from "@weir/weir";
 * const updateType: TtlUpdateType = "OnReadAndWrite";
 * const ttl = StateTtlConfig.newBuilder(60_000).setUpdateType(updateType).build();
 * assert.equal(ttl.updateType, "OnReadAndWrite");
 * ```
 */
export type TtlUpdateType = "OnCreateAndWrite" | "OnReadAndWrite";

/**
 * Whether a read may return an expired entry that is not cleaned up yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StateTtlConfig, type TtlStateVisibility } from "@weir/weir";
 * const visibility: TtlStateVisibility = "ReturnExpiredIfNotCleanedUp";
 * const ttl = StateTtlConfig.newBuilder(60_000).setStateVisibility(visibility).build();
 * assert.equal(ttl.stateVisibility, visibility);
 * ```
 */
export type TtlStateVisibility = "NeverReturnExpired" | "ReturnExpiredIfNotCleanedUp";

/**
 * The time TTL is measured in (only processing time, as in Flink).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StateTtlConfig, type TtlTimeCharacteristic } from "@weir/weir";
 * const t: TtlTimeCharacteristic = StateTtlConfig.newBuilder(1000).build().timeCharacteristic;
 * assert.equal(t, "ProcessingTime");
 * ```
 */
export type TtlTimeCharacteristic = "ProcessingTime";

/**
 * Incremental cleanup of the heap backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type IncrementalCleanup, StateTtlConfig } from "@weir/weir";
 * const ttl = StateTtlConfig.newBuilder(1000).cleanupIncrementally(10, true).build();
 * const inc: IncrementalCleanup | undefined = ttl.cleanup.incremental;
 * assert.deepEqual(inc, { cleanupSize: 10, runForEveryRecord: true });
 * ```
 */
export interface IncrementalCleanup {
  /** Entries checked per state access (and per record with `runForEveryRecord`). */
  readonly cleanupSize: number;
  /** Also check entries for every record the operator processes. */
  readonly runForEveryRecord: boolean;
}

/**
 * Cleanup strategies besides cleanup on read (which always happens).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StateTtlConfig, type TtlCleanupStrategies } from "@weir/weir";
 * const s: TtlCleanupStrategies = StateTtlConfig.newBuilder(1000).cleanupFullSnapshot().build().cleanup;
 * assert.equal(s.fullSnapshot, true);
 * ```
 */
export interface TtlCleanupStrategies {
  /** Expired entries are left out of full snapshots (heap snapshots). */
  readonly fullSnapshot: boolean;
  /** Incremental cleanup on the heap backend, if enabled. */
  readonly incremental: IncrementalCleanup | undefined;
  /** Expired entries are dropped when the LSM store compacts (and flushes) segments. */
  readonly compactionFilter: boolean;
}

/**
 * Supplies the current processing time in ms (the job's `Clock` is one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapStateBackend, Serializers, StateTtlConfig, type TtlTimeProvider, ValueStateDescriptor } from "@weir/weir";
 * let now = 0;
 * const ttlTimeProvider: TtlTimeProvider = { now: () => now };
 * const backend = new HeapStateBackend().createKeyedBackend({
 *   operatorUid: "op", subtaskIndex: 0, keySerializer: Serializers.key, maxParallelism: 128,
 *   keyGroupRange: { start: 0, end: 127 }, ttlTimeProvider,
 * });
 * const d = new ValueStateDescriptor("v", Serializers.f64);
 * d.enableTimeToLive(StateTtlConfig.newBuilder(100).build());
 * const v = backend.state(d);
 * backend.setCurrentKey("k");
 * v.update(1);
 * now = 150;
 * assert.equal(v.value(), undefined);
 * ```
 */
export interface TtlTimeProvider {
  /** Milliseconds. */
  now(): number;
}

/**
 * The TTL settings of a state descriptor; build one with
 * {@linkcode StateTtlConfig.newBuilder}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, StateTtlConfig, ValueStateDescriptor } from "@weir/weir";
 * const ttl = StateTtlConfig.newBuilder(60_000)
 *   .setUpdateType("OnReadAndWrite")
 *   .setStateVisibility("NeverReturnExpired")
 *   .cleanupFullSnapshot()
 *   .cleanupIncrementally(10, false)
 *   .build();
 * const last = new ValueStateDescriptor("last", Serializers.f64);
 * last.enableTimeToLive(ttl);
 * assert.equal(last.typeId(), "value<f64>+ttl");
 * assert.equal(ttl.cleanup.incremental?.cleanupSize, 10);
 * ```
 */
export class StateTtlConfig {
  /** Time to live in ms. */
  readonly ttlMs: number;
  /** When the last-access timestamp is refreshed. */
  readonly updateType: TtlUpdateType;
  /** Whether expired, not yet cleaned up entries may be read. */
  readonly stateVisibility: TtlStateVisibility;
  /** Always `"ProcessingTime"`. */
  readonly timeCharacteristic: TtlTimeCharacteristic;
  /** Cleanup strategies. */
  readonly cleanup: TtlCleanupStrategies;

  /** Use {@linkcode StateTtlConfig.newBuilder}. */
  constructor(
    ttlMs: number,
    updateType: TtlUpdateType,
    stateVisibility: TtlStateVisibility,
    cleanup: TtlCleanupStrategies,
  ) {
    // Timestamps are whole ms (Flink's TTL is a Duration in ms): a fraction would silently round
    // the expiry up to the next ms.
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw new ConfigError(
        `State TTL must be a positive whole number of ms, got ${shownValue(ttlMs)}`,
      );
    }
    if (updateType !== "OnCreateAndWrite" && updateType !== "OnReadAndWrite") {
      throw new ConfigError(
        `State TTL update type must be "OnCreateAndWrite" or "OnReadAndWrite", got ${
          JSON.stringify(updateType)
        }`,
      );
    }
    if (
      stateVisibility !== "NeverReturnExpired" && stateVisibility !== "ReturnExpiredIfNotCleanedUp"
    ) {
      throw new ConfigError(
        `State TTL visibility must be "NeverReturnExpired" or "ReturnExpiredIfNotCleanedUp", got ${
          JSON.stringify(stateVisibility)
        }`,
      );
    }
    this.ttlMs = ttlMs;
    this.updateType = updateType;
    this.stateVisibility = stateVisibility;
    this.timeCharacteristic = "ProcessingTime";
    this.cleanup = cleanup;
  }

  /** Starts a builder with time to live `ttlMs` (a positive whole number of milliseconds). */
  static newBuilder(ttlMs: number): StateTtlConfigBuilder {
    return new StateTtlConfigBuilder(ttlMs);
  }

  /** Whether an entry last accessed at `lastAccess` has expired at `now`. */
  isExpired(lastAccess: number, now: number): boolean {
    return lastAccess + this.ttlMs <= now;
  }
}

/**
 * Builds a {@linkcode StateTtlConfig}. Defaults, as Flink's: update on create
 * and write, never return expired, cleanup in background (incremental, 5
 * entries per access, on the heap backend; the compaction filter on the LSM
 * backend) unless {@linkcode StateTtlConfigBuilder.disableCleanupInBackground}:
 * choosing one of the two replaces that one's default, not the other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StateTtlConfig } from "@weir/weir";
 * const ttl = StateTtlConfig.newBuilder(1000).disableCleanupInBackground().build();
 * assert.equal(ttl.updateType, "OnCreateAndWrite");
 * assert.equal(ttl.cleanup.incremental, undefined);
 * assert.equal(ttl.cleanup.compactionFilter, false);
 * ```
 */
export class StateTtlConfigBuilder {
  #ttlMs: number;
  #update: TtlUpdateType = "OnCreateAndWrite";
  #visibility: TtlStateVisibility = "NeverReturnExpired";
  #fullSnapshot = false;
  #incremental: IncrementalCleanup | undefined;
  #compaction = false;
  #background = true;

  /** Use {@linkcode StateTtlConfig.newBuilder}. */
  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** Sets the time to live (a positive whole number of ms; checked by `build`). */
  setTtl(ttlMs: number): this {
    this.#ttlMs = ttlMs;
    return this;
  }

  /** Sets when the timestamp is refreshed. */
  setUpdateType(type: TtlUpdateType): this {
    this.#update = type;
    return this;
  }

  /** Refreshes on creation and writes (the default). */
  updateTtlOnCreateAndWrite(): this {
    return this.setUpdateType("OnCreateAndWrite");
  }

  /** Refreshes on reads too. */
  updateTtlOnReadAndWrite(): this {
    return this.setUpdateType("OnReadAndWrite");
  }

  /** Sets the visibility of expired entries. */
  setStateVisibility(visibility: TtlStateVisibility): this {
    this.#visibility = visibility;
    return this;
  }

  /** Expired entries are never returned (the default). */
  neverReturnExpired(): this {
    return this.setStateVisibility("NeverReturnExpired");
  }

  /**
   * An expired entry is returned (once) while not cleaned up; until then reducing and
   * aggregating state also add onto it, as in Flink.
   */
  returnExpiredIfNotCleanedUp(): this {
    return this.setStateVisibility("ReturnExpiredIfNotCleanedUp");
  }

  /** Processing time (the only characteristic, as in Flink). */
  useProcessingTime(): this {
    return this;
  }

  /** Leaves expired entries out of full snapshots. */
  cleanupFullSnapshot(): this {
    this.#fullSnapshot = true;
    return this;
  }

  /**
   * Heap backend: checks `cleanupSize` entries per state access (and per
   * record when `runForEveryRecord`) and removes the expired ones.
   */
  cleanupIncrementally(cleanupSize: number, runForEveryRecord: boolean): this {
    if (!Number.isInteger(cleanupSize) || cleanupSize <= 0) {
      throw new ConfigError(
        `cleanupIncrementally needs a positive entry count, got ${cleanupSize}`,
      );
    }
    this.#incremental = { cleanupSize, runForEveryRecord };
    return this;
  }

  /** LSM backend: drops expired entries when segments are compacted. */
  cleanupInLsmCompactFilter(): this {
    this.#compaction = true;
    return this;
  }

  /** Flink's name for {@linkcode StateTtlConfigBuilder.cleanupInLsmCompactFilter}. */
  cleanupInRocksdbCompactFilter(): this {
    return this.cleanupInLsmCompactFilter();
  }

  /** No background cleanup unless a strategy is chosen explicitly. */
  disableCleanupInBackground(): this {
    this.#background = false;
    return this;
  }

  /** The config. */
  build(): StateTtlConfig {
    // As Flink's: each background strategy not chosen keeps its default, so a strategy chosen for
    // one backend (incremental, heap) does not leave expired state forever on the other (LSM).
    return new StateTtlConfig(this.#ttlMs, this.#update, this.#visibility, {
      fullSnapshot: this.#fullSnapshot,
      incremental: this.#incremental ??
        (this.#background ? { cleanupSize: 5, runForEveryRecord: false } : undefined),
      compactionFilter: this.#compaction || this.#background,
    });
  }
}

/** A stored value with its last-access timestamp (ms). */
export interface TtlValue<T> {
  /** The user's value. */
  readonly v: T;
  /** Last access, ms. */
  readonly ts: number;
}

/** Bytes of the timestamp prefix. */
export const TTL_TIMESTAMP_BYTES = 8;

/**
 * Serializes a {@linkcode TtlValue}: the timestamp as u64 big-endian ms, then
 * the inner serializer's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserialize, serialize, Serializers } from "@weir/weir";
 * import { ttlSerializer } from "./ttl.ts";
 * const s = ttlSerializer(Serializers.f64);
 * const bytes = serialize(s, { v: 2, ts: 258 });
 * assert.deepEqual([...bytes.subarray(0, 8)], [0, 0, 0, 0, 0, 0, 1, 2]);
 * assert.deepEqual(deserialize(s, bytes), { v: 2, ts: 258 });
 * ```
 */
export function ttlSerializer<T>(inner: Serializer<T>): Serializer<TtlValue<T>> {
  return {
    id: `ttl<${inner.id}>`,
    version: inner.version,
    write(value: TtlValue<T>, out: ByteWriter): void {
      const ts = value.ts;
      if (!Number.isSafeInteger(ts) || ts < 0) {
        throw new SerializationError(`TTL timestamp ${ts} is not a non-negative integer of ms`);
      }
      out.writeU32(Math.floor(ts / 0x1_0000_0000));
      out.writeU32(ts >>> 0);
      inner.write(value.v, out);
    },
    read(input: ByteReader): TtlValue<T> {
      const hi = input.readU32();
      const lo = input.readU32();
      return { ts: hi * 0x1_0000_0000 + lo, v: inner.read(input) };
    },
    snapshotSchema: () => ({
      id: `ttl<${inner.id}>`,
      version: inner.version,
      nested: [schemaOf(inner as Serializer<unknown>)],
    }),
    // The timestamp stays; the value evolves as `inner` decides.
    resolveSchemaCompatibility(old): SchemaCompatibility<TtlValue<T>> {
      if (!old.id.startsWith("ttl<") || old.nested?.length !== 1) {
        return incompatible(
          `"${old.id}" was written without TTL; state cannot change between with and without TTL`,
        );
      }
      const c = resolveSchemaCompatibility(inner, old.nested[0]!);
      if (c.type !== "compatibleAfterMigration") return c;
      return {
        type: "compatibleAfterMigration",
        readOld(input) {
          const hi = input.readU32();
          const lo = input.readU32();
          return { ts: hi * 0x1_0000_0000 + lo, v: c.readOld(input) };
        },
      };
    },
  };
}
