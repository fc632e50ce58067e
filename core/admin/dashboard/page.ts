/// <reference lib="dom" />
/**
 * The dashboard's browser code (bundled by `build.ts` with esbuild into
 * `bundle.ts`): shows jobs, their operators and throughput, and checkpoint
 * history as a chart of duration and size per checkpoint, refreshing live; a
 * button triggers a savepoint. A bearer token, when the API needs one, is
 * read from the page's fragment (`/#token=...`), so it never reaches logs.
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
  metrics: { "read-records": number; "write-records": number };
  "backpressure-ratio": number;
  watermark: number | null;
  "event-time-lag": number | null;
  "input-latency": number | null;
}
interface JobDetail {
  jid: string;
  name: string;
  state: string;
  restarts: number;
  vertices: Vertex[];
}
interface HistoryRow {
  id: number;
  status: string;
  is_savepoint: boolean;
  end_to_end_duration: number;
  checkpointed_size: number;
  state_size: number;
}
interface Checkpoints {
  counts: { completed: number; failed: number; in_progress: number; restored: number };
  history: HistoryRow[];
}

const token = new URLSearchParams(location.hash.slice(1)).get("token");
const refreshMs = Number(new URLSearchParams(location.search).get("refresh") ?? "1000") || 1000;

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  const res = await fetch(path, { ...init, headers });
  const body = await res.json();
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

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const $ = (id: string) => document.getElementById(id)!;
const lastOut = new Map<string, { at: number; records: number }>();
let selected: string | undefined;

function throughput(job: JobDetail): number {
  // Records per second out of the sources, between two refreshes.
  const records = job.vertices.filter((v) => v.metrics["read-records"] === 0)
    .reduce((n, v) => n + v.metrics["write-records"], 0);
  const now = performance.now();
  const prev = lastOut.get(job.jid);
  lastOut.set(job.jid, { at: now, records });
  if (!prev || now <= prev.at) return 0;
  return Math.max(0, (records - prev.records) / ((now - prev.at) / 1000));
}

function renderJobs(jobs: JobDetail[], rates: Map<string, number>): void {
  const body = $("jobs-body");
  body.replaceChildren(...jobs.map((j) =>
    el(
      "tr",
      { "data-job-id": j.jid },
      el("td", { class: "job-name" }, j.name),
      el("td", { class: "mono" }, j.jid),
      el("td", { class: "job-state" }, j.state),
      el("td", {}, String(j.restarts)),
      el("td", { class: "job-throughput" }, `${Math.round(rates.get(j.jid) ?? 0)} rec/s`),
    )
  ));
}

function renderVertices(job: JobDetail): void {
  $("vertices-body").replaceChildren(...job.vertices.map((v) =>
    el(
      "tr",
      { "data-vertex-uid": v.uid },
      el("td", {}, v.name),
      el("td", { class: "mono" }, v.uid),
      el("td", {}, String(v.parallelism)),
      el("td", { class: "records-in" }, String(v.metrics["read-records"])),
      el("td", { class: "records-out" }, String(v.metrics["write-records"])),
      el("td", {}, `${Math.round(v["backpressure-ratio"] * 100)}%`),
      el("td", { class: "watermark" }, v.watermark === null ? "-" : String(v.watermark)),
      el(
        "td",
        { class: "event-time-lag" },
        v["event-time-lag"] === null ? "-" : `${(v["event-time-lag"] / 1000).toFixed(1)} s`,
      ),
      el(
        "td",
        { class: "input-latency" },
        v["input-latency"] === null ? "-" : `${v["input-latency"].toFixed(1)} ms`,
      ),
    )
  ));
}

function renderCheckpoints(c: Checkpoints): void {
  $("count-completed").textContent = String(c.counts.completed);
  $("count-failed").textContent = String(c.counts.failed);
  $("count-in-progress").textContent = String(c.counts.in_progress);
  $("count-restored").textContent = String(c.counts.restored);
  const rows = c.history.filter((h) => h.status !== "IN_PROGRESS").slice().reverse();
  const chart = $("checkpoint-chart");
  const w = 720, h = 200, pad = 30;
  const root = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  const maxD = Math.max(1, ...rows.map((r) => r.end_to_end_duration));
  const maxS = Math.max(1, ...rows.map((r) => r.checkpointed_size));
  const slot = (w - 2 * pad) / Math.max(1, rows.length);
  root.append(svg("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, stroke: "#888" }));
  const points: string[] = [];
  rows.forEach((r, i) => {
    const x = pad + i * slot;
    const bh = (r.end_to_end_duration / maxD) * (h - 2 * pad);
    const bar = svg("rect", {
      x: x + slot * 0.15,
      y: h - pad - bh,
      width: Math.max(1, slot * 0.7),
      height: Math.max(1, bh),
      fill: r.status === "FAILED" ? "#d9534f" : r.is_savepoint ? "#f0ad4e" : "#5b9bd5",
      "data-checkpoint-id": r.id,
      "data-duration": r.end_to_end_duration,
      "data-size": r.checkpointed_size,
      class: "checkpoint-bar",
    });
    const title = svg("title", {});
    title.textContent = `#${r.id} ${r.status} ${r.end_to_end_duration} ms, ${
      bytes(r.checkpointed_size)
    }`;
    bar.append(title);
    root.append(bar);
    points.push(`${x + slot / 2},${h - pad - (r.checkpointed_size / maxS) * (h - 2 * pad)}`);
  });
  if (points.length > 0) {
    root.append(svg("polyline", {
      points: points.join(" "),
      fill: "none",
      stroke: "#2e7d32",
      "stroke-width": 2,
      class: "size-line",
    }));
  }
  const legend = svg("text", { x: pad, y: 16, "font-size": 12, fill: "#333" });
  legend.textContent = `bars: duration (max ${maxD} ms) — line: size (max ${bytes(maxS)})`;
  root.append(legend);
  chart.replaceChildren(root);
  $("checkpoint-history-body").replaceChildren(
    ...c.history.slice(0, 10).map((r) =>
      el(
        "tr",
        { "data-checkpoint-id": String(r.id) },
        el("td", {}, String(r.id)),
        el("td", {}, r.status),
        el("td", {}, r.is_savepoint ? "savepoint" : "checkpoint"),
        el("td", {}, `${r.end_to_end_duration} ms`),
        el("td", {}, bytes(r.checkpointed_size)),
        el("td", {}, bytes(r.state_size)),
      )
    ),
  );
}

async function refresh(): Promise<void> {
  try {
    const { jobs } = await api<{ jobs: JobRow[] }>("/jobs");
    const details = await Promise.all(jobs.map((j) => api<JobDetail>(`/jobs/${j.id}`)));
    const rates = new Map(details.map((d) => [d.jid, throughput(d)]));
    renderJobs(details, rates);
    const job = details.find((d) => d.jid === selected) ?? details[0];
    selected = job?.jid;
    if (job) {
      $("selected-job").textContent = `${job.name} (${job.jid})`;
      renderVertices(job);
      try {
        renderCheckpoints(await api<Checkpoints>(`/jobs/${job.jid}/checkpoints`));
      } catch {
        // Checkpointing off: nothing to chart.
      }
    }
    $("error").textContent = "";
    $("updated").textContent = new Date().toLocaleTimeString();
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes ?? "0") + 1);
  } catch (e) {
    $("error").textContent = String(e);
  }
}

async function triggerSavepoint(): Promise<void> {
  const status = $("savepoint-status");
  const button = $("savepoint-button") as HTMLButtonElement;
  if (!selected) return;
  button.disabled = true;
  status.textContent = "savepoint in progress…";
  try {
    const { "request-id": id } = await api<{ "request-id": string }>(
      `/jobs/${selected}/savepoints`,
      { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
    );
    for (;;) {
      const r = await api<{
        status: { id: string };
        operation?: { location?: string; "failure-cause"?: { "stack-trace"?: string } };
      }>(`/jobs/${selected}/savepoints/${id}`);
      if (r.status.id === "COMPLETED") {
        const loc = r.operation?.location;
        status.textContent = loc
          ? `savepoint completed: ${loc}`
          : `savepoint failed: ${r.operation?.["failure-cause"]?.["stack-trace"] ?? "unknown"}`;
        status.dataset.state = loc ? "completed" : "failed";
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    status.textContent = `savepoint failed: ${e}`;
    status.dataset.state = "failed";
  } finally {
    button.disabled = false;
    await refresh();
  }
}

$("savepoint-button").addEventListener("click", () => void triggerSavepoint());
void refresh();
setInterval(() => void refresh(), refreshMs);
