import assert from "node:assert/strict";
import { HeapStateBackend, LsmStateBackend, Serializers, type StateBackend } from "../../../mod.ts";
import { CoProcessFunctionHarness } from "../../../core/testing/mod.ts";
import type { Auction, Bid } from "../model.ts";
import {
  AUCTION_STATE,
  type AuctionBid,
  beats,
  BEST_STATE,
  EARLY_STATE,
  WinningBids,
} from "./_winning_bids.ts";

const BACKENDS: [string, () => StateBackend][] = [
  ["heap", () => new HeapStateBackend()],
  ["lsm", () => new LsmStateBackend()],
];

function auction(id: number, dateTime: number, expires: number): Auction {
  return {
    id,
    itemName: `item${id}`,
    description: "d",
    initialBid: 1,
    reserve: 2,
    dateTime,
    expires,
    seller: 7,
    category: 10,
    extra: "",
  };
}

function bid(auction: number, price: number, dateTime: number, extra: string): Bid {
  return { auction, bidder: 1, price, channel: "c", url: "u", dateTime, extra };
}

function harness(backend: StateBackend) {
  return CoProcessFunctionHarness.create<Auction, Bid, AuctionBid, number>(new WinningBids(), {
    keySelectors: [(a) => a.id, (b) => b.auction],
    keySerializer: Serializers.f64,
    stateBackend: backend,
  });
}

/** Deterministic pseudo-random numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

type Event = { a: Auction } | { b: Bid };
const timeOf = (e: Event) => ("a" in e ? e.a.dateTime : e.b.dateTime);

/**
 * Auctions and bids in an arrival order that is out of order by less than
 * `delay` (so nothing is late), many bids arriving before their auction,
 * prices and times from small ranges so that ties are common.
 */
function events(seed: number, delay: number): Event[] {
  const r = random(seed);
  const out: Event[] = [];
  for (let id = 0; id < 200; id++) {
    const start = Math.floor(r() * 2000);
    const a = auction(id, start, start + 1 + Math.floor(r() * 100));
    out.push({ a });
    const n = Math.floor(r() * 12);
    for (let i = 0; i < n; i++) {
      // Some before the auction opens, some after it closes; few distinct times, for ties.
      const t = start - 10 + 10 * Math.floor(r() * 13);
      out.push({ b: bid(id, 1 + Math.floor(r() * 4), t, String.fromCharCode(97 + (i % 3))) });
    }
  }
  // Sorted by time, then each event moved back by a random amount below `delay`.
  const keyed = out.map((e) => [timeOf(e) + r() * (delay - 1), e] as const);
  return keyed.sort(([x], [y]) => x - y).map(([, e]) => e);
}

/** Each auction's best bid among those made while it was open: q9 by definition. */
function reference(es: Event[]): Map<number, Bid> {
  const auctions = new Map<number, Auction>();
  for (const e of es) if ("a" in e) auctions.set(e.a.id, e.a);
  const best = new Map<number, Bid>();
  for (const e of es) {
    if (!("b" in e)) continue;
    const a = auctions.get(e.b.auction)!;
    if (e.b.dateTime < a.dateTime || e.b.dateTime > a.expires) continue;
    const old = best.get(a.id);
    if (old === undefined || beats(e.b, old)) best.set(a.id, e.b);
  }
  return best;
}

