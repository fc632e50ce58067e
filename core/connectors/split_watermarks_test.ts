import assert from "node:assert/strict";
import {
  splitsToPauseOrResume,
  SplitWatermarks,
  WatermarkAlignmentGroup,
} from "./split_watermarks.ts";
import { WatermarkAlignmentGroups } from "../runtime/_watermark_alignment.ts";
import {
  type AlignedReader,
  type ReaderWatermarks,
  WatermarkedSource,
} from "./_watermarked_source.ts";
import type { PollStatus, Source, SourceReader } from "./source.ts";
import { CollectSink } from "./collect_sink.ts";
import { WatermarkStrategy } from "../time/watermark_strategy.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { ConfigError } from "../errors.ts";
import { ManualClock } from "../runtime/clock.ts";
import { TumblingEventTimeWindows } from "../time/window_assigners.ts";

/** Timestamps are the numbers themselves; a watermark after every record. */
const perRecord = () =>
  WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n)
    .withPerRecordWatermarks();

Deno.test("SplitWatermarks: the watermark is the minimum over splits, and never goes back", () => {
  const w = new SplitWatermarks(perRecord(), () => 0);
  assert.equal(w.watermark, -Infinity);
  w.addSplit("a");
  w.addSplit("b");
  w.onRecord("a", 1000, undefined);
  assert.equal(w.watermark, -Infinity, "split b has emitted nothing yet");
  w.onRecord("b", 10, undefined);
  assert.equal(w.watermark, 9);
  w.onRecord("b", 500, undefined);
  assert.equal(w.watermark, 499);
  w.onRecord("b", 2000, undefined);
  assert.equal(w.watermark, 999, "now a is the slowest");
  w.addSplit("c"); // a new split at -∞ does not take the watermark back
  assert.equal(w.watermark, 999);
  w.onRecord("c", 5000, undefined);
  w.onRecord("a", 3000, undefined);
  assert.equal(w.watermark, 1999);
  assert.deepEqual([...w.activeSplits()], [["a", 2999], ["b", 1999], ["c", 4999]]);
});

Deno.test("SplitWatermarks: a released split no longer holds the watermark; all released is idle", () => {
  const w = new SplitWatermarks(perRecord(), () => 0);
  w.onRecord("a", 100, undefined);
  w.onRecord("b", 5000, undefined);
  assert.equal(w.watermark, 99);
  w.release("a");
  assert.equal(w.watermark, 4999);
  assert.equal(w.idle, false);
  w.release("b");
  assert.equal(w.idle, true);
  assert.equal(w.watermark, 4999);
});

Deno.test("SplitWatermarks: a split silent for the idleness timeout (manual clock) stops holding the watermark, until it has records again", () => {
  let now = 0;
  // An interval of 1 ms: each tick below is a periodic call, which checks idleness.
  const w = new SplitWatermarks(
    perRecord().withWatermarkInterval(1).withIdleness(1_000),
    () => now,
  );
  w.onRecord("slow", 10, undefined);
  w.onRecord("fast", 100, undefined);
  now = 999;
  w.onRecord("fast", 200, undefined);
  w.tick();
  assert.equal(w.watermark, 9, "not idle before the timeout");
  now = 1_000;
  w.onRecord("fast", 300, undefined);
  w.tick();
  assert.equal(w.watermark, 299, "slow was silent for 1000 ms");
  assert.deepEqual([...w.activeSplits().keys()], ["fast"]);
  w.onRecord("slow", 250, undefined);
  assert.equal(w.watermark, 299, "never back");
  w.onRecord("fast", 900, undefined);
  assert.equal(w.watermark, 299, "slow holds it again");
  w.onRecord("slow", 600, undefined);
  assert.equal(w.watermark, 599);
  now = 5_000;
  w.tick();
  assert.equal(w.idle, true, "every split idle: the reader is idle");
  assert.equal(w.watermark, 599);
});

