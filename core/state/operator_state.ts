/**
 * Operator (non-keyed) state: list state redistributed by even split, union
 * list state given whole to every subtask, and broadcast state (a map that is
 * the same on every subtask). Snapshots are plain data; redistribution on
 * rescale is a pure function.
 *
 * @module
 */
import { IncompatibleStateError, StateError } from "../errors.ts";
import type { ListStateDescriptor, MapStateDescriptor } from "./descriptors.ts";
import { deserialize, serialize } from "./serializer.ts";
import { latin1 } from "./_latin1.ts";
import { restoredValueMigration, stateSchemas } from "./_state_migration.ts";
import { checkListElement, type StateSchemas } from "./state_keys.ts";
import type { ListState, MapState } from "./state.ts";

/**
 * How list entries are redistributed on restore.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OperatorStateMode } from "@weir/weir";
 * import { redistributeOperatorState } from "./operator_state.ts";
 * // Two subtasks kept one item each; what each of 3 subtasks gets on restore:
 * const restored = (mode: OperatorStateMode) =>
 *   redistributeOperatorState(
 *     [0, 1].map((n) => ({ s: { mode, typeId: "list<x>", items: [new Uint8Array([n])] } })),
 *     3,
 *   ).map((s) => (s.s?.items ?? []).map((b) => b[0]));
 * // split: the items are divided among the subtasks;
 * assert.deepEqual(restored("split"), [[0], [1], []]);
 * // union: every subtask gets them all; broadcast: every subtask the same (the first's).
 * assert.deepEqual(restored("union"), [[0, 1], [0, 1], [0, 1]]);
 * assert.deepEqual(restored("broadcast"), [[0], [0], [0]]);
 * ```
 */
export type OperatorStateMode = "split" | "union" | "broadcast";

/**
 * One operator state of one subtask, serialized.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ListStateDescriptor, type OperatorStateEntry, OperatorStateStore, Serializers } from "@weir/weir";
 * const store = new OperatorStateStore("src");
 * store.getListState(new ListStateDescriptor("offsets", Serializers.f64)).add(7);
 * const entry: OperatorStateEntry | undefined = store.snapshot()["offsets"];
 * assert.equal(entry?.mode, "split");
 * ```
 */
export interface OperatorStateEntry {
  /** Redistribution mode. */
  readonly mode: OperatorStateMode;
  /** The descriptor's type id. */
  readonly typeId: string;
  /**
   * The serializers' schemas, so that changed serializers can read the items
   * (absent in snapshots written before schemas were recorded).
   */
  readonly schemas?: StateSchemas;
  /** Serialized list elements, or (broadcast) alternating keys and values. */
  readonly items: Uint8Array[];
}

/**
 * All operator state of one subtask: state name → entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ListStateDescriptor, OperatorStateStore, type OperatorStateSnapshot, Serializers } from "@weir/weir";
 * const offsets = new ListStateDescriptor("offsets", Serializers.f64);
 * const before = new OperatorStateStore("src");
 * before.getListState(offsets).update([1, 2]);
 * const snapshot: OperatorStateSnapshot = before.snapshot();
 * const after = new OperatorStateStore("src", snapshot);
 * assert.ok(after.isRestored);
 * assert.deepEqual([...after.getListState(offsets).get()!], [1, 2]);
 * ```
 */
export type OperatorStateSnapshot = Record<string, OperatorStateEntry>;

/**
 * Redistributes operator state from `old` subtask snapshots to `parallelism`
 * new subtasks: split lists are concatenated and cut into even contiguous
 * parts (at the same parallelism each subtask keeps its own, as in Flink, so
 * a restart does not move a source's splits between subtasks), union lists go
 * whole to everyone, broadcast state comes from the first subtask that has it.
 *
 * @example Two subtasks' split lists spread over three
 * ```ts
 * import assert from "node:assert/strict";
 * import { redistributeOperatorState } from "./operator_state.ts";
 * const item = (n: number) => new Uint8Array([n]);
 * const entry = (ns: number[]) => ({ s: { mode: "split" as const, typeId: "list<x>", items: ns.map(item) } });
 * const next = redistributeOperatorState([entry([1, 2]), entry([3, 4, 5])], 3);
 * assert.ok(next.map((s) => s.s!.items.length).join() === "2,2,1");
 * ```
 */