for (const [name, backend] of BACKENDS) {
  Deno.test(`q9 winning bids (${name}): random out-of-order input equals the reference, state is freed`, async () => {
    const delay = 40;
    for (const seed of [1, 2, 3]) {
      const es = events(seed, delay);
      const h = await harness(backend());
      let early = 0;
      const seen = new Set<number>();
      let maxTs = -Infinity;
      for (const e of es) {
        if ("a" in e) {
          seen.add(e.a.id);
          h.processElement1(e.a, e.a.dateTime);
        } else {
          if (!seen.has(e.b.auction)) early++;
          h.processElement2(e.b, e.b.dateTime);
        }
        maxTs = Math.max(maxTs, timeOf(e));
        h.processWatermark(maxTs - delay);
      }
      assert.ok(early > 50, `seed ${seed}: ${early} bids came before their auction`);

      const latest = new Map<number, Bid>();
      for (const { a, b } of h.output()) {
        assert.equal(b.auction, a.id);
        const old = latest.get(a.id);
        assert.ok(old === undefined || beats(b, old), "each update beats the one before");
        latest.set(a.id, b);
      }
      const want = reference(es);
      assert.ok(want.size > 100, `seed ${seed}: ${want.size} auctions with bids`);
      assert.deepEqual(
        new Map([...latest].sort(([x], [y]) => x - y)),
        new Map([...want].sort(([x], [y]) => x - y)),
      );
      // Ties on price are common, and some are broken by `extra` alone.
      const bids = es.flatMap((e) => ("b" in e ? [e.b] : []));
      const tie = (x: Bid, y: Bid) => x !== y && x.price === y.price && x.auction === y.auction;
      assert.ok([...want.values()].some((w) => bids.some((b) => tie(b, w))));
      assert.ok(
        [...want.values()].some((w) => bids.some((b) => tie(b, w) && b.dateTime === w.dateTime)),
      );

      h.processWatermark(Number.MAX_SAFE_INTEGER);
      for (const d of [AUCTION_STATE, BEST_STATE, EARLY_STATE]) assert.deepEqual(h.keys(d), []);
      assert.deepEqual(h.pendingTimers("event-time"), []);
      await h.close();
    }
  });

  Deno.test(`q9 winning bids (${name}): ties, early bids, late records and expiry`, async () => {
    const h = await harness(backend());
    // Bids before their auction: the one at the same price and time with the smaller extra wins,
    // one made before the auction opened does not count.
    h.processElement2(bid(1, 5, 100, "b"), 100);
    h.processElement2(bid(1, 5, 100, "a"), 100);
    h.processElement2(bid(1, 9, 99, "z"), 99);
    assert.deepEqual(h.output(), []);
    assert.equal(h.state(EARLY_STATE, 1).length, 3);
    h.processElement1(auction(1, 100, 200), 100);
    assert.deepEqual(h.output().map(({ b }) => b.extra), ["b", "a"]);
    assert.deepEqual(h.state(EARLY_STATE, 1), []);
    h.clearOutput();

    // Equal price: the earlier bid wins; a later one at that price does not.
    h.processElement2(bid(1, 6, 150, "x"), 150);
    h.processElement2(bid(1, 6, 120, "y"), 120);
    h.processElement2(bid(1, 6, 130, "a"), 130);
    assert.deepEqual(h.output().map(({ b }) => [b.price, b.dateTime]), [[6, 150], [6, 120]]);
    h.clearOutput();

    // Behind the watermark: late, dropped, even though it would win.
    h.processWatermark(160);
    h.processElement2(bid(1, 100, 159, "late"), 159);
    // After the auction closed: not counted.
    h.processElement2(bid(1, 100, 201, "after"), 201);
    assert.deepEqual(h.output(), []);
    assert.equal(h.state(BEST_STATE, 1)!.dateTime, 120);

    // A late auction is dropped: its bid waits, then goes when the watermark passes it.
    h.processElement1(auction(2, 150, 300), 150);
    h.processElement2(bid(2, 1, 170, "a"), 170);
    assert.deepEqual(h.output(), []);
    assert.equal(h.state(EARLY_STATE, 2).length, 1);

    // The watermark at `expires` keeps the auction (a bid at `expires` is not late yet).
    h.processWatermark(200);
    assert.ok(h.state(AUCTION_STATE, 1) !== undefined);
    h.processElement2(bid(1, 7, 200, "last"), 200);
    assert.deepEqual(h.output().map(({ b }) => b.extra), ["last"]);
    // Past it, everything goes: the auction, its best bid and the waiting bids.
    h.processWatermark(202);
    for (const d of [AUCTION_STATE, BEST_STATE, EARLY_STATE]) assert.deepEqual(h.keys(d), []);
    await h.close();
  });

  Deno.test(`q9 winning bids (${name}): an auction id twice while open is an error`, async () => {
    const h = await harness(backend());
    h.processElement1(auction(3, 10, 20), 10);
    assert.throws(() => h.processElement1(auction(3, 11, 30), 11), /auction 3 arrived twice/);
    await h.close();
  });
}
