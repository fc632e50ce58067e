import assert from "node:assert/strict";
import { relative, resolve } from "node:path";
import {
  appendHistory,
  HISTORY_FILE,
  type HistoryEntry,
  HistoryReader,
  readHistory,
} from "./history.ts";

const restore = (id: number): HistoryEntry => ({
  kind: "restore",
  id,
  restore_timestamp: id,
  is_savepoint: false,
  external_path: `/checkpoints/chk-${id}-${"x".repeat(40)}`,
});

Deno.test("appendHistory keeps the file bounded: past its limit it keeps the newest whole entries", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const limit = 4096;
    for (let id = 1; id <= 500; id++) {
      assert.equal(appendHistory(dir, restore(id), limit), undefined);
    }
    const size = Deno.statSync(`${dir}/${HISTORY_FILE}`).size;
    assert.ok(size <= limit, `${size} bytes`);
    const ids = readHistory(dir).map((e) => e.id);
    // The newest entries, in order, none torn, the last one appended among them.
    assert.ok(ids.length > 10, `${ids.length} entries kept`);
    assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => 501 - ids.length + i));
    assert.equal(
      readHistory(dir).length,
      Deno.readTextFileSync(`${dir}/${HISTORY_FILE}`).split("\n").length - 1,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("HistoryReader reads what was appended since, a line once it is whole, and starts over after a rewrite", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const reader = new HistoryReader(dir);
    assert.deepEqual(reader.read(), []);
    appendHistory(dir, restore(1));
    appendHistory(dir, restore(2));
    const first = reader.read();
    assert.deepEqual(first.map((e) => e.id), [1, 2]);
    assert.equal(reader.read(), first, "nothing new: the same entries, not read again");
    // A line being written is taken once whole.
    const path = `${dir}/${HISTORY_FILE}`;
    const line = JSON.stringify(restore(3)) + "\n";
    Deno.writeTextFileSync(path, line.slice(0, 10), { append: true });
    assert.deepEqual(reader.read().map((e) => e.id), [1, 2]);
    Deno.writeTextFileSync(path, line.slice(10), { append: true });
    assert.deepEqual(reader.read().map((e) => e.id), [1, 2, 3]);
    assert.deepEqual(first.map((e) => e.id), [1, 2], "an array handed out before is unchanged");
    // Rewritten (as a compaction does: another file renamed over it).
    Deno.writeTextFileSync(`${path}.new`, JSON.stringify(restore(9)) + "\n");
    Deno.renameSync(`${path}.new`, path);
    assert.deepEqual(reader.read().map((e) => e.id), [9]);
    Deno.removeSync(path);
    assert.deepEqual(reader.read(), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Runs `fn` while writes to files whose path ends with `suffix` fill the disk after `fits` bytes. */
function withFullDisk(suffix: string, fits: number, fn: () => void): void {
  const open = Deno.openSync;
  Deno.openSync = (path: string | URL, options?: Deno.OpenOptions) => {
    const f = open(path, options);
    if (!String(path).endsWith(suffix)) return f;
    let left = fits;
    const write = f.writeSync.bind(f);
    f.writeSync = (data: Uint8Array) => {
      if (left === 0) throw new Error("No space left on device (os error 28)");
      const n = write(data.subarray(0, Math.min(left, data.length)));
      left -= n;
      return n;
    };
    return f;
  };
  try {
    fn();
  } finally {
    Deno.openSync = open;
  }
}

Deno.test("appendHistory on a full disk leaves no torn line that would swallow the next entry, and no temp file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.equal(appendHistory(dir, restore(1)), undefined);
    withFullDisk(HISTORY_FILE, 20, () => {
      assert.match(appendHistory(dir, restore(2)) ?? "", /Cannot append.*No space left/);
    });
    // Space is back: the next entry is read.
    assert.equal(appendHistory(dir, restore(3)), undefined);
    assert.deepEqual(readHistory(dir).map((e) => e.id), [1, 3]);
    // The rewrite of a history past its limit fails the same way: its temp file goes.
    for (let id = 4; id < 10; id++) appendHistory(dir, restore(id));
    const limit = Deno.statSync(`${dir}/${HISTORY_FILE}`).size + 10;
    withFullDisk(".tmp", 20, () => {
      assert.match(appendHistory(dir, restore(10), limit) ?? "", /No space left/);
    });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [HISTORY_FILE]);
    assert.deepEqual(readHistory(dir).map((e) => e.id), [1, 3, 4, 5, 6, 7, 8, 9, 10]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("an older history's relative paths: a checkpoint's is found in the directory read, others stay as recorded", () => {
  const dir = Deno.makeTempDirSync();
  try {
    // As an older weir wrote them for a job run with `--checkpoint-dir ck` in another folder.
    const old = [
      {
        kind: "checkpoint",
        id: 5,
        status: "COMPLETED",
        is_savepoint: false,
        trigger_timestamp: 1,
        latest_ack_timestamp: 2,
        end_to_end_duration: 1,
        state_size: 1,
        checkpointed_size: 1,
        num_subtasks: 1,
        num_acknowledged_subtasks: 1,
        external_path: "ck/chk-5",
        tasks: [],
      },
      { kind: "restore", id: 4, restore_timestamp: 3, is_savepoint: true, external_path: "sp/x" },
    ];
    Deno.writeTextFileSync(
      `${dir}/${HISTORY_FILE}`,
      old.map((e) => JSON.stringify(e)).join("\n") + "\n",
    );
    // Read through a path relative to this process's working directory, as the CLI may be given.
    const relativeDir = relative(Deno.cwd(), dir);
    const expected = [`${resolve(dir)}/chk-5`, "sp/x"];
    assert.deepEqual(readHistory(relativeDir).map((e) => e.external_path), expected);
    assert.deepEqual(new HistoryReader(relativeDir).read().map((e) => e.external_path), expected);
    // What is appended from now on is absolute.
    appendHistory(relativeDir, { ...restore(6), external_path: `${relativeDir}/chk-6` });
    assert.equal(readHistory(dir).at(-1)!.external_path, `${resolve(dir)}/chk-6`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
