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
      const url = b.url;
      // The ends of parts 2 to 5 of url.split("/"), without building the array.
      const s2 = url.indexOf("/", url.indexOf("/") + 1);
      const s3 = s2 === -1 ? -1 : url.indexOf("/", s2 + 1);
      const s4 = s3 === -1 ? -1 : url.indexOf("/", s3 + 1);
      const s5 = s4 === -1 ? -1 : url.indexOf("/", s4 + 1);
      const s6 = s5 === -1 ? -1 : url.indexOf("/", s5 + 1);
      const part = (from: number, to: number) =>
        from === -1 ? null : url.substring(from + 1, to === -1 ? url.length : to);
      return {
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        dir1: part(s3, s4),
        dir2: part(s4, s5),
        dir3: part(s5, s6),
      };
    }, { uid: "q22", name: "q22: Directories" }),
};
