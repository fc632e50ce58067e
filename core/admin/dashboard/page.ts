/// <reference lib="dom" />
/**
 * The dashboard's browser code (bundled by `build.ts` with esbuild into
 * `bundle.ts`). Views:
 *
 * - jobs, and the selected job's graph: operators as nodes (parallelism,
 *   records in/out per second, backpressure as colour), edges labelled with
 *   their partitioning, each node's output watermark; a click on a node opens
 *   the operator: per-subtask records, backpressure, input and output
 *   watermarks, and a queryable-state lookup by key;
 * - sources: each source's current watermark, the lowest over its subtasks,
 *   and each subtask's;
 * - checkpoints: counts, the latest restore and failure with its cause, a
 *   chart with axes and units (duration; full and incremental size) and the
 *   history, paged (`?limit&offset` of the API) back to the oldest entry, and
 *   a detail view per checkpoint (per-task sync/async/alignment and sizes);
 * - exceptions: the failures that restarted the job, newest first;
 * - actions: savepoint, stop (with or without drain) and cancel.
 *
 * When the API answers 401 the page asks for the bearer token and keeps it in
 * `sessionStorage` (a `#token=...` fragment is still taken, then removed from
 * the address bar). `?refresh=MS` sets the refresh interval. Figures a job's
 * source does not record (`weir ui` of an ended job: records, backpressure,
 * watermarks, edges) are shown as not recorded, never as zeros.
 *
 * @module
 */

interface JobRow {
  id: string;
  status: string;
}
interface Vertex {
  id: string;
  uid: string;
  name: string;
  parallelism: number;
  status: string;
  metrics: { "read-records": number; "write-records": number };
  "backpressure-ratio": number;
  watermark: number | null;
  "event-time-lag": number | null;
  "input-latency": number | null;
}
interface PlanNode {
  id: string;
  description: string;
  parallelism: number;
  inputs?: { id: string; ship_strategy: string; side_output?: string }[];
}
interface JobDetail {
  jid: string;
  name: string;
  state: string;
  restarts: number;
  isStoppable: boolean;
  "not-recorded"?: string[];
  vertices: Vertex[];
  plan: { nodes: PlanNode[] };
}
interface HistoryRow {
  id: number;
  status: string;
  is_savepoint: boolean;
  end_to_end_duration: number;
  checkpointed_size: number;
  state_size: number;
  trigger_timestamp: number;
  failure_message?: string | null;
}
interface Checkpoints {
  history_total: number;
  history_offset: number;
  counts: {
    completed: number;
    failed: number;
    in_progress: number;
    restored: number;
    total: number;
  };
  history: HistoryRow[];
  latest: {
    failed: HistoryRow | null;
    restored: { id: number; restore_timestamp: number; external_path: string } | null;
  };
}
interface ThreadRow {
  id: string;
  jobId: string;
  slotsNumber: number;
  heapUsed: number;
  heapTotal: number;
}
interface SubtaskRow {
  subtask: number;
  status: string;
  metrics: { "read-records": number; "write-records": number };
  "backpressure-ratio": number;
  currentInputWatermark: number | null;
  currentOutputWatermark?: number | null;
  stateSize: number | null;
}

/** A watermark as a time when it looks like ms since the epoch, else as a number. */
function watermarkText(w: number | null): string {
  if (w === null) return "—";
  return w >= 1e11 ? new Date(w).toISOString() : String(w);
}

/** How far event time is behind the wall clock, for watermarks that are epoch times. */
function lagText(w: number | null): string {
  return w === null || w < 1e11 ? "—" : ms(Math.max(0, Date.now() - w));
}
interface TaskDetail {
  id: string;
  state_size: number;
  checkpointed_size: number;
  end_to_end_duration: number;
  start_delay: number;
  alignment: { duration: number };
  checkpoint_duration: { sync: number; async: number };
}

const TOKEN_KEY = "weir-admin-token";
/** How many checkpoints one page of the chart and the history table shows. */
const CHART_CHECKPOINTS = 120;
const refreshMs = Number(new URLSearchParams(location.search).get("refresh") ?? "1000") || 1000;

function takeFragmentToken(): void {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
}
takeFragmentToken();