Deno.test("SplitWatermarks: splits going idle at one tick stop holding the watermark longest silent first, so a partition without records does not keep back its sibling's (manual clock)", () => {
  let now = 0;
  const w = new SplitWatermarks(
    WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n)
      .withIdleness(500),
    () => now,
  );
  // A topic of two partitions, all records in the first, which come just after the start.
  w.addSplit("in:0");
  w.addSplit("in:1");
  now = 50;
  for (const ts of [1_000, 2_000, 7_000]) w.onRecord("in:0", ts, undefined);
  for (now = 200; now <= 400; now += 200) w.tick();
  assert.equal(w.watermark, -Infinity, "in:1 holds it until it goes idle");
  now = 600; // in:1 silent since its start, in:0 since the tick at 200: both time out now
  w.tick();
  assert.equal(w.watermark, 6_999, "in:1 went silent first: in:0's watermark got out");
  assert.equal(w.idle, true);
  // Silent since different moments: nothing is let out that the later one still holds.
  now = 0;
  const v = new SplitWatermarks(
    WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n)
      .withIdleness(500),
    () => now,
  );
  v.onRecord("a", 100, undefined);
  now = 50;
  v.onRecord("b", 50, undefined);
  now = 200;
  v.tick();
  assert.equal(v.watermark, 49);
  now = 600;
  v.tick();
  assert.equal(v.watermark, 49, "a timed out first, then b: b's watermark stays the reader's");
  assert.equal(v.idle, true);
});

Deno.test("SplitWatermarks: periodic generators emit only when the interval is due on the clock", () => {
  let now = 0;
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<number>(10)
    .withTimestampAssigner((n) => n).withWatermarkInterval(200);
  const w = new SplitWatermarks(strategy, () => now);
  w.onRecord("a", 1000, undefined);
  w.tick();
  assert.equal(w.watermark, -Infinity);
  now = 199;
  w.tick();
  assert.equal(w.watermark, -Infinity);
  now = 200;
  w.tick();
  assert.equal(w.watermark, 989);
});

Deno.test("SplitWatermarks: an interval of 0 turns periodic emission off (as Flink); punctuated watermarks still flow", () => {
  let now = 0, periodic = 0;
  const strategy = WatermarkStrategy.forGenerator<number>(() => ({
    onEvent: (n, ts, out) => n % 10 === 0 && out.emitWatermark(ts),
    onPeriodicEmit: (out) => {
      periodic++;
      out.emitWatermark(1_000_000);
    },
  })).withTimestampAssigner((n) => n).withWatermarkInterval(0);
  const w = new SplitWatermarks(strategy, () => now);
  w.addSplit("a");
  w.onRecord("a", 5, undefined);
  now = 60_000;
  w.tick();
  assert.equal(w.watermark, -Infinity);
  w.onRecord("a", 10, undefined);
  w.tick();
  assert.equal(w.watermark, 10);
  assert.equal(periodic, 0, "onPeriodicEmit is never called");
});

Deno.test("WatermarkAlignmentGroup: the highest allowed watermark is the lowest member's plus the drift; idle and gone members do not count", () => {
  const g = new WatermarkAlignmentGroup();
  assert.equal(g.maxAllowedWatermark(100), Infinity);
  g.report("a/0", 1_000);
  g.report("b/0", 400);
  assert.equal(g.maxAllowedWatermark(100), 500);
  assert.equal(g.maxAllowedWatermark(0), 400, "each source has its own drift");
  g.report("b/0", Infinity);
  assert.equal(g.maxAllowedWatermark(100), 1_100);
  g.report("b/0", 700);
  g.leave("a/0");
  assert.equal(g.maxAllowedWatermark(100), 800);
});

