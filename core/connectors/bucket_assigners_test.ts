import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { BasePathBucketAssigner, DateTimeBucketAssigner } from "./bucket_assigners.ts";

const at = (time: number) => ({ currentProcessingTime: () => time, timestamp: () => undefined });

Deno.test("DateTimeBucketAssigner: Flink's default format yyyy-MM-dd--HH over processing time, in UTC unless a zone is given", () => {
  const t = Date.UTC(2024, 0, 2, 3, 4, 5, 67);
  assert.equal(new DateTimeBucketAssigner().getBucketId("x", at(t)), "2024-01-02--03");
  assert.equal(
    new DateTimeBucketAssigner("yyyy/MM/dd/HH/mm/ss.SSS").getBucketId("x", at(t)),
    "2024/01/02/03/04/05.067",
  );
  assert.equal(new DateTimeBucketAssigner("'dt='yy-M-d").getBucketId("x", at(t)), "dt=24-1-2");
  // '' is a quote, in quoted text too, as Java's DateTimeFormatter.
  assert.equal(
    new DateTimeBucketAssigner("HH 'o''clock' ''yy''").getBucketId("x", at(t)),
    "03 o'clock '24'",
  );
  assert.equal(
    new DateTimeBucketAssigner("ss.SSSSSSSSS").getBucketId("x", at(t)),
    "05.067000000",
  );
  assert.equal(
    new DateTimeBucketAssigner("yyyy-MM-dd--HH", "Asia/Kolkata").getBucketId("x", at(t)),
    "2024-01-02--08",
  );
  // Midnight in New York is hour 0, not 24; the day before in UTC+0 terms.
  assert.equal(
    new DateTimeBucketAssigner("yyyy-MM-dd--HH", "America/New_York")
      .getBucketId("x", at(Date.UTC(2024, 0, 2, 5))),
    "2024-01-02--00",
  );
  // The record's timestamp plays no part: processing time, as Flink's.
  const assigner = new DateTimeBucketAssigner<string>();
  assert.equal(
    assigner.getBucketId("x", { currentProcessingTime: () => t, timestamp: () => 0 }),
    "2024-01-02--03",
  );
  assert.equal(new BasePathBucketAssigner<string>().getBucketId("x", at(t)), "");
});

Deno.test("DateTimeBucketAssigner: a pattern letter weir does not format, an unclosed quote or an unknown zone is a ConfigError", () => {
  for (
    const [args, message] of [
      [["yyyy-MMM-dd"], /"MMM", which weir does not support/],
      [["EEE HH"], /"EEE", which weir does not support/],
      [["'dt=yyyy"], /unclosed quote/],
      // Java: "Too many pattern letters"; weir wrote a folder such as 001.
      [["yyyy-MM-ddd"], /"ddd", which weir does not support/],
      [["HHH"], /"HHH", which weir does not support/],
      [["mmm"], /"mmm", which weir does not support/],
      [["sss"], /"sss", which weir does not support/],
      [["SSSSSSSSSS"], /"SSSSSSSSSS", which weir does not support/],
      [["yyyy", "Mars/Base"], /unknown time zone "Mars\/Base"/],
      [[""], /format must be a non-empty string/],
    ] as const
  ) {
    assert.throws(
      () => new DateTimeBucketAssigner(...(args as readonly string[] as [string, string?])),
      (e) => e instanceof ConfigError && message.test(e.message),
      JSON.stringify(args),
    );
  }
});
