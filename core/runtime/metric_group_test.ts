import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { MetricGroup } from "./metric_group.ts";

Deno.test("metric names that /metrics would export as the same series are refused, naming both", () => {
  // counter or gauge x -> weir_user_x; histogram x -> weir_user_x, weir_user_x_sum, weir_user_x_count.
  const clashes: [(g: MetricGroup) => void, (g: MetricGroup) => void, RegExp][] = [
    [(g) => g.histogram("lat"), (g) => g.counter("lat_sum"), /"lat_sum".*histogram "lat"/],
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
  // Names whose series differ are fine: a counter "x" beside a gauge "x_total" (counters are
  // gauges in /metrics, with no _total) and a gauge "x_count".
  const g = new MetricGroup();
  g.counter("x");
  g.gauge("x_total", () => 1);
  g.gauge("x_count", () => 2);
  g.histogram("y");
  g.gauge("y_max", () => 3);
  assert.deepEqual(g.samples().map((s) => s.name), ["x", "x_total", "x_count", "y", "y_max"]);
});
