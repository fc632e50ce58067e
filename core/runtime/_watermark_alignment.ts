/**
 * The watermark alignment groups of a job run, in the main thread (the part
 * of Flink's SourceCoordinator that handles ReportedWatermarkEvent): every
 * reader of a group, of any source naming it and on any thread or worker,
 * reports its watermark; each report is answered with the highest watermark
 * that reader may have, the group's lowest plus its source's max drift. Pure:
 * the job carries the messages.
 *
 * @module
 */
import { WatermarkAlignmentGroup } from "../connectors/split_watermarks.ts";
import type { ReportedWatermark, WatermarkAlignmentEvent } from "./control_messages.ts";

/**
 * The alignment groups by name.
 *
 * @example Two sources in one group: the faster is held within the drift of the slower
 * ```ts
 * import assert from "node:assert/strict";
 * import { WatermarkAlignmentGroups } from "./_watermark_alignment.ts";
 * const groups = new WatermarkAlignmentGroups();
 * const report = (uid: string, watermark: number) =>
 *   groups.receive({ type: "reportedWatermark", uid, subtask: 0, group: "g", maxDriftMs: 100, watermark });
 * assert.equal(report("views", 5_000).maxAllowedWatermark, 5_100);
 * assert.equal(report("clicks", 1_000).maxAllowedWatermark, 1_100);
 * assert.equal(report("views", 5_000).maxAllowedWatermark, 1_100);
 * ```
 */
export class WatermarkAlignmentGroups {
  readonly #groups = new Map<string, WatermarkAlignmentGroup>();

  /** Records `report` and answers its reader with its highest allowed watermark. */
  receive(report: ReportedWatermark): WatermarkAlignmentEvent {
    let group = this.#groups.get(report.group);
    if (!group) this.#groups.set(report.group, group = new WatermarkAlignmentGroup());
    const member = `${report.uid}/${report.subtask}`;
    // A finished or idle reader (+∞) holds nobody back: leaving is the same and frees it.
    if (report.watermark === Infinity) group.leave(member);
    else group.report(member, report.watermark);
    return {
      type: "watermarkAlignment",
      uid: report.uid,
      subtask: report.subtask,
      maxAllowedWatermark: group.maxAllowedWatermark(report.maxDriftMs),
    };
  }
}
