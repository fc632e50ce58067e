/**
 * The functions joins apply: a {@linkcode JoinFunction} (or
 * {@linkcode FlatJoinFunction}) per matching pair, a
 * {@linkcode CoGroupFunction} per key and window with both sides' elements,
 * and a {@linkcode ProcessJoinFunction} per pair of an interval join.
 *
 * @module
 */
import type { Collector, RichFunction } from "../dataflow/functions.ts";
import type { OutputTag } from "../runtime/output_tag.ts";

/**
 * Makes one result from a matching pair.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { JoinFunction } from "@weir/weir";
 * const pair: JoinFunction<{ id: number }, { id: number; n: string }, string> = (a, b) =>
 *   `${a.id}:${b.n}`;
 * assert.equal(pair({ id: 1 }, { id: 1, n: "x" }), "1:x");
 * ```
 */
export type JoinFunction<A, B, O> = (first: A, second: B) => O;

/**
 * Emits zero or more results per matching pair.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FlatJoinFunction } from "@weir/weir";
 * const out: string[] = [];
 * const f: FlatJoinFunction<number, number, string> = {
 *   join(a, b, o) { if (a < b) o.collect(`${a}<${b}`); },
 * };
 * f.join(1, 2, { collect: (s) => out.push(s) });
 * assert.deepEqual(out, ["1<2"]);
 * ```
 */
export interface FlatJoinFunction<A, B, O> extends RichFunction {
  /** Handles one matching pair. */
  join(first: A, second: B, out: Collector<O>): void;
}

/**
 * Sees all elements of both sides that share a key and a window (either side
 * may be empty).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CoGroupFunction } from "@weir/weir";
 * const out: string[] = [];
 * const counts: CoGroupFunction<string, string, string> = {
 *   coGroup(as, bs, o) { o.collect(`${as.length}/${bs.length}`); },
 * };
 * counts.coGroup(["a"], [], { collect: (s) => out.push(s) });
 * assert.deepEqual(out, ["1/0"]);
 * ```
 */
export interface CoGroupFunction<A, B, O> extends RichFunction {
  /** Handles one key's elements of one window. */
  coGroup(first: A[], second: B[], out: Collector<O>): void;
}

/**
 * What a {@linkcode ProcessJoinFunction} sees for a pair.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProcessJoinContext } from "@weir/weir";
 * const ctx: ProcessJoinContext = {
 *   leftTimestamp: () => 1, rightTimestamp: () => 3, timestamp: () => 3, output: () => {},
 * };
 * assert.equal(ctx.timestamp(), Math.max(ctx.leftTimestamp(), ctx.rightTimestamp()));
 * ```
 */
export interface ProcessJoinContext {
  /** The left element's timestamp. */
  leftTimestamp(): number;
  /** The right element's timestamp. */
  rightTimestamp(): number;
  /** The result's timestamp: the larger of the two. */
  timestamp(): number;
  /** Emits to a side output. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Handles each pair of an interval join.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProcessJoinFunction } from "@weir/weir";
 * const out: string[] = [];
 * const f: ProcessJoinFunction<string, string, string> = {
 *   processElement(l, r, ctx, o) { o.collect(`${l}${r}@${ctx.timestamp()}`); },
 * };
 * f.processElement("a", "b", {
 *   leftTimestamp: () => 1, rightTimestamp: () => 2, timestamp: () => 2, output: () => {},
 * }, { collect: (s) => out.push(s) });
 * assert.deepEqual(out, ["ab@2"]);
 * ```
 */
export interface ProcessJoinFunction<L, R, O> extends RichFunction {
  /** Handles one pair whose timestamps are within the bounds. */
  processElement(left: L, right: R, ctx: ProcessJoinContext, out: Collector<O>): void;
}
