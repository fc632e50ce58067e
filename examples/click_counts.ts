/**
 * The demo (`deno task demo`): per-user click counts from the deterministic
 * generator source. Keyed state counts clicks per user; a processing-time
 * timer per user reports its count twice a second, and an event-time timer
 * that the end of input fires reports the totals.
 *
 *   deno run -A examples/click_counts.ts [--clicks N] [--rate PER_SECOND] [common flags]
 *
 * The narrowest permissions (docs/install.md): the temporary folder TMP
 * ($TMPDIR, else /tmp), where the LSM backend keeps its working segments;
 * add CKPT to both lists with `--checkpoint-dir CKPT`, and `--allow-net=127.0.0.1`
 * with `--admin-port`:
 *
 *   deno run --allow-read=TMP --allow-write=TMP examples/click_counts.ts
 *
 * @module
 */
import {
  type Collector,
  ConfigError,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  runMain,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";

/** A click. */
export interface Click {
  /** Who clicked. */
  user: string;
  /** Where. */
  page: string;
}

const PAGES = ["/", "/docs", "/pricing", "/blog", "/login"];
const REPORT_EVERY_MS = 500;

/** Counts clicks per user and reports each user's count every half second. */
export class ClickCounter implements KeyedProcessFunction<string, Click, string> {
  /** Clicks so far. */
  clicks!: ValueState<number>;
  /** Clicks at the last report. */
  reported!: ValueState<number>;

  /** Declares the state. */
  open(ctx: RuntimeContext): void {
    this.clicks = ctx.getState(new ValueStateDescriptor("clicks", Serializers.f64, 0));
    this.reported = ctx.getState(new ValueStateDescriptor("reported", Serializers.f64, 0));
  }

  /** Counts a click and makes sure a report is scheduled. */
  processElement(_click: Click, ctx: KeyedProcessContext<string>): void {
    this.clicks.update(this.clicks.value()! + 1);
    const now = ctx.currentProcessingTime();
    // One timer per key and timestamp: every click of this half second shares it.
    ctx.timerService().registerProcessingTimeTimer(now - (now % REPORT_EVERY_MS) + REPORT_EVERY_MS);
    // End of input sends a final watermark of +∞: this timer then gives the total.
    ctx.timerService().registerEventTimeTimer(Number.MAX_SAFE_INTEGER);
  }

  /** Reports the count and how much it grew. */
  onTimer(_ts: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    const n = this.clicks.value()!;
    const grew = n - this.reported.value()!;
    this.reported.update(n);
    const what = ctx.timeDomain() === "event-time" ? "clicks in total" : `clicks (+${grew})`;
    out.collect(`${ctx.getCurrentKey().padEnd(8)} ${String(n).padStart(6)} ${what}`);
  }
}

/** Runs the demo with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    clicks: { type: "string" },
    rate: { type: "string" },
  });
  const clicks = Number(values.clicks ?? 40_000);
  const rate = Number(values.rate ?? 20_000);
  if (!Number.isInteger(clicks) || clicks < 1) {
    throw new ConfigError(`--clicks must be an integer ≥ 1, got "${values.clicks}"`);
  }
  if (!(rate > 0)) throw new ConfigError(`--rate must be a number > 0, got "${values.rate}"`);
  env.generate<Click>({
    count: clicks,
    ratePerSecond: rate,
    seed: 7,
    // Skewed: a few users click a lot.
    generate: (_seq, random) => ({
      user: `user-${Math.floor(random() ** 2 * 8)}`,
      page: PAGES[Math.floor(random() * PAGES.length)]!,
    }),
  }).uid("clicks")
    .keyBy((c) => c.user, Serializers.string)
    .process(new ClickCounter()).uid("count")
    .print();
  const started = performance.now();
  const result = await env.execute("click counts");
  console.log(
    `${clicks} clicks counted in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
      `(${result.recordsIn["count"] ?? 0} records into the keyed counter)`,
  );
}

if (import.meta.main) await runMain("click_counts", main);
