import assert from "node:assert/strict";
import { DenoCheckpointFs } from "../checkpoint_fs.ts";
import type { Manifest } from "../manifest.ts";
import type { LoadedManifest } from "../storage.ts";
import type { KeyedStateBackend, KeyedStateHandle } from "../../state/backend.ts";
import { ListStateDescriptor, ValueStateDescriptor } from "../../state/descriptors.ts";
import { HeapStateBackend } from "../../state/heap/heap_backend.ts";
import { LsmStateBackend } from "../../state/lsm/lsm_backend.ts";
import { serialize, Serializers } from "../../state/serializer.ts";
import { keyGroupOf } from "../../state/key_group.ts";
import { readHandleEntries } from "../../state/lsm/handle_reader.ts";
import { writeSegment } from "../../../statestore-as/lsm_store.ts";
import { type ChangedRow, changedRows } from "./changed_entries.ts";

const count = () => new ValueStateDescriptor("count", Serializers.f64);
const seen = () => new ListStateDescriptor("seen", Serializers.string);

function loaded(dir: string, handle: KeyedStateHandle | undefined): LoadedManifest {
  const manifest = {
    maxParallelism: 128,
    operators: handle
      ? {
        op: {
          name: "op",
          parallelism: 1,
          source: false,
          keySerializer: "string",
          subtasks: [{ index: 0, keyed: handle, operatorState: {} }],
        },
      }
      : {},
  } as unknown as Manifest;
  return { manifest, dir, segmentPath: (n) => `${dir}/${n}` };
}

