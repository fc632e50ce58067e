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
import type { NexmarkQuery, Row } from "../query.ts";
import { BID_SERIALIZER } from "../serializers.ts";

const SIZE = 10_000;

const maxOf: AggregateFunction<{ price: number }, number, number> = {
  createAccumulator: () => -Infinity,
  add: (b, m) => (b.price > m ? b.price : m),
  getResult: (m) => m,
  merge: (a, b) => Math.max(a, b),
};

/** q7. */
export const q7: NexmarkQuery = {
  name: "q7",
  build: (s) => {
    const bids = s.bids();
    // The maximum of each window, stamped with the window's last ms (end - 1).
    const maxes = bids.windowAll(TumblingEventTimeWindows.of(SIZE))
      .aggregate<number, number, { maxprice: number; dateTime: number }>(maxOf, {
        process(ctx, [max], out) {
          out.collect({ maxprice: max!, dateTime: ctx.window.end });
        },
      }, { uid: "q7-max", name: "q7: Max per window", serializer: Serializers.f64 });
    // B.dateTime in [end - 10 s, end]  <=>  (end - 1) - B.dateTime in [-1, 10 s - 1].
    return bids.keyBy((b) => b.price, Serializers.f64)
      .intervalJoin(maxes.keyBy((m) => m.maxprice, Serializers.f64))
      .between(-1, SIZE - 1)
      .process<Row>({
        processElement(b, _m, _ctx, out) {
          out.collect({
            auction: b.auction,
            bidder: b.bidder,
            price: b.price,
            dateTime: b.dateTime,
            extra: b.extra,
          });
        },
      }, {
        uid: "q7",
        name: "q7: Join",
        leftSerializer: BID_SERIALIZER,
        rightSerializer: Serializers.record({
          maxprice: Serializers.f64,
          dateTime: Serializers.f64,
        }),
      });
  },
};
