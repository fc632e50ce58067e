/**
 * The functions a window applies when it fires: reduce and aggregate
 * functions pre-aggregate as elements arrive; a
 * {@linkcode ProcessWindowFunction} sees the window, its contents (or the
 * pre-aggregated result) and per-window state.
 *
 * @module
 */
import type { Collector, RuntimeContext } from "../dataflow/functions.ts";
import type { StateFor } from "../state/backend.ts";
import type { AnyStateDescriptor } from "../state/descriptors.ts";
import type { OutputTag } from "../runtime/output_tag.ts";
import type { Window } from "./window.ts";

export type { AggregateFunction } from "../state/state.ts";

/** Combines two values into one (`reduce`). */
export type ReduceFunction<T> = (a: T, b: T) => T;

/** Keyed state scoped to one key (and, for per-window state, one window). */
export interface KeyedStateStore {
  /** The state for `descriptor`. */
  getState<D extends AnyStateDescriptor>(descriptor: D): StateFor<D>;
}

/** What a {@linkcode ProcessWindowFunction} sees. */
export interface ProcessWindowContext<W extends Window> {
  /** The window being evaluated. */
  readonly window: W;
  /** Current processing time. */
  currentProcessingTime(): number;
  /** Current event time. */
  currentWatermark(): number;
  /** State of this key and window: cleared by the function in `clear`. */
  windowState(): KeyedStateStore;
  /** State of this key, across windows. */
  globalState(): KeyedStateStore;
  /** Emits to a side output. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Evaluates a window. `elements` are the window's contents, or the one
 * pre-aggregated value when combined with reduce or aggregate. Results carry
 * the window's max timestamp.
 */
export interface ProcessWindowFunction<IN, OUT, K, W extends Window> {
  /** Per-subtask set-up. */
  open?(ctx: RuntimeContext): void | Promise<void>;
  /** Evaluates the window. */
  process(key: K, context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>): void;
  /** The window is removed (end + allowed lateness): clear per-window state here. */
  clear?(context: ProcessWindowContext<W>): void;
  /** Releases resources. */
  close?(): void | Promise<void>;
}

/** A {@linkcode ProcessWindowFunction} of a non-keyed (`windowAll`) stream. */
export interface ProcessAllWindowFunction<IN, OUT, W extends Window> {
  /** Per-subtask set-up. */
  open?(ctx: RuntimeContext): void | Promise<void>;
  /** Evaluates the window. */
  process(context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>): void;
  /** The window is removed: clear per-window state here. */
  clear?(context: ProcessWindowContext<W>): void;
  /** Releases resources. */
  close?(): void | Promise<void>;
}