class Unauthorized extends Error {}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set("authorization", `Bearer ${token}`);
  const res = await fetch(path, { ...init, headers });
  const body = await res.json();
  if (res.status === 401) throw new Unauthorized((body.errors ?? [res.statusText]).join("; "));
  if (!res.ok) throw new Error((body.errors ?? [res.statusText]).join("; "));
  return body as T;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function bytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

function ms(n: number): string {
  return n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
}

function rate(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(0)}k/s` : `${Math.round(n)}/s`;
}

/** Green at no backpressure, through yellow, to red when always backpressured. */
function pressureColour(ratio: number): string {
  const r = Math.max(0, Math.min(1, ratio));
  return `hsl(${Math.round(120 * (1 - r))}, 60%, 82%)`;
}

const $ = (id: string) => document.getElementById(id)!;

/** Counter samples between refreshes, for rates. */
const samples = new Map<string, { at: number; value: number }>();
function perSecond(key: string, value: number): number {
  const now = performance.now();
  const prev = samples.get(key);
  samples.set(key, { at: now, value });
  if (!prev || now <= prev.at) return 0;
  return Math.max(0, (value - prev.value) / ((now - prev.at) / 1000));
}

let selected: string | undefined;
let selectedVertex: string | undefined;
let selectedCheckpoint: number | undefined;
let current: JobDetail | undefined;
/** The history page shown: newer entries skipped (0: the newest page). */
let historyOffset = 0;
const NOT_RECORDED = "not recorded";

/** Whether the selected job's source records `what` (records, backpressure, watermarks, edges). */
function recorded(job: JobDetail, what: string): boolean {
  return !(job["not-recorded"] ?? []).includes(what);
}
/** Records per second in and out of each vertex of the selected job, as of the last refresh. */
let vertexRates = new Map<string, { inRate: number; outRate: number }>();

function throughput(job: JobDetail): number {
  // Records per second out of the sources.
  const records = job.vertices.filter((v) => v.metrics["read-records"] === 0)
    .reduce((n, v) => n + v.metrics["write-records"], 0);
  return perSecond(`job:${job.jid}`, records);
}

function renderJobs(jobs: JobDetail[], rates: Map<string, number>): void {
  $("jobs-body").replaceChildren(...jobs.map((j) => {
    const row = el(
      "tr",
      { "data-job-id": j.jid, class: j.jid === selected ? "selected" : "" },
      el("td", { class: "job-name" }, j.name),
      el("td", { class: "mono" }, j.jid),
      el("td", { class: "job-state" }, j.state),
      el("td", {}, String(j.restarts)),
      el("td", { class: "job-throughput" }, `${Math.round(rates.get(j.jid) ?? 0)} rec/s`),
    );
    row.addEventListener("click", () => {
      selected = j.jid;
      selectedVertex = undefined;
      selectedCheckpoint = undefined;
      historyOffset = 0;
      void refresh();
    });
    return row;
  }));
}

/** The threads that run the job's subtasks (`GET /taskmanagers`), with their heaps. */
function renderThreads(job: JobDetail, threads: ThreadRow[]): void {
  $("threads-body").replaceChildren(
    ...threads.filter((t) => t.jobId === job.jid).map((t) =>
      el(
        "tr",
        { "data-thread": t.id },
        el("td", { class: "mono" }, t.id),
        el("td", { class: "thread-tasks" }, String(t.slotsNumber)),
        el(
          "td",
          { class: "thread-heap-used", "data-bytes": String(t.heapUsed) },
          bytes(t.heapUsed),
        ),
        el("td", { class: "thread-heap-total" }, bytes(t.heapTotal)),
      )
    ),
  );
}

function renderVertices(job: JobDetail): void {
  const records = recorded(job, "records"), pressure = recorded(job, "backpressure");
  const watermarks = recorded(job, "watermarks");
  $("vertices-body").replaceChildren(...job.vertices.map((v) =>
    el(
      "tr",
      { "data-vertex-uid": v.uid },
      el("td", {}, v.name),
      el("td", { class: "mono" }, v.uid),
      el("td", {}, String(v.parallelism)),
      el("td", { class: "vertex-status" }, v.status),
      el("td", { class: "records-in" }, records ? String(v.metrics["read-records"]) : NOT_RECORDED),
      el(
        "td",
        { class: "records-out" },
        records ? String(v.metrics["write-records"]) : NOT_RECORDED,
      ),
      el(
        "td",
        { class: "backpressure" },
        pressure ? `${Math.round(v["backpressure-ratio"] * 100)}%` : NOT_RECORDED,
      ),
      el(
        "td",
        { class: "watermark mono", "data-watermark": String(v.watermark ?? "") },
        watermarks ? watermarkText(v.watermark) : NOT_RECORDED,
      ),
      el(
        "td",
        { class: "event-time-lag" },
        !records
          ? NOT_RECORDED
          : v["event-time-lag"] === null
          ? "-"
          : `${(v["event-time-lag"] / 1000).toFixed(1)} s`,
      ),
      el(
        "td",
        { class: "input-latency" },
        !records
          ? NOT_RECORDED
          : v["input-latency"] === null
          ? "-"
          : `${v["input-latency"].toFixed(1)} ms`,
      ),
    )
  ));
}

/** Layers of the graph: a node sits one layer right of its furthest input. */
function layers(nodes: PlanNode[]): Map<string, number> {
  const depth = new Map<string, number>();
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const visit = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    const inputs = byId.get(id)?.inputs ?? [];
    const d = inputs.length === 0 ? 0 : 1 + Math.max(...inputs.map((i) => visit(i.id, seen)));
    depth.set(id, d);
    return d;
  };
  for (const n of nodes) visit(n.id, new Set());
  return depth;
}

function renderGraph(job: JobDetail): void {
  const nodes = job.plan.nodes;
  const vertexById = new Map(job.vertices.map((v) => [v.id, v]));
  const depth = layers(nodes);
  const W = 210, H = 84, GX = 90, GY = 24, PAD = 16;
  const records = recorded(job, "records"), pressured = recorded(job, "backpressure");
  const watermarks = recorded(job, "watermarks");
  const rows = new Map<number, number>();
  const pos = new Map<string, { x: number; y: number }>();
  for (const n of nodes) {
    const d = depth.get(n.id) ?? 0;
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    pos.set(n.id, { x: PAD + d * (W + GX), y: PAD + r * (H + GY) });
  }
  const width = PAD * 2 + (Math.max(0, ...depth.values()) + 1) * (W + GX) - GX;
  const height = PAD * 2 + Math.max(1, ...rows.values()) * (H + GY) - GY;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  root.append(svg("title", {}, `job graph of ${job.name}`));
  const defs = svg("defs", {});
  const marker = svg("marker", {
    id: "arrow",
    viewBox: "0 0 10 10",
    refX: 10,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: "auto-start-reverse",
  });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#666" }));
  defs.append(marker);
  root.append(defs);
  for (const n of nodes) {
    const to = pos.get(n.id)!;
    for (const input of n.inputs ?? []) {
      const from = pos.get(input.id);
      if (!from) continue;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2;
      const mid = (x1 + x2) / 2;
      root.append(svg("path", {
        d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`,
        fill: "none",
        stroke: "#666",
        "marker-end": "url(#arrow)",
        class: "graph-edge",
        "data-from": input.id,
        "data-to": n.id,
        "data-ship-strategy": input.ship_strategy,
      }));
      const label = input.side_output
        ? `${input.ship_strategy} (${input.side_output})`
        : input.ship_strategy;
      root.append(svg("text", {
        x: mid,
        y: (y1 + y2) / 2 - 4,
        "text-anchor": "middle",
        "font-size": 11,
        fill: "#444",
        class: "graph-edge-label",
      }, label));
    }
  }
  for (const n of nodes) {
    const { x, y } = pos.get(n.id)!;
    const v = vertexById.get(n.id);
    const { inRate, outRate } = vertexRates.get(n.id) ?? { inRate: 0, outRate: 0 };
    const pressure = pressured ? v?.["backpressure-ratio"] ?? 0 : 0;
    const g = svg("g", {
      class: `graph-node${n.id === selectedVertex ? " selected" : ""}`,
      "data-vertex-id": n.id,
      "data-vertex-uid": v?.uid ?? "",
      "data-parallelism": n.parallelism,
      "data-backpressure": pressure,
      tabindex: 0,
      role: "button",
    });
    g.append(
      svg("rect", {
        x,
        y,
        width: W,
        height: H,
        rx: 6,
        fill: pressured ? pressureColour(pressure) : "#eee",
        stroke: n.id === selectedVertex ? "#1a4d8f" : "#888",
        "stroke-width": n.id === selectedVertex ? 3 : 1,
      }),
      svg("text", { x: x + 8, y: y + 18, "font-size": 13, "font-weight": 600 }, n.description),
      svg(
        "text",
        { x: x + 8, y: y + 36, "font-size": 11, class: "graph-node-parallelism" },
        `parallelism ${n.parallelism} · backpressure ${
          pressured ? `${Math.round(pressure * 100)}%` : NOT_RECORDED
        }`,
      ),
      svg(
        "text",
        { x: x + 8, y: y + 54, "font-size": 11, class: "graph-node-rates" },
        records ? `in ${rate(inRate)} · out ${rate(outRate)}` : `records ${NOT_RECORDED}`,
      ),
      svg(
        "text",
        { x: x + 8, y: y + 72, "font-size": 11, class: "graph-node-watermark" },
        `watermark ${watermarks ? watermarkText(v?.watermark ?? null) : NOT_RECORDED}`,
      ),
    );
    const open = () => {
      selectedVertex = n.id;
      void renderOperator();
      renderGraph(job);
    };
    g.addEventListener("click", open);
    g.addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") open();
    });
    root.append(g);
  }
  $("job-graph").replaceChildren(root);
  const missing = job["not-recorded"] ?? [];
  const asOf = missing.includes("records")
    ? " This checkpoint history is older than the figures weir keeps with each checkpoint."
    : " Records, watermarks and edges are as of the newest completed checkpoint.";
  $("not-recorded").textContent = missing.length === 0
    ? ""
    : `Not recorded for this job: ${missing.join(", ")}: they live only while a job runs.${asOf}`;
}

