/**
 * Admin API errors and access, through `app.request()` on a fake runtime:
 * malformed ids, unknown jobs, checkpoints and triggers, unknown routes, bad
 * bodies, the bearer token, CORS; and once over a real socket: a job started
 * with `--admin-port 0` prints `admin: http://HOST:PORT` and is stopped with a
 * savepoint through the API.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../mod.ts";
import {
  type AdminJob,
  type AdminRuntime,
  createAdminApp,
  jobClientRuntime,
  serveAdmin,
} from "../core/admin/mod.ts";
import { appendHistory, readHistory } from "../core/checkpoint/history.ts";
import { readAdminUrl } from "./_helpers/admin_url.ts";

const JOB_ID = "0123456789abcdef0123456789abcdef";

function fakeJob(dir: string): AdminJob & { savepoints: number } {
  return {
    id: JOB_ID,
    name: "fake",
    startTime: 1000,
    savepoints: 0,
    status: () => "RUNNING",
    endTime: () => undefined,
    restarts: () => 0,
    maxParallelism: () => 128,
    vertices: () => [
      {
        uid: "src",
        name: "Source",
        parallelism: 1,
        recordsIn: 0,
        recordsOut: 5,
        backpressureRatio: 0,
      },
    ],
    checkpointConfig: () => ({
      dir,
      intervalMs: undefined,
      mode: "at-least-once",
      timeoutMs: 1000,
      minPauseMs: 0,
      maxConcurrent: 1,
      tolerableFailures: 0,
      retained: 1,
      retainOnCancellation: false,
      cancellationTimeoutMs: 180_000,
    }),
    checkpoints: () => ({ history: readHistory(dir), inProgress: [] }),
    segments: () => [],
    triggerCheckpoint: () => Promise.resolve({ id: 1, location: `${dir}/chk-1` }),
    triggerSavepoint() {
      this.savepoints++;
      return Promise.reject(new Error("disk full"));
    },
    stopWithSavepoint: () => Promise.resolve({ id: 2, location: `${dir}/savepoints/x` }),
    cancel: () => {},
    queryState: () => Promise.resolve({ kind: "unknown-key", message: "no value" }),
  };
}

async function call(
  app: ReturnType<typeof createAdminApp>,
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await app.request(path, { method, ...init });
  const text = await res.text();
  return {
    status: res.status,
    body: text.startsWith("{") ? JSON.parse(text) : {},
    headers: res.headers,
  };
}

function assertError(
  r: { status: number; body: Record<string, unknown> },
  status: number,
  re: RegExp,
) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const errors = r.body.errors as string[];
  assert.ok(Array.isArray(errors) && errors.length === 1, JSON.stringify(r.body));
  assert.match(errors[0]!, re);
}

Deno.test("admin API errors are JSON with fitting statuses", async () => {
  const dir = Deno.makeTempDirSync();
  const job = fakeJob(dir);
  const app = createAdminApp({ jobs: () => [job] });
  assertError(await call(app, "GET", "/jobs/xyz"), 400, /Malformed job id "xyz"/);
  assertError(await call(app, "GET", `/jobs/${"f".repeat(32)}`), 404, /not found/);
  // As Flink's, an id's hex digits may be upper case too.
  assert.equal((await call(app, "GET", `/jobs/${JOB_ID.toUpperCase()}`)).status, 200);
  assertError(
    await call(app, "GET", `/jobs/${JOB_ID.toUpperCase()}/vertices/${"B".repeat(32)}/backpressure`),
    404,
    new RegExp(`has no vertex ${"b".repeat(32)}`),
  );
  assertError(await call(app, "GET", "/nope/nothing"), 404, /Not found: GET \/nope\/nothing/);
  assertError(await call(app, "DELETE", "/jobs"), 404, /Not found/);
  assertError(
    await call(app, "GET", `/jobs/${JOB_ID}/checkpoints/details/abc`),
    400,
    /Malformed checkpoint id/,
  );
  assertError(
    await call(app, "GET", `/jobs/${JOB_ID}/checkpoints/details/0`),
    400,
    /Malformed checkpoint id/,
  );
  assertError(
    await call(app, "GET", `/jobs/${JOB_ID}/checkpoints/details/7`),
    404,
    /no checkpoint 7/,
  );
  assertError(
    await call(app, "GET", `/jobs/${JOB_ID}/savepoints/123`),
    400,
    /Malformed trigger id/,
  );
  assertError(
    await call(app, "GET", `/jobs/${JOB_ID}/savepoints/${"a".repeat(32)}`),
    404,
    /no savepoint trigger/,
  );
  assertError(
    await call(app, "GET", `/jobs/${JOB_ID}/vertices/${"b".repeat(32)}/backpressure`),
    404,
    /no vertex/,
  );
  assertError(await call(app, "PATCH", `/jobs/${JOB_ID}?mode=explode`), 400, /Unknown mode/);
  assertError(await call(app, "GET", `/jobs/${JOB_ID}/state/op/s?key=k`), 404, /no value/);
  assertError(
    await call(app, "GET", `/jobs/${JOB_ID}/state/op/s?key=a&key=b`),
    400,
    /"key" given 2 times: give one key/,
  );
  assertError(
    await call(app, "POST", `/jobs/${JOB_ID}/checkpoints`, { body: '{"checkpointType":"bogus"}' }),
    400,
    /checkpointType must be CONFIGURED or INCREMENTAL .* got "bogus"/,
  );

  // Bad bodies.
  const sp = `/jobs/${JOB_ID}/savepoints`;
  assertError(await call(app, "POST", sp, { body: "{not json" }), 400, /not valid JSON/);
  assertError(await call(app, "POST", sp, { body: "[1]" }), 400, /must be a JSON object/);
  assertError(
    await call(app, "POST", sp, { body: '{"target":"x"}' }),
    400,
    /Unknown field "target"/,
  );
  assertError(
    await call(app, "POST", sp, { body: '{"cancel-job":"yes"}' }),
    400,
    /"cancel-job" must be true or false/,
  );
  assertError(
    await call(app, "POST", sp, { body: '{"target-directory":5}' }),
    400,
    /"target-directory" must be a non-empty string/,
  );
  assertError(
    await call(app, "POST", `/jobs/${JOB_ID}/stop`, { body: '{"drain":1}' }),
    400,
    /"drain" must be true or false/,
  );
  // Flink's savepoint formats are CANONICAL and NATIVE; anything else is a bad body there too.
  const formats: [string, string][] = [
    [sp, '{"formatType":"BOGUS"}'],
    [`/jobs/${JOB_ID}/stop`, '{"formatType":5}'],
  ];
  for (const [path, body] of formats) {
    assertError(
      await call(app, "POST", path, { body }),
      400,
      /"formatType" must be "CANONICAL" or "NATIVE"/,
    );
  }
  assert.equal(job.savepoints, 0, "no savepoint was triggered by a bad request");

  // A failed savepoint is reported through its trigger, Flink style.
  const started = await call(app, "POST", sp, { body: "" });
  assert.equal(started.status, 202);
  const trigger = started.body["request-id"] as string;
  await new Promise((r) => setTimeout(r, 0));
  const polled = await call(app, "GET", `${sp}/${trigger}`);
  assert.deepEqual(polled.body, {
    status: { id: "COMPLETED" },
    operation: { "failure-cause": { class: "CheckpointError", "stack-trace": "disk full" } },
  });

  // The history file feeds the statistics; a torn last line is skipped.
  appendHistory(dir, {
    kind: "checkpoint",
    id: 4,
    status: "FAILED",
    is_savepoint: false,
    trigger_timestamp: 10,
    latest_ack_timestamp: 20,
    end_to_end_duration: 10,
    state_size: 0,
    checkpointed_size: 0,
    num_subtasks: 2,
    num_acknowledged_subtasks: 1,
    failure_message: "timed out",
    tasks: [],
  });
  Deno.writeTextFileSync(`${dir}/_history.jsonl`, '{"kind":"checkp', { append: true });
  const cps = await call(app, "GET", `/jobs/${JOB_ID}/checkpoints`);
  assert.deepEqual(cps.body.counts, {
    restored: 0,
    total: 1,
    in_progress: 0,
    completed: 0,
    failed: 1,
  });
  const latest = cps.body.latest as Record<string, Record<string, unknown>>;
  assert.equal(latest.failed!.failure_message, "timed out");
  assert.equal(
    (await call(app, "GET", `/jobs/${JOB_ID}/checkpoints/details/4`)).body.status,
    "FAILED",
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("admin API: bearer token, the open dashboard page, CORS off by default", async () => {
  const runtime: AdminRuntime = { jobs: () => [] };
  const app = createAdminApp(runtime, { token: "s3cret" });
  assertError(await call(app, "GET", "/jobs"), 401, /bearer token/);
  const wrong = await call(app, "GET", "/jobs", { headers: { authorization: "Bearer nope" } });
  assertError(wrong, 401, /bearer token/);
  assert.match(wrong.headers.get("www-authenticate") ?? "", /^Bearer/);
  assertError(
    await call(app, "GET", "/metrics", { headers: { authorization: "Basic s3cret" } }),
    401,
    /token/,
  );
  const ok = await call(app, "GET", "/jobs", { headers: { authorization: "Bearer s3cret" } });
  assert.equal(ok.status, 200);
  const page = await app.request("/");
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>weir dashboard<\/title>/);

  const open = createAdminApp(runtime);
  const res = await open.request("/jobs", { headers: { origin: "http://evil.example" } });
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  const withCors = createAdminApp(runtime, { corsOrigins: ["http://ok.example"] });
  const res2 = await withCors.request("/jobs", { headers: { origin: "http://ok.example" } });
  assert.equal(res2.headers.get("access-control-allow-origin"), "http://ok.example");
});

Deno.test("admin API: a misspelt option of createAdminApp, serveAdmin or jobClientRuntime is a ConfigError naming it, not an API served without its token", () => {
  const runtime: AdminRuntime = { jobs: () => [] };
  const cases: [() => unknown, string][] = [
    [
      () => createAdminApp(runtime, { tokn: "s3cret" } as never),
      'createAdminApp: unknown option "tokn" (did you mean "token"?)',
    ],
    [
      () => serveAdmin(runtime, { port: 0, tokens: "s3cret", announce: () => {} } as never),
      'serveAdmin: unknown option "tokens" (did you mean "token"?)',
    ],
    [
      () => serveAdmin(runtime, { port: 0, corsOrigin: ["http://ok.example"] } as never),
      'serveAdmin: unknown option "corsOrigin" (did you mean "corsOrigins"?)',
    ],
    [
      () => jobClientRuntime({} as never, { ids: "a" } as never),
      'jobClientRuntime: unknown option "ids" (did you mean "id"?)',
    ],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (e) => e instanceof ConfigError && e.message === message, message);
  }
});

Deno.test("admin API over a real socket: --admin-port 0, stop with savepoint", async () => {
  const dir = Deno.makeTempDirSync();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_helpers/admin_job.ts", import.meta.url).pathname,
      "--admin-port",
      "0",
      "--admin-token",
      "tok",
      "--checkpoint-dir",
      dir,
      "--rate",
      "1000",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr: { text: string; drained?: Promise<void> } = { text: "" };
  try {
    const url = await readAdminUrl(child.stderr, stderr);
    const auth = { authorization: "Bearer tok" };
    assert.equal((await (await fetch(`${url}/jobs`)).json()).errors.length, 1);
    const { jobs } = await (await fetch(`${url}/jobs`, { headers: auth })).json();
    assert.equal(jobs.length, 1);
    const res = await fetch(`${url}/jobs/${jobs[0].id}/stop`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ drain: true }),
    });
    assert.equal(res.status, 202);
    const { "request-id": trigger } = await res.json();
    let location: string | undefined;
    for (let i = 0; i < 500 && location === undefined; i++) {
      try {
        const r =
          await (await fetch(`${url}/jobs/${jobs[0].id}/savepoints/${trigger}`, { headers: auth }))
            .json();
        if (r.status.id === "COMPLETED") location = r.operation.location;
      } catch {
        break; // the job ended and its server with it
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const status = await child.status;
    await stderr.drained;
    assert.equal(status.code, 0, stderr.text);
    assert.equal(stderr.text.match(/^admin: /gm)?.length, 1, "the admin line is printed once");
    const saved = [...Deno.readDirSync(`${dir}/savepoints`)];
    assert.equal(saved.length, 1);
    if (location) assert.ok(location.endsWith(saved[0]!.name));
    const history = readHistory(dir);
    assert.ok(
      history.some((e) => e.kind === "checkpoint" && e.is_savepoint && e.status === "COMPLETED"),
    );
  } finally {
    // A failed assertion must not leave the job (unbounded) running.
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
    await child.status;
    Deno.removeSync(dir, { recursive: true });
  }
});

/**
 * Starts tests/_helpers/failing_admin_job.ts (its map fails at its 50th record) with `args`, and
 * waits until its admin API says it failed, calling `whileRunning` between polls. Without the
 * admin API's linger the server is gone by then, and a fetch fails.
 */
