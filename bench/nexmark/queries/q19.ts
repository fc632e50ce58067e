/**
 * Nexmark q19, auction top-10 price: the ten highest bids of each auction
 * (equal prices ordered by time, then `extra`, so the result does not depend
 * on arrival order). An updating result: when a bid enters an auction's top
 * 10 at rank r, the rows of ranks r…10 are emitted again; the latest row per
 * (auction, rank_number) is the result.
 *
 * ```sql
 * SELECT * FROM
 * (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid)
 * WHERE rank_number <= 10;
 * ```
 *
 * @module
 */
import {
  type KeyedProcessFunction,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../../../mod.ts";
import type { Bid } from "../model.ts";
import type { NexmarkQuery, Row } from "../query.ts";
import { beats } from "./_winning_bids.ts";
import { bidRow } from "./q18.ts";
import { BID_SERIALIZER } from "../serializers.ts";

const TOP = 10;
const topDesc = new ValueStateDescriptor<Bid[]>("top", Serializers.array(BID_SERIALIZER));
/**
 * What orders the 10th bid of a full top 10 (price, time, extra): a bid that
 * does not beat it is skipped without reading the list.
 */
const floorDesc = new ValueStateDescriptor(
  "floor",
  Serializers.tuple(Serializers.f64, Serializers.f64, Serializers.string),
);

/** q19. */
export const q19: NexmarkQuery = {
  name: "q19",
  key: (r) => `${r.auction}\u0000${r.rank_number}`,
  build: (s) =>
    s.bids().keyBy((b) => b.auction, Serializers.f64)
      .process<Row>(
        {
          open(ctx) {
            this.top = ctx.getState(topDesc);
            this.floor = ctx.getState(floorDesc);
          },
          processElement(b, _ctx, out) {
            const floor = this.floor!.value();
            if (
              floor !== undefined &&
              !beats(b, { price: floor[0], dateTime: floor[1], extra: floor[2] } as Bid)
            ) return;
            const top = this.top!.value() ?? [];
            let at = top.length;
            while (at > 0 && beats(b, top[at - 1]!)) at--;
            if (at >= TOP) return;
            top.splice(at, 0, b);
            if (top.length > TOP) top.length = TOP;
            this.top!.update(top);
            const last = top[TOP - 1];
            if (last) this.floor!.update([last.price, last.dateTime, last.extra]);
            for (let i = at; i < top.length; i++) {
              out.collect({ ...bidRow(top[i]!), rank_number: i + 1 });
            }
          },
        } as KeyedProcessFunction<number, Bid, Row> & {
          top?: ValueState<Bid[]>;
          floor?: ValueState<[number, number, string]>;
        },
        { uid: "q19", name: "q19: Top 10 per auction" },
      ),
};
