import assert from "node:assert/strict";
import { type GeneratorOptions, GeneratorSource } from "./generator_source.ts";
import type { PollStatus, SourceReader, SplitReader } from "./source.ts";
import { ConfigError } from "../errors.ts";
import { ManualClock } from "../runtime/clock.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { CollectSink } from "./collect_sink.ts";

type Rec = { seq: number; r: number[] };
const opts = (extra: Partial<GeneratorOptions<Rec>> = {}): GeneratorOptions<Rec> => ({
  count: 50,
  seed: 42,
  generate: (seq, random) => ({ seq, r: [random(), random(), random()] }),
  ...extra,
});

function readers<T>(src: GeneratorSource<T>, p: number, now = () => 0): SplitReader<T>[] {
  return Array.from(
    { length: p },
    (_, i) => src.createReader({ subtaskIndex: i, parallelism: p, now }),
  );
}

function drain<T>(reader: SourceReader<T>, max = 7): T[] {
  const out: T[] = [];
  let status: PollStatus;
  do {
    status = reader.poll({ collect: (v) => out.push(v) }, max) as PollStatus;
  } while (status === "more");
  assert.equal(status, "end");
  return out;
}

const key = (r: Rec) => JSON.stringify(r);

Deno.test("GeneratorSource yields the same records at parallelism 1, 2 and 3", () => {
  const base = drain(readers(new GeneratorSource(opts()), 1)[0]!);
  assert.deepEqual(base.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i));
  for (const p of [2, 3]) {
    const parts = readers(new GeneratorSource(opts()), p).map((r) => drain(r));
    parts.forEach((part, i) => assert.ok(part.every((r) => r.seq % p === i)));
    assert.deepEqual(parts.flat().map(key).sort(), base.map(key).sort());
  }
});

Deno.test("GeneratorSource randomness is seeded: reproducible, varies by seq and seed", () => {
  const a = drain(readers(new GeneratorSource(opts()), 1)[0]!);
  const b = drain(readers(new GeneratorSource(opts()), 1)[0]!);
  assert.deepEqual(a, b);
  const other = drain(readers(new GeneratorSource(opts({ seed: 43 })), 1)[0]!);
  assert.notDeepEqual(a.map((r) => r.r), other.map((r) => r.r));
  const all = a.flatMap((r) => r.r);
  assert.equal(new Set(all).size, all.length, "no repeated floats across records");
  assert.ok(all.every((x) => x >= 0 && x < 1));
  const mean = all.reduce((s, x) => s + x, 0) / all.length;
  assert.ok(mean > 0.35 && mean < 0.65, `mean ${mean}`);
});

Deno.test("GeneratorSource respects count, count 0, and max per poll", () => {
  assert.deepEqual(drain(readers(new GeneratorSource(opts({ count: 0 })), 1)[0]!), []);
  const [r0, r1, r2] = readers(new GeneratorSource(opts({ count: 2 })), 3);
  assert.deepEqual(drain(r0!).map((r) => r.seq), [0]);
  assert.deepEqual(drain(r1!).map((r) => r.seq), [1]);
  assert.deepEqual(drain(r2!), []);
  const reader = readers(new GeneratorSource(opts()), 1)[0]!;
  const out: Rec[] = [];
  assert.equal(reader.poll({ collect: (v) => out.push(v) }, 10), "more");
  assert.equal(out.length, 10);
  assert.equal(reader.position(), 10);
});

Deno.test("GeneratorSource without count is unbounded", () => {
  const src = new GeneratorSource({ generate: (seq) => seq });
  const reader = readers(src, 2)[1]!;
  const out: number[] = [];
  for (let i = 0; i < 5; i++) {
    assert.equal(reader.poll({ collect: (v) => out.push(v) }, 1000), "more");
  }
  assert.equal(out.length, 5000);
  assert.equal(out.at(-1), 9999);
});