/** Each source's watermark: the lowest over its subtasks, and each subtask's. */
async function renderSourceWatermarks(job: JobDetail): Promise<void> {
  const sources = job.plan.nodes.filter((n) => (n.inputs ?? []).length === 0);
  const watermarks = recorded(job, "watermarks");
  const rows = await Promise.all(sources.map(async (n) => {
    const v = job.vertices.find((x) => x.id === n.id);
    const detail = watermarks
      ? await api<{ subtasks: SubtaskRow[] }>(`/jobs/${job.jid}/vertices/${n.id}`)
      : { subtasks: [] };
    const subtasks = detail.subtasks.map((s) => watermarkText(s.currentOutputWatermark ?? null));
    return el(
      "tr",
      { "data-vertex-uid": v?.uid ?? "" },
      el("td", {}, n.description),
      el(
        "td",
        { class: "source-watermark mono", "data-watermark": String(v?.watermark ?? "") },
        watermarks ? watermarkText(v?.watermark ?? null) : NOT_RECORDED,
      ),
      el("td", { class: "source-lag" }, watermarks ? lagText(v?.watermark ?? null) : "—"),
      el(
        "td",
        { class: "source-subtask-watermarks mono" },
        // Many subtasks: the first few, then how many more.
        subtasks.length > 8
          ? `${subtasks.slice(0, 8).join(", ")} … (${subtasks.length} subtasks)`
          : subtasks.join(", "),
      ),
    );
  }));
  $("source-watermarks-body").replaceChildren(...rows);
}

