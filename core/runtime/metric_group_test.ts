import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { MetricGroup } from "./metric_group.ts";

Deno.test("metric names that /metrics would export as the same series are refused, naming both", () => {
  // counter x -> weir_user_x_total; histogram x -> weir_user_x, weir_user_x_sum, weir_user_x_count.
  const clashes: [(g: MetricGroup) => void, (g: MetricGroup) => void, RegExp][] = [
    [
      (g) => g.counter("hits"),
      (g) => g.gauge("hits_total", () => 1),
      /"hits_total".*counter "hits"/,
    ],
    [(g) => g.gauge("hits_total", () => 1), (g) => g.counter("hits"), /"hits".*gauge "hits_total"/],
    [
      (g) => g.histogram("lat"),
      (g) => g.gauge("lat_count", () => 1),
      /"lat_count".*histogram "lat"/,
    ],
    [(g) => g.gauge("lat_sum", () => 1), (g) => g.histogram("lat"), /"lat".*gauge "lat_sum"/],
  ];
  for (const [first, second, message] of clashes) {
    const g = new MetricGroup();
    first(g);
    assert.throws(
      () => second(g),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
    );
  }
  // Names whose series differ are fine: a counter "x" (x_total) beside a gauge "x_count".
  const g = new MetricGroup();
  g.counter("x");
  g.gauge("x_count", () => 2);
  g.histogram("y");
  g.gauge("y_max", () => 3);
  assert.deepEqual(g.samples().map((s) => s.name), ["x", "x_count", "y", "y_max"]);
});