async function failedJob(args: string[], whileRunning: (url: string) => Promise<void>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", new URL("./_helpers/failing_admin_job.ts", import.meta.url).pathname],
      ...["--admin-port", "0", ...args],
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr: { text: string; drained?: Promise<void> } = { text: "" };
  const url = await readAdminUrl(child.stderr, stderr);
  const [{ id }] = (await (await fetch(`${url}/jobs`)).json()).jobs;
  let state = "RUNNING";
  const deadline = Date.now() + 60_000;
  while (state === "RUNNING") {
    await whileRunning(url);
    state = (await (await fetch(`${url}/jobs/${id}`)).json()).state;
    if (state !== "RUNNING") break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      assert.fail(`the job still runs after 60 s:\n${stderr.text}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(state, "FAILED");
  return { child, stderr, url, id: id as string };
}

Deno.test("admin API of a job that failed for good serves its FAILED status and exceptions a while, then the process exits 1", async () => {
  const { child, stderr, url, id } = await failedJob(["--parallelism", "1"], async () => {});
  const exceptions = await (await fetch(`${url}/jobs/${id}/exceptions`)).json();
  assert.match(exceptions["root-exception"], /record 50 is poison/);
  assert.equal(exceptions.exceptionHistory.entries.length, 1);
  const status = await child.status;
  await stderr.drained;
  assert.equal(status.code, 1, stderr.text);
  assert.match(stderr.text, /^failing_job: Job "failing job" failed .*record 50 is poison$/m);
});

Deno.test("GET /jobs/:id/exceptions names the worker a failed subtask ran on (taskManagerId), as /taskmanagers does", async () => {
  // Where the subtasks run, while they do.
  const threads = new Set<string>();
  const args = ["--parallelism", "2", "--executor", "workers"];
  const { child, stderr, url, id } = await failedJob(args, async (url) => {
    const tms = (await (await fetch(`${url}/taskmanagers`)).json()).taskmanagers;
    for (const tm of tms) threads.add(tm.id);
  });
  const [entry] = (await (await fetch(`${url}/jobs/${id}/exceptions`)).json()).exceptionHistory
    .entries;
  assert.match(entry.taskName, /Map.* \(([12])\/2\)$/);
  // Subtask i runs on worker i % 2, each a Web Worker (the main thread serves the admin API).
  const subtask = Number(/\((\d)\/2\)$/.exec(entry.taskName)![1]) - 1;
  assert.equal(entry.taskManagerId, `weir-worker/${subtask}`);
  if (threads.size > 0) assert.ok(threads.has(entry.taskManagerId), [...threads].join());
  assert.equal(entry.location, null);
  assert.equal((await child.status).code, 1);
  await stderr.drained;
});

Deno.test("admin API under abuse: a body over 1 MiB gets 413 and is not buffered", async () => {
  const dir = Deno.makeTempDirSync();
  const job = fakeJob(dir);
  const server = serveAdmin({ jobs: () => [job] }, { port: 0, announce: () => {} });
  try {
    const sp = `${server.url}/jobs/${JOB_ID}/savepoints`;
    const big = "x".repeat((1 << 20) + 1);
    const declared = await fetch(sp, { method: "POST", body: `{"target-directory":"${big}"}` });
    assert.equal(declared.status, 413);
    assert.match((await declared.json()).errors[0], /larger than 1048576 bytes/);
    // Streamed without a length: counted as it arrives and cut off at the limit.
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(32);
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        // Far more than the limit; the server must answer before all of it is sent.
        if (sent >= 64 << 20) return c.close();
        sent += chunk.length;
        c.enqueue(chunk);
      },
    });
    const streamed = await fetch(sp, { method: "POST", body: endless });
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();
    assert.ok(sent < 64 << 20, `the whole body was read (${sent} bytes)`);
    // A small body without a length is read whole, as one with a length is.
    const chunked = await fetch(sp, { method: "POST", body: streamOf('{"nope": 1}') });
    assert.equal(chunked.status, 400);
    assert.match((await chunked.json()).errors[0], /Unknown field "nope"/);
    // Just under the limit is read (and found to be bad JSON).
    const under = await fetch(sp, { method: "POST", body: "{" + " ".repeat((1 << 20) - 2) });
    assert.equal(under.status, 400);
    await under.body?.cancel();
    assert.equal(job.savepoints, 0);
  } finally {
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
  }
});

/** `text` as a stream, which fetch sends without a length (chunked). */
function streamOf(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(text));
      c.close();
    },
  });
}

Deno.test("admin API: a body sent without a length draws no warning from Deno.serve", async () => {
  // Deno.serve warns once per process when a handler reads a request's signal (as hono's own
  // body limit did, rebuilding a chunked request): a process of its own, its stderr read.
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  const admin = new URL("../core/admin/mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { serveAdmin } from ${JSON.stringify(admin)};
const server = serveAdmin({ jobs: () => [] }, { port: 0, announce: () => {} });
const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("{}")); c.close(); } });
const res = await fetch(server.url + "/jobs/${JOB_ID}/savepoints", { method: "POST", body });
console.log(res.status);
await res.body?.cancel();
await server.shutdown();
`,
  );
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script],
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "404");
    assert.equal(stderr, "");
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("admin API under abuse: a non-loopback host without a token refuses to start", async () => {
  for (const host of ["0.0.0.0", "::", "192.0.2.10"]) {
    assert.throws(
      () => serveAdmin({ jobs: () => [] }, { port: 0, host, announce: () => {} }),
      (e: unknown) => e instanceof ConfigError && /--admin-insecure/.test(e.message),
      host,
    );
  }
  // Loopback needs no token.
  for (const host of ["127.0.0.1", "localhost", "::1"]) {
    const s = serveAdmin({ jobs: () => [] }, { port: 0, host, announce: () => {} });
    await s.shutdown();
  }
  // A job script: one line, exit 2, and the job never starts.
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/in.txt`, "a b\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../examples/word_count.ts", import.meta.url).pathname,
        "--input",
        `${dir}/in.txt`,
        "--output",
        `${dir}/out`,
        "--admin-port",
        "0",
        "--admin-host",
        "0.0.0.0",
      ],
      stdout: "null",
      stderr: "piped",
      env: { WEIR_ADMIN_TOKEN: "" },
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, err);
    assert.match(
      err,
      /^word_count: The admin API on 0\.0\.0\.0 would be reachable .*--admin-insecure/,
    );
    assert.equal(err.trim().split("\n").length, 1, err);
    assert.throws(() => Deno.statSync(`${dir}/out`), Deno.errors.NotFound, "the job did not run");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("admin API under abuse: savepoint target-directory stays inside the allowed roots", async () => {
  const dir = Deno.realPathSync(Deno.makeTempDirSync());
  const outside = Deno.realPathSync(Deno.makeTempDirSync());
  const extra = Deno.realPathSync(Deno.makeTempDirSync());
  try {
    Deno.mkdirSync(`${dir}/savepoints`);
    Deno.symlinkSync(outside, `${dir}/savepoints/escape`);
    const job = fakeJob(dir);
    const app = createAdminApp({ jobs: () => [job] });
    const sp = `/jobs/${JOB_ID}/savepoints`;
    const stop = `/jobs/${JOB_ID}/stop`;
    const body = (field: string, v: string) => ({ body: JSON.stringify({ [field]: v }) });
    for (
      const bad of [
        outside,
        "/etc",
        `${dir}/savepoints/../../x`,
        `${dir}/savepoints/a/../b`,
        "../x",
        "a/..",
        `${dir}`,
        `${dir}/shared`,
        `${dir}/savepoints/escape`,
        `${dir}/savepoints/escape/deeper`,
        extra,
      ]
    ) {
      const re = bad.split("/").includes("..") ? /must not contain "\.\."/ : /is outside/;
      assertError(await call(app, "POST", sp, body("target-directory", bad)), 400, re);
      assertError(await call(app, "POST", stop, body("targetDirectory", bad)), 400, re);
    }
    assert.equal(job.savepoints, 0, "no savepoint for a refused target");
    // Inside the checkpoint directory's savepoints/: accepted (relative ones land there too).
    for (const good of [`${dir}/savepoints/copies`, "copies/today", `${dir}/savepoints`]) {
      const r = await call(app, "POST", sp, body("target-directory", good));
      assert.equal(r.status, 202, `${good}: ${JSON.stringify(r.body)}`);
    }
    // --savepoint-dir allows one more root.
    const allowing = createAdminApp({ jobs: () => [job] }, { savepointDir: extra });
    const r = await call(allowing, "POST", sp, body("target-directory", `${extra}/x`));
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assertError(
      await call(allowing, "POST", sp, body("target-directory", outside)),
      400,
      /is outside/,
    );
  } finally {
    for (const d of [dir, outside, extra]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("admin API: a port in use is one line and exit 2, and the job does not run on", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/in.txt`, "a b\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../examples/word_count.ts", import.meta.url).pathname,
        "--input",
        `${dir}/in.txt`,
        "--output",
        `${dir}/out`,
        "--admin-port",
        String((taken.addr as Deno.NetAddr).port),
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, err);
    assert.match(err, /^word_count: The admin API cannot listen on 127\.0\.0\.1:\d+: /);
    assert.equal(err.trim().split("\n").length, 1, err);
  } finally {
    taken.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
