import assert from "node:assert/strict";
import { CollectSink } from "../connectors/collect_sink.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import type { Collector, RuntimeContext } from "../dataflow/functions.ts";
import {
  type Counter,
  type Histogram,
  MetricGroup,
  type MetricSample,
} from "../runtime/metric_group.ts";
import { ConfigError } from "../errors.ts";
import { WatermarkStrategy } from "../time/watermark_strategy.ts";
import { QueueSource, waitFor } from "../../tests/_helpers/queue_source.ts";
import { createAdminApp } from "./app.ts";
import { renderMetrics } from "./metrics.ts";
import { jobClientRuntime } from "./runtime.ts";

/**
 * Checks the Prometheus text format (0.0.4) as promtool would: every sample
 * line parses, belongs to a family declared once with HELP and TYPE (only a
 * summary's samples add `_sum`, `_count` or a quantile), and counters end in `_total`.
 */
function checkExposition(text: string): void {
  const declared = new Map<string, string>();
  for (const line of text.trimEnd().split("\n")) {
    const type = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary)$/);
    if (type) {
      assert.ok(!declared.has(type[1]!), `family ${type[1]} declared twice`);
      declared.set(type[1]!, type[2]!);
      if (type[2] === "counter") assert.match(type[1]!, /_total$/);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const sample = line.match(
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (\S+)$/,
    );
    assert.ok(sample, `not a sample line: ${line}`);
    const value = sample[5]!;
    assert.ok(/^(NaN|[+-]Inf|-?[0-9.e+-]+)$/.test(value), `bad value in ${line}`);
    const name = sample[1]!;
    const family = declared.has(name) ? name : name.replace(/_(sum|count)$/, "");
    assert.ok(declared.has(family), `sample of an undeclared family: ${line}`);
    // Only a summary has _sum, _count and quantile samples; no name is two families' sample.
    if (family !== name || /quantile=/.test(line)) {
      assert.equal(declared.get(family), "summary", `not a summary's sample: ${line}`);
    }
    if (declared.get(family) === "summary") {
      for (const s of ["_sum", "_count"]) {
        assert.ok(!declared.has(family + s), `${family + s} is a family and a summary's sample`);
      }
    }
  }
}

/** Counts words (a counter), their lengths (a histogram) and shows its subtask + 10 (a gauge). */
class CountWords {
  words!: Counter;
  lengths!: Histogram;
  constructor(readonly all: Counter[]) {}
  open(ctx: RuntimeContext): void {
    const g = ctx.getMetricGroup();
    this.words = g.counter("words_seen");
    this.all.push(this.words);
    this.lengths = g.histogram("word_length");
    g.gauge("subtask_plus_ten", () => ctx.subtaskIndex + 10);
  }
  flatMap(e: { word: string }, o: Collector<string>): void {
    this.words.inc();
    this.lengths.update(e.word.length);
    o.collect(e.word);
  }
}

/** The value of the sample `name` whose labels match `labels`. */
function sample(text: string, name: string, labels: RegExp): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(name + "{") && labels.test(l));
  if (!line) return undefined;
  const v = line.split(" ").pop()!;
  return v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v);
}

