/**
 * Checkpoints in PostgreSQL and Redis, in process: restore and rescaling
 * 2 → 1 → 3 from savepoints kept in the database, the database restarted
 * mid-run (checkpoints are declined meanwhile, the job carries on), a table
 * of PostgreSQL's locked by a stuck session (a checkpoint fails after the lock
 * timeout, the next completes), a declined checkpoint invisible in the view,
 * retention, credentials never printed,
 * a clear error naming the server when it is gone at restore, and the CLI
 * reading the database.
 */
import assert from "node:assert/strict";
import { StreamEnvironment } from "../core/dataflow/environment.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { CheckpointError, ConfigError, DirectoryInUseError } from "../core/errors.ts";
import { redactUrl } from "../core/checkpoint/storage/remote_store.ts";
import { runCli } from "../cli/main.ts";
import { countJob, lastCounts, until } from "./_helpers/checkpoint_jobs.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { openRemoteStore } from "../core/checkpoint/storage/open_remote_store.ts";
import { CheckpointMirror } from "../core/checkpoint/storage/checkpoint_mirror.ts";
import { startPostgres, startRedis, type TestServer } from "./_helpers/db_servers.ts";
import {
  checkpointsInDatabase,
  checkpointsInDatabaseAsync,
  type DatabaseKind,
  psql,
  redisCli,
  stateInDatabase,
  stuckSession,
} from "./_helpers/database_state.ts";

function counts(words: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of words) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

function words(n: number, seed: number): string[] {
  return Array.from({ length: n }, (_, i) => `w${(i * 7919 + seed) % 37}`);
}

function asJsonKeys(m: Map<string, number>): Map<string, number> {
  return new Map([...m].map(([k, v]): [string, number] => [JSON.stringify(k), v]).sort());
}

interface Stage {
  env: StreamEnvironment;
  src: QueueSource<string>;
  out: CollectSink<string>;
  logs: string[];
}

function stage(
  url: string,
  parallelism: number,
  backend: "heap" | "lsm",
  extra: {
    restore?: string;
    tolerableFailures?: number;
    intervalMs?: number;
    timeoutMs?: number;
    retained?: number;
  } = {},
): Stage {
  const src = new QueueSource<string>("words");
  const out = new CollectSink<string>();
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    parallelism,
    stateBackend: backend === "heap" ? new HeapStateBackend() : new LsmStateBackend(),
    checkpoint: {
      dir: "",
      storage: url,
      ...(extra.intervalMs !== undefined ? { intervalMs: extra.intervalMs } : {}),
      ...(extra.timeoutMs !== undefined ? { timeoutMs: extra.timeoutMs } : {}),
      ...(extra.retained !== undefined ? { retained: extra.retained } : {}),
      ...(extra.tolerableFailures !== undefined
        ? { tolerableFailures: extra.tolerableFailures }
        : {}),
    },
    ...(extra.restore !== undefined ? { restore: extra.restore } : {}),
    // Each stage reads a new source: only the counts carry over.
    allowNonRestoredState: true,
    restartStrategy: { kind: "none" },
    log: (l) => logs.push(l),
  });
  countJob(env.addSource(src, { uid: `src-${crypto.randomUUID()}` }), out, {
    countParallelism: parallelism,
  });
  return { env, src, out, logs };
}

