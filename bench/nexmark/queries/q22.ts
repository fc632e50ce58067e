/**
 * Nexmark q22, get URL directories: each bid with the first three
 * directories of its URL (null where the URL has fewer parts).
 *
 * ```sql
 * SELECT auction, bidder, price, channel,
 *   SPLIT_INDEX(url, '/', 3) AS dir1, SPLIT_INDEX(url, '/', 4) AS dir2, SPLIT_INDEX(url, '/', 5) AS dir3
 * FROM bid;
 * ```
 *
 * @module
 */
import type { NexmarkQuery, Row } from "../query.ts";

/** q22. */
export const q22: NexmarkQuery = {
  name: "q22",
  build: (s) =>
    s.bids().map<Row>((b) => {
      const parts = b.url.split("/");
      return {
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        dir1: parts[3] ?? null,
        dir2: parts[4] ?? null,
        dir3: parts[5] ?? null,
      };
    }, { uid: "q22", name: "q22: Directories" }),
};