async function renderOperator(): Promise<void> {
  const job = current;
  const panel = $("operator");
  if (!job || !selectedVertex) {
    panel.hidden = true;
    return;
  }
  const vertex = job.vertices.find((v) => v.id === selectedVertex);
  if (!vertex) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  panel.dataset.vertexUid = vertex.uid;
  $("operator-name").textContent = `${vertex.name} (${vertex.uid})`;
  const records = recorded(job, "subtask records");
  const detail = await api<{ subtasks: SubtaskRow[] }>(
    `/jobs/${job.jid}/vertices/${vertex.id}`,
  );
  $("operator-subtasks-body").replaceChildren(...detail.subtasks.map((s) =>
    el(
      "tr",
      { "data-subtask": String(s.subtask) },
      el("td", {}, String(s.subtask)),
      el("td", { class: "subtask-status" }, s.status),
      el(
        "td",
        { class: "subtask-records-in" },
        records ? String(s.metrics["read-records"]) : NOT_RECORDED,
      ),
      el(
        "td",
        { class: "subtask-records-out" },
        records ? String(s.metrics["write-records"]) : NOT_RECORDED,
      ),
      el(
        "td",
        {
          class: "subtask-backpressure",
          style: `background:${pressureColour(s["backpressure-ratio"])}`,
        },
        `${Math.round(s["backpressure-ratio"] * 100)}%`,
      ),
      el(
        "td",
        { class: "subtask-state-size", "data-bytes": String(s.stateSize ?? "") },
        s.stateSize === null ? "—" : bytes(s.stateSize),
      ),
      el("td", { class: "subtask-watermark mono" }, watermarkText(s.currentInputWatermark)),
      el("td", { class: "subtask-lag" }, lagText(s.currentInputWatermark)),
      el(
        "td",
        { class: "subtask-output-watermark mono" },
        s.currentOutputWatermark === undefined ? "—" : watermarkText(s.currentOutputWatermark),
      ),
    )
  ));
}

