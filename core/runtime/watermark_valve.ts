/**
 * The watermark valve of a task with several input channels (Flink's
 * `StatusWatermarkValve`): it combines the channels' watermarks and
 * idleness into the task's input watermark and its own watermark status.
 *
 * Decisions:
 * - The combined watermark is the minimum over the channels that are not
 *   idle; it only moves forward.
 * - An idle channel does not hold the watermark back; when every channel is
 *   idle, event time moves to the highest of their watermarks (as Flink's
 *   valve does) and the task reports itself idle downstream.
 * - A record or a watermark on an idle channel makes it active again. It
 *   holds the watermark back from then on, but the combined watermark never
 *   goes back: until the channel catches up, nothing is emitted.
 * - An ended channel counts as +∞ and is never idle.
 *
 * @module
 */

/** Where the valve sends what changed. */
export interface ValveOutput {
  /** The combined watermark advanced to `timestamp`. */
  emitWatermark(timestamp: number): void;
  /** Every channel became idle (`true`), or one became active again (`false`). */
  emitStatus(idle: boolean): void;
}

/** Combines the watermarks and idleness of a task's input channels. */
export class WatermarkValve {
  readonly #watermarks: number[];
  readonly #idle: boolean[];
  readonly #output: ValveOutput;
  #idleCount = 0;
  #combined = -Infinity;
  #statusIdle = false;

  /** A valve over `channels` input channels. */
  constructor(channels: number, output: ValveOutput) {
    this.#watermarks = new Array<number>(channels).fill(-Infinity);
    this.#idle = new Array<boolean>(channels).fill(false);
    this.#output = output;
  }

  /** The combined watermark emitted last (-∞ before any). */
  get watermark(): number {
    return this.#combined;
  }

  /** Whether `channel` is idle. */
  isIdle(channel: number): boolean {
    return this.#idle[channel]!;
  }

  /** A record arrived on `channel`: an idle channel becomes active. */
  onRecord(channel: number): void {
    if (this.#idleCount > 0) this.#setIdle(channel, false);
  }

  /** Watermark `timestamp` arrived on `channel`. */
  onWatermark(channel: number, timestamp: number): void {
    if (this.#idleCount > 0) this.#setIdle(channel, false);
    this.#watermarks[channel] = timestamp;
    this.#advance();
  }

  /** `channel`'s producer reported itself idle or active. */
  onStatus(channel: number, idle: boolean): void {
    this.#setIdle(channel, idle);
  }

  /**
   * `channel` ended: it holds nothing back any more. With `last`, every
   * channel has ended and the task finishes (its operators end event time).
   */
  onEnd(channel: number, last: boolean): void {
    this.#watermarks[channel] = Infinity;
    if (this.#idle[channel]) {
      this.#idle[channel] = false;
      this.#idleCount--;
    }
    if (!last) this.#advance();
  }

  #setIdle(channel: number, idle: boolean): void {
    if (this.#idle[channel] === idle) return;
    this.#idle[channel] = idle;
    this.#idleCount += idle ? 1 : -1;
    if (idle) this.#advance();
    const all = this.#idleCount === this.#idle.length;
    if (all !== this.#statusIdle) {
      this.#statusIdle = all;
      this.#output.emitStatus(all);
    }
  }

  #advance(): void {
    let min = Infinity;
    let max = -Infinity;
    const n = this.#watermarks.length;
    for (let c = 0; c < n; c++) {
      const w = this.#watermarks[c]!;
      if (w > max) max = w;
      if (!this.#idle[c] && w < min) min = w;
    }
    if (this.#idleCount === n) min = max;
    if (min > this.#combined) {
      this.#combined = min;
      this.#output.emitWatermark(min);
    }
  }
}
