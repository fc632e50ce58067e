import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { CollectSink } from "../connectors/collect_sink.ts";
import type { Source } from "../connectors/source.ts";
import { type WatermarkGenerator, WatermarkStrategy } from "./watermark_strategy.ts";

class Punctuated implements WatermarkGenerator<number> {
  onEvent(_e: number, ts: number, out: { emitWatermark(t: number): void }) {
    out.emitWatermark(ts);
  }
  onPeriodicEmit() {}
}

Deno.test("forGenerator given a generator instead of its factory is a ConfigError", () => {
  assert.throws(
    () => WatermarkStrategy.forGenerator(new Punctuated() as never),
    (e) =>
      e instanceof ConfigError && /forGenerator takes a factory/.test(e.message) &&
      /pass \(\) => new YourGenerator\(\)/.test(e.message),
  );
  assert.throws(() => WatermarkStrategy.forGenerator(undefined as never), ConfigError);
});

Deno.test("a generator factory whose generator lacks onPeriodicEmit fails the job naming it", async () => {
  const env = StreamEnvironment.create({ restartStrategy: { kind: "none" } });
  const onlyOnEvent = () => ({ onEvent() {} }) as unknown as WatermarkGenerator<number>;
  env.fromElements(1, 2)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forGenerator(onlyOnEvent).withTimestampAssigner((n) => n),
    )
    .addSink(new CollectSink());
  await assert.rejects(env.execute(), /an object without onPeriodicEmit\(\)/);
});

Deno.test("assignTimestampsAndWatermarks and fromSource refuse what is no WatermarkStrategy", () => {
  const env = StreamEnvironment.create();
  // Flink's WatermarkStrategy interface implemented by hand: weir's strategy is a class.
  const flinkStyle = { createWatermarkGenerator: () => new Punctuated() };
  assert.throws(
    () => env.fromElements(1).assignTimestampsAndWatermarks(flinkStyle as never),
    (e) =>
      e instanceof ConfigError &&
      /assignTimestampsAndWatermarks needs a WatermarkStrategy/.test(e.message),
  );
  const source = { name: "s", createReader: () => ({}) } as unknown as Source<number>;
  assert.throws(
    () => env.fromSource(source, undefined as never, "s"),
    (e) => e instanceof ConfigError && /fromSource needs a WatermarkStrategy/.test(e.message),
  );
});