Deno.test("WatermarkAlignmentGroups: one group over the readers of every source naming it; each report is answered with the reporter's limit", () => {
  const groups = new WatermarkAlignmentGroups();
  const report = (uid: string, subtask: number, watermark: number, group = "g", maxDriftMs = 100) =>
    groups.receive({ type: "reportedWatermark", uid, subtask, group, maxDriftMs, watermark })
      .maxAllowedWatermark;
  assert.equal(report("clicks", 0, 5_000), 5_100);
  assert.equal(report("clicks", 1, 3_000), 3_100, "subtasks of one source are members");
  assert.equal(report("views", 0, 1_000, "g", 50), 1_050, "another source, its own drift");
  assert.equal(report("clicks", 0, 5_000), 1_100);
  assert.equal(report("other", 0, 0, "h"), 100, "groups do not mix");
  assert.equal(report("views", 0, Infinity), 3_100, "an idle or finished reader leaves");
  assert.equal(report("clicks", 1, Infinity), 5_100);
  assert.equal(report("clicks", 0, Infinity), Infinity, "nobody holds the group");
  const answer = groups.receive({
    type: "reportedWatermark",
    uid: "views",
    subtask: 3,
    group: "g",
    maxDriftMs: 10,
    watermark: 42,
  });
  assert.deepEqual(answer, {
    type: "watermarkAlignment",
    uid: "views",
    subtask: 3,
    maxAllowedWatermark: 52,
  });
});

Deno.test("splitsToPauseOrResume: splits above the limit pause, paused ones at or below it resume, none twice", () => {
  const splits = new Map([["a", 100], ["b", 250], ["c", 200], ["d", -Infinity], ["e", 300]]);
  assert.deepEqual(splitsToPauseOrResume(splits, new Set(["e"]), 200), {
    pause: ["b"],
    resume: [],
  });
  assert.deepEqual(splitsToPauseOrResume(splits, new Set(["b", "e"]), 250), {
    pause: [],
    resume: ["b"],
  });
  assert.deepEqual(splitsToPauseOrResume(splits, new Set(), -Infinity), {
    pause: ["a", "b", "c", "e"],
    resume: [],
  });
  assert.deepEqual(splitsToPauseOrResume(splits, new Set(["a", "e"]), Infinity), {
    pause: [],
    resume: ["a", "e"],
  });
});

Deno.test("SplitWatermarks: a split paused by alignment does not go idle while paused (its idleness clock stands still)", () => {
  let now = 0;
  // An interval of 1 ms: each tick below is a periodic call, which checks idleness.
  const w = new SplitWatermarks(
    perRecord().withWatermarkInterval(1).withIdleness(1_000),
    () => now,
  );
  w.onRecord("slow", 10, undefined);
  w.onRecord("fast", 500, undefined);
  w.setSplitPaused("fast", true);
  now = 600;
  w.onRecord("slow", 20, undefined);
  now = 5_000;
  w.onRecord("slow", 30, undefined);
  w.tick();
  assert.deepEqual([...w.activeSplits()], [["slow", 29], ["fast", 499]], "fast waits, not idle");
  assert.equal(w.watermark, 29);
  w.setSplitPaused("fast", false);
  now = 5_999;
  w.onRecord("slow", 40, undefined);
  w.tick();
  assert.equal(w.activeSplits().has("fast"), true, "999 ms of activity time since its record");
  now = 6_000;
  w.onRecord("slow", 50, undefined);
  w.tick();
  assert.equal(w.activeSplits().has("fast"), false, "1000 ms running without a record: idle");
  // A whole reader paused stops every split's clock.
  w.setReaderPaused(true);
  now = 20_000;
  w.tick();
  assert.equal(w.activeSplits().has("slow"), true);
  w.setReaderPaused(false);
  now = 21_000;
  w.tick();
  assert.equal(w.idle, true);
});

Deno.test("withWatermarkAlignment checks its arguments", () => {
  const s = WatermarkStrategy.forMonotonousTimestamps<number>();
  assert.throws(() => s.withWatermarkAlignment("", 10), ConfigError);
  assert.throws(() => s.withWatermarkAlignment("g", -1), /max drift/);
  assert.throws(() => s.withWatermarkAlignment("g", 10, 0), /update interval/);
});

