/**
 * Helpers of the checkpoint tests: a keyed counting job, and checks of a
 * checkpoint directory (every manifest intact, no temp files).
 *
 * @module
 */
import assert from "node:assert/strict";
import type {
  Collector,
  KeyedProcessFunction,
  RuntimeContext,
} from "../../core/dataflow/functions.ts";
import type { DataStream } from "../../core/dataflow/data_stream.ts";
import type { SinkFunction } from "../../core/connectors/sink.ts";
import { Serializers } from "../../core/state/serializer.ts";
import { ValueStateDescriptor } from "../../core/state/descriptors.ts";
import type { ValueState } from "../../core/state/state.ts";
import { CheckpointStorage } from "../../core/checkpoint/storage.ts";
import { DenoCheckpointFs } from "../../core/checkpoint/checkpoint_fs.ts";
import type { Manifest } from "../../core/checkpoint/manifest.ts";

/** Counts per key; emits `key<TAB>count`. Completed checkpoint ids go to `completed`. */
export class CountPerKey implements KeyedProcessFunction<string, string, string> {
  /** The count of the current key. */
  count!: ValueState<number>;
  /** Checkpoint ids notified, over every subtask and run. */
  static completed: number[] = [];

  /** Declares the state. */
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }

  /** Bumps and emits. */
  processElement(word: string, _ctx: unknown, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(`${word}\t${n}`);
  }

  /** Records the notification. */
  notifyCheckpointComplete(id: number): void {
    CountPerKey.completed.push(id);
  }
}

/** source → keyBy(word) → count (uid "count") → sink (uid "sink"). */
export function countJob(
  words: DataStream<string>,
  sink: SinkFunction<string>,
  opts: { countParallelism?: number; fn?: KeyedProcessFunction<string, string, string> } = {},
): void {
  const counted = words.keyBy((w) => w, Serializers.string)
    .process<string>(opts.fn ?? new CountPerKey()).uid("count");
  if (opts.countParallelism !== undefined) counted.setParallelism(opts.countParallelism);
  counted.addSink(sink, { uid: "sink" });
}

/** The last count seen per key in `key<TAB>count` lines. */
export function lastCounts(lines: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) {
    const [k, n] = l.split("\t");
    m.set(k!, Math.max(m.get(k!) ?? 0, Number(n)));
  }
  return m;
}

/** Every file under `dir`, relative paths, sorted. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.push(`${r}/`);
        walk(`${d}/${e.name}`, r);
      } else out.push(r);
    }
  };
  walk(dir, "");
  return out.sort();
}

/** Temp files (`.tmp`) anywhere under `dir`. */
export function tempFiles(dir: string): string[] {
  return listTree(dir).filter((p) => p.endsWith(".tmp"));
}

/**
 * Asserts the directory is consistent: every `chk-*` folder has a readable
 * `_metadata` whose segments exist with the recorded size. Returns the manifests.
 */
export function assertIntact(dir: string): Manifest[] {
  const storage = new CheckpointStorage(dir, new DenoCheckpointFs());
  const out: Manifest[] = [];
  for (const name of Deno.readDirSync(dir)) {
    if (!name.name.startsWith("chk-")) continue;
    const id = Number(name.name.slice(4));
    assert.ok(
      storage.completedIds().includes(id),
      `${name.name} exists without a _metadata: ${listTree(`${dir}/${name.name}`)}`,
    );
    const loaded = storage.loadCheckpoint(id);
    assert.deepEqual(storage.verify(loaded), [], `checkpoint ${id} is broken`);
    out.push(loaded.manifest);
  }
  return out.sort((a, b) => a.checkpointId - b.checkpointId);
}

/**
 * Waits until `cond()` holds (polling), or throws naming `what`. A condition
 * that asks another process (a database) should be async: a synchronous
 * one blocks the thread the job under test runs on.
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
