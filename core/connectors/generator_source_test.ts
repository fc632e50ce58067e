import assert from "node:assert/strict";
import { type GeneratorOptions, GeneratorSource } from "./generator_source.ts";
import type { PollStatus, SourceReader, SplitReader } from "./source.ts";
import type { EnumeratedSplitReader, SplitEnumeratorContext } from "./split_enumerator.ts";
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

/**
 * A run of `src` at parallelism `p` as a job runs it: its enumerator (restored from
 * `from`, a previous run's snapshot) answers the readers' requests at once.
 */
function run<T>(src: GeneratorSource<T>, p: number, from?: { state: unknown; splits: unknown[] }) {
  const events: string[] = [];
  const readers: EnumeratedSplitReader<T>[] = [];
  const ctx: SplitEnumeratorContext<unknown> = {
    parallelism: p,
    registeredReaders: () => [...readers.keys()],
    assignSplits: (subtask, splits) => {
      events.push(`${subtask}:${splits.length}`);
      readers[subtask]!.addSplits(splits);
    },
    signalNoMoreSplits: (subtask) => {
      events.push(`${subtask}:end`);
      readers[subtask]!.notifyNoMoreSplits();
    },
    callPeriodically: () => {},
    callAsync: () => {},
    now: () => 0,
  };
  const enumerator = src.createEnumerator(ctx, from?.state);
  if (from) enumerator.addSplitsBack(from.splits, -1);
  enumerator.start();
  for (let i = 0; i < p; i++) {
    readers.push(src.createReader({
      subtaskIndex: i,
      parallelism: p,
      now: () => 0,
      sendSplitRequest: () => enumerator.handleSplitRequest(i),
    }) as EnumeratedSplitReader<T>);
  }
  return {
    readers,
    events,
    /** Polls reader `i` once for up to `max` records. */
    poll(i: number, max: number): T[] {
      const out: T[] = [];
      readers[i]!.poll({ collect: (v) => out.push(v) }, max);
      return out;
    },
    /** Reads reader `i` to its end. */
    drain(i: number): T[] {
      const out: T[] = [];
      while (readers[i]!.poll({ collect: (v) => out.push(v) }, 7) !== "end");
      return out;
    },
    snapshot: () => ({
      state: JSON.parse(JSON.stringify(enumerator.snapshotState(1))),
      splits: JSON.parse(JSON.stringify(readers.flatMap((r) => r.snapshotSplits(1)))),
    }),
  };
}

const inOrder = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("GeneratorSource on its enumerator: at a first start subtask i of p reads i, i+p, …", () => {
  const r = run(new GeneratorSource(opts({ count: 30 })), 3);
  for (const i of [2, 0, 1]) r.poll(i, 0); // the order readers ask in does not matter
  for (const i of [0, 1, 2]) {
    const seqs = r.drain(i).map((v) => v.seq);
    assert.deepEqual(seqs, range(30).filter((s) => s % 3 === i));
  }
});

Deno.test("GeneratorSource rescales through its enumerator 3 → 1 → 2 → 4: every record once, each subtask in sequence order, equal shares", () => {
  const src = new GeneratorSource(opts({ count: 200 }));
  const got: number[] = [];
  const three = run(src, 3);
  for (const i of [0, 1, 2]) {
    three.poll(i, 0); // asks for its split
    got.push(...three.poll(i, 7).map((v) => v.seq));
  }
  const one = run(src, 1, three.snapshot());
  one.poll(0, 0); // asks: gets all three splits
  const middle = one.poll(0, 20).map((v) => v.seq);
  assert.ok(inOrder(middle), "one subtask merges its splits in order");
  got.push(...middle);
  const two = run(src, 2, one.snapshot());
  for (const i of [0, 1]) {
    two.poll(i, 0);
    const part = two.poll(i, 30).map((v) => v.seq);
    assert.ok(inOrder(part));
    got.push(...part);
  }
  // Restored at a higher parallelism than the first start's: the splits are cut so
  // that all four subtasks get work, the same share each.
  const four = run(src, 4, two.snapshot());
  for (const i of [0, 1, 2, 3]) four.poll(i, 0);
  const parts = [0, 1, 2, 3].map((i) => four.drain(i).map((v) => v.seq));
  for (const part of parts) assert.ok(inOrder(part));
  const sizes = parts.map((p) => p.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 8, `shares ${sizes}`);
  got.push(...parts.flat());
  assert.deepEqual(got.toSorted((a, b) => a - b), range(200));
});

Deno.test("GeneratorSource: a reader that has read its splits ends; it does not take over one whose reader has not asked", () => {
  const src = new GeneratorSource(opts({ count: 40 }));
  const r = run(src, 2);
  assert.deepEqual(r.drain(0).map((v) => v.seq), range(40).filter((s) => s % 2 === 0));
  assert.deepEqual(r.events, ["0:1", "0:end"], "reader 1 never asked: its split waits for it");
  assert.deepEqual(r.drain(1).map((v) => v.seq), range(40).filter((s) => s % 2 === 1));
  assert.deepEqual(r.events, ["0:1", "0:end", "1:1", "1:end"]);
});

Deno.test("GeneratorSource restored: a reader that ran ahead does not take over the split of one still starting", () => {
  // The records' sequence is their event time: a split taken over by the reader that ran
  // ahead would come after its watermark. Each split stays with its own reader.
  const src = new GeneratorSource(opts({ count: 60 }));
  const first = run(src, 2);
  for (const i of [0, 1]) {
    first.poll(i, 0); // asks for its split
    first.poll(i, 5);
  }
  const again = run(src, 2, first.snapshot());
  const ahead = again.drain(0).map((v) => v.seq);
  assert.deepEqual(ahead, range(60).filter((s) => s % 2 === 0 && s >= 10));
  const late = again.drain(1).map((v) => v.seq);
  assert.deepEqual(late, range(60).filter((s) => s % 2 === 1 && s >= 10));
  assert.deepEqual(again.events, ["0:1", "0:end", "1:1", "1:end"]);
});

Deno.test("GeneratorSource enumerator state: the splits not assigned yet; a restore of a finished run reads nothing", () => {
  const src = new GeneratorSource(opts({ count: 10 }));
  const r = run(src, 2);
  r.drain(1);
  assert.deepEqual(r.snapshot().state, [{ stride: 2, next: 0 }], "split 0 waits for reader 0");
  const rest = run(src, 3, r.snapshot());
  assert.deepEqual(
    [0, 1, 2].flatMap((i) => rest.drain(i)).map((v) => v.seq).sort((a, b) => a - b),
    [0, 2, 4, 6, 8],
  );
  r.drain(0);
  assert.deepEqual(r.snapshot().state, []);
  const again = run(src, 3, r.snapshot());
  assert.deepEqual([0, 1, 2].flatMap((i) => again.drain(i)), []);
  assert.throws(() => run(src, 1, { state: { x: 1 }, splits: [] }), ConfigError);
  assert.throws(
    () => run(src, 1, { state: [{ stride: 0, next: 1 }], splits: [] }),
    /sequence split/,
  );
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
