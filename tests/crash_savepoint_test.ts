/**
 * Crash tests around savepoints, with word_count in a child process and its
 * admin API: `kill -9` right after a plain savepoint completes, and right
 * after a stop-with-savepoint completes (while the process still serves the
 * result); then `--restore latest` runs the job to its end and the committed
 * output must be exactly once. A plain savepoint commits nothing and is no
 * recovery point; a stop's savepoint committed its output and is the newest
 * recovery point.
 */
import assert from "node:assert/strict";
import { readAdminUrl } from "./_helpers/admin_url.ts";
import { checkWordCount, makeWordInput } from "./_helpers/word_count_check.ts";

type Json = Record<string, unknown>;

async function call(url: string, body?: Json): Promise<Json> {
  const res = await fetch(url, {
    method: body ? "POST" : "GET",
    ...(body
      ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
      : {}),
  });
  const json = await res.json();
  assert.ok(res.ok, `${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Polls an operation (checkpoint or savepoint trigger) until it completes; returns `operation`. */
async function completed(url: string): Promise<Json> {
  for (let i = 0; i < 3000; i++) {
    const st = await call(url);
    if ((st.status as Json).id === "COMPLETED") {
      const op = st.operation as Json;
      assert.equal(op["failure-cause"], undefined, JSON.stringify(op));
      return op;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${url} did not complete`);
}

function wordCount(dir: string, extra: string[]): string[] {
  return [
    ...["run", "-A", "examples/word_count.ts", "--input", `${dir}/input.txt`],
    ...["--output", `${dir}/out`, "--checkpoint-dir", `${dir}/ck`],
    ...extra,
  ];
}

/**
 * Starts word_count with checkpoints only by hand and its admin API, runs
 * `act` against it, then kills it with SIGKILL (asserting it was still
 * there) and lets `--restore latest` finish the job. Returns the input and the
 * restoring run's stderr.
 */
async function killAfter(
  dir: string,
  act: (base: string) => Promise<void>,
): Promise<{ input: string; stderr: string }> {
  const input = makeWordInput(11, 200_000, 3000);
  await Deno.writeTextFile(`${dir}/input.txt`, input);
  const child = new Deno.Command(Deno.execPath(), {
    args: wordCount(dir, ["--checkpoint-interval", "600000", "--admin-port", "0"]),
    env: { NO_COLOR: "1", TMPDIR: dir },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = { text: "" };
  try {
    const url = await readAdminUrl(child.stderr, log);
    const jobs = (await call(`${url}/jobs`)).jobs as { id: string }[];
    await act(`${url}/jobs/${jobs[0]!.id}`);
    child.kill("SIGKILL");
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
    throw e;
  } finally {
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL", `the job was still running:\n${log.text}`);
  }
  const rerun = await new Deno.Command(Deno.execPath(), {
    args: wordCount(dir, ["--restore", "latest"]),
    env: { NO_COLOR: "1", TMPDIR: dir },
    stdout: "null",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(rerun.stderr);
  assert.ok(rerun.success, stderr);
  return { input, stderr };
}

Deno.test("crash: kill -9 after a completed plain savepoint, restore latest: exactly once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-crash-sp-" });
  try {
    let savepointId = 0;
    const { input, stderr } = await killAfter(dir, async (job) => {
      const cp = await call(`${job}/checkpoints`, {});
      await completed(`${job}/checkpoints/${cp["request-id"]}`);
      const sp = await call(`${job}/savepoints`, {});
      await completed(`${job}/savepoints/${sp["request-id"]}`);
      const manifest = JSON.parse(
        Deno.readTextFileSync(`${dir}/ck/_history.jsonl`).trim().split("\n").at(-1)!,
      );
      savepointId = manifest.id;
    });
    assert.match(stderr, /restoring checkpoint 1 /, "the savepoint is no recovery point");
    assert.deepEqual(checkWordCount(input, `${dir}/out`, true), []);
    // Ids went on past the savepoint's: the final checkpoint is not a second `savepointId`.
    const ids = [...Deno.readDirSync(`${dir}/ck`)].flatMap((e) => {
      const m = /^chk-(\d+)$/.exec(e.name);
      return m ? [Number(m[1])] : [];
    });
    assert.equal(savepointId, 2);
    assert.ok(ids.length > 0 && ids.every((id) => id > savepointId), `chk ids ${ids}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crash: kill -9 right after stop-with-savepoint, restore latest: exactly once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weir-crash-stop-" });
  try {
    let location = "";
    const { input, stderr } = await killAfter(dir, async (job) => {
      const cp = await call(`${job}/checkpoints`, {});
      await completed(`${job}/checkpoints/${cp["request-id"]}`);
      const stop = await call(`${job}/stop`, { drain: false });
      location = (await completed(`${job}/savepoints/${stop["request-id"]}`)).location as string;
    });
    const manifest = JSON.parse(Deno.readTextFileSync(`${location}/_metadata`));
    assert.match(stderr, new RegExp(`restoring savepoint ${manifest.checkpointId} `));
    assert.deepEqual(checkWordCount(input, `${dir}/out`, true), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
