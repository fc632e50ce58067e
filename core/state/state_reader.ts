/**
 * Reading keyed state straight from a checkpoint or savepoint, without
 * running the job (what Flink's State Processor API does): the operator's
 * handles are scanned in the layout of `core/state/state_keys.ts` and keys
 * and values decoded with serializers rebuilt from the recorded ids.
 *
 * @module
 */
import { ConfigError, StateError } from "../errors.ts";
import type { CheckpointFs } from "../checkpoint/checkpoint_fs.ts";
import { decodeOperatorState } from "../checkpoint/manifest.ts";
import type { LoadedManifest } from "../checkpoint/storage.ts";
import type { KeyedRestore, KeyedStateHandle } from "./backend.ts";
import type { OperatorStateMode } from "./operator_state.ts";
import type { ByteReader } from "./bytes.ts";
import { keyGroupOf } from "./key_group.ts";
import { readHandleEntries } from "./lsm/handle_reader.ts";
import { deserialize, serialize, type Serializer } from "./serializer.ts";
import { decodeList, readStateKeyHeader, type StateMeta } from "./state_keys.ts";
import { parseStateTypeId, RawBytes, rawSerializer, serializerFromId } from "./serializer_ids.ts";

/** One decoded state entry. */
export interface StateEntry {
  /** The key group it lives in. */
  readonly keyGroup: number;
  /** The stream key (RawBytes when its serializer is unknown). */
  readonly key: unknown;
  /** The namespace, for state with namespaces (windows). */
  readonly namespace?: unknown;
  /** The map key, for map state. */
  readonly userKey?: unknown;
  /** The value: a list state's value is the array of its elements. */
  readonly value: unknown;
}

/** One keyed state of one operator in a snapshot, ready to read. */
export interface StateView {
  /** Operator uid. */
  readonly operator: string;
  /** State name. */
  readonly state: string;
  /** Descriptor kind. */
  readonly kind: string;
  /** Descriptor type id. */
  readonly typeId: string;
  /** The key serializer's id, or undefined when the manifest does not record it. */
  readonly keySerializerId: string | undefined;
  /** The namespace serializer's id, or null. */
  readonly namespaceId: string | null;
  /** Things the reader could not decode, to tell the user once. */
  readonly notes: string[];
  /** Number of key groups. */
  readonly maxParallelism: number;
  /**
   * The state's time-to-live in ms, when the snapshot records it (state with TTL): values
   * expired by the time of reading are marked `expired: true`.
   */
  readonly ttlMs?: number;
  /** The subtask handles holding the state, with the state's id in each. */
  readonly handles: readonly { handle: KeyedStateHandle; meta: StateMeta; subtask: number }[];
}

interface Codecs {
  /** When the reading started: what TTL expiry is judged against. */
  now: number;
  key: Serializer<unknown>;
  namespace: Serializer<unknown> | undefined;
  userKey: Serializer<unknown> | undefined;
  value: Serializer<unknown>;
}

/**
 * Finds keyed state `state` of operator `operator` in a loaded manifest and
 * throws a `StateError` naming what exists when it is not there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openState } from "./state_reader.ts";
 * const manifest = { maxParallelism: 128, operators: {} } as never;
 * assert.throws(
 *   () => openState({ manifest, dir: "/x", segmentPath: (n) => n }, "count", "n"),
 *   /no operator "count"/,
 * );
 * ```
 */
