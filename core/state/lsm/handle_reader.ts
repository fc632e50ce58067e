/**
 * Reading a keyed snapshot handle's entries with every segment merged:
 * newer segments shadow older ones, deletes hide older values and list
 * appends (merge records) are joined with their base value. Reading the
 * segments one by one gets both wrong for LSM-written handles.
 *
 * @module
 */
import { StateError } from "../../errors.ts";
import type { KeyedRestore, KeyedStateHandle } from "../backend.ts";
import type { KeyGroupRange } from "../key_group.ts";
import { LsmStore } from "../../../statestore-as/lsm_store.ts";
import { readSegment } from "../../../statestore-as/lsm_store.ts";

/** The smallest store key of key group `kg` (its 2-byte header). */
function keyGroupStart(kg: number): Uint8Array {
  return new Uint8Array([kg >> 8, kg & 0xff]);
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Yields the live `[key, value]` entries of `handle` in ascending key order,
 * restricted to `range` when given. The segments are opened read-only where
 * they lie (only footers, indexes and blooms are read up front).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readHandleEntries } from "./handle_reader.ts";
 * import { DenoSegmentFs, writeSegment } from "../../../statestore-as/mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const fs = new DenoSegmentFs();
 * const seg = writeSegment(fs, `${dir}/a.seg`, [[new Uint8Array([0, 5, 0, 1, 7]), new Uint8Array([1])]]);
 * const handle = {
 *   backend: "heap",
 *   keyGroupRange: { start: 0, end: 127 },
 *   states: [],
 *   segments: [{ name: seg.name, size: seg.size }],
 * };
 * const restore = { handles: [handle], fs, segmentPath: (n: string) => `${dir}/${n}` };
 * assert.ok([...readHandleEntries(restore, handle, { start: 5, end: 5 })].length === 1);
 * assert.ok([...readHandleEntries(restore, handle, { start: 6, end: 9 })].length === 0);
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function* readHandleEntries(
  restore: KeyedRestore,
  handle: KeyedStateHandle,
  range?: KeyGroupRange,
): Generator<[Uint8Array, Uint8Array]> {
  if (handle.segments.length === 0) return;
  const scanRange: { start?: Uint8Array; end?: Uint8Array } = {};
  if (range) {
    scanRange.start = keyGroupStart(range.start);
    if (range.end < 0xffff) scanRange.end = keyGroupStart(range.end + 1);
  }
  const paths = handle.segments.map((s) => restore.segmentPath(s.name));
  const dir = dirOf(paths[0]!);
  if (paths.length === 1 || paths.some((p) => dirOf(p) !== dir)) {
    if (paths.length > 1) {
      throw new StateError(
        `Cannot read a snapshot handle whose segments lie in different folders: ${
          paths.join(", ")
        }`,
      );
    }
    // One segment needs no merging.
    const start = scanRange.start;
    const end = scanRange.end;
    for (const kv of readSegment(restore.fs, paths[0]!)) {
      if (start && compare(kv[0], start) < 0) continue;
      if (end && compare(kv[0], end) >= 0) return;
      yield kv;
    }
    return;
  }
  // A read-only store over the handle's segments merges them; it writes
  // nothing (no puts, no automatic compaction).
  const store = LsmStore.open({
    dir,
    fs: restore.fs,
    segments: paths.map(nameOf),
    autoCompact: false,
    deleteObsoleteSegments: false,
    memtableBytes: 64 << 10,
    blockCacheBytes: 1 << 20,
  });
  try {
    yield* store.scan(scanRange);
  } finally {
    store.close();
  }
}

/** Compares byte strings as unsigned bytes. */
function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Point lookups in a keyed snapshot handle: {@linkcode openHandleLookup}. */
export interface HandleLookup {
  /** The live value of `key` with every segment merged, or undefined (absent or deleted). */
  get(key: Uint8Array): Uint8Array | undefined;
  /** Releases the segments. */
  close(): void;
}

/**
 * Opens `handle` read-only for point lookups (newer segments shadow older
 * ones, deletes hide, list appends are joined), as {@linkcode readHandleEntries}
 * reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openHandleLookup } from "./handle_reader.ts";
 * import { DenoSegmentFs, writeSegment } from "../../../statestore-as/mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const fs = new DenoSegmentFs();
 * const k = new Uint8Array([0, 5, 0, 1, 7]);
 * const older = writeSegment(fs, `${dir}/a.seg`, [[k, new Uint8Array([1])]]);
 * const newer = writeSegment(fs, `${dir}/b.seg`, [[k, undefined]]);
 * const handle = (segments: { name: string; size: number }[]) => ({
 *   backend: "heap", keyGroupRange: { start: 0, end: 127 }, states: [], segments,
 * });
 * const restore = (h: ReturnType<typeof handle>) => ({ handles: [h], fs, segmentPath: (n: string) => `${dir}/${n}` });
 * const one = handle([older]);
 * const a = openHandleLookup(restore(one), one);
 * assert.equal(a.get(k)![0], 1);
 * a.close();
 * const both = handle([newer, older]); // the delete shadows the value
 * const b = openHandleLookup(restore(both), both);
 * assert.equal(b.get(k), undefined);
 * b.close();
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function openHandleLookup(restore: KeyedRestore, handle: KeyedStateHandle): HandleLookup {
  if (handle.segments.length === 0) return { get: () => undefined, close: () => {} };
  const paths = handle.segments.map((s) => restore.segmentPath(s.name));
  const dir = dirOf(paths[0]!);
  if (paths.some((p) => dirOf(p) !== dir)) {
    throw new StateError(
      `Cannot read a snapshot handle whose segments lie in different folders: ${paths.join(", ")}`,
    );
  }
  const store = LsmStore.open({
    dir,
    fs: restore.fs,
    segments: paths.map(nameOf),
    autoCompact: false,
    deleteObsoleteSegments: false,
    memtableBytes: 64 << 10,
    blockCacheBytes: 4 << 20,
  });
  return { get: (key) => store.get(key), close: () => store.close() };
}
