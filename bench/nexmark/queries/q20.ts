/**
 * Nexmark q20, expand bid with auction: each bid with its auction, for
 * auctions in category 10 (a regular join: either side may come first, and
 * both are kept).
 *
 * ```sql
 * SELECT auction, bidder, price, channel, url, B.dateTime, B.extra,
 *   itemName, description, initialBid, reserve, A.dateTime, expires, seller, category, A.extra
 * FROM bid AS B INNER JOIN auction AS A ON B.auction = A.id
 * WHERE A.category = 10;
 * ```
 *
 * @module
 */
import { Serializers } from "../../../mod.ts";
import type { NexmarkQuery, Row } from "../query.ts";
import { AUCTION_SERIALIZER, BID_SERIALIZER } from "../serializers.ts";

/** q20. */
export const q20: NexmarkQuery = {
  name: "q20",
  build: (s) => {
    const auctions = s.auctions().filter((a) => a.category === 10, { uid: "q20-auctions" });
    return s.bids().keyBy((b) => b.auction, Serializers.f64)
      .innerJoin(auctions.keyBy((a) => a.id, Serializers.f64))
      .apply<Row>((b, a) => ({
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
      }), {
        uid: "q20",
        name: "q20: Join",
        leftSerializer: BID_SERIALIZER,
        rightSerializer: AUCTION_SERIALIZER,
      });
  },
};