async function lookupState(e: Event): Promise<void> {
  e.preventDefault();
  const job = current;
  const vertex = job?.vertices.find((v) => v.id === selectedVertex);
  const out = $("state-result");
  if (!job || !vertex) return;
  const name = ($("state-name") as HTMLInputElement).value.trim();
  const key = ($("state-key") as HTMLInputElement).value;
  try {
    const r = await api<{ value: unknown; subtask: number }>(
      `/jobs/${job.jid}/state/${encodeURIComponent(vertex.uid)}/${encodeURIComponent(name)}?key=${
        encodeURIComponent(key)
      }`,
    );
    out.textContent = `${JSON.stringify(r.value)} (subtask ${r.subtask})`;
    out.dataset.state = "found";
  } catch (err) {
    out.textContent = err instanceof Error ? err.message : String(err);
    out.dataset.state = "error";
  }
}

/** Round axis steps: 1, 2 or 5 times a power of ten. */
function ticks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
  // Up to the first tick at or above max, so the tallest bar stays inside the axis.
  const out: number[] = [0];
  while (out.at(-1)! < max) out.push(out.length * step);
  return out;
}

function renderChart(rows: HistoryRow[]): void {
  const w = 760, h = 260, left = 64, right = 72, top = 28, bottom = 40;
  const plotW = w - left - right, plotH = h - top - bottom;
  const root = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  root.append(svg("title", {}, "checkpoint duration and size per checkpoint"));
  const durTicks = ticks(Math.max(1, ...rows.map((r) => r.end_to_end_duration)));
  const maxD = durTicks.at(-1)!;
  const sizeTicks = ticks(
    Math.max(1, ...rows.map((r) => Math.max(r.state_size, r.checkpointed_size))),
  );
  const maxS = sizeTicks.at(-1)!;
  const yD = (d: number) => top + plotH - (d / maxD) * plotH;
  const yS = (s: number) => top + plotH - (s / maxS) * plotH;
  // Axes: duration on the left, size on the right, checkpoint id along the bottom.
  root.append(
    svg("line", {
      x1: left,
      y1: top,
      x2: left,
      y2: top + plotH,
      stroke: "#888",
      class: "axis-y-duration",
    }),
    svg("line", { x1: left + plotW, y1: top, x2: left + plotW, y2: top + plotH, stroke: "#888" }),
    svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, stroke: "#888" }),
  );
  for (const t of durTicks) {
    root.append(
      svg("line", { x1: left, y1: yD(t), x2: left + plotW, y2: yD(t), stroke: "#eee" }),
      svg("text", {
        x: left - 6,
        y: yD(t) + 4,
        "text-anchor": "end",
        "font-size": 11,
        class: "tick-duration",
      }, ms(t)),
    );
  }
  for (const t of sizeTicks) {
    root.append(svg("text", {
      x: left + plotW + 6,
      y: yS(t) + 4,
      "font-size": 11,
      class: "tick-size",
    }, bytes(t)));
  }
  root.append(
    svg("text", { x: left, y: 16, "font-size": 12, class: "axis-label" }, "duration (bars)"),
    svg("text", {
      x: left + plotW,
      y: 16,
      "font-size": 12,
      "text-anchor": "end",
      class: "axis-label",
    }, "size: full (line), incremental (dashed)"),
    svg("text", {
      x: left + plotW / 2,
      y: h - 6,
      "font-size": 12,
      "text-anchor": "middle",
      class: "axis-label",
    }, "checkpoint id"),
  );
  const slot = plotW / Math.max(1, rows.length);
  const full: string[] = [], incremental: string[] = [];
  const labelEvery = Math.max(1, Math.ceil(rows.length / 12));
  rows.forEach((r, i) => {
    const x = left + i * slot;
    const bar = svg("rect", {
      x: x + slot * 0.15,
      y: yD(r.end_to_end_duration),
      width: Math.max(1, slot * 0.7),
      height: Math.max(1, top + plotH - yD(r.end_to_end_duration)),
      fill: r.status === "FAILED" ? "#d9534f" : r.is_savepoint ? "#f0ad4e" : "#5b9bd5",
      "data-checkpoint-id": r.id,
      "data-duration": r.end_to_end_duration,
      "data-size": r.checkpointed_size,
      "data-state-size": r.state_size,
      class: `checkpoint-bar${r.id === selectedCheckpoint ? " selected" : ""}`,
    });
    bar.append(svg(
      "title",
      {},
      `#${r.id} ${r.status}: ${ms(r.end_to_end_duration)}, full ${bytes(r.state_size)}, ` +
        `incremental ${bytes(r.checkpointed_size)}`,
    ));
    bar.addEventListener("click", () => void showCheckpoint(r.id));
    root.append(bar);
    if (i % labelEvery === 0) {
      root.append(svg("text", {
        x: x + slot / 2,
        y: top + plotH + 14,
        "font-size": 11,
        "text-anchor": "middle",
        class: "tick-id",
      }, String(r.id)));
    }
    full.push(`${x + slot / 2},${yS(r.state_size)}`);
    incremental.push(`${x + slot / 2},${yS(r.checkpointed_size)}`);
  });
  if (rows.length > 0) {
    root.append(
      svg("polyline", {
        points: full.join(" "),
        fill: "none",
        stroke: "#2e7d32",
        "stroke-width": 2,
        class: "size-line",
      }),
      svg("polyline", {
        points: incremental.join(" "),
        fill: "none",
        stroke: "#6a1b9a",
        "stroke-width": 2,
        "stroke-dasharray": "5 3",
        class: "incremental-size-line",
      }),
    );
  }
  $("checkpoint-chart").replaceChildren(root);
}

