/**
 * Nexmark q0, pass through: every bid.
 *
 * ```sql
 * SELECT auction, bidder, price, dateTime, extra FROM bid;
 * ```
 *
 * @module
 */
import type { NexmarkQuery, Row } from "../query.ts";

/** q0. */
export const q0: NexmarkQuery = {
  name: "q0",
  build: (s) =>
    s.bids().map<Row>((b) => ({
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      dateTime: b.dateTime,
      extra: b.extra,
    }), { uid: "q0", name: "q0: Project" }),
};
