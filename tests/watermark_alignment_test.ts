/**
 * Watermark alignment through real jobs (`env.fromSource` with
 * `withWatermarkAlignment`): a fast split is held within the drift of a slow
 * one of the same reader, and of another subtask's on the worker executor
 * (the group lives in the main thread); a slow split that finishes or goes
 * quiet (idle) lets it run on. Assertions are on the order records were read
 * in, never on how long anything took.
 */
import assert from "node:assert/strict";
import { CollectSink, StreamEnvironment } from "../mod.ts";
import {
  type AlignedRecord,
  alignedStrategy,
  splitsSource,
  times,
} from "./_helpers/aligned_sources.ts";

/**
 * The fast split's records read while the slow split was unfinished, whose
 * previous record is more than `maxDrift` ahead of the slow split's latest
 * record read by then: `records` in read order in one reader (from the 5th
 * record: the first answer comes after the second poll), or across workers,
 * the fast split's in read order then the slow split's, by wall clock (from
 * the fast reader's first pause: the answers cross threads).
 */
function violations(
  records: readonly AlignedRecord[],
  maxDrift: number,
  order: "sequence" | "wall clock",
): string[] {
  const slow = records.filter((r) => r.split === "slow");
  const slowEnd = slow.at(-1)!;
  const bad: string[] = [];
  let fastPrevious = -Infinity;
  for (const [i, r] of records.entries()) {
    if (r.split !== "fast") continue;
    const slowSoFar = order === "sequence"
      ? records.slice(0, i).filter((s) => s.split === "slow")
      : slow.filter((s) => s.at <= r.at);
    const slowLatest = slowSoFar.at(-1)?.ts ?? -Infinity;
    const slowDone = order === "sequence" ? slowSoFar.length === slow.length : r.at >= slowEnd.at;
    const checked = order === "sequence" ? i >= 4 : r.afterPause;
    if (checked && !slowDone && fastPrevious > slowLatest + maxDrift) {
      bad.push(`fast:${r.ts} (previous ${fastPrevious}) read with slow at ${slowLatest}`);
    }
    fastPrevious = r.ts;
  }
  return bad;
}

Deno.test("watermark alignment: in one reader, the fast split is held within the drift of the slow split (paused alone)", async () => {
  const env = StreamEnvironment.create();
  const sink = new CollectSink<AlignedRecord>();
  const slow = times(301, 10); // 0 .. 3000
  const fast = times(31, 100); // 0 .. 3000: ten times faster in event time per record
  env.fromSource(
    splitsSource({ slow: { times: slow }, fast: { times: fast } }),
    alignedStrategy(100),
    "two speeds",
  ).addSink(sink);
  await env.execute("aligned splits");
  const got = sink.values;
  assert.deepEqual(got.filter((r) => r.split === "slow").map((r) => r.ts), slow);
  assert.deepEqual(got.filter((r) => r.split === "fast").map((r) => r.ts), fast);
  assert.ok(got.some((r) => r.afterPause), "the fast split was paused");
  assert.deepEqual(violations(got, 100, "sequence"), []);
  // Without alignment the fast split would be at 3000 after 31 slow records (at 300).
  const fastAtSlow300 = got.slice(0, got.findIndex((r) => r.split === "slow" && r.ts === 300))
    .filter((r) => r.split === "fast").at(-1)!.ts;
  assert.ok(fastAtSlow300 <= 500, `fast at ${fastAtSlow300} when slow read 300`);
});

Deno.test("watermark alignment: the slow split's end lets the fast one run to its end (no deadlock)", async () => {
  const env = StreamEnvironment.create();
  const sink = new CollectSink<AlignedRecord>();
  env.fromSource(
    splitsSource({ slow: { times: times(5, 10) }, fast: { times: times(5, 1_000) } }),
    alignedStrategy(100),
    "slow ends first",
  ).addSink(sink);
  await env.execute("aligned splits, one ends");
  assert.deepEqual(
    sink.values.map((r) => `${r.split}:${r.ts}`),
    [
      "slow:0",
      "fast:0",
      "slow:10",
      "fast:1000",
      "slow:20",
      "slow:30",
      "slow:40",
      "fast:2000",
      "fast:3000",
      "fast:4000",
    ],
  );
});

Deno.test("watermark alignment: a quiet split goes idle and no longer holds its paused sibling back", async () => {
  const env = StreamEnvironment.create();
  const sink = new CollectSink<AlignedRecord>();
  env.fromSource(
    splitsSource({
      slow: { times: times(3, 10), liveUntilOthersEnd: true },
      fast: { times: times(31, 100) },
    }),
    alignedStrategy(100).withIdleness(50),
    "one split goes quiet",
  ).addSink(sink);
  await env.execute("aligned splits, one idle");
  const got = sink.values.map((r) => `${r.split}:${r.ts}`);
  // Held within the drift of slow (at 20) until slow went idle, then read to the end.
  assert.deepEqual(got.slice(0, 6), [
    "slow:0",
    "fast:0",
    "slow:10",
    "fast:100",
    "slow:20",
    "fast:200",
  ]);
  assert.deepEqual(got.slice(6), times(28, 100).map((t) => `fast:${t + 300}`));
  assert.ok(sink.values.some((r) => r.afterPause), "the fast split was paused");
});

const SCRIPT = new URL("./_helpers/parallel_job.ts", import.meta.url).pathname;

Deno.test("watermark alignment on the worker executor: one group over two subtasks on two workers holds the fast subtask within the drift of the slow one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-aligned-" });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      SCRIPT,
      "--scenario",
      "aligned",
      "--marker",
      `${dir}/slow-started`,
      "--executor",
      "workers",
      "--parallelism",
      "2",
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(dir, { recursive: true }));
  const text = new TextDecoder();
  assert.equal(out.code, 0, text.decode(out.stderr));
  const lines = text.decode(out.stdout).trim().split("\n");
  const got = (JSON.parse(lines.at(-1)!) as AlignedRecord[]).toSorted((a, b) => a.at - b.at);
  const slow = got.filter((r) => r.split === "slow");
  const fast = got.filter((r) => r.split === "fast");
  assert.deepEqual(slow.map((r) => r.ts), times(150, 200));
  assert.deepEqual(fast.map((r) => r.ts).toSorted((a, b) => a - b), times(3000, 10));
  // Subtask 1 (fast) was paused by the group, long before it could have read everything.
  const beforePause = fast.filter((r) => !r.afterPause).length;
  assert.ok(beforePause < 1_500, `fast read ${beforePause} records before its first pause`);
  // Read in wall-clock order (across workers): the fast subtask read within the drift of
  // what the slow one had read by then.
  const fastInReadOrder = fast.toSorted((a, b) => a.ts - b.ts);
  assert.deepEqual(violations([...fastInReadOrder, ...slow], 100, "wall clock"), []);
});
