/**
 * The dashboard end to end in headless Chromium (Debian's `chromium`, driven
 * by playwright-core): the token prompt; the job, its graph (nodes, edges with
 * partitioning) and an operator's subtasks and state as the API reports them;
 * the checkpoint chart's axes and bars and a checkpoint's detail; savepoint
 * and stop buttons; source watermarks; paging through a long checkpoint
 * history; `weir ui` saying what an ended job did not record; per-subtask
 * figures of a job on the worker executor. Saves a screenshot of every view to
 * tests/artifacts/.
 */
import assert from "node:assert/strict";
import { type BrowserContext, chromium } from "playwright-core";
import { type CheckpointHistoryEntry, HeapStateBackend, StreamEnvironment } from "../../mod.ts";
import {
  type AdminJob,
  jobClientRuntime,
  serveAdmin,
  type VertexInfo,
} from "../../core/admin/mod.ts";
import { historyRuntime } from "../../cli/history_runtime.ts";
import { buildAdminJob } from "../_helpers/admin_job.ts";
import { readAdminUrl } from "../_helpers/admin_url.ts";

const CHROMIUM = "/usr/bin/chromium";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

function launch(profile: string): Promise<BrowserContext> {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  }
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

Deno.test("dashboard in headless Chromium: token prompt, job graph, operator, checkpoints, savepoint and stop", async () => {
  const dir = Deno.makeTempDirSync();
  const profile = Deno.makeTempDirSync({ prefix: "weir-chromium-" });
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir, intervalMs: 150 },
    log: () => {},
  });
  buildAdminJob(env, 3000);
  const client = env.executeAsync("dashboard job");
  const server = serveAdmin(jobClientRuntime(client), {
    port: 0,
    token: "t0k",
    announce: () => {},
  });
  const api = async (path: string): Promise<Json> => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: "Bearer t0k" } });
    assert.equal(res.status, 200, path);
    return await res.json();
  };
  const context = await launch(profile);
  const shots = new URL("../artifacts/", import.meta.url);
  Deno.mkdirSync(shots, { recursive: true });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    page.on("dialog", (d) => void d.accept());
    const shot = (name: string) =>
      page.screenshot({ path: new URL(`dashboard_${name}.png`, shots).pathname, fullPage: true });

    // Without a token the page asks for one; the prompt's token is then used.
    await page.goto(`${server.url}/?refresh=250`);
    await page.locator("#token-form:not([hidden])").waitFor({ timeout: 10_000 });
    await shot("token_prompt");
    await page.fill("#token-input", "t0k");
    await page.click('#token-form button[type="submit"]');
    await page.locator("#token-form[hidden]").waitFor({ state: "attached", timeout: 10_000 });
    const { jobs } = await api("/jobs");
    const jobId: string = jobs[0].id;

    // The job row, as the API has it.
    const row = page.locator(`#jobs-body tr[data-job-id="${jobId}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.locator(".job-name").textContent(), "dashboard job");
    assert.equal(await row.locator(".job-state").textContent(), "RUNNING");
    // The exceptions render after the job rows, in the same refresh.
    await page.locator("#exceptions-note", { hasText: "has not failed" })
      .waitFor({ timeout: 10_000 });
    assert.equal(await page.locator(".exception").count(), 0);

    // Operators, as the API has them; record counts refresh live.
    const detail = await api(`/jobs/${jobId}`);
    const uids = await page.locator("#vertices-body tr").evaluateAll((rows) =>
      rows.map((r) => r.getAttribute("data-vertex-uid"))
    );
    assert.deepEqual(uids, detail.vertices.map((v: Json) => v.uid));
    // Each operator's status, as the API has it: the job runs, so every one is RUNNING.
    const statuses = await page.locator("#vertices-body .vertex-status").allTextContents();
    assert.deepEqual(statuses, detail.vertices.map((v: Json) => v.status));
    assert.ok(statuses.every((s) => s === "RUNNING"), statuses.join());
    const countIn = page.locator('#vertices-body tr[data-vertex-uid="count"] .records-in');
    const before = Number(await countIn.textContent());
    await page.waitForFunction(
      `Number(document.querySelector('#vertices-body tr[data-vertex-uid="count"] .records-in')` +
        `?.textContent) > ${before}`,
      null,
      { timeout: 10_000 },
    );
    assert.ok(
      Number(await countIn.textContent()) <=
        (await api(`/jobs/${jobId}`)).vertices.find((v: Json) => v.uid === "count")
          .metrics["read-records"],
    );

    // The job graph: a node per vertex with its parallelism, an edge per plan input with its
    // ship strategy.
    const nodes = await page.locator(".graph-node").evaluateAll((els) =>
      els.map((e) => ({
        id: e.getAttribute("data-vertex-id"),
        parallelism: Number(e.getAttribute("data-parallelism")),
        text: e.textContent,
      }))
    );
    assert.deepEqual(
      nodes.map((n) => [n.id, n.parallelism]),
      detail.plan.nodes.map((n: Json) => [n.id, n.parallelism]),
    );
    const edges = await page.locator(".graph-edge").evaluateAll((els) =>
      els.map((
        e,
      ) => [
        e.getAttribute("data-from"),
        e.getAttribute("data-to"),
        e.getAttribute("data-ship-strategy"),
      ])
    );
    assert.deepEqual(
      edges,
      detail.plan.nodes.flatMap((n: Json) =>
        (n.inputs ?? []).map((i: Json) => [i.id, n.id, i.ship_strategy])
      ),
    );
    assert.ok(edges.some((e) => e[2] === "HASH"), JSON.stringify(edges));
    const labels = await page.locator(".graph-edge-label").allTextContents();
    assert.ok(labels.includes("HASH"), labels.join());
    await shot("job_graph");

    // Clicking an operator opens it: per-subtask records as the API has them, state lookup.
    const countVertex = detail.vertices.find((v: Json) => v.uid === "count");
    await page.click(`.graph-node[data-vertex-id="${countVertex.id}"]`);
    await page.locator('#operator[data-vertex-uid="count"]:not([hidden])').waitFor({
      timeout: 10_000,
    });
    await page.locator("#operator-subtasks-body tr").nth(1).waitFor({ timeout: 10_000 });
    const subtasks = await page.locator("#operator-subtasks-body tr").evaluateAll((rows) =>
      rows.map((r) => ({
        subtask: Number(r.getAttribute("data-subtask")),
        status: r.querySelector(".subtask-status")?.textContent,
        recordsIn: Number(r.querySelector(".subtask-records-in")?.textContent),
      }))
    );
    assert.ok(subtasks.every((s) => s.status === "RUNNING"), JSON.stringify(subtasks));
    const apiSubtasks = (await api(`/jobs/${jobId}/vertices/${countVertex.id}`)).subtasks;
    assert.deepEqual(subtasks.map((s) => s.subtask), apiSubtasks.map((s: Json) => s.subtask));
    subtasks.forEach((s, i) => {
      assert.ok(s.recordsIn > 0 && s.recordsIn <= apiSubtasks[i].metrics["read-records"]);
    });
    // State size per subtask: its task's at the newest completed checkpoint.
    await page.waitForFunction(
      `[...document.querySelectorAll("#operator-subtasks-body .subtask-state-size")]` +
        `.every((c) => Number(c.getAttribute("data-bytes")) > 0)`,
      null,
      { timeout: 10_000 },
    );
    await page.fill("#state-name", "count");
    await page.fill("#state-key", "w3");
    await page.click('#state-form button[type="submit"]');
    await page.locator('#state-result[data-state="found"]').waitFor({ timeout: 10_000 });
    const found = Number((await page.locator("#state-result").textContent())!.split(" ")[0]);
    const viaApi = (await api(`/jobs/${jobId}/state/count/count?key=w3`)).value;
    assert.ok(found > 0 && found <= viaApi, `${found} <= ${viaApi}`);
    await shot("operator");

    // The checkpoint chart: axes with units, one bar per ended checkpoint, with the API's figures.
    await page.waitForFunction(
      "document.querySelectorAll('.checkpoint-bar').length >= 3",
      null,
      { timeout: 15_000 },
    );
    const bars = await page.locator(".checkpoint-bar").evaluateAll((els) =>
      els.map((e) => ({
        id: Number(e.getAttribute("data-checkpoint-id")),
        duration: Number(e.getAttribute("data-duration")),
        size: Number(e.getAttribute("data-size")),
        stateSize: Number(e.getAttribute("data-state-size")),
      }))
    );
    // The page asks for 120 checkpoints a page (more than the API's default 100).
    const history = (await api(`/jobs/${jobId}/checkpoints?limit=120`)).history as Json[];
    for (const bar of bars) {
      const h = history.find((x) => x.id === bar.id);
      assert.ok(h, `bar ${bar.id} is in the API's history`);
      assert.equal(bar.duration, h.end_to_end_duration);
      assert.equal(bar.size, h.checkpointed_size);
      assert.equal(bar.stateSize, h.state_size);
    }
    assert.deepEqual(bars.map((b) => b.id), [...bars.map((b) => b.id)].sort((a, b) => a - b));
    const durationTicks = await page.locator(".tick-duration").allTextContents();
    const sizeTicks = await page.locator(".tick-size").allTextContents();
    assert.ok(durationTicks.length >= 2 && durationTicks.every((t) => / (ms|s)$/.test(t)));
    assert.ok(sizeTicks.length >= 2 && sizeTicks.every((t) => / (B|KiB|MiB|GiB)$/.test(t)));
    assert.ok((await page.locator(".tick-id").count()) >= 1);
    // Every bar stays inside the plot: the axis reaches the longest duration.
    const plotTop = Number(await page.locator(".axis-y-duration").getAttribute("y1"));
    const barTops = await page.locator(".checkpoint-bar").evaluateAll((els) =>
      els.map((e) => Number(e.getAttribute("y")))
    );
    assert.ok(Math.min(...barTops) >= plotTop - 0.001, `${Math.min(...barTops)} < ${plotTop}`);
    assert.equal(await page.locator(".incremental-size-line").count(), 1);

    // A click on a bar opens the checkpoint's detail: per-task times and sizes from the API.
    const barId = bars.at(-1)!.id;
    // Dispatched on the bar itself: the chart redraws with new checkpoints every 250 ms, so a
    // click at the bar's position could hit its neighbour.
    await page.locator(`.checkpoint-bar[data-checkpoint-id="${barId}"]`).dispatchEvent("click");
    await page.locator(`#checkpoint-detail[data-checkpoint-id="${barId}"]:not([hidden])`).waitFor({
      timeout: 10_000,
    });
    const apiDetail = await api(`/jobs/${jobId}/checkpoints/details/${barId}`);
    const taskRows = await page.locator("#checkpoint-tasks-body tr").evaluateAll((rows) =>
      rows.map((r) => ({
        task: r.getAttribute("data-task"),
        size: Number(r.querySelector(".task-checkpointed-size")?.getAttribute("data-bytes")),
      }))
    );
    assert.deepEqual(
      taskRows,
      Object.values(apiDetail.tasks).map((t) => ({
        task: (t as Json).id,
        size: (t as Json).checkpointed_size,
      })),
    );
    assert.ok(taskRows.length > 0);
    await shot("checkpoints");

    // The savepoint button.
    await page.click("#savepoint-button");
    const status = page.locator('#operation-status[data-state="completed"]');
    await status.waitFor({ timeout: 15_000 });
    const location = (await status.getAttribute("data-location")) ?? "";
    assert.ok(location.startsWith(`${dir}/savepoints/`), location);
    assert.ok(Deno.statSync(`${location}/_metadata`).isFile);
    const after = await api(`/jobs/${jobId}/checkpoints`);
    assert.equal(after.latest.savepoint.external_path, location);
    await page.waitForFunction(
      `Number(document.getElementById("count-completed")?.textContent) >= ${after.counts.completed}`,
      null,
      { timeout: 10_000 },
    );
    await shot("admin_dashboard");

    // Stop with savepoint from the page (the dialog is confirmed): the job ends.
    await page.click("#stop-button");
    const stopped = page.locator('#operation-status[data-state="completed"]');
    await page.waitForFunction(
      `document.getElementById("operation-status")?.textContent?.startsWith("stop completed")`,
      null,
      { timeout: 20_000 },
    );
    const stopLocation = (await stopped.getAttribute("data-location")) ?? "";
    assert.ok(Deno.statSync(`${stopLocation}/_metadata`).isFile, stopLocation);
    await client.done;
    await page.locator(`#jobs-body tr[data-job-id="${jobId}"] .job-state:text("FINISHED")`)
      .waitFor({ timeout: 10_000 });
    assert.equal(await page.locator("#cancel-button").isDisabled(), true);
    await shot("stopped");
  } finally {
    await context.close();
    client.cancel();
    await client.done.catch(() => {});
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(profile, { recursive: true });
  }
});

