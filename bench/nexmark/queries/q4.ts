/**
 * Nexmark q4, average price per category: the winning (highest) bid of each
 * auction among the bids made while it was open, averaged per category
 * (`AVG` of BIGINT: truncated). An updating result: a new row for a category
 * whenever one of its auctions gets a higher bid.
 *
 * ```sql
 * SELECT Q.category AS id, AVG(Q.final) AS final
 * FROM (
 *   SELECT MAX(B.price) AS final, A.category
 *   FROM auction A, bid B
 *   WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
 *   GROUP BY A.id, A.category
 * ) Q
 * GROUP BY Q.category;
 * ```
 *
 * @module
 */
import {
  type KeyedProcessFunction,
  type MapState,
  MapStateDescriptor,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../../../mod.ts";
import type { NexmarkQuery, Row } from "../query.ts";

interface Max {
  id: number;
  category: number;
  final: number;
}

const maxPrice = new ValueStateDescriptor("max", Serializers.f64);
const finals = new MapStateDescriptor("finals", Serializers.f64, Serializers.f64);
const sumCount = new ValueStateDescriptor(
  "sum-count",
  Serializers.tuple(Serializers.f64, Serializers.f64),
);

/** The auction columns q4 uses (the planner's projection: less state to read per bid). */
interface OpenAuction {
  id: number;
  category: number;
  dateTime: number;
  expires: number;
}
const OPEN_AUCTION = Serializers.record<OpenAuction & Record<string, unknown>>({
  id: Serializers.f64,
  category: Serializers.f64,
  dateTime: Serializers.f64,
  expires: Serializers.f64,
});
const PRICE = Serializers.record<{ auction: number; price: number; dateTime: number }>({
  auction: Serializers.f64,
  price: Serializers.f64,
  dateTime: Serializers.f64,
});

/** q4. */
export const q4: NexmarkQuery = {
  name: "q4",
  key: (r) => String(r.id),
  build: (s) =>
    s.auctions()
      .map((a): OpenAuction => ({
        id: a.id,
        category: a.category,
        dateTime: a.dateTime,
        expires: a.expires,
      }), { uid: "q4-auctions", name: "q4: Project auctions" })
      .keyBy((a) => a.id, Serializers.f64)
      .intervalJoin(
        s.bids().map((b) => ({ auction: b.auction, price: b.price, dateTime: b.dateTime }), {
          uid: "q4-bids",
          name: "q4: Project bids",
        }).keyBy((b) => b.auction, Serializers.f64),
      )
      // A bid made while its auction was open: B.dateTime in [A.dateTime, A.expires].
      .between(0, s.generator.maxAuctionLengthMs())
      .process<{ a: OpenAuction; b: { price: number } }>({
        processElement(a, b, _ctx, out) {
          if (b.dateTime <= a.expires) out.collect({ a, b });
        },
      }, {
        uid: "q4-join",
        name: "q4: Join",
        leftSerializer: OPEN_AUCTION,
        rightSerializer: PRICE,
      })
      .keyBy(({ a }) => a.id, Serializers.f64)
      .process<Max>(
        {
          open(ctx) {
            this.max = ctx.getState(maxPrice);
          },
          processElement({ a, b }, _ctx, out) {
            const max = this.max!.value();
            if (max !== undefined && max >= b.price) return;
            this.max!.update(b.price);
            out.collect({ id: a.id, category: a.category, final: b.price });
          },
        } as
          & KeyedProcessFunction<
            number,
            { a: { id: number; category: number }; b: { price: number } },
            Max
          >
          & {
            max?: ValueState<number>;
          },
        { uid: "q4-max", name: "q4: Max per auction" },
      )
      .keyBy((m) => m.category, Serializers.f64)
      .process<Row>(
        {
          open(ctx) {
            this.finals = ctx.getMapState(finals);
            this.sum = ctx.getState(sumCount);
          },
          processElement(m, _ctx, out) {
            const old = this.finals!.get(m.id);
            this.finals!.put(m.id, m.final);
            const [sum, count] = this.sum!.value() ?? [0, 0];
            const next: [number, number] = old === undefined
              ? [sum + m.final, count + 1]
              : [sum + m.final - old, count];
            this.sum!.update(next);
            out.collect({ id: m.category, final: Math.trunc(next[0] / next[1]) });
          },
        } as KeyedProcessFunction<number, Max, Row> & {
          finals?: MapState<number, number>;
          sum?: ValueState<[number, number]>;
        },
        { uid: "q4", name: "q4: Average per category" },
      ),
};
