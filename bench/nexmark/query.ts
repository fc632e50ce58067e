/**
 * What a Nexmark query is: a function from the Nexmark streams to a stream
 * of result rows whose fields are the columns of Flink Nexmark's query.
 *
 * Flink runs Nexmark as SQL, whose planner drops the columns a query does not
 * read before a shuffle. The queries here do the same by hand: a `map` to the
 * columns read downstream, with a record serializer (`returns`), before each
 * `keyBy` and global window; where a query reads whole events, they cross
 * workers in `serializers.ts`'s record serializers, which the streams carry.
 *
 * @module
 */
import type { DataStream } from "../../mod.ts";
import type { NexmarkStreams } from "./generator.ts";

/** One result row: column name to value (times as epoch ms). */
export type Row = Record<string, string | number | null>;

/** A query. */
export interface NexmarkQuery {
  /** "q0" … "q22". */
  readonly name: string;
  /** Adds the query to the job of `streams`; returns its result rows. */
  build(streams: NexmarkStreams): DataStream<Row>;
  /**
   * Queries with an updating result (SQL aggregates without windows, top-N,
   * deduplication) emit a new row whenever a key's result changes; the latest
   * row per `key` is the result. Append-only queries have no key.
   */
  readonly key?: (row: Row) => string;
}
