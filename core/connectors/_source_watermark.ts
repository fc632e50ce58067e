/**
 * How a reader emits a watermark in-band, after the records it collected
 * before it (Flink's `SourceOutput.emitWatermark`). Not part of the public
 * `SourceOutput` contract: only `TestSource` uses it, and only the output the
 * source task hands a reader of `env.addSource` carries it (under
 * `env.fromSource` the strategy's generators own event time).
 *
 * @module
 */

/** The key of an output's in-band watermark emitter. */
export const EMIT_WATERMARK: unique symbol = Symbol("weir.source.emitWatermark");

/** An output that may carry in-band watermarks. */
export interface WatermarkCarrier {
  /** Emits watermark `timestamp` downstream, after the records collected before it. */
  readonly [EMIT_WATERMARK]?: (timestamp: number) => void;
}