export function redistributeOperatorState(
  old: readonly OperatorStateSnapshot[],
  parallelism: number,
): OperatorStateSnapshot[] {
  const out: OperatorStateSnapshot[] = Array.from({ length: parallelism }, () => ({}));
  const names = new Set(old.flatMap((s) => Object.keys(s)));
  for (const name of names) {
    const entries = old.map((s) => s[name]).filter((e) => e !== undefined);
    const first = entries[0]!;
    if (first.mode === "broadcast") {
      for (const s of out) s[name] = first;
      continue;
    }
    const all = entries.flatMap((e) => e.items);
    if (first.mode === "union") {
      for (const s of out) s[name] = { ...first, items: all };
      continue;
    }
    if (old.length === parallelism) {
      old.forEach((s, i) => {
        if (s[name] !== undefined) out[i]![name] = s[name];
      });
      continue;
    }
    const base = Math.floor(all.length / parallelism);
    const extra = all.length % parallelism;
    let at = 0;
    for (let i = 0; i < parallelism; i++) {
      const n = base + (i < extra ? 1 : 0);
      out[i]![name] = { ...first, items: all.slice(at, at + n) };
      at += n;
    }
  }
  return out;
}

interface Registered {
  mode: OperatorStateMode;
  typeId: string;
  schemas: StateSchemas;
  snapshot(): Uint8Array[];
}

/**
 * The operator state of one operator subtask, handed to
 * `CheckpointedFunction.initializeState`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ListStateDescriptor, OperatorStateStore, Serializers } from "@weir/weir";
 * const store = new OperatorStateStore("src");
 * const offsets = store.getListState(new ListStateDescriptor("offsets", Serializers.f64));
 * offsets.update([42]);
 * const restored = new OperatorStateStore("src", store.snapshot());
 * assert.ok(restored.getListState(new ListStateDescriptor("offsets", Serializers.f64)).get()![0] === 42);
 * ```
 */
export class OperatorStateStore {
  readonly #operator: string;
  readonly #restored: OperatorStateSnapshot;
  readonly #states = new Map<string, Registered & { state: unknown }>();

  /** Creates a store, optionally from a (redistributed) snapshot. */
  constructor(operatorUid: string, restored: OperatorStateSnapshot = {}) {
    this.#operator = operatorUid;
    this.#restored = restored;
  }

