/**
 * Nexmark q1, currency conversion: every bid with its price in euros.
 *
 * ```sql
 * SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid;
 * ```
 *
 * @module
 */
import type { NexmarkQuery, Row } from "../query.ts";
import { euros } from "./_common.ts";

/** q1. */
export const q1: NexmarkQuery = {
  name: "q1",
  build: (s) =>
    s.bids().map<Row>((b) => ({
      auction: b.auction,
      bidder: b.bidder,
      price: euros(b.price),
      dateTime: b.dateTime,
      extra: b.extra,
    }), { uid: "q1", name: "q1: Euros" }),
};
