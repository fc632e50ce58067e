/**
 * The LSM memory soak job: keyed 100-byte string values rewritten over a
 * fixed key set, on the LSM backend with small budgets and a checkpoint
 * every second. Prints one JSON line: records written, seconds, CPU seconds
 * of the process, peak and final RSS (MiB, from /proc/self/status), the
 * backend's write-stall time as `/metrics` reported it, and the budgets.
 *
 * deno run -A tests/_helpers/lsm_soak_job.ts --writes N [--keys K] [--memtable-mib M] [--cache-mib C] [--state-backend lsm|heap] [--progress]
 *
 * `--progress` prints the RSS, the JS heap and the write-stall time to stderr every second.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import {
  HeapStateBackend,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  LsmStateBackend,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../../mod.ts";
import { createAdminApp, jobClientRuntime } from "../../core/admin/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    writes: { type: "string" },
    keys: { type: "string", default: "300000" },
    "memtable-mib": { type: "string", default: "4" },
    "cache-mib": { type: "string", default: "2" },
    "state-backend": { type: "string", default: "lsm" },
    progress: { type: "boolean", default: false },
  },
});
const writes = Number(values.writes);
const keys = Number(values.keys);
const memtableMiB = Number(values["memtable-mib"]);
const cacheMiB = Number(values["cache-mib"]);
if (!(writes > 0 && keys > 0 && memtableMiB > 0 && cacheMiB > 0)) {
  throw new Error("lsm_soak_job: --writes, --keys, --memtable-mib and --cache-mib must be > 0");
}

/** VmHWM and VmRSS of this process in MiB. */
export function memoryMiB(): { peak: number; rss: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kib = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1]);
  return { peak: kib("VmHWM") / 1024, rss: kib("VmRSS") / 1024 };
}

/** Rewrites the key's value: 100 bytes that change with every record. */
class Rewrite implements KeyedProcessFunction<string, number, never> {
  value!: ValueState<string>;
  open(ctx: RuntimeContext): void {
    this.value = ctx.getState(new ValueStateDescriptor("value", Serializers.string, ""));
  }
  processElement(seq: number, _ctx: KeyedProcessContext<string>): void {
    this.value.update(`${seq}`.padStart(12, "0").repeat(9).slice(0, 100));
  }
}

const dir = Deno.makeTempDirSync({ prefix: "weir-lsm-soak-" });
const env = StreamEnvironment.create({
  // One subtask, one store: the process's memory is that store's budget.
  parallelism: 1,
  stateBackend: values["state-backend"] === "heap" ? new HeapStateBackend() : new LsmStateBackend({
    dir: `${dir}/work`,
    memtableBytes: memtableMiB << 20,
    blockCacheBytes: cacheMiB << 20,
  }),
  checkpoint: { dir: `${dir}/chk`, intervalMs: 1000 },
  log: () => {},
});
env.generate({ count: writes, generate: (seq) => seq }).uid("seq")
  .keyBy((seq) => `key-${seq % keys}`, Serializers.string)
  .process(new Rewrite()).uid("rewrite")
  .addSink({ invoke() {} }, { uid: "sink" });
const start = performance.now();
const client = env.executeAsync("lsm soak");
const app = createAdminApp(jobClientRuntime(client));
let stallSeconds: number | undefined;
const sample = async () => {
  const text = await (await app.request("/metrics")).text();
  const line = text.split("\n").find((l) =>
    l.startsWith("weir_operator_state_write_stall_seconds_total{") && l.includes('"rewrite"')
  );
  if (line !== undefined) stallSeconds = Number(line.split(" ").pop());
};
let ticks = 0;
const sampler = setInterval(() => {
  void sample().catch(() => {});
  if (values.progress && ++ticks % 2 === 0) {
    const { peak, rss } = memoryMiB();
    const heap = Deno.memoryUsage().heapUsed / 2 ** 20;
    console.error(
      `${(ticks / 2).toFixed(0)} s: RSS ${rss.toFixed(0)} MiB (peak ${peak.toFixed(0)}), ` +
        `JS heap ${heap.toFixed(0)} MiB, write stalls ${(stallSeconds ?? 0).toFixed(1)} s`,
    );
  }
}, 500);
try {
  await client.done;
} finally {
  clearInterval(sampler);
}
const seconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage();
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const { peak, rss } = memoryMiB();
Deno.removeSync(dir, { recursive: true });
console.log(JSON.stringify({
  writes,
  keys,
  seconds,
  cpuSeconds,
  peakMiB: Math.round(peak),
  rssMiB: Math.round(rss),
  stallSeconds,
  memtableMiB,
  cacheMiB,
}));
