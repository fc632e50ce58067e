/**
 * `GET /`: the dashboard, one HTML page with its bundled script inline (see
 * `dashboard/page.ts`). The page itself holds no data, so it is served
 * without the bearer token; its requests carry the token from `/#token=...`.
 *
 * @module
 */
import { Hono } from "hono";
import { DASHBOARD_SCRIPT } from "./dashboard/bundle.ts";

const STYLE = `
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
.mono{font-family:ui-monospace,monospace;font-size:12px}#error{color:#b00}
.counts span{display:inline-block;margin-right:1.2rem}button{padding:.4rem 1rem;font-size:14px}
#checkpoint-chart{background:#fff;border:1px solid #ddd;display:inline-block}
`;

/** The dashboard page's HTML. */
export function dashboardHtml(): string {
  // A `</script>` inside the bundle would end the element early.
  const script = DASHBOARD_SCRIPT.replace(/<\/(script)/gi, "<\\/$1");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>weir dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<h1>weir</h1>
<div id="error" role="alert"></div>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>Name</th><th>Id</th><th>Status</th><th>Restarts</th><th>Throughput</th></tr></thead>
<tbody id="jobs-body"></tbody></table>
<h2>Operators of <span id="selected-job"></span></h2>
<table id="vertices"><thead><tr><th>Name</th><th>Uid</th><th>Parallelism</th><th>Records in</th><th>Records out</th><th>Backpressure</th><th>Watermark</th><th>Event-time lag</th><th>Input latency</th></tr></thead>
<tbody id="vertices-body"></tbody></table>
<h2>Checkpoints</h2>
<div class="counts">
<span>completed <b id="count-completed">0</b></span><span>failed <b id="count-failed">0</b></span>
<span>in progress <b id="count-in-progress">0</b></span><span>restored <b id="count-restored">0</b></span>
</div>
<p><button id="savepoint-button" type="button">Trigger savepoint</button> <span id="savepoint-status"></span></p>
<div id="checkpoint-chart"></div>
<table id="checkpoint-history"><thead><tr><th>Id</th><th>Status</th><th>Type</th><th>Duration</th><th>Size</th><th>State size</th></tr></thead>
<tbody id="checkpoint-history-body"></tbody></table>
<p class="mono">updated <span id="updated">never</span></p>
<script>${script}</script>
</body></html>
`;
}

/** The dashboard route. */
export function dashboardRoutes(): Hono {
  const app = new Hono();
  const html = dashboardHtml();
  app.get("/", (c) => c.html(html));
  return app;
}
