/**
 * Nexmark q5, hot items: per 10 s window sliding by 2 s, the auctions with
 * the most bids (all of them on a tie).
 *
 * ```sql
 * SELECT AuctionBids.auction, AuctionBids.num
 * FROM (
 *   SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
 *   FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
 *   GROUP BY auction, window_start, window_end
 * ) AS AuctionBids
 * JOIN (
 *   SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
 *   FROM (
 *     SELECT count(*) AS num, window_start AS starttime, window_end AS endtime
 *     FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
 *     GROUP BY auction, window_start, window_end
 *   ) AS CountBids
 *   GROUP BY CountBids.starttime, CountBids.endtime
 * ) AS MaxBids
 * ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
 *   AND AuctionBids.num >= MaxBids.maxn;
 * ```
 *
 * @module
 */
import { Serializers, SlidingEventTimeWindows, TumblingEventTimeWindows } from "../../../mod.ts";
import type { NexmarkQuery, Row } from "../query.ts";
import { countAll } from "./_common.ts";

const SIZE = 10_000;
const SLIDE = 2_000;

interface AuctionCount {
  auction: number;
  num: number;
  starttime: number;
}

/** q5. */
export const q5: NexmarkQuery = {
  name: "q5",
  build: (s) =>
    s.bids().map((b) => b.auction, { uid: "q5-auction", name: "q5: Project bids" })
      .returns(Serializers.f64)
      .keyBy((auction) => auction, Serializers.f64)
      .window(SlidingEventTimeWindows.of(SIZE, SLIDE))
      .aggregate<number, number, AuctionCount>(countAll, {
        process(auction, ctx, [num], out) {
          out.collect({ auction, num: num!, starttime: ctx.window.start });
        },
      }, { uid: "q5-counts", name: "q5: Count per auction", serializer: Serializers.f64 })
      // A window's counts carry its last timestamp (start + size - 1): a tumbling
      // window of the slide holds exactly one sliding window's counts.
      .keyBy((c) => c.starttime, Serializers.f64)
      .window(TumblingEventTimeWindows.of(SLIDE))
      .process<Row>({
        process(_start, _ctx, counts, out) {
          let max = 0;
          for (const c of counts) if (c.num > max) max = c.num;
          for (const c of counts) if (c.num >= max) out.collect({ auction: c.auction, num: c.num });
        },
      }, { uid: "q5", name: "q5: Max per window" }),
};
