/**
 * Nexmark q14, calculation: bids priced (in euros) strictly between 1M and
 * 50M, with the time of day (by the UTC hour) and the number of `c`s in `extra`.
 *
 * ```sql
 * SELECT auction, bidder, 0.908 * price AS price,
 *   CASE
 *     WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
 *     WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
 *     ELSE 'otherTime'
 *   END AS bidTimeType,
 *   dateTime, extra, count_char(extra, 'c') AS c_counts
 * FROM bid
 * WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
 * ```
 *
 * @module
 */
import type { NexmarkQuery, Row } from "../query.ts";
import { euros } from "./_common.ts";

/** The time of day of an hour, as q14's CASE. */
export function bidTimeType(hour: number): string {
  if (hour >= 8 && hour <= 18) return "dayTime";
  if (hour <= 6 || hour >= 20) return "nightTime";
  return "otherTime";
}

/** How many times `c` occurs in `s`. */
export function countChar(s: string, c: string): number {
  let n = 0;
  for (let i = s.indexOf(c); i !== -1; i = s.indexOf(c, i + 1)) n++;
  return n;
}

/** q14. */
export const q14: NexmarkQuery = {
  name: "q14",
  build: (s) =>
    s.bids().flatMap<Row>((b, out) => {
      const price = euros(b.price);
      if (!(price > 1_000_000 && price < 50_000_000)) return;
      out.collect({
        auction: b.auction,
        bidder: b.bidder,
        price,
        bidTimeType: bidTimeType(Math.floor(b.dateTime / 3_600_000) % 24),
        dateTime: b.dateTime,
        extra: b.extra,
        c_counts: countChar(b.extra, "c"),
      });
    }, { uid: "q14", name: "q14: Calculate" }),
};