Deno.test("metrics: user counters, gauges and histograms per subtask; watermark, event-time lag and input latency per operator", async () => {
  const src = new QueueSource<{ word: string; at: number }>("events");
  const env = StreamEnvironment.create({ parallelism: 2, log: () => {} });
  const out = new CollectSink<string>();
  const base = Date.now() - 5000;
  const counters: Counter[] = [];
  env.addSource(src, { uid: "events" })
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forGenerator<{ word: string; at: number }>(() => ({
        onEvent: (_e, ts, o) => o.emitWatermark(ts),
        onPeriodicEmit() {},
      })).withTimestampAssigner((e) => e.at),
    ).uid("stamped").setParallelism(1)
    .rebalance()
    .flatMap(new CountWords(counters)).uid("words")
    .addSink(out);
  const client = env.executeAsync("metrics");
  try {
    const words = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff"];
    src.push(...words.map((word, i) => ({ word, at: base + i * 100 })));
    await waitFor(() => out.values.length === 6, "records through");
    await waitFor(
      () =>
        sample(
          renderMetrics(jobClientRuntime(client)),
          "weir_operator_watermark_seconds",
          /operator_uid="words"/,
        ) === (base + 500) / 1000,
      "the words operator's watermark",
    );
    const text = renderMetrics(jobClientRuntime(client));
    checkExposition(text);
    // Counters per subtask; together they saw every word.
    const perSubtask = [0, 1].map((i) =>
      sample(
        text,
        "weir_user_words_seen",
        new RegExp(`operator_uid="words".*subtask_index="${i}"`),
      )
    );
    assert.deepEqual(perSubtask, counters.map((c) => c.count));
    assert.equal(perSubtask[0]! + perSubtask[1]!, 6);
    assert.equal(sample(text, "weir_user_subtask_plus_ten", /subtask_index="1"/), 11);
    const count0 = sample(text, "weir_user_word_length_count", /subtask_index="0"/)!;
    const sum0 = sample(text, "weir_user_word_length_sum", /subtask_index="0"/)!;
    const count1 = sample(text, "weir_user_word_length_count", /subtask_index="1"/)!;
    const sum1 = sample(text, "weir_user_word_length_sum", /subtask_index="1"/)!;
    assert.equal(count0 + count1, 6);
    assert.equal(sum0 + sum1, 21);
    assert.ok(sample(text, "weir_user_word_length", /subtask_index="0".*quantile="0.5"/)! >= 1);
    // Each subtask of words got every watermark (rebalance broadcasts them): the last record's.
    assert.equal(
      sample(text, "weir_operator_watermark_seconds", /operator_uid="stamped"/),
      (base + 500) / 1000,
    );
    assert.equal(
      sample(text, "weir_operator_watermark_seconds", /operator_uid="words"/),
      (base + 500) / 1000,
    );
    const lag = sample(text, "weir_operator_event_time_lag_seconds", /operator_uid="words"/)!;
    assert.ok(lag >= 4.5 && lag < 60, `lag ${lag}`);
    // Behind a channel, words has an input latency; the source reads no channel.
    const latency = sample(text, "weir_operator_input_latency_seconds", /operator_uid="words"/)!;
    assert.ok(latency >= 0 && latency < 5, `latency ${latency}`);
    assert.equal(
      sample(text, "weir_operator_input_latency_seconds", /operator_uid="events"/),
      undefined,
    );
    // The job view (and so the dashboard) shows the same per operator.
    const app = createAdminApp(jobClientRuntime(client));
    const { jobs } = await (await app.request("/jobs")).json();
    const job = await (await app.request(`/jobs/${jobs[0].id}`)).json();
    const vertex = job.vertices.find((v: { uid: string }) => v.uid === "words");
    assert.equal(vertex.watermark, base + 500);
    assert.ok(vertex["event-time-lag"] >= 4500, String(vertex["event-time-lag"]));
    const source = job.vertices.find((v: { uid: string }) => v.uid === "events");
    assert.equal(source.watermark, null, "no watermark out of the source: JSON null");
    assert.equal(source["input-latency"], null);
    // The same moving average: no record came since, and only records move it.
    assert.ok(
      Math.abs(vertex["input-latency"] - latency * 1000) < 1e-6,
      `${vertex["input-latency"]} ms, ${latency} s`,
    );
  } finally {
    client.cancel();
    await client.done;
  }
});

Deno.test("metrics: bad or duplicate metric names are named", async () => {
  for (
    const [name, re] of [["1st", /not valid/], ["a-b", /not valid/], [
      "dup",
      /already registered/,
    ]] as const
  ) {
    const env = StreamEnvironment.create();
    env.fromElements(1).map({
      open(ctx: RuntimeContext) {
        ctx.getMetricGroup().counter("dup");
        ctx.getMetricGroup().counter(name);
      },
      map: (n: number) => n,
    });
    await assert.rejects(env.execute(), (e: unknown) => {
      const cause = (e as Error).cause;
      assert.ok(cause instanceof ConfigError, String(e));
      assert.match(cause.message, re);
      return true;
    });
  }
});

