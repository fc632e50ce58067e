/**
 * Nexmark q12, processing-time windows: bids per bidder per 10 s tumbling
 * window of processing time. At the end of a bounded input the open windows
 * fire too (with the final watermark), so every bid is counted once.
 *
 * ```sql
 * CREATE VIEW B AS SELECT *, PROCTIME() AS p_time FROM bid;
 * SELECT bidder, count(*) AS bid_count, window_start AS starttime, window_end AS endtime
 * FROM TABLE(TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
 * GROUP BY bidder, window_start, window_end;
 * ```
 *
 * @module
 */
import {
  Serializers,
  type TimeWindow,
  type Trigger,
  type TriggerContext,
  type TriggerResult,
  TumblingProcessingTimeWindows,
} from "../../../mod.ts";
import type { NexmarkQuery, Row } from "../query.ts";
import { countAll } from "./_common.ts";

/** Only the final watermark (+Infinity) reaches this. */
const END_OF_INPUT = Number.MAX_SAFE_INTEGER;

/** Fires at the window's end in processing time, or at the end of the input. */
const processingTimeOrEnd: Trigger<unknown, TimeWindow> = {
  onElement(_e: unknown, _ts: number | undefined, w: TimeWindow, ctx: TriggerContext) {
    ctx.registerProcessingTimeTimer(w.maxTimestamp());
    ctx.registerEventTimeTimer(END_OF_INPUT);
    return "CONTINUE";
  },
  onEventTime: (): TriggerResult => "FIRE_AND_PURGE",
  onProcessingTime: (): TriggerResult => "FIRE_AND_PURGE",
  clear(w: TimeWindow, ctx: TriggerContext) {
    ctx.deleteProcessingTimeTimer(w.maxTimestamp());
    ctx.deleteEventTimeTimer(END_OF_INPUT);
  },
};

/** q12. */
export const q12: NexmarkQuery = {
  name: "q12",
  build: (s) =>
    s.bids().map((b) => b.bidder, { uid: "q12-bidder", name: "q12: Project bids" })
      .returns(Serializers.f64)
      .keyBy((bidder) => bidder, Serializers.f64)
      .window(TumblingProcessingTimeWindows.of(10_000))
      .trigger(processingTimeOrEnd)
      .aggregate<number, number, Row>(countAll, {
        process(bidder, ctx, [n], out) {
          out.collect({
            bidder,
            bid_count: n!,
            starttime: ctx.window.start,
            endtime: ctx.window.end,
          });
        },
      }, { uid: "q12", name: "q12: Processing-time windows", serializer: Serializers.f64 }),
};
