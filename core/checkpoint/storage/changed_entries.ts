/**
 * The keyed state entries that changed between two checkpoints, decoded,
 * found from the segments alone: both working backends snapshot
 * incrementally (a checkpoint's handles share the previous one's segments
 * and add new ones), so an entry whose value differs between the two has a
 * record in a segment one of them has and the other has not. Only those
 * segments' records are read. A key whose records there are the same on both
 * sides (a compaction's copy) is unchanged; any other key's value is looked
 * up in both checkpoints' handles and, where it differs, decoded: present →
 * an upsert, absent → a tombstone (a delete, TTL expiry, a state or operator
 * that went away). Where those segments are a large share of both
 * checkpoints' (most entries changed, a full snapshot, a compaction of
 * everything), both are read whole in key order and compared key group by
 * key group instead.
 *
 * @module
 */
import type { CheckpointFs } from "../checkpoint_fs.ts";
import type { LoadedManifest } from "../storage.ts";
import type { KeyedStateHandle } from "../../state/backend.ts";
import type { StateMeta } from "../../state/state_keys.ts";
import {
  type HandleLookup,
  openHandleLookup,
  readHandleEntries,
} from "../../state/lsm/handle_reader.ts";
import { entryDecoder, openState, type StateEntry } from "../../state/state_reader.ts";
import { toJsonValue } from "../../state/serializer_ids.ts";
import { readSegmentRawRecords } from "../../../statestore-as/lsm_store.ts";
import type { StateRow } from "./remote_store.ts";

interface Keyed {
  readonly handle: KeyedStateHandle;
  readonly index: number;
}

function keyedOf(loaded: LoadedManifest | undefined, uid: string): Keyed[] {
  const op = loaded?.manifest.operators[uid];
  if (!op) return [];
  return op.subtasks.flatMap((s) => s.keyed ? [{ handle: s.keyed, index: s.index }] : []);
}

function json(v: unknown): string {
  return JSON.stringify(toJsonValue(v)) ?? "null";
}

