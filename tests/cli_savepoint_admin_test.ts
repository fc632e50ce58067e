/**
 * `weir savepoint` against the real admin API of a running job: a savepoint,
 * then stop-with-savepoint, with the job process ending.
 */
import assert from "node:assert/strict";
import { readAdminUrl } from "./_helpers/admin_url.ts";

function weir(args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("weir savepoint drives the admin API of a running job, then stops it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-admin-" });
  const job = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_helpers/admin_job.ts", import.meta.url).pathname,
      "--admin-port",
      "0",
      "--checkpoint-dir",
      dir,
      "--rate",
      "5000",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const url = await readAdminUrl(job.stderr);
    const jobs = await (await fetch(`${url}/jobs`)).json();
    const id = jobs.jobs[0].id as string;
    assert.match(id, /^[0-9a-f]{32}$/);

    const sp = await weir(["savepoint", "--url", url, "--job", id, "--json"]);
    assert.equal(sp.code, 0, new TextDecoder().decode(sp.stderr));
    const location = JSON.parse(new TextDecoder().decode(sp.stdout)).location as string;
    assert.ok(Deno.statSync(`${location}/_metadata`).isFile, `savepoint at ${location}`);

    const stop = await weir(["savepoint", "--url", url, "--job", id, "--stop"]);
    assert.equal(stop.code, 0, new TextDecoder().decode(stop.stderr));
    const status = await job.status;
    assert.equal(status.code, 0, "the job ends after stop-with-savepoint");
  } finally {
    try {
      job.kill("SIGKILL");
    } catch { /* already ended */ }
    await job.status;
    Deno.removeSync(dir, { recursive: true });
  }
});
