/**
 * The builder stages that window joins and coGroups share: the `where`
 * stage, which holds the first input's key until `equalTo` gives the
 * second's, and the windowed stage's trigger and lateness settings. Each
 * public stage (`JoinWhere`, `CoGroupWithWindow`, …) extends one of these
 * and says only what comes next.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { checkWholeMs } from "./_event_time_value.ts";
import type { DataStream } from "../dataflow/data_stream.ts";
import { checkKeySelector, type KeySelector } from "../runtime/operators.ts";
import type { Serializer } from "../state/serializer.ts";
import type { KeyedPair, TaggedUnion, TwoInputWindowConfig } from "./co_grouped_streams.ts";
import type { Trigger } from "./triggers.ts";
import type { Window } from "./window.ts";
import type { WindowAssigner } from "./window_assigners.ts";

/** @internal A join or coGroup with the first input's key; `Next` comes with the second's. */
export abstract class WhereStage<A, B, K, Next> {
  readonly #first: DataStream<A>;
  readonly #second: DataStream<B>;
  readonly #keyA: KeySelector<A, K>;
  readonly #keySerializer: Serializer<K>;

  /** Use `where` of a join or coGroup. */
  constructor(
    first: DataStream<A>,
    second: DataStream<B>,
    keyA: KeySelector<A, K>,
    keySerializer: Serializer<K>,
  ) {
    checkKeySelector(keyA, "where");
    this.#first = first;
    this.#second = second;
    this.#keyA = keyA;
    this.#keySerializer = keySerializer;
  }

  /** The second input's key (elements with equal keys meet). */
  equalTo(keySelector: KeySelector<B, K>): Next {
    checkKeySelector(keySelector, "equalTo");
    return this.withKeys({
      first: this.#first,
      second: this.#second,
      keyA: this.#keyA,
      keyB: keySelector,
      keySerializer: this.#keySerializer,
    });
  }

  /** The next stage, given both inputs and their keys. */
  protected abstract withKeys(pair: KeyedPair<A, B, K>): Next;
}

/** @internal A windowed join or coGroup before `apply`: its trigger and lateness. */
export abstract class WindowedStage<A, B, K, W extends Window> {
  /** Both inputs and their keys. */
  protected readonly pair: KeyedPair<A, B, K>;
  /** The windows. */
  protected readonly assigner: WindowAssigner<TaggedUnion<A, B>, W>;
  /** Trigger and lateness, as set so far. */
  protected readonly config: TwoInputWindowConfig<A, B, W> = {};

  /** Use `window` of a join or coGroup. */
  constructor(pair: KeyedPair<A, B, K>, assigner: WindowAssigner<TaggedUnion<A, B>, W>) {
    this.pair = pair;
    this.assigner = assigner;
  }

  /** Replaces the assigner's default trigger. */
  trigger(trigger: Trigger<TaggedUnion<A, B>, W>): this {
    this.config.trigger = trigger;
    return this;
  }

  /** Keeps event-time windows `ms` after their end; late elements fire them again. */
  allowedLateness(ms: number): this {
    if (!(ms >= 0)) throw new ConfigError(`Allowed lateness must be >= 0 ms, got ${ms}`);
    checkWholeMs("Allowed lateness", ms, true);
    this.config.allowedLateness = ms;
    return this;
  }
}
