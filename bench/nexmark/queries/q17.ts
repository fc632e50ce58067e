/**
 * Nexmark q17, auction statistics report: per auction and day, bid counts
 * per price rank and the minimum, maximum, average (truncated) and sum of
 * prices. An updating result: a new row for the (auction, day) with every bid.
 *
 * ```sql
 * SELECT auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day,
 *   count(*) AS total_bids,
 *   count(*) filter (where price < 10000) AS rank1_bids,
 *   count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
 *   count(*) filter (where price >= 1000000) AS rank3_bids,
 *   min(price) AS min_price, max(price) AS max_price,
 *   avg(price) AS avg_price, sum(price) AS sum_price
 * FROM bid
 * GROUP BY auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd');
 * ```
 *
 * @module
 */
import {
  type KeyedProcessFunction,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../../../mod.ts";
import type { Bid } from "../model.ts";
import type { NexmarkQuery, Row } from "../query.ts";
import { day, rank } from "./_common.ts";

const DAY_MS = 86_400_000;
/** Numbers per day in the state: the day, then total, rank1, rank2, rank3, min, max, sum. */
const STRIDE = 8;

/**
 * Per auction, the statistics of each of its days, one after the other: bids
 * go to the newest auctions, so an auction's bids span one day, rarely two.
 */
type PricedBid = Pick<Bid, "auction" | "price" | "dateTime">;
const PRICED_BID = Serializers.record<PricedBid>({
  auction: Serializers.f64,
  price: Serializers.f64,
  dateTime: Serializers.f64,
});

const statsDesc = new ValueStateDescriptor("stats-by-day", Serializers.array(Serializers.f64));

/** q17. */
export const q17: NexmarkQuery = {
  name: "q17",
  key: (r) => `${r.auction}\u0000${r.day}`,
  build: (s) =>
    // Keyed by the auction, with its days inside its state: a small integer key costs less to
    // hash and compare than (day, auction) in one number beyond 2^31.
    s.bids().map((b): PricedBid => ({ auction: b.auction, price: b.price, dateTime: b.dateTime }), {
      uid: "q17-bids",
      name: "q17: Project bids",
    }).returns(PRICED_BID)
      .keyBy((b) => b.auction, Serializers.f64)
      .process<Row>(
        {
          open(ctx) {
            this.stats = ctx.getState(statsDesc);
          },
          processElement(b, _ctx, out) {
            const d = Math.floor(b.dateTime / DAY_MS);
            const st = this.stats!.value() ?? [];
            let at = 0;
            while (at < st.length && st[at] !== d) at += STRIDE;
            if (at === st.length) st.push(d, 0, 0, 0, 0, Infinity, -Infinity, 0);
            st[at + 1]!++;
            st[at + 1 + rank(b.price)]!++;
            st[at + 5] = Math.min(st[at + 5]!, b.price);
            st[at + 6] = Math.max(st[at + 6]!, b.price);
            st[at + 7]! += b.price;
            this.stats!.update(st);
            out.collect({
              auction: b.auction,
              day: day(b.dateTime),
              total_bids: st[at + 1]!,
              rank1_bids: st[at + 2]!,
              rank2_bids: st[at + 3]!,
              rank3_bids: st[at + 4]!,
              min_price: st[at + 5]!,
              max_price: st[at + 6]!,
              avg_price: Math.trunc(st[at + 7]! / st[at + 1]!),
              sum_price: st[at + 7]!,
            });
          },
        } as KeyedProcessFunction<number, PricedBid, Row> & { stats?: ValueState<number[]> },
        { uid: "q17", name: "q17: Statistics per auction and day" },
      ),
};
