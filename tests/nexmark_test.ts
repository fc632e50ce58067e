/**
 * Nexmark correctness: every query's output for 100k generated events, on
 * both state backends and with parallelism 1 and 2 (and 2 on the worker
 * executor, heap backend), equals a direct reference
 * computation over the same events (tests/_helpers/nexmark_reference.ts).
 * All queries run in one job per configuration (one source feeding every
 * query, each writing through its own exactly-once file sink, with periodic
 * checkpoints); the events are the run's own dump. For updating queries the
 * latest row per key is compared; for q12 (processing-time windows) the
 * count per bidder. q17 runs once more over midnight (an auction's bids on
 * two days). The example's command line is checked too.
 */
import assert from "node:assert/strict";
import {
  deserialize,
  ExactlyOnceFileSink,
  HeapStateBackend,
  LsmStateBackend,
  SerializationError,
  serialize,
  type Serializer,
  StreamEnvironment,
} from "../mod.ts";
import { NexmarkGenerator, NexmarkStreams } from "../bench/nexmark/generator.ts";
import type { Bid, NexmarkEvent } from "../bench/nexmark/model.ts";
import {
  AUCTION_SERIALIZER,
  BID_SERIALIZER,
  PERSON_SERIALIZER,
} from "../bench/nexmark/serializers.ts";
import { QUERIES } from "../bench/nexmark/queries/mod.ts";
import type { NexmarkQuery, Row } from "../bench/nexmark/query.ts";
import { JsonLinesFileSink } from "../bench/nexmark/sinks.ts";
import { main } from "../examples/nexmark.ts";
import { nexmarkReference } from "./_helpers/nexmark_reference.ts";
import { EVENTS, runAllQueries } from "./_helpers/nexmark_all_queries.ts";

/** Committed rows of `dir`, each subtask's files in commit order. */
async function committedRows(dir: string): Promise<Row[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.startsWith("part-")) names.push(e.name);
  const order = (n: string) => n.split("-").map((p, i) => (i === 1 || i === 3 ? Number(p) : p));
  names.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    for (let i = 0; i < x.length; i++) {
      if (x[i]! < y[i]!) return -1;
      if (x[i]! > y[i]!) return 1;
    }
    return 0;
  });
  const rows: Row[] = [];
  for (const n of names) {
    for (const line of (await Deno.readTextFile(`${dir}/${n}`)).split("\n")) {
      if (line !== "") rows.push(JSON.parse(line));
    }
  }
  return rows;
}

function canonical(rows: Row[]): string[] {
  return rows.map((r) => JSON.stringify(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1))))
    .sort();
}

/** What a query's output means: all rows, the latest per key, or (q12) the count per bidder. */
function result(q: NexmarkQuery, rows: Row[]): Row[] {
  if (q.name === "q12") {
    const counts = new Map<number, number>();
    for (const r of rows) {
      assert.equal((r.endtime as number) - (r.starttime as number), 10_000);
      assert.equal((r.starttime as number) % 10_000, 0);
      counts.set(
        r.bidder as number,
        (counts.get(r.bidder as number) ?? 0) + (r.bid_count as number),
      );
    }
    return [...counts].map(([bidder, bid_count]) => ({ bidder, bid_count }));
  }
  if (!q.key) return rows;
  const last = new Map<string, Row>();
  for (const r of rows) last.set(q.key(r), r);
  return [...last.values()];
}

async function readEvents(path: string): Promise<NexmarkEvent[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as NexmarkEvent);
}