function renderCheckpoints(c: Checkpoints): void {
  $("count-completed").textContent = String(c.counts.completed);
  $("count-failed").textContent = String(c.counts.failed);
  $("count-in-progress").textContent = String(c.counts.in_progress);
  $("count-restored").textContent = String(c.counts.restored);
  const restored = c.latest.restored;
  $("latest-restore").textContent = restored
    ? `checkpoint ${restored.id} from ${restored.external_path} at ${
      new Date(restored.restore_timestamp).toLocaleString()
    }`
    : "none";
  const failed = c.latest.failed;
  $("latest-failure").textContent = failed
    ? `checkpoint ${failed.id}: ${failed.failure_message ?? "unknown cause"}`
    : "none";
  // One page of the history, newest first: the chart and the table show the same checkpoints.
  const ended = c.history.filter((h) => h.status !== "IN_PROGRESS");
  renderChart(ended.slice().reverse());
  const total = c.history_total;
  const from = c.history_offset + 1, to = c.history_offset + c.history.length;
  $("history-note").textContent = total > c.history.length
    ? `${from}–${to} (newest first) of ${total}`
    : "";
  ($("history-newer") as HTMLButtonElement).disabled = c.history_offset === 0;
  ($("history-older") as HTMLButtonElement).disabled = to >= total;
  $("checkpoint-history-body").replaceChildren(
    ...c.history.map((r) => {
      const row = el(
        "tr",
        { "data-checkpoint-id": String(r.id), class: "clickable" },
        el("td", {}, String(r.id)),
        el("td", {}, r.status),
        el("td", {}, r.is_savepoint ? "savepoint" : "checkpoint"),
        el("td", {}, ms(r.end_to_end_duration)),
        el("td", {}, bytes(r.checkpointed_size)),
        el("td", {}, bytes(r.state_size)),
      );
      if (r.status !== "IN_PROGRESS") {
        row.addEventListener("click", () => void showCheckpoint(r.id));
      }
      return row;
    }),
  );
}

