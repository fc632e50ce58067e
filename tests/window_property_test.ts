/**
 * Property: for random out-of-order inputs with a bounded-out-of-orderness
 * watermark after every record, tumbling and sliding window sums equal a
 * direct reference computation (records whose window is already over are
 * dropped from that window).
 */
import assert from "node:assert/strict";
import { OperatorHarness } from "../core/testing/mod.ts";
import { Serializers } from "../core/state/serializer.ts";
import type { TimeWindow } from "../core/time/window.ts";
import {
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  type WindowAssigner,
} from "../core/time/window_assigners.ts";
import { WindowOperator } from "../core/time/window_operator.ts";
import { rng } from "./_helpers/queue_source.ts";

type E = { k: string; v: number; ts: number };

async function check(seed: number, size: number, slide: number | undefined): Promise<void> {
  const r = rng(seed);
  const bound = Math.floor(r() * 30);
  const recs: E[] = [];
  let t = Math.floor(r() * 200) - 100;
  for (let i = 0; i < 400; i++) {
    t += Math.floor(r() * 5);
    recs.push({
      k: `k${Math.floor(r() * 4)}`,
      v: Math.floor(r() * 10),
      ts: t - Math.floor(r() * 50),
    });
  }
  const assigner: WindowAssigner<E, TimeWindow> = slide === undefined
    ? TumblingEventTimeWindows.of<E>(size)
    : SlidingEventTimeWindows.of<E>(size, slide);
  const op = new WindowOperator<E, string, string, TimeWindow>({
    keySelector: (e) => e.k,
    assigner,
    contents: {
      kind: "reduce",
      reduce: (a, b) => ({ ...a, v: a.v + b.v }),
      serializer: Serializers.json as never,
    },
    process: {
      process: (k, ctx, [e], out) => out.collect(`${k}|${ctx.window.start}|${e!.v}`),
    },
  });
  const h = await OperatorHarness.forOperator(op, { keySerializer: Serializers.string });
  // Reference: window starts by direct enumeration, no assigner code.
  const sums = new Map<string, number>();
  let max = -Infinity;
  let wm = -Infinity;
  const step = slide ?? size;
  for (const e of recs) {
    h.processElement(e, e.ts);
    for (let s = Math.floor(e.ts / step) * step; s > e.ts - size; s -= step) {
      if (s + size - 1 <= wm) continue; // that window is over: the record is late for it
      const id = `${e.k}|${s}`;
      sums.set(id, (sums.get(id) ?? 0) + e.v);
    }
    max = Math.max(max, e.ts);
    if (max - bound - 1 > wm) {
      wm = max - bound - 1;
      h.processWatermark(wm);
    }
  }
  h.processWatermark(Infinity);
  const want = [...sums].map(([id, v]) => `${id}|${v}`).sort();
  assert.deepEqual(h.output().sort(), want, `seed ${seed}, size ${size}, slide ${slide}`);
  await h.close();
}

Deno.test("random out-of-order inputs: tumbling window sums equal the reference", async () => {
  for (let seed = 1; seed <= 25; seed++) await check(seed, 10 + seed * 3, undefined);
});

Deno.test("random out-of-order inputs: sliding window sums equal the reference", async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const slide = 5 + (seed % 7);
    await check(100 + seed, slide * (1 + (seed % 4)), slide);
  }
});