Deno.test("dashboard stays usable at 1,000 operator subtasks and 10,000 checkpoints of history", async () => {
  // A job as the API would report a large one: 5 chained vertices of 200 subtasks each.
  const watermark = Date.now() - 5_000;
  const vertices: VertexInfo[] = Array.from({ length: 5 }, (_, i) => ({
    uid: `op-${i}`,
    name: `Operator ${i}`,
    parallelism: 200,
    recordsIn: i === 0 ? 0 : 1_000_000,
    recordsOut: 1_000_000,
    backpressureRatio: i / 5,
    watermark: watermark - i,
    inputs: i === 0 ? [] : [{ uid: `op-${i - 1}`, partitioning: "HASH", input: 0 }],
    subtasks: Array.from({ length: 200 }, (_, s) => ({
      index: s,
      recordsIn: i === 0 ? 0 : 5000,
      recordsOut: 5000,
      backpressureRatio: (s % 10) / 10,
      watermark: watermark - i + (s === 0 ? 0 : 1000),
      ...(i === 0 ? {} : { inputWatermark: watermark }),
    })),
  }));
  const history: CheckpointHistoryEntry[] = Array.from({ length: 10_000 }, (_, i) => ({
    kind: "checkpoint",
    id: i + 1,
    status: i % 97 === 0 ? "FAILED" : "COMPLETED",
    is_savepoint: false,
    trigger_timestamp: 1_700_000_000_000 + i * 1000,
    latest_ack_timestamp: 1_700_000_000_000 + i * 1000 + 50,
    end_to_end_duration: 20 + (i % 50),
    state_size: 1_000_000 + i * 100,
    checkpointed_size: 10_000 + (i % 7) * 1000,
    num_subtasks: 1000,
    num_acknowledged_subtasks: 1000,
    ...(i % 97 === 0 ? { failure_message: "disk full" } : { external_path: `/ck/chk-${i + 1}` }),
    tasks: Array.from({ length: 50 }, (_, t) => ({
      task: `Operator ${t % 5} (${t + 1}/200)`,
      startDelayMs: 1,
      alignmentMs: 2,
      syncMs: 3,
      asyncMs: 10,
      stateSize: 20_000,
      checkpointedSize: 200,
    })),
  }));
  const readOnly = () => Promise.reject(new Error("not in this test"));
  const job: AdminJob = {
    id: "0123456789abcdef0123456789abcdef",
    name: "big job",
    startTime: Date.now(),
    status: () => "RUNNING",
    endTime: () => undefined,
    restarts: () => 0,
    maxParallelism: () => 1024,
    vertices: () => vertices,
    checkpointConfig: () => undefined,
    checkpoints: () => ({ history, inProgress: [] }),
    segments: () => [],
    triggerCheckpoint: readOnly,
    triggerSavepoint: readOnly,
    stopWithSavepoint: readOnly,
    cancel: () => {},
    queryState: () => Promise.resolve({ kind: "unknown-key", message: "none" }),
    exceptions: () => [
      { timestamp: 1_700_000_000_000, message: "Operator 2 (7/200): first failure" },
      {
        timestamp: 1_700_000_100_000,
        message: "Operator 4 (1/200): second failure",
        restoredFrom: "/ck/chk-9",
        errorName: "Error",
        stack: "Error: second failure\n    at f (job.ts:1:1)",
      },
    ],
  };
  const server = serveAdmin({ jobs: () => [job] }, { port: 0, announce: () => {} });
  const profile = Deno.makeTempDirSync({ prefix: "weir-chromium-" });
  const context = await launch(profile);
  try {
    const page = context.pages()[0] ?? await context.newPage();
    const started = performance.now();
    await page.goto(`${server.url}/?refresh=1000`);
    await page.waitForFunction("Number(document.body.dataset.refreshes) >= 1", null, {
      timeout: 10_000,
    });
    const firstPaint = performance.now() - started;
    // It keeps refreshing every second: a refresh takes well under its interval.
    await page.waitForFunction("Number(document.body.dataset.refreshes) >= 4", null, {
      timeout: 8_000,
    });
    assert.equal(await page.locator(".graph-node").count(), 5);
    // The exceptions view: newest first, as the API lists them.
    assert.deepEqual(await page.locator(".exception-message").allTextContents(), [
      "Operator 4 (1/200): second failure",
      "Operator 2 (7/200): first failure",
    ]);
    // The stack trace of what was thrown is there on hover, not in the table.
    assert.equal(
      await page.locator(".exception-message").first().getAttribute("title"),
      "Operator 4 (1/200): second failure\nCaused by: Error: second failure\n    at f (job.ts:1:1)",
    );
    // The chart and table show the newest checkpoints, and say the table is cut.
    const bars = await page.locator(".checkpoint-bar").count();
    assert.ok(bars > 0 && bars <= 200, `${bars} bars`);
    assert.equal(
      await page.locator(".checkpoint-bar").last().getAttribute("data-checkpoint-id"),
      "10000",
    );
    assert.equal(
      await page.locator("#history-note").textContent(),
      "1–120 (newest first) of 10000",
    );
    assert.equal(await page.locator("#count-completed").textContent(), String(10_000 - 104));
    assert.equal(await page.locator("#history-newer").isDisabled(), true);
    // Older pages, back to the oldest checkpoint: chart and table show the same 120.
    await page.click("#history-older");
    await page.waitForFunction(
      `document.querySelector("#history-note").textContent === "121–240 (newest first) of 10000"`,
      null,
      { timeout: 10_000 },
    );
    assert.equal(
      await page.locator(".checkpoint-bar").last().getAttribute("data-checkpoint-id"),
      "9880",
    );
    assert.equal(
      await page.locator("#checkpoint-history-body tr").first().getAttribute("data-checkpoint-id"),
      "9880",
    );
    for (let i = 0; i < 82; i++) await page.click("#history-older");
    await page.waitForFunction(
      `document.querySelector("#history-note").textContent === ` +
        `"9961–10000 (newest first) of 10000"`,
      null,
      { timeout: 20_000 },
    );
    assert.equal(
      await page.locator("#checkpoint-history-body tr").last().getAttribute("data-checkpoint-id"),
      "1",
    );
    assert.equal(await page.locator("#history-older").isDisabled(), true);
    await page.click("#history-newer");
    await page.waitForFunction(
      `document.querySelector("#history-note").textContent.startsWith("9841–9960 ")`,
      null,
      { timeout: 10_000 },
    );

    // Each source's watermark (the lowest subtask's) and its subtasks'; each node's.
    const source = page.locator('#source-watermarks-body tr[data-vertex-uid="op-0"]');
    await source.waitFor({ timeout: 10_000 });
    assert.equal(
      await source.locator(".source-watermark").textContent(),
      new Date(watermark).toISOString(),
    );
    assert.match(
      (await source.locator(".source-subtask-watermarks").textContent()) ?? "",
      new RegExp(`^${new Date(watermark).toISOString()}, .* \\(200 subtasks\\)$`),
    );
    assert.equal(await page.locator("#source-watermarks-body tr").count(), 1);
    assert.equal(
      await page.locator('.graph-node[data-vertex-uid="op-2"] .graph-node-watermark')
        .textContent(),
      `watermark ${new Date(watermark - 2).toISOString()}`,
    );

    // Every subtask of an operator, and a checkpoint's 50 tasks.
    await page.click('.graph-node[data-vertex-uid="op-3"]');
    await page.waitForFunction(
      "document.querySelectorAll('#operator-subtasks-body tr').length === 200",
      null,
      { timeout: 10_000 },
    );
    const first = page.locator('#operator-subtasks-body tr[data-subtask="0"]');
    assert.equal(
      await first.locator(".subtask-watermark").textContent(),
      new Date(watermark).toISOString(),
    );
    assert.match((await first.locator(".subtask-lag").textContent()) ?? "", /^\d+(\.\d+)? s$/);
    assert.equal(
      await first.locator(".subtask-output-watermark").textContent(),
      new Date(watermark - 3).toISOString(),
    );
    // A checkpoint of the page shown (ids 160 down to 41).
    await page.click('.checkpoint-bar[data-checkpoint-id="100"]');
    await page.waitForFunction(
      "document.querySelectorAll('#checkpoint-tasks-body tr').length === 50",
      null,
      { timeout: 10_000 },
    );
    assert.ok(firstPaint < 10_000, `first paint after ${Math.round(firstPaint)} ms`);
    Deno.mkdirSync(new URL("../artifacts/", import.meta.url), { recursive: true });
    await page.screenshot({
      path: new URL("../artifacts/dashboard_large_job.png", import.meta.url).pathname,
      fullPage: true,
    });
  } finally {
    await context.close();
    await server.shutdown();
    Deno.removeSync(profile, { recursive: true });
  }
});

