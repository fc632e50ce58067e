import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import {
  type FileEnumeratorState,
  type FileSplit,
  FileSplitEnumerator,
} from "./_file_split_enumerator.ts";
import type { SplitEnumeratorContext } from "./split_enumerator.ts";

/** A context that records what the enumerator does; `tick()` runs its periodic work. */
function recorder(parallelism = 2) {
  const events: string[] = [];
  const assigned = new Map<number, FileSplit[]>();
  const periodic: (() => void)[] = [];
  const ctx: SplitEnumeratorContext<FileSplit> = {
    parallelism,
    registeredReaders: () => [...Array(parallelism).keys()],
    assignSplits(subtask, splits) {
      assigned.set(subtask, [...(assigned.get(subtask) ?? []), ...splits]);
      for (const s of splits) events.push(`${subtask}:${s.file}@${s.start}`);
    },
    signalNoMoreSplits: (subtask) => void events.push(`${subtask}:end`),
    callPeriodically: (fn) => void periodic.push(fn),
    callAsync: () => {},
    now: () => 0,
  };
  return { ctx, events, assigned, tick: () => periodic.forEach((fn) => fn()), periodic };
}

function withDir(fn: (dir: string) => void) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-enum-" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("FileSplitEnumerator: lists once, assigns one split per request in name order, large files by byte ranges, then no more splits", () => {
  withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/b.txt`, "x".repeat(25));
    Deno.writeTextFileSync(`${dir}/a.txt`, "a\n");
    Deno.writeTextFileSync(`${dir}/.hidden`, "no\n");
    Deno.mkdirSync(`${dir}/sub`);
    const r = recorder();
    const e = new FileSplitEnumerator(
      dir,
      { splitBytes: 10, monitorIntervalMs: 0 },
      r.ctx,
      undefined,
    );
    e.start();
    assert.equal(r.periodic.length, 0, "no monitoring without an interval");
    e.addReader(0);
    for (const subtask of [1, 0, 0, 1, 1]) e.handleSplitRequest(subtask);
    assert.deepEqual(r.events, ["1:a.txt@0", "0:b.txt@0", "0:b.txt@10", "1:b.txt@20", "1:end"]);
    assert.deepEqual(r.assigned.get(1)?.at(-1), { file: "b.txt", start: 20, end: 25, offset: 20 });
  });
});

Deno.test("FileSplitEnumerator: splits added back (a failed reader's) are assigned again from their positions; finished ones are dropped", () => {
  withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/a.txt`, "a\n");
    const r = recorder();
    const e = new FileSplitEnumerator(
      dir,
      { splitBytes: 100, monitorIntervalMs: 0 },
      r.ctx,
      undefined,
    );
    e.start();
    e.handleSplitRequest(0);
    e.addSplitsBack([
      { file: "a.txt", start: 0, end: 2, offset: 1 },
      { file: "z.txt", start: 0, end: 5, offset: 5 },
    ], 0);
    e.handleSplitRequest(1);
    e.handleSplitRequest(1);
    assert.deepEqual(r.assigned.get(1), [{ file: "a.txt", start: 0, end: 2, offset: 1 }]);
    assert.deepEqual(r.events.at(-1), "1:end");
    assert.throws(
      () => e.addSplitsBack([{ topic: "t" } as unknown as FileSplit], 0),
      (err: Error) => err instanceof ConfigError && err.message.includes(dir),
    );
  });
});

Deno.test("FileSplitEnumerator: its snapshot holds the listed files and unassigned splits; restored, it does not list a bounded directory again", () => {
  withDir((dir) => {
    for (const f of ["a", "b", "c"]) Deno.writeTextFileSync(`${dir}/${f}.txt`, `${f}\n`);
    const r = recorder();
    const opts = { splitBytes: 100, monitorIntervalMs: 0 };
    const e = new FileSplitEnumerator(dir, opts, r.ctx, undefined);
    e.start();
    e.handleSplitRequest(0);
    const state: FileEnumeratorState = JSON.parse(JSON.stringify(e.snapshotState()));
    assert.deepEqual(state.listed, ["a.txt", "b.txt", "c.txt"]);
    assert.deepEqual(state.unassigned.map((s) => s.file), ["b.txt", "c.txt"]);
    Deno.writeTextFileSync(`${dir}/d.txt`, "d\n");
    const r2 = recorder(1);
    const restored = new FileSplitEnumerator(dir, opts, r2.ctx, state);
    restored.start();
    for (let i = 0; i < 3; i++) restored.handleSplitRequest(0);
    assert.deepEqual(r2.events, ["0:b.txt@0", "0:c.txt@0", "0:end"]);
    assert.throws(
      () => new FileSplitEnumerator(dir, opts, r2.ctx, { listed: "a.txt" }),
      (err: Error) => err instanceof ConfigError && /enumerator state/.test(err.message),
    );
  });
});

Deno.test("FileSplitEnumerator monitoring: a reader asking when nothing is left waits; new files go to waiting readers at the next listing; listed files never again", () => {
  withDir((dir) => {
    const r = recorder();
    const opts = { splitBytes: 100, monitorIntervalMs: 50 };
    const e = new FileSplitEnumerator(dir, opts, r.ctx, undefined);
    e.start();
    assert.equal(r.periodic.length, 1);
    e.handleSplitRequest(0);
    e.handleSplitRequest(1);
    assert.deepEqual(r.events, [], "no split and no end while monitoring");
    Deno.writeTextFileSync(`${dir}/a.txt`, "a\n");
    r.tick();
    assert.deepEqual(r.events, ["0:a.txt@0"]);
    Deno.writeTextFileSync(`${dir}/b.txt`, "b\n");
    r.tick();
    r.tick();
    assert.deepEqual(r.events, ["0:a.txt@0", "1:b.txt@0"]);
    // A restored monitoring enumerator lists again but skips the files it had listed.
    const r2 = recorder(1);
    Deno.writeTextFileSync(`${dir}/c.txt`, "c\n");
    const restored = new FileSplitEnumerator(dir, opts, r2.ctx, e.snapshotState());
    restored.start();
    restored.handleSplitRequest(0);
    restored.handleSplitRequest(0);
    assert.deepEqual(r2.events, ["0:c.txt@0"]);
    // Splits given back serve a waiting reader at once.
    restored.addSplitsBack([{ file: "a.txt", start: 0, end: 2, offset: 0 }], 0);
    assert.deepEqual(r2.events, ["0:c.txt@0", "0:a.txt@0"]);
  });
});