/** Counts up from `from` by `step`, one record per poll (a split "s"), forever; it cannot pause splits. */
function counter(name: string, from: number, step: number): Source<number> {
  return {
    name,
    createReader(): SourceReader<number> {
      let next = from;
      return {
        poll(out) {
          (out.forSplit?.("s") ?? out).collect(next);
          next += step;
          return "more";
        },
        position: () => next,
        restore(p) {
          next = p as number;
        },
      };
    },
  };
}

/**
 * A reader of named splits, each a list of event times, emitting records
 * `split:time`: each poll emits the next record of every split not paused
 * (checked before each record: a record may pause its split). A split is
 * released at its last record, unless it is `live` (then it just has nothing).
 * `log` gets its pause and resume calls.
 */
function splitsSource(
  splits: Record<string, number[]>,
  opts: { live?: string[]; log?: string[] } = {},
): Source<string> {
  return {
    name: "splits",
    createReader(): SourceReader<string> {
      const left = new Map(Object.entries(splits).map(([id, times]) => [id, [...times]]));
      const paused = new Set<string>();
      return {
        poll(out) {
          let emitted = 0;
          for (const [id, times] of left) {
            const split = out.forSplit!(id);
            if (paused.has(id) || times.length === 0) continue;
            split.collect(`${id}:${times.shift()}`);
            emitted++;
            if (times.length === 0 && !opts.live?.includes(id)) {
              left.delete(id);
              out.releaseSplit!(id);
            }
          }
          if (left.size === 0) return "end";
          return emitted > 0 ? "more" : "idle";
        },
        pauseOrResumeSplits(pause, resume) {
          for (const id of pause) paused.add(id);
          for (const id of resume) paused.delete(id);
          opts.log?.push(
            ...pause.map((id) => `pause ${id}`),
            ...resume.map((id) => `resume ${id}`),
          );
        },
        position: () => null,
        restore() {},
      };
    },
  };
}

/** `split:time` records: the time is the timestamp; a watermark after every record. */
const splitRecords = () =>
  WatermarkStrategy.forMonotonousTimestamps<string>()
    .withTimestampAssigner((s) => Number(s.split(":")[1]))
    .withPerRecordWatermarks();

/**
 * Readers of `fromSource` sources as a job runs them, on a manual clock:
 * their reports go to one {@linkcode WatermarkAlignmentGroups} and the
 * answers reach them between polls (as the task's mail does).
 */
class AlignedReaders {
  now = 0;
  readonly #groups = new WatermarkAlignmentGroups();
  readonly #answers: (() => void)[] = [];

  /** The reader of subtask `subtask` of `source` (uid `uid`) read with `strategy`. */
  reader<T>(
    uid: string,
    source: Source<T>,
    strategy: WatermarkStrategy<T>,
    watermarks: ReaderWatermarks<T> = new Map(),
    subtask = 0,
  ): SourceReader<T> & AlignedReader {
    const reader = new WatermarkedSource(source, strategy, watermarks).createReader({
      subtaskIndex: subtask,
      parallelism: 1,
      now: () => this.now,
      reportWatermark: (group, maxDriftMs, watermark) => {
        const answer = this.#groups.receive({
          type: "reportedWatermark",
          uid,
          subtask,
          group,
          maxDriftMs,
          watermark,
        });
        this.#answers.push(() => reader.alignWatermarks(answer.maxAllowedWatermark));
      },
    });
    return reader;
  }

  /** Hands the answers over. */
  deliver(): void {
    for (const answer of this.#answers.splice(0)) answer();
  }
}

