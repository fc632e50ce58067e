/**
 * Nexmark q16, channel statistics report: q15's counts per channel and day,
 * with the latest minute of the day a bid came in. An updating result: a
 * new row for the (channel, day) with every bid.
 *
 * ```sql
 * SELECT channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day,
 *   max(DATE_FORMAT(dateTime, 'HH:mm')) AS minute,
 *   count(*) AS total_bids, ... (the counts of q15)
 * FROM bid
 * GROUP BY channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd');
 * ```
 *
 * @module
 */
import { Serializers } from "../../../mod.ts";
import type { NexmarkQuery } from "../query.ts";
import { day, hourMinute } from "./_common.ts";
import { bidStats, STAT_BID, statBid } from "./_bid_stats.ts";

/** q16. */
export const q16: NexmarkQuery = {
  name: "q16",
  key: (r) => `${r.channel}\u0000${r.day}`,
  build: (s) =>
    s.bids().map(statBid, { uid: "q16-bids", name: "q16: Project bids" }).returns(STAT_BID)
      .keyBy((b) => `${b.channel}\u0000${day(b.dateTime)}`, Serializers.string)
      .process(
        bidStats<string>((b, latest) => ({
          channel: b.channel,
          day: day(b.dateTime),
          minute: hourMinute(latest),
        })),
        { uid: "q16", name: "q16: Statistics per channel and day" },
      ),
};