Deno.test("weir ui's page for a stopped job: history, graph and state, read-only", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-ui-e2e-" });
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir, intervalMs: 50 },
    log: () => {},
  });
  buildAdminJob(env, 4000);
  const client = env.executeAsync("ended job");
  await new Promise((r) => setTimeout(r, 500));
  await client.stopWithSavepoint();
  await client.done;
  const server = serveAdmin(historyRuntime(dir), { port: 0, announce: () => {} });
  const profile = Deno.makeTempDirSync({ prefix: "weir-chromium-" });
  const context = await launch(profile);
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto(`${server.url}/`);
    const state = page.locator("#jobs-body .job-state");
    await state.waitFor({ timeout: 10_000 });
    assert.equal(await state.textContent(), "FINISHED");
    await page.waitForFunction("document.querySelectorAll('.checkpoint-bar').length > 0", null, {
      timeout: 10_000,
    });
    const jobId = (await (await fetch(`${server.url}/jobs`)).json()).jobs[0].id;
    const history = (await (await fetch(`${server.url}/jobs/${jobId}/checkpoints`)).json())
      .history as Json[];
    assert.equal(await page.locator(".checkpoint-bar").count(), history.length);
    assert.equal(await page.locator(".graph-node").count(), 3);
    // Backpressure and per-subtask records died with the job: the page says so, not zeros.
    // Records and edges are the newest checkpoint's (the stop's savepoint) history entry's.
    assert.match(
      (await page.locator("#not-recorded").textContent()) ?? "",
      /^Not recorded for this job: backpressure, subtask records: .* as of the newest completed/,
    );
    const detail = await (await fetch(`${server.url}/jobs/${jobId}`)).json();
    assert.deepEqual(detail["not-recorded"], ["backpressure", "subtask records"]);
    const count = detail.vertices.find((v: Json) => v.uid === "count");
    assert.ok(count.metrics["read-records"] > 0);
    assert.equal(
      await page.locator('#vertices-body tr[data-vertex-uid="count"] .records-in').textContent(),
      String(count.metrics["read-records"]),
    );
    assert.equal(
      await page.locator('#vertices-body tr[data-vertex-uid="count"] .backpressure').textContent(),
      "not recorded",
    );
    assert.ok((await page.locator(".graph-edge-label").allTextContents()).includes("HASH"));
    const top = Number(await page.locator(".axis-y-duration").getAttribute("y1"));
    const tops = await page.locator(".checkpoint-bar").evaluateAll((els) =>
      els.map((e) => Number(e.getAttribute("y")))
    );
    assert.ok(Math.min(...tops) >= top - 0.001, `a bar above the axis: ${tops} < ${top}`);
    for (const id of ["#savepoint-button", "#stop-button", "#drain-button", "#cancel-button"]) {
      assert.equal(await page.locator(id).isDisabled(), true, id);
    }
    // State as the newest checkpoint (the stop's savepoint) holds it.
    await page.locator('.graph-node[data-vertex-uid="count"]').dispatchEvent("click");
    await page.fill("#state-name", "count");
    await page.fill("#state-key", "w3");
    await page.click('#state-form button[type="submit"]');
    await page.locator('#state-result[data-state="found"]').waitFor({ timeout: 10_000 });
    const viaApi = await (await fetch(`${server.url}/jobs/${jobId}/state/count/count?key=w3`))
      .json();
    assert.equal(
      (await page.locator("#state-result").textContent())!.split(" ")[0],
      String(viaApi.value),
    );
    Deno.mkdirSync(new URL("../artifacts/", import.meta.url), { recursive: true });
    await page.screenshot({
      path: new URL("../artifacts/dashboard_weir_ui.png", import.meta.url).pathname,
      fullPage: true,
    });
  } finally {
    await context.close();
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(profile, { recursive: true });
  }
});