Deno.test("GeneratorSource rate limit follows the job clock over all subtasks", () => {
  const clock = new ManualClock(1_000);
  const src = new GeneratorSource({ ratePerSecond: 100, generate: (seq) => seq });
  const rs = readers(src, 2, () => clock.now());
  const out: number[] = [];
  const pollAll = () => rs.map((r) => r.poll({ collect: (v) => out.push(v) }, 1000));
  assert.deepEqual(pollAll(), ["idle", "idle"]);
  assert.equal(out.length, 0);
  clock.advance(1_000);
  pollAll();
  assert.deepEqual(pollAll(), ["idle", "idle"], "nothing more within the same second");
  assert.equal(out.length, 100);
  clock.advance(250);
  pollAll();
  assert.equal(out.length, 124, "12 more per subtask: 50/s for 250 ms, floored");
  clock.advance(750);
  pollAll();
  assert.equal(out.length, 200);
  assert.deepEqual([...out].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i));
});

Deno.test("GeneratorSource rate limit does not burst after a stall", () => {
  const clock = new ManualClock(0);
  const src = new GeneratorSource({ ratePerSecond: 10, count: 25, generate: (seq) => seq });
  const [r] = readers(src, 1, () => clock.now());
  const out: number[] = [];
  const poll = () => r!.poll({ collect: (v) => out.push(v) }, 100);
  assert.equal(poll(), "idle");
  clock.advance(500);
  assert.equal(poll(), "more");
  assert.equal(out.length, 5);
  clock.advance(60_000);
  assert.equal(poll(), "more");
  assert.equal(out.length, 15, "at most one second's worth after a long pause");
  clock.advance(100);
  assert.equal(poll(), "more");
  assert.equal(out.length, 16);
  clock.advance(10_000);
  assert.equal(poll(), "end");
  assert.deepEqual(out, Array.from({ length: 25 }, (_, i) => i));
});

Deno.test("GeneratorSource restores its splits and continues the exact sequence", () => {
  for (const p of [1, 3]) {
    const full = readers(new GeneratorSource(opts()), p).map((r) => drain(r));
    const [first] = readers(new GeneratorSource(opts()), p);
    const head: Rec[] = [];
    first!.poll({ collect: (v) => head.push(v) }, 4);
    assert.equal(first!.position(), 4 * p);
    const splits = JSON.parse(JSON.stringify(first!.snapshotSplits(1)));
    const [resumed] = readers(new GeneratorSource(opts()), p);
    resumed!.restoreSplits(splits);
    assert.deepEqual([...head, ...drain(resumed!)], full[0]);
  }
  const [r] = readers(new GeneratorSource(opts()), 2);
  assert.throws(() => r!.restoreSplits([{ stride: 0, next: 3 }]), ConfigError);
  assert.throws(() => r!.restoreSplits(["x"]), /not a sequence split/);
});

Deno.test("GeneratorSource rescales from its splits 3 → 1 → 2: every record once, each subtask in sequence order", () => {
  const src = new GeneratorSource(opts({ count: 100 }));
  const got: number[] = [];
  let state: unknown[] = [];
  for (const r of readers(src, 3)) {
    r.poll({ collect: (v) => got.push(v.seq) }, 7);
    state.push(...r.snapshotSplits(1));
  }
  const [one] = readers(src, 1);
  one!.restoreSplits(state);
  const middle: number[] = [];
  one!.poll({ collect: (v) => middle.push(v.seq) }, 20);
  assert.deepEqual(
    middle,
    middle.toSorted((a, b) => a - b),
    "one subtask merges its splits in order",
  );
  got.push(...middle);
  state = one!.snapshotSplits(2);
  for (const r of readers(src, 2)) {
    r.restoreSplits(state);
    const rest = drain(r).map((v) => v.seq);
    assert.deepEqual(rest, rest.toSorted((a, b) => a - b));
    got.push(...rest);
  }
  assert.deepEqual(got.toSorted((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("GeneratorSource rejects bad options", () => {
  assert.throws(() => new GeneratorSource(opts({ count: -1 })), ConfigError);
  assert.throws(() => new GeneratorSource(opts({ count: 1.5 })), ConfigError);
  assert.throws(() => new GeneratorSource(opts({ ratePerSecond: 0 })), /ratePerSecond/);
  assert.throws(() => new GeneratorSource(opts({ seed: 0.5 })), ConfigError);
});

Deno.test("StreamEnvironment.generate runs a parallel job end to end", async () => {
  const env = StreamEnvironment.create({ parallelism: 3 });
  const out = new CollectSink<number>();
  env.generate({ count: 1000, seed: 1, generate: (seq, random) => seq + random() })
    .map((x) => Math.floor(x))
    .addSink(out);
  await env.execute("generate");
  assert.deepEqual(out.values.sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
});
