/**
 * Nexmark q2, selection: the bids on every 123rd auction.
 *
 * ```sql
 * SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
 * ```
 *
 * @module
 */
import type { NexmarkQuery, Row } from "../query.ts";

/** q2. */
export const q2: NexmarkQuery = {
  name: "q2",
  build: (s) =>
    s.bids().flatMap<Row>((b, out) => {
      if (b.auction % 123 === 0) out.collect({ auction: b.auction, price: b.price });
    }, { uid: "q2", name: "q2: Filter" }),
};
