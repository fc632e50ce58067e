/**
 * `GET /`: the dashboard, one HTML page with its bundled script inline (see
 * `dashboard/page.ts`). The page itself holds no data, so it is served
 * without the bearer token; when the API asks for one, the page prompts for it
 * (or takes it once from `/#token=...`) and keeps it in `sessionStorage`.
 *
 * @module
 */
import { Hono } from "./_hono.ts";
import { DASHBOARD_SCRIPT } from "./dashboard/bundle.ts";

const STYLE = `
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:1rem 0 .4rem}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
.mono{font-family:ui-monospace,monospace;font-size:12px}#error{color:#b00}
.counts span{display:inline-block;margin-right:1.2rem}button{padding:.4rem 1rem;font-size:14px}
#checkpoint-chart,#job-graph{background:#fff;border:1px solid #ddd;display:inline-block;max-width:100%;overflow:auto}
.graph-node{cursor:pointer}.checkpoint-bar,tr.clickable,#jobs-body tr{cursor:pointer}
tr.selected{background:#e8f0fb}.panel{background:#fff;border:1px solid #ddd;padding:.6rem 1rem;margin:.8rem 0}
.scroll{max-height:24rem;overflow:auto;display:inline-block}
#token-form{background:#fff8e1;border:1px solid #f0c36d;padding:.6rem 1rem;margin:.5rem 0}
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
<form id="token-form" hidden><label>Bearer token <input id="token-input" type="password" autocomplete="off"></label>
<button type="submit">Use token</button> <span id="token-message"></span></form>
<div id="error" role="alert"></div>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>Name</th><th>Id</th><th>Status</th><th>Restarts</th><th>Throughput</th></tr></thead>
<tbody id="jobs-body"></tbody></table>
<p><button id="savepoint-button" type="button">Trigger savepoint</button>
<button id="stop-button" type="button">Stop with savepoint</button>
<button id="drain-button" type="button">Stop with drain</button>
<button id="cancel-button" type="button">Cancel</button>
<span id="operation-status"></span></p>
<h2>Job graph of <span id="selected-job"></span></h2>
<p class="mono">node colour: backpressure (green none, red always); edges: partitioning. Click an operator.</p>
<div id="job-graph"></div>
<p id="not-recorded" class="note"></p>
<section id="operator" class="panel" hidden>
<h3>Operator <span id="operator-name"></span></h3>
<div class="scroll"><table id="operator-subtasks"><thead><tr><th>Subtask</th><th>Status</th><th>Records in</th><th>Records out</th><th>Backpressure</th><th>State size (task, last checkpoint)</th><th>Input watermark</th><th>Event-time lag</th><th>Output watermark</th></tr></thead>
<tbody id="operator-subtasks-body"></tbody></table></div>
<form id="state-form"><h3>Queryable state</h3>
<label>State <input id="state-name" required></label> <label>Key <input id="state-key" required></label>
<button type="submit">Look up</button> <span id="state-result" class="mono"></span></form>
</section>
<h2>Source watermarks</h2>
<table id="source-watermarks"><thead><tr><th>Source</th><th>Watermark (lowest subtask)</th><th>Event-time lag</th><th>Per subtask</th></tr></thead>
<tbody id="source-watermarks-body"></tbody></table>
<h2>Operators</h2>
<table id="vertices"><thead><tr><th>Name</th><th>Uid</th><th>Parallelism</th><th>Status</th><th>Records in</th><th>Records out</th><th>Backpressure</th><th>Watermark</th><th>Event-time lag</th><th>Input latency</th></tr></thead>
<tbody id="vertices-body"></tbody></table>
<h2>Threads</h2>
<table id="threads"><thead><tr><th>Thread</th><th>Tasks</th><th>Heap used</th><th>Heap reserved</th></tr></thead>
<tbody id="threads-body"></tbody></table>
<h2>Checkpoints</h2>
<div class="counts">
<span>completed <b id="count-completed">0</b></span><span>failed <b id="count-failed">0</b></span>
<span>in progress <b id="count-in-progress">0</b></span><span>restored <b id="count-restored">0</b></span>
</div>
<p>latest restore: <span id="latest-restore">none</span><br>latest failure: <span id="latest-failure">none</span></p>
<div id="checkpoint-chart"></div>
<section id="checkpoint-detail" class="panel" hidden>
<h3 id="checkpoint-detail-title"></h3>
<div class="scroll"><table id="checkpoint-tasks"><thead><tr><th>Task</th><th>Sync</th><th>Async</th><th>Alignment</th><th>Start delay</th><th>Full size</th><th>Incremental size</th></tr></thead>
<tbody id="checkpoint-tasks-body"></tbody></table></div>
</section>
<h3>History (click a row for its detail) <span id="history-note" class="mono"></span>
<button id="history-newer" type="button">Newer</button> <button id="history-older" type="button">Older</button></h3>
<table id="checkpoint-history"><thead><tr><th>Id</th><th>Status</th><th>Type</th><th>Duration</th><th>Incremental size</th><th>Full size</th></tr></thead>
<tbody id="checkpoint-history-body"></tbody></table>
<h2>Exceptions (restart history) <span id="exceptions-note" class="mono"></span></h2>
<table id="exceptions"><thead><tr><th>Time</th><th>Failure</th><th>Attempt had restored</th></tr></thead>
<tbody id="exceptions-body"></tbody></table>
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
