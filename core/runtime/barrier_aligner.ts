/**
 * Checkpoint barrier alignment at a task with several input channels
 * (Flink's `SingleCheckpointBarrierHandler`).
 *
 * Decisions:
 * - One checkpoint aligns at a time. Exactly-once (`aligned` barriers): a
 *   channel that delivered the barrier is blocked until every other channel
 *   has, so no record after the barrier reaches the operators before the
 *   snapshot. At-least-once: channels are not blocked; the snapshot is taken
 *   when the last channel delivers the barrier.
 * - An ended channel counts as having delivered every barrier: end of input
 *   on the last channel an alignment waits for completes it.
 * - A barrier of a newer checkpoint arriving while an older one aligns (it can
 *   overtake on an unblocked channel: at-least-once) subsumes the older one,
 *   as in Flink: its alignment is given up and reported (the task declines it,
 *   so the coordinator aborts it at once rather than at its timeout), and the
 *   newer one starts aligning.
 * - Barriers of a checkpoint already completed or given up are ignored.
 *
 * @module
 */
import type { BarrierMessage } from "./messages.ts";

/** What alignment reports. */
export interface AlignmentOutput {
  /** Every channel delivered `barrier` (or ended): take the snapshot, forward the barrier. */
  aligned(barrier: BarrierMessage, alignmentMs: number): void;
  /** Checkpoint `id`'s alignment was given up: barrier `by` overtook it. */
  subsumed(id: number, by: number): void;
}

/** Aligns the barriers of a task's input channels. */
export class BarrierAligner {
  /** Per channel: the gate skips it (it delivered the barrier, or ended). */
  readonly #blocked: boolean[];
  readonly #output: AlignmentOutput;
  readonly #now: () => number;
  readonly #arrived: boolean[];
  readonly #ended: boolean[];
  #arrivedCount = 0;
  #endedCount = 0;
  #aligning: BarrierMessage | null = null;
  #start = 0;
  /** Highest checkpoint id aligned or given up. */
  #last = -Infinity;

  /**
   * An aligner over `blocked.length` channels; it sets `blocked[c]` while
   * channel `c` must not be read (the input gate's flags).
   */
  constructor(
    blocked: boolean[],
    output: AlignmentOutput,
    now: () => number = () => performance.now(),
  ) {
    this.#blocked = blocked;
    this.#output = output;
    this.#now = now;
    this.#arrived = new Array<boolean>(blocked.length).fill(false);
    this.#ended = new Array<boolean>(blocked.length).fill(false);
  }

  /** The checkpoint being aligned, if any. */
  get aligning(): number | undefined {
    return this.#aligning?.checkpointId;
  }

  /** `barrier` arrived on `channel`. */
  onBarrier(channel: number, barrier: BarrierMessage): void {
    const id = barrier.checkpointId;
    if (id <= this.#last) return;
    const current = this.#aligning;
    if (current !== null && id < current.checkpointId) return;
    if (current !== null && id > current.checkpointId) {
      this.#reset(current.checkpointId);
      this.#output.subsumed(current.checkpointId, id);
    }
    if (this.#aligning === null) {
      this.#aligning = barrier;
      this.#start = this.#now();
    }
    if (!this.#arrived[channel]) {
      this.#arrived[channel] = true;
      this.#arrivedCount++;
      if (barrier.options.aligned) this.#blocked[channel] = true;
    }
    this.#maybeComplete();
  }

  /** `channel` ended: it delivers nothing more, and is read no more. */
  onEnd(channel: number): void {
    if (this.#ended[channel]) return;
    this.#ended[channel] = true;
    this.#endedCount++;
    this.#blocked[channel] = true;
    if (this.#arrived[channel]) {
      this.#arrived[channel] = false;
      this.#arrivedCount--;
    }
    this.#maybeComplete();
  }

  #maybeComplete(): void {
    const barrier = this.#aligning;
    if (barrier === null || this.#arrivedCount + this.#endedCount < this.#arrived.length) return;
    this.#reset(barrier.checkpointId);
    this.#output.aligned(barrier, this.#now() - this.#start);
  }

  /** Ends the current alignment: every channel that has not ended is read again. */
  #reset(id: number): void {
    this.#last = id;
    this.#aligning = null;
    this.#arrivedCount = 0;
    for (let c = 0; c < this.#arrived.length; c++) {
      this.#arrived[c] = false;
      this.#blocked[c] = this.#ended[c]!;
    }
  }
}