  /** Whether the store was created from a snapshot. */
  get isRestored(): boolean {
    return Object.keys(this.#restored).length > 0;
  }

  #register<S>(
    d: ListStateDescriptor<unknown> | MapStateDescriptor<unknown, unknown>,
    mode: OperatorStateMode,
    make: (items: Uint8Array[]) => { state: S; snapshot(): Uint8Array[] },
  ): S {
    const name = d.name;
    if (d.ttlConfig) {
      // Nothing would ever expire (Flink ignores the TTL here just as silently): say so instead.
      throw new StateError(
        `Operator state "${name}" of operator "${this.#operator}" has a time-to-live: TTL is ` +
          `for keyed state only, operator and broadcast state never expire`,
      );
    }
    const typeId = d.typeId();
    const known = this.#states.get(name);
    if (known) {
      if (known.mode !== mode || known.typeId !== typeId) {
        throw new StateError(
          `Operator state "${name}" of operator "${this.#operator}" is registered as ` +
            `${known.mode} ${known.typeId}; cannot register it again as ${mode} ${typeId}`,
        );
      }
      return known.state as S;
    }
    const prior = this.#restored[name];
    let items = prior?.items ?? [];
    if (prior) {
      if (prior.mode !== mode) {
        throw new IncompatibleStateError(
          `Cannot restore operator state "${name}" of operator "${this.#operator}": ` +
            `the snapshot holds ${prior.mode} ${prior.typeId}, the job asks for ${mode} ${typeId}`,
        );
      }
      const lt = prior.typeId.indexOf("<");
      const old = {
        id: 0,
        name,
        kind: lt < 0 ? prior.typeId : prior.typeId.slice(0, lt),
        typeId: prior.typeId,
        namespace: null,
        ...(prior.schemas ? { schemas: prior.schemas } : {}),
      };
      const migrate = restoredValueMigration(old, d, undefined, this.#operator, "operator state");
      // Items are few (positions, pending transactions, broadcast rules): migrated now, all.
      if (migrate) {
        items = mode === "broadcast"
          ? items.map((b, i) => (i % 2 === 1 ? migrate(b) : b))
          : items.map(migrate);
      }
    }
    const made = make(items);
    this.#states.set(name, {
      mode,
      typeId,
      schemas: stateSchemas(d),
      snapshot: made.snapshot,
      state: made.state,
    });
    return made.state;
  }

  #list<T>(d: ListStateDescriptor<T>, mode: OperatorStateMode): ListState<T> {
    // checkListElement quotes it: `state "name" of operator "uid"`.
    const name = `${d.name}" of operator "${this.#operator}`;
    return this.#register(d as ListStateDescriptor<unknown>, mode, (items) => {
      let list = items.map((b) => deserialize(d.elementSerializer, b));
      const state: ListState<T> = {
        get: () => list.slice(),
        // A null element is refused here, as keyed list state and Flink's refuse it, instead of
        // failing every later checkpoint (or restoring as null): all or nothing per call.
        add: (v) => {
          checkListElement(v, name);
          list.push(v);
        },
        addAll: (vs) => {
          const added = [...vs];
          for (const v of added) checkListElement(v, name);
          list.push(...added);
        },
        update: (vs) => {
          const next = [...vs];
          for (const v of next) checkListElement(v, name);
          list = next;
        },
        clear: () => void (list = []),
      };
      return { state, snapshot: () => list.map((v) => serialize(d.elementSerializer, v)) };
    });
  }

  /** List state redistributed by even split on rescale. */
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.#list(descriptor, "split");
  }

  /** List state every subtask gets whole on restore. */
  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.#list(descriptor, "union");
  }

  /**
   * Broadcast state: a map that is the same on every subtask. Keys compare by
   * value, as keyed `MapState`'s do: an array or object key is found again by
   * an equal one (its serialized form), and 0 and -0 are one key.
   */
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    const d = descriptor as MapStateDescriptor<unknown, unknown>;
    return this.#register(d, "broadcast", (items) => {
      // Entries by key: the key itself for a primitive, for an object the first key object of
      // its serialized form (`sameKeys`), so that a JS Map compares them by value.
      const m = new Map<unknown, [K, V]>();
      const sameKeys = new Map<string, unknown>();
      const idOf = (k: K, add: boolean): unknown => {
        if (typeof k !== "object" || k === null) return Object.is(k, -0) ? 0 : k;
        const form = latin1(serialize(descriptor.keySerializer, k));
        const known = sameKeys.get(form);
        if (known !== undefined || !add) return known;
        sameKeys.set(form, k);
        return k;
      };
      const put = (k: K, v: V) => {
        const id = idOf(k, true);
        m.set(id, [id as K, v]);
      };
      for (let i = 0; i + 1 < items.length; i += 2) {
        put(
          deserialize(descriptor.keySerializer, items[i]!),
          deserialize(descriptor.valueSerializer, items[i + 1]!),
        );
      }
      const state: MapState<K, V> = {
        get: (k) => m.get(idOf(k, false))?.[1],
        put,
        putAll: (es) => {
          for (const [k, v] of es) put(k, v);
        },
        remove: (k) => {
          const id = idOf(k, false);
          if (typeof id === "object" && id !== null) {
            sameKeys.delete(latin1(serialize(descriptor.keySerializer, k)));
          }
          m.delete(id);
        },
        contains: (k) => m.has(idOf(k, false)),
        entries: () => [...m.values()].values(),
        keys: () => [...m.values()].map(([k]) => k).values(),
        values: () => [...m.values()].map(([, v]) => v).values(),
        isEmpty: () => m.size === 0,
        clear: () => {
          m.clear();
          sameKeys.clear();
        },
      };
      return {
        state,
        snapshot: () =>
          [...m.values()].flatMap(([k, v]) => [
            serialize(descriptor.keySerializer, k),
            serialize(descriptor.valueSerializer, v),
          ]),
      };
    });
  }

  /** Serializes every registered state (restored but unregistered state is kept). */
  snapshot(): OperatorStateSnapshot {
    const out: OperatorStateSnapshot = { ...this.#restored };
    for (const [name, s] of this.#states) {
      out[name] = { mode: s.mode, typeId: s.typeId, schemas: s.schemas, items: s.snapshot() };
    }
    return out;
  }
}