Deno.test("Watermark alignment: a split ahead of the slowest split of its reader by more than the drift is paused alone, and resumed as the slow one advances", () => {
  const h = new AlignedReaders();
  const log: string[] = [];
  const slow = Array.from({ length: 31 }, (_, i) => i * 10); // 0 .. 300
  const fast = Array.from({ length: 31 }, (_, i) => i * 100); // 0 .. 3000
  const watermarks: ReaderWatermarks<string> = new Map();
  const reader = h.reader(
    "src",
    splitsSource({ slow, fast }, { log }),
    splitRecords().withWatermarkAlignment("g", 50, 10),
    watermarks,
  );
  const got: string[] = [];
  let status: PollStatus = "more";
  for (let i = 0; i < 200 && status !== "end"; i++) {
    h.now += 10; // a report is due at every poll
    status = reader.poll({ collect: (v) => void got.push(v) }, 100) as PollStatus;
    watermarks.get(0)!.tick();
    h.deliver();
  }
  assert.equal(status, "end");
  const times = (split: string) =>
    got.filter((r) => r.startsWith(`${split}:`)).map((r) => Number(r.split(":")[1]));
  assert.deepEqual(times("slow"), slow, "the slow split is never held back");
  assert.deepEqual(times("fast"), fast, "the fast split is read to its end, nothing lost");
  assert.ok(log.includes("pause fast") && log.includes("resume fast"), log.join());
  assert.ok(!log.includes("pause slow"), log.join());
  // Once the first answer arrived (after the second poll), a fast record is read only while
  // the fast split's watermark (its previous record) is within 50 of the slow split's.
  let slowLatest = -Infinity;
  let fastPrevious = -Infinity;
  for (const [i, r] of got.entries()) {
    const [split, t] = [r.split(":")[0], Number(r.split(":")[1])];
    if (split === "slow") slowLatest = t;
    else {
      if (i >= 4 && slowLatest < 300) {
        assert.ok(fastPrevious <= slowLatest + 50, `${r} read with slow at ${slowLatest}`);
      }
      fastPrevious = t;
    }
  }
  // The interleaving: until slow read its last record (300), fast read no further than 400.
  const untilSlowDone = got.slice(0, got.indexOf("slow:300"));
  const fastTimes = untilSlowDone.filter((r) => r.startsWith("fast:"));
  assert.ok(fastTimes.every((r) => Number(r.split(":")[1]) <= 400), untilSlowDone.join());
});

Deno.test("Watermark alignment: an idle split does not hold its paused sibling back", () => {
  const h = new AlignedReaders();
  const log: string[] = [];
  const fast = Array.from({ length: 31 }, (_, i) => i * 100);
  const watermarks: ReaderWatermarks<string> = new Map();
  const reader = h.reader(
    "src",
    splitsSource({ slow: [0, 10, 20], fast }, { live: ["slow"], log }),
    splitRecords().withIdleness(100).withWatermarkAlignment("g", 50, 10),
    watermarks,
  );
  const got: string[] = [];
  const readAt: number[] = [];
  for (let i = 0; i < 200 && got.at(-1) !== "fast:3000"; i++) {
    h.now += 10;
    reader.poll({ collect: (v) => void (got.push(v), readAt.push(h.now)) }, 100);
    watermarks.get(0)!.tick();
    h.deliver();
  }
  assert.ok(log.includes("pause fast"), log.join());
  assert.equal(got.at(-1), "fast:3000", "fast read on once slow was idle");
  assert.deepEqual(got.filter((r) => r.startsWith("slow")), ["slow:0", "slow:10", "slow:20"]);
  // Until slow went idle (100 ms of clock after its last record), fast was held within
  // the drift of it: its watermark (199 after fast:200) stopped it.
  const slowIdleAt = readAt[got.indexOf("slow:20")]! + 100;
  const before = got.filter((_, i) => readAt[i]! < slowIdleAt);
  assert.deepEqual(before, ["slow:0", "fast:0", "slow:10", "fast:100", "slow:20"]);
});

