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

/** total, rank1, rank2, rank3, min, max, sum. */
const statsDesc = new ValueStateDescriptor("stats", Serializers.array(Serializers.f64));

/** q17. */
export const q17: NexmarkQuery = {
  name: "q17",
  key: (r) => `${r.auction}\u0000${r.day}`,
  build: (s) =>
    // (day, auction) as one number: hashing a number is cheaper than building a string key.
    s.bids().keyBy((b) => Math.floor(b.dateTime / DAY_MS) * 2 ** 32 + b.auction, Serializers.f64)
      .process<Row>(
        {
          open(ctx) {
            this.stats = ctx.getState(statsDesc);
          },
          processElement(b, _ctx, out) {
            const st = this.stats!.value() ?? [0, 0, 0, 0, Infinity, -Infinity, 0];
            st[0]!++;
            st[rank(b.price)]!++;
            st[4] = Math.min(st[4]!, b.price);
            st[5] = Math.max(st[5]!, b.price);
            st[6]! += b.price;
            this.stats!.update(st);
            out.collect({
              auction: b.auction,
              day: day(b.dateTime),
              total_bids: st[0]!,
              rank1_bids: st[1]!,
              rank2_bids: st[2]!,
              rank3_bids: st[3]!,
              min_price: st[4]!,
              max_price: st[5]!,
              avg_price: Math.trunc(st[6]! / st[0]!),
              sum_price: st[6]!,
            });
          },
        } as KeyedProcessFunction<number, Bid, Row> & { stats?: ValueState<number[]> },
        { uid: "q17", name: "q17: Statistics per auction and day" },
      ),
};
