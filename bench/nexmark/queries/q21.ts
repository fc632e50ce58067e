/**
 * Nexmark q21, add channel id: the bids from a hot channel or with a
 * `channel_id` in their URL, with that id (the hot channels' own ids 0–3).
 *
 * ```sql
 * SELECT auction, bidder, price, channel,
 *   CASE
 *     WHEN lower(channel) = 'apple' THEN '0'
 *     WHEN lower(channel) = 'google' THEN '1'
 *     WHEN lower(channel) = 'facebook' THEN '2'
 *     WHEN lower(channel) = 'baidu' THEN '3'
 *     ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)
 *   END AS channel_id
 * FROM bid
 * WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL
 *   OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu');
 * ```
 *
 * @module
 */
import type { NexmarkQuery, Row } from "../query.ts";

const HOT: Record<string, string> = { apple: "0", google: "1", facebook: "2", baidu: "3" };
const CHANNEL_ID = /(&|^)channel_id=([^&]*)/;

/** q21. */
export const q21: NexmarkQuery = {
  name: "q21",
  build: (s) =>
    s.bids().flatMap<Row>((b, out) => {
      const channelId = HOT[b.channel.toLowerCase()] ?? CHANNEL_ID.exec(b.url)?.[2];
      if (channelId === undefined) return;
      out.collect({
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        channel_id: channelId,
      });
    }, { uid: "q21", name: "q21: Channel id" }),
};