Deno.test("Watermark alignment: a finished split no longer holds its paused sibling back", () => {
  const h = new AlignedReaders();
  const watermarks: ReaderWatermarks<string> = new Map();
  const reader = h.reader(
    "src",
    splitsSource({ slow: [0, 10], fast: [0, 1_000, 2_000, 3_000] }),
    splitRecords().withWatermarkAlignment("g", 50, 10),
    watermarks,
  );
  const got: string[] = [];
  let status: PollStatus = "more";
  for (let i = 0; i < 50 && status !== "end"; i++) {
    h.now += 10;
    status = reader.poll({ collect: (v) => void got.push(v) }, 100) as PollStatus;
    watermarks.get(0)!.tick();
    h.deliver();
  }
  assert.equal(status, "end");
  assert.deepEqual(got.slice(0, 4), ["slow:0", "fast:0", "slow:10", "fast:1000"]);
  assert.deepEqual(got.slice(4), ["fast:2000", "fast:3000"]);
});

Deno.test("Watermark alignment: a reader that cannot pause single splits is paused as a whole; two sources of one group (manual clock)", () => {
  const h = new AlignedReaders();
  const strategy = perRecord().withWatermarkAlignment("g", 100, 10);
  const fast = h.reader("fast", counter("fast", 0, 50), strategy);
  const slow = h.reader("slow", counter("slow", 0, 10), strategy);
  const got = { fast: [] as number[], slow: [] as number[] };
  const poll = (r: SourceReader<number>, into: number[]) =>
    r.poll({ collect: (v) => void into.push(v) }, 1) as PollStatus;
  // Neither has a watermark at its first poll: no report, no limit.
  poll(fast, got.fast);
  poll(slow, got.slow);
  h.deliver();
  // Within one update interval no report is due: fast reads on.
  for (let i = 0; i < 5; i++) assert.equal(poll(fast, got.fast), "more");
  assert.deepEqual(got.fast, [0, 50, 100, 150, 200, 250]);
  h.now = 10; // reports are due: fast is at 249, slow at -1; fast's limit is 99
  poll(slow, got.slow);
  poll(fast, got.fast);
  h.deliver();
  assert.equal(poll(fast, got.fast), "idle", "fast is paused");
  assert.equal(got.fast.length, 7);
  // Every interval both report; fast reads only while it is within the drift of slow's report.
  let resumed = 0;
  for (let step = 0; step < 40; step++) {
    h.now += 10;
    const slowReport = got.slow.at(-1)! - 1;
    for (let i = 0; i < 5; i++) poll(slow, got.slow);
    h.deliver();
    const fastWatermark = got.fast.at(-1)! - 1;
    const before = got.fast.length;
    poll(fast, got.fast);
    h.deliver();
    if (got.fast.length > before) {
      resumed++;
      assert.ok(
        fastWatermark - slowReport <= 100,
        `fast at ${fastWatermark}, slow at ${slowReport}`,
      );
    }
  }
  assert.ok(resumed > 0, "fast reads again once slow caught up");
  assert.ok(got.fast.at(-1)! - got.slow.at(-1)! <= 100 + 50, "fast never ran far ahead");
});

/** A source of one subtask reading splits "a" and "b" in turns, one record a poll. */
function twoSplits(records: [string, number][]): Source<number> {
  return {
    name: "two-splits",
    maxParallelism: 1,
    createReader() {
      let next = 0;
      return {
        poll(out) {
          if (next === 0) ["a", "b"].forEach((s) => out.forSplit?.(s));
          const r = records[next++];
          if (!r) return "end";
          (out.forSplit?.(r[0]) ?? out).collect(r[1]);
          return "more";
        },
        position: () => next,
        restore(p) {
          next = p as number;
        },
      };
    },
  };
}

Deno.test("env.fromSource: records are stamped and the watermark downstream follows the slowest split", async () => {
  const source = twoSplits([["a", 1000], ["b", 10], ["a", 2000], ["b", 20], ["a", 3000]]);
  const env = StreamEnvironment.create();
  const seen = new CollectSink<string>();
  env.fromSource(source, perRecord(), "two splits")
    .process<string>({
      processElement: (n, ctx, out) =>
        out.collect(`${n}@${ctx.timestamp()}/${ctx.currentWatermark()}`),
    })
    .addSink(seen);
  await env.execute();
  // Each record sees the watermark emitted after the polls before it: split b holds it back.
  assert.deepEqual(seen.values, [
    "1000@1000/-Infinity",
    "10@10/-Infinity",
    "2000@2000/9",
    "20@20/9",
    "3000@3000/19",
  ]);
});

