import assert from "node:assert/strict";
import { CheckpointError } from "../../errors.ts";
import type { Manifest } from "../manifest.ts";
import type { LoadedManifest } from "../storage.ts";
import type { ChangedRow } from "./changed_entries.ts";
import type { RemotePart, RemoteStore } from "./remote_store.ts";
import { type PartSources, writeParts } from "./_write_parts.ts";

const snapshot: LoadedManifest = {
  manifest: { operators: {}, segments: {}, maxParallelism: 128 } as unknown as Manifest,
  dir: "/chk-2",
  segmentPath: (n) => `/chk-2/${n}`,
};

/** A store that keeps the parts it is given (each taking a moment) and what it discarded. */
function recordingStore(failAt = -1) {
  const parts: RemotePart[] = [];
  const discarded: unknown[] = [];
  let writing = 0;
  let mostAtOnce = 0;
  const store = {
    where: "test",
    async writePart(_id: number, part: RemotePart) {
      const n = parts.length;
      parts.push(part);
      writing++;
      mostAtOnce = Math.max(mostAtOnce, writing);
      await new Promise((r) => setTimeout(r, 1));
      writing--;
      if (n === failAt) throw new Error("connection lost");
    },
    discard(which: unknown) {
      discarded.push(which);
      return Promise.resolve();
    },
  } as unknown as RemoteStore;
  return { store, parts, discarded, mostAtOnce: () => mostAtOnce };
}

function* rows(n: number, seen: { count: number }, failAfter = Infinity): Generator<ChangedRow> {
  for (let i = 0; i < n; i++) {
    if (i === failAfter) throw new Error("segment chk-1/a.seg is unreadable");
    seen.count++;
    yield {
      row: {
        operator: "op",
        state: "count",
        keyGroup: i % 128,
        key: `"k${i}"`,
        namespace: null,
        userKey: null,
        value: String(i),
      },
      subtask: i % 2,
    };
  }
}

const noFiles: PartSources["readFile"] = () => undefined;

Deno.test("writeParts: changed rows go in parts of at most 50,000 rows, written as they are found, one at a time while the next is prepared", async () => {
  const { store, parts, mostAtOnce } = recordingStore();
  const seen = { count: 0 };
  const seenAtFirstPart: number[] = [];
  const seenWhenWritten: number[] = [];
  const watched = {
    ...store,
    writePart: async (id: number, p: RemotePart) => {
      seenAtFirstPart.push(seen.count);
      await store.writePart(id, p);
      seenWhenWritten.push(seen.count);
    },
  } as RemoteStore;
  const written = await writeParts(
    watched,
    { id: 2, checkpoint: true, prev: snapshot, next: snapshot, reset: false, segments: [] },
    { changedRows: () => Promise.resolve(rows(120_001, seen)), readFile: noFiles },
  );
  assert.deepEqual(written, { rows: 120_001, segmentBytes: 0, reset: false });
  assert.deepEqual(parts.map((p) => p.rows.length), [50_000, 50_000, 20_001]);
  assert.deepEqual(parts.flatMap((p) => p.rows.map((r) => r.key)).slice(49_999, 50_001), [
    '"k49999"',
    '"k50000"',
  ]);
  // The first part went before the rest were found, and the second was found while the
  // first was being written.
  assert.equal(seenAtFirstPart[0], 50_000);
  assert.equal(seenWhenWritten[0], 100_000);
  assert.equal(mostAtOnce(), 1);
});

Deno.test("writeParts: segments go in parts of about 16 MiB, never split; a missing one is a CheckpointError naming it", async () => {
  const { store, parts } = recordingStore();
  const mib = (n: number) => new Uint8Array(n * 1024 * 1024);
  const files: Record<string, Uint8Array> = { a: mib(10), b: mib(10), c: mib(1) };
  const segments = Object.keys(files).map((name) => ({ name, path: `/chk-2/${name}` }));
  const sources = {
    changedRows: () => Promise.resolve([]),
    readFile: (path: string) => files[path.slice("/chk-2/".length)],
  };
  const plan = { id: 2, checkpoint: true, prev: snapshot, next: snapshot, reset: false, segments };
  const written = await writeParts(store, plan, sources);
  assert.equal(written.segmentBytes, 21 * 1024 * 1024);
  assert.deepEqual(parts.map((p) => [...p.segments.keys()]), [["a", "b"], ["c"]]);
  assert.deepEqual(parts.map((p) => p.rows.length), [0, 0]);
  await assert.rejects(
    writeParts(
      store,
      { ...plan, segments: [...segments, { name: "d", path: "/chk-2/d" }] },
      sources,
    ),
    (e: Error) => e instanceof CheckpointError && e.message === "segment d of /chk-2 is missing",
  );
});

Deno.test("writeParts: when the previous checkpoint cannot be read midway, the parts written go and every entry is written, marked reset", async () => {
  const { store, parts, discarded } = recordingStore();
  const written = await writeParts(
    store,
    { id: 7, checkpoint: true, prev: snapshot, next: snapshot, reset: false, segments: [] },
    {
      changedRows: (prev) =>
        Promise.resolve(rows(prev ? 100_000 : 60_000, { count: 0 }, prev ? 70_000 : Infinity)),
      readFile: noFiles,
    },
  );
  assert.equal(written.rows, 60_000);
  assert.equal(written.reset, true);
  assert.match(written.note!, /writing every entry: .*chk-1\/a\.seg is unreadable/);
  assert.deepEqual(discarded, [{ id: 7 }]);
  // The part written before the failure, then every entry, marked reset.
  assert.deepEqual(parts.map((p) => [p.rows.length, p.reset ?? false]), [
    [50_000, false],
    [50_000, true],
    [10_000, true],
  ]);
});

Deno.test("writeParts: a part the store cannot take rejects with its error", async () => {
  const { store } = recordingStore(1);
  await assert.rejects(
    writeParts(
      store,
      { id: 2, checkpoint: true, prev: undefined, next: snapshot, reset: false, segments: [] },
      { changedRows: () => Promise.resolve(rows(200_000, { count: 0 })), readFile: noFiles },
    ),
    /connection lost/,
  );
});
