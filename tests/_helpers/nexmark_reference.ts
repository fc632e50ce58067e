/**
 * Nexmark query results computed directly from the events with plain arrays
 * and maps (no weir), from the SQL of Flink Nexmark's queries, for the
 * correctness tests. Updating queries give their final result: one row per
 * key.
 */
import type { Auction, Bid, NexmarkEvent, Person } from "../../bench/nexmark/model.ts";

type Row = Record<string, string | number | null>;

const utcDay = (t: number) => new Date(t).toISOString().slice(0, 10);
const utcMinute = (t: number) => new Date(t).toISOString().slice(11, 16);
const priceRank = (p: number) => (p < 10_000 ? 1 : p < 1_000_000 ? 2 : 3);

function group<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}

/** Bid order of q9 and q19: higher price first, then earlier, then smaller `extra`. */
function byPriceDesc(a: Bid, b: Bid): number {
  if (a.price !== b.price) return b.price - a.price;
  if (a.dateTime !== b.dateTime) return a.dateTime - b.dateTime;
  return a.extra < b.extra ? -1 : a.extra > b.extra ? 1 : 0;
}

/** The bids made while their auction was open, with the auction. */
function openAuctionBids(auctions: Auction[], bids: Bid[]): [Auction, Bid][] {
  const byId = new Map(auctions.map((a) => [a.id, a]));
  const out: [Auction, Bid][] = [];
  for (const b of bids) {
    const a = byId.get(b.auction);
    if (a && b.dateTime >= a.dateTime && b.dateTime <= a.expires) out.push([a, b]);
  }
  return out;
}

function stats(bs: Bid[]): Row {
  const row: Row = {};
  const bidders = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
  const auctions = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
  const counts = [0, 0, 0, 0];
  for (const b of bs) {
    const r = priceRank(b.price);
    counts[0]!++;
    counts[r]!++;
    bidders[0]!.add(b.bidder);
    bidders[r]!.add(b.bidder);
    auctions[0]!.add(b.auction);
    auctions[r]!.add(b.auction);
  }
  const names = ["total", "rank1", "rank2", "rank3"];
  names.forEach((n, i) => (row[`${n}_bids`] = counts[i]!));
  names.forEach((n, i) => (row[`${n}_bidders`] = bidders[i]!.size));
  names.forEach((n, i) => (row[`${n}_auctions`] = auctions[i]!.size));
  return row;
}