export function openState(loaded: LoadedManifest, operator: string, state: string): StateView {
  const m = loaded.manifest;
  const op = m.operators[operator];
  if (!op) {
    const uids = Object.keys(m.operators);
    throw new StateError(
      `${loaded.dir} has no operator "${operator}"${
        uids.length > 0 ? ` (operators: ${uids.join(", ")})` : ""
      }`,
    );
  }
  const keyed = op.subtasks.filter((s) => s.keyed !== undefined);
  // Operator state is named too, so that a lookup of it says what it is.
  const opStates = [...new Set(op.subtasks.flatMap((s) => Object.keys(s.operatorState)))];
  const opNote = opStates.length > 0 ? `; operator state: ${opStates.join(", ")}` : "";
  if (keyed.length === 0) {
    throw new StateError(
      opStates.length > 0
        ? `Operator "${operator}" in ${loaded.dir} has no keyed state and no operator state ` +
          `"${state}" (operator state: ${opStates.join(", ")})`
        : `Operator "${operator}" in ${loaded.dir} has no keyed state`,
    );
  }
  const handles: { handle: KeyedStateHandle; meta: StateMeta; subtask: number }[] = [];
  const names = new Set<string>();
  for (const s of keyed) {
    for (const meta of s.keyed!.states) {
      names.add(meta.name);
      if (meta.name === state) handles.push({ handle: s.keyed!, meta, subtask: s.index });
    }
  }
  if (handles.length === 0) {
    throw new StateError(
      `Operator "${operator}" in ${loaded.dir} has no keyed state "${state}"${
        names.size > 0 ? ` (states: ${[...names].join(", ")}${opNote})` : ""
      }`,
    );
  }
  const meta = handles[0]!.meta;
  return {
    operator,
    state,
    kind: meta.kind,
    typeId: meta.typeId,
    keySerializerId: op.keySerializer,
    namespaceId: meta.namespace,
    notes: [],
    maxParallelism: m.maxParallelism,
    ...(meta.ttlMs !== undefined ? { ttlMs: meta.ttlMs } : {}),
    handles,
  };
}

function codecs(view: StateView): Codecs {
  const note = (what: string, id: string | undefined) => {
    const msg = id === undefined
      ? `the checkpoint does not record the ${what} serializer; ${what}s are shown as base64`
      : `the ${what} serializer "${id}" is custom and cannot be rebuilt offline; ${what}s are shown as base64`;
    if (!view.notes.includes(msg)) view.notes.push(msg);
  };
  const pick = (what: string, id: string | undefined): Serializer<unknown> => {
    const s = id === undefined ? undefined : serializerFromId(id);
    if (!s) note(what, id);
    return s ?? rawSerializer;
  };
  const type = parseStateTypeId(view.typeId);
  return {
    now: Date.now(),
    key: pick("key", view.keySerializerId),
    namespace: view.namespaceId === null ? undefined : pick("namespace", view.namespaceId),
    userKey: view.kind === "map" ? pick("map key", type?.userKeyId) : undefined,
    value: pick("value", type?.valueId),
  };
}

function decodeValue(view: StateView, c: Codecs, bytes: Uint8Array): unknown {
  try {
    const v = view.kind === "list" ? decodeList(c.value, bytes) : deserialize(c.value, bytes);
    return view.ttlMs === undefined || c.value === rawSerializer ? v : markExpired(view, c, v);
  } catch (e) {
    const msg = `some values do not decode as ${view.typeId} (${
      e instanceof Error ? e.message : e
    }); they are shown as base64`;
    if (!view.notes.includes(msg)) view.notes.push(msg);
    return new RawBytes(bytes.slice());
  }
}

/**
 * A TTL state's stored value (`{v, ts}`, a list's elements each) with `expired: true` on those
 * expired when the reading started, as the job's TTL check (`ts + ttl <= now`) judges them: an
 * expired value is never shown as live, though it is shown until cleanup removes it.
 */
function markExpired(view: StateView, c: Codecs, v: unknown): unknown {
  const mark = (e: { v: unknown; ts: number }) =>
    e.ts + view.ttlMs! <= c.now ? { ...e, expired: true } : e;
  return Array.isArray(v) ? v.map(mark) : mark(v as { v: unknown; ts: number });
}

function decodeEntry(
  view: StateView,
  c: Codecs,
  keyGroup: number,
  rest: ByteReader,
  value: Uint8Array | undefined,
): StateEntry {
  const key = c.key.read(rest);
  const entry: { -readonly [K in keyof StateEntry]: StateEntry[K] } = {
    keyGroup,
    key,
    value: undefined,
  };
  if (c.namespace) entry.namespace = rest.remaining() > 0 ? c.namespace.read(rest) : undefined;
  if (c.userKey) entry.userKey = rest.remaining() > 0 ? c.userKey.read(rest) : undefined;
  if (value !== undefined) entry.value = decodeValue(view, c, value);
  return entry;
}

