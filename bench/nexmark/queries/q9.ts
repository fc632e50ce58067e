/**
 * Nexmark q9, winning bids: each auction with its highest bid made while it
 * was open (the earliest of equal prices; equal times by `extra`, so the
 * result does not depend on arrival order). An updating result: a new row
 * for an auction whenever its winning bid changes. Per auction only the
 * auction and its best bid so far are kept (`_winning_bids.ts`), not every
 * bid of an open auction as the SQL's join would.
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
import type { NexmarkQuery, Row } from "../query.ts";
import { winningBids } from "./_winning_bids.ts";

/** q9. */
export const q9: NexmarkQuery = {
  name: "q9",
  key: (r) => String(r.id),
  build: (s) =>
    winningBids(s.auctions(), s.bids(), "q9").map<Row>(({ a, b }) => ({
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
    }), { uid: "q9-row", name: "q9: Row" }),
};
