/**
 * Nexmark q7, highest bid: the bids whose price is the highest of a 10 s
 * tumbling window, made within that window's 10 s up to and including its end.
 * (Flink's SQL writes the price into the `bidder` column and the bidder into
 * `price`; here each column holds what its name says.)
 *
 * ```sql
 * SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra
 * FROM bid B
 * JOIN (
 *   SELECT MAX(price) AS maxprice, window_end AS dateTime
 *   FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *   GROUP BY window_start, window_end
 * ) B1
 * ON B.price = B1.maxprice
 * WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime;
 * ```
 *
 * @module
 */
import { type AggregateFunction, Serializers, TumblingEventTimeWindows } from "../../../mod.ts";
import type { Bid } from "../model.ts";
import type { NexmarkQuery, Row } from "../query.ts";

/** q7's columns of a bid: what crosses to the windows and the join. */
type Q7Bid = Pick<Bid, "auction" | "bidder" | "price" | "dateTime" | "extra">;
const Q7_BID = Serializers.record<Q7Bid>({
  auction: Serializers.f64,
  bidder: Serializers.f64,
  price: Serializers.f64,
  dateTime: Serializers.f64,
  extra: Serializers.string,
});

function q7Row(b: Q7Bid): Row {
  return {
    auction: b.auction,
    bidder: b.bidder,
    price: b.price,
    dateTime: b.dateTime,
    extra: b.extra,
  };
}

const SIZE = 10_000;

const maxOf: AggregateFunction<number, number, number> = {
  createAccumulator: () => -Infinity,
  add: (price, m) => (price > m ? price : m),
  getResult: (m) => m,
  merge: (a, b) => Math.max(a, b),
};

/** The highest price of a window and the bids with it. */
type MaxBids = [max: number, bids: Q7Bid[]];

const maxBids: AggregateFunction<Q7Bid, MaxBids, MaxBids> = {
  createAccumulator: () => [-Infinity, []],
  add: (b, acc) => {
    if (b.price > acc[0]) return [b.price, [b]];
    if (b.price === acc[0]) acc[1].push(b);
    return acc;
  },
  getResult: (acc) => acc,
};

/**
 * q7. Each window keeps only its highest bids (the bids of `[start, end)`
 * whose price is the maximum), so state stays small; the bids exactly at a
 * window's end (`BETWEEN` includes it: they open the next window) meet the
 * window's maximum in an interval join.
 */
export const q7: NexmarkQuery = {
  name: "q7",
  build: (s) => {
    const bids = s.bids().map((b): Q7Bid => ({
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      dateTime: b.dateTime,
      extra: b.extra,
    }), { uid: "q7-bids", name: "q7: Project bids" }).returns(Q7_BID);
    const inWindow = bids.windowAll(TumblingEventTimeWindows.of(SIZE))
      .aggregate<MaxBids, MaxBids, Row>(maxBids, {
        process(_ctx, [acc], out) {
          for (const b of acc![1]) out.collect(q7Row(b));
        },
      }, {
        uid: "q7-max-bids",
        name: "q7: Highest bids per window",
        serializer: Serializers.tuple(Serializers.f64, Serializers.array(Q7_BID)),
      });
    // The maximum of each window, stamped with the window's last ms (end - 1).
    const maxes = s.bids().map((b) => b.price, { uid: "q7-prices", name: "q7: Project prices" })
      .returns(Serializers.f64)
      .windowAll(TumblingEventTimeWindows.of(SIZE))
      .aggregate<number, number, { maxprice: number; dateTime: number }>(maxOf, {
        process(ctx, [max], out) {
          out.collect({ maxprice: max!, dateTime: ctx.window.end });
        },
      }, { uid: "q7-max", name: "q7: Max per window", serializer: Serializers.f64 });
    // A bid at exactly a window's end: (end - 1) - B.dateTime = -1.
    const atEnd = bids.filter((b) => b.dateTime % SIZE === 0, { uid: "q7-at-end" })
      .keyBy((b) => b.price, Serializers.f64)
      .intervalJoin(maxes.keyBy((m) => m.maxprice, Serializers.f64))
      .between(-1, -1)
      .process<Row>({
        processElement(b, _m, _ctx, out) {
          out.collect(q7Row(b));
        },
      }, {
        uid: "q7",
        name: "q7: Join at window ends",
        leftSerializer: Q7_BID,
        rightSerializer: Serializers.record({
          maxprice: Serializers.f64,
          dateTime: Serializers.f64,
        }),
      });
    return inWindow.union(atEnd);
  },
};