/**
 * Decodes raw store entries of the state `view` reads: `[key, value]` as a
 * snapshot holds them; without a value only the key's parts are decoded
 * (the entry's identity, for an entry that was removed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { entryDecoder } from "./state_reader.ts";
 * const view = {
 *   operator: "o", state: "s", kind: "value", typeId: "value<f64>", keySerializerId: "string",
 *   namespaceId: null, notes: [], maxParallelism: 128, handles: [],
 * };
 * // key group 3, state id 1, the string key "a" (varint length 1, 0x61)
 * const e = entryDecoder(view)(new Uint8Array([0, 3, 0, 1, 1, 0x61]), undefined);
 * assert.deepEqual(e, { keyGroup: 3, key: "a", value: undefined });
 * ```
 */
export function entryDecoder(
  view: StateView,
): (key: Uint8Array, value: Uint8Array | undefined) => StateEntry {
  const c = codecs(view);
  return (key, value) => {
    const parts = readStateKeyHeader(key);
    return decodeEntry(view, c, parts.keyGroup, parts.rest, value);
  };
}

function restoreOf(loaded: LoadedManifest, fs: CheckpointFs, view: StateView): KeyedRestore {
  return {
    handles: view.handles.map((h) => h.handle),
    fs,
    segmentPath: (name) => loaded.segmentPath(name),
  };
}

/**
 * Every entry of a state, subtask by subtask in key order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";
 * import { dumpState } from "./state_reader.ts";
 * const view = {
 *   operator: "o", state: "s", kind: "value", typeId: "value<f64>", keySerializerId: "string",
 *   namespaceId: null, notes: [], maxParallelism: 128, handles: [],
 * };
 * const loaded = { manifest: {} as never, dir: "/x", segmentPath: (n: string) => n };
 * assert.equal([...dumpState(loaded, new DenoCheckpointFs(), view)].length, 0);
 * ```
 */
export function* dumpState(
  loaded: LoadedManifest,
  fs: CheckpointFs,
  view: StateView,
): Generator<StateEntry> {
  const c = codecs(view);
  const restore = restoreOf(loaded, fs, view);
  for (const { handle, meta } of view.handles) {
    for (const [k, v] of readHandleEntries(restore, handle, handle.keyGroupRange)) {
      const parts = readStateKeyHeader(k);
      if (parts.stateId !== meta.id) continue;
      yield decodeEntry(view, c, parts.keyGroup, parts.rest, v);
    }
  }
}

/** Where a key lives: its key group and the subtask holding it. */
export interface KeyLocation {
  /** The key group. */
  readonly keyGroup: number;
  /** The subtask whose key-group range holds it, or -1. */
  readonly subtask: number;
}

/**
 * The entries of one key (several for map state and namespaced state),
 * found by hashing the key to its key group and reading only that group.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";
 * import { getState } from "./state_reader.ts";
 * const view = {
 *   operator: "o", state: "s", kind: "value", typeId: "value<f64>", keySerializerId: "string",
 *   namespaceId: null, notes: [], maxParallelism: 128, handles: [],
 * };
 * const loaded = { manifest: {} as never, dir: "/x", segmentPath: (n: string) => n };
 * const r = getState(loaded, new DenoCheckpointFs(), view, "a");
 * assert.ok(r.entries.length === 0 && r.location.subtask === -1);
 * ```
 */
export function getState(
  loaded: LoadedManifest,
  fs: CheckpointFs,
  view: StateView,
  key: unknown,
): { location: KeyLocation; entries: StateEntry[] } {
  const c = codecs(view);
  if (c.key === rawSerializer) {
    throw new StateError(
      `Cannot look up a key of operator "${view.operator}": ${
        view.keySerializerId === undefined
          ? "the checkpoint does not record its key serializer"
          : `its key serializer "${view.keySerializerId}" is custom`
      } (use weir state dump)`,
    );
  }
  const keyBytes = serialize(c.key, key);
  const keyGroup = keyGroupOf(keyBytes, view.maxParallelism);
  const found = view.handles.find((h) =>
    h.handle.keyGroupRange.start <= keyGroup && keyGroup <= h.handle.keyGroupRange.end
  );
  const location = { keyGroup, subtask: found?.subtask ?? -1 };
  const entries: StateEntry[] = [];
  if (!found) return { location, entries };
  const restore = restoreOf(loaded, fs, view);
  for (
    const [k, v] of readHandleEntries(restore, found.handle, { start: keyGroup, end: keyGroup })
  ) {
    const parts = readStateKeyHeader(k);
    if (parts.stateId !== found.meta.id || !startsWith(k, 4, keyBytes)) continue;
    entries.push(decodeEntry(view, c, keyGroup, parts.rest, v));
  }
  return { location, entries };
}

