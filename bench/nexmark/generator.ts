/**
 * The Nexmark event generator, after the Beam/Flink Nexmark generator: event
 * number `n` decides the event's kind (person : auction : bid = 1 : 3 : 46 in
 * each block of 50), its time (`baseTime + n / tps` seconds: `tps` events per
 * second of event time) and its ids; hot auctions, hot bidders and hot
 * sellers are chosen as there (most bids go to the newest auction of a block
 * of 100, most bids come from one bidder of a block of 100 people, most
 * auctions from one seller of such a block), auctions last up to twice the
 * time until `numInFlightAuctions` more auctions open, and `extra` pads each
 * event to its kind's average size. Random strings (item names,
 * descriptions, email addresses, `extra`) are windows of fixed random texts
 * at random offsets: as random as strings built letter by letter, for two
 * random numbers each.
 *
 * An event is a function of `(seed, n)` alone (its random numbers come from a
 * PRNG seeded by both), so the events do not depend on parallelism: source
 * subtask `i` of `p` makes events `i, i+p, …`, each subtask in time order.
 * (Flink's generator instead gives each subtask its own timeline and id space;
 * one shared timeline keeps the output a function of the seed alone.) Random
 * numbers differ from Java's `SplittableRandom`, so the events are not the
 * same as Flink's, but their distributions and field meanings are.
 *
 * @module
 */
import { type DataStream, type StreamEnvironment, WatermarkStrategy } from "../../mod.ts";
import { AUCTION_SERIALIZER, BID_SERIALIZER, PERSON_SERIALIZER } from "./serializers.ts";
import {
  AUCTION,
  type Auction,
  BID,
  type Bid,
  eventTime,
  type NexmarkEvent,
  PERSON,
  type Person,
} from "./model.ts";

/** Generator settings; the defaults are Flink Nexmark's. */
export interface NexmarkConfig {
  /** Events per second of event time (Flink's `first-event.rate`; its benchmark suite uses 10M). */
  readonly tps: number;
  /** Time of event 0 (epoch ms). */
  readonly baseTime: number;
  /** People per block of events (1). */
  readonly personProportion: number;
  /** Auctions per block (3). */
  readonly auctionProportion: number;
  /** Bids per block (46). */
  readonly bidProportion: number;
  /** 1 in this many bids is not for the hot auction (2). */
  readonly hotAuctionRatio: number;
  /** 1 in this many auctions is not by the hot seller (4). */
  readonly hotSellersRatio: number;
  /** 1 in this many bids is not by the hot bidder (4). */
  readonly hotBiddersRatio: number;
  /** Auctions open at a time, roughly (100). */
  readonly numInFlightAuctions: number;
  /** People who bid and sell (1000). */
  readonly numActivePeople: number;
  /** Average sizes in bytes, reached with `extra` (200, 500, 100). */
  readonly avgPersonByteSize: number;
  /** See `avgPersonByteSize`. */
  readonly avgAuctionByteSize: number;
  /** See `avgPersonByteSize`. */
  readonly avgBidByteSize: number;
}

/** Flink Nexmark's defaults, with the benchmark suite's 10M events/s of event time. */
export const DEFAULT_CONFIG: NexmarkConfig = {
  tps: 10_000_000,
  baseTime: Date.UTC(2026, 0, 1),
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numInFlightAuctions: 100,
  numActivePeople: 1000,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
};

const FIRST_PERSON_ID = 1000;
const FIRST_AUCTION_ID = 1000;
const FIRST_CATEGORY_ID = 10;
const NUM_CATEGORIES = 5;
const PERSON_ID_LEAD = 10;
const AUCTION_ID_LEAD = 10;
const HOT_AUCTION_BLOCK = 100;
const HOT_BIDDER_BLOCK = 100;
const HOT_SELLER_BLOCK = 100;
const HOT_CHANNELS = ["Google", "Facebook", "Baidu", "Apple"];
const CHANNELS = 10_000;
const US_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES = [
  "Phoenix",
  "Los Angeles",
  "San Francisco",
  "Boise",
  "Portland",
  "Bend",
  "Redmond",
  "Seattle",
  "Kent",
  "Cheyenne",
];
const FIRST_NAMES = [
  "Peter",
  "Paul",
  "Luke",
  "John",
  "Saul",
  "Vicky",
  "Kate",
  "Julie",
  "Sarah",
  "Deiter",
  "Walter",
];
const LAST_NAMES = [
  "Shultz",
  "Abrams",
  "Spencer",
  "White",
  "Bartels",
  "Walton",
  "Smith",
  "Jones",
  "Noris",
];

