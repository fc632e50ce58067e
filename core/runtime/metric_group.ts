/**
 * User-defined metrics (Flink's MetricGroup): counters, gauges and
 * histograms a function registers in `open` through
 * `ctx.getMetricGroup()`. Each operator subtask has its own group; the admin
 * API exports them in `/metrics`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * A count that only goes up (or down with `dec`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MetricGroup } from "@weir/weir";
 * const c = new MetricGroup().counter("parsed");
 * c.inc();
 * c.inc(2);
 * assert.equal(c.count, 3);
 * ```
 */
export interface Counter {
  /** Adds `n` (default 1). */
  inc(n?: number): void;
  /** Subtracts `n` (default 1). */
  dec(n?: number): void;
  /** The current count. */
  readonly count: number;
}

/**
 * A distribution of values: count, sum and quantiles over the latest values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MetricGroup } from "@weir/weir";
 * const h = new MetricGroup().histogram("size");
 * for (const v of [1, 2, 3, 4]) h.update(v);
 * assert.equal(h.statistics().count, 4);
 * assert.equal(h.statistics().quantile(0.5), 2);
 * ```
 */
export interface Histogram {
  /** Records a value. */
  update(value: number): void;
  /** Count and sum of every value; quantiles of the latest ones. */
  statistics(): HistogramStatistics;
}

/**
 * What a {@linkcode Histogram} reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HistogramStatistics } from "@weir/weir";
 * const s: HistogramStatistics = { count: 0, sum: 0, quantile: () => NaN };
 * assert.ok(Number.isNaN(s.quantile(0.99)));
 * ```
 */
export interface HistogramStatistics {
  /** Values recorded. */
  readonly count: number;
  /** Their sum. */
  readonly sum: number;
  /** The `q` quantile (0..1) of the latest values (NaN when none). */
  quantile(q: number): number;
}

/**
 * One registered metric, as the admin API reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MetricGroup } from "@weir/weir";
 * const g = new MetricGroup();
 * g.gauge("queue_length", () => 7);
 * assert.deepEqual(g.samples(), [{ kind: "gauge", name: "queue_length", value: 7 }]);
 * ```
 */
export type MetricSample =
  | { readonly kind: "counter"; readonly name: string; readonly value: number }
  | { readonly kind: "gauge"; readonly name: string; readonly value: number }
  | { readonly kind: "histogram"; readonly name: string; readonly value: HistogramStatistics };

/** Values a histogram keeps for its quantiles. */
const HISTOGRAM_WINDOW = 1024;

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The metrics of one operator subtask. Names are Prometheus-safe
 * (`[a-zA-Z_][a-zA-Z0-9_]*`) and unique within the group, and so are the
 * series `/metrics` exports for them (a counter or gauge `a` is `a`, a
 * histogram `a` is `a`, `a_sum` and `a_count`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, type RuntimeContext, StreamEnvironment, type Counter } from "@weir/weir";
 * const counters: Counter[] = [];
 * const parse = {
 *   bad: undefined as Counter | undefined,
 *   open(ctx: RuntimeContext) {
 *     this.bad = ctx.getMetricGroup().counter("bad_lines");
 *     counters.push(this.bad);
 *   },
 *   flatMap(line: string, out: { collect(n: number): void }) {
 *     const n = Number(line);
 *     if (Number.isNaN(n)) this.bad!.inc();
 *     else out.collect(n);
 *   },
 * };
 * const env = StreamEnvironment.create();
 * const sink = new CollectSink<number>();
 * env.fromElements("1", "x", "2").flatMap(parse).addSink(sink);
 * await env.execute();
 * assert.equal(counters[0]!.count, 1);
 * assert.deepEqual(sink.values, [1, 2]);
 * ```
 */
export class MetricGroup {
  readonly #metrics = new Map<string, () => MetricSample>();
  /** The series names `/metrics` exports (after `weir_user_`), and the metric each is of. */
  readonly #series = new Map<string, string>();

  #register(name: string, kind: MetricSample["kind"], sample: () => MetricSample): void {
    if (!NAME.test(name)) {
      throw new ConfigError(
        `metric name "${name}" is not valid: use letters, digits and _ (not first: a digit)`,
      );
    }
    if (this.#metrics.has(name)) {
      throw new ConfigError(`metric "${name}" is already registered in this operator`);
    }
    // Two metrics exported as one series (a histogram "a" is a, a_sum and a_count) would make
    // the whole Prometheus scrape invalid.
    const series = kind === "histogram" ? [name, `${name}_sum`, `${name}_count`] : [name];
    for (const s of series) {
      const other = this.#series.get(s);
      if (other !== undefined) {
        const otherKind = this.#metrics.get(other)!().kind;
        throw new ConfigError(
          `metric "${name}" would be exported as weir_user_${s}, as ${otherKind} "${other}" ` +
            `is in this operator: give one of them another name`,
        );
      }
    }
    for (const s of series) this.#series.set(s, name);
    this.#metrics.set(name, sample);
  }

  /** Registers a counter. */
  counter(name: string): Counter {
    let count = 0;
    const c: Counter = {
      inc: (n = 1) => void (count += n),
      dec: (n = 1) => void (count -= n),
      get count() {
        return count;
      },
    };
    this.#register(name, "counter", () => ({ kind: "counter", name, value: count }));
    return c;
  }

  /** Registers a gauge: `read` is called when metrics are read. */
  gauge(name: string, read: () => number): void {
    this.#register(name, "gauge", () => ({ kind: "gauge", name, value: read() }));
  }

  /** Registers a histogram (quantiles over the latest 1024 values). */
  histogram(name: string): Histogram {
    const window = new Float64Array(HISTOGRAM_WINDOW);
    let count = 0;
    let sum = 0;
    const statistics = (): HistogramStatistics => {
      const n = Math.min(count, HISTOGRAM_WINDOW);
      const sorted = window.slice(0, n).sort();
      return {
        count,
        sum,
        quantile: (q) =>
          n === 0 ? NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!,
      };
    };
    const h: Histogram = {
      update(value) {
        window[count % HISTOGRAM_WINDOW] = value;
        count++;
        sum += value;
      },
      statistics,
    };
    this.#register(name, "histogram", () => ({ kind: "histogram", name, value: statistics() }));
    return h;
  }

  /** The current value of every metric, in registration order. */
  samples(): MetricSample[] {
    return [...this.#metrics.values()].map((read) => read());
  }
}