function startsWith(bytes: Uint8Array, offset: number, prefix: Uint8Array): boolean {
  if (bytes.length < offset + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[offset + i] !== prefix[i]) return false;
  return true;
}

/**
 * Turns the `--key` text into a key for the key serializer `id`: strings as
 * they are, numbers for `f64` / `i32`, JSON for structured serializers, and
 * for the generic `key` serializer a string unless the text is a JSON array
 * or object (or `json` is set). Text that is no such key is a `ConfigError` (bad usage).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseKeyText } from "./state_reader.ts";
 * assert.equal(parseKeyText("42", "f64", false), 42);
 * assert.equal(parseKeyText("42", "key", false), "42");
 * assert.equal(parseKeyText("42", "key", true), 42);
 * assert.deepEqual(parseKeyText('["a",1]', "key", false), ["a", 1]);
 * ```
 */
export function parseKeyText(text: string, id: string | undefined, json: boolean): unknown {
  const asJson = () => {
    try {
      return JSON.parse(text);
    } catch {
      throw new ConfigError(`--key ${text} is not valid JSON (the key serializer is "${id}")`);
    }
  };
  if (json) return asJson();
  switch (id) {
    case "string":
      return text;
    case "f64":
    case "i32": {
      const n = Number(text);
      if (text.trim() === "" || Number.isNaN(n)) {
        throw new ConfigError(`--key ${text} is not a number (the key serializer is "${id}")`);
      }
      return n;
    }
    case "bigint":
      try {
        return BigInt(text);
      } catch {
        throw new ConfigError(`--key ${text} is not an integer (the key serializer is "bigint")`);
      }
    case "boolean":
      if (text !== "true" && text !== "false") {
        throw new ConfigError(`--key must be true or false (the key serializer is "boolean")`);
      }
      return text === "true";
    case "key":
    case "json":
      return /^\s*[[{]/.test(text) ? asJson() : text;
    default:
      return asJson();
  }
}

/**
 * One operator (non-keyed) state of one operator in a snapshot: a list
 * (`split`), union list (`union`) or broadcast state, each subtask's items
 * as the manifest holds them.
 */
export interface OperatorStateView {
  /** Operator uid. */
  readonly operator: string;
  /** State name. */
  readonly state: string;
  /** How the state is redistributed: `split`, `union` or `broadcast`. */
  readonly mode: OperatorStateMode;
  /** Descriptor type id (`list<f64>`, `map<string,f64>`). */
  readonly typeId: string;
  /** Things the reader could not decode, to tell the user once. */
  readonly notes: string[];
  /** Each subtask's serialized items (broadcast: alternating keys and values). */
  readonly subtasks: readonly { subtask: number; items: readonly Uint8Array[] }[];
}

/** One element of operator state: `subtask` for list state, `key` for broadcast state. */
export interface OperatorStateItem {
  /** The subtask that holds the element (list state; union state is every subtask's). */
  readonly subtask?: number;
  /** The map key (broadcast state). */
  readonly key?: unknown;
  /** The element, or the map value. */
  readonly value: unknown;
}

/**
 * Finds operator state `state` of operator `operator`, or undefined when the
 * operator has none of that name (keyed state is read with {@linkcode openState}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findOperatorState } from "./state_reader.ts";
 * const manifest = { maxParallelism: 128, operators: { src: { subtasks: [
 *   { index: 0, operatorState: { offsets: { mode: "split", typeId: "list<f64>", items: [] } } },
 * ] } } } as never;
 * const loaded = { manifest, dir: "/x", segmentPath: (n: string) => n };
 * assert.equal(findOperatorState(loaded, "src", "offsets")?.mode, "split");
 * assert.equal(findOperatorState(loaded, "src", "nope"), undefined);
 * ```
 */
export function findOperatorState(
  loaded: LoadedManifest,
  operator: string,
  state: string,
): OperatorStateView | undefined {
  const op = loaded.manifest.operators[operator];
  if (!op || !op.subtasks.some((s) => state in s.operatorState)) return undefined;
  const subtasks: { subtask: number; items: Uint8Array[] }[] = [];
  let first: { mode: OperatorStateMode; typeId: string } | undefined;
  for (const s of [...op.subtasks].sort((a, b) => a.index - b.index)) {
    if (!(state in s.operatorState)) continue;
    const e = decodeOperatorState({ [state]: s.operatorState[state]! })[state]!;
    first ??= e;
    subtasks.push({ subtask: s.index, items: e.items });
  }
  return { operator, state, mode: first!.mode, typeId: first!.typeId, notes: [], subtasks };
}

/**
 * The elements of operator state as a restore hands them out, as Flink's
 * `SavepointReader.readListState` / `readUnionState` / `readBroadcastState`
 * read them: list state every subtask's elements (with the subtask), union
 * state the union of every subtask's (what each restored subtask gets),
 * broadcast state its entries once (from the first subtask, as restore
 * takes them). Values of custom serializers are {@linkcode RawBytes}, with a
 * note in `view.notes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Serializers, serialize } from "@weir/weir";
 * import { dumpOperatorState } from "./state_reader.ts";
 * const f = (n: number) => serialize(Serializers.f64, n);
 * const view = {
 *   operator: "src", state: "offsets", mode: "split" as const, typeId: "list<f64>", notes: [],
 *   subtasks: [{ subtask: 0, items: [f(1)] }, { subtask: 1, items: [f(2), f(3)] }],
 * };
 * assert.deepEqual([...dumpOperatorState(view)], [
 *   { subtask: 0, value: 1 }, { subtask: 1, value: 2 }, { subtask: 1, value: 3 },
 * ]);
 * ```
 */
export function* dumpOperatorState(view: OperatorStateView): Generator<OperatorStateItem> {
  const type = parseStateTypeId(view.typeId);
  const pick = (what: string, id: string | undefined): Serializer<unknown> => {
    const s = id === undefined ? undefined : serializerFromId(id);
    if (!s) {
      const msg = `the ${what} serializer "${id ?? view.typeId}" is custom and cannot be rebuilt ` +
        `offline; ${what}s are shown as base64`;
      if (!view.notes.includes(msg)) view.notes.push(msg);
    }
    return s ?? rawSerializer;
  };
  const decode = (what: string, s: Serializer<unknown>, bytes: Uint8Array): unknown => {
    try {
      return deserialize(s, bytes);
    } catch (e) {
      const msg = `some ${what}s do not decode as ${view.typeId} (${
        e instanceof Error ? e.message : e
      }); they are shown as base64`;
      if (!view.notes.includes(msg)) view.notes.push(msg);
      return new RawBytes(bytes.slice());
    }
  };
  if (view.mode === "broadcast") {
    const key = pick("map key", type?.userKeyId);
    const value = pick("value", type?.valueId);
    const items = view.subtasks[0]?.items ?? [];
    for (let i = 0; i + 1 < items.length; i += 2) {
      yield {
        key: decode("map key", key, items[i]!),
        value: decode("value", value, items[i + 1]!),
      };
    }
    return;
  }
  const value = pick("value", type?.valueId);
  for (const { subtask, items } of view.subtasks) {
    for (const b of items) {
      const v = decode("value", value, b);
      yield view.mode === "split" ? { subtask, value: v } : { value: v };
    }
  }
}

/** One registered timer of a keyed operator, as a snapshot holds it. */
export interface TimerEntry {
  /** The key group it lives in. */
  readonly keyGroup: number;
  /** Its time domain. */
  readonly domain: "event-time" | "processing-time";
  /** When it fires. */
  readonly timestamp: number;
  /** The key that is current when it fires (RawBytes when its serializer is unknown). */
  readonly key: unknown;
  /** Its namespace (a window), when it has one. */
  readonly namespace?: unknown;
}

/** Reserved state ids of timers in store keys (core/runtime/timers.ts). */
const TIMER_IDS = new Map<number, TimerEntry["domain"]>([
  [0xfff1, "event-time"],
  [0xfff2, "processing-time"],
]);

/** A timer's timestamp: 8 bytes in order-preserving form (core/runtime/timers.ts). */
function readTimerTimestamp(r: ByteReader): number {
  const b = r.readRaw(8);
  const v = new DataView(new ArrayBuffer(8));
  if (b[0]! & 0x80) {
    v.setUint8(0, b[0]! & 0x7f);
    for (let i = 1; i < 8; i++) v.setUint8(i, b[i]!);
  } else for (let i = 0; i < 8; i++) v.setUint8(i, ~b[i]! & 0xff);
  return v.getFloat64(0);
}

/**
 * Every registered timer of keyed operator `operator`, subtask by subtask in
 * key-group and timestamp order (what Flink's `KeyedStateReaderFunction` sees as
 * `registeredEventTimeTimers()` / `registeredProcessingTimeTimers()`). Keys are
 * read with the recorded key serializer; namespaces (windows) with the
 * namespace serializer of the operator's namespaced states when there is
 * exactly one, else as {@linkcode RawBytes} (a note in `notes` says so).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";
 * import { dumpTimers } from "./state_reader.ts";
 * const manifest = { maxParallelism: 128, operators: {} } as never;
 * const loaded = { manifest, dir: "/x", segmentPath: (n: string) => n };
 * assert.throws(() => [...dumpTimers(loaded, new DenoCheckpointFs(), "op", [])], /no operator "op"/);
 * ```
 */
export function* dumpTimers(
  loaded: LoadedManifest,
  fs: CheckpointFs,
  operator: string,
  notes: string[],
): Generator<TimerEntry> {
  const op = loaded.manifest.operators[operator];
  if (!op) {
    throw new StateError(
      `${loaded.dir} has no operator "${operator}" (operators: ${
        Object.keys(loaded.manifest.operators).join(", ")
      })`,
    );
  }
  const keyed = op.subtasks.filter((s) => s.keyed !== undefined);
  if (keyed.length === 0) {
    throw new StateError(`Operator "${operator}" in ${loaded.dir} is not keyed: it has no timers`);
  }
  const note = (msg: string) => {
    if (!notes.includes(msg)) notes.push(msg);
  };
  const keySer = op.keySerializer === undefined ? undefined : serializerFromId(op.keySerializer);
  if (!keySer) {
    note(
      op.keySerializer === undefined
        ? "the checkpoint does not record the key serializer; keys are shown as base64"
        : `the key serializer "${op.keySerializer}" is custom and cannot be rebuilt offline; ` +
          "keys are shown as base64",
    );
  }
  const nsIds = new Set(
    keyed.flatMap((s) => s.keyed!.states.map((m) => m.namespace).filter((n) => n !== null)),
  );
  const nsSer = nsIds.size === 1 ? serializerFromId([...nsIds][0]!) : undefined;
  const restore: KeyedRestore = {
    handles: keyed.map((s) => s.keyed!),
    fs,
    segmentPath: (name) => loaded.segmentPath(name),
  };
  for (const s of keyed) {
    const handle = s.keyed!;
    for (const [k] of readHandleEntries(restore, handle, handle.keyGroupRange)) {
      const parts = readStateKeyHeader(k);
      const domain = TIMER_IDS.get(parts.stateId);
      if (domain === undefined) continue;
      const timestamp = readTimerTimestamp(parts.rest);
      const key = (keySer ?? rawSerializer).read(parts.rest);
      const timer: { -readonly [K in keyof TimerEntry]: TimerEntry[K] } = {
        keyGroup: parts.keyGroup,
        domain,
        timestamp,
        key,
      };
      if (parts.rest.remaining() > 0) {
        if (nsSer) timer.namespace = nsSer.read(parts.rest);
        else {
          note("the timers' namespace serializer is not recorded; namespaces are shown as base64");
          timer.namespace = rawSerializer.read(parts.rest);
        }
      }
      yield timer;
    }
  }
}