/** Runs every query into `dir` with `run`, then checks each one's output against the reference. */
async function checkAll(
  label: string,
  run: (dir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "nexmark-test-" });
  try {
    await run(dir);
    const events = await readEvents(`${dir}/events.jsonl`);
    assert.equal(events.length, EVENTS);
    const want = nexmarkReference(events);
    for (const q of QUERIES.values()) {
      const got = result(q, await committedRows(`${dir}/${q.name}`));
      const expected = want.get(q.name)!;
      assert.ok(expected.length > 0, `${q.name}: the reference has rows`);
      const [g, w] = [canonical(got), canonical(expected)];
      if (g.length !== w.length || g.some((x, i) => x !== w[i])) {
        const missing = w.filter((x) => !g.includes(x)).slice(0, 3);
        const extra = g.filter((x) => !w.includes(x)).slice(0, 3);
        assert.fail(
          `${q.name} (${label}): ${g.length} rows, ` +
            `want ${w.length}\nmissing ${missing.join("\n")}\nextra ${extra.join("\n")}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const [name, backend] of [["heap", () => new HeapStateBackend()], [
    "lsm",
    () => new LsmStateBackend(),
  ]] as const
) {
  for (const parallelism of [1, 2]) {
    Deno.test(`nexmark (${name}, parallelism ${parallelism}): every query equals the reference`, async () => {
      await checkAll(
        `${name}, parallelism ${parallelism}`,
        (dir) => runAllQueries(dir, backend(), parallelism, parallelism * 7 + name.length),
      );
    });
  }
}

Deno.test("nexmark (heap, parallelism 2, worker executor): every query equals the reference", async () => {
  // Records cross workers in the queries' serializers (the projections' and serializers.ts's).
  await checkAll("heap, parallelism 2, workers", async (dir) => {
    const job = new URL("./_helpers/nexmark_all_queries.ts", import.meta.url).pathname;
    const args = ["--dir", dir, "--backend", "heap", "--parallelism", "2", "--seed", "5"];
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", job, ...args],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  });
});

Deno.test("nexmark generator: 1:3:46 proportions, ids, times and the dump's shape", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await main([
      "--query",
      "q2",
      "--events",
      "5000",
      "--tps",
      "1000",
      "--seed",
      "3",
      "--dump",
      `${dir}/events.jsonl`,
      "--output",
      `${dir}/out`,
      "--checkpoint-dir",
      `${dir}/chk`,
      "--parallelism",
      "2",
    ]);
    const events = (await readEvents(`${dir}/events.jsonl`)).sort(
      (a, b) =>
        (a.bid ?? a.auction ?? a.person)!.dateTime - (b.bid ?? b.auction ?? b.person)!.dateTime,
    );
    assert.equal(events.length, 5000);
    const kinds = [0, 0, 0];
    for (const e of events) {
      kinds[e.event_type]!++;
      assert.deepEqual(Object.keys(e), ["event_type", "person", "auction", "bid"]);
      const set = [e.person, e.auction, e.bid].map((x) => x !== null);
      assert.deepEqual(set, [0, 1, 2].map((t) => t === e.event_type));
    }
    assert.deepEqual(kinds, [100, 300, 4600]);
    assert.deepEqual(Object.keys(events.find((e) => e.person)!.person!), [
      "id",
      "name",
      "emailAddress",
      "creditCard",
      "city",
      "state",
      "dateTime",
      "extra",
    ]);
    assert.deepEqual(Object.keys(events.find((e) => e.auction)!.auction!), [
      "id",
      "itemName",
      "description",
      "initialBid",
      "reserve",
      "dateTime",
      "expires",
      "seller",
      "category",
      "extra",
    ]);
    assert.deepEqual(Object.keys(events.find((e) => e.bid)!.bid!), [
      "auction",
      "bidder",
      "price",
      "channel",
      "url",
      "dateTime",
      "extra",
    ]);
    // 1000 events per second of event time: 5000 events span 5 s.
    const times = events.map((e) => (e.bid ?? e.auction ?? e.person)!.dateTime);
    assert.equal(times[times.length - 1]! - times[0]!, 4999);
    // Persons and auctions are numbered from 1000 in order; bids mostly go to hot auctions and bidders.
    assert.deepEqual(events.filter((e) => e.person).map((e) => e.person!.id).slice(0, 3), [
      1000,
      1001,
      1002,
    ]);
    const bids = events.flatMap((e) => (e.bid ? [e.bid] : []));
    const hotAuction = bids.filter((b) => (b.auction - 1000) % 100 === 0).length / bids.length;
    assert.ok(hotAuction > 0.45 && hotAuction < 0.6, `hot auction share ${hotAuction}`);
    const maxLen = new NexmarkGenerator({ tps: 1000 }).maxAuctionLengthMs();
    for (const e of events) {
      if (e.auction) {
        assert.ok(
          e.auction.expires > e.auction.dateTime &&
            e.auction.expires - e.auction.dateTime <= maxLen,
        );
      }
    }
    // Strings as Nexmark's generator makes them: random letters with about 1 in 13 a space,
    // 3 to max - 1 long before trimming, each event its own; names, cards and channels in form.
    const persons = events.flatMap((e) => (e.person ? [e.person] : []));
    const auctions = events.flatMap((e) => (e.auction ? [e.auction] : []));
    for (const p of persons) {
      assert.match(p.name, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
      assert.match(p.emailAddress, /^[a-z ]{0,6}@[a-z ]{0,4}\.com$/);
      assert.match(p.creditCard, /^\d{4} \d{4} \d{4} \d{4}$/);
    }
    for (const a of auctions) {
      assert.match(a.itemName, /^([a-z]([a-z ]{0,17}[a-z])?)?$/);
      assert.match(a.description, /^([a-z]([a-z ]{0,97}[a-z])?)?$/);
    }
    const descriptions = auctions.map((a) => a.description);
    assert.equal(new Set(descriptions).size, descriptions.length);
    const text = descriptions.join("");
    const spaces = text.split(" ").length - 1;
    assert.ok(
      Math.abs(spaces / text.length - 1 / 13) < 0.01,
      `space share ${spaces / text.length}`,
    );
    const meanLength = descriptions.reduce((n, d) => n + d.length, 0) / descriptions.length;
    assert.ok(meanLength > 45 && meanLength < 56, `mean description length ${meanLength}`);
    const cards = new Set(persons.flatMap((p) => p.creditCard.split(" ")));
    assert.ok(cards.size > 0.9 * 4 * persons.length, `${cards.size} distinct card groups`);
    for (const b of bids) {
      assert.match(b.channel, /^(Google|Facebook|Baidu|Apple|channel-\d{1,4})$/);
      assert.match(b.url, /^https:\/\/www\.nexmark\.com\/\w+\/\w+\/\w+\/item\.htm\?query=1/);
    }
    // The output is q2's rows of these events.
    const got = canonical(await committedRows(`${dir}/out`));
    assert.deepEqual(got, canonical(nexmarkReference(events).get("q2")!));
    assert.ok(got.length > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nexmark q17: bids before and after midnight give a row per day", async () => {
  const q17 = QUERIES.get("q17")!;
  for (const backend of [new HeapStateBackend(), new LsmStateBackend()]) {
    const dir = await Deno.makeTempDir({ prefix: "nexmark-q17-" });
    try {
      const env = StreamEnvironment.create({ parallelism: 1, stateBackend: backend });
      const streams = new NexmarkStreams(env, {
        events: 20_000,
        // 10 s of events from 5 s before midnight.
        config: { tps: 2000, baseTime: Date.UTC(2026, 0, 1) - 5000 },
      });
      q17.build(streams).addSink(new ExactlyOnceFileSink<Row>({ dir: `${dir}/out` }), {
        uid: "sink",
      });
      streams.events.addSink(new JsonLinesFileSink(`${dir}/events.jsonl`), { uid: "dump" });
      await env.execute("nexmark q17 over midnight");
      const want = nexmarkReference(await readEvents(`${dir}/events.jsonl`)).get("q17")!;
      const days = new Map<number, Set<unknown>>();
      for (const r of want) {
        days.set(r.auction as number, (days.get(r.auction as number) ?? new Set()).add(r.day));
      }
      assert.ok([...days.values()].some((d) => d.size === 2), "an auction has bids on two days");
      const got = result(q17, await committedRows(`${dir}/out`));
      assert.deepEqual(canonical(got), canonical(want), backend.name);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("nexmark example: an unknown query or a bad count is a clear error", async () => {
  await assert.rejects(main(["--query", "q6", "--events", "10"]), /--query must be one of q0, q1/);
  await assert.rejects(
    main(["--query", "q1", "--events", "1.5"]),
    /--events must be an integer >= 0/,
  );
});

Deno.test("nexmark serializers: events decode equal to the generator's, fields in its order", () => {
  // The generator's order gives decoded events the generated ones' hidden class.
  const g = new NexmarkGenerator();
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const seen = [0, 0, 0];
  for (let n = 0; n < 2000; n++) {
    const e = g.event(n, random);
    const [v, s] = e.person
      ? [e.person, PERSON_SERIALIZER]
      : e.auction
      ? [e.auction, AUCTION_SERIALIZER]
      : [e.bid!, BID_SERIALIZER];
    seen[e.event_type]!++;
    const s1 = s as Serializer<unknown>;
    for (const got of [deserialize(s1, serialize(s1, v)), s1.copy!(v)]) {
      assert.deepStrictEqual(got, v);
      assert.deepEqual(Object.keys(got as object), Object.keys(v));
    }
  }
  assert.ok(seen.every((n) => n > 0));
  for (const bad of [null, 3, { ...g.event(3, random).bid, price: "1" }]) {
    assert.throws(() => serialize(BID_SERIALIZER, bad as unknown as Bid), SerializationError);
    assert.throws(() => BID_SERIALIZER.copy!(bad as unknown as Bid), SerializationError);
  }
});
