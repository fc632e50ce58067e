/**
 * Nexmark q9, winning bids: each auction with its highest bid made while it
 * was open (the earliest of equal prices; equal times by `extra`, so the
 * result does not depend on arrival order). An updating result: a new row
 * for an auction whenever its winning bid changes.
 *
 * ```sql
 * SELECT id, itemName, description, initialBid, reserve, dateTime, expires, seller, category,
 *        extra, auction, bidder, price, bid_dateTime, bid_extra
 * FROM (
 *   SELECT A.*, B.auction, B.bidder, B.price, B.dateTime AS bid_dateTime, B.extra AS bid_extra,
 *     ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.dateTime ASC) AS rownum
 *   FROM auction A, bid B
 *   WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
 * )
 * WHERE rownum <= 1;
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
import { BID_SERIALIZER } from "../serializers.ts";
import { type AuctionBid, bidsOnOpenAuctions } from "./_winning_bids.ts";

/** Whether bid `a` beats bid `b`: higher price, then earlier, then `extra`. */
export function beats(a: Bid, b: Bid): boolean {
  if (a.price !== b.price) return a.price > b.price;
  if (a.dateTime !== b.dateTime) return a.dateTime < b.dateTime;
  return a.extra < b.extra;
}

const best = new ValueStateDescriptor<Bid>("best", BID_SERIALIZER);

/** q9. */
export const q9: NexmarkQuery = {
  name: "q9",
  key: (r) => String(r.id),
  build: (s) =>
    bidsOnOpenAuctions(s, "q9")
      .keyBy(({ a }) => a.id, Serializers.f64)
      .process<Row>(
        {
          open(ctx) {
            this.best = ctx.getState(best);
          },
          processElement({ a, b }, _ctx, out) {
            const old = this.best!.value();
            if (old !== undefined && !beats(b, old)) return;
            this.best!.update(b);
            out.collect({
              id: a.id,
              itemName: a.itemName,
              description: a.description,
              initialBid: a.initialBid,
              reserve: a.reserve,
              dateTime: a.dateTime,
              expires: a.expires,
              seller: a.seller,
              category: a.category,
              extra: a.extra,
              auction: b.auction,
              bidder: b.bidder,
              price: b.price,
              bid_dateTime: b.dateTime,
              bid_extra: b.extra,
            });
          },
        } as KeyedProcessFunction<number, AuctionBid, Row> & { best?: ValueState<Bid> },
        { uid: "q9", name: "q9: Winning bid" },
      ),
};