type Random = () => number;

function nextInt(r: Random, n: number): number {
  return Math.floor(r() * n);
}

/** A URL part: 3 to `max - 1` random letters, about 1 in 13 of them `special`, trimmed. */
function tableString(r: Random, max: number, special: string): string {
  let len = 3 + nextInt(r, max - 3);
  let s = "";
  while (len-- > 0) {
    s += nextInt(r, 13) === 0 ? special : String.fromCharCode(97 + nextInt(r, 26));
  }
  return s.trim();
}

/** `len` random letters, about 1 in 13 of them a space when `spaces`. */
function randomText(r: Random, len: number, spaces: boolean): string {
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    bytes[i] = spaces && nextInt(r, 13) === 0 ? 32 : 97 + nextInt(r, 26);
  }
  return new TextDecoder().decode(bytes);
}

/** The fixed tables (hot URLs, channels, the random texts), from a fixed seed as Flink's. */
function mulberry32(seed: number): Random {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tables = mulberry32(0x4e584d4b);
function baseUrl(r: Random): string {
  const dir = () => tableString(r, 5, "_");
  // Joined, so the table holds flat strings: a query scanning a URL does not flatten it first.
  return ["https://www.nexmark.com/", dir(), "/", dir(), "/", dir(), "/item.htm?query=1"].join("");
}
const HOT_URLS = HOT_CHANNELS.map(() => baseUrl(tables));
/** Java's `Math.abs(Integer.reverse(i))`. */
function reversedBits(i: number): number {
  let x = i | 0;
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1);
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2);
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
  return Math.abs((x >>> 16) | (x << 16));
}
const CHANNEL_URLS = Array.from({ length: CHANNELS }, (_, i) => {
  const url = baseUrl(tables);
  return nextInt(tables, 10) > 0 ? [url, "&channel_id=", reversedBits(i)].join("") : url;
});
const CHANNEL_NAMES = Array.from({ length: CHANNELS }, (_, i) => `channel-${i}`);
const PADDING = randomText(tables, 1 << 17, false);
/**
 * Random text as Nexmark's nextString makes (letters, 1 in 13 a space): an
 * event's strings are windows of it, from two random numbers instead of two
 * per character; each window is as random as a string made for the event.
 */
const TEXT = randomText(tables, 1 << 17, true);
/** "First Last" for every pair of names. */
const FULL_NAMES = FIRST_NAMES.flatMap((first) => LAST_NAMES.map((last) => `${first} ${last}`));
/** "0000" … "9999": the groups of a credit card number. */
const FOUR_DIGITS = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, "0"));

/** A random string of 3 to `max - 1` characters (Nexmark's nextString), trimmed. */
function nextString(r: Random, max: number): string {
  const len = 3 + nextInt(r, max - 3);
  const at = nextInt(r, TEXT.length - len);
  return TEXT.substring(at, at + len).trim();
}

/** Padding so that `currentSize` plus it averages `average` (±20%). */
function nextExtra(r: Random, currentSize: number, average: number): string {
  if (currentSize > average) return "";
  const want = average - currentSize;
  const delta = Math.round(want * 0.2);
  const size = want - delta + (delta === 0 ? 0 : nextInt(r, 2 * delta));
  const at = nextInt(r, PADDING.length - size);
  return PADDING.substring(at, at + size);
}

const LN_1E6 = 6 * Math.LN10;

/** Nexmark's price: `10^(6u)` dollars for a uniform `u`, in cents (exp costs less than pow). */
function nextPrice(r: Random): number {
  return Math.round(Math.exp(r() * LN_1E6) * 100);
}

/** Builds events from event numbers for one config. */
export class NexmarkGenerator {
  /** The settings. */
  readonly config: NexmarkConfig;
  readonly #total: number;
  readonly #usPerEvent: number;