async function withServer(kind: DatabaseKind, f: (s: TestServer) => Promise<void>): Promise<void> {
  const server = kind === "postgres" ? await startPostgres() : await startRedis();
  try {
    await f(server);
  } finally {
    await server.stop();
  }
}

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  Deno.test(`${kind} checkpoint storage: savepoints rescale 2 → 1 → 3, the view shows the counts, the CLI reads them`, async () => {
    await withServer(kind, async (server) => {
      const url = `${server.url}?job=rescale`;
      const batches = [words(300, 1), words(200, 2), words(250, 3)];
      const expected = counts(batches.flat());
      let restore: string | undefined;
      const parallelisms = [2, 1, 3];
      for (let i = 0; i < 3; i++) {
        const s = stage(url, parallelisms[i]!, i === 1 ? "lsm" : "heap", {
          ...(restore ? { restore } : {}),
        });
        await s.env.openCheckpointStorage("rescale");
        const client = s.env.executeAsync("rescale");
        s.src.push(...batches[i]!);
        await until(() => s.out.values.length === batches[i]!.length, "records counted");
        if (i < 2) {
          const sp = await client.stopWithSavepoint(`sp-${i}`);
          assert.equal(sp.manifest.kind, "savepoint");
          restore = `sp-${i}`;
        } else s.src.end();
        await client.done;
        // Counts carry over through the savepoint at the new parallelism.
        const sofar = counts(batches.slice(0, i + 1).flat());
        assert.deepEqual(lastCounts(s.out.values), sofar);
      }
      // The final checkpoint of the last stage: the state, readable from outside.
      assert.deepEqual(
        new Map([...stateInDatabase(kind, server.url, "rescale", "count", "count")].sort()),
        asJsonKeys(expected),
      );
      if (kind === "postgres") {
        const cols = psql(
          server.url,
          `SELECT job_id, operator_uid, state_name, key::text, namespace::text, user_key::text,
             value::text, checkpoint_id FROM weir_state_latest WHERE key = '"w0"'::jsonb`,
        );
        const latest = Math.max(...checkpointsInDatabase(kind, server.url, "rescale"));
        assert.deepEqual(cols, [[
          "rescale",
          "count",
          "count",
          '"w0"',
          "",
          "",
          String(expected.get("w0")),
          String(latest),
        ]]);
      }
      // A fresh start over them is refused, naming the database and the job (not the working
      // copy's temporary folder).
      const fresh = stage(url, 1, "heap");
      await fresh.env.openCheckpointStorage("rescale");
      await assert.rejects(
        fresh.env.execute("rescale"),
        (e: Error) =>
          e instanceof ConfigError &&
          e.message.startsWith(
            `${redactUrl(server.url)} (job "rescale") already holds completed checkpoints`,
          ) && e.message.includes("?job=NAME") && !e.message.includes("weir-checkpoints-") &&
          !e.message.includes(server.password),
      );
      // Refused, it gave the job's lock back (PostgreSQL would refuse a held one at once, Redis
      // wait for it to expire) and removed its working folder.
      assert.equal(
        await Deno.stat(fresh.env.config.checkpoint!.dir).catch(() => undefined),
        undefined,
      );
      const next = await openRemoteStore({ kind, url }, "rescale");
      const t0 = performance.now();
      await next.lock();
      await next.close();
      assert.ok(performance.now() - t0 < 3_000, "the refused run's lock was given back");
      // The CLI reads the database: list, and a key's value.
      const out: string[] = [];
      const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
      assert.equal(await runCli(["checkpoints", "list", url], io), 0, out.join("\n"));
      assert.ok(out.some((l) => l.includes("savepoint")), out.join("\n"));
      assert.ok(!out.join("\n").includes(server.password));
      out.length = 0;
      assert.equal(
        await runCli(
          ["state", "get", url, "--operator", "count", "--state", "count", "--key", "w1", "--json"],
          io,
        ),
        0,
        out.join("\n"),
      );
      assert.ok(out.join("\n").includes(String(expected.get("w1"))), out.join("\n"));
    });
  });

  Deno.test(`${kind} checkpoint storage: the server restarted mid-run declines checkpoints meanwhile, the job carries on`, async () => {
    await withServer(kind, async (server) => {
      const url = `${server.url}?job=restart`;
      const s = stage(url, 2, "heap", { intervalMs: 50, tolerableFailures: 1000 });
      await s.env.openCheckpointStorage("restart");
      const client = s.env.executeAsync("restart");
      const batch = words(100, 5);
      s.src.push(...batch);
      await until(
        async () => (await checkpointsInDatabaseAsync(kind, server.url, "restart")).length > 0,
        "a checkpoint",
      );
      await server.kill();
      s.src.push(...batch);
      await until(
        () => s.logs.some((l) => /Checkpoint \d+ failed/.test(l)),
        "a declined checkpoint",
        20_000,
      );
      await server.start();
      // Redis lost its data (no persistence); PostgreSQL kept it. Either way new ones complete.
      const before = Math.max(0, ...checkpointsInDatabase(kind, server.url, "restart"));
      await until(
        async () =>
          Math.max(0, ...await checkpointsInDatabaseAsync(kind, server.url, "restart")) > before,
        "a checkpoint after the restart",
        30_000,
      );
      s.src.end();
      await client.done;
      assert.deepEqual(lastCounts(s.out.values), counts([...batch, ...batch]));
      // The latest checkpoint is whole in the database (Redis lost what was uploaded before).
      const store = await openRemoteStore({ kind, url: server.url }, "restart");
      try {
        const latest = (await store.list()).filter((e) => e.kind === "checkpoint").at(-1)!;
        const manifest = JSON.parse(new TextDecoder().decode(await store.manifest(latest)));
        const held = new Set(await store.segmentNames());
        for (const name of Object.keys(manifest.segments)) assert.ok(held.has(name), name);
      } finally {
        await store.close();
      }
      // A new job restores it and counts on.
      const again = stage(url, 1, "heap", { restore: "latest" });
      await again.env.openCheckpointStorage("restart");
      const next = again.env.executeAsync("restart");
      again.src.push("w0");
      again.src.end();
      await next.done;
      assert.ok(Number(again.out.values.at(-1)!.split("\t")[1]) > 1, again.out.values.join());
      const log = s.logs.join("\n");
      assert.ok(log.includes(`127.0.0.1:${server.port}`), "the failure names the server");
      assert.ok(!log.includes(server.password), "the password is never printed");
    });
  });

  Deno.test(`${kind} checkpoint storage: a server that stops answering (SIGSTOP) times checkpoints out; answering again, it takes the next one, none of those that failed meanwhile`, async () => {
    await withServer(kind, async (server) => {
      const url = `${server.url}?job=frozen`;
      // A timeout with room for a loaded machine: at 1 s, checkpoints after SIGCONT could all
      // time out on a machine running other tests too.
      const s = stage(url, 2, "heap", { intervalMs: 50, timeoutMs: 2000, tolerableFailures: 1000 });
      await s.env.openCheckpointStorage("frozen");
      const client = s.env.executeAsync("frozen");
      // Polled without blocking this thread, which the job runs on.
      const inDatabase = () => checkpointsInDatabaseAsync(kind, server.url, "frozen");
      const batch = words(100, 7);
      s.src.push(...batch);
      // The first publication starts the changed-rows worker: under `deno test`, on a fresh
      // clone of a loaded machine, type-checking its modules took 12 s.
      await until(async () => (await inDatabase()).length > 0, "a checkpoint", 60_000);
      const failed = () =>
        s.logs.flatMap((l) => /Checkpoint (\d+) failed: timed out/.exec(l)?.[1] ?? []).map(Number);
      const before = failed().length;
      server.signal("SIGSTOP");
      try {
        s.src.push(...batch);
        await until(() => failed().length >= before + 3, "three checkpoints timed out", 20_000);
      } finally {
        server.signal("SIGCONT");
      }
      const lastFailed = Math.max(...failed());
      await until(
        async () => Math.max(...await inDatabase()) > lastFailed,
        "a checkpoint after the server answers again",
        30_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}; the job's last lines:\n${s.logs.slice(-20).join("\n")}`);
      });
      s.src.end();
      await client.done;
      assert.deepEqual(lastCounts(s.out.values), counts([...batch, ...batch]));
      // Their publications waited behind the one the server froze in; when it answered, they
      // were dropped, not written: at most that one went through late.
      const published = new Set(await inDatabase());
      const late = failed().filter((id) => published.has(id));
      assert.ok(late.length <= 1, `failed checkpoints in the database: ${late}`);
      assert.ok(
        !s.logs.some((l) => l.includes("previous checkpoint's segments failed")),
        s.logs.join("\n"),
      );
    });
  });

  Deno.test(`${kind} checkpoint storage: a server that does not answer when the job starts fails the start within the connect timeout, naming it`, async () => {
    await withServer(kind, async (server) => {
      server.signal("SIGSTOP");
      try {
        const s = stage(`${server.url}?job=asleep`, 1, "heap");
        const t0 = performance.now();
        await assert.rejects(
          s.env.openCheckpointStorage("asleep"),
          (e: Error) =>
            e instanceof CheckpointError &&
            e.message.includes(`127.0.0.1:${server.port}`) &&
            /timed out|no answer within 5 s/.test(e.message) &&
            !e.message.includes(server.password),
        );
        const ms = performance.now() - t0;
        assert.ok(ms < 15_000, `failed after ${ms} ms`);
      } finally {
        server.signal("SIGCONT");
      }
    });
  });

  Deno.test(`${kind} checkpoint storage: a server that stops answering once connected fails the open within its answer time, naming it`, async () => {
    await withServer(kind, async (server) => {
      const store = await openRemoteStore({ kind, url: server.url }, "connected");
      const dir = await Deno.makeTempDir({ prefix: "weir-mirror-" });
      server.signal("SIGSTOP");
      try {
        await assert.rejects(
          CheckpointMirror.open(store, dir, { answerMs: 1000 }),
          (e: Error) =>
            e instanceof CheckpointError &&
            e.message.includes(`127.0.0.1:${server.port}`) &&
            e.message.includes("did not answer (discarding parts) within 1000 ms"),
        );
        const t0 = performance.now();
        await store.close();
        assert.ok(performance.now() - t0 < 10_000, "closing does not wait for the server");
      } finally {
        server.signal("SIGCONT");
        await Deno.remove(dir, { recursive: true });
      }
    });
  });

  Deno.test(`${kind} checkpoint storage: a job ending while the server does not answer fails with its final checkpoint's timeout, without waiting for the server`, async () => {
    await withServer(kind, async (server) => {
      const url = `${server.url}?job=frozen-end`;
      const s = stage(url, 2, "heap", { intervalMs: 50, timeoutMs: 1000, tolerableFailures: 1000 });
      await s.env.openCheckpointStorage("frozen-end");
      const client = s.env.executeAsync("frozen-end");
      s.src.push(...words(100, 8));
      await until(
        async () => (await checkpointsInDatabaseAsync(kind, server.url, "frozen-end")).length > 0,
        "a checkpoint",
      );
      server.signal("SIGSTOP");
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        s.src.end();
        // The final checkpoint's timeout, then the connections' bounded close: well within
        // this, and not waiting for the server to answer again.
        const outcome = await Promise.race([
          client.done.then(() => new Error("the job completed"), (e: Error) => e),
          new Promise<Error>((r) =>
            timer = setTimeout(() => r(new Error("still running")), 30_000)
          ),
        ]);
        assert.match(String(outcome), /Checkpoint \d+ failed: timed out after 1000 ms/);
        assert.ok(
          s.logs.some((l) => l.includes("did not finish its background work")),
          s.logs.join("\n"),
        );
      } finally {
        clearTimeout(timer);
        server.signal("SIGCONT");
        await client.done.catch(() => {});
      }
    });
  });

  Deno.test(`${kind} checkpoint storage: a declined checkpoint is invisible in the database and its view`, async () => {
    await withServer(kind, async (server) => {
      const url = `${server.url}?job=declined`;
      const s = stage(url, 2, "heap", { tolerableFailures: 10 });
      await s.env.openCheckpointStorage("declined");
      const client = s.env.executeAsync("declined");
      s.src.push(...words(50, 7));
      await until(() => s.out.values.length === 50, "records counted");
      const first = await client.triggerCheckpoint();
      s.src.push(...words(50, 8));
      await until(() => s.out.values.length === 100, "records counted");
      // A subtask declines the next checkpoint before the coordinator completes it. (Kills
      // in the middle of a checkpoint's writes are in checkpoint_database_crash_test.ts.)
      const pending = client.triggerCheckpoint();
      client.job.coordinator!.decline(first.manifest.checkpointId + 1, "test: subtask 1 declines");
      await assert.rejects(pending, /test: subtask 1 declines/);
      assert.deepEqual(checkpointsInDatabase(kind, server.url, "declined"), [
        first.manifest.checkpointId,
      ]);
      // The view still shows the first checkpoint's counts.
      assert.deepEqual(
        new Map([...stateInDatabase(kind, server.url, "declined", "count", "count")].sort()),
        asJsonKeys(counts(words(50, 7))),
      );
      s.src.end();
      await client.done;
    });
  });

  Deno.test(`${kind} checkpoint storage: retention keeps the newest checkpoints and the segments they need; an older retained one restores`, async () => {
    await withServer(kind, async (server) => {
      const url = `${server.url}?job=retain`;
      const s = stage(url, 2, "lsm", { retained: 2 });
      await s.env.openCheckpointStorage("retain");
      const client = s.env.executeAsync("retain");
      const ids: number[] = [];
      const batches = [words(40, 11), words(40, 12), words(40, 13), words(40, 14)];
      let sent = 0;
      for (const b of batches) {
        s.src.push(...b);
        sent += b.length;
        await until(() => s.out.values.length === sent, "records counted");
        ids.push((await client.triggerCheckpoint()).manifest.checkpointId);
      }
      const newest = ids.slice(-2);
      await until(
        async () =>
          (await checkpointsInDatabaseAsync(kind, server.url, "retain")).join() === newest.join(),
        "old checkpoints collected",
      );
      // The database's segments are exactly those the kept checkpoints name.
      const needed = new Set<string>();
      let stored: string[];
      if (kind === "postgres") {
        for (
          const [seg] of psql(
            server.url,
            `SELECT jsonb_object_keys(convert_from(manifest, 'UTF8')::jsonb -> 'segments')
             FROM weir_checkpoints WHERE job_id = 'retain'`,
          )
        ) needed.add(seg!);
        stored = psql(server.url, `SELECT name FROM weir_segments WHERE job_id = 'retain'`)
          .map((r) => r[0]!);
      } else {
        for (const id of newest) {
          const m = redisCli(server.url, "GET", `weir:retain:manifest:${id}`).join("\n");
          for (const seg of Object.keys(JSON.parse(m).segments)) needed.add(seg);
        }
        stored = redisCli(server.url, "SMEMBERS", "weir:retain:segments");
      }
      assert.deepEqual(new Set(stored), needed);
      // More input, then the final checkpoint: the last manual one is now the older kept one.
      s.src.push(...words(40, 15));
      await until(() => s.out.values.length === sent + 40, "records counted");
      s.src.end();
      await client.done;
      // It restores: its counts, not the newest's.
      const r = stage(url, 1, "heap", { restore: String(ids.at(-1)) });
      await r.env.openCheckpointStorage("retain");
      const rc = r.env.executeAsync("retain");
      r.src.push("w0");
      await until(() => r.out.values.length === 1, "a record counted");
      r.src.end();
      await rc.done;
      const before = counts(batches.flat()).get("w0") ?? 0;
      assert.deepEqual(r.out.values, [`w0\t${before + 1}`]);
    });
  });

  Deno.test(`${kind} checkpoint storage: restore with the server gone is a clear error naming it and the refusal, at once, without the password`, async () => {
    await withServer(kind, async (server) => {
      await server.kill();
      const s = stage(`${server.url}?job=gone`, 1, "heap", { restore: "latest" });
      const started = performance.now();
      const e = await s.env.execute("gone").then(() => undefined, (e) => e);
      const ms = performance.now() - started;
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
      // The refusal itself, not a timeout after the client retried it for seconds.
      assert.match(e.message, /ECONNREFUSED/);
      assert.ok(ms < 2500, `the error took ${Math.round(ms)} ms`);
      assert.ok(!e.message.includes(server.password));
      await server.start();
    });
  });
}

