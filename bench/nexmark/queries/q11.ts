/**
 * Nexmark q11, user sessions: bids per bidder per session (a 10 s gap
 * closes a session); `endtime` is the last bid's time plus the gap.
 *
 * ```sql
 * SELECT B.bidder, count(*) AS bid_count,
 *   SESSION_START(B.dateTime, INTERVAL '10' SECOND) AS starttime,
 *   SESSION_END(B.dateTime, INTERVAL '10' SECOND) AS endtime
 * FROM bid B
 * GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND);
 * ```
 *
 * @module
 */
import { EventTimeSessionWindows, Serializers } from "../../../mod.ts";
import type { NexmarkQuery, Row } from "../query.ts";
import { countAll } from "./_common.ts";

/** q11. */
export const q11: NexmarkQuery = {
  name: "q11",
  build: (s) =>
    s.bids().map((b) => b.bidder, { uid: "q11-bidder", name: "q11: Project bids" })
      .returns(Serializers.f64)
      .keyBy((bidder) => bidder, Serializers.f64)
      .window(EventTimeSessionWindows.withGap(10_000))
      .aggregate<number, number, Row>(countAll, {
        process(bidder, ctx, [n], out) {
          out.collect({
            bidder,
            bid_count: n!,
            starttime: ctx.window.start,
            endtime: ctx.window.end,
          });
        },
      }, { uid: "q11", name: "q11: Sessions", serializer: Serializers.f64 }),
};
