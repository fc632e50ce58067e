/**
 * Job scripts for the worker executor's tests (run as a main module: the
 * executor's workers import it again).
 *
 *   deno run -A tests/_helpers/parallel_job.ts --scenario S [common flags] [options]
 *
 * - `count --records N --keys K`: generated keys `k<i % K>`, keyed count in
 *   ValueState, `[key, count]` per record into a CollectSink; prints one JSON
 *   line `{ values, recordsIn, workers, ringBytes }` (values sorted; workers and
 *   ringBytes: 0 inline) after `execute()`.
 * - `collect --records N --keys K [--marker FILE [--fail-at M]] [--restart-once]`: the
 *   keyed count of `count`, its records brought back by `executeAndCollect()`; prints
 *   them as one JSON array, sorted. With `--marker`, subtask 1 of the count fails once
 *   as in `fail`; `--restart-once` restarts the job once also without checkpoints.
 * - `first --limit L`: an unbounded generator, keyed across workers, and
 *   `executeAndCollect({ limit: L })`; prints the records it resolved with as JSON.
 * - `cancel`: an unbounded generator keyed across workers into a CollectSink, run with
 *   `executeAsync()` and cancelled once 5000 records arrived; prints `{ cancelled, recordsIn,
 *   collected }`.
 * - `close-throws`: subtask 1 of a keyed process function throws in `close()`; prints the
 *   failure's cause's stack as `{ stack }`.
 * - `lag --records N`: a fast source into a slow keyed consumer (0.2 ms a record)
 *   across workers; prints the largest lag (ms from a record's creation to its
 *   processing) and the job's duration, as JSON.
 * - `stdin`: `fromElements` of the lines read from stdin before `execute()`, their
 *   lengths brought back by `executeAndCollect()`, printed sorted as JSON; `stdin-points`
 *   the same of class instances (no serializer carries them), `points` of class instances
 *   built alike in every thread.
 * - `threads --keys K`: a keyed process function at the job's parallelism says where each of
 *   its subtasks runs; prints `{ where, workers }`, where is `<subtask>:main` or
 *   `<subtask>:weir-worker/<i>`, sorted.
 * - `mismatch`: the graph built in a worker has one more operator.
 * - `slow-start [--start-timeout MS]`: a worker's script waits an hour before `execute()`.
 * - `throw-before`, `exit-before`, `close-before`, `end-before`: worker 1's script throws (calls
 *   `Deno.exit(3)`, `close()`, returns) before `execute()`; `late-execute`: the workers' scripts
 *   end and call `execute()` half a second later, from a timer (work the script does not await).
 * - `two-jobs`: runs one job, then another; both print their records.
 * - `driver-then-workers`: a job run with the `JobTestDriver` (inline, a ManualClock), then a
 *   keyed job on the environment's executor; prints `{ driven, second }` (their records).
 * - `same-jobs`, `same-jobs-at-once`: two jobs of the same name and shape, one after the other
 *   (or both at once), over other items
 *   with another function (`executeAndCollect`; each worker reads some items); prints both results
 *   as one JSON line.
 * - `dependent-jobs`: the second job's graph depends on the first's results (one operator per
 *   record the first collected), which a worker does not have.
 * - `dependent-start`: the second job starts only if the first collected records.
 * - `temp-output`: a sink writes into a temporary folder the script makes before `execute()`.
 * - `big-records`: six records of 3 MiB each cross workers; prints `letter:length` sorted.

 * - `die`: worker 1 throws an uncaught error while the (unbounded) job runs.
 * - `lost-here [--restart-once]`: in the first attempt, worker 0's map (on the main thread)
 *   leaves a promise rejected with no handler; the records, doubled, come back through
 *   `executeAndCollect()`, printed sorted as JSON.
 * - `class`: records that are class instances cross workers without a serializer;
 *   `returns`: the same with `.returns(serializer)`, printing `x` of each.
 * - `side-returns`: a process function emits numbers (`.returns(Serializers.f64)`) and, to a
 *   side output, class instances (`getSideOutput(tag).returns(serializer)`); both cross
 *   workers, and print `number N` and `point X`.
 * - `fail --records N --keys K --output DIR --marker FILE [--fail-at M] [--fail-subtask S]
 *   [--fail-how throw|exit|close] [--fail-times T] [--print-fds]`: the keyed count into the
 *   exactly-once file sink (`key<TAB>count` lines); subtask S (1) of the count throws (or calls
 *   `Deno.exit(3)` or `close()`, ending its worker) once (the marker file remembers it) on its
 *   first record from the M-th (500) on that comes after a checkpoint completed (a `chk-*`
 *   folder not there when it opened). `--fail-times T`: T times, one per attempt (restarted at
 *   once, T times); `--print-fds`: prints `{ fds }`, the process's open descriptors, at the end.
 * - `files --input DIR [--output DIR --marker FILE [--fail-at M]]`: the lines of the
 *   files in DIR (a directory FileSource: its enumerator in the main thread, its
 *   readers on the workers), keyed count; without `--output` as `count` prints them,
 *   with it as `fail` writes them (and fails once).
 *
 * - `aligned --marker FILE`: `env.fromSource` of two splits in watermark alignment group "g"
 *   (max drift 100): "slow" on subtask 0 (event times 0, 200, … 29800, resting
 *   after each record), "fast" on subtask 1 (0, 10, … 29990, resting after every
 *   50, from when slow has read 5 and written `--marker FILE`); prints the
 *   records read (`tests/_helpers/aligned_sources.ts`) as JSON.
 *
 * - `stuck-main --cancellation-timeout MS`: an unbounded generator into a map whose subtask on
 *   the main thread loops forever on its first record after a checkpoint completed (a `chk-*`
 *   folder appeared), with checkpoints timing out after 200 ms and `cancellationTimeoutMs` MS.
 *
 * Every scenario takes `--ring-memory BYTES`: `ringMemoryBytes`, what the rings
 * between workers share.
 *
 * @module
 */
