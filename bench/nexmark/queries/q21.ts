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

const PARAM = "channel_id=";

/** `CASE lower(channel) …` of the hot channels, or undefined. */
function hotChannelId(channel: string): string | undefined {
  // Only names as long as a hot one can be one: most channels skip the lowercasing.
  const n = channel.length;
  if (n !== 5 && n !== 6 && n !== 8) return undefined;
  // A switch compares the new string's characters; a property lookup would first look it up
  // among the engine's unique strings.
  switch (channel.toLowerCase()) {
    case "apple":
      return "0";
    case "google":
      return "1";
    case "facebook":
      return "2";
    case "baidu":
      return "3";
  }
  return undefined;
}

/** `REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)` without a regular expression. */
export function channelIdOf(url: string): string | undefined {
  for (let at = url.indexOf(PARAM); at !== -1; at = url.indexOf(PARAM, at + 1)) {
    if (at !== 0 && url.charCodeAt(at - 1) !== 38 /* & */) continue;
    const from = at + PARAM.length;
    const end = url.indexOf("&", from);
    return url.substring(from, end === -1 ? url.length : end);
  }
  return undefined;
}

/** q21. */
export const q21: NexmarkQuery = {
  name: "q21",
  build: (s) =>
    s.bids().flatMap<Row>((b, out) => {
      const channelId = hotChannelId(b.channel) ?? channelIdOf(b.url);
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
