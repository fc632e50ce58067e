/**
 * Nexmark q18, find last bid: each bidder's latest bid on each auction
 * (deduplication; equal times are ordered by price, then `extra`, so the
 * result does not depend on arrival order). An updating result: a new row
 * for the (bidder, auction) whenever a later bid comes in.
 *
 * ```sql
 * SELECT auction, bidder, price, channel, url, dateTime, extra
 * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC) AS rank_number
 *       FROM bid)
 * WHERE rank_number <= 1;
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

/** Whether bid `a` is later than `b`: later time, then higher price, then `extra`. */
export function later(a: Bid, b: Bid): boolean {
  if (a.dateTime !== b.dateTime) return a.dateTime > b.dateTime;
  if (a.price !== b.price) return a.price > b.price;
  return a.extra > b.extra;
}

const lastDesc = new ValueStateDescriptor<Bid>("last", BID_SERIALIZER);

/** A bid as a row, fields in the columns' order. */
export function bidRow(b: Bid): Row {
  return {
    auction: b.auction,
    bidder: b.bidder,
    price: b.price,
    channel: b.channel,
    url: b.url,
    dateTime: b.dateTime,
    extra: b.extra,
  };
}

/** q18. */
export const q18: NexmarkQuery = {
  name: "q18",
  key: (r) => `${r.bidder}\u0000${r.auction}`,
  build: (s) =>
    s.bids().keyBy((b) => `${b.bidder}\u0000${b.auction}`, Serializers.string)
      .process<Row>(
        {
          open(ctx) {
            this.last = ctx.getState(lastDesc);
          },
          processElement(b, _ctx, out) {
            const old = this.last!.value();
            if (old !== undefined && !later(b, old)) return;
            this.last!.update(b);
            out.collect(bidRow(b));
          },
        } as KeyedProcessFunction<string, Bid, Row> & { last?: ValueState<Bid> },
        { uid: "q18", name: "q18: Last bid" },
      ),
};
