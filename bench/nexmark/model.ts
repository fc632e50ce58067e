/**
 * The Nexmark events (an online auction), in the shape of Flink Nexmark's
 * source table: an event is a person, an auction or a bid, with times as
 * epoch milliseconds.
 *
 * @module
 */

/** A person who sells or bids. */
export interface Person {
  /** Person id (from 1000). */
  readonly id: number;
  /** "First Last". */
  readonly name: string;
  /** Email address. */
  readonly emailAddress: string;
  /** "dddd dddd dddd dddd". */
  readonly creditCard: string;
  /** US city. */
  readonly city: string;
  /** US state (two letters). */
  readonly state: string;
  /** When the person registered (epoch ms). */
  readonly dateTime: number;
  /** Padding to the average person size. */
  readonly extra: string;
}

/** An auction of one item. */
export interface Auction {
  /** Auction id (from 1000). */
  readonly id: number;
  /** Item name. */
  readonly itemName: string;
  /** Item description. */
  readonly description: string;
  /** Initial bid (cents). */
  readonly initialBid: number;
  /** Reserve price (cents). */
  readonly reserve: number;
  /** When the auction opened (epoch ms). */
  readonly dateTime: number;
  /** When it closes (epoch ms). */
  readonly expires: number;
  /** The seller's person id. */
  readonly seller: number;
  /** Category id (10 .. 14). */
  readonly category: number;
  /** Padding to the average auction size. */
  readonly extra: string;
}

/** A bid on an auction. */
export interface Bid {
  /** The auction's id. */
  readonly auction: number;
  /** The bidder's person id. */
  readonly bidder: number;
  /** Price (cents). */
  readonly price: number;
  /** Where the bid came from ("Google", …, "channel-N"). */
  readonly channel: string;
  /** The page the bid was made on. */
  readonly url: string;
  /** When the bid was made (epoch ms). */
  readonly dateTime: number;
  /** Padding to the average bid size. */
  readonly extra: string;
}

/** Event types, as Flink Nexmark's `event_type` column. */
export const PERSON = 0;
/** See {@linkcode PERSON}. */
export const AUCTION = 1;
/** See {@linkcode PERSON}. */
export const BID = 2;

/** One event: exactly one of `person`, `auction`, `bid` is set, as `event_type` says. */
export interface NexmarkEvent {
  /** 0 person, 1 auction, 2 bid. */
  readonly event_type: 0 | 1 | 2;
  /** The person (event_type 0). */
  readonly person: Person | null;
  /** The auction (event_type 1). */
  readonly auction: Auction | null;
  /** The bid (event_type 2). */
  readonly bid: Bid | null;
}

/** The event's time (epoch ms). */
export function eventTime(e: NexmarkEvent): number {
  return (e.bid ?? e.auction ?? e.person)!.dateTime;
}