for (const kind of ["heap", "lsm"] as const) {
  Deno.test(`changedRows (${kind}): only what changed since the previous snapshot, removals as tombstones`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-changed-entries-test-" });
    const fs = new DenoCheckpointFs();
    let n = 0;
    const storage = { fs, dir, newSegmentName: () => `${kind}-${++n}.seg` };
    const options = {
      operatorUid: "op",
      subtaskIndex: 0,
      keySerializer: Serializers.string,
      maxParallelism: 128,
      keyGroupRange: { start: 0, end: 127 },
    };
    const b: KeyedStateBackend = kind === "heap"
      ? new HeapStateBackend().createKeyedBackend(options)
      : new LsmStateBackend({ dir: `${dir}/store` }).createKeyedBackend(options);
    try {
      const c = b.state(count());
      const l = b.state(seen());
      for (let i = 0; i < 1000; i++) {
        b.setCurrentKey(`k${i}`);
        c.update(i);
        l.add(`a${i}`);
      }
      const first = loaded(dir, await b.snapshot(1, storage));
      const all = [...changedRows(fs, undefined, first)];
      assert.equal(all.length, 2000, "without a previous snapshot, every entry");
      // 1% of the keys change: 6 counts updated, 2 lists appended to, 2 counts cleared.
      for (let i = 0; i < 10; i++) {
        b.setCurrentKey(`k${i * 100}`);
        if (i < 6) c.update(-1);
        else if (i < 8) l.add("again");
        else c.clear();
      }
      const second = loaded(dir, await b.snapshot(2, storage));
      const rows = [...changedRows(fs, first, second)].map((r) => r.row);
      const show = (r: (typeof rows)[number]) => `${r.state} ${r.key} ${r.value}`;
      // Every entry of the second snapshot, read whole, is the first's with the changes.
      const entries = (rs: typeof rows) =>
        new Map(rs.map((r) => [`${r.state} ${r.key}`, r.value] as const));
      const expected = entries(all.map((r) => r.row));
      for (const [id, value] of entries(rows)) {
        if (value === null) expected.delete(id);
        else expected.set(id, value);
      }
      const whole = [...changedRows(fs, undefined, second)].map((r) => r.row);
      assert.equal(whole.length, 1998);
      assert.deepEqual(entries(whole), expected);
      assert.deepEqual(rows.map(show).sort(), [
        'count "k0" -1',
        'count "k100" -1',
        'count "k200" -1',
        'count "k300" -1',
        'count "k400" -1',
        'count "k500" -1',
        'count "k800" null',
        'count "k900" null',
        'seen "k600" ["a600","again"]',
        'seen "k700" ["a700","again"]',
      ]);
      // The segments rewritten into one with the same entries (what a compaction or a
      // full snapshot does): nothing changed, nothing to write.
      const handle = second.manifest.operators.op!.subtasks[0]!.keyed!;
      const restore = { handles: [handle], fs, segmentPath: second.segmentPath };
      const merged = writeSegment(fs, `${dir}/merged.seg`, [...readHandleEntries(restore, handle)]);
      const compacted = loaded(dir, {
        ...handle,
        segments: [{ name: merged.name, size: merged.size }],
      });
      assert.deepEqual([...changedRows(fs, second, compacted)], []);
      // The operator gone: every entry it had becomes a tombstone.
      const gone = [...changedRows(fs, second, loaded(dir, undefined))].map((r) => r.row);
      assert.equal(gone.length, 1998);
      assert.ok(gone.every((r) => r.value === null));
    } finally {
      b.dispose();
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("changedRows: a checkpoint that changed most entries, rescaled from one subtask to two, is compared whole and gives the same entries", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-changed-entries-test-" });
  const fs = new DenoCheckpointFs();
  let n = 0;
  const storage = { fs, dir, newSegmentName: () => `merge-${++n}.seg` };
  const backend = (start: number, end: number, subtaskIndex: number) =>
    new LsmStateBackend({ dir: `${dir}/store-${subtaskIndex}-${start}` }).createKeyedBackend({
      operatorUid: "op",
      subtaskIndex,
      keySerializer: Serializers.string,
      maxParallelism: 128,
      keyGroupRange: { start, end },
    });
  const one = backend(0, 127, 0);
  const halves = [backend(0, 63, 0), backend(64, 127, 1)];
  const manifestOf = (subtasks: { index: number; keyed: KeyedStateHandle }[]): LoadedManifest => {
    const base = loaded(dir, subtasks[0]!.keyed);
    const op = base.manifest.operators.op!;
    return {
      ...base,
      manifest: {
        ...base.manifest,
        operators: {
          op: {
            ...op,
            parallelism: subtasks.length,
            subtasks: subtasks.map((s) => ({ ...op.subtasks[0]!, ...s })),
          },
        },
      } as Manifest,
    };
  };
  try {
    const c = one.state(count());
    const l = one.state(seen());
    for (let i = 0; i < 600; i++) {
      one.setCurrentKey(`k${i}`);
      c.update(i);
      if (i % 3 === 0) l.add(`a${i}`);
    }
    const prev = manifestOf([{ index: 0, keyed: await one.snapshot(1, storage) }]);
    // The subtask whose key groups hold the key (what routing does; a backend does not check).
    const owner = (key: string) =>
      halves[keyGroupOf(serialize(Serializers.string, key), 128) <= 63 ? 0 : 1]!;
    // The next checkpoint: keys 0-99 gone, 100-199 the same, the rest changed, 600-699 new,
    // list state only on even keys now.
    for (let i = 100; i < 700; i++) {
      const h = owner(`k${i}`);
      h.setCurrentKey(`k${i}`);
      h.state(count()).update(i < 200 ? i : i * 10);
      if (i < 200 ? i % 3 === 0 : i % 2 === 0) {
        for (const v of i < 200 ? [`a${i}`] : [`b${i}`]) h.state(seen()).add(v);
      }
    }
    const next = manifestOf(
      await Promise.all(halves.map(async (h, index) => ({
        index,
        keyed: await h.snapshot(2, storage),
      }))),
    );
    const rows = [...changedRows(fs, prev, next)];
    const entries = (rs: ChangedRow[]) =>
      new Map(rs.map(({ row: r }) => [`${r.state} ${r.key}`, r.value] as const));
    const expected = entries([...changedRows(fs, undefined, next)]);
    const applied = entries([...changedRows(fs, undefined, prev)]);
    for (const [id, value] of entries(rows)) {
      if (value === null) applied.delete(id);
      else applied.set(id, value);
    }
    assert.deepEqual(new Map([...applied].sort()), new Map([...expected].sort()));
    // Unchanged entries are not written: keys 100-199 (their counts and lists).
    const written = rows.map(({ row: r }) => JSON.parse(r.key) as string);
    assert.ok(!written.some((k) => Number(k.slice(1)) >= 100 && Number(k.slice(1)) < 200));
    assert.equal(rows.filter((r) => r.row.state === "count").length, 100 + 400 + 100);
    // Each row names the subtask of the next checkpoint holding its key group.
    for (const { row: r, subtask } of rows) {
      assert.equal(subtask, r.keyGroup <= 63 ? 0 : 1, `${r.key} in key group ${r.keyGroup}`);
    }
  } finally {
    one.dispose();
    for (const h of halves) h.dispose();
    Deno.removeSync(dir, { recursive: true });
  }
});
