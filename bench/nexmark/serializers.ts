/**
 * Compact serializers of the Nexmark events (fields in a fixed order, no
 * names): the joins and top-N queries keep events in state, where JSON would
 * dominate their cost on the LSM backend, and the streams of whole events
 * cross workers in them. Fields are declared in the generator's order, so a
 * decoded event has the hidden class of a generated one.
 *
 * @module
 */
import { type Serializer, Serializers } from "../../mod.ts";
import type { Auction, Bid, Person } from "./model.ts";

const { f64, string } = Serializers;

/** A person. */
export const PERSON_SERIALIZER: Serializer<Person> = Serializers.record<
  Person & Record<string, unknown>
>({
  id: f64,
  name: string,
  emailAddress: string,
  creditCard: string,
  city: string,
  state: string,
  dateTime: f64,
  extra: string,
});

/** An auction. */
export const AUCTION_SERIALIZER: Serializer<Auction> = Serializers.record<
  Auction & Record<string, unknown>
>({
  id: f64,
  itemName: string,
  description: string,
  initialBid: f64,
  reserve: f64,
  dateTime: f64,
  expires: f64,
  seller: f64,
  category: f64,
  extra: string,
});

/** A bid. */
export const BID_SERIALIZER: Serializer<Bid> = Serializers.record<Bid & Record<string, unknown>>({
  auction: f64,
  bidder: f64,
  price: f64,
  channel: string,
  url: string,
  dateTime: f64,
  extra: string,
});