import assert from "node:assert/strict";
import { alignedStrategy, splitsSource, times } from "./aligned_sources.ts";
import {
  type Collector,
  CollectSink,
  ConfigError,
  ExactlyOnceFileSink,
  FileSource,
  type JobResult,
  type KeyedProcessFunction,
  ManualClock,
  OutputTag,
  type PollStatus,
  runMain,
  type RuntimeContext,
  type Serializer,
  Serializers,
  type Source,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../../mod.ts";
import { JobTestDriver, TestSource } from "../../core/testing/mod.ts";
import { createAdminApp, jobClientRuntime } from "../../core/admin/mod.ts";
import { vertexId } from "../../core/admin/jobs.ts";

class Count implements KeyedProcessFunction<string, string, [string, number]> {
  count!: ValueState<number>;
  seen = 0;
  subtask = 0;
  constructor(
    readonly failMarker?: string,
    readonly failAt = 0,
    readonly checkpointDir?: string,
    readonly failSubtask = 1,
    readonly failHow = "throw",
    readonly failTimes = 1,
  ) {}
  /** The checkpoints there when this subtask opened (a restored attempt's). */
  before = new Set<string>();
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
    this.subtask = ctx.subtaskIndex;
    this.before = new Set(this.checkpoints());
  }
  processElement(key: string, _ctx: unknown, out: Collector<[string, number]>): void {
    // Fails at the first record from the M-th on once a checkpoint completed, so the
    // restart restores one (how fast checkpoints complete depends on the machine).
    if (
      this.failMarker && this.subtask === this.failSubtask && ++this.seen >= this.failAt &&
      this.checkpointCompleted()
    ) {
      let failed = 0;
      try {
        failed = Deno.readTextFileSync(this.failMarker).split("\n").length - 1;
      } catch {
        // not failed yet
      }
      if (failed < this.failTimes) {
        Deno.writeTextFileSync(this.failMarker, "failed once\n", { append: true });
        if (this.failHow === "exit") Deno.exit(3);
        if (this.failHow !== "close") {
          throw new Error(`injected failure on record ${this.seen} of subtask ${this.subtask}`);
        }
        // Ends the worker once this function returns.
        (globalThis as unknown as { close(): void }).close();
      }
    }
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect([key, n]);
  }
  completed = false;
  /** Whether a checkpoint completed since this subtask opened (so a restart restores a newer one). */
  checkpointCompleted(): boolean {
    if (this.completed || this.checkpointDir === undefined) return true;
    this.completed = this.checkpoints().some((c) => !this.before.has(c));
    return this.completed;
  }
  checkpoints(): string[] {
    if (this.checkpointDir === undefined) return [];
    try {
      return [...Deno.readDirSync(this.checkpointDir)].map((e) => e.name)
        .filter((n) => n.startsWith("chk-"));
    } catch {
      return []; // not made yet
    }
  }
}

