/**
 * The regular (unwindowed) keyed inner join operator: each side's elements
 * are kept in keyed list state, and every arriving element is joined with the
 * other side's elements of its key. Without windows the state would grow
 * forever; a {@linkcode StateTtlConfig} lets an element expire that long
 * after it arrived (processing time, as Flink's `table.exec.state.ttl`), and
 * the backends' TTL cleanup removes it. The lists are ordinary keyed state,
 * checkpointed and restored by either backend.
 *
 * @module
 */
import type { KeyedStateBackend, NamespacedState } from "../state/backend.ts";
import { ListStateDescriptor } from "../state/descriptors.ts";
import type { Serializer } from "../state/serializer.ts";
import { plainStateSerializer } from "../state/plain_serializer.ts";
import type { ListState } from "../state/state.ts";
import type { StateTtlConfig } from "../state/ttl.ts";
import { StreamOperator } from "../runtime/operator.ts";
import { type KeySelector, runtimeContext } from "../runtime/operators.ts";
import type { FlatJoinFunction, JoinFunction } from "../time/join_functions.ts";
import type { Collector } from "./functions.ts";

/** Everything a regular join operator is built from. */
export interface RegularJoinSpec<L, R, O> {
  /** Key of left (input 0) elements. */
  readonly leftKey: KeySelector<L>;
  /** Key of right (input 1) elements. */
  readonly rightKey: KeySelector<R>;
  /** How long an element stays joinable (no expiry without it). */
  readonly ttl?: StateTtlConfig;
  /** Serializes kept left elements (JSON). */
  readonly leftSerializer?: Serializer<L>;
  /** Serializes kept right elements (JSON). */
  readonly rightSerializer?: Serializer<R>;
  /** Makes the result of each pair. */
  readonly fn: JoinFunction<L, R, O> | FlatJoinFunction<L, R, O>;
}

type Side = ListState<unknown> & NamespacedState<undefined>;

/** The regular join operator (see the module doc). */
export class RegularJoinOperator<L, R, O> extends StreamOperator<O> {
  readonly #spec: RegularJoinSpec<L, R, O>;
  readonly #fn: JoinFunction<L, R, O> | FlatJoinFunction<L, R, O>;
  #backend!: KeyedStateBackend;
  readonly #sides: Side[] = [];
  #ts: number | undefined = undefined;
  readonly #out: Collector<O> = { collect: (v) => this.output.collect(v, this.#ts) };

  /** Creates the operator. */
  constructor(spec: RegularJoinSpec<L, R, O>) {
    super();
    this.#spec = spec;
    this.#fn = typeof spec.fn === "function" ? spec.fn : Object.create(spec.fn);
  }

  /** Creates both sides' lists (restored ones on restore). */
  override async open(): Promise<void> {
    this.#backend = this.ctx.keyedBackend();
    // As a same-worker edge passes them: plain values come back as they were.
    const plain = plainStateSerializer<unknown>(
      `operator "${this.ctx.name}"`,
      "leftSerializer / rightSerializer in the join's options",
    );
    const sides = [
      ["left", this.#spec.leftSerializer],
      ["right", this.#spec.rightSerializer],
    ] as const;
    for (const [name, ser] of sides) {
      const d = new ListStateDescriptor(name, (ser ?? plain) as Serializer<unknown>);
      if (this.#spec.ttl) d.enableTimeToLive(this.#spec.ttl);
      this.#sides.push(this.#backend.state(d) as Side);
    }
    if (typeof this.#fn !== "function") await this.#fn.open?.(runtimeContext(this.ctx));
  }

  /** Keeps the element and joins it with the other side's elements of its key. */
  processElement(
    value: unknown,
    ts: number | undefined,
    input: number,
    keyGroup?: number,
    keyHash?: number,
  ): void {
    const left = input === 0;
    this.#backend.setCurrentKey(
      left ? this.#spec.leftKey(value as L) : this.#spec.rightKey(value as R),
      keyGroup,
      keyHash,
    );
    this.#ts = ts;
    this.#sides[left ? 0 : 1]!.add(value);
    const others = this.#sides[left ? 1 : 0]!.get();
    if (others === undefined) return;
    const fn = this.#fn;
    for (const o of others) {
      const l = (left ? value : o) as L, r = (left ? o : value) as R;
      if (typeof fn === "function") this.#out.collect(fn(l, r));
      else fn.join(l, r, this.#out);
    }
  }

  /** Closes the function. */
  override async close(): Promise<void> {
    if (typeof this.#fn !== "function") await this.#fn.close?.();
  }
}