async function showCheckpoint(id: number): Promise<void> {
  if (!current) return;
  selectedCheckpoint = id;
  const panel = $("checkpoint-detail");
  try {
    const d = await api<HistoryRow & { tasks: Record<string, TaskDetail> }>(
      `/jobs/${current.jid}/checkpoints/details/${id}`,
    );
    panel.hidden = false;
    panel.dataset.checkpointId = String(id);
    $("checkpoint-detail-title").textContent = `${
      d.is_savepoint ? "Savepoint" : "Checkpoint"
    } ${id}: ${d.status}, ${ms(d.end_to_end_duration)}, full ${bytes(d.state_size)}, incremental ${
      bytes(d.checkpointed_size)
    }${d.failure_message ? ` (failed: ${d.failure_message})` : ""}`;
    $("checkpoint-tasks-body").replaceChildren(
      ...Object.values(d.tasks ?? {}).map((t) =>
        el(
          "tr",
          { "data-task": t.id },
          el("td", { class: "mono" }, t.id),
          el("td", { class: "task-sync" }, ms(t.checkpoint_duration.sync)),
          el("td", { class: "task-async" }, ms(t.checkpoint_duration.async)),
          el("td", { class: "task-alignment" }, ms(t.alignment.duration)),
          el("td", {}, ms(t.start_delay)),
          el(
            "td",
            { class: "task-state-size", "data-bytes": String(t.state_size) },
            bytes(t.state_size),
          ),
          el(
            "td",
            { class: "task-checkpointed-size", "data-bytes": String(t.checkpointed_size) },
            bytes(t.checkpointed_size),
          ),
        )
      ),
    );
  } catch (e) {
    panel.hidden = false;
    $("checkpoint-detail-title").textContent = `Checkpoint ${id}: ${e}`;
    $("checkpoint-tasks-body").replaceChildren();
  }
}

interface Exceptions {
  exceptionHistory: { entries: { stacktrace: string; timestamp: number; restoredFrom?: string }[] };
}

function renderExceptions(e: Exceptions): void {
  const entries = e.exceptionHistory.entries;
  $("exceptions-note").textContent = entries.length === 0 ? "none: the job has not failed" : "";
  $("exceptions-body").replaceChildren(...entries.map((x) =>
    el(
      "tr",
      { class: "exception" },
      el("td", {}, new Date(x.timestamp).toLocaleString()),
      // The message (its first line) in the table, the stack trace after it on hover.
      el(
        "td",
        { class: "exception-message mono", title: x.stacktrace },
        x.stacktrace.split("\n")[0]!,
      ),
      el("td", { class: "mono" }, x.restoredFrom ?? "—"),
    )
  ));
}

function showTokenPrompt(message: string): void {
  const form = $("token-form");
  form.hidden = false;
  $("token-message").textContent = message;
}