/** About 1 KiB per record: a ring between workers holds a few hundred. */
const PAD = "x".repeat(1000);

class Point {
  constructor(readonly x: number) {}
}

const POINT: Serializer<Point> = {
  id: "point",
  version: 1,
  write: (p, out) => out.writeF64(p.x),
  read: (input) => new Point(input.readF64()),
};

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* a slow consumer */ }
}

/** Emits, once per subtask, `<subtask index>:<thread>` ("main" or the worker's `self.name`). */
class WhereSubtaskRuns implements KeyedProcessFunction<number, number, string> {
  where = "";
  said = false;
  open(ctx: RuntimeContext): void {
    const name = (globalThis as { name?: string }).name;
    this.where = `${ctx.subtaskIndex}:${name?.startsWith("weir-worker/") ? name : "main"}`;
  }
  processElement(_n: number, _ctx: unknown, out: Collector<string>): void {
    if (this.said) return;
    this.said = true;
    out.collect(this.where);
  }
}

/** Prints the counts (sorted `key\tcount` lines), records read and workers as one JSON line. */
function printCounts(counts: [string, number][], result: JobResult): void {
  const values = counts.map(([k, n]) => `${k}\t${n}`).sort();
  console.log(
    JSON.stringify({
      values,
      recordsIn: result.recordsIn,
      workers: result.workers ?? 0,
      ringBytes: result.ringBytes ?? 0,
    }),
  );
}

