/**
 * Restart strategies in running jobs: a failure after a checkpoint restarts
 * from it with exactly-once output intact; `none` fails the job; fixed-delay
 * gives up after its attempts.
 */
import assert from "node:assert/strict";
import { ExactlyOnceFileSink } from "../core/connectors/exactly_once_file_sink.ts";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import type { Collector, RuntimeContext } from "../core/dataflow/functions.ts";
import type { RestartStrategy } from "../core/checkpoint/restart_strategy.ts";
import { JobFailedError } from "../core/errors.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import type { StateBackend } from "../core/state/backend.ts";
import { countJob, CountPerKey } from "./_helpers/checkpoint_jobs.ts";
import { checkWordCount } from "./_helpers/word_count_check.ts";

const COUNT = 4000;
const word = (seq: number) => `w${(seq * 7919) % 53}`;
const TEXT = Array.from({ length: COUNT }, (_, i) => word(i)).join(" ");

/** Counts words; throws when `shouldThrow()` says so (decided across restarts by the test). */
class Flaky extends CountPerKey {
  static shouldThrow: () => boolean = () => false;
  static throws = 0;
  static checkpointsSeen = 0;

  override open(ctx: RuntimeContext): void {
    super.open(ctx);
  }

  override processElement(w: string, ctx: unknown, out: Collector<string>): void {
    if (Flaky.shouldThrow()) {
      Flaky.throws++;
      throw new Error(`boom ${Flaky.throws}`);
    }
    super.processElement(w, ctx, out);
  }

  override notifyCheckpointComplete(id: number): void {
    Flaky.checkpointsSeen++;
    super.notifyCheckpointComplete(id);
  }
}

function run(backend: StateBackend, restartStrategy: RestartStrategy) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-restart-" });
  const outDir = Deno.makeTempDirSync({ prefix: "weir-restart-out-" });
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: backend,
    checkpoint: { dir, intervalMs: 15 },
    restartStrategy,
    log: (l) => logs.push(l),
  });
  Flaky.throws = 0;
  Flaky.checkpointsSeen = 0;
  const words = env.generate({ count: COUNT, ratePerSecond: 20_000, generate: word }).uid("gen")
    .setParallelism(1);
  countJob(words, new ExactlyOnceFileSink<string>({ dir: outDir }), { fn: new Flaky() });
  const client = env.executeAsync("restart");
  const cleanup = () => {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(outDir, { recursive: true });
  };
  return { client, outDir, logs, cleanup };
}

for (
  const [name, backend] of [["heap", () => new HeapStateBackend()], [
    "lsm",
    () => new LsmStateBackend({ memtableBytes: 1 << 20, blockCacheBytes: 1 << 20 }),
  ]] as const
) {
  Deno.test(`restart (${name}): a failure after a checkpoint restarts from it; output stays exactly once`, async () => {
    Flaky.shouldThrow = () => Flaky.checkpointsSeen > 0 && Flaky.throws === 0;
    const r = run(backend(), { kind: "fixed-delay", attempts: 2, delayMs: 5 });
    const result = await r.client.done;
    assert.equal(result.cancelled, false);
    assert.equal(Flaky.throws, 1);
    assert.equal(r.client.restarts, 1);
    assert.ok(r.logs.some((l) => /failed.*boom 1; restarting in 5 ms/.test(l)), r.logs.join("\n"));
    assert.ok(
      r.logs.some((l) => /restoring checkpoint \d+ after a failure/.test(l)),
      r.logs.join("\n"),
    );
    assert.deepEqual(checkWordCount(TEXT, r.outDir, true), []);
    r.cleanup();
  });
}

Deno.test("restart: with the none strategy a failure fails the job with JobFailedError", async () => {
  Flaky.shouldThrow = () => Flaky.throws === 0;
  const r = run(new HeapStateBackend(), { kind: "none" });
  const e = await r.client.done.then(() => assert.fail("the job did not fail"), (e) => e);
  assert.ok(e instanceof JobFailedError, String(e));
  assert.match(e.message, /Job "restart" failed in task .*: boom 1/);
  assert.equal(r.client.restarts, 0);
  r.cleanup();
});

Deno.test("restart: fixed-delay gives up after its attempts", async () => {
  Flaky.shouldThrow = () => true;
  const r = run(new HeapStateBackend(), { kind: "fixed-delay", attempts: 2, delayMs: 1 });
  const e = await r.client.done.then(() => assert.fail("the job did not fail"), (e) => e);
  assert.ok(e instanceof JobFailedError, String(e));
  assert.match(e.message, /boom \d+ \(not restarting: fixed-delay allows 2 restarts\)/);
  assert.equal(r.client.restarts, 2);
  assert.ok(Flaky.throws >= 3, `${Flaky.throws} throws`);
  // Nothing was committed: no checkpoint completed.
  assert.deepEqual([...Deno.readDirSync(r.outDir)].filter((e) => e.name.startsWith("part-")), []);
  r.cleanup();
});

Deno.test("restart: without a failure nothing restarts and the output is exactly once", async () => {
  Flaky.shouldThrow = () => false;
  const r = run(new HeapStateBackend(), { kind: "none" });
  await r.client.done;
  assert.equal(r.client.restarts, 0);
  assert.deepEqual(checkWordCount(TEXT, r.outDir, true), []);
  r.cleanup();
});
