/**
 * The dashboard end to end in headless Chromium (Debian's `chromium`, driven
 * by playwright-core): it shows the job, its operators and the checkpoint
 * history chart as the API reports them, refreshes live, and its button
 * triggers a savepoint. Saves a screenshot to tests/artifacts/.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { HeapStateBackend, jobClientRuntime, serveAdmin, StreamEnvironment } from "../../mod.ts";
import { buildAdminJob } from "../_helpers/admin_job.ts";

const CHROMIUM = "/usr/bin/chromium";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("dashboard in headless Chromium shows the API's jobs and checkpoints; savepoint button", async () => {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  }
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
  const context = await chromium.launchPersistentContext(profile, {
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
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto(`${server.url}/?refresh=250#token=t0k`);
    const { jobs } = await api("/jobs");
    const jobId: string = jobs[0].id;

    // The job row, as the API has it.
    const row = page.locator(`#jobs-body tr[data-job-id="${jobId}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.locator(".job-name").textContent(), "dashboard job");
    assert.equal(await row.locator(".job-state").textContent(), "RUNNING");

    // Operators, as the API has them; record counts refresh live.
    const detail = await api(`/jobs/${jobId}`);
    const uids = await page.locator("#vertices-body tr").evaluateAll((rows) =>
      rows.map((r) => r.getAttribute("data-vertex-uid"))
    );
    assert.deepEqual(uids, detail.vertices.map((v: Json) => v.uid));
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

    // The keyed count reads a channel: its input latency shows in ms; the source has none.
    const countLatency = page.locator('#vertices-body tr[data-vertex-uid="count"] .input-latency');
    assert.match((await countLatency.textContent()) ?? "", /^\d+\.\d ms$/);
    assert.equal(
      await page.locator('#vertices-body tr[data-vertex-uid="words"] .input-latency').textContent(),
      "-",
    );

    // The checkpoint chart: one bar per ended checkpoint, with the API's figures.
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
      }))
    );
    const history = (await api(`/jobs/${jobId}/checkpoints`)).history as Json[];
    for (const bar of bars) {
      const h = history.find((x) => x.id === bar.id);
      assert.ok(h, `bar ${bar.id} is in the API's history`);
      assert.equal(bar.duration, h.end_to_end_duration);
      assert.equal(bar.size, h.checkpointed_size);
    }
    assert.deepEqual(bars.map((b) => b.id), [...bars.map((b) => b.id)].sort((a, b) => a - b));

    // The savepoint button.
    await page.click("#savepoint-button");
    const status = page.locator('#savepoint-status[data-state="completed"]');
    await status.waitFor({ timeout: 15_000 });
    const text = (await status.textContent()) ?? "";
    const location = text.replace(/^savepoint completed: /, "");
    assert.ok(location.startsWith(`${dir}/savepoints/`), text);
    assert.ok(Deno.statSync(`${location}/_metadata`).isFile);
    const after = await api(`/jobs/${jobId}/checkpoints`);
    assert.equal(after.latest.savepoint.external_path, location);
    await page.waitForFunction(
      `Number(document.getElementById("count-completed")?.textContent) >= ${after.counts.completed}`,
      null,
      { timeout: 10_000 },
    );

    Deno.mkdirSync(new URL("../artifacts/", import.meta.url), { recursive: true });
    await page.screenshot({
      path: new URL("../artifacts/admin_dashboard.png", import.meta.url).pathname,
      fullPage: true,
    });
  } finally {
    await context.close();
    client.cancel();
    await client.done.catch(() => {});
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(profile, { recursive: true });
  }
});