async function refresh(): Promise<void> {
  try {
    const { jobs } = await api<{ jobs: JobRow[] }>("/jobs");
    $("token-form").hidden = true;
    const details = await Promise.all(jobs.map((j) => api<JobDetail>(`/jobs/${j.id}`)));
    const rates = new Map(details.map((d) => [d.jid, throughput(d)]));
    const job = details.find((d) => d.jid === selected) ?? details[0];
    selected = job?.jid;
    current = job;
    renderJobs(details, rates);
    if (job) {
      $("selected-job").textContent = `${job.name} (${job.jid})`;
      renderVertices(job);
      vertexRates = new Map(job.vertices.map((v) => [v.id, {
        inRate: perSecond(`in:${job.jid}:${v.id}`, v.metrics["read-records"]),
        outRate: perSecond(`out:${job.jid}:${v.id}`, v.metrics["write-records"]),
      }]));
      // With the job's state, before anything awaited: the buttons never offer what it shows ended.
      // A job waiting out its restart delay can be cancelled, not stopped with a savepoint.
      const running = job.state === "RUNNING";
      const cancellable = running || job.state === "RESTARTING";
      for (const id of ["savepoint-button", "stop-button", "drain-button"]) {
        ($(id) as HTMLButtonElement).disabled = !running || !job.isStoppable;
      }
      ($("cancel-button") as HTMLButtonElement).disabled = !cancellable;
      renderGraph(job);
      await renderOperator();
      await renderSourceWatermarks(job);
      renderThreads(job, (await api<{ taskmanagers: ThreadRow[] }>("/taskmanagers")).taskmanagers);
      renderExceptions(await api<Exceptions>(`/jobs/${job.jid}/exceptions`));
      try {
        let page = await api<Checkpoints>(
          `/jobs/${job.jid}/checkpoints?limit=${CHART_CHECKPOINTS}&offset=${historyOffset}`,
        );
        if (historyOffset > 0 && page.history.length === 0) {
          // The history shrank below the page (another job selected): back to the newest.
          historyOffset = 0;
          page = await api<Checkpoints>(`/jobs/${job.jid}/checkpoints?limit=${CHART_CHECKPOINTS}`);
        }
        renderCheckpoints(page);
      } catch {
        // Checkpointing off: nothing to chart.
      }
    }
    $("error").textContent = "";
    $("updated").textContent = new Date().toLocaleTimeString();
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes ?? "0") + 1);
  } catch (e) {
    if (e instanceof Unauthorized) {
      showTokenPrompt(
        sessionStorage.getItem(TOKEN_KEY) ? "The token was refused: enter it again." : e.message,
      );
      return;
    }
    $("error").textContent = String(e);
  }
}

type Operation = "savepoint" | "stop" | "drain";

async function runOperation(kind: Operation): Promise<void> {
  const status = $("operation-status");
  if (!selected) return;
  const what = kind === "savepoint" ? "savepoint" : kind === "stop" ? "stop" : "stop with drain";
  if (kind !== "savepoint" && !confirm(`${what}: the job ends. Go on?`)) return;
  status.textContent = `${what} in progress…`;
  status.dataset.state = "running";
  try {
    const path = kind === "savepoint" ? `/jobs/${selected}/savepoints` : `/jobs/${selected}/stop`;
    const body = kind === "savepoint" ? {} : { drain: kind === "drain" };
    const { "request-id": id } = await api<{ "request-id": string }>(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    for (;;) {
      const r = await api<{
        status: { id: string };
        operation?: { location?: string; "failure-cause"?: { "stack-trace"?: string } };
      }>(`/jobs/${selected}/savepoints/${id}`);
      if (r.status.id === "COMPLETED") {
        const loc = r.operation?.location;
        status.textContent = loc
          ? `${what} completed: ${loc}`
          : `${what} failed: ${r.operation?.["failure-cause"]?.["stack-trace"] ?? "unknown"}`;
        status.dataset.state = loc ? "completed" : "failed";
        status.dataset.location = loc ?? "";
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    status.textContent = `${what} failed: ${e}`;
    status.dataset.state = "failed";
  } finally {
    await refresh();
  }
}

async function cancelJob(): Promise<void> {
  const status = $("operation-status");
  if (!selected || !confirm("Cancel the job? It ends without a savepoint.")) return;
  try {
    await api(`/jobs/${selected}?mode=cancel`, { method: "PATCH" });
    status.textContent = "cancel requested";
    status.dataset.state = "cancelled";
  } catch (e) {
    status.textContent = `cancel failed: ${e}`;
    status.dataset.state = "failed";
  }
  await refresh();
}

$("savepoint-button").addEventListener("click", () => void runOperation("savepoint"));
$("stop-button").addEventListener("click", () => void runOperation("stop"));
$("drain-button").addEventListener("click", () => void runOperation("drain"));
$("cancel-button").addEventListener("click", () => void cancelJob());
$("state-form").addEventListener("submit", (e) => void lookupState(e));
$("history-older").addEventListener("click", () => {
  historyOffset += CHART_CHECKPOINTS;
  void refresh();
});
$("history-newer").addEventListener("click", () => {
  historyOffset = Math.max(0, historyOffset - CHART_CHECKPOINTS);
  void refresh();
});
$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, ($("token-input") as HTMLInputElement).value);
  ($("token-input") as HTMLInputElement).value = "";
  void refresh();
});
void refresh();
setInterval(() => void refresh(), refreshMs);
