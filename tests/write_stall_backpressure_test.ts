/**
 * A keyed backend's write stall is backpressure: while its `writeStall()`
 * promise is pending, the keyed task takes no more input, its input channel
 * fills and the source is polled no more; when it resolves, the job goes on
 * (a checkpoint triggered meanwhile completes) and no record is lost. The
 * backend's stall time shows in `/metrics`.
 */
import assert from "node:assert/strict";
import { BATCH_SIZE } from "../core/runtime/outputs.ts";
import type {
  KeyedBackendOptions,
  KeyedStateBackend,
  StateBackend,
} from "../core/state/backend.ts";
import { HeapStateBackend, Serializers, StreamEnvironment } from "../mod.ts";
import { createAdminApp, jobClientRuntime } from "../core/admin/mod.ts";
import { Count } from "../bench/_util.ts";

Deno.test("write stall: a pending writeStall() holds the source back until it resolves", async () => {
  let release!: () => void;
  const stalled = new Promise<void>((r) => (release = r));
  let asked = 0;
  let stallOn = false;
  const heap = new HeapStateBackend();
  const backend: StateBackend = {
    name: "stalling",
    createKeyedBackend(options: KeyedBackendOptions): KeyedStateBackend {
      const keyed: KeyedStateBackend = heap.createKeyedBackend(options);
      keyed.writeStall = () => {
        asked++;
        return stallOn ? stalled : undefined;
      };
      keyed.writeStallMs = () => 1500;
      return keyed;
    },
  } as StateBackend;
  const dir = Deno.makeTempDirSync();
  let polled = 0;
  const total = 200 * BATCH_SIZE;
  let counted = 0;
  const env = StreamEnvironment.create({
    stateBackend: backend,
    checkpoint: { dir },
    log: () => {},
  });
  env.addSource({
    name: "words",
    maxParallelism: 1,
    createReader() {
      let i = 0;
      return {
        poll(out, max) {
          polled++;
          for (let n = 0; n < max && i < total; n++, i++) out.collect(`w${i % 100}`);
          if (i === 2 * BATCH_SIZE) stallOn = true;
          return i < total ? "more" : "end";
        },
        position: () => i,
        restore(p) {
          i = p as number;
        },
      };
    },
  }).uid("words")
    .keyBy((w) => w, Serializers.string)
    .process(new Count()).uid("count")
    .addSink({ invoke: () => void counted++ }, { uid: "sink" });
  const client = env.executeAsync("stall");
  try {
    const deadline = Date.now() + 10_000;
    while (!stallOn) {
      if (Date.now() > deadline) throw new Error("the source never reached the stall");
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 200));
    const during = polled;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(polled, during, "the source was polled during the stall");
    // Only what the channel between the tasks holds went past the stall.
    assert.ok(polled < 50, `polled ${polled} times`);
    assert.ok(asked >= 1);
    // The backend's stall time reaches /metrics, per operator, in seconds.
    const metrics = await (await createAdminApp(jobClientRuntime(client)).request("/metrics"))
      .text();
    assert.match(
      metrics,
      /\nweir_operator_state_write_stall_seconds_total\{[^}]*operator_uid="count"[^}]*\} 1\.5\n/,
    );
    assert.doesNotMatch(metrics, /write_stall_seconds_total\{[^}]*operator_uid="words"/);
    const checkpoint = client.triggerCheckpoint();
    stallOn = false;
    release();
    assert.ok((await checkpoint).path.length > 0);
    await client.done;
    assert.equal(counted, total);
  } finally {
    client.cancel();
    await client.done.catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});