Deno.test("metrics: a source counter whose name is no Prometheus name is exported under a valid one", () => {
  const text = renderMetrics({
    jobs: () => [{
      id: "c".repeat(32),
      name: "custom source",
      startTime: 0,
      status: () => "RUNNING",
      endTime: () => undefined,
      restarts: () => 0,
      maxParallelism: () => 128,
      vertices: () => [{
        uid: "src",
        name: "Source",
        parallelism: 1,
        recordsIn: 0,
        recordsOut: 4,
        backpressureRatio: 0,
        // SourceReader.counters of a user's source: any text may be a key.
        sourceCounters: { "bad-lines": 3, "retries (http)": 1, skipped: 2 },
      }],
      checkpointConfig: () => undefined,
      checkpoints: () => ({ history: [], inProgress: [] }),
      segments: () => [],
      triggerCheckpoint: () => Promise.reject(new Error("unused")),
      triggerSavepoint: () => Promise.reject(new Error("unused")),
      stopWithSavepoint: () => Promise.reject(new Error("unused")),
      cancel: () => {},
      queryState: () => Promise.resolve({ kind: "unknown-key", message: "none" }),
    }],
  });
  checkExposition(text);
  const labels = 'job_id="' + "c".repeat(32) +
    '",job_name="custom source",operator_uid="src",operator_name="Source"';
  assert.match(text, new RegExp(`^weir_source_bad_lines_total\\{${labels}\\} 3$`, "m"));
  assert.match(text, new RegExp(`^weir_source_retries__http__total\\{${labels}\\} 1$`, "m"));
  assert.match(text, new RegExp(`^weir_source_skipped_total\\{${labels}\\} 2$`, "m"));
});

/** An admin runtime of one job whose vertices have these user metrics (subtask 0 each). */
function jobWithUserMetrics(metrics: Record<string, MetricSample[]>) {
  return {
    jobs: () => [{
      id: "d".repeat(32),
      name: "user metrics",
      startTime: 0,
      status: () => "RUNNING" as const,
      endTime: () => undefined,
      restarts: () => 0,
      maxParallelism: () => 128,
      vertices: () =>
        Object.entries(metrics).map(([uid, samples]) => ({
          uid,
          name: uid,
          parallelism: 1,
          recordsIn: 0,
          recordsOut: 0,
          backpressureRatio: 0,
          userMetrics: [{ subtaskIndex: 0, samples }],
        })),
      checkpointConfig: () => undefined,
      checkpoints: () => ({ history: [], inProgress: [] }),
      segments: () => [],
      triggerCheckpoint: () => Promise.reject(new Error("unused")),
      triggerSavepoint: () => Promise.reject(new Error("unused")),
      stopWithSavepoint: () => Promise.reject(new Error("unused")),
      cancel: () => {},
      queryState: () => Promise.resolve({ kind: "unknown-key" as const, message: "none" }),
    }],
  };
}

Deno.test("metrics: user counters are gauges (they can go down), as in Flink's Prometheus reporter", () => {
  const group = new MetricGroup();
  const c = group.counter("in_flight");
  c.inc(3);
  c.dec(2);
  const text = renderMetrics(jobWithUserMetrics({ op: group.samples() }));
  checkExposition(text);
  assert.match(text, /^# TYPE weir_user_in_flight gauge$/m);
  assert.equal(sample(text, "weir_user_in_flight", /operator_uid="op"/), 1);
  assert.doesNotMatch(text, /weir_user_in_flight_total/);
});

Deno.test("metrics: one user metric name of two kinds in two operators is still valid exposition", () => {
  const h = { count: 2, sum: 3, quantile: () => 1.5 };
  const text = renderMetrics(jobWithUserMetrics({
    a: [{ kind: "counter", name: "x", value: 1 }, { kind: "histogram", name: "y", value: h }],
    b: [{ kind: "gauge", name: "x", value: 2 }, { kind: "gauge", name: "y", value: 4 }],
    c: [{ kind: "histogram", name: "z_sum", value: h }],
    d: [{ kind: "histogram", name: "z", value: h }],
  }));
  checkExposition(text);
  // A counter and a gauge of one name: one gauge family, a series per operator.
  assert.equal(text.match(/^# TYPE weir_user_x gauge$/gm)?.length, 1);
  assert.equal(sample(text, "weir_user_x", /operator_uid="a"/), 1);
  assert.equal(sample(text, "weir_user_x", /operator_uid="b"/), 2);
  // A histogram whose names a gauge has, or another histogram's _sum: a family of its own.
  assert.match(text, /^# TYPE weir_user_y gauge$/m);
  assert.match(text, /^# TYPE weir_user_y_distribution summary$/m);
  assert.equal(sample(text, "weir_user_y_distribution_count", /operator_uid="a"/), 2);
  assert.match(text, /^# TYPE weir_user_z summary$/m);
  assert.match(text, /^# TYPE weir_user_z_sum_distribution summary$/m);
});