/** Each chain of the job's plan as [name, parallelism] of its operators. */
function chainsOf(env: StreamEnvironment): [string, number][][] {
  const plan = env.getExecutionPlan();
  return plan.chains.map((c) =>
    c.vertices.map((id) => {
      const v = plan.vertices.find((v) => v.id === id)!;
      return [v.name, v.parallelism];
    })
  );
}

Deno.test("env.fromSource: the watermarks run with their source at its parallelism, whatever the job's (a source of at most one subtask at parallelism 2)", async () => {
  const source = twoSplits([["a", 1000], ["b", 10], ["a", 2000], ["b", 20]]);
  const env = StreamEnvironment.create({ parallelism: 2 });
  const seen = new CollectSink<string>();
  env.fromSource(source, perRecord(), "two splits")
    .process<string>({
      processElement: (n, ctx, out) => out.collect(`${n}/${ctx.currentWatermark()}`),
    })
    .addSink(seen);
  assert.deepEqual(chainsOf(env), [[["Source: two splits", 1], ["two splits: Watermarks", 1]], [
    ["Process", 2],
    ["Sink", 2],
  ]]);
  await env.execute();
  // The process subtasks take the records in turns; each sees the watermark the reader emitted.
  assert.deepEqual(seen.values.toSorted(), ["10/-Infinity", "1000/-Infinity", "20/9", "2000/9"]);

  // Setting the parallelism of what fromSource returns sets the source's.
  const again = StreamEnvironment.create({ parallelism: 1 });
  const many: Source<number> = { ...source, maxParallelism: 4 };
  again.fromSource(many, perRecord(), "many").setParallelism(3).addSink(new CollectSink());
  assert.deepEqual(chainsOf(again), [[["Source: many", 3], ["many: Watermarks", 3]], [[
    "Sink",
    1,
  ]]]);
});

Deno.test("env.fromSource: a split idle for the timeout on the job's clock lets event time advance downstream (windows fire)", async () => {
  const clock = new ManualClock(0);
  const queue: [string, number][] = [];
  let closed = false;
  // A live source of two splits, fed by the test.
  const source: Source<number> = {
    name: "live-splits",
    maxParallelism: 1,
    createReader() {
      return {
        poll(out) {
          if (queue.length === 0) return closed ? "end" : "idle";
          for (const [split, n] of queue.splice(0)) out.forSplit!(split).collect(n);
          return "more";
        },
        position: () => 0,
        restore() {},
      };
    },
  };
  const env = StreamEnvironment.create({ clock });
  const windows = new CollectSink<number>();
  env.fromSource(source, perRecord().withIdleness(1_000), "live")
    .keyBy(() => "all")
    .window(TumblingEventTimeWindows.of<number>(100))
    .reduce((a, b) => a + b)
    .addSink(windows);
  const client = env.executeAsync("idle split");
  queue.push(["a", 50], ["b", 60]);
  await until(() => queue.length === 0 && windows.values.length === 0);
  queue.push(["a", 150], ["a", 250]);
  await until(() => queue.length === 0);
  // Split b holds event time at 59: no window may fire however long we wait in real time.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(windows.values, []);
  clock.advance(1_000); // b has been silent for the idleness timeout; a has a record now
  queue.push(["a", 260]);
  await until(() => windows.values.length === 2);
  assert.deepEqual(windows.values, [110, 150]); // [0, 100) and [100, 200)
  closed = true;
  await client.done;
  assert.deepEqual(windows.values, [110, 150, 510]);
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 3_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), "timed out");
}
