/**
 * q9's join and ranking in one keyed step: each auction with the best bid
 * (see {@linkcode beats}) made while it was open
 * (`A.dateTime <= B.dateTime <= A.expires`), emitted each time it changes.
 *
 * Only the best bid so far can win, so per auction this keeps the auction
 * and that one bid rather than every bid until the auction closes; both are
 * dropped once the watermark passes `expires`, when no bid that is not late
 * can still fall in the auction's time. A bid that arrives before its
 * auction (another source subtask) waits in a list until the auction comes
 * or the watermark passes the bid, after which no auction that is not late
 * can contain it. As in an interval join, an auction or bid behind the
 * watermark on arrival is late and dropped. Auction ids are unique (the
 * generator's): a second auction with an open auction's id is an error.
 *
 * @module
 */
import {
  type Collector,
  type CoProcessFunction,
  type DataStream,
  type KeyedProcessContext,
  type ListState,
  ListStateDescriptor,
  type OnTimerContext,
  type RuntimeContext,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../../../mod.ts";
import type { Auction, Bid } from "../model.ts";
import { AUCTION_SERIALIZER, BID_SERIALIZER } from "../serializers.ts";

/** An auction and its winning bid so far. */
export interface AuctionBid {
  /** The auction. */
  readonly a: Auction;
  /** The bid. */
  readonly b: Bid;
}

/** Whether bid `a` beats bid `b`: higher price, then earlier, then smaller `extra`. */
export function beats(a: Bid, b: Bid): boolean {
  if (a.price !== b.price) return a.price > b.price;
  if (a.dateTime !== b.dateTime) return a.dateTime < b.dateTime;
  return a.extra < b.extra;
}

/** The open auction of the key. */
export const AUCTION_STATE: ValueStateDescriptor<Auction> = new ValueStateDescriptor(
  "auction",
  AUCTION_SERIALIZER,
);
/** Its best bid so far. */
export const BEST_STATE: ValueStateDescriptor<Bid> = new ValueStateDescriptor(
  "best",
  BID_SERIALIZER,
);
/** Bids that came before their auction. */
export const EARLY_STATE: ListStateDescriptor<Bid> = new ListStateDescriptor(
  "early",
  BID_SERIALIZER,
);

/** The keyed function (auction id) of {@linkcode winningBids}, auctions first, bids second. */
export class WinningBids implements CoProcessFunction<Auction, Bid, AuctionBid> {
  // Plain fields: the operator runs a per-subtask `Object.create` copy, which has no private ones.
  /** The open auction. */
  auction!: ValueState<Auction>;
  /** Its best bid so far. */
  best!: ValueState<Bid>;
  /** Bids that came before the auction. */
  early!: ListState<Bid>;

  /** Gets the state. */
  open(ctx: RuntimeContext): void {
    this.auction = ctx.getState(AUCTION_STATE);
    this.best = ctx.getState(BEST_STATE);
    this.early = ctx.getListState(EARLY_STATE);
  }

  /** Keeps the auction until it closes and offers it the bids that came first. */
  processElement1(a: Auction, ctx: KeyedProcessContext<unknown>, out: Collector<AuctionBid>): void {
    if (late(ctx)) return;
    if (this.auction.value() !== undefined) {
      throw new Error(`Nexmark q9: auction ${a.id} arrived twice while open`);
    }
    this.auction.update(a);
    ctx.timerService().registerEventTimeTimer(a.expires + 1);
    const early = this.early.get();
    if (early === undefined) return;
    this.early.clear();
    for (const b of early) offer(this.best, a, b, out);
  }

  /** Offers the bid to its auction, or keeps it until the auction comes. */
  processElement2(b: Bid, ctx: KeyedProcessContext<unknown>, out: Collector<AuctionBid>): void {
    if (late(ctx)) return;
    const a = this.auction.value();
    if (a !== undefined) {
      offer(this.best, a, b, out);
      return;
    }
    this.early.add(b);
    ctx.timerService().registerEventTimeTimer(b.dateTime + 1);
  }

  /** Drops what the watermark (`>= t`) made unable to match. */
  onTimer(t: number, _ctx: OnTimerContext<unknown>): void {
    const a = this.auction.value();
    if (a !== undefined && a.expires < t) {
      this.auction.clear();
      this.best.clear();
    }
    const early = this.early.get();
    if (early === undefined) return;
    const live = early.filter((b) => b.dateTime >= t);
    if (live.length < early.length) this.early.update(live);
  }
}

/** Makes `b` the auction's best bid, and emits the pair, when it is in time and beats the best. */
function offer(best: ValueState<Bid>, a: Auction, b: Bid, out: Collector<AuctionBid>): void {
  if (b.dateTime < a.dateTime || b.dateTime > a.expires) return;
  const old = best.value();
  if (old !== undefined && !beats(b, old)) return;
  best.update(b);
  out.collect({ a, b });
}

function late(ctx: KeyedProcessContext<unknown>): boolean {
  return ctx.timestamp()! < ctx.currentWatermark();
}

/** Each auction with its new best bid whenever that changes; `uid` names the operator. */
export function winningBids(
  auctions: DataStream<Auction>,
  bids: DataStream<Bid>,
  uid: string,
): DataStream<AuctionBid> {
  return auctions.connect(bids)
    .keyBy((a) => a.id, (b) => b.auction, Serializers.f64)
    .process(new WinningBids(), { uid, name: `${uid}: Winning bids` });
}
