/**
 * q9's join: each bid with the auction it is for, when the bid
 * was made while the auction was open (`A.dateTime <= B.dateTime <= A.expires`).
 * An interval join on the auction id with bounds `[0, longest auction]`: the
 * generator bounds an auction's length, so an auction is dropped once the
 * watermark passes its longest possible end, and a bid once it passes the bid.
 *
 * @module
 */
import { type DataStream, Serializers } from "../../../mod.ts";
import type { NexmarkStreams } from "../generator.ts";
import type { Auction, Bid } from "../model.ts";
import { AUCTION_SERIALIZER, BID_SERIALIZER } from "../serializers.ts";

/** A bid and its (open) auction. */
export interface AuctionBid {
  /** The auction. */
  readonly a: Auction;
  /** The bid. */
  readonly b: Bid;
}

/** Bids joined with their auctions while open; `name` prefixes the operators' uids. */
export function bidsOnOpenAuctions(s: NexmarkStreams, name: string): DataStream<AuctionBid> {
  return s.auctions().keyBy((a) => a.id, Serializers.f64)
    .intervalJoin(s.bids().keyBy((b) => b.auction, Serializers.f64))
    .between(0, s.generator.maxAuctionLengthMs())
    .process<AuctionBid>({
      processElement(a, b, _ctx, out) {
        if (b.dateTime <= a.expires) out.collect({ a, b });
      },
    }, {
      uid: `${name}-join`,
      name: `${name}: Join`,
      leftSerializer: AUCTION_SERIALIZER,
      rightSerializer: BID_SERIALIZER,
    });
}
