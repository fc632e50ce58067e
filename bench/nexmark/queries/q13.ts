/**
 * Nexmark q13, bounded side input join: each bid with the side input row of
 * `auction mod 10000`. The side input (Flink Nexmark's: 10 000 rows `i,i`)
 * is a lookup table every subtask loads when it opens.
 *
 * ```sql
 * SELECT B.auction, B.bidder, B.price, B.dateTime, S.value
 * FROM (SELECT *, PROCTIME() AS p_time FROM bid) B
 * JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S
 * ON mod(B.auction, 10000) = S.key;
 * ```
 *
 * @module
 */
import type { FlatMapFunction } from "../../../mod.ts";
import type { Bid } from "../model.ts";
import type { NexmarkQuery, Row } from "../query.ts";

const SIDE_INPUT_ROWS = 10_000;

/** q13. */
export const q13: NexmarkQuery = {
  name: "q13",
  build: (s) =>
    s.bids().flatMap<Row>(
      {
        open() {
          this.side = new Map(
            Array.from({ length: SIDE_INPUT_ROWS }, (_, i) => [i, String(i)] as const),
          );
        },
        flatMap(b, out) {
          const value = this.side!.get(b.auction % SIDE_INPUT_ROWS);
          if (value === undefined) return;
          out.collect({
            auction: b.auction,
            bidder: b.bidder,
            price: b.price,
            dateTime: b.dateTime,
            value,
          });
        },
      } as FlatMapFunction<Bid, Row> & { side?: Map<number, string> },
      { uid: "q13", name: "q13: Side input join" },
    ),
};
