/**
 * The aggregate q15 and q16 share: counts of bids, distinct bidders and
 * distinct auctions, in total and per price rank, kept per key in keyed state
 * (the distinct sets as map state from id to the ranks it was seen in).
 *
 * @module
 */
import {
  type KeyedProcessFunction,
  type MapState,
  MapStateDescriptor,
  type Serializer,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../../../mod.ts";
import type { Bid } from "../model.ts";
import type { Row } from "../query.ts";
import { rank } from "./_common.ts";

/** The counts, in q15's column order. */
export const STAT_COLUMNS = [
  "total_bids",
  "rank1_bids",
  "rank2_bids",
  "rank3_bids",
  "total_bidders",
  "rank1_bidders",
  "rank2_bidders",
  "rank3_bidders",
  "total_auctions",
  "rank1_auctions",
  "rank2_auctions",
  "rank3_auctions",
] as const;

const countsDesc = new ValueStateDescriptor(
  "counts",
  Serializers.array(Serializers.f64),
);
const biddersDesc = new MapStateDescriptor("bidders", Serializers.f64, Serializers.f64);
const auctionsDesc = new MapStateDescriptor("auctions", Serializers.f64, Serializers.f64);

/** Adds `id`, seen at price rank `r`, to a distinct set; counts at `at` (total, rank 1..3). */
function distinct(
  set: MapState<number, number>,
  id: number,
  r: number,
  counts: number[],
  at: number,
) {
  const bit = 1 << r;
  const seen = set.get(id) ?? 0;
  if (seen & bit) return;
  if (seen === 0) counts[at]!++;
  counts[at + r]!++;
  set.put(id, seen | bit);
}

/** The columns of a bid the counts read, and q16's channel: what crosses to the counting subtask. */
export type StatBid = Pick<Bid, "auction" | "bidder" | "price" | "channel" | "dateTime">;

/** {@linkcode StatBid}'s serializer. */
export const STAT_BID: Serializer<StatBid> = Serializers.record<StatBid>({
  auction: Serializers.f64,
  bidder: Serializers.f64,
  price: Serializers.f64,
  channel: Serializers.string,
  dateTime: Serializers.f64,
});

/** A bid's {@linkcode StatBid} columns. */
export function statBid(b: Bid): StatBid {
  return {
    auction: b.auction,
    bidder: b.bidder,
    price: b.price,
    channel: b.channel,
    dateTime: b.dateTime,
  };
}

/**
 * A keyed function that updates the counts with each bid and emits the
 * key's row: `columns(bid, latest bid time of the key)` first, then the counts.
 */
export function bidStats<K>(
  columns: (b: StatBid, latest: number) => Row,
): KeyedProcessFunction<K, StatBid, Row> {
  type Self = KeyedProcessFunction<K, StatBid, Row> & {
    counts?: ValueState<number[]>;
    bidders?: MapState<number, number>;
    auctions?: MapState<number, number>;
  };
  const fn: Self = {
    open(ctx) {
      this.counts = ctx.getState(countsDesc);
      this.bidders = ctx.getMapState(biddersDesc);
      this.auctions = ctx.getMapState(auctionsDesc);
    },
    processElement(this: Self, b, _ctx, out) {
      // The counts, then the latest bid time.
      const counts = this.counts!.value() ?? new Array<number>(STAT_COLUMNS.length + 1).fill(0);
      const latest = Math.max(counts[STAT_COLUMNS.length]!, b.dateTime);
      counts[STAT_COLUMNS.length] = latest;
      const r = rank(b.price);
      counts[0]!++;
      counts[r]!++;
      distinct(this.bidders!, b.bidder, r, counts, 4);
      distinct(this.auctions!, b.auction, r, counts, 8);
      this.counts!.update(counts);
      const row = columns(b, latest);
      for (let i = 0; i < STAT_COLUMNS.length; i++) row[STAT_COLUMNS[i]!] = counts[i]!;
      out.collect(row);
    },
  };
  return fn;
}