/** The key bytes as a string, without bytes 2-3 (the state id each snapshot assigns). */
function keyIdentity(key: Uint8Array): string {
  let s = String.fromCharCode(key[0]!, key[1]!);
  for (let i = 4; i < key.length; i += 4096) {
    s += String.fromCharCode.apply(null, key.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

/** A record as a segment stores it; values above {@linkcode KEPT_VALUE} bytes are not kept. */
interface SegmentRecord {
  readonly kind: number;
  readonly value: Uint8Array | undefined;
}

// Longer values are not compared record by record (memory): their keys are looked up.
const KEPT_VALUE = 256;

/** The two sides hold the same records (kept values only): the entry did not change. */
function sameRecords(a: readonly SegmentRecord[], b: readonly SegmentRecord[]): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  const unmatched = [...b];
  for (const r of a) {
    if (r.value === undefined) return false;
    const i = unmatched.findIndex((o) => o.kind === r.kind && sameBytes(o.value, r.value));
    if (i < 0) return false;
    unmatched.splice(i, 1);
  }
  return true;
}

/** A changed entry's row and the subtask of `next` whose key groups hold it. */
export interface ChangedRow {
  /** The row (value null: a tombstone). */
  readonly row: StateRow;
  /** Subtask index in `next` (0 when no subtask holds the key any more). */
  readonly subtask: number;
}

/**
 * Rows for the keyed state entries of `next` that differ from `prev`
 * (every entry of `next` without `prev`). Reads the segment files through
 * `fs`; throws when one of them cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoCheckpointFs } from "../checkpoint_fs.ts";
 * import { changedRows } from "./changed_entries.ts";
 * const next = {
 *   manifest: { operators: {}, maxParallelism: 128 } as never,
 *   dir: "/x",
 *   segmentPath: (n: string) => n,
 * };
 * assert.deepEqual([...changedRows(new DenoCheckpointFs(), undefined, next)], []);
 * ```
 */
export function* changedRows(
  fs: CheckpointFs,
  prev: LoadedManifest | undefined,
  next: LoadedManifest,
): Generator<ChangedRow> {
  const uids = new Set([
    ...Object.keys(prev?.manifest.operators ?? {}),
    ...Object.keys(next.manifest.operators),
  ]);
  for (const uid of uids) {
    yield* prev ? changedInOperator(fs, prev, next, uid) : everyEntryOf(fs, next, uid);
  }
}

function rowOf(
  operator: string,
  state: string,
  key: Uint8Array,
  e: StateEntry,
  value: Uint8Array | undefined,
): StateRow {
  return {
    operator,
    state,
    keyGroup: (key[0]! << 8) | key[1]!,
    key: json(e.key),
    namespace: e.namespace === undefined ? null : json(e.namespace),
    userKey: e.userKey === undefined ? null : json(e.userKey),
    value: value === undefined ? null : json(e.value),
  };
}

/**
 * Every entry of operator `uid` in `next`, each subtask's handle read in key
 * order: unlike {@linkcode changedInOperator}, nothing is held per key, so a
 * first checkpoint of any size is read in bounded memory.
 */
function* everyEntryOf(fs: CheckpointFs, next: LoadedManifest, uid: string): Generator<ChangedRow> {
  const keyed = keyedOf(next, uid);
  const restore = {
    handles: keyed.map((k) => k.handle),
    fs,
    segmentPath: (n: string) => next.segmentPath(n),
  };
  const decoders = new Map<
    string,
    (key: Uint8Array, value: Uint8Array | undefined) => StateEntry
  >();
  for (const k of keyed) {
    const names = new Map(k.handle.states.map((m) => [m.id, m.name]));
    for (const [key, value] of readHandleEntries(restore, k.handle, k.handle.keyGroupRange)) {
      const state = names.get((key[2]! << 8) | key[3]!);
      if (state === undefined) continue;
      let decode = decoders.get(state);
      if (!decode) decoders.set(state, decode = entryDecoder(openState(next, uid, state)));
      yield { subtask: k.index, row: rowOf(uid, state, key, decode(key, value), value) };
    }
  }
}

// Where the segments the two checkpoints do not share hold at least this share of the
// bytes of all their segments, the two are compared whole in one ordered pass over each
// ({@linkcode changedByMerge}: its cost follows the state's size) rather than by looking
// up each key those segments name in both (its cost follows the keys named, and a lookup
// probes every segment of a handle, so it costs many times what reading an entry in
// order does).
const MERGE_SHARE = 0.2;

/** The segments of `keyed` by name, with their sizes. */
function segmentSizes(keyed: readonly Keyed[]): Map<string, number> {
  return new Map(keyed.flatMap((k) => k.handle.segments.map((s) => [s.name, s.size] as const)));
}

function* changedInOperator(
  fs: CheckpointFs,
  prev: LoadedManifest | undefined,
  next: LoadedManifest,
  uid: string,
): Generator<ChangedRow> {
  const before = keyedOf(prev, uid);
  const after = keyedOf(next, uid);
  if (before.length === 0 && after.length === 0) return;
  const sizesBefore = segmentSizes(before);
  const sizesAfter = segmentSizes(after);
  let unshared = 0;
  let total = 0;
  for (const [name, size] of sizesBefore) {
    total += size;
    if (!sizesAfter.has(name)) unshared += size;
  }
  for (const [name, size] of sizesAfter) {
    if (sizesBefore.has(name)) continue;
    total += size;
    unshared += size;
  }
  if (prev && unshared >= MERGE_SHARE * total) {
    yield* changedByMerge(fs, prev, next, uid, before, after);
    return;
  }
  const segmentsBefore = new Set(sizesBefore.keys());
  const segmentsAfter = new Set(sizesAfter.keys());
  // Keys to look at, by the identity of their entry (state name and the key bytes
  // without the state id, which each snapshot assigns): in `after`'s ids where it has
  // the state, with the records each side's unshared segments hold for it.
  const candidates = new Map<
    string,
    { key: Uint8Array; state: string; added: SegmentRecord[]; removed: SegmentRecord[] }
  >();
  const collect = (loaded: LoadedManifest, k: Keyed, name: string, added: boolean) => {
    const names = new Map(k.handle.states.map((m) => [m.id, m.name]));
    for (const [key, kind, value] of readSegmentRawRecords(fs, loaded.segmentPath(name))) {
      const state = names.get((key[2]! << 8) | key[3]!);
      if (state === undefined) continue;
      const id = `${state}\u0000${keyIdentity(key)}`;
      let c = candidates.get(id);
      if (!c) candidates.set(id, c = { key, state, added: [], removed: [] });
      (added ? c.added : c.removed).push({
        kind,
        value: value.length <= KEPT_VALUE ? value : undefined,
      });
    }
  };
  const seen = new Set<string>();
  for (const k of after) {
    for (const s of k.handle.segments) {
      if (segmentsBefore.has(s.name) || seen.has(s.name)) continue;
      seen.add(s.name);
      collect(next, k, s.name, true);
    }
  }
  for (const k of before) {
    for (const s of k.handle.segments) {
      if (segmentsAfter.has(s.name) || seen.has(s.name)) continue;
      seen.add(s.name);
      collect(prev!, k, s.name, false);
    }
  }
  if (candidates.size === 0) return;
  const decoderOf = decodersOf(prev!, next, uid, after);
  const lookups = new Map<Keyed, HandleLookup>();
  /** The entry's value in a snapshot (its handles hold the key group of `key`). */
  const valueIn = (loaded: LoadedManifest, handles: Keyed[], key: Uint8Array, state: string) => {
    const keyGroup = (key[0]! << 8) | key[1]!;
    const holder = handles.find((k) =>
      k.handle.keyGroupRange.start <= keyGroup && keyGroup <= k.handle.keyGroupRange.end
    );
    const meta: StateMeta | undefined = holder?.handle.states.find((m) => m.name === state);
    if (!holder || !meta) return { holder, value: undefined };
    let lookup = lookups.get(holder);
    if (!lookup) {
      const restore = {
        handles: handles.map((k) => k.handle),
        fs,
        segmentPath: (n: string) => loaded.segmentPath(n),
      };
      lookups.set(holder, lookup = openHandleLookup(restore, holder.handle));
    }
    const own = key.slice();
    own[2] = meta.id >> 8;
    own[3] = meta.id & 0xff;
    return { holder, value: lookup.get(own) };
  };
  try {
    for (const { key, state, added, removed } of candidates.values()) {
      // A compaction's copy (LSM) or a full snapshot's unchanged entry (heap): the
      // segments both sides share hold the rest of the key's records, unchanged too.
      if (prev && sameRecords(added, removed)) continue;
      const { holder, value } = valueIn(next, after, key, state);
      // A segment rewritten without changing the entry (an LSM compaction): nothing to write.
      if (prev && sameBytes(valueIn(prev, before, key, state).value, value)) continue;
      const e = decoderOf(state)(key, value);
      yield { subtask: holder?.index ?? 0, row: rowOf(uid, state, key, e, value) };
    }
  } finally {
    for (const l of lookups.values()) l.close();
  }
}

/**
 * Each state's entry decoder, made on first use: with `next`'s serializers
 * where `after` (the subtasks of `next`) has the state, else with `prev`'s
 * (a state that went away).
 */
function decodersOf(
  prev: LoadedManifest,
  next: LoadedManifest,
  uid: string,
  after: readonly Keyed[],
): (state: string) => (key: Uint8Array, value: Uint8Array | undefined) => StateEntry {
  const decoders = new Map<
    string,
    (key: Uint8Array, value: Uint8Array | undefined) => StateEntry
  >();
  return (state) => {
    let d = decoders.get(state);
    if (!d) {
      const inNext = after.some((k) => k.handle.states.some((m) => m.name === state));
      d = entryDecoder(openState(inNext ? next : prev, uid, state));
      decoders.set(state, d);
    }
    return d;
  };
}

/** A live entry of one side, with the state it belongs to and its identity. */
interface SideEntry {
  readonly keyGroup: number;
  readonly state: string;
  /** State name and key bytes without the state id (ids differ between snapshots). */
  readonly id: string;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** Every live entry of `keyed`'s handles, in key-group order (handles hold disjoint ranges). */
function* sideEntries(
  fs: CheckpointFs,
  loaded: LoadedManifest,
  keyed: readonly Keyed[],
): Generator<SideEntry> {
  const restore = {
    handles: keyed.map((k) => k.handle),
    fs,
    segmentPath: (n: string) => loaded.segmentPath(n),
  };
  const ordered = [...keyed].sort((a, b) =>
    a.handle.keyGroupRange.start - b.handle.keyGroupRange.start
  );
  for (const k of ordered) {
    const names = new Map(k.handle.states.map((m) => [m.id, m.name]));
    for (const [key, value] of readHandleEntries(restore, k.handle, k.handle.keyGroupRange)) {
      const state = names.get((key[2]! << 8) | key[3]!);
      if (state === undefined) continue;
      const keyGroup = (key[0]! << 8) | key[1]!;
      yield { keyGroup, state, id: `${state}\u0000${keyIdentity(key)}`, key, value };
    }
  }
}

/**
 * The changed entries of operator `uid`, found by reading both checkpoints
 * whole, key group by key group: memory holds one key group of `prev` at a
 * time.
 */
function* changedByMerge(
  fs: CheckpointFs,
  prev: LoadedManifest,
  next: LoadedManifest,
  uid: string,
  before: Keyed[],
  after: Keyed[],
): Generator<ChangedRow> {
  const decoderOf = decodersOf(prev, next, uid, after);
  const subtaskOf = (keyGroup: number) =>
    after.find((k) =>
      k.handle.keyGroupRange.start <= keyGroup && keyGroup <= k.handle.keyGroupRange.end
    )?.index ?? 0;
  const olds = sideEntries(fs, prev, before);
  const news = sideEntries(fs, next, after);
  let old = olds.next();
  let fresh = news.next();
  while (!old.done || !fresh.done) {
    const keyGroup = Math.min(
      old.done ? Infinity : old.value.keyGroup,
      fresh.done ? Infinity : fresh.value.keyGroup,
    );
    const held = new Map<string, SideEntry>();
    for (; !old.done && old.value.keyGroup === keyGroup; old = olds.next()) {
      held.set(old.value.id, old.value);
    }
    const subtask = subtaskOf(keyGroup);
    for (; !fresh.done && fresh.value.keyGroup === keyGroup; fresh = news.next()) {
      const e = fresh.value;
      const was = held.get(e.id);
      held.delete(e.id);
      if (was && sameBytes(was.value, e.value)) continue;
      const decoded = decoderOf(e.state)(e.key, e.value);
      yield { subtask, row: rowOf(uid, e.state, e.key, decoded, e.value) };
    }
    for (const gone of held.values()) {
      const decoded = decoderOf(gone.state)(gone.key, undefined);
      yield { subtask, row: rowOf(uid, gone.state, gone.key, decoded, undefined) };
    }
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