  /** Checks the settings; throws a `RangeError` naming a bad one. */
  constructor(config: Partial<NexmarkConfig> = {}) {
    const c = { ...DEFAULT_CONFIG, ...config };
    if (!(c.tps > 0 && Number.isFinite(c.tps))) {
      throw new RangeError(`Nexmark tps must be a positive number, got ${c.tps}`);
    }
    for (const k of ["personProportion", "auctionProportion", "bidProportion"] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 1) {
        throw new RangeError(`Nexmark ${k} must be a positive integer, got ${c[k]}`);
      }
    }
    this.config = c;
    this.#total = c.personProportion + c.auctionProportion + c.bidProportion;
    this.#usPerEvent = 1e6 / c.tps;
  }

  /** Time of event `n` (epoch ms). */
  timestampOf(n: number): number {
    return this.config.baseTime + Math.floor(Math.floor(n * this.#usPerEvent) / 1000);
  }

  /**
   * An upper bound of an auction's length (`expires - dateTime`, ms): the
   * queries that join bids to open auctions keep an auction that long.
   */
  maxAuctionLengthMs(): number {
    const c = this.config;
    const ahead = Math.floor(c.numInFlightAuctions * this.#total / c.auctionProportion);
    return 2 * (Math.ceil(ahead * this.#usPerEvent / 1000) + 1) + 1;
  }

  /** Event `n`, with `random` seeded for it. */
  event(n: number, random: Random): NexmarkEvent {
    const ts = this.timestampOf(n);
    const rem = n % this.#total;
    const c = this.config;
    if (rem < c.personProportion) {
      return { event_type: PERSON, person: this.#person(n, random, ts), auction: null, bid: null };
    }
    if (rem < c.personProportion + c.auctionProportion) {
      return {
        event_type: AUCTION,
        person: null,
        auction: this.#auction(n, random, ts),
        bid: null,
      };
    }
    return { event_type: BID, person: null, auction: null, bid: this.#bid(n, random, ts) };
  }

  #lastPerson(n: number): number {
    const p = this.config.personProportion;
    const epoch = Math.floor(n / this.#total);
    const offset = Math.min(n % this.#total, p - 1);
    return epoch * p + offset;
  }

  #lastAuction(n: number): number {
    const { personProportion: p, auctionProportion: a } = this.config;
    let epoch = Math.floor(n / this.#total);
    let offset = n % this.#total;
    if (offset < p) {
      epoch--;
      offset = a - 1;
    } else if (offset >= p + a) offset = a - 1;
    else offset -= p;
    return epoch * a + offset;
  }

  /** A person among the active ones, or one of the next few to register. */
  #randomPerson(n: number, r: Random): number {
    const people = this.#lastPerson(n) + 1;
    const active = Math.min(people, this.config.numActivePeople);
    return people - active + nextInt(r, active + PERSON_ID_LEAD);
  }

  /** An auction likely still open, or one of the next few to open. */
  #randomAuction(n: number, r: Random): number {
    const last = this.#lastAuction(n);
    const min = Math.max(last - this.config.numInFlightAuctions, 0);
    return min + nextInt(r, last - min + 1 + AUCTION_ID_LEAD);
  }

  #person(n: number, r: Random, ts: number): Person {
    const name = FULL_NAMES[nextInt(r, FULL_NAMES.length)]!;
    const emailAddress = `${nextString(r, 7)}@${nextString(r, 5)}.com`;
    const creditCard = `${FOUR_DIGITS[nextInt(r, 10_000)]} ${FOUR_DIGITS[nextInt(r, 10_000)]} ${
      FOUR_DIGITS[nextInt(r, 10_000)]
    } ${FOUR_DIGITS[nextInt(r, 10_000)]}`;
    const city = US_CITIES[nextInt(r, US_CITIES.length)]!;
    const state = US_STATES[nextInt(r, US_STATES.length)]!;
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length +
      state.length;
    return {
      id: this.#lastPerson(n) + FIRST_PERSON_ID,
      name,
      emailAddress,
      creditCard,
      city,
      state,
      dateTime: ts,
      extra: nextExtra(r, size, this.config.avgPersonByteSize),
    };
  }

  #auction(n: number, r: Random, ts: number): Auction {
    const c = this.config;
    const seller = nextInt(r, c.hotSellersRatio) > 0
      ? Math.floor(this.#lastPerson(n) / HOT_SELLER_BLOCK) * HOT_SELLER_BLOCK
      : this.#randomPerson(n, r);
    const category = FIRST_CATEGORY_ID + nextInt(r, NUM_CATEGORIES);
    const initialBid = nextPrice(r);
    // Up to twice the time until numInFlightAuctions more auctions have opened.
    const ahead = Math.floor(c.numInFlightAuctions * this.#total / c.auctionProportion);
    const horizon = this.timestampOf(n + ahead) - ts;
    const expires = ts + 1 + nextInt(r, Math.max(horizon * 2, 1));
    const itemName = nextString(r, 20);
    const description = nextString(r, 100);
    const reserve = initialBid + nextPrice(r);
    const size = 8 + itemName.length + description.length + 40;
    return {
      id: this.#lastAuction(n) + FIRST_AUCTION_ID,
      itemName,
      description,
      initialBid,
      reserve,
      dateTime: ts,
      expires,
      seller: seller + FIRST_PERSON_ID,
      category,
      extra: nextExtra(r, size, c.avgAuctionByteSize),
    };
  }

  #bid(n: number, r: Random, ts: number): Bid {
    const c = this.config;
    const auction = nextInt(r, c.hotAuctionRatio) > 0
      ? Math.floor(this.#lastAuction(n) / HOT_AUCTION_BLOCK) * HOT_AUCTION_BLOCK
      : this.#randomAuction(n, r);
    // The second person of the block, so hot bidders and hot sellers differ.
    const bidder = nextInt(r, c.hotBiddersRatio) > 0
      ? Math.floor(this.#lastPerson(n) / HOT_BIDDER_BLOCK) * HOT_BIDDER_BLOCK + 1
      : this.#randomPerson(n, r);
    const price = nextPrice(r);
    let channel: string, url: string;
    if (nextInt(r, 2) > 0) {
      const i = nextInt(r, HOT_CHANNELS.length);
      channel = HOT_CHANNELS[i]!;
      url = HOT_URLS[i]!;
    } else {
      const i = nextInt(r, CHANNELS);
      channel = CHANNEL_NAMES[i]!;
      url = CHANNEL_URLS[i]!;
    }
    return {
      auction: auction + FIRST_AUCTION_ID,
      bidder: bidder + FIRST_PERSON_ID,
      price,
      channel,
      url,
      dateTime: ts,
      extra: nextExtra(r, 32, c.avgBidByteSize),
    };
  }
}

/** How a job reads Nexmark events. */
export interface NexmarkSourceOptions {
  /** Events to generate (unbounded when absent). */
  readonly events?: number | undefined;
  /** Events per second of wall-clock time over all subtasks (as fast as possible when absent). */
  readonly rate?: number | undefined;
  /** Seed of the random numbers (0). */
  readonly seed?: number | undefined;
  /** Generator settings. */
  readonly config?: Partial<NexmarkConfig> | undefined;
}

/** Nexmark's source watermark: 4 s behind the highest event time, as its DDL declares. */
export const WATERMARK_DELAY_MS = 4000;

/** Nexmark's three streams, with event time and watermarks from the events. */
export class NexmarkStreams {
  /** The generator (for its config and bounds). */
  readonly generator: NexmarkGenerator;
  /** Every event. */
  readonly events: DataStream<NexmarkEvent>;
  #persons: DataStream<Person> | undefined;
  #auctions: DataStream<Auction> | undefined;
  #bids: DataStream<Bid> | undefined;

  /** Adds the generator source (uid `nexmark-source`) to `env`. */
  constructor(env: StreamEnvironment, options: NexmarkSourceOptions = {}) {
    const generator = new NexmarkGenerator(options.config);
    this.generator = generator;
    this.events = env.generate<NexmarkEvent>({
      count: options.events,
      ratePerSecond: options.rate,
      seed: options.seed ?? 0,
      generate: (n, random) => generator.event(n, random),
    }).uid("nexmark-source").name("Nexmark Source")
      .assignTimestampsAndWatermarks(
        WatermarkStrategy.forBoundedOutOfOrderness<NexmarkEvent>(WATERMARK_DELAY_MS)
          .withTimestampAssigner(eventTime),
        { uid: "nexmark-watermarks", name: "Nexmark Watermarks" },
      );
  }

  /** The people. */
  persons(): DataStream<Person> {
    return this.#persons ??= this.events.flatMap<Person>((e, out) => {
      if (e.person !== null) out.collect(e.person);
    }, { uid: "persons", name: "Persons" }).returns(PERSON_SERIALIZER);
  }

  /** The auctions. */
  auctions(): DataStream<Auction> {
    return this.#auctions ??= this.events.flatMap<Auction>((e, out) => {
      if (e.auction !== null) out.collect(e.auction);
    }, { uid: "auctions", name: "Auctions" }).returns(AUCTION_SERIALIZER);
  }

  /** The bids. */
  bids(): DataStream<Bid> {
    return this.#bids ??= this.events.flatMap<Bid>((e, out) => {
      if (e.bid !== null) out.collect(e.bid);
    }, { uid: "bids", name: "Bids" }).returns(BID_SERIALIZER);
  }
}
