/**
 * Shared helpers of the benchmarks: medians, a table printer, and the keyed
 * counting function several benchmarks run.
 *
 * @module
 */
import {
  type Collector,
  type KeyedProcessFunction,
  type RuntimeContext,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";

/** Counts records per key in ValueState and emits the new count. */
export class Count implements KeyedProcessFunction<string, string, number> {
  /** The count of the current key. */
  count!: ValueState<number>;
  /** Declares the state. */
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }
  /** Bumps and emits. */
  processElement(_w: string, _c: unknown, out: Collector<number>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(n);
  }
}

/** Median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Formats a rate: 1234567 → "1.23 M". */
export function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return perSecond.toFixed(0);
}

/** Prints rows as a Markdown table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const lines = [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
  return lines.join("\n");
}

/**
 * Resets this process's peak RSS (`VmHWM`) to its current RSS, so the next
 * `peakRssMiB()` covers only what ran in between (Linux; no-op elsewhere).
 */
export function resetPeakRss(): void {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  } catch { /* not Linux, or not allowed: the peak then covers the whole run */ }
}

/** This process's peak RSS in MiB since start or the last `resetPeakRss()`; NaN off Linux. */
export function peakRssMiB(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The machine line every report starts with. */
export function machine(): string {
  return `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${Deno.build.os}/${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} cores`;
}
