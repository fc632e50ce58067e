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

/** CPU ms of this process's threads by kind (see {@linkcode sampleThreadCpu}). */
export interface ThreadCpu {
  /** The main thread (the job's coordinator; every subtask when inline). */
  main: number;
  /** Web Workers: the worker executor's workers and the state backends' helper threads. */
  workers: number;
  /** V8's background threads: optimizing compilers and concurrent garbage collection. */
  v8: number;
}

/**
 * Samples the CPU time of this process's threads every `everyMs` until
 * `stop()`, which gives each kind's CPU since the start (Linux's
 * `/proc/self/task`; undefined elsewhere). A thread that ended is counted up to
 * its last sample: the process total (`process.cpuUsage()`) less these is the
 * rest (ended threads' last moments, Deno's I/O threads).
 */
export function sampleThreadCpu(everyMs = 50): { stop(): ThreadCpu | undefined } {
  // Clock ticks of /proc/<pid>/task/<tid>/stat: USER_HZ, 100 on Linux.
  const msPerTick = 10;
  const main = String(Deno.pid);
  const seen = new Map<string, { kind: keyof ThreadCpu | "other"; ms: number }>();
  const read = (): boolean => {
    let tids: string[];
    try {
      tids = [...Deno.readDirSync("/proc/self/task")].map((e) => e.name);
    } catch {
      return false;
    }
    for (const tid of tids) {
      let stat: string;
      try {
        stat = Deno.readTextFileSync(`/proc/self/task/${tid}/stat`);
      } catch {
        continue; // ended since the listing
      }
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      const ms = (Number(fields[11]) + Number(fields[12])) * msPerTick;
      const kind = tid === main
        ? "main"
        : name.startsWith("worker-")
        ? "workers"
        : name.startsWith("V8 ")
        ? "v8"
        : "other";
      seen.set(tid, { kind, ms });
    }
    return true;
  };
  if (!read()) return { stop: () => undefined };
  const before = new Map([...seen].map(([tid, t]) => [tid, t.ms]));
  const timer = setInterval(read, everyMs);
  return {
    stop(): ThreadCpu {
      clearInterval(timer);
      read();
      const cpu: ThreadCpu = { main: 0, workers: 0, v8: 0 };
      for (const [tid, t] of seen) {
        if (t.kind !== "other") cpu[t.kind] += t.ms - (before.get(tid) ?? 0);
      }
      return cpu;
    },
  };
}
