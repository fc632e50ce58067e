import assert from "node:assert/strict";
import { HeapStateBackend, LsmStateBackend, Serializers, type StateBackend } from "../../../mod.ts";
import { CoProcessFunctionHarness } from "../../../core/testing/mod.ts";
import type { Auction, Bid } from "../model.ts";
import type { Row } from "../query.ts";
import { ExpandBids, MATCHED_STATE, UNMATCHED_STATE, WAITING_STATE } from "./q20.ts";

const BACKENDS: [string, () => StateBackend][] = [
  ["heap", () => new HeapStateBackend()],
  ["lsm", () => new LsmStateBackend()],
];

function auction(id: number, category: number): Auction {
  return {
    id,
    itemName: `item${id}`,
    description: "d",
    initialBid: 1,
    reserve: 2,
    dateTime: 0,
    expires: 100,
    seller: 7,
    category,
    extra: "",
  };
}

function bid(auction: number, price: number): Bid {
  return { auction, bidder: 1, price, channel: "c", url: "u", dateTime: 1, extra: "" };
}

function harness(backend: StateBackend) {
  return CoProcessFunctionHarness.create<Auction, Bid, Row, number>(new ExpandBids(), {
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

for (const [name, backend] of BACKENDS) {
  Deno.test(`q20 expand bids (${name}): equals the join over random arrival orders, and keeps no bid once its auction came`, async () => {
    for (const seed of [1, 2, 3]) {
      const r = random(seed);
      const events: ({ a: Auction } | { b: Bid })[] = [];
      for (let id = 0; id < 300; id++) {
        events.push({ a: auction(id, 10 + Math.floor(r() * 3)) });
        const n = Math.floor(r() * 6);
        for (let i = 0; i < n; i++) events.push({ b: bid(id, 1 + Math.floor(r() * 1000)) });
      }
      // Any order: many bids come before their auction.
      const order = events.map((e) => [r(), e] as const).sort(([x], [y]) => x - y);
      const h = await harness(backend());
      for (const [, e] of order) {
        if ("a" in e) h.processElement1(e.a, 0);
        else h.processElement2(e.b, 1);
      }
      const inCategory = new Set(
        events.flatMap((e) => ("a" in e && e.a.category === 10 ? [e.a.id] : [])),
      );
      const expected = events.flatMap((e) =>
        "b" in e && inCategory.has(e.b.auction) ? [`${e.b.auction}/${e.b.price}`] : []
      ).sort();
      const got = h.output().map((row) => `${row.auction}/${row.price}`).sort();
      assert.deepEqual(got, expected, `seed ${seed}`);
      assert.ok(
        h.output().every((row) => row.category === 10 && row.itemName === `item${row.auction}`),
      );
      // Every auction came: no bid waits, and each auction is kept once, as itself or its category.
      for (let id = 0; id < 300; id++) {
        assert.deepEqual(h.state(WAITING_STATE, id), [], `auction ${id}`);
        const matched = h.state(MATCHED_STATE, id);
        const unmatched = h.state(UNMATCHED_STATE, id);
        assert.equal(matched !== undefined, inCategory.has(id), `auction ${id}`);
        assert.equal(unmatched !== undefined, !inCategory.has(id), `auction ${id}`);
      }
      await h.close();
    }
  });

  Deno.test(`q20 expand bids (${name}): an auction id twice is an error`, async () => {
    const h = await harness(backend());
    h.processElement1(auction(5, 11), 0);
    assert.throws(() => h.processElement1(auction(5, 10), 0), /q20: auction 5 arrived twice/);
    await h.close();
  });
}
