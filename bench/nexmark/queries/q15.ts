/**
 * Nexmark q15, bidding statistics report: per day, counts of bids, distinct
 * bidders and distinct auctions, in total and per price rank. An updating
 * result: a new row for the day with every bid.
 *
 * ```sql
 * SELECT DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day,
 *   count(*) AS total_bids,
 *   count(*) filter (where price < 10000) AS rank1_bids,
 *   count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
 *   count(*) filter (where price >= 1000000) AS rank3_bids,
 *   count(distinct bidder) AS total_bidders,
 *   count(distinct bidder) filter (where price < 10000) AS rank1_bidders,
 *   count(distinct bidder) filter (where price >= 10000 and price < 1000000) AS rank2_bidders,
 *   count(distinct bidder) filter (where price >= 1000000) AS rank3_bidders,
 *   count(distinct auction) AS total_auctions,
 *   count(distinct auction) filter (where price < 10000) AS rank1_auctions,
 *   count(distinct auction) filter (where price >= 10000 and price < 1000000) AS rank2_auctions,
 *   count(distinct auction) filter (where price >= 1000000) AS rank3_auctions
 * FROM bid
 * GROUP BY DATE_FORMAT(dateTime, 'yyyy-MM-dd');
 * ```
 *
 * @module
 */
import { Serializers } from "../../../mod.ts";
import type { NexmarkQuery } from "../query.ts";
import { day } from "./_common.ts";
import { bidStats, STAT_BID, statBid } from "./_bid_stats.ts";

/** q15. */
export const q15: NexmarkQuery = {
  name: "q15",
  key: (r) => String(r.day),
  build: (s) =>
    s.bids().map(statBid, { uid: "q15-bids", name: "q15: Project bids" }).returns(STAT_BID)
      .keyBy((b) => day(b.dateTime), Serializers.string)
      .process(bidStats<string>((b) => ({ day: day(b.dateTime) })), {
        uid: "q15",
        name: "q15: Statistics per day",
      }),
};
