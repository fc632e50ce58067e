/**
 * `GET /metrics` of a running job: Prometheus text that `promtool check
 * metrics` accepts (promtool is required: `.ci/run` installs it), with
 * records in/out per operator, checkpoint counts, durations and sizes, the
 * operators' watermark and input latency, and user-defined metrics.
 */
import assert from "node:assert/strict";
import { HeapStateBackend, StreamEnvironment } from "../../mod.ts";
import { createAdminApp, jobClientRuntime } from "../../core/admin/mod.ts";
import { buildAdminJob } from "../_helpers/admin_job.ts";

async function promtool(text: string): Promise<{ ok: boolean; output: string }> {
  let child;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new Error(
      `promtool is not installed (apt-get install -y prometheus; .ci/run does it): ${e}`,
    );
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  const d = new TextDecoder();
  return { ok: out.success, output: d.decode(out.stdout) + d.decode(out.stderr) };
}

Deno.test("metrics of a running job pass promtool check metrics", async () => {
  const dir = Deno.makeTempDirSync();
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: new HeapStateBackend(),
    checkpoint: { dir },
    log: () => {},
  });
  buildAdminJob(env, 5000);
  const client = env.executeAsync('a "quoted"\\job');
  const app = createAdminApp(jobClientRuntime(client));
  try {
    await new Promise((r) => setTimeout(r, 100));
    await client.triggerCheckpoint();
    await client.triggerCheckpoint();
    const res = await app.request("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const sample = (name: string, labels: RegExp) =>
      text.split("\n").find((l) => l.startsWith(name + "{") && labels.test(l));
    const recordsIn = sample("weir_operator_records_in_total", /operator_uid="count"/);
    assert.ok(recordsIn && Number(recordsIn.split(" ").pop()) > 0, recordsIn);
    assert.ok(sample("weir_operator_records_out_total", /operator_uid="words"/));
    assert.match(text, /weir_checkpoints_total\{[^}]*status="completed"\} 2\n/);
    assert.match(text, /weir_checkpoint_duration_seconds_count\{[^}]*\} 2\n/);
    assert.match(text, /job_name="a \\"quoted\\"\\\\job"/);
    assert.ok(Number(sample("weir_state_size_bytes", /job_id/)!.split(" ").pop()) > 0);
    assert.match(text, /weir_job_restarts_total\{[^}]*\} 0\n/);
    // User-defined metrics per subtask, and the watermark/latency gauges per operator.
    assert.ok(sample("weir_user_words_counted", /operator_uid="count".*subtask_index="1"/));
    assert.ok(sample("weir_user_word_length_count", /subtask_index="0"/));
    assert.ok(sample("weir_user_word_length", /quantile="0.99"/));
    assert.ok(sample("weir_user_subtask", /subtask_index="1"/)?.endsWith(" 1"));
    assert.ok(sample("weir_operator_input_latency_seconds", /operator_uid="count"/));
    assert.ok(sample("weir_operator_watermark_seconds", /operator_uid="count"/));
    const check = await promtool(text);
    assert.ok(check.ok, `promtool check metrics failed:\n${check.output}\n---\n${text}`);
    assert.equal(check.output.trim(), "", check.output);
  } finally {
    client.cancel();
    await client.done.catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});