Deno.test("postgres checkpoint storage: a table lock held by a stuck session fails a checkpoint after the lock timeout, not the statement timeout; the next one completes", async () => {
  await withServer("postgres", async (server) => {
    const url = `${server.url}?job=locked`;
    const s = stage(url, 2, "heap", { tolerableFailures: 10 });
    await s.env.openCheckpointStorage("locked");
    const client = s.env.executeAsync("locked");
    const batch = words(60, 11);
    s.src.push(...batch);
    await until(() => s.out.values.length === 60, "records counted");
    const first = await client.triggerCheckpoint();
    // Another session (a writer that hung mid-transaction) holds the manifests' table.
    const locker = await stuckSession(
      server.url,
      "LOCK TABLE weir_checkpoints IN ACCESS EXCLUSIVE MODE",
      "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation " +
        "WHERE c.relname = 'weir_checkpoints' AND l.mode = 'AccessExclusiveLock' AND l.granted",
    );
    try {
      s.src.push(...batch);
      await until(() => s.out.values.length === 120, "records counted");
      const started = performance.now();
      const e = await client.triggerCheckpoint().then(() => undefined, (e) => e);
      const ms = performance.now() - started;
      assert.ok(e instanceof Error, "the checkpoint fails while the table is locked");
      assert.match(String(e.message), /lock timeout/);
      // The storage's lock_timeout (10 s a statement), well before its statement_timeout (60 s).
      assert.ok(ms > 9_000 && ms < 30_000, `the checkpoint failed after ${Math.round(ms)} ms`);
    } finally {
      await locker.release();
    }
    // The failed checkpoint left nothing in the database (read once the lock is gone).
    assert.deepEqual(checkpointsInDatabase("postgres", server.url, "locked"), [
      first.manifest.checkpointId,
    ]);
    // The lock gone, the next checkpoint completes, and holds every record's count.
    const third = await client.triggerCheckpoint();
    assert.ok(third.manifest.checkpointId > first.manifest.checkpointId + 1);
    assert.deepEqual(
      new Map([...stateInDatabase("postgres", server.url, "locked", "count", "count")].sort()),
      asJsonKeys(counts([...batch, ...batch])),
    );
    s.src.end();
    await client.done;
    assert.deepEqual(lastCounts(s.out.values), counts([...batch, ...batch]));
  });
});

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  Deno.test(
    `${kind} checkpoint storage: credentials from the environment (${
      kind === "postgres" ? "PGPASSWORD" : "REDIS_URL"
    }), never printed`,
    async () => {
      await withServer(kind, async (server) => {
        const dir = Deno.makeTempDirSync({ prefix: "weir-dbenv-" });
        try {
          Deno.writeTextFileSync(`${dir}/in.txt`, "a b a\nc a\n");
          const storage = kind === "postgres"
            ? `postgres://weir@127.0.0.1:${server.port}/postgres?job=env`
            : "redis:";
          const env = kind === "postgres"
            ? { PGPASSWORD: server.password }
            : { REDIS_URL: `${server.url}?job=env` };
          const out = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              "examples/word_count.ts",
              "--input",
              `${dir}/in.txt`,
              "--output",
              `${dir}/out`,
              "--checkpoint-storage",
              storage,
            ],
            env: { ...env, NO_COLOR: "1" },
            stdout: "piped",
            stderr: "piped",
          }).output();
          const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 0, text);
          assert.ok(!text.includes(server.password));
          // The job is named by the URL's job parameter (REDIS_URL's for `redis:`).
          assert.deepEqual(
            new Map([...stateInDatabase(kind, server.url, "env", "count", "count")].sort()),
            new Map([['"a"', 3], ['"b"', 1], ['"c"', 1]]),
          );
        } finally {
          Deno.removeSync(dir, { recursive: true });
        }
      });
    },
  );
}