/** Every query's expected rows, by query name (final rows for updating queries). */
export function nexmarkReference(events: NexmarkEvent[]): Map<string, Row[]> {
  const persons: Person[] = events.flatMap((e) => (e.person ? [e.person] : []));
  const auctions: Auction[] = events.flatMap((e) => (e.auction ? [e.auction] : []));
  const bids: Bid[] = events.flatMap((e) => (e.bid ? [e.bid] : []));
  const out = new Map<string, Row[]>();

  out.set(
    "q0",
    bids.map((b) => ({
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      dateTime: b.dateTime,
      extra: b.extra,
    })),
  );
  out.set(
    "q1",
    bids.map((b) => ({
      auction: b.auction,
      bidder: b.bidder,
      price: (b.price * 908) / 1000,
      dateTime: b.dateTime,
      extra: b.extra,
    })),
  );
  out.set(
    "q2",
    bids.filter((b) => b.auction % 123 === 0).map((b) => ({ auction: b.auction, price: b.price })),
  );

  const personById = new Map(persons.map((p) => [p.id, p]));
  out.set(
    "q3",
    auctions.flatMap((a) => {
      const p = personById.get(a.seller);
      if (a.category !== 10 || !p || !["OR", "ID", "CA"].includes(p.state)) return [];
      return [{ name: p.name, city: p.city, state: p.state, id: a.id }];
    }),
  );

  const open = openAuctionBids(auctions, bids);
  const maxByAuction = new Map<number, [Auction, number]>();
  for (const [a, b] of open) {
    const m = maxByAuction.get(a.id);
    if (!m || b.price > m[1]) maxByAuction.set(a.id, [a, b.price]);
  }
  out.set(
    "q4",
    [...group([...maxByAuction.values()], ([a]) => a.category)].map(([category, ms]) => ({
      id: category,
      final: Math.trunc(ms.reduce((s, [, p]) => s + p, 0) / ms.length),
    })),
  );

  const hop = new Map<number, Map<number, number>>();
  for (const b of bids) {
    for (let s = b.dateTime - (b.dateTime % 2000); s > b.dateTime - 10_000; s -= 2000) {
      let counts = hop.get(s);
      if (!counts) hop.set(s, counts = new Map());
      counts.set(b.auction, (counts.get(b.auction) ?? 0) + 1);
    }
  }
  out.set(
    "q5",
    [...hop.values()].flatMap((counts) => {
      const max = Math.max(...counts.values());
      return [...counts].filter(([, n]) => n >= max).map(([auction, num]) => ({ auction, num }));
    }),
  );

  const tumble = group(bids, (b) => b.dateTime - (b.dateTime % 10_000));
  out.set(
    "q7",
    [...tumble].flatMap(([start, bs]) => {
      const max = Math.max(...bs.map((b) => b.price));
      const end = start + 10_000;
      return bids.filter((b) => b.price === max && b.dateTime >= end - 10_000 && b.dateTime <= end)
        .map((b) => ({
          auction: b.auction,
          bidder: b.bidder,
          price: b.price,
          dateTime: b.dateTime,
          extra: b.extra,
        }));
    }),
  );

  const sellers = new Set(auctions.map((a) => `${a.seller}@${a.dateTime - (a.dateTime % 10_000)}`));
  out.set(
    "q8",
    persons.filter((p) => sellers.has(`${p.id}@${p.dateTime - (p.dateTime % 10_000)}`))
      .map((p) => ({ id: p.id, name: p.name, starttime: p.dateTime - (p.dateTime % 10_000) })),
  );

  out.set(
    "q9",
    [...group(open, ([a]) => a.id).values()].map((pairs) => {
      const [a, b] = pairs.sort(([, x], [, y]) => byPriceDesc(x, y))[0]!;
      return {
        ...a,
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        bid_dateTime: b.dateTime,
        bid_extra: b.extra,
      };
    }),
  );

  out.set(
    "q11",
    [...group(bids, (b) => b.bidder)].flatMap(([bidder, bs]) => {
      const ts = bs.map((b) => b.dateTime).sort((x, y) => x - y);
      const rows: Row[] = [];
      let start = ts[0]!, last = ts[0]!, n = 0;
      for (const t of ts) {
        // Sessions [t, t + gap) that touch or overlap merge.
        if (t > last + 10_000) {
          rows.push({ bidder, bid_count: n, starttime: start, endtime: last + 10_000 });
          start = t;
          n = 0;
        }
        last = t;
        n++;
      }
      rows.push({ bidder, bid_count: n, starttime: start, endtime: last + 10_000 });
      return rows;
    }),
  );

  // q12's windows are processing time: only the total per bidder is fixed.
  out.set(
    "q12",
    [...group(bids, (b) => b.bidder)].map(([bidder, bs]) => ({ bidder, bid_count: bs.length })),
  );

  out.set(
    "q13",
    bids.map((b) => ({
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      dateTime: b.dateTime,
      value: String(b.auction % 10_000),
    })),
  );

  out.set(
    "q14",
    bids.filter((b) => b.price * 0.908 > 1_000_000 && b.price * 0.908 < 50_000_000).map((b) => {
      const hour = new Date(b.dateTime).getUTCHours();
      return {
        auction: b.auction,
        bidder: b.bidder,
        price: (b.price * 908) / 1000,
        bidTimeType: hour >= 8 && hour <= 18
          ? "dayTime"
          : hour <= 6 || hour >= 20
          ? "nightTime"
          : "otherTime",
        dateTime: b.dateTime,
        extra: b.extra,
        c_counts: b.extra.split("c").length - 1,
      };
    }),
  );

  out.set(
    "q15",
    [...group(bids, (b) => utcDay(b.dateTime))].map(([day, bs]) => ({ day, ...stats(bs) })),
  );
  out.set(
    "q16",
    [...group(bids, (b) => `${b.channel}|${utcDay(b.dateTime)}`).values()].map((bs) => ({
      channel: bs[0]!.channel,
      day: utcDay(bs[0]!.dateTime),
      minute: utcMinute(Math.max(...bs.map((b) => b.dateTime))),
      ...stats(bs),
    })),
  );
  out.set(
    "q17",
    [...group(bids, (b) => `${b.auction}|${utcDay(b.dateTime)}`).values()].map((bs) => {
      const prices = bs.map((b) => b.price);
      const sum = prices.reduce((s, p) => s + p, 0);
      return {
        auction: bs[0]!.auction,
        day: utcDay(bs[0]!.dateTime),
        total_bids: bs.length,
        rank1_bids: prices.filter((p) => priceRank(p) === 1).length,
        rank2_bids: prices.filter((p) => priceRank(p) === 2).length,
        rank3_bids: prices.filter((p) => priceRank(p) === 3).length,
        min_price: Math.min(...prices),
        max_price: Math.max(...prices),
        avg_price: Math.trunc(sum / bs.length),
        sum_price: sum,
      };
    }),
  );

  out.set(
    "q18",
    [...group(bids, (b) => `${b.bidder}|${b.auction}`).values()].map((bs) => {
      // Latest by time; equal times by higher price, then larger extra.
      const last = bs.reduce((x, y) =>
        y.dateTime !== x.dateTime
          ? (y.dateTime > x.dateTime ? y : x)
          : y.price !== x.price
          ? (y.price > x.price ? y : x)
          : y.extra > x.extra
          ? y
          : x
      );
      return { ...last };
    }),
  );

  out.set(
    "q19",
    [...group(bids, (b) => b.auction).values()].flatMap((bs) =>
      bs.sort(byPriceDesc).slice(0, 10).map((b, i) => ({ ...b, rank_number: i + 1 }))
    ),
  );

  const cat10 = group(auctions.filter((a) => a.category === 10), (a) => a.id);
  out.set(
    "q20",
    bids.flatMap((b) =>
      (cat10.get(b.auction) ?? []).map((a) => ({
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        url: b.url,
        bid_dateTime: b.dateTime,
        bid_extra: b.extra,
        itemName: a.itemName,
        description: a.description,
        initialBid: a.initialBid,
        reserve: a.reserve,
        auction_dateTime: a.dateTime,
        expires: a.expires,
        seller: a.seller,
        category: a.category,
        auction_extra: a.extra,
      }))
    ),
  );

  const hot: Record<string, string> = { apple: "0", google: "1", facebook: "2", baidu: "3" };
  out.set(
    "q21",
    bids.flatMap((b) => {
      const m = b.url.match(/(&|^)channel_id=([^&]*)/);
      const id = hot[b.channel.toLowerCase()] ?? (m ? m[2]! : undefined);
      return id === undefined ? [] : [{
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        channel_id: id,
      }];
    }),
  );

  out.set(
    "q22",
    bids.map((b) => {
      const parts = b.url.split("/");
      return {
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        dir1: parts[3] ?? null,
        dir2: parts[4] ?? null,
        dir3: parts[5] ?? null,
      };
    }),
  );
  return out;
}