async function main(args: string[]): Promise<void> {
  // Small in-worker channels, so the rings between workers hold most of what is in flight.
  const { env, flags, values } = StreamEnvironment.fromArgs(args, {
    scenario: { type: "string" },
    input: { type: "string" },
    records: { type: "string" },
    keys: { type: "string" },
    output: { type: "string" },
    marker: { type: "string" },
    "fail-at": { type: "string" },
    "fail-subtask": { type: "string" },
    "fail-how": { type: "string" },
    "fail-times": { type: "string" },
    "print-fds": { type: "boolean" },
    limit: { type: "string" },
    "restart-once": { type: "boolean" },
    "start-timeout": { type: "string" },
    "busy-ms": { type: "string" },
    "ring-memory": { type: "string" },
    "cancellation-timeout": { type: "string" },
  }, {
    channelCapacity: 1024,
    // Restarts without checkpoints too (the default restarts only with them).
    ...(args.includes("--restart-once")
      ? { restartStrategy: { kind: "fixed-delay", attempts: 1, delayMs: 0 } }
      : {}),
    ...(args.includes("--fail-times")
      ? {
        restartStrategy: {
          kind: "fixed-delay",
          attempts: Number(args[args.indexOf("--fail-times") + 1]),
          delayMs: 0,
        },
      }
      : {}),
    ...(args.includes("--start-timeout")
      ? { workerStartTimeoutMs: Number(args[args.indexOf("--start-timeout") + 1]) }
      : {}),
    ...(args.includes("--cancellation-timeout")
      ? {
        checkpoint: {
          dir: "",
          timeoutMs: 200,
          cancellationTimeoutMs: Number(args[args.indexOf("--cancellation-timeout") + 1]),
        },
      }
      : {}),
    ...(args.includes("--ring-memory")
      ? { ringMemoryBytes: Number(args[args.indexOf("--ring-memory") + 1]) }
      : {}),
  });
  const records = Number(values.records ?? 10_000);
  const keys = Number(values.keys ?? 100);
  const inWorker = (globalThis as { name?: string }).name?.startsWith("weir-worker/") ?? false;
  switch (values.scenario) {
    case "count": {
      const sink = new CollectSink<[string, number]>();
      env.generate({ count: records, generate: (n) => `k${n % keys}` }).uid("gen")
        .keyBy((k) => k, Serializers.string)
        .process(new Count()).uid("count")
        .addSink(sink).uid("collect");
      const result = await env.execute("parallel count");
      printCounts(sink.values, result);
      return;
    }
    case "collect": {
      const counts = await env.generate({ count: records, generate: (n) => `k${n % keys}` })
        .uid("gen")
        .keyBy((k) => k, Serializers.string)
        .process(
          new Count(
            values.marker as string | undefined,
            Number(values["fail-at"] ?? 500),
            flags.checkpointDir,
          ),
        ).uid("count")
        .executeAndCollect({ jobName: "collected count" });
      console.log(JSON.stringify(counts.map(([k, n]) => `${k}\t${n}`).sort()));
      return;
    }
    case "first": {
      const first = await env.generate({ generate: (n) => n }).uid("gen")
        .keyBy((n) => n % 64, Serializers.f64)
        .map((n) => n * 2).uid("double")
        .executeAndCollect({ jobName: "first records", limit: Number(values.limit) });
      console.log(JSON.stringify(first));
      return;
    }
    case "cancel": {
      // An unbounded keyed job, cancelled once the main thread has 5000 of its records.
      const enough = Promise.withResolvers<void>();
      const sink = new (class extends CollectSink<number> {
        override invoke(value: number, timestamp: number | undefined): void {
          super.invoke(value, timestamp);
          if (this.values.length >= 5000) enough.resolve();
        }
      })();
      env.generate({ generate: (n) => n }).uid("gen")
        .keyBy((n) => n % 64, Serializers.f64)
        .map((n) => n * 2).uid("double")
        .addSink(sink).uid("collect");
      const client = env.executeAsync("cancelled");
      // A worker's copy of the sink is not the script's: only the main thread cancels.
      if (inWorker) await client.done;
      await enough.promise;
      client.cancel();
      const result = await client.done;
      console.log(JSON.stringify({
        cancelled: result.cancelled,
        recordsIn: result.recordsIn,
        collected: sink.values.length,
      }));
      return;
    }
    case "close-throws": {
      // Subtask 1 of a keyed function throws in close(), after its input ended well.
      class ClosingFails implements KeyedProcessFunction<number, number, number> {
        subtask = -1;
        open(ctx: RuntimeContext): void {
          this.subtask = ctx.subtaskIndex;
        }
        processElement(n: number, _ctx: unknown, out: Collector<number>): void {
          out.collect(n);
        }
        close(): void {
          if (this.subtask === 1) throw new Error("close failed on purpose");
        }
      }
      env.generate({ count: records, generate: (n) => n }).uid("gen")
        .keyBy((n) => n % 64, Serializers.f64)
        .process(new ClosingFails()).uid("closing")
        .addSink(new CollectSink<number>()).uid("collect");
      try {
        await env.execute("close-throws");
      } catch (e) {
        // Where the error was thrown, as the cause's trace tells it to this thread.
        const cause = e instanceof Error ? e.cause : undefined;
        console.log(JSON.stringify({ stack: cause instanceof Error ? cause.stack : "" }));
        throw e;
      }
      console.log("finished");
      return;
    }
    case "lag": {
      const sink = new CollectSink<number>();
      const start = Date.now();
      env.generate({ count: records, generate: (n) => ({ n, at: Date.now(), pad: PAD }) }).uid(
        "gen",
      )
        .keyBy((r) => r.n % 64, Serializers.f64)
        .map((r) => {
          busyWait(0.2);
          return Date.now() - r.at;
        }).uid("slow")
        .addSink(sink).uid("collect");
      await env.execute("lag");
      console.log(JSON.stringify({
        maxLagMs: Math.max(...sink.values),
        durationMs: Date.now() - start,
        count: sink.values.length,
      }));
      return;
    }
    case "die": {
      // Worker 1 dies of an uncaught error while the job runs (unbounded source).
      if ((globalThis as { name?: string }).name === "weir-worker/1") {
        setTimeout(() => {
          throw new Error("worker crashed on purpose");
        }, 300);
      }
      env.generate({ generate: (n) => n, ratePerSecond: 10_000 }).uid("gen")
        .map((n: number) => n + 1).uid("inc")
        .addSink(new CollectSink<number>()).uid("collect");
      await env.execute("die");
      return;
    }
    case "lost-here": {
      let attempt = 0;
      const doubled = await env.generate({ count: records, generate: (n) => n }).uid("gen")
        .map({
          open: () => void attempt++,
          map(n: number) {
            if (!inWorker && attempt === 1 && n === 10) Promise.reject(new Error("lost here"));
            return 2 * n;
          },
        }).uid("double")
        .executeAndCollect({ jobName: "lost-here" });
      console.log(JSON.stringify(doubled.toSorted((a, b) => a - b)));
      return;
    }
    case "threads": {
      // Where each subtask of the process function runs: "main" or the worker's name.
      const sink = new CollectSink<string>();
      env.generate({ count: 4 * keys, generate: (n) => n }).uid("gen")
        .keyBy((n) => n % keys, Serializers.f64)
        .process(new WhereSubtaskRuns()).uid("where")
        .addSink(sink).uid("collect");
      const result = await env.execute("threads");
      console.log(
        JSON.stringify({ where: [...new Set(sink.values)].sort(), workers: result.workers }),
      );
      return;
    }
    case "finish-then-cancel": {
      // Source subtask 0 reads 3 records and ends, subtask 1 reads until the job is cancelled,
      // right after subtask 0's chain finished (its sink's finish() says so across threads).
      // Prints the subtasks' statuses the admin API gives then.
      const channel = `weir-finish-then-cancel-${Deno.pid}`;
      const finished = new BroadcastChannel(channel);
      const source: Source<number> = {
        name: "reads",
        createReader(ctx) {
          let next = 0;
          return {
            poll(out): PollStatus {
              if (ctx.subtaskIndex === 0 && next === 3) return "end";
              out.collect(next++);
              return ctx.subtaskIndex === 0 ? "more" : "idle";
            },
            position: () => next,
            restore(p) {
              next = p as number;
            },
          };
        },
      };
      env.addSource(source).uid("reads").addSink({
        invoke() {},
        finish() {
          // A channel of its own: one does not hear its own messages (worker 0 is this thread).
          const tell = new BroadcastChannel(channel);
          tell.postMessage("finished");
          tell.close();
        },
      }, { uid: "sink" });
      const client = env.executeAsync("finish then cancel");
      if (inWorker) await client.done;
      const runtime = jobClientRuntime(client);
      await new Promise((resolve) => finished.onmessage = resolve);
      finished.close();
      client.cancel();
      assert.equal((await client.done).cancelled, true);
      const [job] = runtime.jobs();
      const res = await createAdminApp(runtime).request(
        `/jobs/${job!.id}/vertices/${vertexId("reads")}`,
      );
      const { subtasks } = await res.json() as { subtasks: { status: string }[] };
      console.log(JSON.stringify(subtasks.map((s) => s.status)));
      return;
    }
    case "mismatch": {
      let s = env.fromElements(1, 2, 3, 4).uid("numbers").map((n: number) => n + 1).uid("inc");
      if (inWorker) s = s.map((n: number) => n * 2).uid("double");
      s.print();
      await env.execute("mismatch");
      return;
    }
    case "slow-start": {
      // A script that waits before execute() (for input, say) waits in every worker too.
      if (inWorker) await new Promise((resolve) => setTimeout(resolve, 3_600_000));
      env.fromElements(1, 2).uid("numbers").keyBy((n: number) => n).print();
      await env.execute("slow-start");
      return;
    }
    case "throw-before":
    case "exit-before":
    case "close-before":
    case "end-before": {
      if ((globalThis as { name?: string }).name === "weir-worker/1") {
        if (values.scenario === "exit-before") Deno.exit(3);
        if (values.scenario === "close-before") {
          (globalThis as unknown as { close(): void }).close();
          return;
        }
        if (values.scenario === "end-before") return;
        throw new Error("no config in this worker");
      }
      env.fromElements(1, 2).uid("numbers").keyBy((n: number) => n).print();
      await env.execute(values.scenario);
      return;
    }
    case "late-execute": {
      env.fromElements(1, 2, 3).uid("numbers").keyBy((n: number) => n).print();
      if (inWorker) {
        setTimeout(() => void env.execute("late-execute"), 500);
        return;
      }
      await env.execute("late-execute");
      return;
    }
    case "same-jobs":
    case "same-jobs-at-once": {
      // The two plans are equal (items are not in a plan): only the functions tell them apart.
      const job = (e: StreamEnvironment, items: string[], mark: (w: string) => string) =>
        e.fromCollection(items).uid("items").map(mark).uid("mark").executeAndCollect();
      const { env: second } = StreamEnvironment.fromArgs(args, { scenario: { type: "string" } });
      const one = () => job(env, ["a", "b", "c", "d"], (w) => w + "!");
      const two = () => job(second, ["x", "y", "x", "z"], (w) => w.toUpperCase());
      const results = values.scenario === "same-jobs"
        ? [await one(), await two()]
        : await Promise.all([one(), two()]);
      console.log(JSON.stringify(results.map((r) => r.sort())));
      return;
    }
    case "dependent-jobs": {
      const seen = await env.fromElements(1, 2, 3).uid("numbers").executeAndCollect();
      const { env: second } = StreamEnvironment.fromArgs(args, { scenario: { type: "string" } });
      let s = second.fromElements(1, 2).uid("more");
      for (let i = 0; i < seen.length; i++) s = s.map((x) => x + 1).uid(`step-${i}`);
      s.print();
      await second.execute();
      return;
    }
    case "dependent-start": {
      // The second job starts only if the first collected records, which a worker does not have.
      const seen = await env.fromElements(1, 2, 3).uid("numbers").executeAndCollect();
      if (seen.length > 0) {
        const { env: second } = StreamEnvironment.fromArgs(args, { scenario: { type: "string" } });
        second.fromElements(1, 2).uid("more").rebalance().print();
        await second.execute("second");
      }
      return;
    }
    case "driver-then-workers": {
      const driven = StreamEnvironment.create({ clock: new ManualClock(0) });
      const input = new TestSource<number>();
      const out = new CollectSink<number>();
      driven.addSource(input).map((n: number) => n + 1).addSink(out);
      const driver = await JobTestDriver.start(driven, { name: "driven" });
      input.push(1, 2);
      await driver.settle();
      await driver.close();
      const sink = new CollectSink<number>();
      env.fromElements(1, 2, 3, 4).uid("numbers").keyBy((n) => n % 2, Serializers.f64)
        .map((n: number) => n * 10).uid("times-ten").addSink(sink).uid("collect");
      await env.execute("after the driver");
      console.log(JSON.stringify({ driven: out.values, second: sink.values.sort() }));
      return;
    }
    case "two-jobs": {
      env.fromElements(1, 2).uid("numbers").print();
      await env.execute("first");
      const { env: second } = StreamEnvironment.fromArgs(args, {
        scenario: { type: "string" },
      });
      second.fromElements("a", "b").uid("letters").print();
      await second.execute("second");
      return;
    }
    case "stdin":
    case "stdin-points":
    case "points": {
      // Items from stdin, read before execute(): in the workers stdin is already read. The
      // array source at parallelism 2 reads on both workers.
      const lines = values.scenario === "points"
        ? ["a", "bb", "ccc"]
        : (await new Response(Deno.stdin.readable).text()).split("\n").filter((l) => l);
      const collected = values.scenario === "stdin"
        ? env.fromElements(...lines).setParallelism(2).uid("lines").rebalance().map((l: string) =>
          l.length
        )
          .uid("length")
        : env.fromElements(...lines.map((l) => new Point(l.length))).setParallelism(2).uid("points")
          .map((p: Point) => p.x).uid("x");
      const lengths = await collected.executeAndCollect({ jobName: "collection items" });
      console.log(JSON.stringify(lengths.toSorted((a, b) => a - b)));
      return;
    }
    case "big-records": {
      // Records of 3 MiB, six times a ring between workers: they cross in pieces.
      const sizes = await env.generate({
        count: 6,
        generate: (n) => String.fromCharCode(97 + n).repeat(3 << 20),
      }).uid("big").rebalance().map((s: string) => `${s[0]}:${s.length}`).uid("size")
        .executeAndCollect({ jobName: "big records" });
      console.log(JSON.stringify(sizes.toSorted()));
      return;
    }
    case "temp-output": {
      // A folder made before execute(): each worker makes another one.
      const dir = Deno.makeTempDirSync({ prefix: "weir-temp-output-" });
      env.fromElements("a", "b").uid("letters").rebalance()
        .addSink(new ExactlyOnceFileSink<string>({ dir })).uid("files");
      try {
        await env.execute("temp output");
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
      return;
    }
    case "class":
    case "returns": {
      const points = env.fromElements(1, 2, 3, 4).uid("numbers")
        .map((n: number) => new Point(n)).uid("to-point");
      // Class instances cross workers with their own serializer.
      if (values.scenario === "returns") points.returns(POINT);
      points
        .keyBy((p) => p.x, Serializers.f64)
        .map((p) => p.x).uid("x")
        .print();
      await env.execute("class records");
      return;
    }
    case "side-returns": {
      const tag = new OutputTag<Point>("points");
      const numbers = env.fromElements(1, 2, 3, 4).uid("numbers")
        .process<number>({
          processElement(n: number, ctx, out) {
            out.collect(n * 10);
            ctx.output(tag, new Point(n));
          },
        }).uid("split")
        .returns(Serializers.f64);
      // Each stream its own serializer: the side output's does not replace the main one's.
      numbers.getSideOutput(tag).returns(POINT)
        .keyBy((p) => p.x, Serializers.f64)
        .map((p) => `point ${p instanceof Point ? p.x : "not a Point"}`).uid("points")
        .print();
      numbers.keyBy((n) => n, Serializers.f64).map((n) => `number ${n}`).uid("tens").print();
      await env.execute("side output serializers");
      return;
    }
    case "fail": {
      if (!values.output || !values.marker) throw new ConfigError("--output and --marker needed");
      env.generate({ count: records, generate: (n) => `k${n % keys}` }).uid("gen")
        .keyBy((k) => k, Serializers.string)
        .process(
          new Count(
            values.marker as string,
            Number(values["fail-at"] ?? 500),
            flags.checkpointDir,
            Number(values["fail-subtask"] ?? 1),
            values["fail-how"] as string | undefined,
            Number(values["fail-times"] ?? 1),
          ),
        ).uid("count")
        .map(([k, n]) => `${k}\t${n}`).uid("format")
        .addSink(new ExactlyOnceFileSink<string>({ dir: values.output as string }), {
          uid: "sink",
        });
      await env.execute("fail once");
      if (values["print-fds"]) {
        console.log(JSON.stringify({ fds: [...Deno.readDirSync("/proc/self/fd")].length }));
      }
      return;
    }
    case "files": {
      if (!values.input) throw new ConfigError("--input DIR needed");
      const counted = env.addSource(new FileSource({ path: values.input as string }), {
        uid: "files",
      })
        .keyBy((k) => k, Serializers.string);
      if (values.output) {
        counted.process(
          new Count(values.marker as string, Number(values["fail-at"] ?? 500), flags.checkpointDir),
        ).uid("count")
          .map(([k, n]) => `${k}\t${n}`).uid("format")
          .addSink(new ExactlyOnceFileSink<string>({ dir: values.output as string }), {
            uid: "sink",
          });
        await env.execute("files fail once");
        return;
      }
      const sink = new CollectSink<[string, number]>();
      counted.process(new Count()).uid("count").addSink(sink).uid("collect");
      const result = await env.execute("files count");
      printCounts(sink.values, result);
      return;
    }
    case "busy-first": {
      // The main thread's share spends --busy-ms on its first line (a file source has no
      // enumerator: its readers read at once); the start-up reported must not count it.
      if (!values.input) throw new ConfigError("--input FILE needed");
      let busy = inWorker ? 0 : Number(values["busy-ms"]);
      const sink = new CollectSink<string>();
      env.addSource(new FileSource({ path: values.input as string }), { uid: "lines" })
        .map((line: string) => {
          busyWait(busy);
          busy = 0;
          return line;
        }).uid("busy")
        .addSink(sink).uid("collect");
      const result = await env.execute("busy first");
      console.log(JSON.stringify({ startupMs: result.startupMs, lines: sink.values.length }));
      return;
    }
    case "aligned": {
      // A reader that has not reported yet holds nobody back (as in Flink): fast starts once
      // slow has read a few records, so that slow's reports are in the group by then.
      if (!values.marker) throw new ConfigError("--marker needed");
      const signal = { file: values.marker as string, after: 5 };
      const sink = new CollectSink<unknown>();
      env.fromSource(
        splitsSource({
          slow: { times: times(150, 200), subtask: 0, idleEvery: 1, signal },
          fast: { times: times(3000, 10), subtask: 1, idleEvery: 50, waitFor: signal.file },
        }),
        alignedStrategy(100),
        "two speeds",
        { uid: "splits" },
      ).addSink(sink).uid("collect");
      await env.execute("aligned subtasks");
      console.log(JSON.stringify(sink.values));
      return;
    }
    case "stuck-main": {
      const dir = flags.checkpointDir!;
      const completed = () => [...Deno.readDirSync(dir)].some((e) => e.name.startsWith("chk-"));
      env.generate({ generate: (n) => n, ratePerSecond: 2_000 }).uid("gen")
        .map((n: number) => {
          if (!inWorker && completed()) {
            console.error("stuck from now on");
            for (;;) busyWait(1_000);
          }
          return n;
        }).uid("stuck")
        .addSink(new CollectSink<number>()).uid("collect");
      await env.execute("stuck main");
      return;
    }
    default:
      throw new ConfigError(`unknown --scenario ${values.scenario}`);
  }
}

if (import.meta.main) await runMain("parallel_job", main);