Deno.test("postgres checkpoint storage: a host that accepts the connection and never answers (closing it later) fails the open within the connect timeout", async () => {
  // As a half-open path or a proxy with nothing behind it: postgres.js's connect_timeout
  // covers the TCP connection only, and its retries after each close went on for ever.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held = new Set<Deno.Conn>();
  const timers: ReturnType<typeof setTimeout>[] = [];
  const close = (conn: Deno.Conn) => {
    if (held.delete(conn)) conn.close();
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      held.add(conn);
      timers.push(setTimeout(() => close(conn), 1_000));
    }
  })();
  try {
    const url = `postgres://weir:pw@127.0.0.1:${listener.addr.port}/weir`;
    const t0 = performance.now();
    await assert.rejects(
      openRemoteStore({ kind: "postgres", url }, "silent"),
      (e: Error) =>
        e instanceof CheckpointError && /127\.0\.0\.1:\d+.*no answer within 5 s/.test(e.message),
    );
    const ms = performance.now() - t0;
    assert.ok(ms < 10_000, `failed after ${ms} ms`);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const t of timers) clearTimeout(t);
    for (const c of [...held]) close(c);
  }
});

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  Deno.test(`${kind} checkpoint storage: one run of a job at a time holds its lock; a second is refused, a killed holder's passes on`, async () => {
    await withServer(kind, async (server) => {
      const url = `${server.url}?job=locked`;
      const first = await openRemoteStore({ kind, url }, "locked");
      await first.lock();
      const second = await openRemoteStore({ kind, url }, "locked");
      try {
        await assert.rejects(
          second.lock(),
          (e: Error) =>
            e instanceof DirectoryInUseError &&
            e.message.startsWith(
              `${redactUrl(server.url)} (job "locked") is in use by another run`,
            ) &&
            !e.message.includes(server.password),
        );
        // Another job on the same database is not held back.
        const other = await openRemoteStore({ kind, url: `${server.url}?job=other` }, "other");
        await other.lock();
        await other.close();
        await first.close();
        await second.lock();
      } finally {
        await second.close();
      }
      // A process of this host killed while it holds the lock: the next run gets it at once
      // (PostgreSQL with the killed connection; Redis as its token names a process that is gone).
      const script = await Deno.makeTempFile({ suffix: ".ts" });
      const opener = new URL("../core/checkpoint/storage/open_remote_store.ts", import.meta.url);
      await Deno.writeTextFile(
        script,
        `import { openRemoteStore } from ${JSON.stringify(opener.href)};
const store = await openRemoteStore({ kind: ${JSON.stringify(kind)}, url: ${
          JSON.stringify(url)
        } }, "locked");
await store.lock();
console.log("locked");
await new Promise(() => {});
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      try {
        const reader = child.stdout.getReader();
        const { value } = await reader.read();
        assert.equal(new TextDecoder().decode(value).trim(), "locked");
        reader.releaseLock();
        child.kill("SIGKILL");
        await child.status;
        await child.stdout.cancel().catch(() => {});
        const next = await openRemoteStore({ kind, url }, "locked");
        const t0 = performance.now();
        try {
          await next.lock();
        } finally {
          await next.close();
        }
        assert.ok(performance.now() - t0 < 2_000, "the killed run's lock passed on at once");
      } finally {
        await Deno.remove(script);
      }
    });
  });
}

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  Deno.test(`${kind} checkpoint storage: a wrong password or database is a ConfigError (exit 2) naming the server, not the password`, async () => {
    await withServer(kind, async (server) => {
      const wrongPassword = new URL(server.url);
      wrongPassword.password = "not-the-password";
      const wrongDatabase = new URL(server.url);
      wrongDatabase.pathname = kind === "postgres" ? "/no_such_database" : "/99";
      for (const url of [wrongPassword, wrongDatabase]) {
        await assert.rejects(
          openRemoteStore({ kind, url: url.toString() }, "job"),
          (e: Error) =>
            e instanceof ConfigError && e.message.includes(`127.0.0.1:${server.port}`) &&
            !e.message.includes("not-the-password") && !e.message.includes(server.password),
          url.pathname,
        );
      }
    });
  });
}