Deno.test("dashboard of a job on the worker executor: per-subtask figures the workers report", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", new URL("../_helpers/admin_job.ts", import.meta.url).pathname],
      ...["--parallelism", "2", "--executor", "workers", "--admin-port", "0", "--rate", "2000"],
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const profile = Deno.makeTempDirSync({ prefix: "weir-chromium-" });
  let context: BrowserContext | undefined;
  try {
    const url = await readAdminUrl(child.stderr);
    context = await launch(profile);
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto(`${url}/?refresh=500`);
    await page.locator('.graph-node[data-vertex-uid="count"]').waitFor({ timeout: 20_000 });
    await page.locator('.graph-node[data-vertex-uid="count"]').dispatchEvent("click");
    // Both subtasks of the keyed counter, each on its worker, count records.
    await page.waitForFunction(
      `[...document.querySelectorAll("#operator-subtasks-body .subtask-records-in")]` +
        `.filter((c) => Number(c.textContent) > 20).length === 2`,
      null,
      { timeout: 20_000 },
    );
    const jobId = (await (await fetch(`${url}/jobs`)).json()).jobs[0].id;
    const countId = (await (await fetch(`${url}/jobs/${jobId}`)).json()).vertices
      .find((v: Json) => v.uid === "count").id;
    const apiSubtasks = (await (await fetch(`${url}/jobs/${jobId}/vertices/${countId}`)).json())
      .subtasks as Json[];
    assert.deepEqual(apiSubtasks.map((s) => s.subtask), [0, 1]);
    // The threads that run them (the admin API keeps the main thread free: two Web Workers),
    // each with its own heap.
    await page.locator("#threads-body tr").nth(1).waitFor({ timeout: 10_000 });
    const threads = await page.locator("#threads-body tr").evaluateAll((rows) =>
      rows.map((r) => ({
        id: r.getAttribute("data-thread"),
        heap: Number(r.querySelector(".thread-heap-used")?.getAttribute("data-bytes")),
      }))
    );
    assert.deepEqual(threads.map((t) => t.id).sort(), ["weir-worker/0", "weir-worker/1"]);
    assert.ok(threads.every((t) => t.heap > 0), JSON.stringify(threads));
    // Queryable state from the page: answered by the worker that owns the key.
    await page.fill("#state-name", "count");
    await page.fill("#state-key", "w3");
    await page.click('#state-form button[type="submit"]');
    await page.locator('#state-result[data-state="found"]').waitFor({ timeout: 10_000 });
    assert.match(
      (await page.locator("#state-result").textContent()) ?? "",
      /^\d+ \(subtask [01]\)$/,
    );
    Deno.mkdirSync(new URL("../artifacts/", import.meta.url), { recursive: true });
    await page.screenshot({
      path: new URL("../artifacts/dashboard_workers.png", import.meta.url).pathname,
      fullPage: true,
    });
    await fetch(`${url}/jobs/${jobId}?mode=cancel`, { method: "PATCH" });
  } finally {
    await context?.close();
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
    await child.status;
    Deno.removeSync(profile, { recursive: true });
  }
});
