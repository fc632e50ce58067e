/**
 * `GET /metrics` in the Prometheus text exposition format (0.0.4): records
 * in/out, backpressure, state write stalls, output watermark, event-time lag and input latency per
 * operator, user-defined metrics per operator subtask, source reader counters (such as the
 * file source's replaced UTF-8 sequences), checkpoint counts, durations, sizes,
 * state size and restarts per job. Names follow Prometheus conventions (base
 * units, `_total` counters), so `promtool check metrics` passes. User counters are
 * gauges, as in Flink's Prometheus reporter, since they can go down.
 *
 * @module
 */
import { Hono } from "./_hono.ts";
import type { MetricSample } from "../runtime/metric_group.ts";
import type { AdminRuntime } from "./runtime.ts";
import { latestPerId } from "./stats.ts";

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function fmtLabels(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function fmtValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Collects samples per metric family, then prints each family once (HELP, TYPE, samples). */
class Exposition {
  readonly #families = new Map<
    string,
    { help: string; type: string; samples: { suffix: string; labels: Labels; value: number }[] }
  >();

  add(
    name: string,
    type: "counter" | "gauge" | "summary",
    help: string,
    labels: Labels,
    value: number,
    suffix = "",
  ): void {
    let f = this.#families.get(name);
    if (!f) this.#families.set(name, f = { help, type, samples: [] });
    f.samples.push({ suffix, labels, value });
  }

  text(): string {
    let out = "";
    for (const [name, f] of this.#families) {
      out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n`;
      for (const s of f.samples) {
        out += `${name}${s.suffix}${fmtLabels(s.labels)} ${fmtValue(s.value)}\n`;
      }
    }
    return out;
  }
}

/**
 * Renders the metrics of every job of `runtime`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMetrics } from "./metrics.ts";
 * assert.match(renderMetrics({ jobs: () => [] }), /weir_admin_jobs 0/);
 * ```
 */
export function renderMetrics(runtime: AdminRuntime): string {
  const m = new Exposition();
  // Added after every job's other metrics, when the names of all of them are known.
  const userMetrics: { sample: MetricSample; labels: Labels }[] = [];
  const jobs = runtime.jobs();
  m.add("weir_admin_jobs", "gauge", "Jobs this admin API serves.", {}, jobs.length);
  for (const job of jobs) {
    const jl = { job_id: job.id, job_name: job.name };
    m.add(
      "weir_job_running",
      "gauge",
      "1 while the job runs, else 0.",
      jl,
      job.status() === "RUNNING" ? 1 : 0,
    );
    m.add(
      "weir_job_uptime_seconds",
      "gauge",
      "Seconds since the job started.",
      jl,
      ((job.endTime() ?? Date.now()) - job.startTime) / 1000,
    );
    m.add(
      "weir_job_restarts_total",
      "counter",
      "Restarts of the job after failures.",
      jl,
      job.restarts(),
    );
    for (const t of job.threads?.() ?? []) {
      const tl = { ...jl, thread: t.id };
      m.add(
        "weir_thread_heap_used_bytes",
        "gauge",
        "Bytes the V8 heap of a thread that runs the job's subtasks holds (each Web Worker has " +
          "its own heap).",
        tl,
        t.heapUsedBytes,
      );
      m.add(
        "weir_thread_heap_total_bytes",
        "gauge",
        "Bytes the V8 heap of a thread that runs the job's subtasks has reserved.",
        tl,
        t.heapTotalBytes,
      );
    }
    for (const v of job.vertices()) {
      const ol = { ...jl, operator_uid: v.uid, operator_name: v.name };
      m.add(
        "weir_operator_records_in_total",
        "counter",
        "Records an operator received.",
        ol,
        v.recordsIn,
      );
      m.add(
        "weir_operator_records_out_total",
        "counter",
        "Records an operator emitted.",
        ol,
        v.recordsOut,
      );
      m.add("weir_operator_parallelism", "gauge", "Parallelism of an operator.", ol, v.parallelism);
      for (const s of v.splits ?? []) {
        const sl = { ...ol, split: s.id, subtask: String(s.subtask) };
        m.add(
          "weir_source_split_records_total",
          "counter",
          "Records a source read from a split (a Kafka partition).",
          sl,
          s.records,
        );
        m.add(
          "weir_source_split_bytes_total",
          "counter",
          "Key and value bytes a source read from a split.",
          sl,
          s.bytes,
        );
        if (s.lag !== undefined) {
          m.add(
            "weir_source_split_lag_records",
            "gauge",
            "Records between a source's position in a split and the split's end.",
            sl,
            s.lag,
          );
        }
      }
      m.add(
        "weir_operator_backpressure_ratio",
        "gauge",
        "Fraction of recent time the busiest subtask waited on full output channels.",
        ol,
        v.backpressureRatio,
      );
      if (v.watermark !== undefined) {
        m.add(
          "weir_operator_watermark_seconds",
          "gauge",
          "Output watermark of an operator in seconds (event time), the lowest over its " +
            "subtasks (-Inf before one).",
          ol,
          v.watermark / 1000,
        );
      }
      if (v.eventTimeLagMs !== undefined && !Number.isNaN(v.eventTimeLagMs)) {
        m.add(
          "weir_operator_event_time_lag_seconds",
          "gauge",
          "Now minus the event timestamp of the newest record an operator emitted (latency).",
          ol,
          v.eventTimeLagMs / 1000,
        );
      }
      if (v.inputLatencyMs !== undefined && !Number.isNaN(v.inputLatencyMs)) {
        m.add(
          "weir_operator_input_latency_seconds",
          "gauge",
          "Time record batches recently waited in the input channels of an operator's task " +
            "(moving average, busiest subtask).",
          ol,
          v.inputLatencyMs / 1000,
        );
      }
      // A subtask no thread has reported yet has no figures to export (Flink's has no metrics).
      for (const st of (v.subtasks ?? []).filter((s) => s.thread !== undefined || !s.state)) {
        const sl = { ...ol, subtask_index: String(st.index) };
        m.add(
          "weir_subtask_records_in_total",
          "counter",
          "Records an operator subtask received.",
          sl,
          st.recordsIn,
        );
        m.add(
          "weir_subtask_records_out_total",
          "counter",
          "Records an operator subtask emitted.",
          sl,
          st.recordsOut,
        );
        m.add(
          "weir_subtask_backpressure_ratio",
          "gauge",
          "Fraction of recent time an operator subtask's task waited on full output channels.",
          sl,
          st.backpressureRatio,
        );
        if (st.watermark !== undefined) {
          m.add(
            "weir_subtask_watermark_seconds",
            "gauge",
            "Output watermark of an operator subtask in seconds (event time; -Inf before one).",
            sl,
            st.watermark / 1000,
          );
        }
      }
      for (const { subtaskIndex, samples } of v.userMetrics ?? []) {
        const sl = { ...ol, subtask_index: String(subtaskIndex) };
        for (const sample of samples) userMetrics.push({ sample, labels: sl });
      }
      for (const [name, n] of Object.entries(v.sourceCounters ?? {})) {
        // A reader's counter may be named anything; one invalid name would fail the whole scrape.
        m.add(
          `weir_source_${name.replace(/[^a-zA-Z0-9_]/g, "_")}_total`,
          "counter",
          `The source's reader counter ${name} (see the source's docs), over its subtasks.`,
          ol,
          n,
        );
      }
      if (v.stateWriteStallMs !== undefined) {
        m.add(
          "weir_operator_state_write_stall_seconds_total",
          "counter",
          "Time an operator's keyed state writes waited for the state backend's flushes and " +
            "compactions (LSM write stalls), summed over its subtasks.",
          ol,
          v.stateWriteStallMs / 1000,
        );
      }
    }
    const { history, inProgress } = job.checkpoints();
    const entries = latestPerId(history);
    const completed = entries.filter((e) => e.status === "COMPLETED");
    const failed = entries.filter((e) => e.status === "FAILED");
    const restores = history.filter((e) => e.kind === "restore").length;
    const cHelp = "Checkpoints (and savepoints) that ended, by status.";
    m.add(
      "weir_checkpoints_total",
      "counter",
      cHelp,
      { ...jl, status: "completed" },
      completed.length,
    );
    m.add("weir_checkpoints_total", "counter", cHelp, { ...jl, status: "failed" }, failed.length);
    m.add("weir_checkpoints_in_progress", "gauge", "Checkpoints in flight.", jl, inProgress.length);
    m.add(
      "weir_checkpoint_restores_total",
      "counter",
      "Restores from a checkpoint or savepoint.",
      jl,
      restores,
    );
    const dHelp = "End-to-end duration of completed checkpoints.";
    const durations = completed.map((e) => e.end_to_end_duration / 1000);
    for (const q of [0.5, 0.9, 0.99]) {
      m.add(
        "weir_checkpoint_duration_seconds",
        "summary",
        dHelp,
        { ...jl, quantile: String(q) },
        quantile(durations, q),
      );
    }
    m.add(
      "weir_checkpoint_duration_seconds",
      "summary",
      dHelp,
      jl,
      durations.reduce((a, b) => a + b, 0),
      "_sum",
    );
    m.add("weir_checkpoint_duration_seconds", "summary", dHelp, jl, durations.length, "_count");
    const last = completed[completed.length - 1];
    m.add(
      "weir_checkpoint_last_duration_seconds",
      "gauge",
      "Duration of the latest completed checkpoint.",
      jl,
      last ? last.end_to_end_duration / 1000 : 0,
    );
    m.add(
      "weir_checkpoint_last_size_bytes",
      "gauge",
      "Bytes the latest completed checkpoint newly wrote.",
      jl,
      last ? last.checkpointed_size : 0,
    );
    m.add(
      "weir_checkpoint_last_id",
      "gauge",
      "Id of the latest completed checkpoint.",
      jl,
      last ? last.id : 0,
    );
    m.add(
      "weir_state_size_bytes",
      "gauge",
      "State size of the latest completed checkpoint.",
      jl,
      last ? last.state_size : 0,
    );
    const segments = job.segments();
    m.add(
      "weir_checkpoint_segments",
      "gauge",
      "Segment files in the checkpoint directory.",
      jl,
      segments.length,
    );
    m.add(
      "weir_checkpoint_segments_size_bytes",
      "gauge",
      "Bytes of segment files in the checkpoint directory.",
      jl,
      segments.reduce((n, s) => n + s.size, 0),
    );
  }
  addUserMetrics(m, userMetrics);
  return m.text();
}

/**
 * User-defined metrics as `weir_user_<name>`: counters and gauges as gauges (a counter can
 * `dec`, and a Prometheus counter must not go down: Flink's Prometheus reporter exports its
 * counters as gauges too), so a counter and a gauge of one name in two operators are one
 * family; histograms as summaries (`<name>`, `<name>_sum`, `<name>_count`). A histogram
 * one of whose names a counter or gauge of another operator has (or named as another
 * histogram's `_sum` or `_count`) is `<name>_distribution` instead, whatever the operators'
 * order: one series name in two families is invalid exposition.
 */
function addUserMetrics(m: Exposition, metrics: { sample: MetricSample; labels: Labels }[]) {
  const gauges = new Set<string>();
  const histograms = new Set<string>();
  for (const { sample: s } of metrics) (s.kind === "histogram" ? histograms : gauges).add(s.name);
  const clashes = (n: string) =>
    [n, `${n}_sum`, `${n}_count`].some((x) => gauges.has(x)) ||
    (/_(sum|count)$/.test(n) && histograms.has(n.replace(/_(sum|count)$/, "")));
  const summaryName = (name: string): string => {
    let n = name;
    while (clashes(n)) n += "_distribution";
    return n;
  };
  for (const { sample: s, labels } of metrics) {
    switch (s.kind) {
      case "counter":
      case "gauge":
        m.add(
          `weir_user_${s.name}`,
          "gauge",
          `User-defined counter or gauge ${s.name} (RuntimeContext.getMetricGroup).`,
          labels,
          s.value,
        );
        break;
      case "histogram": {
        const name = `weir_user_${summaryName(s.name)}`;
        const help = `User-defined histogram ${s.name} (RuntimeContext.getMetricGroup).`;
        for (const q of [0.5, 0.9, 0.99]) {
          m.add(name, "summary", help, { ...labels, quantile: String(q) }, s.value.quantile(q));
        }
        m.add(name, "summary", help, labels, s.value.sum, "_sum");
        m.add(name, "summary", help, labels, s.value.count, "_count");
        break;
      }
    }
  }
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
}

/** The metrics route. */
export function metricsRoutes(runtime: AdminRuntime): Hono {
  const app = new Hono();
  app.get("/metrics", (c) =>
    c.body(renderMetrics(runtime), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  return app;
}
