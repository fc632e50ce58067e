/**
 * Flink's `BufferingSink` (docs/dev/datastream/fault-tolerance/state.md), ported as written: its
 * `initializeState` iterates `checkpointedState.get()` on restore without checking for an empty
 * list, as Flink's `ListState.get()` gives an empty iterable then.
 */
import assert from "node:assert/strict";
import {
  type FunctionInitializationContext,
  type ListState,
  ListStateDescriptor,
  Serializers,
  type SinkFunction,
  StreamEnvironment,
} from "../mod.ts";

Deno.test("BufferingSink from Flink's state docs restores from a checkpoint whose buffers were empty", async () => {
  const sent: number[] = [];
  let completed = false;
  let failed = false;
  let restores = 0;
  class BufferingSink implements SinkFunction<number> {
    checkpointedState!: ListState<number>;
    bufferedElements: number[] = [];
    constructor(readonly threshold: number) {}
    invoke(value: number) {
      if (completed && !failed) {
        failed = true;
        throw new Error("injected failure after a completed checkpoint");
      }
      this.bufferedElements.push(value);
      if (this.bufferedElements.length >= this.threshold) {
        sent.push(...this.bufferedElements);
        this.bufferedElements = [];
      }
    }
    snapshotState() {
      this.checkpointedState.clear();
      for (const element of this.bufferedElements) this.checkpointedState.add(element);
    }
    initializeState(ctx: FunctionInitializationContext) {
      const descriptor = new ListStateDescriptor("buffered-elements", Serializers.f64);
      this.checkpointedState = ctx.operatorStateStore.getListState(descriptor);
      if (ctx.isRestored) {
        restores++;
        for (const element of this.checkpointedState.get()) this.bufferedElements.push(element);
      }
    }
    notifyCheckpointComplete() {
      completed = true;
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "weir-buffering-sink-" });
  try {
    const env = StreamEnvironment.create({
      parallelism: 2,
      executor: "inline",
      checkpoint: { dir, intervalMs: 5 },
      restartStrategy: { kind: "fixed-delay", attempts: 2, delayMs: 0 },
    });
    // Threshold 1: every buffer is empty at every checkpoint.
    env.generate({ count: 3_000, generate: (n) => n, ratePerSecond: 20_000 })
      .addSink(new BufferingSink(1)).uid("buffering-sink");
    await env.execute("buffering sink");
    assert.ok(failed, "the failure was injected");
    assert.equal(restores, 2, "both subtasks restored");
    assert.deepEqual(
      [...new Set(sent)].sort((a, b) => a - b),
      Array.from({ length: 3_000 }, (_, i) => i),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
