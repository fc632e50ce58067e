/**
 * Shared helpers of the benchmarks: their flags, medians, a table printer,
 * and the keyed counting function several benchmarks run.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import {
  type Collector,
  type KeyedProcessFunction,
  type RuntimeContext,
  Serializers,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";

type FlagOptions = NonNullable<ParseArgsConfig["options"]>;
/** The values `parseArgs` gives for `options`. */
type Flags<O extends FlagOptions> = ReturnType<typeof parseArgs<{ options: O }>>["values"];

/**
 * This benchmark's flags (`Deno.args`) as `options` declares them; an unknown
 * or malformed flag ends the process with one line naming it.
 */
export function benchFlags<const O extends FlagOptions>(options: O): Flags<O> {
  try {
    return parseArgs({ args: Deno.args, options }).values;
  } catch (e) {
    const script = Deno.mainModule.slice(Deno.mainModule.lastIndexOf("/") + 1);
    console.error(`bench/${script}: ${(e as Error).message}`);
    Deno.exit(2);
  }
}

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
  /** The main thread (the job's coordinator; every subtask when inline, worker 0's on workers). */
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
 * rest (ended threads' last moments, Deno's I/O threads). The stat files stay
 * open, the task folder is listed at every sample (for threads new since),
 * and a sample reads only threads that may end first (workers, I/O threads):
 * the main thread runs every subtask at parallelism 1, and its samples must
 * not cost it much.
 */
export function sampleThreadCpu(everyMs = 100): { stop(): ThreadCpu | undefined } {
  // Clock ticks of /proc/<pid>/task/<tid>/stat: USER_HZ, 100 on Linux.
  const msPerTick = 10;
  const main = String(Deno.pid);
  const buf = new Uint8Array(4096);
  const decoder = new TextDecoder();
  /** The fields after a stat file's `(name)`, and the name; undefined once the thread ended. */
  const readStat = (file: Deno.FsFile): { name: string; fields: string[] } | undefined => {
    try {
      file.seekSync(0, Deno.SeekMode.Start);
      const text = decoder.decode(buf.subarray(0, file.readSync(buf) ?? 0));
      const close = text.lastIndexOf(")");
      if (close < 0) return undefined;
      return {
        name: text.slice(text.indexOf("(") + 1, close),
        fields: text.slice(close + 2).split(" "),
      };
    } catch {
      return undefined;
    }
  };
  try {
    Deno.statSync("/proc/self/task");
  } catch {
    return { stop: () => undefined };
  }
  const threads = new Map<string, { file: Deno.FsFile | undefined; kind: string; ms: number }>();
  const list = () => {
    for (const e of Deno.readDirSync("/proc/self/task")) {
      if (threads.has(e.name)) continue;
      try {
        threads.set(e.name, {
          file: Deno.openSync(`/proc/self/task/${e.name}/stat`),
          kind: "other",
          ms: 0,
        });
      } catch { /* ended since the listing */ }
    }
  };
  /** Reads the threads' stat files; with `all` false only those of threads that may end first. */
  const sample = (all: boolean) => {
    // Every time: a thread that started as another ended leaves their number unchanged.
    list();
    for (const [tid, t] of threads) {
      // The main thread and V8's threads live as long as the process: read at the start and end.
      if (!t.file || (!all && (t.kind === "main" || t.kind === "v8"))) continue;
      const stat = readStat(t.file);
      if (!stat) {
        t.file.close();
        t.file = undefined;
        continue;
      }
      t.kind = tid === main
        ? "main"
        : stat.name.startsWith("worker-")
        ? "workers"
        : stat.name.startsWith("V8 ")
        ? "v8"
        : "other";
      t.ms = (Number(stat.fields[11]) + Number(stat.fields[12])) * msPerTick;
    }
  };
  sample(true);
  const before = new Map([...threads].map(([tid, t]) => [tid, t.ms]));
  const timer = setInterval(() => sample(false), everyMs);
  return {
    stop(): ThreadCpu {
      clearInterval(timer);
      sample(true);
      const cpu: ThreadCpu = { main: 0, workers: 0, v8: 0 };
      for (const [tid, t] of threads) {
        if (t.kind === "main" || t.kind === "workers" || t.kind === "v8") {
          cpu[t.kind] += t.ms - (before.get(tid) ?? 0);
        }
        t.file?.close();
      }
      return cpu;
    },
  };
}
