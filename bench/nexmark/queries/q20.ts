/**
 * Nexmark q20, expand bid with auction: each bid with its auction, for
 * auctions in category 10 (a regular join: either side may come first).
 *
 * ```sql
 * SELECT auction, bidder, price, channel, url, B.dateTime, B.extra,
 *   itemName, description, initialBid, reserve, A.dateTime, expires, seller, category, A.extra
 * FROM bid AS B INNER JOIN auction AS A ON B.auction = A.id
 * WHERE A.category = 10;
 * ```
 *
 * A keyed `connect(...).process` on the auction id rather than the regular
 * join (`innerJoin`), which keeps every bid in case another auction of its id
 * comes: auction ids are unique (the generator's), so a bid that comes after
 * its auction is joined or dropped at once and never kept. Per auction this
 * keeps the auction when it is in category 10, else only its category (so
 * its later bids are known to match nothing), and the bids that came before
 * it until it comes. Nothing expires: as in Flink's unbounded join, the
 * auctions stay.
 *
 * @module
 */
import {
  type Collector,
  type CoProcessFunction,
  type KeyedProcessContext,
  type ListState,
  ListStateDescriptor,
  type RuntimeContext,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../../../mod.ts";
import type { Auction, Bid } from "../model.ts";
import type { NexmarkQuery, Row } from "../query.ts";
import { AUCTION_SERIALIZER, BID_SERIALIZER } from "../serializers.ts";

/** The auction of the key, when it is in category 10. */
export const MATCHED_STATE: ValueStateDescriptor<Auction> = new ValueStateDescriptor(
  "auction",
  AUCTION_SERIALIZER,
);
/** The category of the key's auction, when it is not 10. */
export const UNMATCHED_STATE: ValueStateDescriptor<number> = new ValueStateDescriptor(
  "other-category",
  Serializers.f64,
);
/** Bids that came before their auction. */
export const WAITING_STATE: ListStateDescriptor<Bid> = new ListStateDescriptor(
  "waiting",
  BID_SERIALIZER,
);

/** The keyed function (auction id) of q20, auctions first, bids second. */
export class ExpandBids implements CoProcessFunction<Auction, Bid, Row> {
  // Plain fields: the operator runs a per-subtask `Object.create` copy, which has no private ones.
  /** The auction, when in category 10. */
  matched!: ValueState<Auction>;
  /** The auction's category, when not 10. */
  unmatched!: ValueState<number>;
  /** Bids that came before the auction. */
  waiting!: ListState<Bid>;

  /** Gets the state. */
  open(ctx: RuntimeContext): void {
    this.matched = ctx.getState(MATCHED_STATE);
    this.unmatched = ctx.getState(UNMATCHED_STATE);
    this.waiting = ctx.getListState(WAITING_STATE);
  }

  /** Remembers the auction and joins the bids that came first. */
  processElement1(a: Auction, _ctx: KeyedProcessContext<unknown>, out: Collector<Row>): void {
    if (this.matched.value() !== undefined || this.unmatched.value() !== undefined) {
      throw new Error(`Nexmark q20: auction ${a.id} arrived twice`);
    }
    if (a.category === 10) this.matched.update(a);
    else this.unmatched.update(a.category);
    const waiting = this.waiting.get();
    if (waiting === undefined) return;
    this.waiting.clear();
    if (a.category === 10) { for (const b of waiting) out.collect(expanded(b, a)); }
  }

  /** Joins the bid with its auction, or keeps it until the auction comes. */
  processElement2(b: Bid, _ctx: KeyedProcessContext<unknown>, out: Collector<Row>): void {
    const a = this.matched.value();
    if (a !== undefined) out.collect(expanded(b, a));
    else if (this.unmatched.value() === undefined) this.waiting.add(b);
  }
}

function expanded(b: Bid, a: Auction): Row {
  return {
    auction: b.auction,
    bidder: b.bidder,
    price: b.price,
    channel: b.channel,
    url: b.url,
    bid_dateTime: b.dateTime,
    bid_extra: b.extra,
    itemName: a.itemName,
    description: a.description,
    initialBid: a.initialBid,
    reserve: a.reserve,
    auction_dateTime: a.dateTime,
    expires: a.expires,
    seller: a.seller,
    category: a.category,
    auction_extra: a.extra,
  };
}

/** q20. */
export const q20: NexmarkQuery = {
  name: "q20",
  build: (s) =>
    s.auctions().connect(s.bids())
      .keyBy((a) => a.id, (b) => b.auction, Serializers.f64)
      .process(new ExpandBids(), { uid: "q20", name: "q20: Join" }),
};
